//! One size limit for every string of every request message (unary calls and the opening
//! request of a server stream), checked by call.rs before any handler runs,
//! so that no RPC stores a megabyte name or echoes a megabyte id back in an error message.
//! The request is walked through its descriptor (the same `POOL` the client uses), so a new RPC
//! is covered without a line of code here.

use prost::encoding::{DecodeContext, WireType, decode_key, decode_varint, skip_field};
use prost::{DecodeError, Message};
use prost_reflect::{Kind, MessageDescriptor};

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
// data
const DATA_SERVICE: &str = "viam.app.data.v1.DataService";
const DATA_SYNC_SERVICE: &str = "viam.app.datasync.v1.DataSyncService";
// datasets
const DATASET_SERVICE: &str = "viam.app.dataset.v1.DatasetService";
// billing
const BILLING_SERVICE: &str = "viam.app.v1.BillingService";
const ML_TRAINING_SERVICE: &str = "viam.app.mltraining.v1.MLTrainingService";
// pipelines
const DATA_PIPELINES_SERVICE: &str = "viam.app.datapipelines.v1.DataPipelinesService";
const PACKAGE_SERVICE: &str = "viam.app.packages.v1.PackageService";

fn limit_for(field: &str) -> usize {
    match field {
        f if f.ends_with("_json") => MAX_JSON_CHARS,
        "description" | "markdown_description" | "message" | "stack" => MAX_TEXT_CHARS,
        // A query is free text.
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
    // The wire bytes are walked with the descriptor, reading only the strings' lengths: a
    // DynamicMessage of an upload of 1,000 readings (built, walked, dropped) was a third of
    // DataCaptureUpload's server CPU, for Structs the walk does not even look into.
    let bytes = req.encode_to_vec();
    match long_string(&desc, &bytes)
        .map_err(|e| ApiError::Internal(format!("re-reading a {method} request: {e}")))?
    {
        None => Ok(()),
        Some(Long { path, limit }) => Err(ApiError::invalid(
            &path,
            format!("longer than {limit} characters"),
        )),
    }
}

/// Bytes that are not an encoding of their message (never for a request prost just encoded).
#[derive(Debug)]
struct Malformed;

impl From<DecodeError> for Malformed {
    fn from(_: DecodeError) -> Self {
        Malformed
    }
}

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not a valid encoding")
    }
}

/// A string over its limit, by its path below the message walked.
struct Long {
    path: String,
    limit: usize,
}

/// Struct, Value, Timestamp: free-form content whose size the message limit already bounds.
fn free_form(desc: &MessageDescriptor) -> bool {
    desc.full_name().starts_with("google.protobuf.")
}

/// The first string of the encoded `desc` message in `buf` that is over its field's limit.
/// Paths are built only for that string, on the way out.
fn long_string(desc: &MessageDescriptor, mut buf: &[u8]) -> Result<Option<Long>, Malformed> {
    // Occurrences so far of each repeated field: a list element's index in its path.
    let mut seen: Vec<(u32, usize)> = Vec::new();
    while !buf.is_empty() {
        let (number, wire) = decode_key(&mut buf)?;
        let field = desc.get_field(number);
        let Some(field) = field.filter(|_| wire == WireType::LengthDelimited) else {
            skip_field(wire, number, &mut buf, DecodeContext::default())?;
            continue;
        };
        let len = usize::try_from(decode_varint(&mut buf)?)
            .ok()
            .filter(|&n| n <= buf.len())
            .ok_or(Malformed)?;
        let (value, rest) = buf.split_at(len);
        buf = rest;
        let index = if field.is_list() {
            let at = match seen.iter_mut().find(|(n, _)| *n == number) {
                Some((_, count)) => count,
                None => {
                    seen.push((number, 0));
                    &mut seen.last_mut().expect("just pushed").1
                }
            };
            *at += 1;
            Some(*at - 1)
        } else {
            None
        };
        let limit = limit_for(field.name());
        let named = |below: Option<String>| {
            let mut path = field.name().to_string();
            match index {
                Some(i) => path.push_str(&format!("[{i}]")),
                None if field.is_map() => path.push_str("[]"),
                None => {}
            }
            if let Some(b) = below {
                path.push('.');
                path.push_str(&b);
            }
            path
        };
        match field.kind() {
            Kind::String if over(value, limit) => {
                return Ok(Some(Long {
                    path: named(None),
                    limit,
                }));
            }
            Kind::Message(m) if field.is_map() => {
                // A map entry: only its value is checked, under the map field's limit.
                if let Some(found) = long_map_value(&m, value, limit)? {
                    let below = (!found.path.is_empty()).then_some(found.path);
                    return Ok(Some(Long {
                        path: named(below),
                        limit: found.limit,
                    }));
                }
            }
            Kind::Message(m) if !free_form(&m) => {
                if let Some(found) = long_string(&m, value)? {
                    return Ok(Some(Long {
                        path: named(Some(found.path)),
                        limit: found.limit,
                    }));
                }
            }
            _ => {}
        }
    }
    Ok(None)
}

/// Whether a string's bytes are over `limit` characters (counted only when the bytes are).
fn over(bytes: &[u8], limit: usize) -> bool {
    bytes.len() > limit && String::from_utf8_lossy(bytes).chars().count() > limit
}

/// A map entry's value over its limit: the path is empty for the value itself, else the path
/// below the value's message.
fn long_map_value(
    entry: &MessageDescriptor,
    mut buf: &[u8],
    limit: usize,
) -> Result<Option<Long>, Malformed> {
    let value_field = entry.map_entry_value_field();
    while !buf.is_empty() {
        let (number, wire) = decode_key(&mut buf)?;
        if number != value_field.number() || wire != WireType::LengthDelimited {
            skip_field(wire, number, &mut buf, DecodeContext::default())?;
            continue;
        }
        let len = usize::try_from(decode_varint(&mut buf)?)
            .ok()
            .filter(|&n| n <= buf.len())
            .ok_or(Malformed)?;
        let (value, rest) = buf.split_at(len);
        buf = rest;
        match value_field.kind() {
            Kind::String if over(value, limit) => {
                return Ok(Some(Long {
                    path: String::new(),
                    limit,
                }));
            }
            Kind::Message(m) if !free_form(&m) => {
                if let Some(found) = long_string(&m, value)? {
                    return Ok(Some(found));
                }
            }
            _ => {}
        }
    }
    Ok(None)
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

    #[test]
    fn list_elements_and_map_values_are_named_and_free_form_content_is_not_walked() {
        use crate::proto::viam::app::datasync::v1::{
            DataCaptureUploadRequest, SensorData, UploadMetadata, sensor_data::Data,
        };
        use crate::proto::viam::app::mltraining::v1::SubmitCustomTrainingJobRequest;
        use crate::proto::viam::app::v1::CreateKeyRequest;
        let auth = |resource_id: String| Authorization {
            resource_id,
            ..Default::default()
        };
        let listed = CreateKeyRequest {
            authorizations: vec![auth("a".into()), auth("b".repeat(MAX_NAME_CHARS + 1))],
            ..Default::default()
        };
        let e = check("create_key", &listed).unwrap_err().to_string();
        assert_eq!(
            e,
            "authorizations[1].resource_id: longer than 1024 characters"
        );
        let mapped = SubmitCustomTrainingJobRequest {
            arguments: [("k".to_string(), "v".repeat(MAX_NAME_CHARS + 1))].into(),
            ..Default::default()
        };
        let e = check("submit_custom_training_job", &mapped)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "arguments[]: longer than 1024 characters");
        // A reading's strings are the caller's data: only the message limit bounds them.
        let reading = prost_types::Struct {
            fields: [(
                "note".to_string(),
                prost_types::Value {
                    kind: Some(prost_types::value::Kind::StringValue(
                        "x".repeat(MAX_NAME_CHARS * 4),
                    )),
                },
            )]
            .into(),
        };
        let upload = |part_id: String| DataCaptureUploadRequest {
            metadata: Some(UploadMetadata {
                part_id,
                ..Default::default()
            }),
            sensor_contents: vec![SensorData {
                data: Some(Data::Struct(reading.clone())),
                ..Default::default()
            }],
        };
        check("data_capture_upload", &upload("p".into())).unwrap();
        let e = check(
            "data_capture_upload",
            &upload("p".repeat(MAX_NAME_CHARS + 1)),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(e, "metadata.part_id: longer than 1024 characters");
    }
}
