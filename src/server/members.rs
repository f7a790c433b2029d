//! Making a member of an organization: a user (made for the address when none has it), its
//! membership and its grants, stored as the first start stores the fleet's admin, so that
//! ListOrganizationMembers, ListAuthorizations and GetUserIDByEmail show it like any member.
//! Viam's API has no call for this (a person accepts an invite in the web app): the admin API
//! (admin.rs) calls it, for invites (AcceptInvite) or directly (AddMember).

use rusqlite::{Connection, OptionalExtension, params};

use super::authz::{ResourceType, Role, Scope};
use super::error::{ApiError, ApiResult, required};
use super::invites;
use super::roles::{self, GrantRow};
use super::store::{Tx, exec, new_id, now, row};

/// The address as stored: a known user's address as it is (the fleet's own admin is
/// admin@localhost, which the format check refuses), any other one checked and lower-cased.
pub fn email_of(c: &Connection, email: &str) -> ApiResult<String> {
    let email = required("email", email)?.to_lowercase();
    if user_of(c, &email)?.is_some() {
        return Ok(email);
    }
    invites::normalize_email(&email)
}

fn user_of(c: &Connection, email: &str) -> ApiResult<Option<String>> {
    Ok(row(
        c,
        "SELECT id FROM users WHERE lower(email) = ?1",
        [email],
        |r| r.get(0),
    )
    .optional()?)
}

/// A role on the organization, one of its locations or one of its machines, checked.
pub fn grant(
    c: &Connection,
    org_id: &str,
    role: &str,
    resource_type: &str,
    resource_id: &str,
) -> ApiResult<GrantRow> {
    let role = Role::parse(role)?;
    let resource_type = ResourceType::parse(resource_type)?;
    required("resource_id", resource_id)?;
    let scope = Scope::of(c, resource_type, resource_id)?;
    if scope.org_id != org_id {
        return Err(ApiError::NotFound(format!(
            "resource_id: {} not found in organization {org_id:?}",
            scope.what
        )));
    }
    Ok(GrantRow {
        org_id: org_id.into(),
        identity_id: String::new(),
        identity_type: roles::USER.into(),
        role,
        resource_type,
        resource_id: resource_id.into(),
    })
}

/// Makes `email` (as `email_of` returns it) a member of `org_id` holding `grants`; returns
/// its user id. A member already is ALREADY_EXISTS.
pub fn add(tx: &Tx<'_>, org_id: &str, email: &str, grants: &[GrantRow]) -> ApiResult<String> {
    let user_id = match user_of(tx, email)? {
        Some(id) => id,
        None => {
            let id = new_id();
            exec(
                tx,
                "INSERT INTO users(id, email, created_on) VALUES (?1, ?2, ?3)",
                params![id, email, now()],
            )?;
            id
        }
    };
    let added = exec(
        tx,
        "INSERT OR IGNORE INTO members(org_id, user_id, date_added) VALUES (?1, ?2, ?3)",
        params![org_id, user_id, now()],
    )?;
    if added == 0 {
        return Err(ApiError::AlreadyExists(format!(
            "{email:?} is already a member of organization {org_id:?}"
        )));
    }
    for g in grants {
        roles::insert_grant(
            tx,
            org_id,
            &user_id,
            roles::USER,
            g.role,
            g.resource_type,
            &g.resource_id,
        )?;
    }
    Ok(user_id)
}
