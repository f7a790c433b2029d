//! Issue 12, pipelines: each organization's data pipelines and packages (one of each to keep, one
//! to delete), and a valid request for every unary DataPipelinesService and PackageService RPC.

use base64::Engine;
use fleetsh::proto::viam::app::packages::v1::create_package_request::Package as Packet;
use fleetsh::proto::viam::app::packages::v1::package_service_client::PackageServiceClient;
use fleetsh::proto::viam::app::packages::v1::{CreatePackageRequest, PackageInfo, PackageType};
use serde_json::{Value, json};

use crate::fixture::Ids;
use crate::fixture_data::must_on;
use crate::harness::{Bearer, TestServer};

/// One MQL stage, as proto3 JSON carries bytes.
fn stage() -> String {
    let d = bson::doc! {"$match": {"component_name": "sensor"}};
    base64::engine::general_purpose::STANDARD.encode(d.to_vec().unwrap())
}

/// An hourly pipeline of the organization; its id.
pub async fn new_pipeline(s: &TestServer, token: &str, org: &str, name: &str) -> String {
    let req = json!({"organization_id": org, "name": name, "mql_binary": [stage()],
                     "schedule": "0 * * * *", "enable_backfill": false});
    let r = must_on(s, token, "DataPipelinesService", "CreateDataPipeline", req).await;
    r["id"].as_str().unwrap().to_string()
}

/// Version 1 of an ML model package of the organization, uploaded as its info and one chunk;
/// its id.
pub async fn new_package(s: &TestServer, token: &str, org: &str, name: &str) -> String {
    let b = Bearer(Some(format!("Bearer {token}").parse().unwrap()));
    let mut c = PackageServiceClient::with_interceptor(s.channel.clone(), b);
    let info = PackageInfo {
        organization_id: org.into(),
        name: name.into(),
        version: "1".into(),
        r#type: PackageType::MlModel as i32,
        ..Default::default()
    };
    let msgs = vec![
        CreatePackageRequest {
            package: Some(Packet::Info(info)),
        },
        CreatePackageRequest {
            package: Some(Packet::Contents(b"model bytes".to_vec())),
        },
    ];
    c.create_package(tokio_stream::iter(msgs))
        .await
        .unwrap_or_else(|e| panic!("fixture CreatePackage {name}: {e:?}"))
        .into_inner()
        .id
}

/// Adds `pipeline`, `doomed_pipeline`, `package` and `doomed_package` to `ids`.
pub async fn populate(s: &TestServer, token: &str, tag: &str, ids: &mut Ids) {
    let org = ids["org"].clone();
    let p = new_pipeline(s, token, &org, &format!("{tag}-pipeline")).await;
    ids.insert("pipeline", p);
    let d = new_pipeline(s, token, &org, &format!("{tag}-doomed-pipeline")).await;
    ids.insert("doomed_pipeline", d);
    let p = new_package(s, token, &org, &format!("{tag}-model")).await;
    ids.insert("package", p);
    let d = new_package(s, token, &org, &format!("{tag}-doomed-model")).await;
    ids.insert("doomed_package", d);
}

pub fn requests() -> Vec<(&'static str, &'static str, Value)> {
    let p = |m: &'static str, v: Value| ("DataPipelinesService", m, v);
    let k = |m: &'static str, v: Value| ("PackageService", m, v);
    vec![
        p("GetDataPipeline", json!({"id": "$pipeline"})),
        p("ListDataPipelines", json!({"organization_id": "$org"})),
        p(
            "CreateDataPipeline",
            json!({"organization_id": "$org", "name": "$fresh", "mql_binary": [stage()],
                   "schedule": "*/15 * * * *", "enable_backfill": true,
                   "data_source_type": "TABULAR_DATA_SOURCE_TYPE_HOT_STORAGE"}),
        ),
        p(
            "RenameDataPipeline",
            json!({"id": "$pipeline", "name": "$fresh"}),
        ),
        p("EnableDataPipeline", json!({"id": "$pipeline"})),
        p("DisableDataPipeline", json!({"id": "$pipeline"})),
        p(
            "ListDataPipelineRuns",
            json!({"id": "$pipeline", "page_size": 5}),
        ),
        p("DeleteDataPipeline", json!({"id": "$doomed_pipeline"})),
        k(
            "GetPackage",
            json!({"id": "$package", "version": "1", "include_url": true, "type": "PACKAGE_TYPE_ML_MODEL"}),
        ),
        k(
            "ListPackages",
            json!({"organization_id": "$org", "type": "PACKAGE_TYPE_ML_MODEL"}),
        ),
        k(
            "DeletePackage",
            json!({"id": "$doomed_package", "version": "1", "type": "PACKAGE_TYPE_ML_MODEL"}),
        ),
    ]
}
