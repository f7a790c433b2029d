//! The routing table of `viam.app.v1.RobotService`, the calls machines make: each RPC and its
//! handler.

use super::call::rpc_table;
use super::{certificates, logs, parts, robot_config};
use crate::proto::viam::app::v1::robot_service_server::RobotService;
use crate::proto::viam::app::v1::*;

rpc_table! {
    impl RobotService for RobotSvc;
    unary {
        log(LogRequest) -> LogResponse = logs::push_logs;
        config(ConfigRequest) -> ConfigResponse = robot_config::config;
        certificate(CertificateRequest) -> CertificateResponse = certificates::certificate;
        needs_restart(NeedsRestartRequest) -> NeedsRestartResponse = parts::needs_restart;
    }
    server_streaming {}
    client_streaming {}
}
