//! Datasets (issue 12): a dataset holds the binary data put in it (by id or at upload), a
//! filter by dataset_id finds exactly that, removal and deletion take it out (the data stays),
//! names are unique per organization through create, rename and merge, and another
//! organization's key, or an operator writing, is refused.
#![allow(deprecated)]

use fleetsh::proto::viam::app::data::v1::*;
use fleetsh::proto::viam::app::dataset::v1::dataset_service_client::DatasetServiceClient;
use fleetsh::proto::viam::app::dataset::v1::*;
use fleetsh::proto::viam::app::datasync::v1::*;
use fleetsh::proto::viam::app::v1::{Authorization, CreateOrganizationRequest};
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::data_api::{Data, Sync, data_client, new_part, readings_upload, sync_client};
use crate::harness::{App, Bearer, TestServer, assert_status};
use crate::setup::{key_grant, token_with};

type Datasets = DatasetServiceClient<InterceptedService<Channel, Bearer>>;

fn datasets_client(channel: &Channel, token: &str) -> Datasets {
    let b = Bearer(Some(format!("Bearer {token}").parse().unwrap()));
    DatasetServiceClient::with_interceptor(channel.clone(), b)
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

fn image_upload(part: &str, dataset_ids: Vec<String>) -> DataCaptureUploadRequest {
    DataCaptureUploadRequest {
        metadata: Some(UploadMetadata {
            part_id: part.into(),
            component_type: "rdk:component:camera".into(),
            component_name: "cam".into(),
            method_name: "GetImages".into(),
            r#type: DataType::BinarySensor as i32,
            mime_type: "image/jpeg".into(),
            dataset_ids,
            ..Default::default()
        }),
        sensor_contents: vec![SensorData {
            metadata: None,
            data: Some(sensor_data::Data::Binary(b"jpeg".to_vec())),
        }],
    }
}

async fn upload(f: &mut Fleet, dataset_ids: Vec<String>) -> Result<String, tonic::Status> {
    let r = f
        .sync
        .data_capture_upload(image_upload(&f.part, dataset_ids))
        .await?;
    Ok(r.into_inner().binary_data_id)
}

async fn create(ds: &mut Datasets, org: &str, name: &str) -> Result<String, tonic::Status> {
    let r = ds
        .create_dataset(CreateDatasetRequest {
            name: name.into(),
            organization_id: org.into(),
            r#type: None,
        })
        .await?;
    Ok(r.into_inner().id)
}

fn in_dataset(id: &str) -> Option<Filter> {
    Some(Filter {
        dataset_id: id.into(),
        ..Default::default()
    })
}

/// The ids of the binary data a filter by `dataset` finds, sorted.
async fn members(data: &mut Data, dataset: &str) -> Result<Vec<String>, tonic::Status> {
    let r = data
        .binary_data_by_filter(BinaryDataByFilterRequest {
            data_request: Some(DataRequest {
                filter: in_dataset(dataset),
                limit: 100,
                ..Default::default()
            }),
            ..Default::default()
        })
        .await?
        .into_inner();
    let mut ids: Vec<String> = r
        .data
        .iter()
        .map(|d| d.metadata.as_ref().unwrap().binary_data_id.clone())
        .collect();
    assert_eq!(r.count, ids.len() as u64, "count and page disagree");
    ids.sort();
    Ok(ids)
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

async fn add(data: &mut Data, dataset: &str, ids: &[&String]) -> Result<(), tonic::Status> {
    data.add_binary_data_to_dataset_by_i_ds(AddBinaryDataToDatasetByIDsRequest {
        binary_data_ids: ids.iter().map(|s| s.to_string()).collect(),
        dataset_id: dataset.into(),
        ..Default::default()
    })
    .await
    .map(|_| ())
}

async fn names_in(ds: &mut Datasets, org: &str) -> Vec<String> {
    let r = ds
        .list_datasets_by_organization_id(ListDatasetsByOrganizationIdRequest {
            organization_id: org.into(),
            r#type: None,
        })
        .await
        .unwrap()
        .into_inner();
    sorted(r.datasets.into_iter().map(|d| d.name).collect())
}

#[tokio::test]
async fn a_dataset_holds_what_is_added_found_by_filter_until_removed_renamed_merged_deleted() {
    let mut f = fleet().await;
    let cats = create(&mut f.ds, &f.org, "cats").await.unwrap();
    assert_status(
        create(&mut f.ds, &f.org, "cats").await,
        Code::AlreadyExists,
        "\"cats\"",
    );
    let (b1, b2) = (
        upload(&mut f, vec![]).await.unwrap(),
        upload(&mut f, vec![]).await.unwrap(),
    );
    let outside = upload(&mut f, vec![]).await.unwrap();
    // Put in at upload time.
    let b3 = upload(&mut f, vec![cats.clone()]).await.unwrap();
    assert_eq!(members(&mut f.data, &cats).await.unwrap(), vec![b3.clone()]);
    add(&mut f.data, &cats, &[&b1, &b2]).await.unwrap();
    // Adding again changes nothing.
    add(&mut f.data, &cats, &[&b1]).await.unwrap();
    let all = sorted(vec![b1.clone(), b2.clone(), b3.clone()]);
    assert_eq!(members(&mut f.data, &cats).await.unwrap(), all);
    assert!(!all.contains(&outside));

    // The metadata names the datasets an item is in.
    let by_id = f
        .data
        .binary_data_by_i_ds(BinaryDataByIDsRequest {
            binary_data_ids: vec![b1.clone(), outside.clone()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let ds_of = |i: usize| by_id.data[i].metadata.as_ref().unwrap().dataset_ids.clone();
    assert_eq!(ds_of(0), vec![cats.clone()]);
    assert!(ds_of(1).is_empty());

    // Readings are never in a dataset: a tabular filter by one finds none.
    f.sync
        .data_capture_upload(readings_upload(&f.part, "temp", &[(1_700_000_000, 1.0)]))
        .await
        .unwrap();
    let tab = f
        .data
        .tabular_data_by_filter(TabularDataByFilterRequest {
            data_request: Some(DataRequest {
                filter: in_dataset(&cats),
                limit: 10,
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(tab.data.is_empty(), "{:?}", tab.data);
    let mut readings = readings_upload(&f.part, "temp", &[(1_700_000_000, 1.0)]);
    readings.metadata.as_mut().unwrap().dataset_ids = vec![cats.clone()];
    assert_status(
        f.sync.data_capture_upload(readings).await,
        Code::InvalidArgument,
        "dataset_ids",
    );

    // Removal takes out only what is named.
    f.data
        .remove_binary_data_from_dataset_by_i_ds(RemoveBinaryDataFromDatasetByIDsRequest {
            binary_data_ids: vec![b2.clone()],
            dataset_id: cats.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        members(&mut f.data, &cats).await.unwrap(),
        sorted(vec![b1.clone(), b3.clone()])
    );

    // Merge: a new dataset holding the union.
    let dogs = create(&mut f.ds, &f.org, "dogs").await.unwrap();
    add(&mut f.data, &dogs, &[&b2, &b1]).await.unwrap();
    let merge = |name: &str| MergeDatasetsRequest {
        dataset_ids: vec![cats.clone(), dogs.clone()],
        name: name.into(),
        organization_id: f.org.clone(),
    };
    assert_status(
        f.ds.merge_datasets(merge("dogs")).await,
        Code::AlreadyExists,
        "\"dogs\"",
    );
    let pets =
        f.ds.merge_datasets(merge("pets"))
            .await
            .unwrap()
            .into_inner()
            .dataset_id;
    assert_eq!(members(&mut f.data, &pets).await.unwrap(), all);

    // Rename: to a taken name refused, to a new one seen by both lists.
    let rename = |name: &str| RenameDatasetRequest {
        id: cats.clone(),
        name: name.into(),
    };
    assert_status(
        f.ds.rename_dataset(rename("pets")).await,
        Code::AlreadyExists,
        "\"pets\"",
    );
    f.ds.rename_dataset(rename("cats")).await.unwrap();
    f.ds.rename_dataset(rename("felines")).await.unwrap();
    assert_eq!(
        names_in(&mut f.ds, &f.org).await,
        ["dogs", "felines", "pets"]
    );
    let listed =
        f.ds.list_datasets_by_i_ds(ListDatasetsByIDsRequest {
            ids: vec![cats.clone(), pets.clone()],
        })
        .await
        .unwrap()
        .into_inner()
        .datasets;
    let got: Vec<_> = listed
        .iter()
        .map(|d| (d.id.as_str(), d.name.as_str()))
        .collect();
    assert_eq!(got, [(cats.as_str(), "felines"), (pets.as_str(), "pets")]);
    assert!(
        listed
            .iter()
            .all(|d| d.organization_id == f.org && d.time_created.is_some())
    );
    // The old name is free again.
    create(&mut f.ds, &f.org, "cats").await.unwrap();

    // A sequence dataset takes no binary data, by id or at upload.
    let seq =
        f.ds.create_dataset(CreateDatasetRequest {
            name: "clips".into(),
            organization_id: f.org.clone(),
            r#type: Some(DatasetType::SequenceData as i32),
        })
        .await
        .unwrap()
        .into_inner()
        .id;
    assert_status(
        add(&mut f.data, &seq, &[&b1]).await,
        Code::FailedPrecondition,
        "sequences",
    );
    assert_status(
        upload(&mut f, vec![seq.clone()]).await,
        Code::FailedPrecondition,
        "sequences",
    );
    let only_seq =
        f.ds.list_datasets_by_organization_id(ListDatasetsByOrganizationIdRequest {
            organization_id: f.org.clone(),
            r#type: Some(DatasetType::SequenceData as i32),
        })
        .await
        .unwrap()
        .into_inner()
        .datasets;
    assert_eq!(only_seq.len(), 1);
    assert_eq!(
        (only_seq[0].id.as_str(), only_seq[0].r#type),
        (seq.as_str(), DatasetType::SequenceData as i32)
    );
    f.ds.delete_dataset(DeleteDatasetRequest { id: seq })
        .await
        .unwrap();

    // Deletion: the dataset goes, its data stays (and no longer names it).
    f.ds.delete_dataset(DeleteDatasetRequest { id: cats.clone() })
        .await
        .unwrap();
    assert_status(
        f.ds.list_datasets_by_i_ds(ListDatasetsByIDsRequest {
            ids: vec![cats.clone()],
        })
        .await,
        Code::NotFound,
        &cats,
    );
    assert_status(members(&mut f.data, &cats).await, Code::NotFound, &cats);
    assert_status(
        upload(&mut f, vec![cats.clone()]).await,
        Code::NotFound,
        &cats,
    );
    let kept = f
        .data
        .binary_data_by_i_ds(BinaryDataByIDsRequest {
            binary_data_ids: vec![b1.clone(), b3.clone()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    for d in &kept.data {
        let ids = &d.metadata.as_ref().unwrap().dataset_ids;
        assert!(!ids.contains(&cats), "{ids:?}");
    }
    assert_eq!(kept.count, 2);
    assert_eq!(
        members(&mut f.data, &pets).await.unwrap(),
        all,
        "merged copy intact"
    );
    // Deleting the data takes it out of its datasets.
    f.data
        .delete_binary_data_by_i_ds(DeleteBinaryDataByIDsRequest {
            binary_data_ids: vec![b2.clone()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        members(&mut f.data, &pets).await.unwrap(),
        sorted(vec![b1, b3])
    );
}

/// A role on the whole organization `org`.
fn grant(org: &str, role: &str) -> Authorization {
    key_grant(org, "organization", org, role)
}

async fn token_for(f: &mut Fleet, g: Authorization) -> String {
    token_with(&mut f.app, &f.s, g).await
}

#[tokio::test]
async fn another_organization_is_refused_and_operators_only_read() {
    let mut f = fleet().await;
    let cats = create(&mut f.ds, &f.org, "cats").await.unwrap();
    let b1 = upload(&mut f, vec![cats.clone()]).await.unwrap();
    let other_org = f
        .app
        .create_organization(CreateOrganizationRequest { name: "B".into() })
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap()
        .id;
    // The root key owns both organizations: B's dataset exists, and A's data cannot go in it.
    let theirs = create(&mut f.ds, &other_org, "cats").await.unwrap();
    assert_status(
        add(&mut f.data, &theirs, &[&b1]).await,
        Code::InvalidArgument,
        "another organization",
    );
    assert_status(
        upload(&mut f, vec![theirs.clone()]).await,
        Code::PermissionDenied,
        "another organization",
    );
    assert_status(
        f.ds.merge_datasets(MergeDatasetsRequest {
            dataset_ids: vec![cats.clone(), theirs.clone()],
            name: "both".into(),
            organization_id: f.org.clone(),
        })
        .await,
        Code::PermissionDenied,
        &theirs,
    );

    let b_token = token_for(&mut f, grant(&other_org, "owner")).await;
    let (mut b_ds, mut b_data) = (
        datasets_client(&f.s.channel, &b_token),
        data_client(&f.s.channel, &b_token),
    );
    assert_status(
        b_ds.list_datasets_by_i_ds(ListDatasetsByIDsRequest {
            ids: vec![cats.clone()],
        })
        .await,
        Code::PermissionDenied,
        &cats,
    );
    assert_status(
        b_ds.list_datasets_by_organization_id(ListDatasetsByOrganizationIdRequest {
            organization_id: f.org.clone(),
            r#type: None,
        })
        .await,
        Code::PermissionDenied,
        &f.org,
    );
    assert_status(
        members(&mut b_data, &cats).await,
        Code::PermissionDenied,
        &cats,
    );
    assert_status(
        create(&mut b_ds, &f.org, "mine").await,
        Code::PermissionDenied,
        &f.org,
    );
    assert_status(
        b_ds.delete_dataset(DeleteDatasetRequest { id: cats.clone() })
            .await,
        Code::PermissionDenied,
        &f.org,
    );
    assert_status(
        b_ds.rename_dataset(RenameDatasetRequest {
            id: cats.clone(),
            name: "x".into(),
        })
        .await,
        Code::PermissionDenied,
        &f.org,
    );
    // B's own list shows only B's dataset.
    assert_eq!(names_in(&mut b_ds, &other_org).await, ["cats"]);

    let op_grant = grant(&f.org, "operator");
    let op_token = token_for(&mut f, op_grant).await;
    let (mut op_ds, mut op_data) = (
        datasets_client(&f.s.channel, &op_token),
        data_client(&f.s.channel, &op_token),
    );
    assert_eq!(
        members(&mut op_data, &cats).await.unwrap(),
        vec![b1.clone()]
    );
    assert_eq!(names_in(&mut op_ds, &f.org).await, ["cats"]);
    assert_status(
        create(&mut op_ds, &f.org, "x").await,
        Code::PermissionDenied,
        "write_data_management",
    );
    assert_status(
        op_data
            .remove_binary_data_from_dataset_by_i_ds(RemoveBinaryDataFromDatasetByIDsRequest {
                binary_data_ids: vec![b1.clone()],
                dataset_id: cats.clone(),
                ..Default::default()
            })
            .await,
        Code::PermissionDenied,
        "write_data_management",
    );
    assert_eq!(
        members(&mut f.data, &cats).await.unwrap(),
        vec![b1],
        "still there"
    );
    assert_eq!(names_in(&mut f.ds, &f.org).await, ["cats"]);
}
