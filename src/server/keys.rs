//! TODO(area keys): handlers.

use super::Api;
use super::authz::Principal;
use super::error::{ApiError, ApiResult};
use crate::proto::viam::app::v1::*;

pub fn create_key(_api: &Api, _who: &Principal, _req: CreateKeyRequest) -> ApiResult<CreateKeyResponse> {
    Err(ApiError::Unimplemented("CreateKey"))
}

pub fn delete_key(_api: &Api, _who: &Principal, _req: DeleteKeyRequest) -> ApiResult<DeleteKeyResponse> {
    Err(ApiError::Unimplemented("DeleteKey"))
}

pub fn rotate_key(_api: &Api, _who: &Principal, _req: RotateKeyRequest) -> ApiResult<RotateKeyResponse> {
    Err(ApiError::Unimplemented("RotateKey"))
}

pub fn list_keys(_api: &Api, _who: &Principal, _req: ListKeysRequest) -> ApiResult<ListKeysResponse> {
    Err(ApiError::Unimplemented("ListKeys"))
}

pub fn create_key_from_existing_key_authorizations(_api: &Api, _who: &Principal, _req: CreateKeyFromExistingKeyAuthorizationsRequest) -> ApiResult<CreateKeyFromExistingKeyAuthorizationsResponse> {
    Err(ApiError::Unimplemented("CreateKeyFromExistingKeyAuthorizations"))
}

/// Creates a key row (no grants); returns (id, key). Only the key's hash is stored.
pub fn insert_key(tx: &rusqlite::Transaction<'_>, org_id: &str, name: &str) -> ApiResult<(String, String)> {
    use super::store::{hash_secret, new_id, new_secret, now};
    let id = new_id();
    let key = new_secret(32);
    tx.execute(
        "INSERT INTO api_keys(id, org_id, name, key_hash, created_on) VALUES (?1, ?2, ?3, ?4, ?5)",
        rusqlite::params![id, org_id, name, hash_secret(&key), now()],
    )?;
    Ok((id, key))
}

/// True when `key` is the secret of key `id`.
pub fn key_matches(api: &Api, id: &str, key: &str) -> ApiResult<bool> {
    use rusqlite::OptionalExtension;
    let hash: Option<String> = api.store.read(|c| {
        Ok(c.query_row("SELECT key_hash FROM api_keys WHERE id = ?1", [id], |r| r.get(0)).optional()?)
    })?;
    Ok(hash.is_some_and(|h| h == super::store::hash_secret(key)))
}
