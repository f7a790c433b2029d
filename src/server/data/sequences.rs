//! Sequences (issue 12): a part's binary data between two times from named resources (a
//! component name, and a method when one is given), with tags, kept as that definition. Its
//! binary data is whatever stored binary data of the part matches it when asked (with the real
//! bytes and metadata), so deleting binary data takes it out of every sequence and no sequence
//! can name data that is gone. Sequences go into and out of DATASET_TYPE_SEQUENCE_DATA datasets;
//! deleting a dataset (or a sequence) ends its memberships, deleting the organization its
//! sequences.
//!
//! Who sees what is the data model's (mod.rs): a sequence is data of its part's organization,
//! location and machine, as recorded at creation; reading one needs a data-reading grant that
//! covers it, changing, deleting or putting one in a dataset a data-writing one.

use prost_types::Timestamp;
use rusqlite::types::Value as Sql;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::json;

use super::{Access, Source, Where, parse_tags, tags_json};
use crate::proto::viam::app::data::v1::*;
use crate::server::Api;
use crate::server::authz::{Perm, Principal, Scope};
use crate::server::error::{ApiError, ApiResult, required};
use crate::server::store::{exec, new_id, now, to_ts};

/// Sequences per page when a request names no page size, and the most it may ask for.
const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 1000;

/// The paths UpdateSequence's field mask may name.
const MUTABLE: [&str; 4] = ["resources", "sequence_tags", "start_time", "end_time"];

/// Protobuf's Timestamp range: 0001-01-01 to 9999-12-31.
const MIN_SECONDS: i64 = -62_135_596_800;
const MAX_SECONDS: i64 = 253_402_300_799;

const COLUMNS: &str = "id, seq, org_id, location_id, robot_id, part_id, resources, tags, \
     start_time, end_time, created_at, updated_at";

/// A stored sequence.
struct Stored {
    id: String,
    seq: i64,
    org_id: String,
    location_id: String,
    robot_id: String,
    part_id: String,
    resources: Vec<SequenceResourceFilter>,
    tags: Vec<String>,
    start: i64,
    end: i64,
    created: i64,
    updated: i64,
}

fn stored(r: &rusqlite::Row<'_>) -> rusqlite::Result<Stored> {
    Ok(Stored {
        id: r.get(0)?,
        seq: r.get(1)?,
        org_id: r.get(2)?,
        location_id: r.get(3)?,
        robot_id: r.get(4)?,
        part_id: r.get(5)?,
        resources: resources_from_json(&r.get::<_, String>(6)?),
        tags: parse_tags(&r.get::<_, String>(7)?),
        start: r.get(8)?,
        end: r.get(9)?,
        created: r.get(10)?,
        updated: r.get(11)?,
    })
}

fn resources_json(resources: &[SequenceResourceFilter]) -> String {
    let v: Vec<_> = resources
        .iter()
        .map(|r| json!({"resource_name": r.resource_name, "method_name": r.method_name}))
        .collect();
    serde_json::Value::Array(v).to_string()
}

fn resources_from_json(text: &str) -> Vec<SequenceResourceFilter> {
    let v: Vec<serde_json::Value> = serde_json::from_str(text).unwrap_or_default();
    let s = |r: &serde_json::Value, k: &str| r[k].as_str().unwrap_or_default().to_string();
    v.iter()
        .map(|r| SequenceResourceFilter {
            resource_name: s(r, "resource_name"),
            method_name: s(r, "method_name"),
        })
        .collect()
}

/// The resources of a request, trimmed: at least one, each naming its resource.
fn checked_resources(rs: &[SequenceResourceFilter]) -> ApiResult<Vec<SequenceResourceFilter>> {
    if rs.is_empty() {
        return Err(ApiError::invalid(
            "resources",
            "required: name at least one resource (its component name, and a method_name to \
             keep only that method's data)",
        ));
    }
    rs.iter()
        .map(|r| {
            Ok(SequenceResourceFilter {
                resource_name: required("resources.resource_name", &r.resource_name)?.to_string(),
                method_name: r.method_name.trim().to_string(),
            })
        })
        .collect()
}

fn checked_tags(tags: &[String]) -> ApiResult<String> {
    for t in tags {
        required("sequence_tags", t)?;
    }
    let trimmed: Vec<String> = tags.iter().map(|t| t.trim().to_string()).collect();
    Ok(tags_json(&trimmed))
}

/// A required time, as Unix ns.
fn time_of(field: &str, ts: Option<&Timestamp>) -> ApiResult<i64> {
    let ts = ts.ok_or_else(|| ApiError::invalid(field, "required"))?;
    if !(MIN_SECONDS..=MAX_SECONDS).contains(&ts.seconds) || !(0..1_000_000_000).contains(&ts.nanos)
    {
        return Err(ApiError::invalid(
            field,
            "not a valid timestamp (years 1 to 9999, nanos 0 to 999999999)",
        ));
    }
    Ok(crate::server::store::from_ts(ts))
}

fn check_span(start: i64, end: i64) -> ApiResult<()> {
    if start > end {
        return Err(ApiError::invalid(
            "end_time",
            "the sequence ends before it starts; give an end_time at or after start_time",
        ));
    }
    Ok(())
}

fn page_size(n: u32) -> ApiResult<usize> {
    match n {
        0 => Ok(DEFAULT_PAGE as usize),
        n if n <= MAX_PAGE => Ok(n as usize),
        n => Err(ApiError::invalid(
            "page_size",
            format!("{n} is more than {MAX_PAGE}; ask for at most {MAX_PAGE} per page"),
        )),
    }
}

/// A sequence page token: the `seq` of the page's last sequence.
fn after_of(token: &str) -> ApiResult<i64> {
    if token.is_empty() {
        return Ok(0);
    }
    token.parse().map_err(|_| {
        ApiError::invalid(
            "page_token",
            format!("{token:?} is not a page token this server returned"),
        )
    })
}

/// The sequence `id` (named by `field` in errors), or NOT_FOUND.
fn get(c: &Connection, field: &str, id: &str) -> ApiResult<Stored> {
    let id = required(field, id)?;
    c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM data_sequences WHERE id = ?1"
    ))?
    .query_row([id], stored)
    .optional()?
    .ok_or_else(|| ApiError::not_found("sequence", id))
}

/// The sequence `id`, once the caller's grants allowing `perm` on data cover it.
fn usable(c: &Connection, who: &Principal, perm: Perm, field: &str, id: &str) -> ApiResult<Stored> {
    let s = get(c, field, id)?;
    if !Access::of(c, who, perm)?.covers(&s.org_id, &s.location_id, &s.robot_id) {
        return Err(ApiError::denied(format!("{perm} on sequence {:?}", s.id)));
    }
    Ok(s)
}

fn dataset_ids(c: &Connection, id: &str) -> ApiResult<Vec<String>> {
    let mut stmt = c.prepare_cached(
        "SELECT dataset_id FROM dataset_sequences WHERE sequence_id = ?1 ORDER BY dataset_id",
    )?;
    let rows = stmt.query_map([id], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn to_proto(c: &Connection, s: Stored) -> ApiResult<Sequence> {
    Ok(Sequence {
        dataset_ids: dataset_ids(c, &s.id)?,
        id: s.id,
        part_id: s.part_id,
        sequence_tags: s.tags,
        created_at: Some(to_ts(s.created)),
        updated_at: Some(to_ts(s.updated)),
        start_time: Some(to_ts(s.start)),
        end_time: Some(to_ts(s.end)),
        resources: s.resources,
    })
}

/// A page of the sequences `w` matches after the token, and the next token ("" after the last).
fn page(
    c: &Connection,
    mut w: Where,
    token: &str,
    size: u32,
) -> ApiResult<(Vec<Sequence>, String)> {
    let limit = page_size(size)?;
    w.push("seq > ?", [Sql::Integer(after_of(token)?)]);
    let sql = format!(
        "SELECT {COLUMNS} FROM data_sequences WHERE {} ORDER BY seq LIMIT ?",
        w.sql()
    );
    let params = w
        .params
        .iter()
        .cloned()
        .chain([Sql::Integer(limit as i64 + 1)]);
    let mut rows = c
        .prepare_cached(&sql)?
        .query_map(rusqlite::params_from_iter(params), stored)?
        .collect::<Result<Vec<_>, _>>()?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next = match rows.last() {
        Some(s) if more => s.seq.to_string(),
        _ => String::new(),
    };
    let seqs = rows
        .into_iter()
        .map(|s| to_proto(c, s))
        .collect::<ApiResult<_>>()?;
    Ok((seqs, next))
}

pub fn create_sequence(
    api: &Api,
    who: &Principal,
    req: CreateSequenceRequest,
) -> ApiResult<CreateSequenceResponse> {
    let part_id = required("part_id", &req.part_id)?;
    let resources = checked_resources(&req.resources)?;
    let tags = checked_tags(&req.sequence_tags)?;
    let start = time_of("start_time", req.start_time.as_ref())?;
    let end = time_of("end_time", req.end_time.as_ref())?;
    check_span(start, end)?;
    let id = new_id();
    api.store.tx(|tx| {
        who.require(Perm::WriteDataManagement, &Scope::part(tx, part_id)?)?;
        let src = Source::of_part(tx, part_id)?;
        let t = now();
        exec(
            tx,
            "INSERT INTO data_sequences(id, seq, org_id, location_id, robot_id, part_id,
                 resources, tags, start_time, end_time, created_at, updated_at)
             VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM data_sequences), ?2, ?3, ?4,
                 ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
            params![
                id,
                src.org_id,
                src.location_id,
                src.robot_id,
                src.part_id,
                resources_json(&resources),
                tags,
                start,
                end,
                t
            ],
        )?;
        Ok(())
    })?;
    Ok(CreateSequenceResponse { id })
}

pub fn get_sequence(
    api: &Api,
    who: &Principal,
    req: GetSequenceRequest,
) -> ApiResult<GetSequenceResponse> {
    api.store.read(|c| {
        let s = usable(c, who, Perm::ReadRobotDataManagement, "id", &req.id)?;
        Ok(GetSequenceResponse {
            sequence: Some(to_proto(c, s)?),
        })
    })
}

pub fn update_sequence(
    api: &Api,
    who: &Principal,
    req: UpdateSequenceRequest,
) -> ApiResult<UpdateSequenceResponse> {
    let paths = req
        .field_mask
        .as_ref()
        .map(|m| m.paths.as_slice())
        .unwrap_or_default();
    if paths.is_empty() {
        return Err(ApiError::invalid(
            "field_mask",
            format!(
                "required: name the fields to change ({})",
                MUTABLE.join(", ")
            ),
        ));
    }
    if let Some(p) = paths.iter().find(|p| !MUTABLE.contains(&p.as_str())) {
        return Err(ApiError::invalid(
            "field_mask",
            format!(
                "{p:?} cannot be changed; name any of {}",
                MUTABLE.join(", ")
            ),
        ));
    }
    let has = |f: &str| paths.iter().any(|p| p == f);
    api.store.tx(|tx| {
        let s = usable(tx, who, Perm::WriteDataManagement, "id", &req.id)?;
        let resources = if has("resources") {
            checked_resources(&req.resources)?
        } else {
            s.resources
        };
        let tags = if has("sequence_tags") {
            checked_tags(&req.sequence_tags)?
        } else {
            tags_json(&s.tags)
        };
        let start = if has("start_time") {
            time_of("start_time", req.start_time.as_ref())?
        } else {
            s.start
        };
        let end = if has("end_time") {
            time_of("end_time", req.end_time.as_ref())?
        } else {
            s.end
        };
        check_span(start, end)?;
        exec(
            tx,
            "UPDATE data_sequences SET resources = ?2, tags = ?3, start_time = ?4, end_time = ?5,
                 updated_at = ?6 WHERE id = ?1",
            params![s.id, resources_json(&resources), tags, start, end, now()],
        )?;
        Ok(UpdateSequenceResponse {})
    })
}

pub fn delete_sequence(
    api: &Api,
    who: &Principal,
    req: DeleteSequenceRequest,
) -> ApiResult<DeleteSequenceResponse> {
    api.store.tx(|tx| {
        let s = usable(tx, who, Perm::WriteDataManagement, "id", &req.id)?;
        // Its memberships go with it (ON DELETE CASCADE); the binary data stays.
        exec(tx, "DELETE FROM data_sequences WHERE id = ?1", [&s.id])?;
        Ok(DeleteSequenceResponse {})
    })
}

/// The sequences of an organization that the caller's data-reading grants cover.
pub fn list_sequences(
    api: &Api,
    who: &Principal,
    req: ListSequencesRequest,
) -> ApiResult<ListSequencesResponse> {
    api.store.read(|c| {
        let scope = Scope::organization(c, &req.organization_id)?;
        let perm = Perm::ReadRobotDataManagement;
        let access = Access::of(c, who, perm)?;
        access.require_in(perm, &scope.org_id, &scope.what)?;
        let mut w = Where::new(&access);
        w.eq("org_id", &scope.org_id);
        let (sequences, next_page_token) = page(c, w, &req.page_token, req.page_size)?;
        Ok(ListSequencesResponse {
            sequences,
            next_page_token,
        })
    })
}

/// Narrows `w` (over data_binary) to what sequence `s` selects: its part's binary data of its
/// resources within its time span.
fn selecting(w: &mut Where, s: &Stored) {
    w.push("part_id = ?", [Sql::Text(s.part_id.clone())]);
    w.push(
        "time_requested BETWEEN ? AND ?",
        [Sql::Integer(s.start), Sql::Integer(s.end)],
    );
    w.push(
        "EXISTS (SELECT 1 FROM json_each(?) r
             WHERE json_extract(r.value, '$.resource_name') = component_name
             AND json_extract(r.value, '$.method_name') IN ('', method_name))",
        [Sql::Text(resources_json(&s.resources))],
    );
}

/// A dataset's sequences in creation order, each with the ids of the binary data it selects
/// in capture order: what an export of the dataset holds (sequence_exports.rs).
pub(super) fn with_binary_ids(
    c: &Connection,
    dataset_id: &str,
) -> ApiResult<Vec<(Sequence, Vec<String>)>> {
    let rows = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM data_sequences
             WHERE id IN (SELECT sequence_id FROM dataset_sequences WHERE dataset_id = ?1)
             ORDER BY seq"
        ))?
        .query_map([dataset_id], stored)?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(|s| {
            let mut w = Where::default();
            selecting(&mut w, &s);
            let sql = format!(
                "SELECT id FROM data_binary WHERE {} ORDER BY time_requested, seq",
                w.sql()
            );
            let ids = c
                .prepare_cached(&sql)?
                .query_map(rusqlite::params_from_iter(w.params.iter()), |r| r.get(0))?
                .collect::<Result<Vec<String>, _>>()?;
            Ok((to_proto(c, s)?, ids))
        })
        .collect()
}

/// The binary data of a part that a sequence's time span and resources select, in capture
/// order, with the bytes.
pub fn get_sequence_binary_data(
    api: &Api,
    who: &Principal,
    req: GetSequenceBinaryDataRequest,
) -> ApiResult<GetSequenceBinaryDataResponse> {
    let limit = page_size(req.page_size)?;
    api.store.read(|c| {
        let perm = Perm::ReadRobotDataManagement;
        let s = usable(c, who, perm, "sequence_id", &req.sequence_id)?;
        let mut w = Where::new(&Access::of(c, who, perm)?);
        selecting(&mut w, &s);
        let (data, next_page_token) =
            super::binary::page_in_order(api, c, w, "page_token", &req.page_token, limit)?;
        Ok(GetSequenceBinaryDataResponse {
            data,
            next_page_token,
        })
    })
}

/// A dataset's sequences that the caller's data-reading grants cover, a page of them or
/// their count.
pub fn sequences_by_dataset_id(
    api: &Api,
    who: &Principal,
    req: SequencesByDatasetIdRequest,
) -> ApiResult<SequencesByDatasetIdResponse> {
    api.store.read(|c| {
        let perm = Perm::ReadRobotDataManagement;
        let d = super::datasets::usable(c, who, perm, "dataset_id", &req.dataset_id)?;
        let mut w = Where::new(&Access::of(c, who, perm)?);
        w.push(
            "id IN (SELECT sequence_id FROM dataset_sequences WHERE dataset_id = ?)",
            [Sql::Text(d.id)],
        );
        let count: i64 = c
            .prepare_cached(&format!(
                "SELECT COUNT(*) FROM data_sequences WHERE {}",
                w.sql()
            ))?
            .query_row(rusqlite::params_from_iter(w.params.iter()), |r| r.get(0))?;
        if req.count_only {
            return Ok(SequencesByDatasetIdResponse {
                count: count as u64,
                ..Default::default()
            });
        }
        let (sequences, next_page_token) = page(c, w, &req.page_token, req.page_size)?;
        Ok(SequencesByDatasetIdResponse {
            sequences,
            next_page_token,
            count: count as u64,
        })
    })
}

/// The dataset and sequences of an Add/Remove request, checked: the caller may write the
/// dataset's organization's data and each sequence, the dataset holds sequences, and every
/// sequence lies in its organization.
fn membership(
    c: &Connection,
    who: &Principal,
    dataset_id: &str,
    ids: &[String],
) -> ApiResult<(String, Vec<String>)> {
    if ids.is_empty() {
        return Err(ApiError::invalid(
            "sequence_ids",
            "required: name at least one",
        ));
    }
    let perm = Perm::WriteDataManagement;
    let d = super::datasets::usable(c, who, perm, "dataset_id", dataset_id)?;
    d.holds_sequences("dataset_id")?;
    let mut checked = Vec::with_capacity(ids.len());
    for id in ids {
        let s = usable(c, who, perm, "sequence_ids", id)?;
        if s.org_id != d.org_id {
            return Err(ApiError::invalid(
                "sequence_ids",
                format!(
                    "sequence {:?} lies in another organization than dataset {:?}",
                    s.id, d.id
                ),
            ));
        }
        checked.push(s.id);
    }
    Ok((d.id, checked))
}

pub fn add_sequences_to_dataset(
    api: &Api,
    who: &Principal,
    req: AddSequencesToDatasetRequest,
) -> ApiResult<AddSequencesToDatasetResponse> {
    api.store.tx(|tx| {
        let (d, ids) = membership(tx, who, &req.dataset_id, &req.sequence_ids)?;
        for id in &ids {
            exec(
                tx,
                "INSERT OR IGNORE INTO dataset_sequences(dataset_id, sequence_id) VALUES (?1, ?2)",
                [&d, id],
            )?;
        }
        Ok(AddSequencesToDatasetResponse {})
    })
}

pub fn remove_sequences_from_dataset(
    api: &Api,
    who: &Principal,
    req: RemoveSequencesFromDatasetRequest,
) -> ApiResult<RemoveSequencesFromDatasetResponse> {
    api.store.tx(|tx| {
        let (d, ids) = membership(tx, who, &req.dataset_id, &req.sequence_ids)?;
        for id in &ids {
            exec(
                tx,
                "DELETE FROM dataset_sequences WHERE dataset_id = ?1 AND sequence_id = ?2",
                [&d, id],
            )?;
        }
        Ok(RemoveSequencesFromDatasetResponse {})
    })
}

/// Puts the sequences of datasets `from` into the new dataset `into` (MergeDatasets).
pub(super) fn copy_memberships(c: &Connection, into: &str, from: &[String]) -> ApiResult<()> {
    exec(
        c,
        "INSERT OR IGNORE INTO dataset_sequences(dataset_id, sequence_id)
         SELECT ?1, sequence_id FROM dataset_sequences
         WHERE dataset_id IN (SELECT value FROM json_each(?2))",
        params![into, super::json_list(from)],
    )?;
    Ok(())
}
