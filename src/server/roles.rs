//! TODO(area roles): handlers.

use super::Api;
use super::authz::Principal;
use super::error::{ApiError, ApiResult};
use crate::proto::viam::app::v1::*;

pub fn add_role(_api: &Api, _who: &Principal, _req: AddRoleRequest) -> ApiResult<AddRoleResponse> {
    Err(ApiError::Unimplemented("AddRole"))
}

pub fn remove_role(_api: &Api, _who: &Principal, _req: RemoveRoleRequest) -> ApiResult<RemoveRoleResponse> {
    Err(ApiError::Unimplemented("RemoveRole"))
}

pub fn list_authorizations(_api: &Api, _who: &Principal, _req: ListAuthorizationsRequest) -> ApiResult<ListAuthorizationsResponse> {
    Err(ApiError::Unimplemented("ListAuthorizations"))
}

pub fn check_permissions(_api: &Api, _who: &Principal, _req: CheckPermissionsRequest) -> ApiResult<CheckPermissionsResponse> {
    Err(ApiError::Unimplemented("CheckPermissions"))
}

/// Records a grant; granting what is already held is a no-op.
pub fn insert_grant(
    tx: &rusqlite::Transaction<'_>,
    org_id: &str,
    identity_id: &str,
    identity_type: &str,
    role: super::authz::Role,
    resource_type: super::authz::ResourceType,
    resource_id: &str,
) -> ApiResult<()> {
    tx.execute(
        "INSERT OR IGNORE INTO authorizations(org_id, identity_id, identity_type, role, resource_type, resource_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        rusqlite::params![org_id, identity_id, identity_type, role.as_str(), resource_type.as_str(), resource_id],
    )?;
    Ok(())
}
