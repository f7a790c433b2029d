//! Issue 12, data: each organization's captured data (a reading, a binary with a bounding box,
//! a binary to delete) and a valid request for every unary DataService / DataSyncService RPC
//! the local fleet serves.

use base64::Engine;
use serde_json::{Value, json};

use crate::dynamic::{call, method, request};
use crate::fixture::{Ids, to_json};
use crate::harness::TestServer;

/// Calls `svc`/`name` with `req`, panicking on failure: fixtures must build.
pub async fn must_on(s: &TestServer, token: &str, svc: &str, name: &str, req: Value) -> Value {
    let m = method(svc, name);
    let resp = call(&s.channel, Some(token), &m, request(&m, &req))
        .await
        .unwrap_or_else(|e| panic!("fixture {svc}/{name} {req}: {e:?}"));
    to_json(&resp)
}

/// A binary capture of `part`; its id.
pub async fn new_binary(s: &TestServer, token: &str, part: &str) -> String {
    let req = json!({"metadata": {"part_id": part, "component_name": "cam", "component_type": "rdk:component:camera",
                     "method_name": "GetImages", "type": "DATA_TYPE_BINARY_SENSOR", "mime_type": "image/jpeg"},
                     "sensor_contents": [{"binary": base64::engine::general_purpose::STANDARD.encode(b"jpeg")}]});
    let r = must_on(s, token, "DataSyncService", "DataCaptureUpload", req).await;
    r["binary_data_id"].as_str().unwrap().to_string()
}

/// A bounding box on `binary`; its id.
pub async fn new_bbox(s: &TestServer, token: &str, binary: &str) -> String {
    let req = json!({"binary_data_id": binary, "label": "cat", "x_min_normalized": 0.1, "y_min_normalized": 0.1,
                     "x_max_normalized": 0.5, "y_max_normalized": 0.5});
    let r = must_on(s, token, "DataService", "AddBoundingBoxToImageByID", req).await;
    r["bbox_id"].as_str().unwrap().to_string()
}

/// Adds `binary`, `bbox` and `doomed_binary` to `ids`, and a reading of `$part`.
pub async fn populate(s: &TestServer, token: &str, ids: &mut Ids) {
    let part = ids["part"].clone();
    must_on(
        s,
        token,
        "DataSyncService",
        "DataCaptureUpload",
        reading_upload(&part),
    )
    .await;
    let binary = new_binary(s, token, &part).await;
    ids.insert("bbox", new_bbox(s, token, &binary).await);
    ids.insert("binary", binary);
    ids.insert("doomed_binary", new_binary(s, token, &part).await);
}

fn reading_upload(part: &str) -> Value {
    json!({"metadata": {"part_id": part, "component_name": "sensor", "component_type": "rdk:component:sensor",
                        "method_name": "Readings", "type": "DATA_TYPE_TABULAR_SENSOR", "tags": ["lab"]},
           "sensor_contents": [{"metadata": {"time_requested": "2024-01-01T00:00:00Z", "time_received": "2024-01-01T00:00:01Z"},
                                "struct": {"readings": {"temp": 21.5}}}]})
}

pub fn requests() -> Vec<(&'static str, &'static str, Value)> {
    let d = |m: &'static str, v: Value| ("DataService", m, v);
    let stage = bson::doc! {"$limit": 5_i32}.to_vec().unwrap();
    let stage = base64::engine::general_purpose::STANDARD.encode(stage);
    let part_filter = json!({"organization_ids": ["$org"], "part_id": "$part"});
    vec![
        (
            "DataSyncService",
            "DataCaptureUpload",
            reading_upload("$part"),
        ),
        d(
            "TabularDataByFilter",
            json!({"data_request": {"filter": part_filter, "limit": 10}}),
        ),
        d(
            "TabularDataBySQL",
            json!({"organization_id": "$org", "sql_query": "SELECT * FROM readings LIMIT 5"}),
        ),
        d(
            "TabularDataByMQL",
            json!({"organization_id": "$org", "mql_binary": [stage]}),
        ),
        d(
            "GetLatestTabularData",
            json!({"part_id": "$part", "resource_name": "sensor", "method_name": "Readings", "resource_subtype": "rdk:component:sensor"}),
        ),
        d(
            "BinaryDataByFilter",
            json!({"data_request": {"filter": part_filter, "limit": 10}, "include_binary": true}),
        ),
        d(
            "BinaryDataByIDs",
            json!({"binary_data_ids": ["$binary"], "include_binary": true}),
        ),
        d(
            "AddTagsToBinaryDataByIDs",
            json!({"binary_data_ids": ["$binary"], "tags": ["t1"]}),
        ),
        d(
            "AddTagsToBinaryDataByFilter",
            json!({"filter": part_filter, "tags": ["t2"]}),
        ),
        d(
            "RemoveTagsFromBinaryDataByIDs",
            json!({"binary_data_ids": ["$binary"], "tags": ["t1"]}),
        ),
        d(
            "RemoveTagsFromBinaryDataByFilter",
            json!({"filter": part_filter, "tags": ["t2"]}),
        ),
        d("TagsByFilter", json!({"filter": part_filter})),
        d(
            "AddBoundingBoxToImageByID",
            json!({"binary_data_id": "$binary", "label": "dog", "x_min_normalized": 0.2, "y_min_normalized": 0.2,
                   "x_max_normalized": 0.4, "y_max_normalized": 0.4}),
        ),
        d(
            "UpdateBoundingBox",
            json!({"binary_data_id": "$binary", "bbox_id": "$bbox", "label": "cow"}),
        ),
        d(
            "RemoveBoundingBoxFromImageByID",
            json!({"binary_data_id": "$binary", "bbox_id": "$bbox"}),
        ),
        d("BoundingBoxLabelsByFilter", json!({"filter": part_filter})),
        d(
            "ConfigureDatabaseUser",
            json!({"organization_id": "$org", "password": "long enough"}),
        ),
        d("GetDatabaseConnection", json!({"organization_id": "$org"})),
        // Older than ten years: nothing the fixture made, so the table stays as it is.
        d(
            "DeleteTabularData",
            json!({"organization_id": "$org", "delete_older_than_days": 3650}),
        ),
        d(
            "DeleteBinaryDataByIDs",
            json!({"binary_data_ids": ["$doomed_binary"]}),
        ),
        // A component with no data: the filter matches nothing the other rows need.
        d(
            "DeleteBinaryDataByFilter",
            json!({"filter": {"organization_ids": ["$org"], "part_id": "$part", "component_name": "doomed-cam"}}),
        ),
    ]
}
