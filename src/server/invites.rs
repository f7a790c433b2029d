//! TODO(area invites): handlers.

use super::Api;
use super::authz::Principal;
use super::error::{ApiError, ApiResult};
use crate::proto::viam::app::v1::*;

pub fn create_organization_invite(_api: &Api, _who: &Principal, _req: CreateOrganizationInviteRequest) -> ApiResult<CreateOrganizationInviteResponse> {
    Err(ApiError::Unimplemented("CreateOrganizationInvite"))
}

pub fn update_organization_invite_authorizations(_api: &Api, _who: &Principal, _req: UpdateOrganizationInviteAuthorizationsRequest) -> ApiResult<UpdateOrganizationInviteAuthorizationsResponse> {
    Err(ApiError::Unimplemented("UpdateOrganizationInviteAuthorizations"))
}

pub fn delete_organization_invite(_api: &Api, _who: &Principal, _req: DeleteOrganizationInviteRequest) -> ApiResult<DeleteOrganizationInviteResponse> {
    Err(ApiError::Unimplemented("DeleteOrganizationInvite"))
}

pub fn resend_organization_invite(_api: &Api, _who: &Principal, _req: ResendOrganizationInviteRequest) -> ApiResult<ResendOrganizationInviteResponse> {
    Err(ApiError::Unimplemented("ResendOrganizationInvite"))
}

/// The pending invites of an organization, with their authorizations.
pub fn list(_c: &rusqlite::Connection, _org_id: &str) -> ApiResult<Vec<OrganizationInvite>> {
    Ok(vec![])
}
