//! API keys. A key lives in one organization and holds grants (roles.rs); only its SHA-256
//! is stored, so the key text is shown once, in the reply that creates it.

use rusqlite::{Connection, OptionalExtension, params};

use super::Api;
use super::authz::{Perm, Principal, Scope};
use super::error::{ApiError, ApiResult, required};
use super::roles::{self, GrantRow};
use super::store::{Tx, exec, found, row, to_ts};
use crate::proto::viam::app::v1::*;

pub fn create_key(
    api: &Api,
    who: &Principal,
    req: CreateKeyRequest,
) -> ApiResult<CreateKeyResponse> {
    let org_id = match req.authorizations.first() {
        None => {
            return Err(ApiError::invalid(
                "authorizations",
                "at least one is required",
            ));
        }
        Some(a) => a.organization_id.clone(),
    };
    if let Some(other) = req
        .authorizations
        .iter()
        .find(|a| a.organization_id != org_id)
    {
        return Err(ApiError::invalid(
            "authorizations",
            format!(
                "all must be in one organization ({org_id:?} and {:?} differ)",
                other.organization_id
            ),
        ));
    }
    let name = match req.name.trim() {
        // The Python SDK names unnamed keys after the time; do the same for other clients.
        "" => humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        n => n.to_string(),
    };
    api.store.tx(|tx| {
        who.require(Perm::WriteOrganization, &Scope::organization(tx, &org_id)?)?;
        let grants = req
            .authorizations
            .iter()
            .map(|a| roles::validate(tx, a))
            .collect::<ApiResult<Vec<_>>>()?;
        let (id, key) = new_key_with(tx, &org_id, &name, &grants)?;
        Ok(CreateKeyResponse { key, id })
    })
}

/// A new key in `org_id` holding `grants` (their identity fields are replaced by the key's).
fn new_key_with(
    tx: &Tx<'_>,
    org_id: &str,
    name: &str,
    grants: &[GrantRow],
) -> ApiResult<(String, String)> {
    let (id, key) = insert_key(tx, org_id, name)?;
    for g in grants {
        roles::insert_grant(
            tx,
            &g.org_id,
            &id,
            roles::API_KEY,
            g.role,
            g.resource_type,
            &g.resource_id,
        )?;
    }
    Ok((id, key))
}

struct KeyRow {
    org_id: String,
    name: String,
    grants: Vec<GrantRow>,
}

/// The key `id` with its grants, or NOT_FOUND.
fn load_key(c: &Connection, id: &str) -> ApiResult<KeyRow> {
    if id.is_empty() {
        return Err(ApiError::invalid("id", "required"));
    }
    let (org_id, name) = found(
        row(
            c,
            "SELECT org_id, name FROM api_keys WHERE id = ?1",
            [id],
            |r| r.try_into(),
        ),
        "API key",
        id,
    )?;
    Ok(KeyRow {
        org_id,
        name,
        grants: roles::grant_rows(c, "identity_id = ?1", [id])?,
    })
}

/// Copying a key's grants hands them to whoever gets the copy, so the caller must own every
/// organization the key has grants in (a key may hold grants beyond its own organization).
fn require_owner_of_grants(c: &Connection, who: &Principal, key: &KeyRow) -> ApiResult<()> {
    who.require(
        Perm::WriteOrganization,
        &Scope::organization(c, &key.org_id)?,
    )?;
    key.grants
        .iter()
        .try_for_each(|g| who.require(Perm::WriteOrganization, &Scope::stored_org(&g.org_id)))
}

/// Deletes key `id` and its grants; refuses to leave any organization without an owner.
fn remove_key(tx: &Tx<'_>, id: &str, key: &KeyRow) -> ApiResult<()> {
    exec(
        tx,
        "DELETE FROM authorizations WHERE identity_id = ?1",
        [id],
    )?;
    exec(tx, "DELETE FROM api_keys WHERE id = ?1", [id])?;
    key.grants
        .iter()
        .filter(|g| g.is_org_owner())
        .try_for_each(|g| roles::ensure_owner_left(tx, &g.org_id))
}

pub fn delete_key(
    api: &Api,
    who: &Principal,
    req: DeleteKeyRequest,
) -> ApiResult<DeleteKeyResponse> {
    api.store.tx(|tx| {
        let key = load_key(tx, &req.id)?;
        who.require(
            Perm::WriteOrganization,
            &Scope::organization(tx, &key.org_id)?,
        )?;
        remove_key(tx, &req.id, &key)?;
        Ok(DeleteKeyResponse {})
    })
}

/// A new key with the same name and grants as key `id`; the old one is deleted if `rotate`.
fn copy_key(api: &Api, who: &Principal, id: &str, rotate: bool) -> ApiResult<(String, String)> {
    api.store.tx(|tx| {
        let old = load_key(tx, id)?;
        require_owner_of_grants(tx, who, &old)?;
        let new = new_key_with(tx, &old.org_id, &old.name, &old.grants)?;
        if rotate {
            remove_key(tx, id, &old)?;
        }
        Ok(new)
    })
}

pub fn rotate_key(
    api: &Api,
    who: &Principal,
    req: RotateKeyRequest,
) -> ApiResult<RotateKeyResponse> {
    let (id, key) = copy_key(api, who, &req.id, true)?;
    Ok(RotateKeyResponse { id, key })
}

pub fn create_key_from_existing_key_authorizations(
    api: &Api,
    who: &Principal,
    req: CreateKeyFromExistingKeyAuthorizationsRequest,
) -> ApiResult<CreateKeyFromExistingKeyAuthorizationsResponse> {
    let (id, key) = copy_key(api, who, &req.id, false)?;
    Ok(CreateKeyFromExistingKeyAuthorizationsResponse { id, key })
}

pub fn list_keys(api: &Api, who: &Principal, req: ListKeysRequest) -> ApiResult<ListKeysResponse> {
    if req.org_id.is_empty() {
        return Err(ApiError::invalid("org_id", "required"));
    }
    api.store.read(|c| {
        // Owners only, not operators: the list shows which keys can do what, which is the map
        // an attacker holding a read-only key would want.
        who.require(
            Perm::WriteOrganization,
            &Scope::organization(c, &req.org_id)?,
        )?;
        let mut stmt = c.prepare_cached(
            "SELECT id, name, created_on FROM api_keys WHERE org_id = ?1 ORDER BY created_on, id",
        )?;
        let keys = stmt
            .query_map([&req.org_id], |r| {
                // `key` stays empty: only the hash is stored, and it is never sent.
                Ok(ApiKey {
                    id: r.get(0)?,
                    key: String::new(),
                    name: r.get(1)?,
                    created_on: Some(to_ts(r.get(2)?)),
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let api_keys = keys
            .into_iter()
            .map(|k| {
                let grants = roles::grant_rows(c, "identity_id = ?1", [&k.id])?;
                Ok(ApiKeyWithAuthorizations {
                    authorizations: grants.iter().map(GrantRow::to_details).collect(),
                    api_key: Some(k),
                })
            })
            .collect::<ApiResult<_>>()?;
        Ok(ListKeysResponse { api_keys })
    })
}

pub fn rename_key(
    api: &Api,
    who: &Principal,
    req: RenameKeyRequest,
) -> ApiResult<RenameKeyResponse> {
    let name = req.name.trim();
    if name.is_empty() {
        return Err(ApiError::invalid("name", "must not be empty"));
    }
    api.store.tx(|tx| {
        let key = load_key(tx, &req.id)?;
        who.require(
            Perm::WriteOrganization,
            &Scope::organization(tx, &key.org_id)?,
        )?;
        exec(
            tx,
            "UPDATE api_keys SET name = ?2 WHERE id = ?1",
            params![req.id, name],
        )?;
        Ok(RenameKeyResponse {
            id: req.id.clone(),
            name: name.into(),
        })
    })
}

/// The keys holding a grant on machine `robot_id`, each with its grants on that machine only:
/// a machine's owner may see who else can reach the machine, not what else those keys reach.
pub fn get_robot_api_keys(
    api: &Api,
    who: &Principal,
    req: GetRobotApiKeysRequest,
) -> ApiResult<GetRobotApiKeysResponse> {
    let robot_id = required("robot_id", &req.robot_id)?;
    api.store.read(|c| {
        who.require(Perm::WriteRobot, &Scope::robot(c, robot_id)?)?;
        let grants = roles::grant_rows(
            c,
            "resource_type = 'robot' AND resource_id = ?1 AND identity_type = ?2",
            params![robot_id, roles::API_KEY],
        )?;
        let mut api_keys: Vec<ApiKeyWithAuthorizations> = Vec::new();
        for g in grants {
            if let Some(k) = api_keys
                .iter_mut()
                .find(|k| k.api_key.as_ref().is_some_and(|a| a.id == g.identity_id))
            {
                k.authorizations.push(g.to_details());
                continue;
            }
            let (name, created): (String, i64) = row(
                c,
                "SELECT name, created_on FROM api_keys WHERE id = ?1",
                [&g.identity_id],
                |r| r.try_into(),
            )?;
            api_keys.push(ApiKeyWithAuthorizations {
                // `key` stays empty: only the hash is stored, and it is never sent.
                api_key: Some(ApiKey {
                    id: g.identity_id.clone(),
                    key: String::new(),
                    name,
                    created_on: Some(to_ts(created)),
                }),
                authorizations: vec![g.to_details()],
            });
        }
        Ok(GetRobotApiKeysResponse { api_keys })
    })
}

/// Creates a key row (no grants); returns (id, key). Only the key's hash is stored.
pub fn insert_key(tx: &Tx<'_>, org_id: &str, name: &str) -> ApiResult<(String, String)> {
    use super::store::{hash_secret, new_id, new_secret, now};
    let id = new_id();
    let key = new_secret(32);
    exec(
        tx,
        "INSERT INTO api_keys(id, org_id, name, key_hash, created_on) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id, org_id, name, hash_secret(&key), now()],
    )?;
    Ok((id, key))
}

/// True when `key` is the secret of key `id`.
pub fn key_matches(api: &Api, id: &str, key: &str) -> ApiResult<bool> {
    let hash: Option<String> = api.store.read(|c| {
        Ok(row(
            c,
            "SELECT key_hash FROM api_keys WHERE id = ?1",
            [id],
            |r| r.get(0),
        )
        .optional()?)
    })?;
    Ok(hash.is_some_and(|h| h == super::store::hash_secret(key)))
}
