//! The routing table of `viam.app.v1.RobotService`, the calls machines make: each RPC and its
//! handler.

use super::call::rpc_table;
use super::logs;
use crate::proto::viam::app::v1::robot_service_server::RobotService;
use crate::proto::viam::app::v1::*;

rpc_table! {
    impl RobotService for RobotSvc;
    unary {
        log(LogRequest) -> LogResponse = logs::push_logs;
    }
    server_streaming {}
    client_streaming {}
}
