//! Sequence dataset exports: StartSequenceDatasetExport builds a tar
//! archive of a sequence dataset (manifest.json + each selected binary datum's bytes) while the
//! job reads RUNNING; GetSequenceDatasetExport answers COMPLETED with a signed URL that the
//! fleet's own socket serves until it expires on the fleet's clock. Jobs survive a restart; a job
//! RUNNING when its fleet died reads FAILED, saying to start it again; the archive goes with its
//! dataset. Only sequence datasets export, and only for a data reader of the whole organization.
//! The Lua functions run embedded and over a socket in tests/lua/sequence_exports.lua (lua.rs runs every script).

use std::collections::BTreeMap;
use std::io::Read;
use std::time::Duration;

use fleetsh::proto::viam::app::data::v1::*;
use fleetsh::proto::viam::app::dataset::v1::dataset_service_client::DatasetServiceClient;
use fleetsh::proto::viam::app::dataset::v1::*;
use fleetsh::proto::viam::app::datasync::v1::*;
use fleetsh::proto::viam::app::v1::{Authorization, CreateOrganizationRequest};
use prost_types::Timestamp;
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::data_api::{Data, Sync, data_client, new_part, sync_client};
use crate::harness::{App, Bearer, TestServer, assert_status};
use crate::setup::{key_grant as grant, token_with};

type Datasets = DatasetServiceClient<InterceptedService<Channel, Bearer>>;

const T0: i64 = 1_700_000_000;

struct Fleet {
    s: TestServer,
    app: App,
    data: Data,
    sync: Sync,
    ds: Datasets,
    org: String,
    part: String,
}

fn datasets_client(channel: &Channel, token: &str) -> Datasets {
    let b = Bearer(Some(format!("Bearer {token}").parse().unwrap()));
    DatasetServiceClient::with_interceptor(channel.clone(), b)
}

async fn fleet_on(s: TestServer) -> Fleet {
    let c = s.fleet.credentials.clone();
    let token = s.token(&c.api_key_id, &c.api_key).await.unwrap();
    let mut app = s.owner().await;
    let part = new_part(&mut app, &c.location_id, "cam-bot").await;
    Fleet {
        data: data_client(&s.channel, &token),
        sync: sync_client(&s.channel, &token),
        ds: datasets_client(&s.channel, &token),
        org: c.org_id.clone(),
        app,
        part,
        s,
    }
}

async fn fleet() -> Fleet {
    fleet_on(TestServer::start().await).await
}

fn at(s: i64) -> Option<Timestamp> {
    Some(Timestamp {
        seconds: T0 + s,
        nanos: 0,
    })
}

/// Uploads `bytes` as the part's capture by `component`/`method` at T0 + `s`; its id.
async fn capture(f: &mut Fleet, component: &str, method: &str, s: i64, bytes: &[u8]) -> String {
    let req = DataCaptureUploadRequest {
        metadata: Some(UploadMetadata {
            part_id: f.part.clone(),
            component_type: "rdk:component:camera".into(),
            component_name: component.into(),
            method_name: method.into(),
            r#type: DataType::BinarySensor as i32,
            mime_type: "image/jpeg".into(),
            file_extension: ".jpg".into(),
            tags: vec!["day".into()],
            ..Default::default()
        }),
        sensor_contents: vec![SensorData {
            metadata: Some(SensorMetadata {
                time_requested: at(s),
                time_received: at(s + 1),
                ..Default::default()
            }),
            data: Some(sensor_data::Data::Binary(bytes.to_vec())),
        }],
    };
    f.sync
        .data_capture_upload(req)
        .await
        .unwrap()
        .into_inner()
        .binary_data_id
}

/// A sequence of the part's `component` from T0 to T0 + `end`; its id.
async fn sequence(f: &mut Fleet, component: &str, end: i64) -> String {
    f.data
        .create_sequence(CreateSequenceRequest {
            part_id: f.part.clone(),
            resources: vec![SequenceResourceFilter {
                resource_name: component.into(),
                method_name: String::new(),
            }],
            sequence_tags: vec!["run".into()],
            start_time: at(0),
            end_time: at(end),
        })
        .await
        .unwrap()
        .into_inner()
        .id
}

async fn dataset(ds: &mut Datasets, org: &str, name: &str, kind: DatasetType) -> String {
    ds.create_dataset(CreateDatasetRequest {
        name: name.into(),
        organization_id: org.into(),
        r#type: Some(kind as i32),
    })
    .await
    .unwrap()
    .into_inner()
    .id
}

async fn add(f: &mut Fleet, dataset: &str, sequences: &[&String]) {
    f.data
        .add_sequences_to_dataset(AddSequencesToDatasetRequest {
            dataset_id: dataset.into(),
            sequence_ids: sequences.iter().map(|s| s.to_string()).collect(),
        })
        .await
        .unwrap();
}

async fn start(ds: &mut Datasets, dataset: &str) -> Result<String, tonic::Status> {
    let r = ds
        .start_sequence_dataset_export(StartSequenceDatasetExportRequest {
            dataset_id: dataset.into(),
        })
        .await?;
    Ok(r.into_inner().job_id)
}

async fn status(
    ds: &mut Datasets,
    job: &str,
) -> Result<GetSequenceDatasetExportResponse, tonic::Status> {
    let r = ds
        .get_sequence_dataset_export(GetSequenceDatasetExportRequest { job_id: job.into() })
        .await?;
    Ok(r.into_inner())
}

/// The job once it is no longer RUNNING (within 20 s).
async fn finished(ds: &mut Datasets, job: &str) -> GetSequenceDatasetExportResponse {
    let running = SequenceDatasetExportStatus::Running as i32;
    for _ in 0..400 {
        let r = status(ds, job).await.unwrap();
        if r.status != running {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("export {job} still RUNNING after 20 s");
}

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().build().unwrap()
}

async fn fetch(url: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let r = http().get(url).send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.bytes().await.unwrap().to_vec())
}

/// The archive's entries by name.
fn entries(archive: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut a = tar::Archive::new(archive);
    for e in a.entries().expect("a tar archive") {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        e.read_to_end(&mut bytes).unwrap();
        out.insert(name, bytes);
    }
    out
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn exports_dir(s: &TestServer) -> std::path::PathBuf {
    s.dir.path().join("exports")
}

#[tokio::test]
async fn an_export_archives_the_sequences_and_their_bytes_behind_a_signed_url() {
    let mut f = fleet().await;
    let big: Vec<u8> = (0..200_000u32).map(|i| (i * 13 % 256) as u8).collect();
    let b0 = capture(&mut f, "cam", "GetImages", 0, &big).await;
    let b1 = capture(&mut f, "cam", "GetImages", 10, b"frame-1").await;
    let other = capture(&mut f, "lidar", "NextPointCloud", 5, b"cloud").await;
    capture(&mut f, "cam", "GetImages", 500, b"too late").await;
    let s1 = sequence(&mut f, "cam", 50).await;
    let s2 = sequence(&mut f, "lidar", 50).await;
    // In no dataset: not exported.
    sequence(&mut f, "cam", 1000).await;
    let clips = dataset(&mut f.ds, &f.org, "clips", DatasetType::SequenceData).await;
    add(&mut f, &clips, &[&s1, &s2]).await;

    let before = now_secs();
    let job = start(&mut f.ds, &clips).await.unwrap();
    let done = finished(&mut f.ds, &job).await;
    assert_eq!(
        done.status,
        SequenceDatasetExportStatus::Completed as i32,
        "{}",
        done.error_message
    );
    assert_eq!(
        (done.job_id.as_str(), done.error_message.as_str()),
        (job.as_str(), "")
    );
    let (created, completed) = (done.created_at.unwrap(), done.completed_at.unwrap());
    assert!(created.seconds >= before - 1, "{created:?}");
    assert!(
        (completed.seconds, completed.nanos) >= (created.seconds, created.nanos),
        "completed {completed:?} before created {created:?}"
    );
    let expires = done.expires_at.unwrap().seconds;
    assert!(
        (expires - (now_secs() + 15 * 60)).abs() <= 5,
        "the URL lasts 15 minutes"
    );
    let base = format!("{}/signed-url/", f.s.fleet.credentials.address);
    assert!(
        done.download_url.starts_with(&base),
        "{}",
        done.download_url
    );

    let (code, headers, body) = fetch(&done.download_url).await;
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(headers["content-type"], "application/x-tar");
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains(&format!("sequence-export-{job}.tar"))
    );
    let files = entries(&body);
    assert_eq!(
        files.keys().cloned().collect::<Vec<_>>(),
        {
            let mut names = vec![
                "manifest.json".to_string(),
                format!("binary/{b0}"),
                format!("binary/{b1}"),
                format!("binary/{other}"),
            ];
            names.sort();
            names
        },
        "the manifest and the selected data, nothing else"
    );
    assert!(files[&format!("binary/{b0}")] == big, "the payload's bytes");
    assert_eq!(files[&format!("binary/{other}")], b"cloud");

    let m: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    assert_eq!(m["format"], "fleetsh-sequence-export/1");
    assert_eq!(m["job_id"], job.as_str());
    assert_eq!(m["dataset"]["id"], clips.as_str());
    assert_eq!(m["dataset"]["name"], "clips");
    assert_eq!(m["dataset"]["organization_id"], f.org.as_str());
    let seqs = m["sequences"].as_array().unwrap();
    assert_eq!(seqs.len(), 2);
    assert_eq!(seqs[0]["id"], s1.as_str());
    assert_eq!(seqs[0]["binary_data_ids"], serde_json::json!([b0, b1]));
    assert_eq!(seqs[0]["resources"][0]["resource_name"], "cam");
    assert_eq!(seqs[0]["start_time"], "2023-11-14T22:13:20Z");
    assert_eq!(seqs[1]["binary_data_ids"], serde_json::json!([other]));
    let meta = m["binary_data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["binary_data_id"] == b0.as_str())
        .unwrap();
    assert_eq!(meta["path"], format!("binary/{b0}"));
    assert_eq!(meta["size"], big.len());
    assert_eq!(meta["mime_type"], "image/jpeg");
    assert_eq!(meta["component_name"], "cam");
    assert_eq!(meta["tags"], serde_json::json!(["day"]));
    assert_eq!(meta["time_requested"], "2023-11-14T22:13:20Z");

    // The archive lives under a server-made name in the data dir.
    let names: Vec<String> = std::fs::read_dir(exports_dir(&f.s))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, [format!("{job}.tar")]);

    // Each Get gives a fresh URL; a binary datum deleted since stays in the snapshot.
    f.data
        .delete_binary_data_by_i_ds(DeleteBinaryDataByIDsRequest {
            binary_data_ids: vec![b1.clone()],
            ..Default::default()
        })
        .await
        .unwrap();
    let again = status(&mut f.ds, &job).await.unwrap();
    assert_ne!(again.download_url, done.download_url);
    let (code, _, body) = fetch(&again.download_url).await;
    assert_eq!(code, 200);
    assert_eq!(entries(&body)[&format!("binary/{b1}")], b"frame-1");
}

#[tokio::test]
async fn an_empty_sequence_dataset_exports_a_manifest_only() {
    let mut f = fleet().await;
    let empty = dataset(&mut f.ds, &f.org, "empty", DatasetType::SequenceData).await;
    let job = start(&mut f.ds, &empty).await.unwrap();
    let done = finished(&mut f.ds, &job).await;
    assert_eq!(done.status, SequenceDatasetExportStatus::Completed as i32);
    let files = entries(&fetch(&done.download_url).await.2);
    assert_eq!(files.keys().collect::<Vec<_>>(), ["manifest.json"]);
    let m: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    assert_eq!(m["sequences"], serde_json::json!([]));
}

#[tokio::test]
async fn an_export_url_expires_on_the_fleet_clock_and_a_new_get_signs_a_new_one() {
    let mut f = fleet().await;
    capture(&mut f, "cam", "GetImages", 0, b"frame").await;
    let s1 = sequence(&mut f, "cam", 50).await;
    let clips = dataset(&mut f.ds, &f.org, "clips", DatasetType::SequenceData).await;
    add(&mut f, &clips, &[&s1]).await;
    let job = start(&mut f.ds, &clips).await.unwrap();
    let done = finished(&mut f.ds, &job).await;
    assert_eq!(fetch(&done.download_url).await.0, 200);

    let sixteen_minutes = 16 * 60 * 1_000_000_000;
    f.s.fleet
        .api
        .store
        .tx(|tx| fleetsh::server::clock::advance(tx, sixteen_minutes))
        .unwrap();
    let (code, _, body) = fetch(&done.download_url).await;
    assert_eq!(code, 403, "expired on the fleet's clock");
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains("get_sequence_dataset_export"), "{text}");
    let renewed = status(&mut f.ds, &job).await.unwrap();
    assert_eq!(
        renewed.status,
        SequenceDatasetExportStatus::Completed as i32
    );
    assert_eq!(fetch(&renewed.download_url).await.0, 200);
}

#[tokio::test]
async fn jobs_survive_a_restart_and_a_job_cut_short_reads_failed_saying_to_start_again() {
    let mut f = fleet().await;
    capture(&mut f, "cam", "GetImages", 0, b"frame").await;
    let s1 = sequence(&mut f, "cam", 50).await;
    let clips = dataset(&mut f.ds, &f.org, "clips", DatasetType::SequenceData).await;
    add(&mut f, &clips, &[&s1]).await;
    let job = start(&mut f.ds, &clips).await.unwrap();
    finished(&mut f.ds, &job).await;
    // A job the fleet was building when it died: RUNNING in the database, its builder gone.
    let cut = uuid::Uuid::now_v7().to_string();
    f.s.fleet
        .api
        .store
        .tx(|tx| {
            tx.execute(
                "INSERT INTO sequence_exports(id, org_id, dataset_id, status, error_message,
                     created_at, completed_at, size)
                 VALUES (?1, ?2, ?3, 1, '', 0, NULL, 0)",
                [&cut, &f.org, &clips],
            )?;
            Ok(())
        })
        .unwrap();
    std::fs::write(exports_dir(&f.s).join(format!("{cut}.tar.part")), b"half").unwrap();

    // One the fleet stops before anyone reads how it ended.
    let unread = start(&mut f.ds, &clips).await.unwrap();

    let TestServer { fleet, dir, .. } = f.s;
    fleet.stop().await.unwrap();
    let s = TestServer::start_in(dir, |_| {}).await;
    let c = s.fleet.credentials.clone();
    let token = s.token(&c.api_key_id, &c.api_key).await.unwrap();
    let mut ds = datasets_client(&s.channel, &token);

    let kept = status(&mut ds, &job).await.unwrap();
    assert_eq!(kept.status, SequenceDatasetExportStatus::Completed as i32);
    let base = format!("{}/signed-url/", s.fleet.credentials.address);
    assert!(
        kept.download_url.starts_with(&base),
        "{}",
        kept.download_url
    );
    let (code, _, body) = fetch(&kept.download_url).await;
    assert_eq!(code, 200);
    assert_eq!(entries(&body).len(), 2, "manifest and one frame");

    assert_eq!(
        finished(&mut ds, &unread).await.status,
        SequenceDatasetExportStatus::Completed as i32
    );

    let failed = status(&mut ds, &cut).await.unwrap();
    assert_eq!(failed.status, SequenceDatasetExportStatus::Failed as i32);
    assert!(
        failed.error_message.contains("start it again"),
        "{}",
        failed.error_message
    );
    assert!(failed.completed_at.is_some() && failed.download_url.is_empty());
    assert!(
        !exports_dir(&s).join(format!("{cut}.tar.part")).exists(),
        "what it left behind is removed"
    );
    // It stays FAILED.
    let again = status(&mut ds, &cut).await.unwrap();
    assert_eq!(again.status, SequenceDatasetExportStatus::Failed as i32);
}

#[tokio::test]
async fn deleting_the_dataset_takes_its_exports_and_their_archives() {
    let mut f = fleet().await;
    let clips = dataset(&mut f.ds, &f.org, "clips", DatasetType::SequenceData).await;
    let job = start(&mut f.ds, &clips).await.unwrap();
    let done = finished(&mut f.ds, &job).await;
    assert!(exports_dir(&f.s).join(format!("{job}.tar")).exists());
    f.ds.delete_dataset(DeleteDatasetRequest { id: clips })
        .await
        .unwrap();
    assert_status(status(&mut f.ds, &job).await, Code::NotFound, &job);
    assert!(!exports_dir(&f.s).join(format!("{job}.tar")).exists());
    assert_eq!(fetch(&done.download_url).await.0, 403, "its URL went too");
}

#[tokio::test]
async fn deleting_the_organization_takes_its_export_archives() {
    use fleetsh::proto::viam::app::v1::DeleteOrganizationRequest;
    let mut f = fleet().await;
    let org = f
        .app
        .create_organization(CreateOrganizationRequest {
            name: "short-lived".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap()
        .id;
    let clips = dataset(&mut f.ds, &org, "clips", DatasetType::SequenceData).await;
    let job = start(&mut f.ds, &clips).await.unwrap();
    finished(&mut f.ds, &job).await;
    let archive = exports_dir(&f.s).join(format!("{job}.tar"));
    assert!(archive.exists());
    f.app
        .delete_organization(DeleteOrganizationRequest {
            organization_id: org,
        })
        .await
        .unwrap();
    assert_status(status(&mut f.ds, &job).await, Code::NotFound, &job);
    assert!(!archive.exists(), "the archive went with its organization");
}

async fn datasets_as(f: &mut Fleet, g: Authorization) -> Datasets {
    datasets_client(&f.s.channel, &token_with(&mut f.app, &f.s, g).await)
}

#[tokio::test]
async fn only_sequence_datasets_export_and_only_for_readers_of_the_whole_organization() {
    let mut f = fleet().await;
    let frames = dataset(&mut f.ds, &f.org, "frames", DatasetType::BinaryData).await;
    assert_status(
        start(&mut f.ds, &frames).await,
        Code::FailedPrecondition,
        "DATASET_TYPE_SEQUENCE_DATA",
    );
    assert_status(
        start(&mut f.ds, "").await,
        Code::InvalidArgument,
        "dataset_id",
    );
    let unknown = uuid::Uuid::now_v7().to_string();
    assert_status(start(&mut f.ds, &unknown).await, Code::NotFound, &unknown);
    assert_status(status(&mut f.ds, "").await, Code::InvalidArgument, "job_id");
    assert_status(
        status(&mut f.ds, "../fleet.db").await,
        Code::NotFound,
        "../fleet.db",
    );
    assert_status(status(&mut f.ds, &unknown).await, Code::NotFound, &unknown);

    let clips = dataset(&mut f.ds, &f.org, "clips", DatasetType::SequenceData).await;
    let job = start(&mut f.ds, &clips).await.unwrap();
    finished(&mut f.ds, &job).await;

    let other_org = f
        .app
        .create_organization(CreateOrganizationRequest { name: "B".into() })
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap()
        .id;
    let mut b = datasets_as(
        &mut f,
        grant(&other_org, "organization", &other_org, "owner"),
    )
    .await;
    assert_status(start(&mut b, &clips).await, Code::PermissionDenied, &f.org);
    assert_status(status(&mut b, &job).await, Code::PermissionDenied, &f.org);
    // A location's owner sees only part of the organization's data: refused.
    let loc = f.s.fleet.credentials.location_id.clone();
    let org = f.org.clone();
    let mut l = datasets_as(&mut f, grant(&org, "location", &loc, "owner")).await;
    assert_status(start(&mut l, &clips).await, Code::PermissionDenied, &f.org);
    assert_status(status(&mut l, &job).await, Code::PermissionDenied, &f.org);
    // An operator of the organization reads its data: allowed.
    let mut op = datasets_as(&mut f, grant(&org, "organization", &org, "operator")).await;
    let theirs = start(&mut op, &clips).await.unwrap();
    assert_eq!(
        finished(&mut op, &theirs).await.status,
        SequenceDatasetExportStatus::Completed as i32
    );
    assert_eq!(
        status(&mut op, &job).await.unwrap().status,
        SequenceDatasetExportStatus::Completed as i32
    );
}

#[tokio::test]
async fn types_declare_the_export_functions_and_the_reply_they_return() {
    use crate::lua::{args, assert_exit, fleetsh, text};
    let out = fleetsh(args(&["types"]), None).await;
    assert_exit(&out, 0);
    let defs = text(&out.stdout);
    for spot in [
        "---@param dataset_id string\n---@return string job_id\n",
        "function cloud.data.start_sequence_dataset_export(dataset_id) end",
        "---@param job_id string\n---@return cloud.GetSequenceDatasetExportResponse export\n",
        "function cloud.data.get_sequence_dataset_export(job_id) end",
        "---@class cloud.GetSequenceDatasetExportResponse\n",
        "---@field download_url string",
    ] {
        assert!(defs.contains(spot), "{spot:?} missing from the definitions");
    }
}
