//! Generated protobuf types and the descriptor pool, both from the same compiled proto/ set.
//! The module tree mirrors the proto packages because generated code refers to its
//! neighbours by relative paths (`super::super::...`).

use std::sync::{LazyLock, OnceLock};

use prost_reflect::DescriptorPool;

#[allow(clippy::all, clippy::pedantic)]
pub mod viam {
    pub mod app {
        pub mod v1 {
            tonic::include_proto!("viam.app.v1");
            // build.rs's one extern_path: the type stands beside its generated neighbours.
            pub use crate::server::summaries_encode::ListMachineSummariesResponse;
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

mod method_sets {
    include!(concat!(env!("OUT_DIR"), "/fleetsh_methods.rs"));
}
use method_sets::METHOD_SETS;

/// The sets of `METHOD_SETS`, one after another (build/method_sets.rs).
const METHOD_BYTES: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/fleetsh_methods.bin"));

/// Each RPC's descriptor, from its own pool, decoded on first use. Descriptors of different
/// pools are never equal: a method's request and reply types all come from its own pool.
static METHOD_CELLS: [OnceLock<prost_reflect::MethodDescriptor>; METHOD_SETS.len()] =
    [const { OnceLock::new() }; METHOD_SETS.len()];

/// `pkg.Service/Method` from the RPC's own small pool, without building `POOL`.
fn own_pool_method(service: &str, method: &str) -> Option<prost_reflect::MethodDescriptor> {
    let i = METHOD_SETS
        .binary_search_by(|(n, _, _)| {
            let (s, m) = n.split_once('/').unwrap_or((n, ""));
            (s, m).cmp(&(service, method))
        })
        .ok()?;
    let m = METHOD_CELLS[i].get_or_init(|| {
        let (_, start, end) = METHOD_SETS[i];
        DescriptorPool::decode(&METHOD_BYTES[start..end])
            .expect("method set built by build.rs is valid")
            .services()
            .next()
            .and_then(|s| s.methods().next())
            .expect("a method set holds its method")
    });
    Some(m.clone())
}

/// The method names of `service` (`pkg.Service`), from the build's index of method sets:
/// finding a function's RPC by name builds no pool.
pub fn method_names(service: &str) -> impl Iterator<Item = &'static str> + '_ {
    METHOD_SETS.iter().filter_map(move |(n, _, _)| {
        n.split_once('/')
            .filter(|(s, _)| *s == service)
            .map(|(_, m)| m)
    })
}

/// The one method lookup: `"GetRobot"` (an AppService method) or `"pkg.Service/Method"`; the
/// error names the service or hints at the closest method name.
pub fn method(name: &str) -> Result<prost_reflect::MethodDescriptor, String> {
    let (service, method) = name.split_once('/').unwrap_or((APP_SERVICE, name));
    if let Some(m) = own_pool_method(service, method) {
        return Ok(m);
    }
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
    fn every_rpc_has_its_own_pool_with_the_same_types() {
        let mut count = 0;
        for svc in POOL.services() {
            for full in svc.methods() {
                let name = format!("{}/{}", svc.full_name(), full.name());
                let own = method(&name).unwrap();
                assert_ne!(own, full, "{name} came from POOL, not its own pool");
                assert_eq!(own.full_name(), full.full_name());
                assert_eq!(own.parent_pool().services().count(), 1, "{name}");
                assert_eq!(own.is_server_streaming(), full.is_server_streaming());
                assert_eq!(own.is_client_streaming(), full.is_client_streaming());
                // Options that shape no value are left out, and those kept are read with
                // the set's own option messages (build/method_sets.rs): without them,
                // prost-reflect builds its global pool of every well-known type to read them.
                let pool = own.parent_pool();
                for f in pool.file_descriptor_protos() {
                    assert!(f.options.is_none(), "{name}: {} keeps options", f.name());
                }
                let kept = pool.all_messages().any(|m| {
                    m.descriptor_proto().options.is_some()
                        || m.fields()
                            .any(|f| f.field_descriptor_proto().options.is_some())
                }) || pool
                    .all_enums()
                    .any(|e| e.enum_descriptor_proto().options.is_some());
                for option in ["MessageOptions", "FieldOptions", "EnumOptions"] {
                    let full = format!("google.protobuf.{option}");
                    assert!(
                        !kept || pool.get_message_by_name(&full).is_some(),
                        "{name} keeps an option without {full}, which reads it"
                    );
                }
                for (a, b) in [(own.input(), full.input()), (own.output(), full.output())] {
                    same_message(&a, &b, &mut Vec::new());
                }
                count += 1;
            }
        }
        assert_eq!(count, METHOD_SETS.len());
        // Short names are AppService's; unknown ones still get the hint.
        assert_eq!(
            method("GetRobot").unwrap().full_name(),
            "viam.app.v1.AppService.GetRobot"
        );
        assert!(
            method("GetRobott")
                .unwrap_err()
                .contains("did you mean 'GetRobot'")
        );
    }

    /// The same fields, numbers, kinds and nested types, all the way down.
    fn same_message(
        a: &prost_reflect::MessageDescriptor,
        b: &prost_reflect::MessageDescriptor,
        seen: &mut Vec<String>,
    ) {
        if seen.iter().any(|s| s == a.full_name()) {
            return;
        }
        seen.push(a.full_name().to_string());
        assert_eq!(a.full_name(), b.full_name());
        let shape = |m: &prost_reflect::MessageDescriptor| -> Vec<_> {
            m.fields()
                .map(|f| {
                    (
                        f.number(),
                        f.name().to_string(),
                        f.is_list(),
                        f.is_map(),
                        f.is_packed(),
                        f.supports_presence(),
                    )
                })
                .collect()
        };
        let (fa, fb) = (shape(a), shape(b));
        assert_eq!(fa, fb, "{}", a.full_name());
        for (x, y) in a.fields().zip(b.fields()) {
            match (x.kind(), y.kind()) {
                (prost_reflect::Kind::Message(x), prost_reflect::Kind::Message(y)) => {
                    same_message(&x, &y, seen)
                }
                (prost_reflect::Kind::Enum(x), prost_reflect::Kind::Enum(y)) => {
                    let vx: Vec<_> = x
                        .values()
                        .map(|v| (v.number(), v.name().to_string()))
                        .collect();
                    let vy: Vec<_> = y
                        .values()
                        .map(|v| (v.number(), v.name().to_string()))
                        .collect();
                    assert_eq!(vx, vy, "{}", x.full_name());
                }
                (kx, ky) => assert_eq!(format!("{kx:?}"), format!("{ky:?}"), "{}", x.full_name()),
            }
        }
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
