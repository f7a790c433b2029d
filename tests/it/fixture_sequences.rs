//! Issue 12, sequences: each organization's sequence of its part (in a sequence dataset), one
//! to delete, an export of the dataset, and a valid request for every sequence RPC of
//! DataService and every export RPC of DatasetService.

use serde_json::{Value, json};

use crate::fixture::Ids;
use crate::fixture_data::must_on;
use crate::harness::TestServer;

/// A new sequence of `part`'s camera over 2024; its id.
pub async fn new_sequence(s: &TestServer, token: &str, part: &str) -> String {
    let req = json!({"part_id": part, "resources": [{"resource_name": "cam", "method_name": "GetImages"}],
                     "sequence_tags": ["run"], "start_time": "2024-01-01T00:00:00Z",
                     "end_time": "2025-01-01T00:00:00Z"});
    let r = must_on(s, token, "DataService", "CreateSequence", req).await;
    r["id"].as_str().unwrap().to_string()
}

/// Adds `sequence` (in `sequence_dataset`), `doomed_sequence` and `sequence_dataset` to `ids`.
pub async fn populate(s: &TestServer, token: &str, tag: &str, ids: &mut Ids) {
    let part = ids["part"].clone();
    let sequence = new_sequence(s, token, &part).await;
    let req = json!({"name": format!("{tag}-clips"), "organization_id": ids["org"],
                     "type": "DATASET_TYPE_SEQUENCE_DATA"});
    let d = must_on(s, token, "DatasetService", "CreateDataset", req).await;
    let dataset = d["id"].as_str().unwrap().to_string();
    let add = json!({"dataset_id": dataset, "sequence_ids": [sequence]});
    must_on(s, token, "DataService", "AddSequencesToDataset", add).await;
    ids.insert("sequence", sequence);
    // An export of the sequence dataset, to get.
    let job = json!({"dataset_id": dataset});
    let job = must_on(
        s,
        token,
        "DatasetService",
        "StartSequenceDatasetExport",
        job,
    )
    .await;
    ids.insert(
        "sequence_export",
        job["job_id"].as_str().unwrap().to_string(),
    );
    ids.insert("sequence_dataset", dataset);
    ids.insert("doomed_sequence", new_sequence(s, token, &part).await);
}

pub fn requests() -> Vec<(&'static str, &'static str, Value)> {
    let d = |m: &'static str, v: Value| ("DataService", m, v);
    let members = json!({"dataset_id": "$sequence_dataset", "sequence_ids": ["$sequence"]});
    vec![
        d(
            "CreateSequence",
            json!({"part_id": "$part", "resources": [{"resource_name": "cam", "method_name": "GetImages"}],
                   "sequence_tags": ["new"], "start_time": "2024-01-01T00:00:00Z",
                   "end_time": "2024-02-01T00:00:00Z"}),
        ),
        d("GetSequence", json!({"id": "$sequence"})),
        d(
            "UpdateSequence",
            json!({"id": "$sequence", "sequence_tags": ["changed"], "resources": [{"resource_name": "cam"}],
                   "start_time": "2024-01-01T00:00:00Z", "end_time": "2025-01-01T00:00:00Z",
                   "field_mask": "sequenceTags,resources,startTime,endTime"}),
        ),
        d("DeleteSequence", json!({"id": "$doomed_sequence"})),
        d(
            "ListSequences",
            json!({"organization_id": "$org", "page_size": 10}),
        ),
        d(
            "GetSequenceBinaryData",
            json!({"sequence_id": "$sequence", "page_size": 10}),
        ),
        d(
            "SequencesByDatasetID",
            json!({"dataset_id": "$sequence_dataset", "page_size": 10}),
        ),
        d("AddSequencesToDataset", members.clone()),
        d("RemoveSequencesFromDataset", members),
        // sequence exports
        (
            "DatasetService",
            "StartSequenceDatasetExport",
            json!({"dataset_id": "$sequence_dataset"}),
        ),
        (
            "DatasetService",
            "GetSequenceDatasetExport",
            json!({"job_id": "$sequence_export"}),
        ),
    ]
}
