//! `viam.app.datapipelines.v1.DataPipelinesService`: a pipeline is an
//! organization's MQL aggregation run on a five-field cron schedule (UTC). As upstream, each run
//! processes one window [start, end) between two schedule ticks, windows follow each other
//! without gaps or overlaps, and the documents a run produces land in the pipeline's sink,
//! which TabularDataByMQL queries with the PIPELINE_SINK source and the pipeline's id.
//!
//! When runs happen: the local fleet has no background scheduler. A window is due once its end
//! is past (by the fleet's clock, so `fleet.clock.advance` makes windows due), and the due
//! windows of a pipeline run, oldest first, when its runs are listed, its sink is queried, or it
//! is disabled: deterministic, and what a reader sees is what the schedule implies. A window is
//! the readings *received* in it (`time_received`). A new pipeline's first window is the one
//! ending at the first tick after its creation; with backfill, the one holding the
//! organization's oldest reading. Windows that pass while a pipeline is disabled are skipped
//! when it is enabled again, unless it backfills. At most `MAX_RUNS_PER_CATCH_UP` windows run
//! per call; the rest run on the next.

use bson::{Bson, Document, doc};
use chrono::{DateTime, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds};
use rusqlite::{Connection, OptionalExtension, params};

use super::Api;
use super::authz::{Perm, Principal, Scope};
use super::call::rpc_table;
use super::data::{bson_date, bson_encode, check_stages, parse_stages, run_window};
use super::error::{ApiError, ApiResult, required};
use super::store::{exec, found, new_id, now, row, to_ts};
use crate::proto::viam::app::data::v1::TabularDataSourceType;
use crate::proto::viam::app::datapipelines::v1::data_pipelines_service_server::DataPipelinesService;
use crate::proto::viam::app::datapipelines::v1::*;

rpc_table! {
    impl DataPipelinesService for DataPipelinesSvc;
    unary {
        get_data_pipeline(GetDataPipelineRequest) -> GetDataPipelineResponse = get_data_pipeline;
        list_data_pipelines(ListDataPipelinesRequest) -> ListDataPipelinesResponse = list_data_pipelines;
        create_data_pipeline(CreateDataPipelineRequest) -> CreateDataPipelineResponse = create_data_pipeline;
        rename_data_pipeline(RenameDataPipelineRequest) -> RenameDataPipelineResponse = rename_data_pipeline;
        delete_data_pipeline(DeleteDataPipelineRequest) -> DeleteDataPipelineResponse = delete_data_pipeline;
        enable_data_pipeline(EnableDataPipelineRequest) -> EnableDataPipelineResponse = enable_data_pipeline;
        disable_data_pipeline(DisableDataPipelineRequest) -> DisableDataPipelineResponse = disable_data_pipeline;
        list_data_pipeline_runs(ListDataPipelineRunsRequest) -> ListDataPipelineRunsResponse = list_data_pipeline_runs;
    }
    server_streaming {}
    client_streaming {}
}

/// Windows run per catch-up: a minutely schedule left alone for a year has half a million.
const MAX_RUNS_PER_CATCH_UP: usize = 1000;
/// Runs per page when the request asks for none (the Python SDK's default), and at most.
const DEFAULT_PAGE: u32 = 10;
const MAX_PAGE: u32 = 1000;

fn schedule_of(text: &str) -> ApiResult<Cron> {
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .build()
        .parse(text.trim())
        .map_err(|e| {
            ApiError::invalid(
                "schedule",
                format!(
                    "{text:?} is not a five-field cron expression (minute hour day-of-month month day-of-week, UTC): {e}"
                ),
            )
        })
}

fn utc(nanos: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(nanos)
}

fn nanos_of(t: DateTime<Utc>) -> i64 {
    t.timestamp_nanos_opt().unwrap_or(i64::MAX)
}

/// The first tick strictly after `t`.
fn next_tick(cron: &Cron, t: i64) -> ApiResult<i64> {
    cron.find_next_occurrence(&utc(t), false)
        .map(nanos_of)
        .map_err(|e| {
            ApiError::invalid(
                "schedule",
                format!(
                    "{:?} has no time after {}: {e}",
                    cron.pattern.to_string(),
                    utc(t)
                ),
            )
        })
}

/// The start of the window that holds `t`: the tick before the first tick after `t`.
fn window_holding(cron: &Cron, t: i64) -> ApiResult<i64> {
    let end = next_tick(cron, t)?;
    cron.find_previous_occurrence(&utc(end), false)
        .map(nanos_of)
        .map_err(|e| ApiError::invalid("schedule", format!("no tick before {}: {e}", utc(end))))
}

/// A data source a pipeline reads: the readings (hot storage is the same data locally).
fn source_of(v: Option<i32>) -> ApiResult<i32> {
    match v.map(TabularDataSourceType::try_from) {
        None | Some(Ok(TabularDataSourceType::Unspecified)) => {
            Ok(TabularDataSourceType::Standard as i32)
        }
        Some(Ok(t @ (TabularDataSourceType::Standard | TabularDataSourceType::HotStorage))) => {
            Ok(t as i32)
        }
        Some(Ok(TabularDataSourceType::PipelineSink)) => Err(ApiError::invalid(
            "data_source_type",
            "a pipeline reads the readings (standard or hot storage), not another pipeline's sink",
        )),
        Some(Err(_)) => Err(ApiError::invalid(
            "data_source_type",
            format!("{} is not a known value", v.unwrap_or_default()),
        )),
    }
}

struct Stored {
    id: String,
    org_id: String,
    name: String,
    mql: Vec<u8>,
    schedule: String,
    enabled: bool,
    backfill: bool,
    source: i32,
    created_on: i64,
    updated_at: i64,
    window_start: i64,
}

const COLUMNS: &str = "id, org_id, name, mql, schedule, enabled, backfill, data_source_type,
    created_on, updated_at, window_start_at";

fn stored_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<Stored> {
    Ok(Stored {
        id: r.get(0)?,
        org_id: r.get(1)?,
        name: r.get(2)?,
        mql: r.get(3)?,
        schedule: r.get(4)?,
        enabled: r.get(5)?,
        backfill: r.get(6)?,
        source: r.get(7)?,
        created_on: r.get(8)?,
        updated_at: r.get(9)?,
        window_start: r.get(10)?,
    })
}

fn stages_to_blob(stages: &[Document]) -> Vec<u8> {
    let list: Vec<Bson> = stages.iter().cloned().map(Bson::Document).collect();
    bson_encode(&doc! {"stages": list})
}

fn stages_of(blob: &[u8]) -> ApiResult<Vec<Document>> {
    let d = Document::from_reader(blob)
        .map_err(|e| ApiError::Internal(format!("stored pipeline: {e}")))?;
    Ok(d.get_array("stages")
        .map_err(|e| ApiError::Internal(format!("stored pipeline: {e}")))?
        .iter()
        .filter_map(|s| s.as_document().cloned())
        .collect())
}

impl Stored {
    fn to_proto(&self) -> ApiResult<DataPipeline> {
        Ok(DataPipeline {
            id: self.id.clone(),
            organization_id: self.org_id.clone(),
            name: self.name.clone(),
            mql_binary: stages_of(&self.mql)?.iter().map(bson_encode).collect(),
            schedule: self.schedule.clone(),
            enabled: self.enabled,
            created_on: Some(to_ts(self.created_on)),
            updated_at: Some(to_ts(self.updated_at)),
            data_source_type: Some(self.source),
        })
    }
}

/// The pipeline, once the caller is shown to hold `perm` on its organization.
fn load(c: &Connection, who: &Principal, perm: Perm, id: &str) -> ApiResult<Stored> {
    let id = required("id", id)?;
    let sql = format!("SELECT {COLUMNS} FROM data_pipelines WHERE id = ?1");
    let p = found(row(c, &sql, [id], stored_of), "data pipeline", id)?;
    who.require(perm, &Scope::stored_org(&p.org_id))?;
    Ok(p)
}

/// A name no other pipeline of the organization has.
fn free_name<'a>(c: &Connection, org_id: &str, name: &'a str, except: &str) -> ApiResult<&'a str> {
    let name = required("name", name)?;
    let taken = row(
        c,
        "SELECT 1 FROM data_pipelines WHERE org_id = ?1 AND name = ?2 AND id != ?3",
        params![org_id, name, except],
        |_| Ok(()),
    )
    .optional()?;
    if taken.is_some() {
        return Err(ApiError::AlreadyExists(format!(
            "organization {org_id:?} already has a data pipeline named {name:?}: pick another name"
        )));
    }
    Ok(name)
}

pub fn create_data_pipeline(
    api: &Api,
    who: &Principal,
    req: CreateDataPipelineRequest,
) -> ApiResult<CreateDataPipelineResponse> {
    if req.mql_binary.is_empty() {
        return Err(ApiError::invalid(
            "mql_binary",
            "required: at least one aggregation stage",
        ));
    }
    let stages = parse_stages(&req.mql_binary)?;
    check_stages(&stages)?;
    let schedule = required("schedule", &req.schedule)?;
    let cron = schedule_of(schedule)?;
    let source = source_of(req.data_source_type)?;
    let backfill = req.enable_backfill.unwrap_or(false);
    let id = new_id();
    api.store.tx(|tx| {
        let scope = Scope::organization(tx, &req.organization_id)?;
        who.require(Perm::WriteDataManagement, &scope)?;
        let name = free_name(tx, &req.organization_id, &req.name, "")?;
        let t = now();
        let oldest: Option<i64> = if backfill {
            row(
                tx,
                "SELECT MIN(time_received) FROM data_readings WHERE org_id = ?1",
                [&req.organization_id],
                |r| r.get(0),
            )?
        } else {
            None
        };
        let start = window_holding(&cron, oldest.map_or(t, |o| o.min(t)))?;
        exec(
            tx,
            "INSERT INTO data_pipelines(id, org_id, name, mql, schedule, enabled, backfill,
                 data_source_type, created_on, updated_at, window_start_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?7, ?8, ?8, ?9)",
            params![
                id,
                req.organization_id,
                name,
                stages_to_blob(&stages),
                schedule,
                backfill,
                source,
                t,
                start
            ],
        )?;
        Ok(())
    })?;
    Ok(CreateDataPipelineResponse { id })
}

pub fn get_data_pipeline(
    api: &Api,
    who: &Principal,
    req: GetDataPipelineRequest,
) -> ApiResult<GetDataPipelineResponse> {
    api.store.read(|c| {
        let p = load(c, who, Perm::ReadOrganizationDataManagement, &req.id)?;
        Ok(GetDataPipelineResponse {
            data_pipeline: Some(p.to_proto()?),
        })
    })
}

/// Oldest first.
pub fn list_data_pipelines(
    api: &Api,
    who: &Principal,
    req: ListDataPipelinesRequest,
) -> ApiResult<ListDataPipelinesResponse> {
    api.store.read(|c| {
        let scope = Scope::organization(c, &req.organization_id)?;
        who.require(Perm::ReadOrganizationDataManagement, &scope)?;
        let sql = format!(
            "SELECT {COLUMNS} FROM data_pipelines WHERE org_id = ?1 ORDER BY created_on, id"
        );
        let mut stmt = c.prepare_cached(&sql)?;
        let stored = stmt
            .query_map([&req.organization_id], stored_of)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ListDataPipelinesResponse {
            data_pipelines: stored
                .iter()
                .map(Stored::to_proto)
                .collect::<ApiResult<_>>()?,
        })
    })
}

pub fn rename_data_pipeline(
    api: &Api,
    who: &Principal,
    req: RenameDataPipelineRequest,
) -> ApiResult<RenameDataPipelineResponse> {
    api.store.tx(|tx| {
        let p = load(tx, who, Perm::WriteDataManagement, &req.id)?;
        let name = free_name(tx, &p.org_id, &req.name, &p.id)?;
        exec(
            tx,
            "UPDATE data_pipelines SET name = ?2, updated_at = ?3 WHERE id = ?1",
            params![p.id, name, now()],
        )?;
        Ok(RenameDataPipelineResponse {})
    })
}

/// Deletes the pipeline with its runs and its sink.
pub fn delete_data_pipeline(
    api: &Api,
    who: &Principal,
    req: DeleteDataPipelineRequest,
) -> ApiResult<DeleteDataPipelineResponse> {
    api.store.tx(|tx| {
        let p = load(tx, who, Perm::WriteDataManagement, &req.id)?;
        exec(tx, "DELETE FROM data_pipelines WHERE id = ?1", [&p.id])?;
        Ok(DeleteDataPipelineResponse {})
    })
}

/// Without backfill, the windows that passed while it was disabled are skipped.
pub fn enable_data_pipeline(
    api: &Api,
    who: &Principal,
    req: EnableDataPipelineRequest,
) -> ApiResult<EnableDataPipelineResponse> {
    api.store.tx(|tx| {
        let p = load(tx, who, Perm::WriteDataManagement, &req.id)?;
        if p.enabled {
            return Ok(EnableDataPipelineResponse {});
        }
        let t = now();
        let start = if p.backfill {
            p.window_start
        } else {
            window_holding(&schedule_of(&p.schedule)?, t)?
        };
        exec(
            tx,
            "UPDATE data_pipelines SET enabled = 1, updated_at = ?2, window_start_at = ?3 WHERE id = ?1",
            params![p.id, t, start],
        )?;
        Ok(EnableDataPipelineResponse {})
    })
}

/// The windows that ended while it was enabled run first.
pub fn disable_data_pipeline(
    api: &Api,
    who: &Principal,
    req: DisableDataPipelineRequest,
) -> ApiResult<DisableDataPipelineResponse> {
    let p = api
        .store
        .read(|c| load(c, who, Perm::WriteDataManagement, &req.id))?;
    catch_up(api, &p.id)?;
    api.store.tx(|tx| {
        exec(
            tx,
            "UPDATE data_pipelines SET enabled = 0, updated_at = ?2 WHERE id = ?1 AND enabled = 1",
            params![p.id, now()],
        )?;
        Ok(DisableDataPipelineResponse {})
    })
}

/// Runs the pipeline's due windows (those whose end is past), oldest first, each recording a
/// run and its result documents, or the error that failed it.
fn catch_up(api: &Api, id: &str) -> ApiResult<usize> {
    api.store.tx(|tx| {
        let sql = format!("SELECT {COLUMNS} FROM data_pipelines WHERE id = ?1");
        let Some(p) = row(tx, &sql, [id], stored_of).optional()? else {
            return Ok(0);
        };
        if !p.enabled {
            return Ok(0);
        }
        let cron = schedule_of(&p.schedule)?;
        let stages = stages_of(&p.mql)?;
        let mut start = p.window_start;
        let mut ran = 0;
        while ran < MAX_RUNS_PER_CATCH_UP {
            let end = next_tick(&cron, start)?;
            if end > now() {
                break;
            }
            let started = now();
            let result = run_window(tx, &p.org_id, (start, end), &stages);
            let run_id = new_id();
            let (status, error, count) = match &result {
                Ok(docs) => (DataPipelineRunStatus::Completed, String::new(), docs.len()),
                Err(e) => (DataPipelineRunStatus::Failed, e.clone(), 0),
            };
            exec(
                tx,
                "INSERT INTO data_pipeline_runs(id, pipeline_id, started_at, ended_at, data_start_at,
                     data_end_at, status, error_message, data_source_type, result_count)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    run_id,
                    p.id,
                    started,
                    now(),
                    start,
                    end,
                    status as i32,
                    error,
                    p.source,
                    count as i64
                ],
            )?;
            for d in result.unwrap_or_default() {
                exec(
                    tx,
                    "INSERT INTO data_pipeline_sink(pipeline_id, run_id, doc) VALUES (?1, ?2, ?3)",
                    params![p.id, run_id, bson_encode(&d)],
                )?;
            }
            start = end;
            ran += 1;
        }
        exec(
            tx,
            "UPDATE data_pipelines SET window_start_at = ?2 WHERE id = ?1",
            params![p.id, start],
        )?;
        Ok(ran)
    })
}

fn run_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<DataPipelineRun> {
    Ok(DataPipelineRun {
        id: r.get(0)?,
        start_time: Some(to_ts(r.get(1)?)),
        end_time: Some(to_ts(r.get(2)?)),
        data_start_time: Some(to_ts(r.get(3)?)),
        data_end_time: Some(to_ts(r.get(4)?)),
        status: r.get(5)?,
        error_message: r.get(6)?,
        data_source_type: r.get(7)?,
    })
}

/// Newest first, after the due windows ran; the page token is the position of the last run a
/// page held.
pub fn list_data_pipeline_runs(
    api: &Api,
    who: &Principal,
    req: ListDataPipelineRunsRequest,
) -> ApiResult<ListDataPipelineRunsResponse> {
    let before: i64 = match req.page_token.as_str() {
        "" => i64::MAX,
        t => t.parse().map_err(|_| {
            ApiError::invalid(
                "page_token",
                format!("{t:?} is not a token this server gave; pass the next_page_token of the previous page"),
            )
        })?,
    };
    let size = match req.page_size {
        0 => DEFAULT_PAGE,
        n => n.min(MAX_PAGE),
    };
    let p = api
        .store
        .read(|c| load(c, who, Perm::ReadOrganizationDataManagement, &req.id))?;
    catch_up(api, &p.id)?;
    api.store.read(|c| {
        let mut stmt = c.prepare_cached(
            "SELECT id, started_at, ended_at, data_start_at, data_end_at, status, error_message,
                 data_source_type, seq
             FROM data_pipeline_runs WHERE pipeline_id = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3",
        )?;
        let mut rows = stmt.query(params![p.id, before, i64::from(size) + 1])?;
        let mut runs = Vec::new();
        let mut last = 0i64;
        let mut more = false;
        while let Some(r) = rows.next()? {
            if runs.len() == size as usize {
                more = true;
                break;
            }
            runs.push(run_of(r)?);
            last = r.get(8)?;
        }
        Ok(ListDataPipelineRunsResponse {
            pipeline_id: p.id.clone(),
            runs,
            next_page_token: if more { last.to_string() } else { String::new() },
        })
    })
}

/// The documents of a pipeline's sink, for TabularDataByMQL with the PIPELINE_SINK source:
/// after its due windows ran, each result document with `_viam_pipeline_run` (the run's id, its
/// window as `interval.start` and `interval.end`, and the organization), oldest run first.
pub(super) fn sink(
    api: &Api,
    who: &Principal,
    org_id: &str,
    pipeline_id: &str,
) -> ApiResult<Vec<Document>> {
    let pipeline_id = required("data_source.pipeline_id", pipeline_id).map_err(|_| {
        ApiError::invalid(
            "data_source.pipeline_id",
            "required with TABULAR_DATA_SOURCE_TYPE_PIPELINE_SINK: the id of the pipeline whose results to query",
        )
    })?;
    let p = api.store.read(|c| {
        let p = load(c, who, Perm::ReadOrganizationDataManagement, pipeline_id)?;
        if p.org_id != org_id {
            return Err(ApiError::NotFound(format!(
                "data pipeline {pipeline_id:?} not found in organization {org_id:?}"
            )));
        }
        Ok(p)
    })?;
    catch_up(api, &p.id)?;
    api.store.read(|c| {
        let mut stmt = c.prepare_cached(
            "SELECT s.doc, r.id, r.data_start_at, r.data_end_at
             FROM data_pipeline_sink s JOIN data_pipeline_runs r ON r.id = s.run_id
             WHERE s.pipeline_id = ?1 ORDER BY s.seq",
        )?;
        let mut rows = stmt.query([&p.id])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let blob: Vec<u8> = r.get(0)?;
            let mut d = Document::from_reader(blob.as_slice())
                .map_err(|e| ApiError::Internal(format!("stored sink document: {e}")))?;
            d.insert(
                "_viam_pipeline_run",
                doc! {
                    "id": r.get::<_, String>(1)?,
                    "interval": {"start": bson_date(r.get(2)?), "end": bson_date(r.get(3)?)},
                    "organization_id": p.org_id.clone(),
                },
            );
            out.push(d);
        }
        Ok(out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000_000_000;

    #[test]
    fn windows_lie_between_two_ticks() {
        let hourly = schedule_of("0 * * * *").unwrap();
        // 2024-01-01T10:30:00Z lies in [10:00, 11:00).
        let t = 1_704_105_000_000_000_000;
        let ten = 1_704_103_200_000_000_000;
        assert_eq!(window_holding(&hourly, t).unwrap(), ten);
        assert_eq!(next_tick(&hourly, ten).unwrap(), ten + HOUR);
        // On a tick, the window starting there.
        assert_eq!(window_holding(&hourly, ten).unwrap(), ten);
    }

    #[test]
    fn schedules_are_five_field_cron_with_sunday_zero() {
        // 2024-01-07 is a Sunday.
        let sunday = schedule_of("0 0 * * 0").unwrap();
        let sunday_midnight = 1_704_585_600_000_000_000; // 2024-01-07T00:00:00Z
        assert_eq!(
            next_tick(&sunday, sunday_midnight - 24 * HOUR).unwrap(),
            sunday_midnight,
            "Sunday midnight"
        );
        for bad in ["* * * * * *", "hourly please", "61 * * * *", ""] {
            let Err(e) = schedule_of(bad) else {
                panic!("{bad:?} was accepted")
            };
            assert_eq!(e.code(), tonic::Code::InvalidArgument, "{bad}");
        }
    }
}
