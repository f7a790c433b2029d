//! Roles: grants of owner / operator on an organization, location or machine, to a user or
//! an API key. Also the one validation of an incoming `Authorization` and the one conversion
//! of a stored grant back to the wire, which keys.rs and invites.rs reuse.

use rusqlite::{Connection, OptionalExtension, params};

use super::Api;
use super::authz::{Perm, Principal, ResourceType, Role, Scope};
use super::error::{ApiError, ApiResult};
use super::store::{Tx, exec, row};
use crate::proto::viam::app::v1::*;

pub const USER: &str = "user";
pub const API_KEY: &str = super::auth::API_KEY;

/// One grant as stored (or about to be): who holds which role on what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRow {
    pub org_id: String,
    pub identity_id: String,
    pub identity_type: String,
    pub role: Role,
    pub resource_type: ResourceType,
    pub resource_id: String,
}

impl GrantRow {
    pub fn authorization_id(&self) -> String {
        format!("{}_{}", self.resource_type.as_str(), self.role.as_str())
    }

    pub fn to_authorization(&self) -> Authorization {
        Authorization {
            authorization_type: "role".into(),
            authorization_id: self.authorization_id(),
            resource_type: self.resource_type.as_str().into(),
            resource_id: self.resource_id.clone(),
            identity_id: self.identity_id.clone(),
            organization_id: self.org_id.clone(),
            identity_type: self.identity_type.clone(),
        }
    }

    pub fn to_details(&self) -> AuthorizationDetails {
        AuthorizationDetails {
            authorization_type: "role".into(),
            authorization_id: self.authorization_id(),
            resource_type: self.resource_type.as_str().into(),
            resource_id: self.resource_id.clone(),
            org_id: self.org_id.clone(),
        }
    }

    pub fn is_org_owner(&self) -> bool {
        self.role == Role::Owner && self.resource_type == ResourceType::Organization
    }

    /// Reads the columns (org_id, identity_id, identity_type, role, resource_type, resource_id).
    fn from_row(
        r: &rusqlite::Row<'_>,
    ) -> rusqlite::Result<(String, String, String, String, String, String)> {
        r.try_into()
    }
}

/// Grants from `authorizations` matching `filter` (a WHERE clause over its columns).
pub fn grant_rows(
    c: &Connection,
    filter: &str,
    args: impl rusqlite::Params,
) -> ApiResult<Vec<GrantRow>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT org_id, identity_id, identity_type, role, resource_type, resource_id FROM authorizations
         WHERE {filter} ORDER BY id"
    ))?;
    let rows = stmt
        .query_map(args, GrantRow::from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(
            |(org_id, identity_id, identity_type, role, rt, resource_id)| {
                Ok(GrantRow {
                    org_id,
                    identity_id,
                    identity_type,
                    role: Role::parse(&role)?,
                    resource_type: ResourceType::parse(&rt)?,
                    resource_id,
                })
            },
        )
        .collect()
}

/// Checks an incoming authorization: its type, its role and resource type (read from
/// `authorization_id` = "<resource_type>_<role>"), and that the resource exists inside
/// `organization_id`. The identity fields are copied as given; callers resolve them.
pub fn validate(c: &Connection, a: &Authorization) -> ApiResult<GrantRow> {
    if !a.authorization_type.is_empty() && a.authorization_type != "role" {
        return Err(ApiError::invalid(
            "authorization_type",
            format!("{:?} is not \"role\"", a.authorization_type),
        ));
    }
    let resource_type = ResourceType::parse(&a.resource_type)?;
    let role = a
        .authorization_id
        .strip_prefix(a.resource_type.as_str())
        .and_then(|rest| rest.strip_prefix('_'))
        .and_then(|role| Role::parse(role).ok())
        .ok_or_else(|| {
            ApiError::invalid(
                "authorization_id",
                format!(
                    "{:?} is not \"{rt}_owner\" or \"{rt}_operator\"",
                    a.authorization_id,
                    rt = a.resource_type
                ),
            )
        })?;
    Scope::organization(c, &a.organization_id)?;
    if a.resource_id.is_empty() {
        return Err(ApiError::invalid("resource_id", "required"));
    }
    let scope = Scope::of(c, resource_type, &a.resource_id)?;
    if scope.org_id != a.organization_id {
        return Err(ApiError::NotFound(format!(
            "resource_id: {} not found in organization {:?}",
            scope.what, a.organization_id
        )));
    }
    Ok(GrantRow {
        org_id: a.organization_id.clone(),
        identity_id: a.identity_id.clone(),
        identity_type: a.identity_type.clone(),
        role,
        resource_type,
        resource_id: a.resource_id.clone(),
    })
}

/// "user" or "api-key" for an existing identity; a given type must agree with what the id is.
fn resolve_identity(c: &Connection, id: &str, given: &str) -> ApiResult<&'static str> {
    if id.is_empty() {
        return Err(ApiError::invalid("identity_id", "required"));
    }
    let exists = |table: &str| -> ApiResult<bool> {
        Ok(row(
            c,
            &format!("SELECT 1 FROM {table} WHERE id = ?1"),
            [id],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
    };
    let actual = if exists("users")? {
        USER
    } else if exists("api_keys")? {
        API_KEY
    } else {
        return Err(ApiError::NotFound(format!(
            "identity_id: no user or API key {id:?}"
        )));
    };
    if !given.is_empty() && given != actual {
        return Err(ApiError::invalid(
            "identity_type",
            format!("{id:?} is a {actual:?}, not {given:?}"),
        ));
    }
    Ok(actual)
}

/// Validates the request's authorization after checking the caller owns its organization.
fn owned_grant(c: &Connection, who: &Principal, a: Option<&Authorization>) -> ApiResult<GrantRow> {
    let a = a.ok_or_else(|| ApiError::invalid("authorization", "required"))?;
    who.require(
        Perm::WriteOrganization,
        &Scope::organization(c, &a.organization_id)?,
    )?;
    let mut g = validate(c, a)?;
    g.identity_type = resolve_identity(c, &a.identity_id, &a.identity_type)?.into();
    Ok(g)
}

pub fn add_role(api: &Api, who: &Principal, req: AddRoleRequest) -> ApiResult<AddRoleResponse> {
    api.store.tx(|tx| {
        let g = owned_grant(tx, who, req.authorization.as_ref())?;
        insert_grant(
            tx,
            &g.org_id,
            &g.identity_id,
            &g.identity_type,
            g.role,
            g.resource_type,
            &g.resource_id,
        )?;
        Ok(AddRoleResponse {})
    })
}

pub fn remove_role(
    api: &Api,
    who: &Principal,
    req: RemoveRoleRequest,
) -> ApiResult<RemoveRoleResponse> {
    api.store.tx(|tx| {
        let g = owned_grant(tx, who, req.authorization.as_ref())?;
        delete_grant(tx, &g)?;
        ensure_owner_left(tx, &g.org_id)?;
        Ok(RemoveRoleResponse {})
    })
}

/// Deletes the stored grant `g`, or NOT_FOUND naming it.
fn delete_grant(tx: &Tx<'_>, g: &GrantRow) -> ApiResult<()> {
    let n = exec(
        tx,
        "DELETE FROM authorizations WHERE org_id = ?1 AND identity_id = ?2 AND role = ?3
         AND resource_type = ?4 AND resource_id = ?5",
        params![
            g.org_id,
            g.identity_id,
            g.role.as_str(),
            g.resource_type.as_str(),
            g.resource_id
        ],
    )?;
    if n == 0 {
        return Err(ApiError::NotFound(format!(
            "authorization {} on {:?} for {:?} not found",
            g.authorization_id(),
            g.resource_id,
            g.identity_id
        )));
    }
    Ok(())
}

/// Replaces one grant by another in one step, both in one organization the caller owns;
/// refused (nothing changed) if the organization would lose its last owner.
pub fn change_role(
    api: &Api,
    who: &Principal,
    req: ChangeRoleRequest,
) -> ApiResult<ChangeRoleResponse> {
    let old = req
        .old_authorization
        .as_ref()
        .ok_or_else(|| ApiError::invalid("old_authorization", "required"))?;
    let new = req
        .new_authorization
        .as_ref()
        .ok_or_else(|| ApiError::invalid("new_authorization", "required"))?;
    api.store.tx(|tx| {
        let old = owned_grant(tx, who, Some(old))?;
        let new = owned_grant(tx, who, Some(new))?;
        if new.org_id != old.org_id {
            return Err(ApiError::invalid(
                "new_authorization.organization_id",
                format!("must be the old one's, {:?}", old.org_id),
            ));
        }
        delete_grant(tx, &old)?;
        insert_grant(
            tx,
            &new.org_id,
            &new.identity_id,
            &new.identity_type,
            new.role,
            new.resource_type,
            &new.resource_id,
        )?;
        ensure_owner_left(tx, &old.org_id)?;
        Ok(ChangeRoleResponse {})
    })
}

/// FAILED_PRECONDITION (which rolls the transaction back) when `org_id` has no owner left.
pub fn ensure_owner_left(tx: &Tx<'_>, org_id: &str) -> ApiResult<()> {
    let owners: i64 = row(
        tx,
        "SELECT COUNT(*) FROM authorizations WHERE org_id = ?1 AND role = 'owner'
         AND resource_type = 'organization' AND resource_id = ?1",
        [org_id],
        |r| r.get(0),
    )?;
    if owners == 0 {
        return Err(ApiError::FailedPrecondition(format!(
            "organization {org_id:?} would have no owner left; add another owner first"
        )));
    }
    Ok(())
}

/// True when `id` is the organization `org_id` itself or one of its locations or machines.
fn in_org(c: &Connection, org_id: &str, id: &str) -> ApiResult<bool> {
    if id == org_id {
        return Ok(true);
    }
    for rt in [ResourceType::Location, ResourceType::Robot] {
        match Scope::of(c, rt, id) {
            Ok(scope) => return Ok(scope.org_id == org_id),
            Err(ApiError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

pub fn list_authorizations(
    api: &Api,
    who: &Principal,
    req: ListAuthorizationsRequest,
) -> ApiResult<ListAuthorizationsResponse> {
    api.store.read(|c| {
        who.require(
            Perm::ReadOrganization,
            &Scope::organization(c, &req.organization_id)?,
        )?;
        // The caller may read the whole organization, so naming what is not in it reveals
        // nothing: another organization's resources are as unknown here as ids that never were.
        for (i, id) in req.resource_ids.iter().enumerate() {
            let field = format!("resource_ids[{i}]");
            if id.is_empty() {
                return Err(ApiError::invalid(&field, "must not be empty"));
            }
            if !in_org(c, &req.organization_id, id)? {
                return Err(ApiError::NotFound(format!(
                    "{field}: no organization, location or machine {id:?} in organization {:?}",
                    req.organization_id
                )));
            }
        }
        let mut grants = grant_rows(c, "org_id = ?1", [&req.organization_id])?;
        if !req.resource_ids.is_empty() {
            grants.retain(|g| req.resource_ids.contains(&g.resource_id));
        }
        Ok(ListAuthorizationsResponse {
            authorizations: grants.iter().map(GrantRow::to_authorization).collect(),
        })
    })
}

/// The permissions the caller holds, per resource it asked about. A resource that does not
/// exist is omitted like one the caller holds nothing on, so the answer never tells whether
/// an id exists.
pub fn check_permissions(
    api: &Api,
    who: &Principal,
    req: CheckPermissionsRequest,
) -> ApiResult<CheckPermissionsResponse> {
    if req.permissions.is_empty() {
        return Err(ApiError::invalid("permissions", "must not be empty"));
    }
    api.store.read(|c| {
        let mut out = Vec::new();
        for (i, entry) in req.permissions.iter().enumerate() {
            let unknown: Vec<&String> = entry
                .permissions
                .iter()
                .filter(|p| Perm::parse(p).is_none())
                .collect();
            if !unknown.is_empty() {
                return Err(ApiError::invalid(
                    "permissions",
                    format!("unknown permission(s) {unknown:?}"),
                ));
            }
            let resource_type = ResourceType::parse(&entry.resource_type)?;
            if entry.resource_id.is_empty() {
                return Err(ApiError::invalid(
                    &format!("permissions[{i}].resource_id"),
                    "required",
                ));
            }
            let scope = match Scope::of(c, resource_type, &entry.resource_id) {
                Ok(scope) => scope,
                Err(ApiError::NotFound(_)) => continue,
                Err(e) => return Err(e),
            };
            let held: Vec<String> = entry
                .permissions
                .iter()
                .filter(|p| Perm::parse(p).is_some_and(|perm| who.can(perm, &scope)))
                .cloned()
                .collect();
            if !held.is_empty() {
                out.push(AuthorizedPermissions {
                    permissions: held,
                    ..entry.clone()
                });
            }
        }
        Ok(CheckPermissionsResponse {
            authorized_permissions: out,
        })
    })
}

/// Records a grant; granting what is already held is a no-op.
pub fn insert_grant(
    tx: &Tx<'_>,
    org_id: &str,
    identity_id: &str,
    identity_type: &str,
    role: super::authz::Role,
    resource_type: super::authz::ResourceType,
    resource_id: &str,
) -> ApiResult<()> {
    exec(tx,
        "INSERT OR IGNORE INTO authorizations(org_id, identity_id, identity_type, role, resource_type, resource_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        rusqlite::params![org_id, identity_id, identity_type, role.as_str(), resource_type.as_str(), resource_id],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_rows_convert_to_both_wire_shapes() {
        let g = GrantRow {
            org_id: "o".into(),
            identity_id: "k".into(),
            identity_type: API_KEY.into(),
            role: Role::Operator,
            resource_type: ResourceType::Location,
            resource_id: "l".into(),
        };
        let a = g.to_authorization();
        assert_eq!(
            (a.authorization_type.as_str(), a.authorization_id.as_str()),
            ("role", "location_operator")
        );
        assert_eq!(
            (a.organization_id.as_str(), a.identity_type.as_str()),
            ("o", "api-key")
        );
        let d = g.to_details();
        assert_eq!(
            (
                d.authorization_id.as_str(),
                d.org_id.as_str(),
                d.resource_id.as_str()
            ),
            ("location_operator", "o", "l")
        );
        assert!(!g.is_org_owner());
    }
}
