//! Datasets (issue 12): named sets of an organization's binary data. A dataset is an
//! organization-wide thing: creating, renaming, merging and deleting one needs
//! write_data_management on the organization; listing needs a data-reading grant somewhere in
//! it (as data reads). Putting binary data in (or taking it out) is a change to that data: it
//! needs write_data_management on each item and a data-writing grant in the dataset's
//! organization, and the item must lie in that organization. Deleting a dataset keeps its data.

use rusqlite::{Connection, OptionalExtension, params};

use super::Access;
use crate::proto::viam::app::data::v1::{
    AddBinaryDataToDatasetByIDsRequest, AddBinaryDataToDatasetByIDsResponse,
    RemoveBinaryDataFromDatasetByIDsRequest, RemoveBinaryDataFromDatasetByIDsResponse,
};
use crate::proto::viam::app::dataset::v1::*;
use crate::server::Api;
use crate::server::authz::{Perm, Principal, Scope};
use crate::server::error::{ApiError, ApiResult, required};
use crate::server::store::{exec, new_id, now, to_ts};

/// A stored dataset.
#[derive(Debug, Clone)]
pub(super) struct Stored {
    pub id: String,
    pub org_id: String,
    pub name: String,
    kind: i32,
    time_created: i64,
}

impl Stored {
    /// Refuses a sequence dataset where binary data would go in: it holds sequences only.
    fn holds_binary(&self, field: &str) -> ApiResult<()> {
        if self.kind == DatasetType::SequenceData as i32 {
            return Err(ApiError::FailedPrecondition(format!(
                "{field}: dataset {:?} holds sequences, not binary data; use a \
                 DATASET_TYPE_BINARY_DATA dataset",
                self.id
            )));
        }
        Ok(())
    }

    /// Refuses a binary-data dataset where sequences would go in (sequences.rs).
    pub(super) fn holds_sequences(&self, field: &str) -> ApiResult<()> {
        if self.kind != DatasetType::SequenceData as i32 {
            return Err(ApiError::FailedPrecondition(format!(
                "{field}: dataset {:?} holds binary data, not sequences; use a \
                 DATASET_TYPE_SEQUENCE_DATA dataset",
                self.id
            )));
        }
        Ok(())
    }

    fn to_proto(&self) -> Dataset {
        Dataset {
            id: self.id.clone(),
            name: self.name.clone(),
            organization_id: self.org_id.clone(),
            time_created: Some(to_ts(self.time_created)),
            r#type: self.kind,
        }
    }
}

const COLUMNS: &str = "id, org_id, name, type, time_created";

fn stored(r: &rusqlite::Row<'_>) -> rusqlite::Result<Stored> {
    Ok(Stored {
        id: r.get(0)?,
        org_id: r.get(1)?,
        name: r.get(2)?,
        kind: r.get(3)?,
        time_created: r.get(4)?,
    })
}

/// The dataset `id` (named by `field` in errors), or NOT_FOUND.
pub(super) fn get(c: &Connection, field: &str, id: &str) -> ApiResult<Stored> {
    let id = required(field, id)?;
    c.prepare_cached(&format!("SELECT {COLUMNS} FROM datasets WHERE id = ?1"))?
        .query_row([id], stored)
        .optional()?
        .ok_or_else(|| ApiError::not_found("dataset", id))
}

/// The dataset `id`, once the caller holds a grant allowing `perm` on data in its organization.
pub(super) fn usable(
    c: &Connection,
    who: &Principal,
    perm: Perm,
    field: &str,
    id: &str,
) -> ApiResult<Stored> {
    let d = get(c, field, id)?;
    Access::of(c, who, perm)?.require_in(perm, &d.org_id, &format!("dataset {:?}", d.id))?;
    Ok(d)
}

/// Checks the dataset a training job in `org_id` names (MLTrainingService): it exists, the
/// caller may read data in its organization, and it lies in the job's organization.
pub(crate) fn check_training(
    c: &Connection,
    who: &Principal,
    org_id: &str,
    id: &str,
) -> ApiResult<()> {
    let d = get(c, "dataset_id", id).map_err(|e| match e {
        ApiError::NotFound(m) => ApiError::NotFound(format!(
            "dataset_id: {m}: create the dataset first (cloud.data.create_dataset, \
             DatasetService/CreateDataset) and add the binary data to train on, or pick one of \
             cloud.data.list_datasets_by_organization_id()"
        )),
        e => e,
    })?;
    d.holds_binary("dataset_id")?;
    let perm = Perm::ReadRobotDataManagement;
    Access::of(c, who, perm)?.require_in(perm, &d.org_id, &format!("dataset {:?}", d.id))?;
    if d.org_id != org_id {
        return Err(ApiError::denied(format!(
            "dataset {:?} lies in organization {:?}, not in the job's organization {org_id:?}: \
             submit the job in the dataset's organization or use a dataset of {org_id:?}",
            d.id, d.org_id
        )));
    }
    Ok(())
}

/// The dataset `id`, once the caller may write data of its whole organization.
fn writable(c: &Connection, who: &Principal, field: &str, id: &str) -> ApiResult<Stored> {
    let d = get(c, field, id)?;
    who.require(Perm::WriteDataManagement, &Scope::stored_org(&d.org_id))?;
    Ok(d)
}

fn kind_of(field: &str, t: Option<i32>) -> ApiResult<Option<i32>> {
    match t {
        None => Ok(None),
        Some(t) => DatasetType::try_from(t)
            .map(|k| Some(k as i32))
            .map_err(|_| ApiError::invalid(field, format!("unknown dataset type {t}"))),
    }
}

/// A dataset name, trimmed; ALREADY_EXISTS when the organization has another of that name.
fn new_name<'a>(
    c: &Connection,
    org_id: &str,
    name: &'a str,
    except: Option<&str>,
) -> ApiResult<&'a str> {
    super::unique_name(
        c,
        ("datasets", "a dataset", "use that dataset"),
        org_id,
        name,
        except,
    )
}

fn insert(c: &Connection, org_id: &str, name: &str, kind: i32) -> ApiResult<String> {
    let id = new_id();
    exec(
        c,
        "INSERT INTO datasets(id, org_id, name, type, time_created) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id, org_id, name, kind, now()],
    )?;
    Ok(id)
}

pub fn create_dataset(
    api: &Api,
    who: &Principal,
    req: CreateDatasetRequest,
) -> ApiResult<CreateDatasetResponse> {
    let kind = kind_of("type", req.r#type)?.unwrap_or(DatasetType::BinaryData as i32);
    api.store.tx(|tx| {
        let scope = Scope::organization(tx, &req.organization_id)?;
        who.require(Perm::WriteDataManagement, &scope)?;
        let name = new_name(tx, &scope.org_id, &req.name, None)?;
        let id = insert(tx, &scope.org_id, name, kind)?;
        Ok(CreateDatasetResponse { id })
    })
}

pub fn delete_dataset(
    api: &Api,
    who: &Principal,
    req: DeleteDatasetRequest,
) -> ApiResult<DeleteDatasetResponse> {
    api.store.tx(|tx| {
        let d = writable(tx, who, "id", &req.id)?;
        // Its memberships go with it (ON DELETE CASCADE); the binary data stays.
        exec(tx, "DELETE FROM datasets WHERE id = ?1", [&d.id])?;
        Ok(())
    })?;
    // Its export jobs went with it (ON DELETE CASCADE); their archives go now.
    super::sequence_exports::remove_orphans(api);
    Ok(DeleteDatasetResponse {})
}

pub fn rename_dataset(
    api: &Api,
    who: &Principal,
    req: RenameDatasetRequest,
) -> ApiResult<RenameDatasetResponse> {
    api.store.tx(|tx| {
        let d = writable(tx, who, "id", &req.id)?;
        let name = new_name(tx, &d.org_id, &req.name, Some(&d.id))?;
        exec(
            tx,
            "UPDATE datasets SET name = ?2 WHERE id = ?1",
            params![d.id, name],
        )?;
        Ok(RenameDatasetResponse {})
    })
}

pub fn list_datasets_by_organization_id(
    api: &Api,
    who: &Principal,
    req: ListDatasetsByOrganizationIdRequest,
) -> ApiResult<ListDatasetsByOrganizationIdResponse> {
    let kind = kind_of("type", req.r#type)?;
    api.store.read(|c| {
        let scope = Scope::organization(c, &req.organization_id)?;
        let perm = Perm::ReadRobotDataManagement;
        Access::of(c, who, perm)?.require_in(perm, &scope.org_id, &scope.what)?;
        let mut stmt = c.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM datasets WHERE org_id = ?1 AND (?2 IS NULL OR type = ?2)
             ORDER BY time_created, name"
        ))?;
        let rows = stmt.query_map(params![scope.org_id, kind], stored)?;
        let datasets = rows
            .map(|r| r.map(|d| d.to_proto()))
            .collect::<Result<_, _>>()?;
        Ok(ListDatasetsByOrganizationIdResponse { datasets })
    })
}

pub fn list_datasets_by_i_ds(
    api: &Api,
    who: &Principal,
    req: ListDatasetsByIDsRequest,
) -> ApiResult<ListDatasetsByIDsResponse> {
    if req.ids.is_empty() {
        return Err(ApiError::invalid("ids", "required: name at least one"));
    }
    api.store.read(|c| {
        let datasets = req
            .ids
            .iter()
            .map(|id| {
                usable(c, who, Perm::ReadRobotDataManagement, "ids", id).map(|d| d.to_proto())
            })
            .collect::<ApiResult<_>>()?;
        Ok(ListDatasetsByIDsResponse { datasets })
    })
}

pub fn merge_datasets(
    api: &Api,
    who: &Principal,
    req: MergeDatasetsRequest,
) -> ApiResult<MergeDatasetsResponse> {
    if req.dataset_ids.is_empty() {
        return Err(ApiError::invalid(
            "dataset_ids",
            "required: name the datasets to merge",
        ));
    }
    api.store.tx(|tx| {
        let scope = Scope::organization(tx, &req.organization_id)?;
        who.require(Perm::WriteDataManagement, &scope)?;
        let mut kind = None;
        for id in &req.dataset_ids {
            let d = get(tx, "dataset_ids", id)?;
            if d.org_id != scope.org_id {
                return Err(ApiError::denied(format!(
                    "dataset {:?} lies in another organization than {:?}",
                    d.id, scope.org_id
                )));
            }
            if kind.is_some_and(|k| k != d.kind) {
                return Err(ApiError::FailedPrecondition(format!(
                    "dataset_ids: dataset {:?} is of another type than the others; merge datasets of one type",
                    d.id
                )));
            }
            kind = Some(d.kind);
        }
        let name = new_name(tx, &scope.org_id, &req.name, None)?;
        let dataset_id = insert(tx, &scope.org_id, name, kind.unwrap_or_default())?;
        exec(
            tx,
            "INSERT OR IGNORE INTO dataset_binary(dataset_id, binary_id)
             SELECT ?1, binary_id FROM dataset_binary
             WHERE dataset_id IN (SELECT value FROM json_each(?2))",
            params![dataset_id, serde_json::to_string(&req.dataset_ids).unwrap_or_default()],
        )?;
        // A merge of sequence datasets holds their sequences.
        super::sequences::copy_memberships(tx, &dataset_id, &req.dataset_ids)?;
        Ok(MergeDatasetsResponse { dataset_id })
    })
}

/// The dataset and binary data of an Add/Remove request, checked: the caller may write the
/// data and the dataset's organization, and every item lies in that organization.
fn membership(
    c: &Connection,
    who: &Principal,
    dataset_id: &str,
    ids: &[String],
) -> ApiResult<Stored> {
    let perm = Perm::WriteDataManagement;
    let d = usable(c, who, perm, "dataset_id", dataset_id)?;
    d.holds_binary("dataset_id")?;
    for (id, org) in super::binary::orgs_of(c, who, perm, ids)? {
        if org != d.org_id {
            return Err(ApiError::invalid(
                "binary_data_ids",
                format!(
                    "binary data {id:?} lies in another organization than dataset {:?}",
                    d.id
                ),
            ));
        }
    }
    Ok(d)
}

pub fn add_binary_data_to_dataset_by_i_ds(
    api: &Api,
    who: &Principal,
    req: AddBinaryDataToDatasetByIDsRequest,
) -> ApiResult<AddBinaryDataToDatasetByIDsResponse> {
    let ids = super::binary::ids_of(&req.binary_data_ids, &req.binary_ids)?;
    api.store.tx(|tx| {
        let d = membership(tx, who, &req.dataset_id, &ids)?;
        for id in &ids {
            exec(
                tx,
                "INSERT OR IGNORE INTO dataset_binary(dataset_id, binary_id) VALUES (?1, ?2)",
                [&d.id, id],
            )?;
        }
        Ok(AddBinaryDataToDatasetByIDsResponse {})
    })
}

pub fn remove_binary_data_from_dataset_by_i_ds(
    api: &Api,
    who: &Principal,
    req: RemoveBinaryDataFromDatasetByIDsRequest,
) -> ApiResult<RemoveBinaryDataFromDatasetByIDsResponse> {
    let ids = super::binary::ids_of(&req.binary_data_ids, &req.binary_ids)?;
    api.store.tx(|tx| {
        let d = membership(tx, who, &req.dataset_id, &ids)?;
        for id in &ids {
            exec(
                tx,
                "DELETE FROM dataset_binary WHERE dataset_id = ?1 AND binary_id = ?2",
                [&d.id, id],
            )?;
        }
        Ok(RemoveBinaryDataFromDatasetByIDsResponse {})
    })
}

/// The datasets holding binary data `id`, for its metadata.
pub(super) fn of_binary(c: &Connection, id: &str) -> ApiResult<Vec<String>> {
    let mut stmt = c.prepare_cached(
        "SELECT dataset_id FROM dataset_binary WHERE binary_id = ?1 ORDER BY dataset_id",
    )?;
    let rows = stmt.query_map([id], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Checks an upload's `dataset_ids`: each exists and lies in the organization of the part
/// uploading (a part writes into its own organization's datasets only).
pub(super) fn check_upload(c: &Connection, org_id: &str, ids: &[String]) -> ApiResult<()> {
    for id in ids {
        let d = get(c, "metadata.dataset_ids", id)?;
        d.holds_binary("metadata.dataset_ids")?;
        if d.org_id != org_id {
            return Err(ApiError::denied(format!(
                "dataset {:?} lies in another organization than the uploading part",
                d.id
            )));
        }
    }
    Ok(())
}

/// Puts uploaded binary data `binary_id` into `ids` (already checked).
pub(super) fn add_uploaded(c: &Connection, binary_id: &str, ids: &[String]) -> ApiResult<()> {
    for id in ids {
        exec(
            c,
            "INSERT OR IGNORE INTO dataset_binary(dataset_id, binary_id) VALUES (?1, ?2)",
            [id.trim(), binary_id],
        )?;
    }
    Ok(())
}
