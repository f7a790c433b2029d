//! Locations (nested, one organization each) and their secrets.

use rusqlite::{Connection, OptionalExtension, params};

use super::Api;
use super::authz::{Perm, Principal, Scope};
use super::error::{ApiError, ApiResult, required};
use super::store::{Tx, exec, found, new_id, new_secret, now, row, to_ts};
use crate::proto::viam::app::v1::*;

pub fn insert_location(
    tx: &Tx<'_>,
    org_id: &str,
    name: &str,
    parent: Option<&str>,
) -> ApiResult<String> {
    let id = new_id();
    exec(
        tx,
        "INSERT INTO locations(id, org_id, name, parent_id, created_on) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id, org_id, name, parent, now()],
    )?;
    insert_secret(tx, &id)?;
    Ok(id)
}

fn insert_secret(tx: &Tx<'_>, location_id: &str) -> ApiResult<()> {
    exec(
        tx,
        "INSERT INTO location_secrets(id, location_id, secret, created_on) VALUES (?1, ?2, ?3, ?4)",
        params![new_id(), location_id, new_secret(32), now()],
    )?;
    Ok(())
}

pub fn first_location(api: &Api, org_id: &str) -> ApiResult<Option<String>> {
    api.store.read(|c| {
        Ok(row(
            c,
            "SELECT id FROM locations WHERE org_id = ?1 ORDER BY created_on LIMIT 1",
            [org_id],
            |r| r.get(0),
        )
        .optional()?)
    })
}

fn location_auth(c: &Connection, location_id: &str) -> ApiResult<LocationAuth> {
    let mut stmt = c.prepare_cached(
        "SELECT id, secret, created_on FROM location_secrets WHERE location_id = ?1 ORDER BY created_on, id",
    )?;
    let secrets: Vec<SharedSecret> = stmt
        .query_map([location_id], |r| {
            Ok(SharedSecret {
                id: r.get(0)?,
                secret: r.get(1)?,
                created_on: Some(to_ts(r.get(2)?)),
                state: shared_secret::State::Enabled as i32,
            })
        })?
        .collect::<Result<_, _>>()?;
    #[allow(deprecated)]
    Ok(LocationAuth {
        secret: secrets
            .first()
            .map(|s| s.secret.clone())
            .unwrap_or_default(),
        location_id: location_id.into(),
        secrets,
    })
}

/// The location as `who` may see it: secrets only with `read_location_secret`.
fn load(c: &Connection, who: &Principal, id: &str) -> ApiResult<Location> {
    let (name, created, parent, region, org_id, org_name, robots): (
        String,
        i64,
        Option<String>,
        String,
        String,
        String,
        i32,
    ) = found(
        row(
            c,
            "SELECT l.name, l.created_on, l.parent_id, l.region, o.id, o.name,
                        (SELECT COUNT(*) FROM robots r WHERE r.location_id = l.id)
                 FROM locations l JOIN orgs o ON o.id = l.org_id WHERE l.id = ?1",
            [id],
            |r| r.try_into(),
        ),
        "location",
        id,
    )?;
    let auth = if who.can(Perm::ReadLocationSecret, &Scope::location(c, id)?) {
        Some(location_auth(c, id)?)
    } else {
        None
    };
    Ok(Location {
        id: id.into(),
        name,
        created_on: Some(to_ts(created)),
        parent_location_id: parent.unwrap_or_default(),
        auth,
        organizations: std::iter::once(LocationOrganization {
            organization_id: org_id.clone(),
            primary: true,
        })
        .chain(
            shared_with(c, id)?
                .into_iter()
                .map(|(o, _)| LocationOrganization {
                    organization_id: o,
                    primary: false,
                }),
        )
        .collect(),
        robot_count: robots,
        config: Some(StorageConfig { region }),
        primary_org_identity: Some(OrganizationIdentity {
            id: org_id,
            name: org_name,
        }),
    })
}

pub fn create_location(
    api: &Api,
    who: &Principal,
    req: CreateLocationRequest,
) -> ApiResult<CreateLocationResponse> {
    let name = req.name.trim();
    if name.is_empty() {
        return Err(ApiError::invalid("name", "must not be empty"));
    }
    api.store.tx(|tx| {
        let org = Scope::organization(tx, &req.organization_id)?;
        let parent = req.parent_location_id.as_deref().filter(|p| !p.is_empty());
        match parent {
            // A location-scoped owner may create sub-locations of its own location.
            Some(p) => {
                let scope = Scope::location(tx, p)
                    .map_err(|_| ApiError::not_found("parent location", p))?;
                if scope.org_id != req.organization_id {
                    return Err(ApiError::invalid(
                        "parent_location_id",
                        "belongs to another organization",
                    ));
                }
                who.require(Perm::WriteLocation, &scope)?;
            }
            None => who.require(Perm::WriteLocation, &org)?,
        }
        let id = insert_location(tx, &req.organization_id, name, parent)?;
        Ok(CreateLocationResponse {
            location: Some(load(tx, who, &id)?),
        })
    })
}

pub fn get_location(
    api: &Api,
    who: &Principal,
    req: GetLocationRequest,
) -> ApiResult<GetLocationResponse> {
    let id = required("location_id", &req.location_id)?;
    api.store.read(|c| {
        who.require(Perm::ReadLocation, &Scope::location(c, id)?)?;
        Ok(GetLocationResponse {
            location: Some(load(c, who, id)?),
        })
    })
}

pub fn update_location(
    api: &Api,
    who: &Principal,
    req: UpdateLocationRequest,
) -> ApiResult<UpdateLocationResponse> {
    let id = required("location_id", &req.location_id)?;
    api.store.tx(|tx| {
        let scope = Scope::location(tx, id)?;
        who.require(Perm::WriteLocation, &scope)?;
        // An absent or empty name keeps the current one (the API guide's examples pass "").
        if let Some(name) = req.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
            exec(
                tx,
                "UPDATE locations SET name = ?2 WHERE id = ?1",
                params![id, name],
            )?;
        }
        match req.parent_location_id.as_deref() {
            None => {}
            Some("") => {
                exec(
                    tx,
                    "UPDATE locations SET parent_id = NULL WHERE id = ?1",
                    [id],
                )?;
            }
            Some(parent) => {
                let target = Scope::location(tx, parent)
                    .map_err(|_| ApiError::not_found("parent location", parent))?;
                if target.org_id != scope.org_id {
                    return Err(ApiError::invalid(
                        "parent_location_id",
                        "belongs to another organization",
                    ));
                }
                // target.locations is the parent's chain up to the top: it must not pass here.
                if target.locations.iter().any(|l| l == id) {
                    return Err(ApiError::invalid(
                        "parent_location_id",
                        format!("moving location {id:?} under {parent:?} would make a cycle"),
                    ));
                }
                who.require(Perm::WriteLocation, &target)?;
                exec(
                    tx,
                    "UPDATE locations SET parent_id = ?2 WHERE id = ?1",
                    params![id, parent],
                )?;
            }
        }
        if let Some(region) = &req.region {
            exec(
                tx,
                "UPDATE locations SET region = ?2 WHERE id = ?1",
                params![id, region],
            )?;
        }
        Ok(UpdateLocationResponse {
            location: Some(load(tx, who, id)?),
        })
    })
}

pub fn delete_location(
    api: &Api,
    who: &Principal,
    req: DeleteLocationRequest,
) -> ApiResult<DeleteLocationResponse> {
    let id = required("location_id", &req.location_id)?;
    api.store.tx(|tx| {
        who.require(Perm::WriteLocation, &Scope::location(tx, id)?)?;
        let (robots, children): (i64, i64) = row(tx,
            "SELECT (SELECT COUNT(*) FROM robots WHERE location_id = ?1),
                    (SELECT COUNT(*) FROM locations WHERE parent_id = ?1)",
            [id],
            |r| r.try_into(),
        )?;
        if robots > 0 || children > 0 {
            return Err(ApiError::FailedPrecondition(format!(
                "location {id:?} still holds {robots} machine(s) and {children} sub-location(s); move or delete them first"
            )));
        }
        exec(tx, "DELETE FROM authorizations WHERE resource_type = 'location' AND resource_id = ?1", [id])?;
        exec(tx, "DELETE FROM locations WHERE id = ?1", [id])?;
        Ok(DeleteLocationResponse {})
    })
}

pub fn list_locations(
    api: &Api,
    who: &Principal,
    req: ListLocationsRequest,
) -> ApiResult<ListLocationsResponse> {
    api.store.read(|c| {
        Scope::organization(c, &req.organization_id)?;
        if !who.in_org(&req.organization_id) {
            return Err(ApiError::denied(format!(
                "read_location in organization {:?}",
                req.organization_id
            )));
        }
        // Its own locations and those shared with it.
        let mut stmt = c.prepare_cached(
            "SELECT id FROM locations WHERE org_id = ?1
                OR id IN (SELECT location_id FROM location_shares WHERE org_id = ?1)
             ORDER BY created_on, id",
        )?;
        let ids: Vec<String> = stmt
            .query_map([&req.organization_id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut locations = Vec::with_capacity(ids.len());
        for id in ids {
            // A location-scoped key sees its locations (and their sub-locations) only.
            if who.can(Perm::ReadLocation, &Scope::location(c, &id)?) {
                locations.push(load(c, who, &id)?);
            }
        }
        Ok(ListLocationsResponse { locations })
    })
}

pub fn location_auth_rpc(
    api: &Api,
    who: &Principal,
    req: LocationAuthRequest,
) -> ApiResult<LocationAuthResponse> {
    let id = required("location_id", &req.location_id)?;
    api.store.read(|c| {
        who.require(Perm::ReadLocationSecret, &Scope::location(c, id)?)?;
        Ok(LocationAuthResponse {
            auth: Some(location_auth(c, id)?),
        })
    })
}

pub fn create_location_secret(
    api: &Api,
    who: &Principal,
    req: CreateLocationSecretRequest,
) -> ApiResult<CreateLocationSecretResponse> {
    let id = required("location_id", &req.location_id)?;
    api.store.tx(|tx| {
        let scope = Scope::location(tx, id)?;
        who.require(Perm::WriteLocation, &scope)?;
        who.require(Perm::ReadLocationSecret, &scope)?;
        insert_secret(tx, id)?;
        Ok(CreateLocationSecretResponse {
            auth: Some(location_auth(tx, id)?),
        })
    })
}

pub fn delete_location_secret(
    api: &Api,
    who: &Principal,
    req: DeleteLocationSecretRequest,
) -> ApiResult<DeleteLocationSecretResponse> {
    let id = required("location_id", &req.location_id)?;
    let secret_id = required("secret_id", &req.secret_id)?;
    api.store.tx(|tx| {
        who.require(Perm::WriteLocation, &Scope::location(tx, id)?)?;
        let n = exec(
            tx,
            "DELETE FROM location_secrets WHERE id = ?1 AND location_id = ?2",
            params![secret_id, id],
        )?;
        if n == 0 {
            return Err(ApiError::not_found("location secret", secret_id));
        }
        Ok(DeleteLocationSecretResponse {})
    })
}

/// The organizations (id, name) location `id` is shared with, besides its own.
fn shared_with(c: &Connection, id: &str) -> ApiResult<Vec<(String, String)>> {
    let mut stmt = c.prepare_cached(
        "SELECT o.id, o.name FROM location_shares s JOIN orgs o ON o.id = s.org_id
         WHERE s.location_id = ?1 ORDER BY o.created_on, o.id",
    )?;
    Ok(stmt
        .query_map([id], |r| r.try_into())?
        .collect::<Result<_, _>>()?)
}

/// The location's own organization first, then those it is shared with.
pub fn get_organizations_with_access_to_location(
    api: &Api,
    who: &Principal,
    req: GetOrganizationsWithAccessToLocationRequest,
) -> ApiResult<GetOrganizationsWithAccessToLocationResponse> {
    let id = required("location_id", &req.location_id)?;
    api.store.read(|c| {
        let scope = Scope::location(c, id)?;
        who.require(Perm::ReadLocation, &scope)?;
        let own: String = row(
            c,
            "SELECT name FROM orgs WHERE id = ?1",
            [&scope.org_id],
            |r| r.get(0),
        )?;
        let organization_identities = std::iter::once((scope.org_id.clone(), own))
            .chain(shared_with(c, id)?)
            .map(|(id, name)| OrganizationIdentity { id, name })
            .collect();
        Ok(GetOrganizationsWithAccessToLocationResponse {
            organization_identities,
        })
    })
}

/// Shares a location (with its sub-locations and machines) with another organization; only
/// an owner of both organizations may. Sharing twice changes nothing.
pub fn share_location(
    api: &Api,
    who: &Principal,
    req: ShareLocationRequest,
) -> ApiResult<ShareLocationResponse> {
    let id = required("location_id", &req.location_id)?;
    api.store.tx(|tx| {
        let scope = Scope::location(tx, id)?;
        who.require(Perm::WriteOrganization, &Scope::stored_org(&scope.org_id))?;
        let target = Scope::organization(tx, &req.organization_id)?;
        // Owning the receiving organization too: nobody pushes machines into a stranger's fleet.
        who.require(Perm::WriteOrganization, &target)?;
        if target.org_id == scope.org_id {
            return Err(ApiError::invalid(
                "organization_id",
                format!("{:?} is the location's own organization", target.org_id),
            ));
        }
        exec(
            tx,
            "INSERT OR IGNORE INTO location_shares(location_id, org_id) VALUES (?1, ?2)",
            params![id, target.org_id],
        )?;
        Ok(ShareLocationResponse {})
    })
}

/// Ends a share; an owner of either organization may.
pub fn unshare_location(
    api: &Api,
    who: &Principal,
    req: UnshareLocationRequest,
) -> ApiResult<UnshareLocationResponse> {
    let id = required("location_id", &req.location_id)?;
    api.store.tx(|tx| {
        let scope = Scope::location(tx, id)?;
        let target = Scope::organization(tx, &req.organization_id)?;
        if !who.can(Perm::WriteOrganization, &Scope::stored_org(&scope.org_id)) {
            who.require(Perm::WriteOrganization, &target)?;
        }
        let n = exec(
            tx,
            "DELETE FROM location_shares WHERE location_id = ?1 AND org_id = ?2",
            params![id, target.org_id],
        )?;
        if n == 0 {
            return Err(ApiError::NotFound(format!(
                "location {id:?} is not shared with organization {:?}",
                target.org_id
            )));
        }
        Ok(UnshareLocationResponse {})
    })
}
