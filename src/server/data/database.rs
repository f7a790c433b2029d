//! GetDatabaseConnection / ConfigureDatabaseUser. The local fleet runs no MongoDB, so the
//! connection it describes points at nothing: hostname and mongodb_uri are empty, and
//! has_database_user says whether a password was configured. The password is kept only as
//! its SHA-256 (like every secret here), so a later real endpoint could check it.

use crate::proto::viam::app::data::v1::*;
use crate::server::Api;
use crate::server::authz::{Perm, Principal, Scope};
use crate::server::error::{ApiError, ApiResult, required};
use crate::server::store::hash_secret;

const MIN_PASSWORD_CHARS: usize = 8;

fn key(org_id: &str) -> String {
    format!("data.database_user.{org_id}")
}

pub fn get_database_connection(
    api: &Api,
    who: &Principal,
    req: GetDatabaseConnectionRequest,
) -> ApiResult<GetDatabaseConnectionResponse> {
    let org_id = required("organization_id", &req.organization_id)?;
    api.store.read(|c| {
        let scope = Scope::organization(c, org_id)?;
        who.require(Perm::ReadOrganizationDataManagement, &scope)
    })?;
    Ok(GetDatabaseConnectionResponse {
        hostname: String::new(),
        mongodb_uri: String::new(),
        has_database_user: api.store.meta_get(&key(org_id))?.is_some(),
    })
}

pub fn configure_database_user(
    api: &Api,
    who: &Principal,
    req: ConfigureDatabaseUserRequest,
) -> ApiResult<ConfigureDatabaseUserResponse> {
    let org_id = required("organization_id", &req.organization_id)?;
    if req.password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ApiError::invalid(
            "password",
            format!("at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    api.store.read(|c| {
        let scope = Scope::organization(c, org_id)?;
        who.require(Perm::WriteDataManagement, &scope)
    })?;
    api.store
        .meta_set(&key(org_id), hash_secret(&req.password).as_bytes())?;
    Ok(ConfigureDatabaseUserResponse {})
}
