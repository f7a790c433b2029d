//! TODO(area modules): handlers.

use super::Api;
use super::authz::Principal;
use super::error::{ApiError, ApiResult};
use crate::proto::viam::app::v1::*;

pub fn create_module(_api: &Api, _who: &Principal, _req: CreateModuleRequest) -> ApiResult<CreateModuleResponse> {
    Err(ApiError::Unimplemented("CreateModule"))
}

pub fn update_module(_api: &Api, _who: &Principal, _req: UpdateModuleRequest) -> ApiResult<UpdateModuleResponse> {
    Err(ApiError::Unimplemented("UpdateModule"))
}

pub fn get_module(_api: &Api, _who: &Principal, _req: GetModuleRequest) -> ApiResult<GetModuleResponse> {
    Err(ApiError::Unimplemented("GetModule"))
}

pub fn list_modules(_api: &Api, _who: &Principal, _req: ListModulesRequest) -> ApiResult<ListModulesResponse> {
    Err(ApiError::Unimplemented("ListModules"))
}

pub async fn upload_module_file(
    _api: &std::sync::Arc<Api>,
    _request: tonic::Request<tonic::Streaming<UploadModuleFileRequest>>,
) -> Result<tonic::Response<UploadModuleFileResponse>, tonic::Status> {
    Err(tonic::Status::unimplemented("UploadModuleFile"))
}
