//! Organizations and their members.

use prost::Message;
use rusqlite::{Connection, OptionalExtension, params};

use super::Api;
use super::authz::{Identity, Perm, Principal, ResourceType, Role, Scope};
use super::error::{ApiError, ApiResult, required};
use super::store::{Tx, exec, found, new_id, now, row, to_ts};
use super::{invites, roles};
use crate::proto::viam::app::v1::*;

pub fn insert_org(tx: &Tx<'_>, name: &str, namespace: Option<&str>) -> ApiResult<String> {
    let id = new_id();
    exec(
        tx,
        "INSERT INTO orgs(id, name, public_namespace, created_on) VALUES (?1, ?2, ?3, ?4)",
        params![id, name, namespace, now()],
    )?;
    Ok(id)
}

pub fn insert_member(tx: &Tx<'_>, org_id: &str, user_id: &str) -> ApiResult<()> {
    exec(
        tx,
        "INSERT OR IGNORE INTO members(org_id, user_id, date_added) VALUES (?1, ?2, ?3)",
        params![org_id, user_id, now()],
    )?;
    Ok(())
}

/// Namespaces: lowercase letters, digits and dashes.
pub fn validate_namespace(ns: &str) -> ApiResult<()> {
    if ns.is_empty() {
        return Err(ApiError::invalid("public_namespace", "must not be empty"));
    }
    if let Some(bad) = ns
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(ApiError::invalid(
            "public_namespace",
            format!("{bad:?} is not allowed; use lowercase letters, digits and dashes"),
        ));
    }
    Ok(())
}

pub fn load_org(c: &Connection, id: &str) -> ApiResult<Organization> {
    found(
        row(
            c,
            "SELECT id, name, created_on, public_namespace, default_region, cid,
                    default_fragments, allowed_login_methods FROM orgs WHERE id = ?1",
            [id],
            |r| {
                Ok(Organization {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    created_on: Some(to_ts(r.get(2)?)),
                    public_namespace: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                    default_region: r.get(4)?,
                    cid: r.get(5)?,
                    // Written by update_organization from a message that decoded, so they decode.
                    default_fragments: r
                        .get::<_, Option<Vec<u8>>>(6)?
                        .and_then(|b| FragmentImportList::decode(b.as_slice()).ok()),
                    allowed_login_methods: r
                        .get::<_, Option<Vec<u8>>>(7)?
                        .and_then(|b| AllowedLoginMethods::decode(b.as_slice()).ok()),
                })
            },
        ),
        "organization",
        id,
    )
}

pub fn create_organization(
    api: &Api,
    who: &Principal,
    req: CreateOrganizationRequest,
) -> ApiResult<CreateOrganizationResponse> {
    let name = req.name.trim();
    if name.is_empty() {
        return Err(ApiError::invalid("name", "must not be empty"));
    }
    let Identity::ApiKey { id: key_id, .. } = &who.identity else {
        return Err(ApiError::denied("only API keys may create organizations"));
    };
    api.store.tx(|tx| {
        let org_id = insert_org(tx, name, None)?;
        roles::insert_grant(
            tx,
            &org_id,
            key_id,
            "api-key",
            Role::Owner,
            ResourceType::Organization,
            &org_id,
        )?;
        Ok(CreateOrganizationResponse {
            organization: Some(load_org(tx, &org_id)?),
        })
    })
}

pub fn list_organizations(
    api: &Api,
    who: &Principal,
    _req: ListOrganizationsRequest,
) -> ApiResult<ListOrganizationsResponse> {
    api.store.read(|c| {
        let organizations = who
            .orgs()
            .into_iter()
            .map(|id| load_org(c, id))
            .collect::<ApiResult<_>>()?;
        Ok(ListOrganizationsResponse { organizations })
    })
}

pub fn list_organizations_by_user(
    api: &Api,
    who: &Principal,
    req: ListOrganizationsByUserRequest,
) -> ApiResult<ListOrganizationsByUserResponse> {
    if req.user_id.is_empty() {
        return Err(ApiError::invalid("user_id", "required"));
    }
    api.store.read(|c| {
        let mut stmt = c.prepare_cached(
            "SELECT o.id, o.name, o.cid, o.public_namespace FROM members m JOIN orgs o ON o.id = m.org_id
             WHERE m.user_id = ?1 ORDER BY o.created_on",
        )?;
        let orgs = stmt
            .query_map([&req.user_id], |r| {
                Ok(OrgDetails {
                    org_id: r.get(0)?,
                    org_name: r.get(1)?,
                    org_cid: r.get(2)?,
                    public_namespace: r.get(3)?,
                    billing_tier: None,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            // Only organizations the caller can see itself.
            .filter(|o| who.in_org(&o.org_id))
            .collect();
        Ok(ListOrganizationsByUserResponse { orgs })
    })
}

pub fn get_organization(
    api: &Api,
    who: &Principal,
    req: GetOrganizationRequest,
) -> ApiResult<GetOrganizationResponse> {
    api.store.read(|c| {
        let org = load_org(c, &req.organization_id)?;
        if !who.in_org(&org.id) {
            return Err(ApiError::denied(format!(
                "read_organization on organization {:?}",
                org.id
            )));
        }
        Ok(GetOrganizationResponse {
            organization: Some(org),
        })
    })
}

pub fn get_organization_namespace_availability(
    api: &Api,
    _who: &Principal,
    req: GetOrganizationNamespaceAvailabilityRequest,
) -> ApiResult<GetOrganizationNamespaceAvailabilityResponse> {
    validate_namespace(&req.public_namespace)?;
    let taken = api.store.read(|c| {
        Ok(row(
            c,
            "SELECT 1 FROM orgs WHERE public_namespace = ?1",
            [&req.public_namespace],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
    })?;
    Ok(GetOrganizationNamespaceAvailabilityResponse { available: !taken })
}

pub fn list_organization_members(
    api: &Api,
    who: &Principal,
    req: ListOrganizationMembersRequest,
) -> ApiResult<ListOrganizationMembersResponse> {
    api.store.read(|c| {
        who.require(Perm::ReadOrganization, &Scope::organization(c, &req.organization_id)?)?;
        let mut stmt = c.prepare_cached(
            "SELECT u.id, u.email, m.date_added, m.last_login FROM members m JOIN users u ON u.id = m.user_id
             WHERE m.org_id = ?1 ORDER BY m.date_added, u.email",
        )?;
        let members = stmt
            .query_map([&req.organization_id], |r| {
                Ok(OrganizationMember {
                    user_id: r.get(0)?,
                    emails: vec![r.get(1)?],
                    date_added: Some(to_ts(r.get(2)?)),
                    last_login: r.get::<_, Option<i64>>(3)?.map(to_ts),
                    last_access: None,
                })
            })?
            .collect::<Result<_, _>>()?;
        let invites = invites::list(c, &req.organization_id)?;
        Ok(ListOrganizationMembersResponse { organization_id: req.organization_id.clone(), members, invites })
    })
}

pub fn delete_organization_member(
    api: &Api,
    who: &Principal,
    req: DeleteOrganizationMemberRequest,
) -> ApiResult<DeleteOrganizationMemberResponse> {
    if req.user_id.is_empty() {
        return Err(ApiError::invalid("user_id", "required"));
    }
    api.store.tx(|tx| {
        who.require(
            Perm::WriteOrganization,
            &Scope::organization(tx, &req.organization_id)?,
        )?;
        let n = exec(
            tx,
            "DELETE FROM members WHERE org_id = ?1 AND user_id = ?2",
            params![req.organization_id, req.user_id],
        )?;
        if n == 0 {
            return Err(ApiError::NotFound(format!(
                "user {:?} is not a member of organization {:?}",
                req.user_id, req.organization_id
            )));
        }
        exec(
            tx,
            "DELETE FROM authorizations WHERE org_id = ?1 AND identity_id = ?2",
            params![req.organization_id, req.user_id],
        )?;
        let owners_left: i64 = row(
            tx,
            "SELECT COUNT(*) FROM authorizations WHERE org_id = ?1 AND role = 'owner'
             AND resource_type = 'organization' AND resource_id = ?1",
            [&req.organization_id],
            |r| r.get(0),
        )?;
        if owners_left == 0 {
            // Rolls back: an organization must keep an owner.
            return Err(ApiError::FailedPrecondition(
                "cannot remove the last owner of the organization; add another owner first".into(),
            ));
        }
        Ok(DeleteOrganizationMemberResponse {})
    })
}

/// ALREADY_EXISTS when another organization holds namespace `ns`.
fn ensure_namespace_free(c: &Connection, org_id: &str, ns: &str) -> ApiResult<()> {
    let holder: Option<String> = row(
        c,
        "SELECT id FROM orgs WHERE public_namespace = ?1",
        [ns],
        |r| r.get(0),
    )
    .optional()?;
    match holder {
        Some(other) if other != org_id => Err(ApiError::AlreadyExists(format!(
            "public_namespace {ns:?} is taken by another organization; choose another"
        ))),
        _ => Ok(()),
    }
}

pub fn update_organization(
    api: &Api,
    who: &Principal,
    req: UpdateOrganizationRequest,
) -> ApiResult<UpdateOrganizationResponse> {
    let id = required("organization_id", &req.organization_id)?;
    let name = match req.name.as_deref().map(str::trim) {
        Some("") => return Err(ApiError::invalid("name", "must not be empty")),
        n => n,
    };
    if let Some(ns) = &req.public_namespace {
        validate_namespace(ns)?;
    }
    if let Some(methods) = &req.allowed_login_methods
        && let Some(bad) = methods
            .methods
            .iter()
            .find(|m| LoginMethod::try_from(**m).is_err())
    {
        return Err(ApiError::invalid(
            "allowed_login_methods",
            format!("{bad} is not a LoginMethod"),
        ));
    }
    api.store.tx(|tx| {
        who.require(Perm::WriteOrganization, &Scope::organization(tx, id)?)?;
        if let Some(name) = name {
            exec(tx, "UPDATE orgs SET name = ?2 WHERE id = ?1", params![id, name])?;
        }
        if let Some(ns) = &req.public_namespace {
            let current = load_org(tx, id)?.public_namespace;
            if current != *ns {
                if !current.is_empty() {
                    return Err(ApiError::FailedPrecondition(format!(
                        "organization {id:?} already has public_namespace {current:?}; \
                         change it with UpdateOrganizationNamespace"
                    )));
                }
                ensure_namespace_free(tx, id, ns)?;
                exec(
                    tx,
                    "UPDATE orgs SET public_namespace = ?2 WHERE id = ?1",
                    params![id, ns],
                )?;
            }
        }
        if let Some(region) = &req.region {
            exec(
                tx,
                "UPDATE orgs SET default_region = ?2 WHERE id = ?1",
                params![id, region],
            )?;
        }
        if let Some(cid) = &req.cid {
            exec(tx, "UPDATE orgs SET cid = ?2 WHERE id = ?1", params![id, cid])?;
        }
        if let Some(list) = &req.default_fragments {
            for f in &list.fragments {
                // Default fragments are applied to the organization's machines: they must be
                // fragments it can read (its own or public ones).
                let readable: Option<()> = row(
                    tx,
                    "SELECT 1 FROM fragments WHERE id = ?1 AND (org_id = ?2 OR visibility != ?3)",
                    params![f.fragment_id, id, FragmentVisibility::Private as i32],
                    |_| Ok(()),
                )
                .optional()?;
                if readable.is_none() {
                    return Err(ApiError::NotFound(format!(
                        "default_fragments: fragment {:?} not found in organization {id:?} or public",
                        f.fragment_id
                    )));
                }
            }
            exec(
                tx,
                "UPDATE orgs SET default_fragments = ?2 WHERE id = ?1",
                params![id, list.encode_to_vec()],
            )?;
        }
        if let Some(methods) = &req.allowed_login_methods {
            exec(
                tx,
                "UPDATE orgs SET allowed_login_methods = ?2 WHERE id = ?1",
                params![id, methods.encode_to_vec()],
            )?;
        }
        Ok(UpdateOrganizationResponse {
            organization: Some(load_org(tx, id)?),
        })
    })
}

pub fn update_organization_namespace(
    api: &Api,
    who: &Principal,
    req: UpdateOrganizationNamespaceRequest,
) -> ApiResult<UpdateOrganizationNamespaceResponse> {
    let id = required("organization_id", &req.organization_id)?;
    let ns = req.new_public_namespace.as_str();
    validate_namespace(ns).map_err(|_| {
        ApiError::invalid(
            "new_public_namespace",
            format!("{ns:?}: use lowercase letters, digits and dashes (not empty)"),
        )
    })?;
    api.store.tx(|tx| {
        who.require(Perm::WriteOrganization, &Scope::organization(tx, id)?)?;
        ensure_namespace_free(tx, id, ns)?;
        exec(
            tx,
            "UPDATE orgs SET public_namespace = ?2 WHERE id = ?1",
            params![id, ns],
        )?;
        Ok(UpdateOrganizationNamespaceResponse {
            organization: Some(load_org(tx, id)?),
        })
    })
}

/// Deletes an empty organization (no locations) with its members, invites, fragments,
/// modules, keys and every grant in it or held by its keys.
pub fn delete_organization(
    api: &Api,
    who: &Principal,
    req: DeleteOrganizationRequest,
) -> ApiResult<DeleteOrganizationResponse> {
    let id = required("organization_id", &req.organization_id)?;
    let removed = api.store.tx(|tx| {
        who.require(Perm::WriteOrganization, &Scope::organization(tx, id)?)?;
        let locations: i64 = row(
            tx,
            "SELECT COUNT(*) FROM locations WHERE org_id = ?1",
            [id],
            |r| r.get(0),
        )?;
        if locations > 0 {
            return Err(ApiError::FailedPrecondition(format!(
                "organization {id:?} still holds {locations} location(s); delete them (and their machines) first"
            )));
        }
        // Grants its keys hold in other organizations, which the cascade would not reach.
        let elsewhere: Vec<String> = {
            let mut stmt = tx.prepare(
                "SELECT DISTINCT a.org_id FROM authorizations a JOIN api_keys k ON k.id = a.identity_id
                 WHERE k.org_id = ?1 AND a.org_id != ?1",
            )?;
            stmt.query_map([id], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        exec(
            tx,
            "DELETE FROM authorizations WHERE identity_id IN (SELECT id FROM api_keys WHERE org_id = ?1)",
            [id],
        )?;
        // Its captured data goes with it: the rows by the cascade, the payload files below.
        let payloads: Vec<String> = {
            let mut stmt = tx.prepare("SELECT id FROM data_binary WHERE org_id = ?1")?;
            stmt.query_map([id], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        // And its packages' files.
        let packages = super::packages::files_of_org(tx, id)?;
        exec(tx, "DELETE FROM orgs WHERE id = ?1", [id])?;
        for other in &elsewhere {
            roles::ensure_owner_left(tx, other)?;
        }
        Ok((payloads, packages))
    })?;
    let (payloads, packages) = removed;
    super::data::remove_payloads(api, &payloads);
    super::packages::remove_files(api, &packages);
    // Its sequence exports' archives (their jobs went with its datasets).
    super::data::remove_export_orphans(api);
    Ok(DeleteOrganizationResponse {})
}

/// The id of the user with `email`, answered only for users in an organization whose members
/// the caller may read: anyone else is NOT_FOUND, as an unknown address is.
pub fn get_user_id_by_email(
    api: &Api,
    who: &Principal,
    req: GetUserIdByEmailRequest,
) -> ApiResult<GetUserIdByEmailResponse> {
    let email = required("email", &req.email)?;
    api.store.read(|c| {
        let mut stmt = c.prepare_cached(
            "SELECT u.id, m.org_id FROM users u JOIN members m ON m.user_id = u.id
             WHERE u.email = ?1 COLLATE NOCASE",
        )?;
        let rows: Vec<(String, String)> = stmt
            .query_map([email], |r| r.try_into())?
            .collect::<Result<_, _>>()?;
        rows.into_iter()
            .find(|(_, org)| who.can(Perm::ReadOrganization, &Scope::stored_org(org)))
            .map(|(user_id, _)| GetUserIdByEmailResponse { user_id })
            .ok_or_else(|| {
                ApiError::NotFound(format!(
                    "no user with email {email:?} among the members you can see"
                ))
            })
    })
}

/// The caller's organizations matching every given filter: ids, CRM ids and namespaces
/// exactly, names as a case-insensitive substring (empty filters match all). Other
/// organizations are never searched.
pub fn search_organizations(
    api: &Api,
    who: &Principal,
    req: SearchOrganizationsRequest,
) -> ApiResult<SearchOrganizationsResponse> {
    fn wanted(v: &Option<String>) -> Option<&str> {
        v.as_deref().map(str::trim).filter(|v| !v.is_empty())
    }
    let (id, name, cid, ns) = (
        req.org_id.as_deref().map(str::trim),
        wanted(&req.org_name).map(str::to_lowercase),
        wanted(&req.cid),
        wanted(&req.public_namespace),
    );
    // A given id must be one of the caller's organizations: an empty, unknown or foreign one
    // is a mistake worth saying, not a search that finds nothing.
    if let Some(given) = &req.org_id {
        let given = required("org_id", given)?;
        if !who.in_org(given) {
            return Err(ApiError::NotFound(format!(
                "org_id: organization {given:?} is not one of yours"
            )));
        }
    }
    api.store.read(|c| {
        let mut organizations = Vec::new();
        for org_id in who.orgs() {
            let o = load_org(c, org_id)?;
            let matches = id.is_none_or(|v| v == o.id)
                && name
                    .as_deref()
                    .is_none_or(|v| o.name.to_lowercase().contains(v))
                && cid.is_none_or(|v| o.cid.as_deref() == Some(v))
                && ns.is_none_or(|v| v == o.public_namespace);
            if matches {
                organizations.push(OrgDetails {
                    org_id: o.id,
                    org_name: o.name,
                    org_cid: o.cid,
                    public_namespace: Some(o.public_namespace).filter(|n| !n.is_empty()),
                    billing_tier: None,
                });
            }
        }
        Ok(SearchOrganizationsResponse { organizations })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_allow_lowercase_digits_and_dashes_only() {
        validate_namespace("my-org-2").unwrap();
        for bad in ["", "My-Org", "a_b", "a b", "ü"] {
            let e = validate_namespace(bad).unwrap_err();
            assert_eq!(e.code(), tonic::Code::InvalidArgument, "{bad:?}");
            assert!(e.to_string().contains("public_namespace"));
        }
    }
}
