//! Sequences (issue 12): a sequence selects its part's binary data of its resources within its
//! time span (the stored bytes and metadata, paged in capture order, and no longer what was
//! deleted); it is got, changed by field mask, listed, deleted; it goes into sequence datasets
//! (found by SequencesByDatasetID, named in its dataset_ids, kept by merges) and out of them
//! (by removal or by the dataset's deletion); another organization's key is refused, an
//! operator only reads, unknown ids are NOT_FOUND and missing fields INVALID_ARGUMENT. The Lua
//! functions run embedded and over a socket (tests/lua/sequences.lua).

use fleetsh::proto::viam::app::data::v1::*;
use fleetsh::proto::viam::app::dataset::v1::dataset_service_client::DatasetServiceClient;
use fleetsh::proto::viam::app::dataset::v1::*;
use fleetsh::proto::viam::app::datasync::v1::*;
use fleetsh::proto::viam::app::v1::{Authorization, CreateOrganizationRequest};
use prost_types::{FieldMask, Timestamp};
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::data_api::{Data, Sync, data_client, new_part, sync_client};
use crate::harness::{App, Bearer, TestServer, assert_status};
use crate::setup::{key_grant, token_with};

type Datasets = DatasetServiceClient<InterceptedService<Channel, Bearer>>;

/// Capture times of the uploads: seconds after T0.
const T0: i64 = 1_700_000_000;

fn at(s: i64) -> Option<Timestamp> {
    Some(Timestamp {
        seconds: T0 + s,
        nanos: 0,
    })
}

fn res(name: &str, method: &str) -> SequenceResourceFilter {
    SequenceResourceFilter {
        resource_name: name.into(),
        method_name: method.into(),
    }
}

struct Fleet {
    s: TestServer,
    app: App,
    data: Data,
    sync: Sync,
    ds: Datasets,
    org: String,
    part: String,
}

async fn fleet() -> Fleet {
    let s = TestServer::start().await;
    let c = s.fleet.credentials.clone();
    let token = s.token(&c.api_key_id, &c.api_key).await.unwrap();
    let mut app = s.owner().await;
    let part = new_part(&mut app, &c.location_id, "cam-bot").await;
    let b = Bearer(Some(format!("Bearer {token}").parse().unwrap()));
    Fleet {
        data: data_client(&s.channel, &token),
        sync: sync_client(&s.channel, &token),
        ds: DatasetServiceClient::with_interceptor(s.channel.clone(), b),
        org: c.org_id.clone(),
        app,
        part,
        s,
    }
}

/// Uploads `bytes` as `part`'s capture by `component`/`method` at T0 + `s`; its id.
async fn capture(
    sync: &mut Sync,
    part: &str,
    component: &str,
    method: &str,
    s: i64,
    bytes: &[u8],
) -> String {
    let req = DataCaptureUploadRequest {
        metadata: Some(UploadMetadata {
            part_id: part.into(),
            component_type: "rdk:component:camera".into(),
            component_name: component.into(),
            method_name: method.into(),
            r#type: DataType::BinarySensor as i32,
            mime_type: "image/jpeg".into(),
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
    sync.data_capture_upload(req)
        .await
        .unwrap()
        .into_inner()
        .binary_data_id
}

fn create_req(part: &str, resources: Vec<SequenceResourceFilter>) -> CreateSequenceRequest {
    CreateSequenceRequest {
        part_id: part.into(),
        resources,
        sequence_tags: vec!["run-b".into(), "run-a".into()],
        start_time: at(0),
        end_time: at(50),
    }
}

async fn create(data: &mut Data, req: CreateSequenceRequest) -> Result<String, tonic::Status> {
    Ok(data.create_sequence(req).await?.into_inner().id)
}

async fn get(data: &mut Data, id: &str) -> Result<Sequence, tonic::Status> {
    let r = data
        .get_sequence(GetSequenceRequest { id: id.into() })
        .await?;
    Ok(r.into_inner().sequence.unwrap())
}

/// The (id, bytes) of every binary a sequence selects, page by page of `page_size`; and how
/// many pages it took.
async fn frames(
    data: &mut Data,
    id: &str,
    page_size: u32,
) -> Result<(Vec<(String, Vec<u8>)>, usize), tonic::Status> {
    let (mut out, mut token, mut pages) = (Vec::new(), String::new(), 0);
    loop {
        let r = data
            .get_sequence_binary_data(GetSequenceBinaryDataRequest {
                sequence_id: id.into(),
                page_token: token.clone(),
                page_size,
            })
            .await?
            .into_inner();
        pages += 1;
        for d in r.data {
            out.push((d.metadata.unwrap().binary_data_id, d.binary));
        }
        if r.next_page_token.is_empty() {
            return Ok((out, pages));
        }
        token = r.next_page_token;
    }
}

fn mask(paths: &[&str]) -> Option<FieldMask> {
    Some(FieldMask {
        paths: paths.iter().map(|p| p.to_string()).collect(),
    })
}

#[tokio::test]
async fn a_sequence_pages_its_parts_data_of_its_resources_in_its_span_until_changed_or_deleted() {
    let mut f = fleet().await;
    let other_part = new_part(&mut f.app, f.s.location_id(), "other-bot").await;
    let sync = &mut f.sync;
    let f0 = capture(sync, &f.part, "cam", "GetImages", 0, b"frame-0").await;
    let f1 = capture(sync, &f.part, "cam", "GetImages", 10, b"frame-1").await;
    let pc = capture(sync, &f.part, "cam", "NextPointCloud", 20, b"cloud").await;
    let other_cam = capture(sync, &f.part, "cam2", "GetImages", 30, b"other").await;
    let late = capture(sync, &f.part, "cam", "GetImages", 100, b"late").await;
    let elsewhere = capture(sync, &other_part, "cam", "GetImages", 10, b"else").await;

    let id = create(
        &mut f.data,
        create_req(&f.part, vec![res("cam", "GetImages")]),
    )
    .await
    .unwrap();
    let s = get(&mut f.data, &id).await.unwrap();
    assert_eq!(s.id, id);
    assert_eq!(s.part_id, f.part);
    assert_eq!(s.sequence_tags, ["run-a", "run-b"]);
    assert_eq!((s.start_time, s.end_time), (at(0), at(50)));
    assert_eq!(s.resources, [res("cam", "GetImages")]);
    assert!(s.dataset_ids.is_empty());
    assert!(s.created_at.is_some() && s.created_at == s.updated_at);

    // The stored bytes of exactly the part's cam/GetImages captures in the span, in order.
    let want = vec![
        (f0.clone(), b"frame-0".to_vec()),
        (f1.clone(), b"frame-1".to_vec()),
    ];
    assert_eq!(
        frames(&mut f.data, &id, 0).await.unwrap(),
        (want.clone(), 1)
    );
    assert_eq!(frames(&mut f.data, &id, 1).await.unwrap(), (want, 2));
    let page = f
        .data
        .get_sequence_binary_data(GetSequenceBinaryDataRequest {
            sequence_id: id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let meta = page.data[0].metadata.as_ref().unwrap();
    let cm = meta.capture_metadata.as_ref().unwrap();
    assert_eq!(
        (
            cm.part_id.as_str(),
            cm.component_name.as_str(),
            cm.method_name.as_str()
        ),
        (f.part.as_str(), "cam", "GetImages")
    );
    assert_eq!((meta.time_requested, meta.file_size_bytes), (at(0), 7));

    // A resource without a method takes every method; a later end takes more.
    f.data
        .update_sequence(UpdateSequenceRequest {
            id: id.clone(),
            resources: vec![res("cam", ""), res("cam2", "GetImages")],
            end_time: at(200),
            // Not in the mask: left as they are.
            sequence_tags: vec!["ignored".into()],
            field_mask: mask(&["resources", "end_time"]),
            ..Default::default()
        })
        .await
        .unwrap();
    let ids = |v: (Vec<(String, Vec<u8>)>, usize)| v.0.into_iter().map(|x| x.0).collect::<Vec<_>>();
    assert_eq!(
        ids(frames(&mut f.data, &id, 2).await.unwrap()),
        vec![
            f0.clone(),
            f1.clone(),
            pc.clone(),
            other_cam.clone(),
            late.clone()
        ]
    );
    assert!(!ids(frames(&mut f.data, &id, 0).await.unwrap()).contains(&elsewhere));
    let s = get(&mut f.data, &id).await.unwrap();
    assert_eq!(s.sequence_tags, ["run-a", "run-b"]);
    assert_eq!(s.end_time, at(200));
    let ns = |t: &Option<Timestamp>| t.as_ref().map(|t| (t.seconds, t.nanos));
    assert!(ns(&s.updated_at) > ns(&s.created_at), "{s:?}");
    // An empty list in the mask clears the tags.
    f.data
        .update_sequence(UpdateSequenceRequest {
            id: id.clone(),
            field_mask: mask(&["sequence_tags"]),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        get(&mut f.data, &id)
            .await
            .unwrap()
            .sequence_tags
            .is_empty()
    );
    // A start after the end is refused, and nothing changes.
    assert_status(
        f.data
            .update_sequence(UpdateSequenceRequest {
                id: id.clone(),
                start_time: at(500),
                field_mask: mask(&["start_time"]),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "end_time",
    );
    assert_eq!(get(&mut f.data, &id).await.unwrap().start_time, at(0));

    // Deleted binary data leaves the sequence; the sequence stays consistent.
    f.data
        .delete_binary_data_by_i_ds(DeleteBinaryDataByIDsRequest {
            binary_data_ids: vec![f1.clone(), pc.clone()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        ids(frames(&mut f.data, &id, 0).await.unwrap()),
        vec![f0.clone(), other_cam.clone(), late.clone()]
    );

    // Listed with the organization's other sequences, page by page.
    let second = create(&mut f.data, create_req(&other_part, vec![res("cam", "")]))
        .await
        .unwrap();
    let mut listed = Vec::new();
    let mut token = String::new();
    loop {
        let r = f
            .data
            .list_sequences(ListSequencesRequest {
                organization_id: f.org.clone(),
                page_token: token.clone(),
                page_size: 1,
            })
            .await
            .unwrap()
            .into_inner();
        assert!(r.sequences.len() <= 1);
        listed.extend(r.sequences.into_iter().map(|s| s.id));
        if r.next_page_token.is_empty() {
            break;
        }
        token = r.next_page_token;
    }
    assert_eq!(listed, vec![id.clone(), second.clone()]);
    assert_eq!(
        ids(frames(&mut f.data, &second, 0).await.unwrap()),
        vec![elsewhere.clone()]
    );

    // Deleted: gone from get and list; its data stays.
    f.data
        .delete_sequence(DeleteSequenceRequest { id: id.clone() })
        .await
        .unwrap();
    assert_status(get(&mut f.data, &id).await, Code::NotFound, &id);
    assert_status(frames(&mut f.data, &id, 0).await, Code::NotFound, &id);
    let left = f
        .data
        .list_sequences(ListSequencesRequest {
            organization_id: f.org.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(left.sequences.len(), 1);
    assert_eq!(left.sequences[0].id, second);
    let kept = f
        .data
        .binary_data_by_i_ds(BinaryDataByIDsRequest {
            binary_data_ids: vec![f0, late],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(kept.count, 2);
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

fn members_req(dataset: &str, ids: &[&String]) -> AddSequencesToDatasetRequest {
    AddSequencesToDatasetRequest {
        dataset_id: dataset.into(),
        sequence_ids: ids.iter().map(|s| s.to_string()).collect(),
    }
}

fn removal(dataset: &str, ids: &[&String]) -> RemoveSequencesFromDatasetRequest {
    RemoveSequencesFromDatasetRequest {
        dataset_id: dataset.into(),
        sequence_ids: ids.iter().map(|s| s.to_string()).collect(),
    }
}

/// The ids of a dataset's sequences (paged by `page_size`) and the count the server gave.
async fn in_dataset(
    data: &mut Data,
    dataset: &str,
    page_size: u32,
) -> Result<(Vec<String>, u64), tonic::Status> {
    let (mut ids, mut token) = (Vec::new(), String::new());
    loop {
        let r = data
            .sequences_by_dataset_id(SequencesByDatasetIdRequest {
                dataset_id: dataset.into(),
                page_token: token.clone(),
                page_size,
                count_only: false,
            })
            .await?
            .into_inner();
        ids.extend(r.sequences.into_iter().map(|s| s.id));
        if r.next_page_token.is_empty() {
            return Ok((ids, r.count));
        }
        token = r.next_page_token;
    }
}

#[tokio::test]
async fn sequences_go_into_sequence_datasets_and_out_by_removal_or_the_datasets_deletion() {
    let mut f = fleet().await;
    let s1 = create(&mut f.data, create_req(&f.part, vec![res("cam", "")]))
        .await
        .unwrap();
    let s2 = create(&mut f.data, create_req(&f.part, vec![res("cam2", "")]))
        .await
        .unwrap();
    let clips = dataset(&mut f.ds, &f.org, "clips", DatasetType::SequenceData).await;
    let more = dataset(&mut f.ds, &f.org, "more", DatasetType::SequenceData).await;
    let frames = dataset(&mut f.ds, &f.org, "frames", DatasetType::BinaryData).await;

    f.data
        .add_sequences_to_dataset(members_req(&clips, &[&s1, &s2]))
        .await
        .unwrap();
    // Adding again changes nothing.
    f.data
        .add_sequences_to_dataset(members_req(&clips, &[&s1]))
        .await
        .unwrap();
    assert_eq!(
        in_dataset(&mut f.data, &clips, 1).await.unwrap(),
        (vec![s1.clone(), s2.clone()], 2)
    );
    let counted = f
        .data
        .sequences_by_dataset_id(SequencesByDatasetIdRequest {
            dataset_id: clips.clone(),
            count_only: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((counted.count, counted.sequences.len()), (2, 0));
    assert_eq!(
        get(&mut f.data, &s1).await.unwrap().dataset_ids,
        vec![clips.clone()]
    );
    // A binary-data dataset takes no sequences.
    assert_status(
        f.data
            .add_sequences_to_dataset(members_req(&frames, &[&s1]))
            .await,
        Code::FailedPrecondition,
        "DATASET_TYPE_SEQUENCE_DATA",
    );
    assert_eq!(
        in_dataset(&mut f.data, &frames, 0).await.unwrap(),
        (vec![], 0)
    );

    f.data
        .add_sequences_to_dataset(members_req(&more, &[&s1]))
        .await
        .unwrap();
    let mut both = vec![clips.clone(), more.clone()];
    both.sort();
    assert_eq!(get(&mut f.data, &s1).await.unwrap().dataset_ids, both);

    f.data
        .remove_sequences_from_dataset(removal(&clips, &[&s1]))
        .await
        .unwrap();
    assert_eq!(
        in_dataset(&mut f.data, &clips, 0).await.unwrap(),
        (vec![s2.clone()], 1)
    );
    assert_eq!(
        get(&mut f.data, &s1).await.unwrap().dataset_ids,
        vec![more.clone()]
    );

    // A merge of sequence datasets holds their sequences.
    let merged =
        f.ds.merge_datasets(MergeDatasetsRequest {
            name: "all clips".into(),
            organization_id: f.org.clone(),
            dataset_ids: vec![clips.clone(), more.clone()],
        })
        .await
        .unwrap()
        .into_inner()
        .dataset_id;
    assert_eq!(
        in_dataset(&mut f.data, &merged, 0).await.unwrap(),
        (vec![s1.clone(), s2.clone()], 2)
    );

    // Deleting a dataset ends its memberships; the sequences stay.
    f.ds.delete_dataset(DeleteDatasetRequest { id: more.clone() })
        .await
        .unwrap();
    assert_eq!(
        get(&mut f.data, &s1).await.unwrap().dataset_ids,
        vec![merged.clone()]
    );
    assert_status(
        in_dataset(&mut f.data, &more, 0).await,
        Code::NotFound,
        &more,
    );
    // Deleting a sequence takes it out of its datasets.
    f.data
        .delete_sequence(DeleteSequenceRequest { id: s2.clone() })
        .await
        .unwrap();
    assert_eq!(
        in_dataset(&mut f.data, &merged, 0).await.unwrap(),
        (vec![s1.clone()], 1)
    );
    assert_eq!(
        in_dataset(&mut f.data, &clips, 0).await.unwrap(),
        (vec![], 0)
    );
}

#[tokio::test]
async fn unknown_ids_are_not_found_and_missing_fields_invalid() {
    let mut f = fleet().await;
    let id = create(&mut f.data, create_req(&f.part, vec![res("cam", "")]))
        .await
        .unwrap();
    let clips = dataset(&mut f.ds, &f.org, "clips", DatasetType::SequenceData).await;
    let nobody = "00000000-0000-4000-8000-000000000000".to_string();
    let d = &mut f.data;

    // Unknown ids.
    assert_status(
        create(d, create_req(&nobody, vec![res("cam", "")])).await,
        Code::NotFound,
        &nobody,
    );
    assert_status(get(d, &nobody).await, Code::NotFound, &nobody);
    let update = |id: &str| UpdateSequenceRequest {
        id: id.into(),
        sequence_tags: vec!["x".into()],
        field_mask: mask(&["sequence_tags"]),
        ..Default::default()
    };
    assert_status(
        d.update_sequence(update(&nobody)).await,
        Code::NotFound,
        &nobody,
    );
    assert_status(
        d.delete_sequence(DeleteSequenceRequest { id: nobody.clone() })
            .await,
        Code::NotFound,
        &nobody,
    );
    assert_status(frames(d, &nobody, 0).await, Code::NotFound, &nobody);
    assert_status(
        d.list_sequences(ListSequencesRequest {
            organization_id: nobody.clone(),
            ..Default::default()
        })
        .await,
        Code::NotFound,
        &nobody,
    );
    assert_status(in_dataset(d, &nobody, 0).await, Code::NotFound, &nobody);
    assert_status(
        d.add_sequences_to_dataset(members_req(&nobody, &[&id]))
            .await,
        Code::NotFound,
        &nobody,
    );
    assert_status(
        d.add_sequences_to_dataset(members_req(&clips, &[&id, &nobody]))
            .await,
        Code::NotFound,
        &nobody,
    );
    assert_status(
        d.remove_sequences_from_dataset(removal(&clips, &[&nobody]))
            .await,
        Code::NotFound,
        &nobody,
    );
    // The failed add put in nothing, not even the known sequence.
    assert_eq!(in_dataset(d, &clips, 0).await.unwrap(), (vec![], 0));

    // Missing and malformed fields.
    let part = f.part.clone();
    let bad_creates = [
        (create_req("", vec![res("cam", "")]), "part_id"),
        (create_req(&part, vec![]), "resources"),
        (
            create_req(&part, vec![res(" ", "GetImages")]),
            "resources.resource_name",
        ),
        (
            CreateSequenceRequest {
                start_time: None,
                ..create_req(&part, vec![res("cam", "")])
            },
            "start_time",
        ),
        (
            CreateSequenceRequest {
                end_time: at(-1),
                ..create_req(&part, vec![res("cam", "")])
            },
            "end_time",
        ),
        (
            CreateSequenceRequest {
                sequence_tags: vec![String::new()],
                ..create_req(&part, vec![res("cam", "")])
            },
            "sequence_tags",
        ),
        (
            CreateSequenceRequest {
                start_time: Some(Timestamp {
                    seconds: 0,
                    nanos: -1,
                }),
                ..create_req(&part, vec![res("cam", "")])
            },
            "start_time",
        ),
    ];
    for (req, field) in bad_creates {
        assert_status(create(d, req).await, Code::InvalidArgument, field);
    }
    assert_status(get(d, "").await, Code::InvalidArgument, "id");
    let bad_updates = [
        (None, "field_mask"),
        (mask(&["part_id"]), "part_id"),
        (mask(&["resources"]), "resources"),
    ];
    for (field_mask, field) in bad_updates {
        let req = UpdateSequenceRequest {
            field_mask,
            ..update(&id)
        };
        assert_status(d.update_sequence(req).await, Code::InvalidArgument, field);
    }
    assert_eq!(get(d, &id).await.unwrap().resources, [res("cam", "")]);
    assert_status(
        d.list_sequences(ListSequencesRequest::default()).await,
        Code::InvalidArgument,
        "organization_id",
    );
    assert_status(
        d.list_sequences(ListSequencesRequest {
            organization_id: f.org.clone(),
            page_token: "not-a-token".into(),
            page_size: 0,
        })
        .await,
        Code::InvalidArgument,
        "page_token",
    );
    assert_status(
        d.get_sequence_binary_data(GetSequenceBinaryDataRequest {
            sequence_id: id.clone(),
            page_token: "7".into(),
            page_size: 0,
        })
        .await,
        Code::InvalidArgument,
        "page_token",
    );
    assert_status(
        d.get_sequence_binary_data(GetSequenceBinaryDataRequest {
            sequence_id: id.clone(),
            page_token: String::new(),
            page_size: 5000,
        })
        .await,
        Code::InvalidArgument,
        "page_size",
    );
    assert_status(frames(d, "", 0).await, Code::InvalidArgument, "sequence_id");
    assert_status(
        in_dataset(d, "", 0).await,
        Code::InvalidArgument,
        "dataset_id",
    );
    assert_status(
        d.add_sequences_to_dataset(members_req(&clips, &[])).await,
        Code::InvalidArgument,
        "sequence_ids",
    );
    assert_status(
        d.add_sequences_to_dataset(members_req("", &[&id])).await,
        Code::InvalidArgument,
        "dataset_id",
    );
    assert_status(
        d.remove_sequences_from_dataset(removal(&clips, &[])).await,
        Code::InvalidArgument,
        "sequence_ids",
    );
}

/// A role on the whole organization `org`.
fn grant(org: &str, role: &str) -> Authorization {
    key_grant(org, "organization", org, role)
}

async fn data_as(f: &mut Fleet, g: Authorization) -> Data {
    data_client(&f.s.channel, &token_with(&mut f.app, &f.s, g).await)
}

#[tokio::test]
async fn another_organization_is_refused_and_operators_only_read() {
    let mut f = fleet().await;
    capture(&mut f.sync, &f.part, "cam", "GetImages", 5, b"frame").await;
    let id = create(&mut f.data, create_req(&f.part, vec![res("cam", "")]))
        .await
        .unwrap();
    let clips = dataset(&mut f.ds, &f.org, "clips", DatasetType::SequenceData).await;
    f.data
        .add_sequences_to_dataset(members_req(&clips, &[&id]))
        .await
        .unwrap();
    let other_org = f
        .app
        .create_organization(CreateOrganizationRequest { name: "B".into() })
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap()
        .id;
    // The root key owns both: A's sequence cannot go into B's dataset.
    let theirs = dataset(&mut f.ds, &other_org, "clips", DatasetType::SequenceData).await;
    assert_status(
        f.data
            .add_sequences_to_dataset(members_req(&theirs, &[&id]))
            .await,
        Code::InvalidArgument,
        "another organization",
    );

    let mut b = data_as(&mut f, grant(&other_org, "owner")).await;
    let denied = Code::PermissionDenied;
    assert_status(
        create(&mut b, create_req(&f.part, vec![res("cam", "")])).await,
        denied,
        &f.part,
    );
    assert_status(get(&mut b, &id).await, denied, &id);
    assert_status(frames(&mut b, &id, 0).await, denied, &id);
    assert_status(
        b.update_sequence(UpdateSequenceRequest {
            id: id.clone(),
            field_mask: mask(&["sequence_tags"]),
            ..Default::default()
        })
        .await,
        denied,
        &id,
    );
    assert_status(
        b.delete_sequence(DeleteSequenceRequest { id: id.clone() })
            .await,
        denied,
        &id,
    );
    assert_status(
        b.list_sequences(ListSequencesRequest {
            organization_id: f.org.clone(),
            ..Default::default()
        })
        .await,
        denied,
        &f.org,
    );
    assert_status(in_dataset(&mut b, &clips, 0).await, denied, &clips);
    assert_status(
        b.remove_sequences_from_dataset(removal(&clips, &[&id]))
            .await,
        denied,
        &clips,
    );
    assert_status(
        b.add_sequences_to_dataset(members_req(&theirs, &[&id]))
            .await,
        denied,
        &id,
    );
    // B's own list holds none of A's.
    let own = b
        .list_sequences(ListSequencesRequest {
            organization_id: other_org.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(own.sequences.is_empty(), "{own:?}");

    let org = f.org.clone();
    let mut op = data_as(&mut f, grant(&org, "operator")).await;
    assert_eq!(
        get(&mut op, &id).await.unwrap().dataset_ids,
        vec![clips.clone()]
    );
    assert_eq!(frames(&mut op, &id, 0).await.unwrap().0.len(), 1);
    assert_eq!(
        in_dataset(&mut op, &clips, 0).await.unwrap(),
        (vec![id.clone()], 1)
    );
    let write = "write_data_management";
    assert_status(
        create(&mut op, create_req(&f.part, vec![res("cam", "")])).await,
        denied,
        write,
    );
    assert_status(
        op.delete_sequence(DeleteSequenceRequest { id: id.clone() })
            .await,
        denied,
        write,
    );
    assert_status(
        op.remove_sequences_from_dataset(removal(&clips, &[&id]))
            .await,
        denied,
        write,
    );
    assert_eq!(
        in_dataset(&mut f.data, &clips, 0).await.unwrap(),
        (vec![id], 1),
        "still there"
    );
}

#[tokio::test]
async fn types_declare_the_sequence_functions_and_the_classes_they_return() {
    use crate::lua::{args, assert_exit, fleetsh, text};
    let out = fleetsh(args(&["types"]), None).await;
    assert_exit(&out, 0);
    let defs = text(&out.stdout);
    for spot in [
        "function cloud.data.create_sequence(part_id, resources, start_time, end_time, sequence_tags) end",
        "---@return cloud.Sequence[] sequences\n---@return string next_page_token\n---@return integer count",
        "function cloud.data.iter_list_sequences(page_size, org_id) end",
        "---@return fun():cloud.BinaryData? iterator",
        "function cloud.data.get_sequence_binary_data_all(sequence_id, page_size) end",
        // Named only by hand-written signatures, declared all the same.
        "---@class cloud.Sequence\n",
        "---@class cloud.SequenceResourceFilter\n---@field resource_name string",
        "---@class cloud.BinaryData\n",
    ] {
        assert!(defs.contains(spot), "{spot:?} missing from the definitions");
    }
}

#[tokio::test]
async fn a_sequence_outlives_its_machine_as_its_data_does_and_goes_with_its_organization() {
    use fleetsh::proto::viam::app::v1::{
        CreateLocationRequest, DeleteLocationRequest, DeleteOrganizationRequest,
        DeleteRobotRequest, GetRobotPartRequest,
    };
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
    let location = f
        .app
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
    let part = new_part(&mut f.app, &location, "cam-rig").await;
    let frame = capture(&mut f.sync, &part, "cam", "GetImages", 5, b"frame").await;
    let id = create(&mut f.data, create_req(&part, vec![res("cam", "")]))
        .await
        .unwrap();
    let clips = dataset(&mut f.ds, &org, "clips", DatasetType::SequenceData).await;
    f.data
        .add_sequences_to_dataset(members_req(&clips, &[&id]))
        .await
        .unwrap();
    let robot = f
        .app
        .get_robot_part(GetRobotPartRequest { id: part.clone() })
        .await
        .unwrap()
        .into_inner()
        .part
        .unwrap()
        .robot;
    f.app
        .delete_robot(DeleteRobotRequest { id: robot })
        .await
        .unwrap();
    // The machine is gone; its data and the sequence over it stay.
    assert_eq!(get(&mut f.data, &id).await.unwrap().part_id, part);
    let (got, _) = frames(&mut f.data, &id, 0).await.unwrap();
    assert_eq!(got, [(frame, b"frame".to_vec())]);
    assert_status(
        create(&mut f.data, create_req(&part, vec![res("cam", "")])).await,
        Code::NotFound,
        &part,
    );

    f.app
        .delete_location(DeleteLocationRequest {
            location_id: location,
        })
        .await
        .unwrap();
    f.app
        .delete_organization(DeleteOrganizationRequest {
            organization_id: org,
        })
        .await
        .unwrap();
    assert_status(get(&mut f.data, &id).await, Code::NotFound, &id);
    let left =
        f.s.fleet
            .api
            .store
            .read(|c| {
                let n: i64 = c.query_row(
                    "SELECT COUNT(*) FROM dataset_sequences WHERE sequence_id = ?1",
                    [&id],
                    |r| r.get(0),
                )?;
                Ok(n)
            })
            .unwrap();
    assert_eq!(left, 0, "no membership outlives its organization");
}

/// `fleet.clock.advance` moves a sequence's span with the capture times of its data: the
/// sequence is as much older as its data and still selects it.
#[tokio::test]
async fn the_fleet_clock_moves_a_sequences_span_with_its_data() {
    let mut f = fleet().await;
    let bin = capture(&mut f.sync, &f.part, "cam", "GetImages", 10, b"frame").await;
    let req = create_req(&f.part, vec![res("cam", "GetImages")]);
    let id = create(&mut f.data, req).await.unwrap();
    let day: i64 = 86_400;
    f.s.fleet
        .api
        .store
        .tx(|tx| fleetsh::server::clock::advance(tx, day * 1_000_000_000))
        .unwrap();
    let moved = get(&mut f.data, &id).await.unwrap();
    assert_eq!(
        moved.start_time,
        at(-day),
        "start_time did not move with the clock"
    );
    assert_eq!(
        moved.end_time,
        at(50 - day),
        "end_time did not move with the clock"
    );
    let (selected, _) = frames(&mut f.data, &id, 10).await.unwrap();
    let ids: Vec<&String> = selected.iter().map(|(i, _)| i).collect();
    assert_eq!(ids, [&bin], "the sequence no longer selects its data");
}
