//! DataPipelinesService in the local fleet: a pipeline's due windows run
//! its MQL over the readings received in them, by the fleet's clock; each run is recorded and
//! its documents are queried back through TabularDataByMQL's PIPELINE_SINK source; backfill,
//! disable and enable decide which windows run; bad input and other organizations are refused.

use bson::{Bson, Document, doc};
use fleetsh::proto::viam::app::data::v1::{
    TabularDataByMqlRequest, TabularDataSource, TabularDataSourceType,
};
use fleetsh::proto::viam::app::datapipelines::v1::data_pipelines_service_client::DataPipelinesServiceClient;
use fleetsh::proto::viam::app::datapipelines::v1::*;
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::data_api::{Data, data_client, new_part, readings_upload, sync_client};
use crate::harness::{Bearer, TestServer, assert_status};
use crate::setup::{bearer, org_token, other_org, owner_token};

type Pipelines = DataPipelinesServiceClient<InterceptedService<Channel, Bearer>>;

const HOUR: i64 = 3_600_000_000_000;

fn client(s: &TestServer, token: &str) -> Pipelines {
    DataPipelinesServiceClient::with_interceptor(s.channel.clone(), bearer(token))
}

/// Makes every time the fleet stored `nanos` older: that much time passed.
fn advance(s: &TestServer, nanos: i64) {
    s.fleet
        .api
        .store
        .tx(|tx| fleetsh::server::clock::advance(tx, nanos))
        .unwrap();
}

fn stages(docs: &[Document]) -> Vec<Vec<u8>> {
    docs.iter().map(|d| d.to_vec().unwrap()).collect()
}

/// Count and average the temperatures of the "temp" sensor.
fn averaging() -> Vec<Document> {
    vec![
        doc! {"$match": {"component_name": "temp"}},
        doc! {"$group": {"_id": "$component_name", "n": {"$sum": 1}, "avg": {"$avg": "$data.readings.temp"}}},
    ]
}

fn create(org: &str, name: &str, mql: &[Document], backfill: bool) -> CreateDataPipelineRequest {
    CreateDataPipelineRequest {
        organization_id: org.into(),
        name: name.into(),
        mql_binary: stages(mql),
        schedule: "0 * * * *".into(),
        enable_backfill: Some(backfill),
        data_source_type: Some(TabularDataSourceType::Standard as i32),
    }
}

async fn get(p: &mut Pipelines, id: &str) -> DataPipeline {
    p.get_data_pipeline(GetDataPipelineRequest { id: id.into() })
        .await
        .unwrap()
        .into_inner()
        .data_pipeline
        .unwrap()
}

async fn runs(p: &mut Pipelines, id: &str) -> Vec<DataPipelineRun> {
    let req = ListDataPipelineRunsRequest {
        id: id.into(),
        page_size: 100,
        page_token: String::new(),
    };
    let r = p.list_data_pipeline_runs(req).await.unwrap().into_inner();
    assert_eq!(r.pipeline_id, id);
    assert_eq!(r.next_page_token, "");
    r.runs
}

fn sink_query(org: &str, pipeline: &str, mql: &[Document]) -> TabularDataByMqlRequest {
    TabularDataByMqlRequest {
        organization_id: org.into(),
        mql_binary: stages(mql),
        data_source: Some(TabularDataSource {
            r#type: TabularDataSourceType::PipelineSink as i32,
            pipeline_id: Some(pipeline.into()),
        }),
        ..Default::default()
    }
}

async fn sink(data: &mut Data, org: &str, pipeline: &str) -> Vec<Document> {
    let r = data
        .tabular_data_by_mql(sink_query(org, pipeline, &[doc! {"$sort": {"n": 1}}]))
        .await
        .unwrap()
        .into_inner();
    r.raw_data
        .iter()
        .map(|b| Document::from_reader(b.as_slice()).unwrap())
        .collect()
}

/// Uploads temperatures of "temp" (and one of "other") received at `secs` on a new machine.
async fn upload(s: &TestServer, token: &str, secs: i64, temps: &[f64]) {
    let mut app = s.owner().await;
    let part = new_part(&mut app, s.location_id(), &format!("m{secs}")).await;
    let mut sync = sync_client(&s.channel, token);
    let points: Vec<(i64, f64)> = temps.iter().map(|t| (secs - 1, *t)).collect();
    sync.data_capture_upload(readings_upload(&part, "temp", &points))
        .await
        .unwrap();
    sync.data_capture_upload(readings_upload(&part, "other", &[(secs - 1, 99.0)]))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_due_window_runs_the_mql_over_its_readings_into_the_sink() {
    let s = TestServer::start().await;
    let token = owner_token(&s).await;
    let (mut p, mut data) = (client(&s, &token), data_client(&s.channel, &token));
    let org = s.org_id().to_string();
    let id = p
        .create_data_pipeline(create(&org, "hourly-temp", &averaging(), false))
        .await
        .unwrap()
        .into_inner()
        .id;
    let got = get(&mut p, &id).await;
    assert_eq!(
        (got.name.as_str(), got.schedule.as_str(), got.enabled),
        ("hourly-temp", "0 * * * *", true)
    );
    assert_eq!(got.organization_id, org);
    assert_eq!(got.mql_binary, stages(&averaging()), "the MQL as sent");
    assert_eq!(
        got.data_source_type,
        Some(TabularDataSourceType::Standard as i32)
    );
    // Received within the window that holds the pipeline's creation.
    let created = got.created_on.unwrap().seconds;
    upload(&s, &token, created, &[10.0, 20.0, 30.0]).await;
    assert!(
        runs(&mut p, &id).await.is_empty(),
        "no window has ended yet"
    );
    assert!(sink(&mut data, &org, &id).await.is_empty());

    advance(&s, HOUR);
    let first = runs(&mut p, &id).await;
    assert_eq!(first.len(), 1, "{first:?}");
    let run = &first[0];
    assert_eq!(run.status, DataPipelineRunStatus::Completed as i32);
    assert_eq!(run.error_message, "");
    let (from, to) = (
        run.data_start_time.unwrap().seconds,
        run.data_end_time.unwrap().seconds,
    );
    assert_eq!(to - from, 3600, "an hourly window");
    assert_eq!(from % 3600, 0, "windows start on a tick");
    assert!(run.start_time.unwrap().seconds <= run.end_time.unwrap().seconds);
    let out = sink(&mut data, &org, &id).await;
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].get_str("_id").unwrap(), "temp");
    assert_eq!(out[0].get("n"), Some(&Bson::Int64(3)));
    assert_eq!(out[0].get_f64("avg").unwrap(), 20.0);
    let meta = out[0].get_document("_viam_pipeline_run").unwrap();
    assert_eq!(meta.get_str("id").unwrap(), run.id);
    assert_eq!(meta.get_str("organization_id").unwrap(), org);
    // The sink is queried like the readings: stages apply to its documents.
    let filtered = data
        .tabular_data_by_mql(sink_query(&org, &id, &[doc! {"$match": {"n": {"$gt": 5}}}]))
        .await
        .unwrap()
        .into_inner();
    assert!(filtered.raw_data.is_empty());

    // The next window holds no readings: a run with no documents.
    advance(&s, HOUR);
    let both = runs(&mut p, &id).await;
    assert_eq!(both.len(), 2);
    assert_eq!(both[1].id, run.id, "newest first");
    assert_eq!(
        both[0].data_start_time, both[1].data_end_time,
        "windows follow each other (the clock moved the first one an hour back)"
    );
    assert_eq!(sink(&mut data, &org, &id).await.len(), 1);
    // Paged.
    let page = |token: &str| ListDataPipelineRunsRequest {
        id: id.clone(),
        page_size: 1,
        page_token: token.into(),
    };
    let one = p
        .list_data_pipeline_runs(page(""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(one.runs.len(), 1);
    assert_eq!(one.runs[0].id, both[0].id);
    let two = p
        .list_data_pipeline_runs(page(&one.next_page_token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(two.runs[0].id, run.id);
    assert_eq!(two.next_page_token, "");
    assert_status(
        p.list_data_pipeline_runs(page("not-a-token")).await,
        Code::InvalidArgument,
        "page_token",
    );
}

#[tokio::test]
async fn backfill_runs_the_windows_since_the_oldest_reading() {
    let s = TestServer::start().await;
    let token = owner_token(&s).await;
    let (mut p, mut data) = (client(&s, &token), data_client(&s.channel, &token));
    let org = s.org_id().to_string();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    upload(&s, &token, now - 3 * 3600, &[1.0, 3.0]).await;
    let back = p
        .create_data_pipeline(create(&org, "back", &averaging(), true))
        .await
        .unwrap()
        .into_inner()
        .id;
    let fresh = p
        .create_data_pipeline(create(&org, "fresh", &averaging(), false))
        .await
        .unwrap()
        .into_inner()
        .id;
    // The reading's hour and the two after it have ended.
    let done = runs(&mut p, &back).await;
    assert_eq!(done.len(), 3, "{done:?}");
    assert!(
        done.iter()
            .all(|r| r.status == DataPipelineRunStatus::Completed as i32)
    );
    let out = sink(&mut data, &org, &back).await;
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].get("n"), Some(&Bson::Int64(2)));
    assert_eq!(out[0].get_f64("avg").unwrap(), 2.0);
    assert!(runs(&mut p, &fresh).await.is_empty(), "no backfill");
}

#[tokio::test]
async fn disabled_windows_are_skipped_and_rename_list_delete_work() {
    let s = TestServer::start().await;
    let token = owner_token(&s).await;
    let mut p = client(&s, &token);
    let org = s.org_id().to_string();
    let id = p
        .create_data_pipeline(create(&org, "a", &averaging(), false))
        .await
        .unwrap()
        .into_inner()
        .id;
    let other = p
        .create_data_pipeline(create(&org, "b", &averaging(), false))
        .await
        .unwrap()
        .into_inner()
        .id;
    p.disable_data_pipeline(DisableDataPipelineRequest { id: id.clone() })
        .await
        .unwrap();
    assert!(!get(&mut p, &id).await.enabled);
    advance(&s, 2 * HOUR);
    assert!(runs(&mut p, &id).await.is_empty(), "disabled: nothing ran");
    p.enable_data_pipeline(EnableDataPipelineRequest { id: id.clone() })
        .await
        .unwrap();
    assert!(get(&mut p, &id).await.enabled);
    assert!(
        runs(&mut p, &id).await.is_empty(),
        "the windows that passed while disabled are skipped"
    );
    advance(&s, HOUR);
    assert_eq!(runs(&mut p, &id).await.len(), 1);
    assert_eq!(runs(&mut p, &other).await.len(), 3, "b stayed enabled");

    p.rename_data_pipeline(RenameDataPipelineRequest {
        id: id.clone(),
        name: "renamed".into(),
    })
    .await
    .unwrap();
    assert_eq!(get(&mut p, &id).await.name, "renamed");
    let rename = |name: &str| RenameDataPipelineRequest {
        id: id.clone(),
        name: name.into(),
    };
    assert_status(
        p.rename_data_pipeline(rename("b")).await,
        Code::AlreadyExists,
        "\"b\"",
    );
    assert_status(
        p.rename_data_pipeline(rename(" ")).await,
        Code::InvalidArgument,
        "name",
    );
    let listed = p
        .list_data_pipelines(ListDataPipelinesRequest {
            organization_id: org.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .data_pipelines;
    let names: Vec<&str> = listed.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["renamed", "b"]);

    p.delete_data_pipeline(DeleteDataPipelineRequest { id: id.clone() })
        .await
        .unwrap();
    assert_status(
        p.get_data_pipeline(GetDataPipelineRequest { id: id.clone() })
            .await,
        Code::NotFound,
        &id,
    );
    let list_runs = ListDataPipelineRunsRequest {
        id: id.clone(),
        page_size: 0,
        page_token: String::new(),
    };
    assert_status(
        p.list_data_pipeline_runs(list_runs).await,
        Code::NotFound,
        &id,
    );
}

#[tokio::test]
async fn a_run_that_fails_is_recorded_with_its_error() {
    let s = TestServer::start().await;
    let token = owner_token(&s).await;
    let (mut p, mut data) = (client(&s, &token), data_client(&s.channel, &token));
    let org = s.org_id().to_string();
    // Valid over a sample reading (its component name is not "temp"), refused by a real one.
    let mql = [doc! {"$match": {"component_name": "temp", "data.readings.temp": {"$regex": "1"}}}];
    let id = p
        .create_data_pipeline(create(&org, "regex", &mql, false))
        .await
        .unwrap()
        .into_inner()
        .id;
    let created = get(&mut p, &id).await.created_on.unwrap().seconds;
    upload(&s, &token, created, &[1.0]).await;
    advance(&s, HOUR);
    let r = runs(&mut p, &id).await;
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].status, DataPipelineRunStatus::Failed as i32);
    assert!(r[0].error_message.contains("$regex"), "{:?}", r[0]);
    assert!(sink(&mut data, &org, &id).await.is_empty());
}

#[tokio::test]
async fn bad_input_and_other_organizations_are_refused() {
    let s = TestServer::start().await;
    let token = owner_token(&s).await;
    let (mut p, mut data) = (client(&s, &token), data_client(&s.channel, &token));
    let org = s.org_id().to_string();
    let id = p
        .create_data_pipeline(create(&org, "mine", &averaging(), false))
        .await
        .unwrap()
        .into_inner()
        .id;
    let bad = |f: &dyn Fn(&mut CreateDataPipelineRequest)| {
        let mut r = create(&org, "new", &averaging(), false);
        f(&mut r);
        r
    };
    for (req, code, needle) in [
        (
            bad(&|r| r.name = String::new()),
            Code::InvalidArgument,
            "name",
        ),
        (
            bad(&|r| r.name = "mine".into()),
            Code::AlreadyExists,
            "\"mine\"",
        ),
        (
            bad(&|r| r.mql_binary.clear()),
            Code::InvalidArgument,
            "mql_binary",
        ),
        (
            bad(&|r| r.mql_binary = stages(&[doc! {"$lookup": {"from": "x"}}])),
            Code::InvalidArgument,
            "$lookup",
        ),
        (
            bad(&|r| r.mql_binary = vec![b"not bson".to_vec()]),
            Code::InvalidArgument,
            "stage 0",
        ),
        (
            bad(&|r| r.mql_binary = stages(&[doc! {"$match": {"a": {"$where": "1"}}}])),
            Code::InvalidArgument,
            "$where",
        ),
        (
            bad(&|r| r.schedule = "every hour".into()),
            Code::InvalidArgument,
            "schedule",
        ),
        (
            bad(&|r| r.schedule = String::new()),
            Code::InvalidArgument,
            "schedule",
        ),
        (
            bad(&|r| r.data_source_type = Some(TabularDataSourceType::PipelineSink as i32)),
            Code::InvalidArgument,
            "data_source_type",
        ),
        (
            bad(&|r| r.organization_id = "no-such-org".into()),
            Code::NotFound,
            "no-such-org",
        ),
    ] {
        assert_status(p.create_data_pipeline(req).await, code, needle);
    }
    for id in ["no-such-pipeline", "../x"] {
        assert_status(
            p.get_data_pipeline(GetDataPipelineRequest { id: id.into() })
                .await,
            Code::NotFound,
            id,
        );
        assert_status(
            p.enable_data_pipeline(EnableDataPipelineRequest { id: id.into() })
                .await,
            Code::NotFound,
            id,
        );
    }
    assert_status(
        p.get_data_pipeline(GetDataPipelineRequest { id: "".into() })
            .await,
        Code::InvalidArgument,
        "id",
    );
    let mut no_pipeline = sink_query(&org, "", &[]);
    no_pipeline.data_source.as_mut().unwrap().pipeline_id = None;
    assert_status(
        data.tabular_data_by_mql(no_pipeline).await,
        Code::InvalidArgument,
        "pipeline_id",
    );

    // Another organization's owner sees none of it.
    let (b, other) = other_org(&s).await;
    let (mut op, mut odata) = (client(&s, &other), data_client(&s.channel, &other));
    assert_status(
        op.get_data_pipeline(GetDataPipelineRequest { id: id.clone() })
            .await,
        Code::PermissionDenied,
        "",
    );
    assert_status(
        op.list_data_pipelines(ListDataPipelinesRequest {
            organization_id: org.clone(),
        })
        .await,
        Code::PermissionDenied,
        "",
    );
    assert_status(
        op.create_data_pipeline(create(&org, "theirs", &averaging(), false))
            .await,
        Code::PermissionDenied,
        "",
    );
    assert_status(
        op.delete_data_pipeline(DeleteDataPipelineRequest { id: id.clone() })
            .await,
        Code::PermissionDenied,
        "",
    );
    assert_status(
        odata.tabular_data_by_mql(sink_query(&org, &id, &[])).await,
        Code::PermissionDenied,
        "",
    );
    // Their own organization's query cannot name our pipeline either.
    assert_status(
        odata.tabular_data_by_mql(sink_query(&b, &id, &[])).await,
        Code::PermissionDenied,
        "",
    );
    // An operator reads but does not write.
    let operator = org_token(&s, &org, "operator").await;
    let mut opp = client(&s, &operator);
    assert_eq!(get(&mut opp, &id).await.name, "mine");
    assert_status(
        opp.disable_data_pipeline(DisableDataPipelineRequest { id: id.clone() })
            .await,
        Code::PermissionDenied,
        "",
    );
    assert!(get(&mut p, &id).await.enabled);
}
