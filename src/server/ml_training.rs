//! `viam.app.mltraining.v1.MLTrainingService`. The local fleet trains no model: a submitted
//! job is stored as asked and stays TRAINING_STATUS_PENDING (its error_status says why) until
//! it is canceled; its log holds what happened to it (submitted, canceled), no training lines.
//! Custom training containers are stored records (no image is pulled); the local fleet has no
//! built-in ones, so ListSupportedContainers is empty.

use std::collections::HashMap;

use rusqlite::{Connection, params};

use super::Api;
use super::authz::{Perm, Principal, Scope};
use super::call::rpc_table;
use super::error::{ApiError, ApiResult, required};
use super::registry;
use super::store::{exec, found, new_id, now, row, to_ts};
use crate::proto::google::rpc::Status as RpcStatus;
use crate::proto::viam::app::mltraining::v1::ml_training_service_server::MlTrainingService;
use crate::proto::viam::app::mltraining::v1::*;

rpc_table! {
    impl MlTrainingService for MlTrainingSvc;
    unary {
        submit_training_job(SubmitTrainingJobRequest) -> SubmitTrainingJobResponse = submit_training_job;
        submit_custom_training_job(SubmitCustomTrainingJobRequest) -> SubmitCustomTrainingJobResponse = submit_custom_training_job;
        get_training_job(GetTrainingJobRequest) -> GetTrainingJobResponse = get_training_job;
        list_training_jobs(ListTrainingJobsRequest) -> ListTrainingJobsResponse = list_training_jobs;
        cancel_training_job(CancelTrainingJobRequest) -> CancelTrainingJobResponse = cancel_training_job;
        delete_completed_training_job(DeleteCompletedTrainingJobRequest) -> DeleteCompletedTrainingJobResponse = delete_completed_training_job;
        get_training_job_logs(GetTrainingJobLogsRequest) -> GetTrainingJobLogsResponse = get_training_job_logs;
        list_supported_containers(ListSupportedContainersRequest) -> ListSupportedContainersResponse = list_supported_containers;
        list_containers(ListContainersRequest) -> ListContainersResponse = list_containers;
        get_container(GetContainerRequest) -> GetContainerResponse = get_container;
        register_custom_training_container(RegisterCustomTrainingContainerRequest) -> RegisterCustomTrainingContainerResponse = register_custom_training_container;
        delete_custom_training_container(DeleteCustomTrainingContainerRequest) -> DeleteCustomTrainingContainerResponse = delete_custom_training_container;
    }
    server_streaming {}
    client_streaming {}
}

/// Why a pending job never moves, in its error_status and its log.
const NEVER_RUNS: &str =
    "the local fleet does not train models: this job stays pending until it is canceled";
/// google.rpc.Code UNIMPLEMENTED: training is what the local fleet does not do.
const UNIMPLEMENTED_CODE: i32 = 12;

/// What a submit stores, from either kind of request.
struct NewJob {
    org_id: String,
    dataset_id: String,
    model_name: String,
    model_version: String,
    model_type: i32,
    model_framework: i32,
    is_custom: bool,
    registry_item_id: String,
    registry_item_version: String,
    container_id: String,
    container_version: String,
    arguments: HashMap<String, String>,
    tags: Vec<String>,
}

fn enum_value(field: &str, v: i32, known: bool, allow_unspecified: bool) -> ApiResult<()> {
    if !known {
        return Err(ApiError::invalid(
            field,
            format!("{v} is not a known value"),
        ));
    }
    if v == 0 && !allow_unspecified {
        return Err(ApiError::invalid(field, "required"));
    }
    Ok(())
}

fn org_scope(c: &Connection, who: &Principal, perm: Perm, org_id: &str) -> ApiResult<()> {
    let s = Scope::organization(c, org_id)?;
    who.require(perm, &s)
}

fn log(c: &Connection, job_id: &str, level: &str, message: &str) -> ApiResult<()> {
    exec(
        c,
        "INSERT INTO training_job_logs(job_id, time, level, message) VALUES (?1, ?2, ?3, ?4)",
        params![job_id, now(), level, message],
    )?;
    Ok(())
}

fn insert(api: &Api, who: &Principal, job: NewJob) -> ApiResult<String> {
    required("dataset_id", &job.dataset_id)?;
    required("model_name", &job.model_name)?;
    required("model_version", &job.model_version)?;
    if let Some(i) = job.tags.iter().position(|t| t.trim().is_empty()) {
        return Err(ApiError::invalid(&format!("tags[{i}]"), "empty tag"));
    }
    let id = new_id();
    api.store.tx(|tx| {
        org_scope(tx, who, Perm::WriteDataManagement, &job.org_id)?;
        super::data::check_training_dataset(tx, who, job.org_id.trim(), job.dataset_id.trim())?;
        let t = now();
        exec(
            tx,
            "INSERT INTO training_jobs(id, org_id, dataset_id, model_name, model_version, model_type,
                 model_framework, is_custom, registry_item_id, registry_item_version, container_id,
                 container_version, arguments, tags, status, created_on, last_modified)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?16)",
            params![
                id,
                job.org_id,
                job.dataset_id.trim(),
                job.model_name.trim(),
                job.model_version.trim(),
                job.model_type,
                job.model_framework,
                job.is_custom,
                job.registry_item_id,
                job.registry_item_version,
                job.container_id,
                job.container_version,
                serde_json::to_string(&job.arguments).map_err(|e| ApiError::Internal(e.to_string()))?,
                serde_json::to_string(&job.tags).map_err(|e| ApiError::Internal(e.to_string()))?,
                TrainingStatus::Pending as i32,
                t,
            ],
        )?;
        let what = if job.is_custom {
            format!(
                "custom training job submitted: model {} version {} on dataset {} with {} {}",
                job.model_name, job.model_version, job.dataset_id, job.registry_item_id, job.registry_item_version
            )
        } else {
            format!(
                "training job submitted: model {} version {} on dataset {}",
                job.model_name, job.model_version, job.dataset_id
            )
        };
        log(tx, &id, "info", &what)?;
        log(tx, &id, "warn", NEVER_RUNS)?;
        Ok(id.clone())
    })
}

pub fn submit_training_job(
    api: &Api,
    who: &Principal,
    req: SubmitTrainingJobRequest,
) -> ApiResult<SubmitTrainingJobResponse> {
    enum_value(
        "model_type",
        req.model_type,
        ModelType::try_from(req.model_type).is_ok(),
        false,
    )?;
    enum_value(
        "model_framework",
        req.model_framework,
        ModelFramework::try_from(req.model_framework).is_ok(),
        true,
    )?;
    let id = insert(
        api,
        who,
        NewJob {
            org_id: req.organization_id,
            dataset_id: req.dataset_id,
            model_name: req.model_name,
            model_version: req.model_version,
            model_type: req.model_type,
            model_framework: req.model_framework,
            is_custom: false,
            registry_item_id: String::new(),
            registry_item_version: String::new(),
            container_id: String::new(),
            container_version: String::new(),
            arguments: HashMap::new(),
            tags: req.tags,
        },
    )?;
    Ok(SubmitTrainingJobResponse { id })
}

/// The training script must be a registry item the caller can read.
pub fn submit_custom_training_job(
    api: &Api,
    who: &Principal,
    req: SubmitCustomTrainingJobRequest,
) -> ApiResult<SubmitCustomTrainingJobResponse> {
    let item = required("registry_item_id", &req.registry_item_id)?.to_string();
    required("registry_item_version", &req.registry_item_version)?;
    registry::get_registry_item(
        api,
        who,
        crate::proto::viam::app::v1::GetRegistryItemRequest {
            item_id: item.clone(),
            include_markdown_documentation: Some(false),
        },
    )?;
    if !req.container_id.is_empty() {
        api.store.read(|c| {
            let container = load_container(c, who, &req.container_id)?;
            if container.organization_id != req.organization_id {
                return Err(ApiError::invalid(
                    "container_id",
                    format!(
                        "container {:?} belongs to another organization",
                        req.container_id
                    ),
                ));
            }
            Ok(())
        })?;
    }
    let id = insert(
        api,
        who,
        NewJob {
            org_id: req.organization_id,
            dataset_id: req.dataset_id,
            model_name: req.model_name,
            model_version: req.model_version,
            model_type: ModelType::Unspecified as i32,
            model_framework: ModelFramework::Unspecified as i32,
            is_custom: true,
            registry_item_id: item,
            registry_item_version: req.registry_item_version,
            container_id: req.container_id,
            container_version: req.container_version,
            arguments: req.arguments,
            tags: vec![],
        },
    )?;
    Ok(SubmitCustomTrainingJobResponse { id })
}

const JOB_COLUMNS: &str = "id, org_id, dataset_id, model_name, model_version, model_type,
    model_framework, is_custom, registry_item_id, registry_item_version, container_id,
    container_version, arguments, tags, status, created_on, last_modified";

fn decode_json<T: serde::de::DeserializeOwned>(s: &str) -> rusqlite::Result<T> {
    serde_json::from_str(s).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn job_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<TrainingJobMetadata> {
    let status: i32 = r.get(14)?;
    let error_status = (status == TrainingStatus::Pending as i32).then(|| RpcStatus {
        code: UNIMPLEMENTED_CODE,
        message: NEVER_RUNS.into(),
        details: vec![],
    });
    Ok(TrainingJobMetadata {
        id: r.get(0)?,
        organization_id: r.get(1)?,
        dataset_id: r.get(2)?,
        model_name: r.get(3)?,
        model_version: r.get(4)?,
        model_type: r.get(5)?,
        model_framework: r.get(6)?,
        is_custom_job: r.get(7)?,
        registry_item_id: r.get(8)?,
        registry_item_version: r.get(9)?,
        container_id: r.get(10)?,
        container_version: r.get(11)?,
        arguments: decode_json(&r.get::<_, String>(12)?)?,
        tags: decode_json(&r.get::<_, String>(13)?)?,
        status,
        error_status,
        created_on: Some(to_ts(r.get(15)?)),
        last_modified: Some(to_ts(r.get(16)?)),
        training_started: None,
        training_ended: None,
        synced_model_id: String::new(),
        deployment_modular_resources: vec![],
    })
}

/// The job, once the caller is shown to hold `perm` on its organization.
fn load(c: &Connection, who: &Principal, perm: Perm, id: &str) -> ApiResult<TrainingJobMetadata> {
    required("id", id)?;
    let sql = format!("SELECT {JOB_COLUMNS} FROM training_jobs WHERE id = ?1");
    let job = found(row(c, &sql, [id], job_of), "training job", id)?;
    who.require(perm, &Scope::stored_org(&job.organization_id))?;
    Ok(job)
}

pub fn get_training_job(
    api: &Api,
    who: &Principal,
    req: GetTrainingJobRequest,
) -> ApiResult<GetTrainingJobResponse> {
    api.store.read(|c| {
        Ok(GetTrainingJobResponse {
            metadata: Some(load(c, who, Perm::ReadOrganizationDataManagement, &req.id)?),
        })
    })
}

/// Newest first; TRAINING_STATUS_UNSPECIFIED lists every job.
pub fn list_training_jobs(
    api: &Api,
    who: &Principal,
    req: ListTrainingJobsRequest,
) -> ApiResult<ListTrainingJobsResponse> {
    enum_value(
        "status",
        req.status,
        TrainingStatus::try_from(req.status).is_ok(),
        true,
    )?;
    api.store.read(|c| {
        org_scope(
            c,
            who,
            Perm::ReadOrganizationDataManagement,
            &req.organization_id,
        )?;
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM training_jobs WHERE org_id = ?1 AND (?2 = 0 OR status = ?2)
             ORDER BY created_on DESC, id DESC"
        );
        let mut stmt = c.prepare_cached(&sql)?;
        let jobs = stmt
            .query_map(params![req.organization_id, req.status], job_of)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ListTrainingJobsResponse { jobs })
    })
}

fn status_name(status: i32) -> String {
    TrainingStatus::try_from(status)
        .map_or_else(|_| status.to_string(), |s| s.as_str_name().to_string())
}

/// A pending job becomes canceled; any other is refused, naming its status.
pub fn cancel_training_job(
    api: &Api,
    who: &Principal,
    req: CancelTrainingJobRequest,
) -> ApiResult<CancelTrainingJobResponse> {
    api.store.tx(|tx| {
        let job = load(tx, who, Perm::WriteDataManagement, &req.id)?;
        if job.status != TrainingStatus::Pending as i32 {
            return Err(ApiError::FailedPrecondition(format!(
                "training job {:?} is {}: only a pending job can be canceled",
                req.id,
                status_name(job.status)
            )));
        }
        exec(
            tx,
            "UPDATE training_jobs SET status = ?2, last_modified = ?3 WHERE id = ?1",
            params![req.id, TrainingStatus::Canceled as i32, now()],
        )?;
        log(tx, &req.id, "info", "training job canceled")?;
        Ok(CancelTrainingJobResponse {})
    })
}

/// Deletes a job that has ended (completed, failed or canceled) with its log.
pub fn delete_completed_training_job(
    api: &Api,
    who: &Principal,
    req: DeleteCompletedTrainingJobRequest,
) -> ApiResult<DeleteCompletedTrainingJobResponse> {
    api.store.tx(|tx| {
        let job = load(tx, who, Perm::WriteDataManagement, &req.id)?;
        let ended = [
            TrainingStatus::Completed,
            TrainingStatus::Failed,
            TrainingStatus::Canceled,
        ]
        .iter()
        .any(|s| *s as i32 == job.status);
        if !ended {
            return Err(ApiError::FailedPrecondition(format!(
                "training job {:?} is {}: only a completed, failed or canceled job can be deleted; cancel it first (CancelTrainingJob)",
                req.id,
                status_name(job.status)
            )));
        }
        exec(tx, "DELETE FROM training_jobs WHERE id = ?1", [&req.id])?;
        Ok(DeleteCompletedTrainingJobResponse {})
    })
}

/// The whole log in one page (a job's log is a few lines: submitted, canceled).
pub fn get_training_job_logs(
    api: &Api,
    who: &Principal,
    req: GetTrainingJobLogsRequest,
) -> ApiResult<GetTrainingJobLogsResponse> {
    if req.page_token.as_deref().is_some_and(|t| !t.is_empty()) {
        return Err(ApiError::invalid(
            "page_token",
            "unknown: the local fleet returns a job's whole log in one page, with an empty next_page_token",
        ));
    }
    api.store.read(|c| {
        load(c, who, Perm::ReadOrganizationDataManagement, &req.id)?;
        let mut stmt = c.prepare_cached(
            "SELECT level, time, message FROM training_job_logs WHERE job_id = ?1 ORDER BY seq",
        )?;
        let logs = stmt
            .query_map([&req.id], |r| {
                Ok(TrainingJobLogEntry {
                    level: r.get(0)?,
                    time: Some(to_ts(r.get(1)?)),
                    message: r.get(2)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(GetTrainingJobLogsResponse {
            logs,
            next_page_token: String::new(),
        })
    })
}

/// No built-in training containers exist locally.
pub fn list_supported_containers(
    _api: &Api,
    _who: &Principal,
    _req: ListSupportedContainersRequest,
) -> ApiResult<ListSupportedContainersResponse> {
    Ok(ListSupportedContainersResponse {
        container_map: HashMap::new(),
    })
}

fn container_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<Container> {
    Ok(Container {
        id: r.get(0)?,
        organization_id: r.get(1)?,
        uri: r.get(2)?,
        description: r.get(3)?,
        created_on: Some(to_ts(r.get(4)?)),
        visibility: Visibility::Private as i32,
        ..Default::default()
    })
}

const CONTAINER_COLUMNS: &str = "id, org_id, image_uri, description, created_on";

/// The container, once the caller is shown to read its organization's data management.
fn load_container(c: &Connection, who: &Principal, id: &str) -> ApiResult<Container> {
    required("id", id)?;
    let sql = format!("SELECT {CONTAINER_COLUMNS} FROM training_containers WHERE id = ?1");
    let container = found(row(c, &sql, [id], container_of), "training container", id)?;
    who.require(
        Perm::ReadOrganizationDataManagement,
        &Scope::stored_org(&container.organization_id),
    )?;
    Ok(container)
}

/// The organization's registered containers, oldest first.
pub fn list_containers(
    api: &Api,
    who: &Principal,
    req: ListContainersRequest,
) -> ApiResult<ListContainersResponse> {
    api.store.read(|c| {
        org_scope(
            c,
            who,
            Perm::ReadOrganizationDataManagement,
            &req.organization_id,
        )?;
        let sql = format!(
            "SELECT {CONTAINER_COLUMNS} FROM training_containers WHERE org_id = ?1 ORDER BY created_on, id"
        );
        let mut stmt = c.prepare_cached(&sql)?;
        let containers = stmt
            .query_map([&req.organization_id], container_of)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ListContainersResponse { containers })
    })
}

pub fn get_container(
    api: &Api,
    who: &Principal,
    req: GetContainerRequest,
) -> ApiResult<GetContainerResponse> {
    api.store.read(|c| {
        Ok(GetContainerResponse {
            container: Some(load_container(c, who, &req.id)?),
        })
    })
}

/// Records the image reference; nothing is pulled or run.
pub fn register_custom_training_container(
    api: &Api,
    who: &Principal,
    req: RegisterCustomTrainingContainerRequest,
) -> ApiResult<RegisterCustomTrainingContainerResponse> {
    let uri = required("image_uri", &req.image_uri)?;
    if uri.chars().any(char::is_whitespace) {
        return Err(ApiError::invalid(
            "image_uri",
            format!("{uri:?} is not an image reference (it holds white space)"),
        ));
    }
    let description = required("description", &req.description)?;
    let id = new_id();
    api.store.tx(|tx| {
        org_scope(tx, who, Perm::WriteDataManagement, &req.organization_id)?;
        exec(
            tx,
            "INSERT INTO training_containers(id, org_id, image_uri, description, created_on)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, req.organization_id, uri, description, now()],
        )?;
        Ok(())
    })?;
    Ok(RegisterCustomTrainingContainerResponse { id })
}

pub fn delete_custom_training_container(
    api: &Api,
    who: &Principal,
    req: DeleteCustomTrainingContainerRequest,
) -> ApiResult<DeleteCustomTrainingContainerResponse> {
    api.store.tx(|tx| {
        let container = load_container(tx, who, &req.id)?;
        who.require(
            Perm::WriteDataManagement,
            &Scope::stored_org(&container.organization_id),
        )?;
        exec(
            tx,
            "DELETE FROM training_containers WHERE id = ?1",
            [&req.id],
        )?;
        Ok(DeleteCustomTrainingContainerResponse {})
    })
}
