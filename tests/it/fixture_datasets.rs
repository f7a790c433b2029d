//! Issue 12, datasets: each organization's datasets (one holding `$binary`, one to delete) and a
//! valid request for every DatasetService RPC the local fleet serves, and for DataService's
//! dataset RPCs.

use serde_json::{Value, json};

use crate::fixture::Ids;
use crate::fixture_data::must_on;
use crate::harness::TestServer;

/// A new dataset of `org` named `name`; its id.
pub async fn new_dataset(s: &TestServer, token: &str, org: &str, name: &str) -> String {
    let r = must_on(
        s,
        token,
        "DatasetService",
        "CreateDataset",
        json!({"name": name, "organization_id": org}),
    )
    .await;
    r["id"].as_str().unwrap().to_string()
}

/// Adds `dataset` (holding `$binary`) and `doomed_dataset` to `ids`.
pub async fn populate(s: &TestServer, token: &str, tag: &str, ids: &mut Ids) {
    let org = ids["org"].clone();
    let dataset = new_dataset(s, token, &org, &format!("{tag}-dataset")).await;
    let add = json!({"binary_data_ids": [ids["binary"]], "dataset_id": dataset});
    must_on(s, token, "DataService", "AddBinaryDataToDatasetByIDs", add).await;
    ids.insert("dataset", dataset);
    let doomed = new_dataset(s, token, &org, &format!("{tag}-doomed-dataset")).await;
    ids.insert("doomed_dataset", doomed);
}

pub fn requests() -> Vec<(&'static str, &'static str, Value)> {
    let ds = |m: &'static str, v: Value| ("DatasetService", m, v);
    let members = json!({"binary_data_ids": ["$binary"], "dataset_id": "$dataset"});
    vec![
        ds(
            "CreateDataset",
            json!({"name": "$fresh", "organization_id": "$org"}),
        ),
        ds("RenameDataset", json!({"id": "$dataset", "name": "$fresh"})),
        ds(
            "ListDatasetsByOrganizationID",
            json!({"organization_id": "$org"}),
        ),
        ds("ListDatasetsByIDs", json!({"ids": ["$dataset"]})),
        ds(
            "MergeDatasets",
            json!({"name": "$fresh", "organization_id": "$org", "dataset_ids": ["$dataset"]}),
        ),
        ds("DeleteDataset", json!({"id": "$doomed_dataset"})),
        (
            "DataService",
            "AddBinaryDataToDatasetByIDs",
            members.clone(),
        ),
        ("DataService", "RemoveBinaryDataFromDatasetByIDs", members),
    ]
}
