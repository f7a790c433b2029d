//! TODO(area logs): handlers.

use super::Api;
use super::authz::Principal;
use super::error::{ApiError, ApiResult};
use crate::proto::viam::app::v1::*;

pub fn get_robot_part_logs(_api: &Api, _who: &Principal, _req: GetRobotPartLogsRequest) -> ApiResult<GetRobotPartLogsResponse> {
    Err(ApiError::Unimplemented("GetRobotPartLogs"))
}

pub fn tail_robot_part_logs(
    _api: &std::sync::Arc<Api>,
    _request: tonic::Request<TailRobotPartLogsRequest>,
) -> Result<tonic::Response<super::app_service::TailStream>, tonic::Status> {
    Err(tonic::Status::unimplemented("TailRobotPartLogs"))
}

/// The newest log sequence number (0 when there are no logs).
pub fn last_seq(store: &super::store::Store) -> ApiResult<i64> {
    store.read(|c| Ok(c.query_row("SELECT COALESCE(MAX(seq), 0) FROM logs", [], |r| r.get(0))?))
}

pub struct RobotSvc(pub std::sync::Arc<Api>);

#[tonic::async_trait]
impl crate::proto::viam::app::v1::robot_service_server::RobotService for RobotSvc {
    async fn log(&self, _request: tonic::Request<LogRequest>) -> Result<tonic::Response<LogResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("Log"))
    }
}
