//! Issue 12, queries: each organization's saved queries (one to read and change, one to
//! delete) and a custom index to delete, and a valid request for every saved-query, index and
//! signed-URL RPC of DataService.

use base64::Engine;
use serde_json::{Value, json};

use crate::fixture::Ids;
use crate::fixture_data::must_on;
use crate::harness::TestServer;

fn b64(d: bson::Document) -> String {
    base64::engine::general_purpose::STANDARD.encode(d.to_vec().unwrap())
}

fn stage() -> String {
    b64(bson::doc! {"$limit": 5_i32})
}

/// A new saved query of `org` named `name`; its id.
pub async fn new_saved_query(s: &TestServer, token: &str, org: &str, name: &str) -> String {
    let req = json!({"organization_id": org, "name": name, "mql_binary": [stage()]});
    let r = must_on(s, token, "DataService", "CreateSavedQuery", req).await;
    r["id"].as_str().unwrap().to_string()
}

/// A new hot-store index of `org` named `name`.
pub async fn new_index(s: &TestServer, token: &str, org: &str, name: &str) {
    let spec = b64(bson::doc! {"key": {"robot_id": 1_i32}, "options": {"name": name}});
    let req = json!({"organization_id": org, "collection_type": "INDEXABLE_COLLECTION_HOT_STORE",
                     "index_spec": [spec]});
    must_on(s, token, "DataService", "CreateIndex", req).await;
}

/// Adds `saved_query`, `doomed_saved_query` and `doomed_index` to `ids`.
pub async fn populate(s: &TestServer, token: &str, tag: &str, ids: &mut Ids) {
    let org = ids["org"].clone();
    let q = new_saved_query(s, token, &org, &format!("{tag}-saved")).await;
    ids.insert("saved_query", q);
    let doomed = new_saved_query(s, token, &org, &format!("{tag}-doomed-saved")).await;
    ids.insert("doomed_saved_query", doomed);
    let index = format!("{tag}-doomed-index");
    new_index(s, token, &org, &index).await;
    ids.insert("doomed_index", index);
}

pub fn requests() -> Vec<(&'static str, &'static str, Value)> {
    let d = |m: &'static str, v: Value| ("DataService", m, v);
    let hot = "INDEXABLE_COLLECTION_HOT_STORE";
    vec![
        d(
            "CreateSavedQuery",
            json!({"organization_id": "$org", "name": "$fresh", "mql_binary": [stage()]}),
        ),
        d(
            "UpdateSavedQuery",
            json!({"id": "$saved_query", "mql_binary": [stage()]}),
        ),
        d("GetSavedQuery", json!({"id": "$saved_query"})),
        d("DeleteSavedQuery", json!({"id": "$doomed_saved_query"})),
        d(
            "ListSavedQueries",
            json!({"organization_id": "$org", "limit": 10}),
        ),
        d(
            "CreateIndex",
            json!({"organization_id": "$org", "collection_type": hot,
                   "index_spec": [b64(bson::doc! {"component_name": 1_i32})]}),
        ),
        d(
            "ListIndexes",
            json!({"organization_id": "$org", "collection_type": hot}),
        ),
        d(
            "DeleteIndex",
            json!({"organization_id": "$org", "collection_type": hot, "index_name": "$doomed_index"}),
        ),
        d(
            "CreateBinaryDataSignedURL",
            json!({"binary_data_id": "$binary", "expiration_minutes": 5}),
        ),
    ]
}
