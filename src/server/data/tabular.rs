//! Readings: by filter (paged), the latest of a source, the export stream, and deletion by age.
//! Pages and the export run in capture-time order (`time_requested`, then upload order); a
//! cursor (`last`) is "<time_requested ns>_<row id>" of the last reading returned.

use std::sync::Arc;

use rusqlite::Connection;
use rusqlite::types::Value as Sql;

use super::filter::{self, Table};
use super::{Access, Where, docs, parse_tags};
use crate::proto::viam::app::data::v1::*;
use crate::server::Api;
use crate::server::authz::{Perm, Principal, Scope};
use crate::server::call::ServerStream;
use crate::server::error::{ApiError, ApiResult, required};
use crate::server::store::{now, to_ts};
use crate::server::structs::json_to_struct;

/// Readings per page when the request names no limit (as upstream), and at most.
const DEFAULT_LIMIT: u64 = 50;
const MAX_LIMIT: u64 = 10_000;
/// Readings the export reads per query; the stream sends them one message each.
const EXPORT_BATCH: usize = 1000;

const COLUMNS: &str = "id, org_id, location_id, robot_id, robot_name, part_id, part_name, \
     component_type, component_name, method_name, method_parameters, tags, time_requested, \
     time_received, time_synced, data";

/// One stored reading.
struct Reading {
    id: i64,
    meta: CaptureMetadata,
    params: String,
    time_requested: i64,
    time_received: i64,
    time_synced: i64,
    data: String,
}

fn reading(r: &rusqlite::Row<'_>) -> rusqlite::Result<Reading> {
    let params: String = r.get(10)?;
    Ok(Reading {
        id: r.get(0)?,
        meta: CaptureMetadata {
            organization_id: r.get(1)?,
            location_id: r.get(2)?,
            robot_id: r.get(3)?,
            robot_name: r.get(4)?,
            part_id: r.get(5)?,
            part_name: r.get(6)?,
            component_type: r.get(7)?,
            component_name: r.get(8)?,
            method_name: r.get(9)?,
            method_parameters: docs::params_from_json(&params),
            tags: parse_tags(&r.get::<_, String>(11)?),
            mime_type: String::new(),
        },
        params,
        time_requested: r.get(12)?,
        time_received: r.get(13)?,
        time_synced: r.get(14)?,
        data: r.get(15)?,
    })
}

fn payload(text: &str) -> prost_types::Struct {
    json_to_struct("data", text).unwrap_or_default()
}

fn cursor(time: i64, id: i64) -> String {
    format!("{time}_{id}")
}

fn parse_cursor(last: &str) -> ApiResult<Option<(i64, i64)>> {
    if last.is_empty() {
        return Ok(None);
    }
    last.split_once('_')
        .and_then(|(t, i)| Some((t.parse().ok()?, i.parse().ok()?)))
        .map(Some)
        .ok_or_else(|| {
            ApiError::invalid(
                "data_request.last",
                format!("{last:?} is not a cursor this server returned"),
            )
        })
}

/// Readings of `w` after `after` in `order`, at most `limit`.
fn page(
    c: &Connection,
    w: &Where,
    after: Option<(i64, i64)>,
    descending: bool,
    limit: usize,
) -> ApiResult<Vec<Reading>> {
    let mut sql = format!("SELECT {COLUMNS} FROM data_readings WHERE {}", w.sql());
    let mut params = w.params.clone();
    if let Some((t, id)) = after {
        sql.push_str(if descending {
            " AND (time_requested, id) < (?, ?)"
        } else {
            " AND (time_requested, id) > (?, ?)"
        });
        params.extend([Sql::Integer(t), Sql::Integer(id)]);
    }
    sql.push_str(if descending {
        " ORDER BY time_requested DESC, id DESC LIMIT ?"
    } else {
        " ORDER BY time_requested, id LIMIT ?"
    });
    params.push(Sql::Integer(limit as i64));
    let mut stmt = c.prepare_cached(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(params), reading)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn count(c: &Connection, table: &str, w: &Where) -> ApiResult<u64> {
    let sql = format!("SELECT COUNT(*) FROM {table} WHERE {}", w.sql());
    let n: i64 = c
        .prepare_cached(&sql)?
        .query_row(rusqlite::params_from_iter(w.params.iter()), |r| r.get(0))?;
    Ok(n as u64)
}

pub(super) fn limit_of(limit: u64) -> usize {
    let n = match limit {
        0 => DEFAULT_LIMIT,
        n => n.min(MAX_LIMIT),
    };
    n as usize
}

pub(super) fn descending(order: i32) -> ApiResult<bool> {
    match Order::try_from(order) {
        Ok(Order::Descending) => Ok(true),
        Ok(_) => Ok(false),
        Err(_) => Err(ApiError::invalid(
            "data_request.sort_order",
            format!("unknown order {order}"),
        )),
    }
}

pub fn tabular_data_by_filter(
    api: &Api,
    who: &Principal,
    req: TabularDataByFilterRequest,
) -> ApiResult<TabularDataByFilterResponse> {
    let dr = req.data_request.unwrap_or_default();
    let descending = descending(dr.sort_order)?;
    let after = parse_cursor(&dr.last)?;
    api.store.read(|c| {
        let w = filter::clause(
            c,
            who,
            Perm::ReadRobotDataManagement,
            dr.filter.as_ref(),
            Table::Readings,
        )?;
        let total = count(c, "data_readings", &w)?;
        if req.count_only {
            return Ok(TabularDataByFilterResponse {
                count: total,
                ..Default::default()
            });
        }
        let rows = page(c, &w, after, descending, limit_of(dr.limit))?;
        let mut resp = TabularDataByFilterResponse {
            count: total,
            last: rows
                .last()
                .map(|r| cursor(r.time_requested, r.id))
                .unwrap_or_default(),
            ..Default::default()
        };
        for r in rows {
            resp.total_size_bytes += r.data.len() as u64;
            let index = match resp.metadata.iter().position(|m| *m == r.meta) {
                Some(i) => i,
                None => {
                    resp.metadata.push(r.meta.clone());
                    resp.metadata.len() - 1
                }
            };
            resp.data.push(TabularData {
                data: Some(payload(&r.data)),
                metadata_index: index as u32,
                time_requested: Some(to_ts(r.time_requested)),
                time_received: Some(to_ts(r.time_received)),
            });
        }
        Ok(resp)
    })
}

/// The readings of one source (part, component name and type, method) the caller may read.
fn source_clause(
    c: &Connection,
    who: &Principal,
    part_id: &str,
    name: &str,
    subtype: &str,
    method: &str,
) -> ApiResult<Where> {
    let part_id = required("part_id", part_id)?;
    let scope = Scope::part(c, part_id)?;
    who.require(Perm::ReadRobotDataManagement, &scope)?;
    let mut w = Where::new(&Access::of(c, who, Perm::ReadRobotDataManagement)?);
    w.eq("part_id", part_id);
    w.eq("component_name", name);
    w.eq("component_type", subtype);
    w.eq("method_name", method);
    Ok(w)
}

pub fn get_latest_tabular_data(
    api: &Api,
    who: &Principal,
    req: GetLatestTabularDataRequest,
) -> ApiResult<GetLatestTabularDataResponse> {
    api.store.read(|c| {
        let w = source_clause(
            c,
            who,
            &req.part_id,
            &req.resource_name,
            &req.resource_subtype,
            &req.method_name,
        )?;
        let latest = page(c, &w, None, true, 1)?;
        Ok(latest
            .into_iter()
            .next()
            .map(|r| GetLatestTabularDataResponse {
                time_captured: Some(to_ts(r.time_requested)),
                time_synced: Some(to_ts(r.time_synced)),
                payload: Some(payload(&r.data)),
            })
            .unwrap_or_default())
    })
}

fn export_item(r: Reading) -> ExportTabularDataResponse {
    ExportTabularDataResponse {
        method_parameters: Some(docs::params_struct(&r.params)),
        payload: Some(payload(&r.data)),
        time_captured: Some(to_ts(r.time_requested)),
        part_id: r.meta.part_id,
        resource_name: r.meta.component_name,
        resource_subtype: r.meta.component_type,
        method_name: r.meta.method_name,
        organization_id: r.meta.organization_id,
        location_id: r.meta.location_id,
        robot_name: r.meta.robot_name,
        robot_id: r.meta.robot_id,
        part_name: r.meta.part_name,
        tags: r.meta.tags,
    }
}

/// Streams the readings of a source in capture-time order, a batch of rows per query, so an
/// export of any size holds one batch in memory.
pub fn export_tabular_data(
    api: &Arc<Api>,
    who: &Principal,
    req: ExportTabularDataRequest,
) -> ApiResult<ServerStream<ExportTabularDataResponse>> {
    let mut w = api.store.read(|c| {
        source_clause(
            c,
            who,
            &req.part_id,
            &req.resource_name,
            &req.resource_subtype,
            &req.method_name,
        )
    })?;
    if let Some(i) = &req.interval {
        if let Some(s) = &i.start {
            w.push(
                "time_requested >= ?",
                [Sql::Integer(crate::server::store::from_ts(s))],
            );
        }
        if let Some(e) = &i.end {
            w.push(
                "time_requested <= ?",
                [Sql::Integer(crate::server::store::from_ts(e))],
            );
        }
    }
    let api = api.clone();
    let state = (api, w, None::<(i64, i64)>, false);
    let batches = futures::stream::unfold(state, |(api, w, after, done)| async move {
        if done {
            return None;
        }
        let rows = api.store.read(|c| page(c, &w, after, false, EXPORT_BATCH));
        match rows {
            Err(e) => Some((vec![Err(tonic::Status::from(e))], (api, w, after, true))),
            Ok(rows) => {
                if rows.is_empty() {
                    return None;
                }
                let done = rows.len() < EXPORT_BATCH;
                let next = rows.last().map(|r| (r.time_requested, r.id));
                let items = rows.into_iter().map(|r| Ok(export_item(r))).collect();
                Some((items, (api, w, next, done)))
            }
        }
    });
    Ok(Box::pin(futures::StreamExt::flat_map(
        batches,
        futures::stream::iter,
    )))
}

pub fn delete_tabular_data(
    api: &Api,
    who: &Principal,
    req: DeleteTabularDataRequest,
) -> ApiResult<DeleteTabularDataResponse> {
    let org_id = required("organization_id", &req.organization_id)?.to_string();
    let f = filter::from_delete(&org_id, req.filter);
    let cutoff = now() - i64::from(req.delete_older_than_days) * 86_400 * 1_000_000_000;
    api.store.tx(|tx| {
        let mut w = filter::clause(
            tx,
            who,
            Perm::WriteDataManagement,
            Some(&f),
            Table::Readings,
        )?;
        if req.delete_older_than_days > 0 {
            w.push("time_requested < ?", [Sql::Integer(cutoff)]);
        }
        let sql = format!("DELETE FROM data_readings WHERE {}", w.sql());
        let n = tx
            .prepare_cached(&sql)?
            .execute(rusqlite::params_from_iter(w.params.iter()))?;
        Ok(DeleteTabularDataResponse {
            deleted_count: n as u64,
        })
    })
}
