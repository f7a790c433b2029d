//! Binary data: by filter (cursor-paged) and by ids, with or without the bytes; deletion;
//! tags; bounding boxes and their labels. Pages run in capture-time order; a cursor is
//! "<time_requested ns>_<seq>" of the last item returned.

use rusqlite::types::Value as Sql;
use rusqlite::{Connection, OptionalExtension, params};

use super::filter::{self, Table};
use super::tabular::{descending, limit_of};
use super::{Access, Where, binary_path, checked_id, parse_tags, tags_json};
use crate::proto::viam::app::data::v1::*;
use crate::server::Api;
use crate::server::authz::{Perm, Principal};
use crate::server::error::{ApiError, ApiResult, required};
use crate::server::store::{exec, new_id, to_ts};

const COLUMNS: &str = "id, seq, org_id, location_id, robot_id, robot_name, part_id, part_name, \
     component_type, component_name, method_name, method_parameters, tags, mime_type, file_name, \
     file_ext, time_requested, time_received, size";

struct Stored {
    seq: i64,
    meta: BinaryMetadata,
}

fn stored(r: &rusqlite::Row<'_>) -> rusqlite::Result<Stored> {
    let id: String = r.get(0)?;
    let params: String = r.get(11)?;
    let mime_type: String = r.get(13)?;
    Ok(Stored {
        seq: r.get(1)?,
        meta: BinaryMetadata {
            id: id.clone(),
            binary_data_id: id,
            capture_metadata: Some(CaptureMetadata {
                organization_id: r.get(2)?,
                location_id: r.get(3)?,
                robot_id: r.get(4)?,
                robot_name: r.get(5)?,
                part_id: r.get(6)?,
                part_name: r.get(7)?,
                component_type: r.get(8)?,
                component_name: r.get(9)?,
                method_name: r.get(10)?,
                method_parameters: super::docs::params_from_json(&params),
                tags: parse_tags(&r.get::<_, String>(12)?),
                mime_type,
            }),
            file_name: r.get(14)?,
            file_ext: r.get(15)?,
            time_requested: Some(to_ts(r.get(16)?)),
            time_received: Some(to_ts(r.get(17)?)),
            file_size_bytes: r.get::<_, i64>(18)? as u64,
            ..Default::default()
        },
    })
}

fn bboxes(c: &Connection, id: &str) -> ApiResult<Vec<BoundingBox>> {
    let mut stmt = c.prepare_cached(
        "SELECT id, label, x_min, y_min, x_max, y_max, confidence FROM data_bboxes
         WHERE binary_id = ?1 ORDER BY rowid",
    )?;
    let rows = stmt.query_map([id], |r| {
        Ok(BoundingBox {
            id: r.get(0)?,
            label: r.get(1)?,
            x_min_normalized: r.get(2)?,
            y_min_normalized: r.get(3)?,
            x_max_normalized: r.get(4)?,
            y_max_normalized: r.get(5)?,
            confidence: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The reply item of a stored binary: its annotations, and its bytes when asked.
fn item(api: &Api, c: &Connection, s: Stored, include_binary: bool) -> ApiResult<BinaryData> {
    let mut meta = s.meta;
    meta.annotations = Some(Annotations {
        bboxes: bboxes(c, &meta.binary_data_id)?,
        classifications: vec![],
    });
    meta.dataset_ids = super::datasets::of_binary(c, &meta.binary_data_id)?;
    let binary = if include_binary {
        std::fs::read(binary_path(api, &meta.binary_data_id)?).map_err(|e| {
            ApiError::Internal(format!(
                "binary data {:?}: payload unreadable: {e}",
                meta.binary_data_id
            ))
        })?
    } else {
        vec![]
    };
    Ok(BinaryData {
        binary,
        metadata: Some(meta),
    })
}

fn select(c: &Connection, w: &Where, tail: &str, extra: Vec<Sql>) -> ApiResult<Vec<Stored>> {
    let sql = format!("SELECT {COLUMNS} FROM data_binary WHERE {} {tail}", w.sql());
    let mut stmt = c.prepare_cached(&sql)?;
    let params = w.params.iter().cloned().chain(extra);
    let rows = stmt.query_map(rusqlite::params_from_iter(params), stored)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn parse_cursor(field: &str, last: &str) -> ApiResult<Option<(i64, i64)>> {
    if last.is_empty() {
        return Ok(None);
    }
    last.split_once('_')
        .and_then(|(t, s)| Some((t.parse().ok()?, s.parse().ok()?)))
        .map(Some)
        .ok_or_else(|| {
            ApiError::invalid(
                field,
                format!("{last:?} is not a cursor this server returned"),
            )
        })
}

fn cursor_of(s: &Stored) -> String {
    let t = s
        .meta
        .time_requested
        .as_ref()
        .map_or(0, crate::server::store::from_ts);
    format!("{t}_{}", s.seq)
}

/// One page (with the bytes) of the binary data `w` matches, in capture order after the
/// cursor `token` (named `field` in errors), and the cursor of the next page ("" after the
/// last): a sequence's binary data (sequences.rs).
pub(super) fn page_in_order(
    api: &Api,
    c: &Connection,
    mut w: Where,
    field: &str,
    token: &str,
    limit: usize,
) -> ApiResult<(Vec<BinaryData>, String)> {
    if let Some((t, seq)) = parse_cursor(field, token)? {
        w.push(
            "(time_requested, seq) > (?, ?)",
            [Sql::Integer(t), Sql::Integer(seq)],
        );
    }
    // One more than the page tells whether a next page exists.
    let mut rows = select(
        c,
        &w,
        "ORDER BY time_requested, seq LIMIT ?",
        vec![Sql::Integer(limit as i64 + 1)],
    )?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next = match rows.last() {
        Some(s) if more => cursor_of(s),
        _ => String::new(),
    };
    let data = rows
        .into_iter()
        .map(|s| item(api, c, s, true))
        .collect::<ApiResult<_>>()?;
    Ok((data, next))
}

pub fn binary_data_by_filter(
    api: &Api,
    who: &Principal,
    req: BinaryDataByFilterRequest,
) -> ApiResult<BinaryDataByFilterResponse> {
    let dr = req.data_request.unwrap_or_default();
    let desc = descending(dr.sort_order)?;
    let after = parse_cursor("data_request.last", &dr.last)?;
    api.store.read(|c| {
        let mut w = filter::clause(
            c,
            who,
            Perm::ReadRobotDataManagement,
            dr.filter.as_ref(),
            Table::Binary,
        )?;
        let sql = format!("SELECT COUNT(*) FROM data_binary WHERE {}", w.sql());
        let total: i64 = c
            .prepare_cached(&sql)?
            .query_row(rusqlite::params_from_iter(w.params.iter()), |r| r.get(0))?;
        if req.count_only {
            return Ok(BinaryDataByFilterResponse {
                count: total as u64,
                ..Default::default()
            });
        }
        if let Some((t, seq)) = after {
            let cmp = if desc { "<" } else { ">" };
            w.push(
                &format!("(time_requested, seq) {cmp} (?, ?)"),
                [Sql::Integer(t), Sql::Integer(seq)],
            );
        }
        let order = if desc { "DESC" } else { "ASC" };
        let rows = select(
            c,
            &w,
            &format!("ORDER BY time_requested {order}, seq {order} LIMIT ?"),
            vec![Sql::Integer(limit_of(dr.limit) as i64)],
        )?;
        let last = rows.last().map(cursor_of).unwrap_or_default();
        let mut resp = BinaryDataByFilterResponse {
            count: total as u64,
            last,
            ..Default::default()
        };
        for s in rows {
            resp.total_size_bytes += s.meta.file_size_bytes;
            resp.data.push(item(api, c, s, req.include_binary)?);
        }
        Ok(resp)
    })
}

/// The ids a request names, new field and deprecated one together.
pub(super) fn ids_of(ids: &[String], old: &[BinaryId]) -> ApiResult<Vec<String>> {
    let mut all: Vec<String> = ids.to_vec();
    for b in old {
        all.push(required("binary_ids.file_id", &b.file_id)?.to_string());
    }
    if all.is_empty() {
        return Err(ApiError::invalid(
            "binary_data_ids",
            "required: name at least one",
        ));
    }
    Ok(all)
}

/// The stored binaries named by `ids`, each checked: it exists and the caller may use it
/// with `perm`.
fn named(c: &Connection, who: &Principal, perm: Perm, ids: &[String]) -> ApiResult<Vec<Stored>> {
    let access = Access::of(c, who, perm)?;
    let sql = format!("SELECT {COLUMNS} FROM data_binary WHERE id = ?1");
    let mut out = Vec::new();
    for id in ids {
        let id = checked_id(id)?;
        let s = c
            .prepare_cached(&sql)?
            .query_row([id], stored)
            .optional()?
            .ok_or_else(|| ApiError::not_found("binary data", id))?;
        let cm = s
            .meta
            .capture_metadata
            .as_ref()
            .cloned()
            .unwrap_or_default();
        if !access.covers(&cm.organization_id, &cm.location_id, &cm.robot_id) {
            return Err(ApiError::denied(format!("{perm} on binary data {id:?}")));
        }
        out.push(s);
    }
    Ok(out)
}

/// The organization of each binary named by `ids`, once each is checked as `named` does.
pub(super) fn orgs_of(
    c: &Connection,
    who: &Principal,
    perm: Perm,
    ids: &[String],
) -> ApiResult<Vec<(String, String)>> {
    Ok(named(c, who, perm, ids)?
        .into_iter()
        .map(|s| {
            let org = s.meta.capture_metadata.map(|m| m.organization_id);
            (s.meta.binary_data_id, org.unwrap_or_default())
        })
        .collect())
}

pub fn binary_data_by_i_ds(
    api: &Api,
    who: &Principal,
    req: BinaryDataByIDsRequest,
) -> ApiResult<BinaryDataByIDsResponse> {
    let ids = ids_of(&req.binary_data_ids, &req.binary_ids)?;
    api.store.read(|c| {
        let rows = named(c, who, Perm::ReadRobotDataManagement, &ids)?;
        let data = rows
            .into_iter()
            .map(|s| item(api, c, s, req.include_binary))
            .collect::<ApiResult<Vec<_>>>()?;
        Ok(BinaryDataByIDsResponse {
            count: data.len() as u64,
            data,
        })
    })
}

/// Deletes rows (their boxes go with them), then their files once the deletion committed.
fn delete_ids(api: &Api, ids: Vec<String>) -> ApiResult<u64> {
    let n = api.store.tx(|tx| {
        let mut n = 0;
        for id in &ids {
            n += exec(tx, "DELETE FROM data_binary WHERE id = ?1", [id])?;
        }
        Ok(n)
    })?;
    super::remove_payloads(api, &ids);
    Ok(n as u64)
}

fn matching_ids(
    c: &Connection,
    who: &Principal,
    perm: Perm,
    f: Option<&Filter>,
) -> ApiResult<Vec<String>> {
    let w = filter::clause(c, who, perm, f, Table::Binary)?;
    let sql = format!("SELECT id FROM data_binary WHERE {}", w.sql());
    let mut stmt = c.prepare_cached(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(w.params.iter()), |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn delete_binary_data_by_filter(
    api: &Api,
    who: &Principal,
    req: DeleteBinaryDataByFilterRequest,
) -> ApiResult<DeleteBinaryDataByFilterResponse> {
    let ids = api
        .store
        .read(|c| matching_ids(c, who, Perm::WriteDataManagement, req.filter.as_ref()))?;
    Ok(DeleteBinaryDataByFilterResponse {
        deleted_count: delete_ids(api, ids)?,
    })
}

pub fn delete_binary_data_by_i_ds(
    api: &Api,
    who: &Principal,
    req: DeleteBinaryDataByIDsRequest,
) -> ApiResult<DeleteBinaryDataByIDsResponse> {
    let ids = ids_of(&req.binary_data_ids, &req.binary_ids)?;
    api.store
        .read(|c| named(c, who, Perm::WriteDataManagement, &ids).map(|_| ()))?;
    Ok(DeleteBinaryDataByIDsResponse {
        deleted_count: delete_ids(api, ids)?,
    })
}

fn check_tags(tags: &[String]) -> ApiResult<()> {
    if tags.is_empty() {
        return Err(ApiError::invalid("tags", "required: name at least one tag"));
    }
    for t in tags {
        required("tags", t)?;
    }
    Ok(())
}

/// Adds (or removes) `tags` on each binary of `ids`; returns how many (binary, tag) pairs
/// changed.
fn retag(api: &Api, ids: &[String], tags: &[String], add: bool) -> ApiResult<u64> {
    api.store.tx(|tx| {
        let mut changed = 0;
        for id in ids {
            let cur: Option<String> = tx
                .prepare_cached("SELECT tags FROM data_binary WHERE id = ?1")?
                .query_row([id], |r| r.get(0))
                .optional()?;
            let Some(cur) = cur else { continue };
            let mut have = parse_tags(&cur);
            let before = have.len();
            if add {
                have.extend(tags.iter().cloned());
                have.sort_unstable();
                have.dedup();
                changed += have.len() - before;
            } else {
                have.retain(|t| !tags.contains(t));
                changed += before - have.len();
            }
            exec(
                tx,
                "UPDATE data_binary SET tags = ?2 WHERE id = ?1",
                params![id, tags_json(&have)],
            )?;
        }
        Ok(changed as u64)
    })
}

pub fn add_tags_to_binary_data_by_i_ds(
    api: &Api,
    who: &Principal,
    req: AddTagsToBinaryDataByIDsRequest,
) -> ApiResult<AddTagsToBinaryDataByIDsResponse> {
    check_tags(&req.tags)?;
    let ids = ids_of(&req.binary_data_ids, &req.binary_ids)?;
    api.store
        .read(|c| named(c, who, Perm::WriteDataManagement, &ids).map(|_| ()))?;
    retag(api, &ids, &req.tags, true)?;
    Ok(AddTagsToBinaryDataByIDsResponse {})
}

pub fn add_tags_to_binary_data_by_filter(
    api: &Api,
    who: &Principal,
    req: AddTagsToBinaryDataByFilterRequest,
) -> ApiResult<AddTagsToBinaryDataByFilterResponse> {
    check_tags(&req.tags)?;
    let ids = api
        .store
        .read(|c| matching_ids(c, who, Perm::WriteDataManagement, req.filter.as_ref()))?;
    retag(api, &ids, &req.tags, true)?;
    Ok(AddTagsToBinaryDataByFilterResponse {})
}

pub fn remove_tags_from_binary_data_by_i_ds(
    api: &Api,
    who: &Principal,
    req: RemoveTagsFromBinaryDataByIDsRequest,
) -> ApiResult<RemoveTagsFromBinaryDataByIDsResponse> {
    check_tags(&req.tags)?;
    let ids = ids_of(&req.binary_data_ids, &req.binary_ids)?;
    api.store
        .read(|c| named(c, who, Perm::WriteDataManagement, &ids).map(|_| ()))?;
    Ok(RemoveTagsFromBinaryDataByIDsResponse {
        deleted_count: retag(api, &ids, &req.tags, false)?,
    })
}

pub fn remove_tags_from_binary_data_by_filter(
    api: &Api,
    who: &Principal,
    req: RemoveTagsFromBinaryDataByFilterRequest,
) -> ApiResult<RemoveTagsFromBinaryDataByFilterResponse> {
    check_tags(&req.tags)?;
    let ids = api
        .store
        .read(|c| matching_ids(c, who, Perm::WriteDataManagement, req.filter.as_ref()))?;
    Ok(RemoveTagsFromBinaryDataByFilterResponse {
        deleted_count: retag(api, &ids, &req.tags, false)?,
    })
}

/// The distinct tags of the binary data and readings a filter matches, sorted.
pub fn tags_by_filter(
    api: &Api,
    who: &Principal,
    req: TagsByFilterRequest,
) -> ApiResult<TagsByFilterResponse> {
    api.store.read(|c| {
        let mut tags = Vec::new();
        for (table, t) in [
            ("data_binary", Table::Binary),
            ("data_readings", Table::Readings),
        ] {
            let w = filter::clause(
                c,
                who,
                Perm::ReadRobotDataManagement,
                req.filter.as_ref(),
                t,
            )?;
            let sql = format!(
                "SELECT DISTINCT j.value FROM {table}, json_each({table}.tags) j WHERE {}",
                w.sql()
            );
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map(rusqlite::params_from_iter(w.params.iter()), |r| r.get(0))?;
            for t in rows {
                tags.push(t?);
            }
        }
        tags.sort_unstable();
        tags.dedup();
        Ok(TagsByFilterResponse { tags })
    })
}

fn check_box(
    x_min: f64,
    y_min: f64,
    x_max: f64,
    y_max: f64,
    confidence: Option<f64>,
) -> ApiResult<()> {
    let unit = |v: f64| (0.0..=1.0).contains(&v);
    if ![x_min, y_min, x_max, y_max].into_iter().all(unit) {
        return Err(ApiError::invalid(
            "x_min_normalized",
            "coordinates are normalized: each between 0 and 1",
        ));
    }
    if x_min >= x_max || y_min >= y_max {
        return Err(ApiError::invalid(
            "x_max_normalized",
            "the box is empty: x_min < x_max and y_min < y_max are required",
        ));
    }
    if confidence.is_some_and(|c| !unit(c)) {
        return Err(ApiError::invalid("confidence", "between 0 and 1"));
    }
    Ok(())
}

fn one_id(id: &str, old: Option<&BinaryId>) -> ApiResult<String> {
    let id = if id.is_empty() {
        old.map(|b| b.file_id.as_str()).unwrap_or("")
    } else {
        id
    };
    Ok(required("binary_data_id", id)?.to_string())
}

pub fn add_bounding_box_to_image_by_id(
    api: &Api,
    who: &Principal,
    req: AddBoundingBoxToImageByIdRequest,
) -> ApiResult<AddBoundingBoxToImageByIdResponse> {
    let id = one_id(&req.binary_data_id, req.binary_id.as_ref())?;
    required("label", &req.label)?;
    check_box(
        req.x_min_normalized,
        req.y_min_normalized,
        req.x_max_normalized,
        req.y_max_normalized,
        req.confidence,
    )?;
    let bbox_id = new_id();
    api.store.tx(|tx| {
        named(
            tx,
            who,
            Perm::WriteDataManagement,
            std::slice::from_ref(&id),
        )?;
        exec(
            tx,
            "INSERT INTO data_bboxes(id, binary_id, label, x_min, y_min, x_max, y_max, confidence)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                bbox_id,
                id,
                req.label.trim(),
                req.x_min_normalized,
                req.y_min_normalized,
                req.x_max_normalized,
                req.y_max_normalized,
                req.confidence
            ],
        )?;
        Ok(())
    })?;
    Ok(AddBoundingBoxToImageByIdResponse { bbox_id })
}

fn stored_box(c: &Connection, binary_id: &str, bbox_id: &str) -> ApiResult<BoundingBox> {
    bboxes(c, binary_id)?
        .into_iter()
        .find(|b| b.id == bbox_id)
        .ok_or_else(|| ApiError::not_found("bounding box", bbox_id))
}

pub fn remove_bounding_box_from_image_by_id(
    api: &Api,
    who: &Principal,
    req: RemoveBoundingBoxFromImageByIdRequest,
) -> ApiResult<RemoveBoundingBoxFromImageByIdResponse> {
    let id = one_id(&req.binary_data_id, req.binary_id.as_ref())?;
    let bbox_id = required("bbox_id", &req.bbox_id)?;
    api.store.tx(|tx| {
        named(
            tx,
            who,
            Perm::WriteDataManagement,
            std::slice::from_ref(&id),
        )?;
        stored_box(tx, &id, bbox_id)?;
        exec(tx, "DELETE FROM data_bboxes WHERE id = ?1", [bbox_id])?;
        Ok(())
    })?;
    Ok(RemoveBoundingBoxFromImageByIdResponse {})
}

pub fn update_bounding_box(
    api: &Api,
    who: &Principal,
    req: UpdateBoundingBoxRequest,
) -> ApiResult<UpdateBoundingBoxResponse> {
    let id = one_id(&req.binary_data_id, req.binary_id.as_ref())?;
    let bbox_id = required("bbox_id", &req.bbox_id)?;
    api.store.tx(|tx| {
        named(
            tx,
            who,
            Perm::WriteDataManagement,
            std::slice::from_ref(&id),
        )?;
        let mut b = stored_box(tx, &id, bbox_id)?;
        if let Some(l) = &req.label {
            b.label = required("label", l)?.to_string();
        }
        b.x_min_normalized = req.x_min_normalized.unwrap_or(b.x_min_normalized);
        b.y_min_normalized = req.y_min_normalized.unwrap_or(b.y_min_normalized);
        b.x_max_normalized = req.x_max_normalized.unwrap_or(b.x_max_normalized);
        b.y_max_normalized = req.y_max_normalized.unwrap_or(b.y_max_normalized);
        b.confidence = req.confidence.or(b.confidence);
        check_box(
            b.x_min_normalized,
            b.y_min_normalized,
            b.x_max_normalized,
            b.y_max_normalized,
            b.confidence,
        )?;
        exec(
            tx,
            "UPDATE data_bboxes SET label = ?2, x_min = ?3, y_min = ?4, x_max = ?5, y_max = ?6,
                 confidence = ?7 WHERE id = ?1",
            params![
                bbox_id,
                b.label,
                b.x_min_normalized,
                b.y_min_normalized,
                b.x_max_normalized,
                b.y_max_normalized,
                b.confidence
            ],
        )?;
        Ok(())
    })?;
    Ok(UpdateBoundingBoxResponse {})
}

pub fn bounding_box_labels_by_filter(
    api: &Api,
    who: &Principal,
    req: BoundingBoxLabelsByFilterRequest,
) -> ApiResult<BoundingBoxLabelsByFilterResponse> {
    api.store.read(|c| {
        let w = filter::clause(
            c,
            who,
            Perm::ReadRobotDataManagement,
            req.filter.as_ref(),
            Table::Binary,
        )?;
        let sql = format!(
            "SELECT DISTINCT b.label FROM data_bboxes b WHERE b.binary_id IN
                 (SELECT id FROM data_binary WHERE {}) ORDER BY b.label",
            w.sql()
        );
        let mut stmt = c.prepare_cached(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(w.params.iter()), |r| r.get(0))?;
        Ok(BoundingBoxLabelsByFilterResponse {
            labels: rows.collect::<Result<_, _>>()?,
        })
    })
}
