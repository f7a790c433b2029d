//! TODO(area fragments): handlers.

use super::Api;
use super::authz::Principal;
use super::error::{ApiError, ApiResult};
use crate::proto::viam::app::v1::*;

pub fn list_fragments(_api: &Api, _who: &Principal, _req: ListFragmentsRequest) -> ApiResult<ListFragmentsResponse> {
    Err(ApiError::Unimplemented("ListFragments"))
}

pub fn get_fragment(_api: &Api, _who: &Principal, _req: GetFragmentRequest) -> ApiResult<GetFragmentResponse> {
    Err(ApiError::Unimplemented("GetFragment"))
}

pub fn create_fragment(_api: &Api, _who: &Principal, _req: CreateFragmentRequest) -> ApiResult<CreateFragmentResponse> {
    Err(ApiError::Unimplemented("CreateFragment"))
}

pub fn update_fragment(_api: &Api, _who: &Principal, _req: UpdateFragmentRequest) -> ApiResult<UpdateFragmentResponse> {
    Err(ApiError::Unimplemented("UpdateFragment"))
}

pub fn delete_fragment(_api: &Api, _who: &Principal, _req: DeleteFragmentRequest) -> ApiResult<DeleteFragmentResponse> {
    Err(ApiError::Unimplemented("DeleteFragment"))
}
