//! Generated protobuf types and the descriptor pool, both from the same compiled proto/ set.
//! The module tree mirrors the proto packages because generated code refers to its
//! neighbours by relative paths (`super::super::...`).

use std::sync::LazyLock;

use prost_reflect::DescriptorPool;

#[allow(clippy::all, clippy::pedantic)]
pub mod viam {
    pub mod app {
        pub mod v1 {
            tonic::include_proto!("viam.app.v1");
        }
        pub mod data {
            pub mod v1 {
                tonic::include_proto!("viam.app.data.v1");
            }
        }
        pub mod datapipelines {
            pub mod v1 {
                tonic::include_proto!("viam.app.datapipelines.v1");
            }
        }
        pub mod dataset {
            pub mod v1 {
                tonic::include_proto!("viam.app.dataset.v1");
            }
        }
        pub mod datasync {
            pub mod v1 {
                tonic::include_proto!("viam.app.datasync.v1");
            }
        }
        pub mod mltraining {
            pub mod v1 {
                tonic::include_proto!("viam.app.mltraining.v1");
            }
        }
        pub mod packages {
            pub mod v1 {
                tonic::include_proto!("viam.app.packages.v1");
            }
        }
    }
    pub mod common {
        pub mod v1 {
            tonic::include_proto!("viam.common.v1");
        }
    }
}

/// fleetsh's own services (proto/fleetsh/), beside Viam's: the local fleet's admin API.
#[allow(clippy::all, clippy::pedantic)]
pub mod fleetsh {
    pub mod admin {
        pub mod v1 {
            tonic::include_proto!("fleetsh.admin.v1");
        }
    }
}

/// googleapis' `google.rpc` (the `Status` that ML training jobs report errors with).
#[allow(clippy::all, clippy::pedantic)]
pub mod google {
    pub mod rpc {
        tonic::include_proto!("google.rpc");
    }
}

#[allow(clippy::all, clippy::pedantic)]
pub mod rpc {
    pub mod v1 {
        tonic::include_proto!("proto.rpc.v1");
    }
}

/// The serialized `FileDescriptorSet` of proto/ (plus the well-known types it imports),
/// without comments.
pub const DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/fleetsh_descriptor.bin"));

/// Every service, method and message of proto/, for the generic client path.
pub static POOL: LazyLock<DescriptorPool> = LazyLock::new(|| {
    DescriptorPool::decode(DESCRIPTOR_SET).expect("descriptor set compiled by build.rs is valid")
});

/// The same set with the proto files' comments, which help() and `fleetsh types` quote.
const DOCS_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/fleetsh_docs.bin"));

/// `POOL` plus comments (source info); built only when documentation is asked for.
pub static DOCS_POOL: LazyLock<DescriptorPool> = LazyLock::new(|| {
    DescriptorPool::decode(DOCS_SET).expect("descriptor set compiled by build.rs is valid")
});

pub const APP_SERVICE: &str = "viam.app.v1.AppService";
pub const ROBOT_SERVICE: &str = "viam.app.v1.RobotService";
pub const AUTH_SERVICE: &str = "proto.rpc.v1.AuthService";
/// fleetsh's own admin API of `fleetsh serve` (faults, clock); not Viam's.
pub const ADMIN_SERVICE: &str = "fleetsh.admin.v1.FleetAdminService";

/// The services scripts reach, and the `cloud` table their functions live in (`""`: `cloud`
/// itself; else `cloud.NAME`; several services may share one, as the Python SDK's DataClient
/// covers data, datasets, sync and pipelines). Help, types, completion and the generated
/// functions read this.
pub const LUA_SERVICES: &[(&str, &str)] = &[
    (APP_SERVICE, ""),
    (ROBOT_SERVICE, "robot"),
    ("viam.app.data.v1.DataService", "data"),
    ("viam.app.dataset.v1.DatasetService", "data"),
    ("viam.app.datasync.v1.DataSyncService", "data"),
    ("viam.app.datapipelines.v1.DataPipelinesService", "data"),
    ("viam.app.v1.BillingService", "billing"),
    ("viam.app.mltraining.v1.MLTrainingService", "ml_training"),
    ("viam.app.packages.v1.PackageService", "packages"),
    // The local fleet's own (`fleetsh serve`): cloud.admin.add_fault{rule = {...}}, ...
    (ADMIN_SERVICE, "admin"),
];

/// The one method lookup: `"GetRobot"` (an AppService method) or `"pkg.Service/Method"`; the
/// error names the service or hints at the closest method name.
pub fn method(name: &str) -> Result<prost_reflect::MethodDescriptor, String> {
    let (service, method) = name.split_once('/').unwrap_or((APP_SERVICE, name));
    let svc = POOL
        .get_service_by_name(service)
        .ok_or_else(|| format!("unknown service '{service}'"))?;
    if let Some(m) = svc.methods().find(|m| m.name() == method) {
        return Ok(m);
    }
    let names: Vec<String> = svc.methods().map(|m| m.name().to_string()).collect();
    let hint = crate::lua::convert::closest(method, names.iter().map(String::as_str))
        .map(|c| format!("; did you mean '{c}'?"))
        .unwrap_or_default();
    Err(format!("unknown method '{method}' of {service}{hint}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_has_every_service() {
        for s in [
            APP_SERVICE,
            "viam.app.v1.RobotService",
            "viam.app.v1.BillingService",
            "viam.app.data.v1.DataService",
            "viam.app.datasync.v1.DataSyncService",
            "viam.app.dataset.v1.DatasetService",
            "viam.app.datapipelines.v1.DataPipelinesService",
            "viam.app.mltraining.v1.MLTrainingService",
            "viam.app.packages.v1.PackageService",
            "proto.rpc.v1.AuthService",
        ] {
            assert!(POOL.get_service_by_name(s).is_some(), "{s} missing");
        }
        let app = POOL.get_service_by_name(APP_SERVICE).unwrap();
        // The first and last RPCs upstream, and some the first 56 lacked (issue 11).
        for name in [
            "GetUserIDByEmail",
            "CreateOrganization",
            "ListMachineSummaries",
            "GetRobotPartByNameAndLocation",
            "UpdateRobotPartMetadata",
            "RenameKey",
            "DeleteFirebaseConfig",
        ] {
            assert!(
                app.methods().any(|m| m.name() == name),
                "AppService lacks {name}: regenerate proto/ with proto/generate.py"
            );
        }
        let robot = POOL
            .get_service_by_name("viam.app.v1.RobotService")
            .unwrap();
        let names: Vec<_> = robot.methods().map(|m| m.name().to_owned()).collect();
        assert_eq!(names, ["Config", "Certificate", "Log", "NeedsRestart"]);
        let export = POOL
            .get_service_by_name("viam.app.data.v1.DataService")
            .unwrap()
            .methods()
            .find(|m| m.name() == "ExportTabularData")
            .unwrap();
        assert!(export.is_server_streaming() && !export.is_client_streaming());
        let m = app
            .methods()
            .find(|m| m.name() == "TailRobotPartLogs")
            .unwrap();
        assert!(m.is_server_streaming() && !m.is_client_streaming());
        let m = app
            .methods()
            .find(|m| m.name() == "UploadModuleFile")
            .unwrap();
        assert!(m.is_client_streaming() && !m.is_server_streaming());
    }

    #[test]
    fn field_numbers_match_the_reference() {
        let part = POOL.get_message_by_name("viam.app.v1.RobotPart").unwrap();
        assert_eq!(
            part.get_field_by_name("robot_config_json")
                .unwrap()
                .number(),
            18
        );
        let frag = POOL.get_message_by_name("viam.app.v1.Fragment").unwrap();
        assert!(
            frag.get_field(8).is_none(),
            "Fragment has no field 8 upstream"
        );
        let logs = POOL
            .get_message_by_name("viam.app.v1.GetRobotPartLogsRequest")
            .unwrap();
        assert_eq!(logs.get_field_by_name("order").unwrap().number(), 11);
        // proto3 optional and oneofs survive generation.
        let update = POOL
            .get_message_by_name("viam.app.v1.UpdateOrganizationRequest")
            .unwrap();
        let name = update.get_field_by_name("name").unwrap();
        assert!(
            name.supports_presence() && name.containing_oneof().is_none_or(|o| o.is_synthetic())
        );
        let status = POOL
            .get_message_by_name("viam.app.mltraining.v1.TrainingJobMetadata")
            .unwrap();
        assert_eq!(
            status
                .get_field_by_name("error_status")
                .unwrap()
                .kind()
                .as_message()
                .unwrap()
                .full_name(),
            "google.rpc.Status"
        );
    }
}
