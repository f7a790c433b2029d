//! One size limit for every string of every request message (unary calls and the opening
//! request of a server stream), checked by call.rs before any handler runs,
//! so that no RPC stores a megabyte name or echoes a megabyte id back in an error message.
//! The request is walked through its descriptor (the same `POOL` the client uses), so a new RPC
//! is covered without a line of code here.

use prost::Message;
use prost_reflect::{DynamicMessage, MessageDescriptor, ReflectMessage, Value};

use super::error::{ApiError, ApiResult};
use crate::proto::{APP_SERVICE, POOL};

/// Names, ids, emails, namespaces, tokens, filters: anything a person types or a server issues.
pub const MAX_NAME_CHARS: usize = 1024;
/// Free text: descriptions, log messages and stack traces.
pub const MAX_TEXT_CHARS: usize = 64 * 1024;
/// Configuration documents sent as JSON text (`robot_config_json`, `fragment_config_json`).
pub const MAX_JSON_CHARS: usize = 4 * 1024 * 1024;

const ROBOT_SERVICE: &str = "viam.app.v1.RobotService";
const AUTH_SERVICE: &str = "proto.rpc.v1.AuthService";
// issue 12, data
const DATA_SERVICE: &str = "viam.app.data.v1.DataService";
const DATA_SYNC_SERVICE: &str = "viam.app.datasync.v1.DataSyncService";
// issue 12, datasets
const DATASET_SERVICE: &str = "viam.app.dataset.v1.DatasetService";
// issue 12, billing
const BILLING_SERVICE: &str = "viam.app.v1.BillingService";
const ML_TRAINING_SERVICE: &str = "viam.app.mltraining.v1.MLTrainingService";
// issue 12, pipelines
const DATA_PIPELINES_SERVICE: &str = "viam.app.datapipelines.v1.DataPipelinesService";
const PACKAGE_SERVICE: &str = "viam.app.packages.v1.PackageService";

fn limit_for(field: &str) -> usize {
    match field {
        f if f.ends_with("_json") => MAX_JSON_CHARS,
        "description" | "markdown_description" | "message" | "stack" => MAX_TEXT_CHARS,
        // issue 12, data: a query is free text.
        "sql_query" => MAX_TEXT_CHARS,
        _ => MAX_NAME_CHARS,
    }
}

/// The request type of `method`, named as the routing tables name it ("get_robot", "log").
/// Compared without case: snake_case loses acronyms ("get_robot_api_keys" is GetRobotAPIKeys).
fn input_of(method: &str) -> Option<MessageDescriptor> {
    let camel = method.replace('_', "");
    [
        APP_SERVICE,
        ROBOT_SERVICE,
        AUTH_SERVICE,
        DATA_SERVICE,
        DATA_SYNC_SERVICE,
        DATASET_SERVICE,
        BILLING_SERVICE,
        ML_TRAINING_SERVICE,
        DATA_PIPELINES_SERVICE,
        PACKAGE_SERVICE,
    ]
    .iter()
    .filter_map(|s| POOL.get_service_by_name(s))
    .find_map(|s| s.methods().find(|m| m.name().eq_ignore_ascii_case(&camel)))
    .map(|m| m.input())
}

/// Refuses `req` when any of its strings, at any depth, is longer than its field's limit;
/// the error names the field by its path (`authorization.resource_id`, `logs[3].message`).
pub fn check<Req: Message>(method: &str, req: &Req) -> ApiResult<()> {
    // No string can be longer than the whole encoded request: most requests end here.
    if req.encoded_len() <= MAX_NAME_CHARS {
        return Ok(());
    }
    let Some(desc) = input_of(method) else {
        return Ok(());
    };
    let msg = DynamicMessage::decode(desc, req.encode_to_vec().as_slice())
        .map_err(|e| ApiError::Internal(format!("re-decoding a {method} request: {e}")))?;
    check_message(&msg, "")
}

fn check_message(msg: &DynamicMessage, prefix: &str) -> ApiResult<()> {
    // Struct, Value, Timestamp: free-form content whose size the message limit already bounds.
    if msg.descriptor().full_name().starts_with("google.protobuf.") {
        return Ok(());
    }
    for (field, value) in msg.fields() {
        let path = format!("{prefix}{}", field.name());
        check_value(value, &path, limit_for(field.name()))?;
    }
    Ok(())
}

fn check_value(value: &Value, path: &str, limit: usize) -> ApiResult<()> {
    match value {
        Value::String(s) if s.len() > limit && s.chars().count() > limit => Err(ApiError::invalid(
            path,
            format!("longer than {limit} characters"),
        )),
        Value::Message(m) => check_message(m, &format!("{path}.")),
        Value::List(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| check_value(v, &format!("{path}[{i}]"), limit)),
        Value::Map(entries) => entries
            .values()
            .try_for_each(|v| check_value(v, &format!("{path}[]"), limit)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::viam::app::v1::{AddRoleRequest, Authorization, GetRobotRequest};

    #[test]
    fn every_unary_method_name_finds_its_request_type() {
        assert_eq!(
            input_of("get_robot").unwrap().full_name(),
            "viam.app.v1.GetRobotRequest"
        );
        assert_eq!(
            input_of("create_key_from_existing_key_authorizations")
                .unwrap()
                .full_name(),
            "viam.app.v1.CreateKeyFromExistingKeyAuthorizationsRequest"
        );
        assert_eq!(
            input_of("log").unwrap().full_name(),
            "viam.app.v1.LogRequest"
        );
        assert_eq!(
            input_of("get_robot_api_keys").unwrap().full_name(),
            "viam.app.v1.GetRobotAPIKeysRequest"
        );
    }

    #[test]
    fn long_strings_are_refused_by_field_path_and_short_ones_pass() {
        let ok = GetRobotRequest {
            id: "x".repeat(MAX_NAME_CHARS),
        };
        check("get_robot", &ok).unwrap();
        let long = GetRobotRequest {
            id: "x".repeat(MAX_NAME_CHARS + 1),
        };
        let e = check("get_robot", &long).unwrap_err().to_string();
        assert_eq!(e, "id: longer than 1024 characters");
        let nested = AddRoleRequest {
            authorization: Some(Authorization {
                resource_id: "é".repeat(MAX_NAME_CHARS + 1),
                ..Default::default()
            }),
        };
        let e = check("add_role", &nested).unwrap_err().to_string();
        assert!(e.starts_with("authorization.resource_id:"), "{e}");
        // Multi-byte characters count as characters, not bytes.
        let wide = GetRobotRequest {
            id: "é".repeat(MAX_NAME_CHARS),
        };
        check("get_robot", &wide).unwrap();
    }
}
