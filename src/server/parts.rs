//! TODO(area parts): handlers.

use super::Api;
use super::authz::Principal;
use super::error::{ApiError, ApiResult};
use crate::proto::viam::app::v1::*;

pub fn get_robot_parts(_api: &Api, _who: &Principal, _req: GetRobotPartsRequest) -> ApiResult<GetRobotPartsResponse> {
    Err(ApiError::Unimplemented("GetRobotParts"))
}

pub fn get_robot_part(_api: &Api, _who: &Principal, _req: GetRobotPartRequest) -> ApiResult<GetRobotPartResponse> {
    Err(ApiError::Unimplemented("GetRobotPart"))
}

pub fn get_robot_part_history(_api: &Api, _who: &Principal, _req: GetRobotPartHistoryRequest) -> ApiResult<GetRobotPartHistoryResponse> {
    Err(ApiError::Unimplemented("GetRobotPartHistory"))
}

pub fn update_robot_part(_api: &Api, _who: &Principal, _req: UpdateRobotPartRequest) -> ApiResult<UpdateRobotPartResponse> {
    Err(ApiError::Unimplemented("UpdateRobotPart"))
}

pub fn new_robot_part(_api: &Api, _who: &Principal, _req: NewRobotPartRequest) -> ApiResult<NewRobotPartResponse> {
    Err(ApiError::Unimplemented("NewRobotPart"))
}

pub fn delete_robot_part(_api: &Api, _who: &Principal, _req: DeleteRobotPartRequest) -> ApiResult<DeleteRobotPartResponse> {
    Err(ApiError::Unimplemented("DeleteRobotPart"))
}

pub fn mark_part_as_main(_api: &Api, _who: &Principal, _req: MarkPartAsMainRequest) -> ApiResult<MarkPartAsMainResponse> {
    Err(ApiError::Unimplemented("MarkPartAsMain"))
}

pub fn mark_part_for_restart(_api: &Api, _who: &Principal, _req: MarkPartForRestartRequest) -> ApiResult<MarkPartForRestartResponse> {
    Err(ApiError::Unimplemented("MarkPartForRestart"))
}

pub fn create_robot_part_secret(_api: &Api, _who: &Principal, _req: CreateRobotPartSecretRequest) -> ApiResult<CreateRobotPartSecretResponse> {
    Err(ApiError::Unimplemented("CreateRobotPartSecret"))
}

pub fn delete_robot_part_secret(_api: &Api, _who: &Principal, _req: DeleteRobotPartSecretRequest) -> ApiResult<DeleteRobotPartSecretResponse> {
    Err(ApiError::Unimplemented("DeleteRobotPartSecret"))
}

/// Creates a part with an empty config and one secret; returns its id.
pub fn insert_part(tx: &rusqlite::Transaction<'_>, robot_id: &str, name: &str, main: bool) -> ApiResult<String> {
    use super::store::{new_id, new_secret, now};
    let id = new_id();
    let t = now();
    let empty = prost::Message::encode_to_vec(&prost_types::Struct::default());
    tx.execute(
        "INSERT INTO parts(id, robot_id, name, main_part, config, created_on, last_updated)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
        rusqlite::params![id, robot_id, name, main, empty, t],
    )?;
    tx.execute(
        "INSERT INTO part_secrets(id, part_id, secret, created_on) VALUES (?1, ?2, ?3, ?4)",
        rusqlite::params![new_id(), id, new_secret(32), t],
    )?;
    Ok(id)
}
