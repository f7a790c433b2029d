//! Organization invites. The local fleet sends no mail: each message is appended as one JSON
//! line to `<data_dir>/outbox.jsonl`, for a person or a script to deliver.

use std::io::Write;

use rusqlite::{Connection, OptionalExtension, params};

use super::Api;
use super::authz::{Perm, Principal, ResourceType, Role, Scope};
use super::error::{ApiError, ApiResult};
use super::orgs::load_org;
use super::roles::{self, GrantRow};
use super::store::{Tx, exec, now, row, to_ts};
use crate::proto::viam::app::v1::*;

pub const OUTBOX_FILE: &str = "outbox.jsonl";

/// Trimmed and lower-cased, so one address cannot be invited twice in different cases.
pub(super) fn normalize_email(email: &str) -> ApiResult<String> {
    let email = email.trim().to_lowercase();
    let valid = email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && !domain.contains('@')
            && domain.split('.').count() >= 2
            && domain.split('.').all(|p| !p.is_empty())
            && !email.chars().any(char::is_whitespace)
    });
    if valid {
        Ok(email)
    } else {
        Err(ApiError::invalid(
            "email",
            format!("{email:?} is not an email address"),
        ))
    }
}

/// The invite's grant as stored, validated for `org_id` (an empty organization_id means it).
fn invite_grant(c: &Connection, org_id: &str, a: &Authorization) -> ApiResult<GrantRow> {
    let mut a = a.clone();
    if a.organization_id.is_empty() {
        a.organization_id = org_id.into();
    }
    if a.organization_id != org_id {
        return Err(ApiError::invalid(
            "authorizations",
            format!(
                "organization_id {:?} is not the invite's organization {org_id:?}",
                a.organization_id
            ),
        ));
    }
    roles::validate(c, &a)
}

fn insert_invite_grant(tx: &Tx<'_>, email: &str, g: &GrantRow) -> ApiResult<()> {
    exec(tx,
        "INSERT OR IGNORE INTO invite_authorizations(org_id, email, role, resource_type, resource_id)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![g.org_id, email, g.role.as_str(), g.resource_type.as_str(), g.resource_id],
    )?;
    Ok(())
}

pub(super) fn pending(c: &Connection, org_id: &str, email: &str) -> ApiResult<bool> {
    Ok(row(
        c,
        "SELECT 1 FROM invites WHERE org_id = ?1 AND email = ?2",
        [org_id, email],
        |_| Ok(()),
    )
    .optional()?
    .is_some())
}

fn require_pending(c: &Connection, org_id: &str, email: &str) -> ApiResult<()> {
    if pending(c, org_id, email)? {
        Ok(())
    } else {
        Err(ApiError::NotFound(format!(
            "no pending invite for {email:?} in organization {org_id:?}"
        )))
    }
}

fn is_member(c: &Connection, org_id: &str, email: &str) -> ApiResult<bool> {
    Ok(row(c,
        "SELECT 1 FROM members m JOIN users u ON u.id = m.user_id WHERE m.org_id = ?1 AND lower(u.email) = ?2",
        [org_id, email],
        |_| Ok(()),
    )
    .optional()?
    .is_some())
}

pub fn create_organization_invite(
    api: &Api,
    who: &Principal,
    req: CreateOrganizationInviteRequest,
) -> ApiResult<CreateOrganizationInviteResponse> {
    let invite = api.store.tx(|tx| {
        let org = &req.organization_id;
        who.require(Perm::WriteOrganization, &Scope::organization(tx, org)?)?;
        // A member is refused as one before the address is judged: the fleet's own admin is
        // admin@localhost, which the format check would call no address at all.
        let as_stored = req.email.trim().to_lowercase();
        if is_member(tx, org, &as_stored)? {
            return Err(ApiError::AlreadyExists(format!(
                "{as_stored:?} is already a member of organization {org:?}"
            )));
        }
        let email = normalize_email(&req.email)?;
        if pending(tx, org, &email)? {
            return Err(ApiError::AlreadyExists(format!(
                "an invite for {email:?} is already pending"
            )));
        }
        let mut grants = req
            .authorizations
            .iter()
            .map(|a| invite_grant(tx, org, a))
            .collect::<ApiResult<Vec<_>>>()?;
        if grants.is_empty() {
            // As the SDK documents: no authorizations means organization owner.
            grants.push(GrantRow {
                org_id: org.clone(),
                identity_id: String::new(),
                identity_type: roles::USER.into(),
                role: Role::Owner,
                resource_type: ResourceType::Organization,
                resource_id: org.clone(),
            });
        }
        exec(
            tx,
            "INSERT INTO invites(org_id, email, created_on) VALUES (?1, ?2, ?3)",
            params![org, email, now()],
        )?;
        grants
            .iter()
            .try_for_each(|g| insert_invite_grant(tx, &email, g))?;
        load(tx, org, &email)
    })?;
    send_unless_disabled(api, &invite, req.send_email_invite)?;
    Ok(CreateOrganizationInviteResponse {
        invite: Some(invite),
    })
}

pub fn update_organization_invite_authorizations(
    api: &Api,
    who: &Principal,
    req: UpdateOrganizationInviteAuthorizationsRequest,
) -> ApiResult<UpdateOrganizationInviteAuthorizationsResponse> {
    if req.add_authorizations.is_empty() && req.remove_authorizations.is_empty() {
        return Err(ApiError::invalid(
            "add_authorizations",
            "this or remove_authorizations must not be empty",
        ));
    }
    let email = normalize_email(&req.email)?;
    api.store.tx(|tx| {
        let org = &req.organization_id;
        who.require(Perm::WriteOrganization, &Scope::organization(tx, org)?)?;
        require_pending(tx, org, &email)?;
        for a in &req.add_authorizations {
            insert_invite_grant(tx, &email, &invite_grant(tx, org, a)?)?;
        }
        for a in &req.remove_authorizations {
            let g = invite_grant(tx, org, a)?;
            let n = exec(
                tx,
                "DELETE FROM invite_authorizations WHERE org_id = ?1 AND email = ?2 AND role = ?3
                 AND resource_type = ?4 AND resource_id = ?5",
                params![
                    org,
                    email,
                    g.role.as_str(),
                    g.resource_type.as_str(),
                    g.resource_id
                ],
            )?;
            if n == 0 {
                return Err(ApiError::NotFound(format!(
                    "remove_authorizations: the invite holds no {} on {:?}",
                    g.authorization_id(),
                    g.resource_id
                )));
            }
        }
        let invite = load(tx, org, &email)?;
        if invite.authorizations.is_empty() {
            return Err(ApiError::FailedPrecondition(
                "an invite must keep at least one authorization; delete the invite instead".into(),
            ));
        }
        Ok(UpdateOrganizationInviteAuthorizationsResponse {
            invite: Some(invite),
        })
    })
}

pub fn delete_organization_invite(
    api: &Api,
    who: &Principal,
    req: DeleteOrganizationInviteRequest,
) -> ApiResult<DeleteOrganizationInviteResponse> {
    let email = normalize_email(&req.email)?;
    api.store.tx(|tx| {
        who.require(
            Perm::WriteOrganization,
            &Scope::organization(tx, &req.organization_id)?,
        )?;
        require_pending(tx, &req.organization_id, &email)?;
        exec(
            tx,
            "DELETE FROM invites WHERE org_id = ?1 AND email = ?2",
            [&req.organization_id, &email],
        )?;
        Ok(DeleteOrganizationInviteResponse {})
    })
}

pub fn resend_organization_invite(
    api: &Api,
    who: &Principal,
    req: ResendOrganizationInviteRequest,
) -> ApiResult<ResendOrganizationInviteResponse> {
    let email = normalize_email(&req.email)?;
    let invite = api.store.read(|c| {
        who.require(
            Perm::WriteOrganization,
            &Scope::organization(c, &req.organization_id)?,
        )?;
        require_pending(c, &req.organization_id, &email)?;
        load(c, &req.organization_id, &email)
    })?;
    send_unless_disabled(api, &invite, req.send_email_invite)?;
    Ok(ResendOrganizationInviteResponse {
        invite: Some(invite),
    })
}

/// Removes the pending invite of `email` and returns what it granted, for the admin API's
/// AcceptInvite (members.rs makes the member).
pub(super) fn take(tx: &Tx<'_>, org_id: &str, email: &str) -> ApiResult<Vec<GrantRow>> {
    require_pending(tx, org_id, email)?;
    let grants = invite_grants(tx, org_id, email)?;
    exec(
        tx,
        "DELETE FROM invites WHERE org_id = ?1 AND email = ?2",
        [org_id, email],
    )?;
    Ok(grants)
}

/// Writes the invitation to the outbox unless the caller asked for no email (unset = send).
fn send_unless_disabled(
    api: &Api,
    invite: &OrganizationInvite,
    send: Option<bool>,
) -> ApiResult<()> {
    if send == Some(false) {
        return Ok(());
    }
    let org_name = api
        .store
        .read(|c| load_org(c, &invite.organization_id))?
        .name;
    let line = serde_json::json!({
        "to": invite.email,
        "subject": format!("You are invited to the organization {org_name}"),
        "body": format!(
            "You have been invited to join the organization {org_name} (id {}) on a fleetsh local fleet.",
            invite.organization_id
        ),
    });
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(api.data_dir.join(OUTBOX_FILE))?;
    // One write per line so concurrent appends never interleave within a message.
    f.write_all(format!("{line}\n").as_bytes())?;
    Ok(())
}

fn load(c: &Connection, org_id: &str, email: &str) -> ApiResult<OrganizationInvite> {
    list_where(c, org_id, Some(email))?.pop().ok_or_else(|| {
        ApiError::NotFound(format!(
            "no pending invite for {email:?} in organization {org_id:?}"
        ))
    })
}

/// The pending invites of an organization, with their authorizations.
pub fn list(c: &Connection, org_id: &str) -> ApiResult<Vec<OrganizationInvite>> {
    list_where(c, org_id, None)
}

fn list_where(
    c: &Connection,
    org_id: &str,
    email: Option<&str>,
) -> ApiResult<Vec<OrganizationInvite>> {
    let mut stmt = c.prepare_cached(
        "SELECT email, created_on FROM invites WHERE org_id = ?1 AND (?2 IS NULL OR email = ?2)
         ORDER BY created_on, email",
    )?;
    let rows: Vec<(String, i64)> = stmt
        .query_map(params![org_id, email], |r| r.try_into())?
        .collect::<Result<_, _>>()?;
    rows.into_iter()
        .map(|(email, created_on)| {
            Ok(OrganizationInvite {
                authorizations: invite_grants(c, org_id, &email)?
                    .iter()
                    .map(GrantRow::to_authorization)
                    .collect(),
                organization_id: org_id.into(),
                email,
                created_on: Some(to_ts(created_on)),
            })
        })
        .collect()
}

fn invite_grants(c: &Connection, org_id: &str, email: &str) -> ApiResult<Vec<GrantRow>> {
    let mut stmt = c.prepare_cached(
        "SELECT role, resource_type, resource_id FROM invite_authorizations WHERE org_id = ?1 AND email = ?2
         ORDER BY resource_type, resource_id, role",
    )?;
    let rows: Vec<(String, String, String)> = stmt
        .query_map([org_id, email], |r| r.try_into())?
        .collect::<Result<_, _>>()?;
    rows.into_iter()
        .map(|(role, rt, resource_id)| {
            Ok(GrantRow {
                org_id: org_id.into(),
                // The invitee has no user id until they accept.
                identity_id: String::new(),
                identity_type: roles::USER.into(),
                role: Role::parse(&role)?,
                resource_type: ResourceType::parse(&rt)?,
                resource_id,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_need_a_local_part_and_a_dotted_domain() {
        assert_eq!(
            normalize_email(" Ann@Example.COM ").unwrap(),
            "ann@example.com"
        );
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "ann@.com",
            "ann@example.",
            "a b@x.io",
            "a@b@c.io",
        ] {
            let e = normalize_email(bad).unwrap_err();
            assert_eq!(e.code(), tonic::Code::InvalidArgument, "{bad:?}");
            assert!(e.to_string().starts_with("email:"), "{bad:?}");
        }
    }
}
