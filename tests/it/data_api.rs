//! Captured data (issue 12): uploads as a part and as a key, queries by filter, latest, export,
//! SQL and MQL with their results checked, deletion by age, binary data by ids and filter with
//! its bytes, tags and boxes, `../` in names and ids, and who may do what.
// Upstream deprecates RPCs (TabularDataByFilter, TagsByFilter) that the SDK still calls.
#![allow(deprecated)]

use bson::{Bson, Document, doc};
use fleetsh::proto::rpc::v1::auth_service_client::AuthServiceClient;
use fleetsh::proto::rpc::v1::{AuthenticateRequest, Credentials as RpcCredentials};
use fleetsh::proto::viam::app::data::v1::CaptureInterval;
use fleetsh::proto::viam::app::data::v1::data_service_client::DataServiceClient;
use fleetsh::proto::viam::app::data::v1::*;
use fleetsh::proto::viam::app::datasync::v1::data_sync_service_client::DataSyncServiceClient;
use fleetsh::proto::viam::app::datasync::v1::*;
use fleetsh::proto::viam::app::v1::{
    CreateKeyRequest, GetRobotPartRequest, GetRobotPartsRequest, NewRobotRequest,
};
use prost_types::{Struct, Timestamp, Value, value::Kind};
use tokio_stream::StreamExt;
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::harness::{App, Bearer, TestServer, assert_status};

pub type Data = DataServiceClient<InterceptedService<Channel, Bearer>>;
pub type Sync = DataSyncServiceClient<InterceptedService<Channel, Bearer>>;

fn bearer(token: &str) -> Bearer {
    Bearer(Some(format!("Bearer {token}").parse().unwrap()))
}

pub fn data_client(channel: &Channel, token: &str) -> Data {
    DataServiceClient::with_interceptor(channel.clone(), bearer(token))
        .max_decoding_message_size(usize::MAX)
}

pub fn sync_client(channel: &Channel, token: &str) -> Sync {
    DataSyncServiceClient::with_interceptor(channel.clone(), bearer(token))
        .max_encoding_message_size(usize::MAX)
}

/// A new machine in the fleet's location; its main part's id.
pub async fn new_part(app: &mut App, location: &str, name: &str) -> String {
    let robot = app
        .new_robot(NewRobotRequest {
            name: name.into(),
            location: location.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .id;
    app.get_robot_parts(GetRobotPartsRequest { robot_id: robot })
        .await
        .unwrap()
        .into_inner()
        .parts[0]
        .id
        .clone()
}

fn reading(temp: f64) -> Struct {
    let num = |n: f64| Value {
        kind: Some(Kind::NumberValue(n)),
    };
    let inner = Struct {
        fields: [("temp".to_string(), num(temp))].into(),
    };
    Struct {
        fields: [(
            "readings".to_string(),
            Value {
                kind: Some(Kind::StructValue(inner)),
            },
        )]
        .into(),
    }
}

fn ts(seconds: i64) -> Timestamp {
    Timestamp { seconds, nanos: 0 }
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Readings of `sensor` on `part`, one per (seconds, temp).
pub fn readings_upload(
    part: &str,
    sensor: &str,
    points: &[(i64, f64)],
) -> DataCaptureUploadRequest {
    DataCaptureUploadRequest {
        metadata: Some(UploadMetadata {
            part_id: part.into(),
            component_type: "rdk:component:sensor".into(),
            component_name: sensor.into(),
            method_name: "Readings".into(),
            r#type: DataType::TabularSensor as i32,
            tags: vec!["lab".into()],
            ..Default::default()
        }),
        sensor_contents: points
            .iter()
            .map(|(t, temp)| SensorData {
                metadata: Some(SensorMetadata {
                    time_requested: Some(ts(*t)),
                    time_received: Some(ts(*t + 1)),
                    ..Default::default()
                }),
                data: Some(sensor_data::Data::Struct(reading(*temp))),
            })
            .collect(),
    }
}

fn temp_of(s: &Struct) -> f64 {
    let Some(Kind::StructValue(r)) = &s.fields["readings"].kind else {
        panic!("no readings in {s:?}")
    };
    match r.fields["temp"].kind {
        Some(Kind::NumberValue(n)) => n,
        ref k => panic!("temp is {k:?}"),
    }
}

fn decode(raw: &[Vec<u8>]) -> Vec<Document> {
    raw.iter()
        .map(|b| Document::from_reader(b.as_slice()).unwrap())
        .collect()
}

async fn sql(data: &mut Data, org: &str, q: &str) -> Result<Vec<Document>, tonic::Status> {
    let r = data
        .tabular_data_by_sql(TabularDataBySqlRequest {
            organization_id: org.into(),
            sql_query: q.into(),
        })
        .await?;
    Ok(decode(&r.into_inner().raw_data))
}

async fn mql(
    data: &mut Data,
    org: &str,
    stages: &[Document],
) -> Result<Vec<Document>, tonic::Status> {
    let r = data
        .tabular_data_by_mql(TabularDataByMqlRequest {
            organization_id: org.into(),
            mql_binary: stages.iter().map(|d| d.to_vec().unwrap()).collect(),
            ..Default::default()
        })
        .await?;
    Ok(decode(&r.into_inner().raw_data))
}

struct Fleet {
    s: TestServer,
    app: App,
    data: Data,
    sync: Sync,
    org: String,
    part: String,
}

async fn fleet() -> Fleet {
    let s = TestServer::start().await;
    let c = s.fleet.credentials.clone();
    let token = s.token(&c.api_key_id, &c.api_key).await.unwrap();
    let mut app = s.owner().await;
    let part = new_part(&mut app, &c.location_id, "rover").await;
    Fleet {
        data: data_client(&s.channel, &token),
        sync: sync_client(&s.channel, &token),
        org: c.org_id.clone(),
        app,
        part,
        s,
    }
}

#[tokio::test]
async fn readings_uploaded_are_found_by_filter_latest_export_sql_and_mql_and_deleted_by_age() {
    let mut f = fleet().await;
    let now = now_secs();
    let old = now - 30 * 86_400;
    f.sync
        .data_capture_upload(readings_upload(
            &f.part,
            "temp",
            &[(old, 5.0), (now - 20, 21.5), (now - 10, 23.0)],
        ))
        .await
        .unwrap();
    f.sync
        .data_capture_upload(readings_upload(&f.part, "other", &[(now - 5, 99.0)]))
        .await
        .unwrap();

    // By filter, paged with the cursor.
    let filter = Filter {
        component_name: "temp".into(),
        ..Default::default()
    };
    let page = |last: String| TabularDataByFilterRequest {
        data_request: Some(DataRequest {
            filter: Some(filter.clone()),
            limit: 2,
            last,
            sort_order: Order::Ascending as i32,
        }),
        ..Default::default()
    };
    let first = f
        .data
        .tabular_data_by_filter(page(String::new()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.count, 3);
    let temps: Vec<f64> = first
        .data
        .iter()
        .map(|d| temp_of(d.data.as_ref().unwrap()))
        .collect();
    assert_eq!(temps, [5.0, 21.5]);
    let md = &first.metadata[first.data[0].metadata_index as usize];
    assert_eq!(
        (
            md.part_id.as_str(),
            md.robot_name.as_str(),
            md.organization_id.as_str()
        ),
        (f.part.as_str(), "rover", f.org.as_str())
    );
    assert_eq!(md.tags, ["lab"]);
    let second = f
        .data
        .tabular_data_by_filter(page(first.last))
        .await
        .unwrap()
        .into_inner();
    let temps: Vec<f64> = second
        .data
        .iter()
        .map(|d| temp_of(d.data.as_ref().unwrap()))
        .collect();
    assert_eq!(temps, [23.0], "the second page continues after the first");

    // The latest reading of a source.
    let latest = f
        .data
        .get_latest_tabular_data(GetLatestTabularDataRequest {
            part_id: f.part.clone(),
            resource_name: "temp".into(),
            resource_subtype: "rdk:component:sensor".into(),
            method_name: "Readings".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(temp_of(latest.payload.as_ref().unwrap()), 23.0);
    assert_eq!(latest.time_captured.unwrap().seconds, now - 10);

    // The export, streamed, within an interval.
    let mut stream = f
        .data
        .export_tabular_data(ExportTabularDataRequest {
            part_id: f.part.clone(),
            resource_name: "temp".into(),
            interval: Some(CaptureInterval {
                start: Some(ts(now - 3600)),
                end: None,
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut exported = Vec::new();
    while let Some(item) = stream.next().await {
        let item = item.unwrap();
        assert_eq!(item.robot_name, "rover");
        exported.push(temp_of(item.payload.as_ref().unwrap()));
    }
    assert_eq!(exported, [21.5, 23.0]);

    // SQL over the readings view, with dotted JSON access and dates coming back as dates.
    let rows = sql(
        &mut f.data,
        &f.org,
        "SELECT component_name, data.readings.temp AS t, time_requested, tags, data
         FROM readings WHERE component_name = 'temp' ORDER BY t DESC",
    )
    .await
    .unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0].get_f64("t").unwrap(), 23.0);
    assert!(
        matches!(rows[0].get("time_requested"), Some(Bson::DateTime(_))),
        "{:?}",
        rows[0]
    );
    assert_eq!(
        rows[0].get_array("tags").unwrap(),
        &vec![Bson::String("lab".into())]
    );
    assert_eq!(
        rows[0]
            .get_document("data")
            .unwrap()
            .get_document("readings")
            .unwrap()
            .get_f64("temp")
            .unwrap(),
        23.0
    );
    let n = sql(&mut f.data, &f.org, "SELECT COUNT(*) AS n FROM readings")
        .await
        .unwrap();
    assert_eq!(n[0].get_i64("n").unwrap(), 4);

    // MQL: match, group, sort.
    let rows = mql(
        &mut f.data,
        &f.org,
        &[
            doc! {"$match": {"data.readings.temp": {"$gt": 10}}},
            doc! {"$group": {"_id": "$component_name", "n": {"$sum": 1}, "max": {"$max": "$data.readings.temp"}}},
            doc! {"$sort": {"_id": 1}},
        ],
    )
    .await
    .unwrap();
    assert_eq!(
        rows,
        vec![
            doc! {"_id": "other", "n": 1_i64, "max": 99.0},
            doc! {"_id": "temp", "n": 2_i64, "max": 23.0}
        ]
    );
    let e = mql(&mut f.data, &f.org, &[doc! {"$lookup": {"from": "x"}}])
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("$lookup"), "{}", e.message());

    // Delete what is older than a week: only the 30-day-old reading.
    let deleted = f
        .data
        .delete_tabular_data(DeleteTabularDataRequest {
            organization_id: f.org.clone(),
            delete_older_than_days: 7,
            filter: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(deleted.deleted_count, 1);
    let n = sql(
        &mut f.data,
        &f.org,
        "SELECT MIN(data ->> '$.readings.temp') AS lo, COUNT(*) AS n FROM readings",
    )
    .await
    .unwrap();
    assert_eq!(
        (n[0].get_f64("lo").unwrap(), n[0].get_i64("n").unwrap()),
        (21.5, 3)
    );
}

#[tokio::test]
async fn sql_can_neither_write_nor_read_other_tables_nor_another_organization() {
    let mut f = fleet().await;
    f.sync
        .data_capture_upload(readings_upload(&f.part, "temp", &[(now_secs(), 1.0)]))
        .await
        .unwrap();
    for q in [
        "DELETE FROM data_readings",
        "SELECT * FROM api_keys",
        "SELECT * FROM main.data_readings",
        "INSERT INTO readings(data) VALUES ('{}')",
        "PRAGMA table_info(api_keys)",
        "ATTACH DATABASE '/tmp/x.db' AS x",
        "SELECT 1; DELETE FROM data_readings",
    ] {
        let e = sql(&mut f.data, &f.org, q).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{q}: {e:?}");
        assert!(
            e.message().starts_with("sql_query: "),
            "{q}: {}",
            e.message()
        );
    }
    let n = sql(&mut f.data, &f.org, "SELECT COUNT(*) AS n FROM readings")
        .await
        .unwrap();
    assert_eq!(n[0].get_i64("n").unwrap(), 1, "nothing was deleted");

    // Another organization's owner: refused for this organization, and its own sees nothing.
    let other = f
        .app
        .create_organization(fleetsh::proto::viam::app::v1::CreateOrganizationRequest {
            name: "B".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap()
        .id;
    let key = f
        .app
        .create_key(CreateKeyRequest {
            authorizations: vec![fleetsh::proto::viam::app::v1::Authorization {
                authorization_type: "role".into(),
                authorization_id: "organization_owner".into(),
                resource_type: "organization".into(),
                resource_id: other.clone(),
                organization_id: other.clone(),
                identity_type: "api-key".into(),
                ..Default::default()
            }],
            name: "b-owner".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let token = f.s.token(&key.id, &key.key).await.unwrap();
    let mut b = data_client(&f.s.channel, &token);
    assert_status(
        sql(&mut b, &f.org, "SELECT * FROM readings").await,
        Code::PermissionDenied,
        "permission denied",
    );
    assert!(
        sql(&mut b, &other, "SELECT * FROM readings")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(mql(&mut b, &other, &[]).await.unwrap().is_empty());
}

/// A FileUpload of `data` in chunks of `chunk` bytes.
fn file_upload(
    part: &str,
    name: &str,
    ext: &str,
    data: &[u8],
    chunk: usize,
) -> Vec<FileUploadRequest> {
    let meta = FileUploadRequest {
        upload_packet: Some(file_upload_request::UploadPacket::Metadata(
            UploadMetadata {
                part_id: part.into(),
                component_name: "cam".into(),
                r#type: DataType::File as i32,
                file_name: name.into(),
                file_extension: ext.into(),
                tags: vec!["raw".into()],
                ..Default::default()
            },
        )),
    };
    std::iter::once(meta)
        .chain(data.chunks(chunk).map(|c| FileUploadRequest {
            upload_packet: Some(file_upload_request::UploadPacket::FileContents(FileData {
                data: c.to_vec(),
            })),
        }))
        .collect()
}

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect()
}

#[tokio::test]
async fn binary_data_streams_to_server_named_files_and_comes_back_by_id_and_filter() {
    let mut f = fleet().await;
    let payload: Vec<u8> = (0..3 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let before = files_under(f.s.dir.path());
    // A name and extension that would escape the data directory if they became a path.
    let up = file_upload(&f.part, "../../../escaped", "/../../x", &payload, 64 * 1024);
    let id = f
        .sync
        .file_upload(tokio_stream::iter(up))
        .await
        .unwrap()
        .into_inner()
        .binary_data_id;
    let added: Vec<_> = files_under(f.s.dir.path())
        .into_iter()
        .filter(|p| !before.contains(p) && !p.to_string_lossy().contains("fleet.db"))
        .collect();
    let expected = f.s.dir.path().join("data").join("binary").join(&id);
    assert_eq!(
        added,
        vec![expected.clone()],
        "the payload is one file named by its id"
    );
    assert_eq!(std::fs::read(&expected).unwrap(), payload);
    assert!(!f.s.dir.path().parent().unwrap().join("escaped").exists());

    let by_id = |ids: Vec<String>, include_binary| BinaryDataByIDsRequest {
        binary_data_ids: ids,
        include_binary,
        ..Default::default()
    };
    let got = f
        .data
        .binary_data_by_i_ds(by_id(vec![id.clone()], true))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.data[0].binary, payload);
    let meta = got.data[0].metadata.as_ref().unwrap();
    assert_eq!(
        (meta.file_name.as_str(), meta.file_ext.as_str()),
        ("../../../escaped", "/../../x")
    );
    assert_eq!(meta.file_size_bytes, payload.len() as u64);
    let got = f
        .data
        .binary_data_by_i_ds(by_id(vec![id.clone()], false))
        .await
        .unwrap()
        .into_inner();
    assert!(got.data[0].binary.is_empty());
    for bad in [
        "../fleet.db",
        "../../etc/passwd",
        &format!("{id}/../../fleet.db"),
    ] {
        assert_status(
            f.data
                .binary_data_by_i_ds(by_id(vec![bad.to_string()], true))
                .await,
            Code::NotFound,
            "not found",
        );
    }

    // A binary capture as well, then paging by filter one at a time.
    let cap = DataCaptureUploadRequest {
        metadata: Some(UploadMetadata {
            part_id: f.part.clone(),
            component_name: "cam".into(),
            r#type: DataType::BinarySensor as i32,
            mime_type: "image/jpeg".into(),
            file_extension: ".jpg".into(),
            ..Default::default()
        }),
        sensor_contents: vec![SensorData {
            metadata: None,
            data: Some(sensor_data::Data::Binary(b"jpeg bytes".to_vec())),
        }],
    };
    let jpg = f
        .sync
        .data_capture_upload(cap)
        .await
        .unwrap()
        .into_inner()
        .binary_data_id;
    let page = |last: String, mime: Vec<String>| BinaryDataByFilterRequest {
        data_request: Some(DataRequest {
            filter: Some(Filter {
                component_name: "cam".into(),
                mime_type: mime,
                ..Default::default()
            }),
            limit: 1,
            last,
            sort_order: Order::Ascending as i32,
        }),
        include_binary: true,
        ..Default::default()
    };
    let p1 = f
        .data
        .binary_data_by_filter(page(String::new(), vec![]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((p1.count, p1.data.len()), (2, 1));
    let p2 = f
        .data
        .binary_data_by_filter(page(p1.last.clone(), vec![]))
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<_> = [&p1, &p2]
        .iter()
        .map(|p| p.data[0].metadata.as_ref().unwrap().binary_data_id.clone())
        .collect();
    assert_eq!(ids, [id.clone(), jpg.clone()]);
    assert_eq!(p2.data[0].binary, b"jpeg bytes");
    let jpegs = f
        .data
        .binary_data_by_filter(page(String::new(), vec!["image/jpeg".into()]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(jpegs.count, 1);

    // Tags and bounding boxes.
    f.data
        .add_tags_to_binary_data_by_i_ds(AddTagsToBinaryDataByIDsRequest {
            binary_data_ids: vec![jpg.clone()],
            tags: vec!["cat".into(), "dog".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    let removed = f
        .data
        .remove_tags_from_binary_data_by_i_ds(RemoveTagsFromBinaryDataByIDsRequest {
            binary_data_ids: vec![jpg.clone()],
            tags: vec!["dog".into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(removed.deleted_count, 1);
    let tags = f
        .data
        .tags_by_filter(TagsByFilterRequest { filter: None })
        .await
        .unwrap()
        .into_inner()
        .tags;
    assert_eq!(tags, ["cat", "raw"]);
    let bbox = f
        .data
        .add_bounding_box_to_image_by_id(AddBoundingBoxToImageByIdRequest {
            binary_data_id: jpg.clone(),
            label: "cat".into(),
            x_min_normalized: 0.1,
            y_min_normalized: 0.1,
            x_max_normalized: 0.5,
            y_max_normalized: 0.6,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .bbox_id;
    let labels = f
        .data
        .bounding_box_labels_by_filter(BoundingBoxLabelsByFilterRequest { filter: None })
        .await
        .unwrap()
        .into_inner()
        .labels;
    assert_eq!(labels, ["cat"]);
    let got = f
        .data
        .binary_data_by_i_ds(by_id(vec![jpg.clone()], false))
        .await
        .unwrap()
        .into_inner();
    let ann = got.data[0]
        .metadata
        .as_ref()
        .unwrap()
        .annotations
        .clone()
        .unwrap();
    assert_eq!(
        (ann.bboxes[0].id.as_str(), ann.bboxes[0].x_max_normalized),
        (bbox.as_str(), 0.5)
    );
    assert_status(
        f.data
            .add_bounding_box_to_image_by_id(AddBoundingBoxToImageByIdRequest {
                binary_data_id: jpg.clone(),
                label: "x".into(),
                x_min_normalized: 0.6,
                x_max_normalized: 0.5,
                y_max_normalized: 1.0,
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "x_min < x_max",
    );

    // Deletion removes rows and files.
    let n = f
        .data
        .delete_binary_data_by_i_ds(DeleteBinaryDataByIDsRequest {
            binary_data_ids: vec![id.clone()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .deleted_count;
    assert_eq!(n, 1);
    assert!(!expected.exists(), "the payload file went with its row");
    let n = f
        .data
        .delete_binary_data_by_filter(DeleteBinaryDataByFilterRequest {
            filter: None,
            include_internal_data: false,
        })
        .await
        .unwrap()
        .into_inner()
        .deleted_count;
    assert_eq!(n, 1);
    let left: Vec<_> = files_under(&f.s.dir.path().join("data"))
        .into_iter()
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

async fn part_token(s: &TestServer, app: &mut App, part_id: &str) -> String {
    let part = app
        .get_robot_part(GetRobotPartRequest { id: part_id.into() })
        .await
        .unwrap()
        .into_inner()
        .part
        .unwrap();
    AuthServiceClient::new(s.channel.clone())
        .authenticate(AuthenticateRequest {
            entity: part_id.into(),
            credentials: Some(RpcCredentials {
                r#type: "robot-secret".into(),
                payload: part.secret,
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .access_token
}

#[tokio::test]
async fn a_part_uploads_its_own_data_only_and_reads_none() {
    let mut f = fleet().await;
    let loc = f.s.location_id().to_string();
    let other = new_part(&mut f.app, &loc, "other").await;
    let token = part_token(&f.s, &mut f.app, &f.part).await;
    let mut sync = sync_client(&f.s.channel, &token);
    sync.data_capture_upload(readings_upload(&f.part, "temp", &[(now_secs(), 1.0)]))
        .await
        .unwrap();
    assert_status(
        sync.data_capture_upload(readings_upload(&other, "temp", &[(now_secs(), 1.0)]))
            .await,
        Code::PermissionDenied,
        "only upload its own data",
    );
    let up = file_upload(&other, "f", "", b"x", 1);
    assert_status(
        sync.file_upload(tokio_stream::iter(up)).await,
        Code::PermissionDenied,
        "own data",
    );
    let mut data = data_client(&f.s.channel, &token);
    assert_status(
        data.tabular_data_by_filter(TabularDataByFilterRequest::default())
            .await,
        Code::PermissionDenied,
        "read_robot_data_management",
    );
    // The owner sees the part's one reading.
    let n = sql(
        &mut f.data,
        &f.org,
        "SELECT part_name, robot_name FROM readings",
    )
    .await
    .unwrap();
    assert_eq!(
        n,
        vec![doc! {"part_name": "rover-main", "robot_name": "rover"}]
    );
}

#[tokio::test]
async fn bad_uploads_are_refused_by_field() {
    let mut f = fleet().await;
    let mut empty = readings_upload(&f.part, "temp", &[]);
    assert_status(
        f.sync.data_capture_upload(empty.clone()).await,
        Code::InvalidArgument,
        "sensor_contents",
    );
    empty.metadata.as_mut().unwrap().part_id = String::new();
    empty.sensor_contents = readings_upload(&f.part, "t", &[(1, 1.0)]).sensor_contents;
    assert_status(
        f.sync.data_capture_upload(empty).await,
        Code::InvalidArgument,
        "metadata.part_id",
    );
    let contents_first: Vec<FileUploadRequest> = file_upload(&f.part, "f", "", b"abc", 1)
        .into_iter()
        .skip(1)
        .collect();
    assert_status(
        f.sync.file_upload(tokio_stream::iter(contents_first)).await,
        Code::InvalidArgument,
        "metadata",
    );
    let up = file_upload("no-such-part", "f", "", b"abc", 1);
    assert_status(
        f.sync.file_upload(tokio_stream::iter(up)).await,
        Code::NotFound,
        "no-such-part",
    );
    // Nothing half-written stays behind.
    assert!(files_under(&f.s.dir.path().join("data")).is_empty());
}

#[tokio::test]
async fn acknowledged_uploads_survive_kill_9() {
    use crate::serve_proc::Serve;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("fleet");
    let log = tmp.path().join("serve.log");
    let listen = format!("127.0.0.1:{}", crate::harness::free_port());
    let mut serve = Serve::spawn(&dir, &listen, "warn", &[], &log);
    let connect =
        |addr: String| async move { Channel::from_shared(addr).unwrap().connect().await.unwrap() };
    let channel = connect(serve.creds.address.clone()).await;
    let token = serve.token().await;
    let mut app = serve.owner().await;
    let part = new_part(&mut app, &serve.creds.location_id, "rover").await;
    let mut sync = sync_client(&channel, &token);
    let now = now_secs();
    for i in 0..20 {
        sync.data_capture_upload(readings_upload(&part, "temp", &[(now - i, i as f64)]))
            .await
            .unwrap();
    }
    let payload = vec![7u8; 200_000];
    let id = sync
        .file_upload(tokio_stream::iter(file_upload(
            &part, "f", ".bin", &payload, 10_000,
        )))
        .await
        .unwrap()
        .into_inner()
        .binary_data_id;
    serve.kill();
    let serve = Serve::spawn(&dir, &listen, "warn", &[], &log);
    let channel = connect(serve.creds.address.clone()).await;
    let mut data = data_client(&channel, &serve.token().await);
    let n = sql(
        &mut data,
        &serve.creds.org_id,
        "SELECT COUNT(*) AS n FROM readings",
    )
    .await
    .unwrap();
    assert_eq!(
        n[0].get_i64("n").unwrap(),
        20,
        "acknowledged readings were lost"
    );
    let got = data
        .binary_data_by_i_ds(BinaryDataByIDsRequest {
            binary_data_ids: vec![id],
            include_binary: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.data[0].binary, payload);
}

#[tokio::test]
async fn operators_read_data_but_neither_delete_nor_tag_it() {
    let mut f = fleet().await;
    f.sync
        .data_capture_upload(readings_upload(&f.part, "temp", &[(now_secs(), 1.0)]))
        .await
        .unwrap();
    let key = f
        .app
        .create_key(CreateKeyRequest {
            authorizations: vec![fleetsh::proto::viam::app::v1::Authorization {
                authorization_type: "role".into(),
                authorization_id: "organization_operator".into(),
                resource_type: "organization".into(),
                resource_id: f.org.clone(),
                organization_id: f.org.clone(),
                identity_type: "api-key".into(),
                ..Default::default()
            }],
            name: "operator".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let token = f.s.token(&key.id, &key.key).await.unwrap();
    let mut op = data_client(&f.s.channel, &token);
    let n = sql(&mut op, &f.org, "SELECT COUNT(*) AS n FROM readings")
        .await
        .unwrap();
    assert_eq!(n[0].get_i64("n").unwrap(), 1);
    assert_status(
        op.delete_tabular_data(DeleteTabularDataRequest {
            organization_id: f.org.clone(),
            delete_older_than_days: 0,
            filter: None,
        })
        .await,
        Code::PermissionDenied,
        "write_data_management",
    );
    assert_status(
        op.add_tags_to_binary_data_by_filter(AddTagsToBinaryDataByFilterRequest {
            filter: None,
            tags: vec!["x".into()],
        })
        .await,
        Code::PermissionDenied,
        "write_data_management",
    );
    let n = sql(&mut f.data, &f.org, "SELECT COUNT(*) AS n FROM readings")
        .await
        .unwrap();
    assert_eq!(
        n[0].get_i64("n").unwrap(),
        1,
        "the operator deleted a reading"
    );
}

#[tokio::test]
async fn the_database_connection_points_at_nothing_and_records_its_user() {
    let mut f = fleet().await;
    let get = GetDatabaseConnectionRequest {
        organization_id: f.org.clone(),
    };
    let c = f
        .data
        .get_database_connection(get.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            c.hostname.as_str(),
            c.mongodb_uri.as_str(),
            c.has_database_user
        ),
        ("", "", false)
    );
    let user = |password: &str| ConfigureDatabaseUserRequest {
        organization_id: f.org.clone(),
        password: password.into(),
    };
    assert_status(
        f.data.configure_database_user(user("short")).await,
        Code::InvalidArgument,
        "password",
    );
    f.data
        .configure_database_user(user("long enough"))
        .await
        .unwrap();
    let c = f
        .data
        .get_database_connection(get)
        .await
        .unwrap()
        .into_inner();
    assert!(c.has_database_user && c.mongodb_uri.is_empty());
}

#[tokio::test]
async fn a_deleted_organization_takes_its_payload_files_with_it() {
    use fleetsh::proto::viam::app::v1::{
        CreateLocationRequest, CreateOrganizationRequest, DeleteLocationRequest,
        DeleteOrganizationRequest, DeleteRobotRequest,
    };
    let f = fleet().await;
    let mut app = f.app;
    let org = app
        .create_organization(CreateOrganizationRequest {
            name: "short-lived".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap()
        .id;
    let location = app
        .create_location(CreateLocationRequest {
            organization_id: org.clone(),
            name: "bench".into(),
            parent_location_id: None,
        })
        .await
        .unwrap()
        .into_inner()
        .location
        .unwrap()
        .id;
    let part = new_part(&mut app, &location, "cam-rig").await;
    let mut sync = f.sync;
    let kept = sync
        .file_upload(tokio_stream::iter(file_upload(
            &f.part, "kept", ".bin", b"stays", 4,
        )))
        .await
        .unwrap()
        .into_inner()
        .binary_data_id;
    let gone = sync
        .file_upload(tokio_stream::iter(file_upload(
            &part, "img", ".png", b"goes", 4,
        )))
        .await
        .unwrap()
        .into_inner()
        .binary_data_id;
    let dir = f.s.dir.path().join("data").join("binary");
    assert!(dir.join(&gone).exists() && dir.join(&kept).exists());
    let robot = app
        .get_robot_part(GetRobotPartRequest { id: part })
        .await
        .unwrap()
        .into_inner()
        .part
        .unwrap()
        .robot;
    app.delete_robot(DeleteRobotRequest { id: robot })
        .await
        .unwrap();
    app.delete_location(DeleteLocationRequest {
        location_id: location,
    })
    .await
    .unwrap();
    app.delete_organization(DeleteOrganizationRequest {
        organization_id: org,
    })
    .await
    .unwrap();
    assert!(
        !dir.join(&gone).exists(),
        "the organization's payload is removed"
    );
    assert!(dir.join(&kept).exists(), "another organization's stays");
}
