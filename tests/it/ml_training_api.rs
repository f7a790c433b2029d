//! MLTrainingService in the local fleet (issue 12): a job is stored as submitted and stays
//! pending (its error_status says the fleet trains nothing) until canceled; only an ended job
//! can be deleted; its log is what happened to it; members read, owners write. A job trains on
//! a dataset of its own organization: an unknown one is NOT_FOUND, another organization's refused.

use fleetsh::proto::viam::app::dataset::v1::dataset_service_client::DatasetServiceClient;
use fleetsh::proto::viam::app::dataset::v1::{CreateDatasetRequest, DatasetType};
use fleetsh::proto::viam::app::mltraining::v1::ml_training_service_client::MlTrainingServiceClient;
use fleetsh::proto::viam::app::mltraining::v1::*;
use fleetsh::proto::viam::app::v1::CreateOrganizationRequest;
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::harness::{Bearer, TestServer, assert_status};
use crate::setup::{bearer, org_token, owner_token};

type Training = MlTrainingServiceClient<InterceptedService<Channel, Bearer>>;

fn client(s: &TestServer, token: &str) -> Training {
    MlTrainingServiceClient::with_interceptor(s.channel.clone(), bearer(token))
}

async fn owner(s: &TestServer) -> Training {
    client(s, &owner_token(s).await)
}

/// A new dataset of `org` (of binary data unless `kind` says otherwise), made by the owner key.
async fn dataset(s: &TestServer, org: &str, name: &str, kind: Option<DatasetType>) -> String {
    let c = &s.fleet.credentials;
    let token = s.token(&c.api_key_id, &c.api_key).await.unwrap();
    let b = Bearer(Some(format!("Bearer {token}").parse().unwrap()));
    let req = CreateDatasetRequest {
        name: name.into(),
        organization_id: org.into(),
        r#type: kind.map(|k| k as i32),
    };
    let mut ds = DatasetServiceClient::with_interceptor(s.channel.clone(), b);
    ds.create_dataset(req).await.unwrap().into_inner().id
}

fn submit(org: &str, dataset: &str, version: &str) -> SubmitTrainingJobRequest {
    SubmitTrainingJobRequest {
        dataset_id: dataset.into(),
        organization_id: org.into(),
        model_name: "detector".into(),
        model_version: version.into(),
        model_type: ModelType::ObjectDetection as i32,
        model_framework: ModelFramework::Unspecified as i32,
        tags: vec!["cat".into(), "dog".into()],
    }
}

async fn job(t: &mut Training, id: &str) -> TrainingJobMetadata {
    let req = GetTrainingJobRequest { id: id.into() };
    t.get_training_job(req)
        .await
        .unwrap()
        .into_inner()
        .metadata
        .unwrap()
}

async fn list(t: &mut Training, org: &str, status: TrainingStatus) -> Vec<String> {
    let req = ListTrainingJobsRequest {
        organization_id: org.into(),
        status: status as i32,
    };
    let jobs = t.list_training_jobs(req).await.unwrap().into_inner().jobs;
    jobs.into_iter().map(|j| j.id).collect()
}

async fn log_lines(t: &mut Training, id: &str) -> Vec<String> {
    let req = GetTrainingJobLogsRequest {
        id: id.into(),
        page_token: None,
    };
    let r = t.get_training_job_logs(req).await.unwrap().into_inner();
    assert_eq!(r.next_page_token, "");
    r.logs.into_iter().map(|l| l.message).collect()
}

#[tokio::test]
async fn a_job_is_stored_pending_and_never_trains() {
    let s = TestServer::start().await;
    let mut t = owner(&s).await;
    let org = s.org_id().to_string();
    let ds = dataset(&s, &org, "images", None).await;
    let id = t
        .submit_training_job(submit(&org, &ds, "1"))
        .await
        .unwrap()
        .into_inner()
        .id;
    let j = job(&mut t, &id).await;
    assert_eq!(j.status, TrainingStatus::Pending as i32);
    assert_eq!(
        (
            j.dataset_id.as_str(),
            j.model_name.as_str(),
            j.model_version.as_str()
        ),
        (ds.as_str(), "detector", "1")
    );
    assert_eq!(j.model_type, ModelType::ObjectDetection as i32);
    assert_eq!(j.tags, ["cat", "dog"]);
    assert!(!j.is_custom_job);
    let why = j
        .error_status
        .expect("a pending job says why it stays pending");
    assert!(why.message.contains("does not train"), "{why:?}");
    assert!(j.training_started.is_none() && j.training_ended.is_none());
    assert_eq!(j.synced_model_id, "", "no model is ever made");
    let lines = log_lines(&mut t, &id).await;
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].contains("submitted") && lines[1].contains("does not train"));
}

#[tokio::test]
async fn cancel_then_delete_and_the_status_filter() {
    let s = TestServer::start().await;
    let mut t = owner(&s).await;
    let org = s.org_id().to_string();
    let ds = dataset(&s, &org, "images", None).await;
    let a = t.submit_training_job(submit(&org, &ds, "1")).await.unwrap();
    let a = a.into_inner().id;
    let b = t.submit_training_job(submit(&org, &ds, "2")).await.unwrap();
    let b = b.into_inner().id;
    let del = |id: &str| DeleteCompletedTrainingJobRequest { id: id.into() };
    assert_status(
        t.delete_completed_training_job(del(&a)).await,
        Code::FailedPrecondition,
        "cancel it first",
    );
    t.cancel_training_job(CancelTrainingJobRequest { id: a.clone() })
        .await
        .unwrap();
    let canceled = job(&mut t, &a).await;
    assert_eq!(canceled.status, TrainingStatus::Canceled as i32);
    assert!(canceled.error_status.is_none());
    assert_status(
        t.cancel_training_job(CancelTrainingJobRequest { id: a.clone() })
            .await,
        Code::FailedPrecondition,
        "TRAINING_STATUS_CANCELED",
    );
    assert!(
        log_lines(&mut t, &a)
            .await
            .last()
            .unwrap()
            .contains("canceled")
    );
    assert_eq!(
        list(&mut t, &org, TrainingStatus::Pending).await,
        [b.as_str()]
    );
    assert_eq!(
        list(&mut t, &org, TrainingStatus::Canceled).await,
        [a.as_str()]
    );
    assert_eq!(
        list(&mut t, &org, TrainingStatus::Unspecified).await,
        [b.as_str(), a.as_str()],
        "every job, newest first"
    );
    t.delete_completed_training_job(del(&a)).await.unwrap();
    assert_status(
        t.get_training_job(GetTrainingJobRequest { id: a.clone() })
            .await,
        Code::NotFound,
        &a,
    );
    assert_eq!(
        list(&mut t, &org, TrainingStatus::Unspecified).await,
        [b.as_str()]
    );
}

#[tokio::test]
async fn submissions_are_validated() {
    let s = TestServer::start().await;
    let mut t = owner(&s).await;
    let org = s.org_id().to_string();
    let ds = dataset(&s, &org, "images", None).await;
    for (field, req) in [
        (
            "model_name",
            SubmitTrainingJobRequest {
                model_name: " ".into(),
                ..submit(&org, &ds, "1")
            },
        ),
        ("model_version", submit(&org, &ds, "")),
        (
            "dataset_id",
            SubmitTrainingJobRequest {
                dataset_id: "".into(),
                ..submit(&org, &ds, "1")
            },
        ),
        (
            "model_type",
            SubmitTrainingJobRequest {
                model_type: 0,
                ..submit(&org, &ds, "1")
            },
        ),
        (
            "model_framework",
            SubmitTrainingJobRequest {
                model_framework: 99,
                ..submit(&org, &ds, "1")
            },
        ),
    ] {
        assert_status(
            t.submit_training_job(req).await,
            Code::InvalidArgument,
            field,
        );
    }
    let custom = SubmitCustomTrainingJobRequest {
        dataset_id: ds.clone(),
        registry_item_id: "nobody:no-such-script".into(),
        registry_item_version: "1.0.0".into(),
        organization_id: org.clone(),
        model_name: "m".into(),
        model_version: "1".into(),
        ..Default::default()
    };
    assert_status(
        t.submit_custom_training_job(custom.clone()).await,
        Code::NotFound,
        "no-such-script",
    );
    // A real script, an unknown container.
    let mut app = s.owner().await;
    let module = app
        .create_module(fleetsh::proto::viam::app::v1::CreateModuleRequest {
            organization_id: org.clone(),
            name: "trainer".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .module_id;
    let unknown_container = SubmitCustomTrainingJobRequest {
        registry_item_id: module,
        container_id: "no-such-container".into(),
        ..custom
    };
    assert_status(
        t.submit_custom_training_job(unknown_container).await,
        Code::NotFound,
        "no-such-container",
    );
}

#[tokio::test]
async fn members_read_jobs_and_owners_change_them() {
    let s = TestServer::start().await;
    let mut t = owner(&s).await;
    let org = s.org_id().to_string();
    let ds = dataset(&s, &org, "images", None).await;
    let id = t.submit_training_job(submit(&org, &ds, "1")).await.unwrap();
    let id = id.into_inner().id;
    let mut op = client(&s, &org_token(&s, &org, "operator").await);
    assert_eq!(job(&mut op, &id).await.id, id);
    assert_status(
        op.cancel_training_job(CancelTrainingJobRequest { id: id.clone() })
            .await,
        Code::PermissionDenied,
        "write_data_management",
    );
    assert_status(
        op.submit_training_job(submit(&org, &ds, "2")).await,
        Code::PermissionDenied,
        "write_data_management",
    );
}

#[tokio::test]
async fn custom_containers_are_stored_records_and_none_is_built_in() {
    let s = TestServer::start().await;
    let mut t = owner(&s).await;
    let org = s.org_id().to_string();
    let supported = t
        .list_supported_containers(ListSupportedContainersRequest {})
        .await
        .unwrap();
    assert!(supported.into_inner().container_map.is_empty());
    let register = |uri: &str, description: &str| RegisterCustomTrainingContainerRequest {
        organization_id: org.clone(),
        image_uri: uri.into(),
        description: description.into(),
    };
    let id = t
        .register_custom_training_container(register("docker.io/acme/trainer:1", "trainer"))
        .await
        .unwrap()
        .into_inner()
        .id;
    let got = t
        .get_container(GetContainerRequest { id: id.clone() })
        .await
        .unwrap()
        .into_inner()
        .container
        .unwrap();
    assert_eq!(
        (
            got.uri.as_str(),
            got.description.as_str(),
            got.organization_id.as_str()
        ),
        ("docker.io/acme/trainer:1", "trainer", org.as_str())
    );
    let listed = t
        .list_containers(ListContainersRequest {
            organization_id: org.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .containers;
    assert_eq!(
        listed.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        [id.as_str()]
    );
    assert_status(
        t.register_custom_training_container(register("docker.io/acme/trainer:1", ""))
            .await,
        Code::InvalidArgument,
        "description",
    );
    assert_status(
        t.register_custom_training_container(register("not an image", "x"))
            .await,
        Code::InvalidArgument,
        "image_uri",
    );
    t.delete_custom_training_container(DeleteCustomTrainingContainerRequest { id: id.clone() })
        .await
        .unwrap();
    assert_status(
        t.get_container(GetContainerRequest { id: id.clone() })
            .await,
        Code::NotFound,
        &id,
    );
}

#[tokio::test]
async fn a_job_trains_on_a_dataset_of_its_own_organization() {
    let s = TestServer::start().await;
    let mut t = owner(&s).await;
    let org = s.org_id().to_string();
    assert_status(
        t.submit_training_job(submit(&org, "no-such-dataset", "1"))
            .await,
        Code::NotFound,
        "dataset \"no-such-dataset\" not found: create the dataset first",
    );
    let custom = |dataset: &str| SubmitCustomTrainingJobRequest {
        dataset_id: dataset.into(),
        registry_item_id: String::new(),
        registry_item_version: "1.0.0".into(),
        organization_id: org.clone(),
        model_name: "m".into(),
        model_version: "1".into(),
        ..Default::default()
    };
    let mut app = s.owner().await;
    let module = app
        .create_module(fleetsh::proto::viam::app::v1::CreateModuleRequest {
            organization_id: org.clone(),
            name: "trainer".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .module_id;
    assert_status(
        t.submit_custom_training_job(SubmitCustomTrainingJobRequest {
            registry_item_id: module.clone(),
            ..custom("no-such-dataset")
        })
        .await,
        Code::NotFound,
        "no-such-dataset",
    );

    // The root key owns both organizations: B's dataset exists, and A's job cannot train on it.
    let other_org = app
        .create_organization(CreateOrganizationRequest { name: "B".into() })
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap()
        .id;
    let theirs = dataset(&s, &other_org, "images", None).await;
    assert_status(
        t.submit_training_job(submit(&org, &theirs, "1")).await,
        Code::PermissionDenied,
        "not in the job's organization",
    );
    assert_status(
        t.submit_custom_training_job(SubmitCustomTrainingJobRequest {
            registry_item_id: module.clone(),
            ..custom(&theirs)
        })
        .await,
        Code::PermissionDenied,
        "not in the job's organization",
    );
    // B's owner reads nothing of A: A's dataset is refused by the data permissions.
    let ours = dataset(&s, &org, "images", None).await;
    let mut b = client(&s, &org_token(&s, &other_org, "owner").await);
    assert_status(
        b.submit_training_job(submit(&other_org, &ours, "1")).await,
        Code::PermissionDenied,
        &format!("read_robot_data_management on dataset {ours:?}"),
    );
    // A sequence dataset holds no binary data to train on.
    let seq = dataset(&s, &org, "clips", Some(DatasetType::SequenceData)).await;
    assert_status(
        t.submit_training_job(submit(&org, &seq, "1")).await,
        Code::FailedPrecondition,
        "holds sequences",
    );
    // None of those was stored; a job on its own organization's dataset is.
    let listed = ListTrainingJobsRequest {
        organization_id: org.clone(),
        status: TrainingStatus::Unspecified as i32,
    };
    assert!(
        t.list_training_jobs(listed.clone())
            .await
            .unwrap()
            .into_inner()
            .jobs
            .is_empty()
    );
    t.submit_training_job(submit(&org, &ours, "1"))
        .await
        .unwrap();
    assert_eq!(
        t.list_training_jobs(listed)
            .await
            .unwrap()
            .into_inner()
            .jobs
            .len(),
        1
    );
}
