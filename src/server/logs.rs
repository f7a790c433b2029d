//! Part logs: machines push entries with `viam.app.v1.RobotService/Log`; clients page through
//! them (GetRobotPartLogs, keyset pagination on the (part_id, time, seq) index) or follow them
//! live (TailRobotPartLogs, woken by the `log_seq` watch channel).
//!
//! A tail resumes by a cursor, carried in gRPC metadata so the wire schema stays the official
//! one (the SDKs ignore it): every tail's response headers say `fleetsh-log-cursor: S`, "this
//! stream delivers the matching entries stored after seq S, in store order". A client that
//! lost the stream after taking N entries from it asks again with `fleetsh-log-resume: S` and
//! `fleetsh-log-delivered: N`; the new stream first replays every matching entry stored after
//! those N (whatever their timestamps: logged during an outage, or with a part's old clock),
//! then goes on live, and names its own cursor.

use std::sync::Arc;

use prost::Message;
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::{Response, Status};

use super::Api;
use super::authz::{Identity, Perm, Principal, Scope};
use super::call::ServerStream;
use super::error::{ApiError, ApiResult, required};
use super::store::{exec, from_ts, now, row, to_ts};
use crate::proto::viam::app::v1::*;
use crate::proto::viam::common::v1::LogEntry;

/// Upstream's limit of entries per LogRequest.
pub const MAX_ENTRIES_PER_PUSH: usize = 1000;
/// Entries per GetRobotPartLogs page (fewer when `limit` is smaller).
pub const PAGE_SIZE: i64 = 100;
/// Entries per tail message.
const TAIL_BATCH: i64 = 500;
/// Response header of a tail: the store seq its entries come after.
pub const CURSOR_HEADER: &str = "fleetsh-log-cursor";
/// Request headers of a resumed tail: the lost stream's cursor and how many entries the
/// client took from it.
pub const RESUME_HEADER: &str = "fleetsh-log-resume";
pub const DELIVERED_HEADER: &str = "fleetsh-log-delivered";

/// The newest log sequence number (0 when there are no logs).
pub fn last_seq(store: &super::store::Store) -> ApiResult<i64> {
    store.read(|c| {
        Ok(row(c, "SELECT COALESCE(MAX(seq), 0) FROM logs", [], |r| {
            r.get(0)
        })?)
    })
}

fn decode_entry(bytes: &[u8]) -> ApiResult<LogEntry> {
    LogEntry::decode(bytes)
        .map_err(|e| ApiError::Internal(format!("stored log entry is corrupt: {e}")))
}

/// Filters shared by the paged read and the tail, as SQL conditions on `logs` plus their values.
struct Filter {
    sql: String,
    args: Vec<Value>,
}

impl Filter {
    fn new(part_id: &str) -> Self {
        Self {
            sql: "part_id = ?".into(),
            args: vec![Value::Text(part_id.into())],
        }
    }

    fn and(&mut self, cond: &str, args: impl IntoIterator<Item = Value>) {
        self.sql.push_str(" AND ");
        self.sql.push_str(cond);
        self.args.extend(args);
    }

    fn message_contains(&mut self, needle: Option<&str>) {
        if let Some(n) = needle.filter(|n| !n.is_empty()) {
            self.and("instr(message, ?) > 0", [Value::Text(n.into())]);
        }
    }

    fn errors_only(&mut self, on: bool) {
        if on {
            self.and("level = 'error'", []);
        }
    }
}

/// Where a page starts: after the (time, seq) of the previous page's last entry.
fn parse_token(token: &str) -> ApiResult<(i64, i64)> {
    let bad = || ApiError::invalid("page_token", "not a token returned by GetRobotPartLogs");
    let (t, s) = token.split_once('.').ok_or_else(bad)?;
    Ok((t.parse().map_err(|_| bad())?, s.parse().map_err(|_| bad())?))
}

fn query_entries(
    c: &Connection,
    sql: &str,
    args: &[Value],
) -> ApiResult<Vec<(i64, i64, LogEntry)>> {
    let mut stmt = c.prepare(sql)?;
    let rows = stmt.query_map(params_from_iter(args), |r| {
        Ok((r.get(0)?, r.get(1)?, r.get::<_, Vec<u8>>(2)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (time, seq, bytes) = row?;
        out.push((time, seq, decode_entry(&bytes)?));
    }
    Ok(out)
}

/// The request's time bounds in nanoseconds. `range` (a duration such as "10m", "10h" or "10d",
/// as the SDK documents it) is resolved against whichever of start and end is given, or against
/// now when neither is; with both it is ambiguous and refused.
fn time_window(req: &GetRobotPartLogsRequest) -> ApiResult<(Option<i64>, Option<i64>)> {
    let start = req.start.as_ref().map(from_ts);
    let end = req.end.as_ref().map(from_ts);
    let Some(range) = req.range.as_deref().filter(|r| !r.is_empty()) else {
        return Ok((start, end));
    };
    let span = humantime::parse_duration(range).map_err(|e| {
        ApiError::invalid(
            "range",
            format!("{range:?} is not a duration like 10m, 10h or 10d: {e}"),
        )
    })?;
    let span = i64::try_from(span.as_nanos()).unwrap_or(i64::MAX);
    Ok(match (start, end) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "range",
                "cannot be used with both start and end; give one of them, or neither to end now",
            ));
        }
        (Some(s), None) => (Some(s), Some(s.saturating_add(span))),
        (None, Some(e)) => (Some(e.saturating_sub(span)), Some(e)),
        (None, None) => {
            let e = now();
            (Some(e.saturating_sub(span)), Some(e))
        }
    })
}

#[allow(deprecated)]
/// The page query (fetching one row more than a page, to tell whether more remain), its
/// arguments and the page size.
fn page_query(req: &GetRobotPartLogsRequest) -> ApiResult<(String, Vec<Value>, i64)> {
    let mut f = Filter::new(&req.id);
    f.message_contains(req.filter.as_deref());
    f.errors_only(req.errors_only);
    let levels: Vec<Value> = req
        .levels
        .iter()
        .filter(|l| !l.is_empty())
        .map(|l| Value::Text(l.to_lowercase()))
        .collect();
    if !levels.is_empty() {
        let marks = vec!["?"; levels.len()].join(", ");
        f.and(&format!("level IN ({marks})"), levels);
    }
    let (start, end) = time_window(req)?;
    if let Some(start) = start {
        f.and("time >= ?", [Value::Integer(start)]);
    }
    if let Some(end) = end {
        f.and("time <= ?", [Value::Integer(end)]);
    }
    let ascending = req.order == Some(LogOrder::Ascending as i32);
    if let Some(token) = req.page_token.as_deref().filter(|t| !t.is_empty()) {
        let (t, s) = parse_token(token)?;
        let cmp = if ascending { ">" } else { "<" };
        f.and(
            &format!("(time, seq) {cmp} (?, ?)"),
            [Value::Integer(t), Value::Integer(s)],
        );
    }
    let size = match req.limit {
        Some(n) if n < 0 => return Err(ApiError::invalid("limit", "must not be negative")),
        Some(n) if n > 0 => n.min(PAGE_SIZE),
        _ => PAGE_SIZE,
    };
    let dir = if ascending { "ASC" } else { "DESC" };
    let sql = format!(
        "SELECT time, seq, entry FROM logs WHERE {} ORDER BY time {dir}, seq {dir} LIMIT {}",
        f.sql,
        size + 1
    );
    Ok((sql, f.args, size))
}

pub fn get_robot_part_logs(
    api: &Api,
    who: &Principal,
    req: GetRobotPartLogsRequest,
) -> ApiResult<GetRobotPartLogsResponse> {
    required("id", &req.id)?;
    let (sql, args, size) = page_query(&req)?;
    api.store.read(|c| {
        who.require(Perm::ReadRobotLogs, &Scope::part(c, &req.id)?)?;
        let mut rows = query_entries(c, &sql, &args)?;
        let more = rows.len() as i64 > size;
        rows.truncate(size as usize);
        let next_page_token = match rows.last() {
            Some((time, seq, _)) if more => format!("{time}.{seq}"),
            _ => String::new(),
        };
        Ok(GetRobotPartLogsResponse {
            logs: rows.into_iter().map(|(_, _, e)| e).collect(),
            next_page_token,
        })
    })
}

/// The tail's conditions on `logs`.
fn tail_filter(req: &TailRobotPartLogsRequest) -> Filter {
    let mut f = Filter::new(&req.id);
    // `+part_id` keeps SQLite on the seq range: only new rows are scanned, not the part's
    // whole history through the part index.
    f.sql = "+part_id = ?".into();
    f.message_contains(req.filter.as_deref());
    f.errors_only(req.errors_only);
    f
}

/// The query for new entries: its first two arguments (the seq range) come per wake-up.
fn tail_query(req: &TailRobotPartLogsRequest) -> (String, Vec<Value>) {
    let f = tail_filter(req);
    let sql = format!(
        "SELECT time, seq, entry FROM logs WHERE seq > ? AND seq <= ? AND {} ORDER BY seq LIMIT {TAIL_BATCH}",
        f.sql
    );
    (sql, f.args)
}

/// A number in request header `name`, if the client sent it.
fn header_number(md: &MetadataMap, name: &str) -> ApiResult<Option<i64>> {
    let Some(v) = md.get(name) else {
        return Ok(None);
    };
    v.to_str()
        .ok()
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|n| *n >= 0)
        .map(Some)
        .ok_or_else(|| {
            ApiError::invalid(
                name,
                "not a cursor: send back the fleetsh-log-cursor a tail answered",
            )
        })
}

/// Where a resumed tail starts: after the `delivered`-th matching entry stored after
/// `cursor` (the last one the client took), or `cursor` itself when it took none.
fn resume_point(
    c: &Connection,
    req: &TailRobotPartLogsRequest,
    cursor: i64,
    delivered: i64,
    newest: i64,
) -> ApiResult<i64> {
    if cursor > newest {
        return Err(ApiError::invalid(
            RESUME_HEADER,
            format!(
                "cursor {cursor} is ahead of this fleet's log (newest {newest}): not a cursor of this fleet"
            ),
        ));
    }
    if delivered == 0 {
        return Ok(cursor);
    }
    let f = tail_filter(req);
    let sql = format!(
        "SELECT seq FROM logs WHERE seq > ? AND {} ORDER BY seq LIMIT 1 OFFSET ?",
        f.sql
    );
    let mut args = vec![Value::Integer(cursor)];
    args.extend(f.args);
    args.push(Value::Integer(delivered - 1));
    let seq: Option<i64> = c
        .prepare(&sql)?
        .query_row(params_from_iter(args), |r| r.get(0))
        .optional()?;
    // Fewer entries than the client took: some were deleted since; all that remain were sent.
    Ok(seq.unwrap_or(newest))
}

struct Tail {
    api: Arc<Api>,
    wake: tokio::sync::watch::Receiver<i64>,
    /// Every entry up to this seq has been considered.
    seen: i64,
    sql: String,
    args: Vec<Value>,
}

pub fn tail_robot_part_logs(
    api: &Arc<Api>,
    who: &Principal,
    md: &MetadataMap,
    req: TailRobotPartLogsRequest,
) -> ApiResult<Response<ServerStream<TailRobotPartLogsResponse>>> {
    required("id", &req.id)?;
    let resume = header_number(md, RESUME_HEADER)?;
    let delivered = header_number(md, DELIVERED_HEADER)?.unwrap_or(0);
    // Subscribe before reading the start point, so no push between the two is missed.
    let wake = api.log_seq.subscribe();
    let seen = api.store.read(|c| {
        who.require(Perm::ReadRobotLogs, &Scope::part(c, &req.id)?)?;
        let newest = row(c, "SELECT COALESCE(MAX(seq), 0) FROM logs", [], |r| {
            r.get(0)
        })?;
        match resume {
            Some(cursor) => resume_point(c, &req, cursor, delivered, newest),
            None => Ok(newest),
        }
    })?;
    let (sql, args) = tail_query(&req);
    let tail = Tail {
        api: api.clone(),
        wake,
        seen,
        sql,
        args,
    };
    let stream: ServerStream<_> = Box::pin(futures::stream::unfold(tail, |mut t| async move {
        match t.next_batch().await {
            Ok(Some(logs)) => Some((Ok(TailRobotPartLogsResponse { logs }), t)),
            Ok(None) => None,
            Err(e) => Some((Err(Status::from(e)), t)),
        }
    }));
    let mut reply = Response::new(stream);
    reply
        .metadata_mut()
        .insert(CURSOR_HEADER, MetadataValue::from(seen));
    Ok(reply)
}

impl Tail {
    /// Waits for the next non-empty batch; None when the server stops. A client going away
    /// drops the stream, and with it this future.
    async fn next_batch(&mut self) -> ApiResult<Option<Vec<LogEntry>>> {
        loop {
            let newest = *self.wake.borrow_and_update();
            while self.seen < newest {
                let mut args = vec![Value::Integer(self.seen), Value::Integer(newest)];
                args.extend(self.args.iter().cloned());
                let rows = self
                    .api
                    .store
                    .read(|c| query_entries(c, &self.sql, &args))?;
                self.seen = match rows.last() {
                    Some((_, seq, _)) if rows.len() as i64 == TAIL_BATCH => *seq,
                    _ => newest,
                };
                if !rows.is_empty() {
                    return Ok(Some(rows.into_iter().map(|(_, _, e)| e).collect()));
                }
            }
            tokio::select! {
                changed = self.wake.changed() => if changed.is_err() { return Ok(None) },
                () = self.api.closing.cancelled() => return Ok(None),
            }
        }
    }
}

/// Stores one push; returns the newest seq (or None when nothing was stored).
fn store_entries(api: &Api, who: &Principal, req: LogRequest) -> ApiResult<Option<i64>> {
    let part_id = required("id", &req.id)?;
    if req.logs.len() > MAX_ENTRIES_PER_PUSH {
        return Err(ApiError::invalid(
            "logs",
            format!(
                "{} entries; at most {MAX_ENTRIES_PER_PUSH} per request",
                req.logs.len()
            ),
        ));
    }
    api.store.tx(|tx| {
        let scope = Scope::part(tx, part_id)?;
        match &who.identity {
            Identity::Part { id } if id == part_id => {}
            Identity::Part { .. } => {
                return Err(ApiError::denied(format!(
                    "a part may only push its own logs, not {}",
                    scope.what
                )));
            }
            Identity::ApiKey { .. } | Identity::User { .. } => {
                who.require(Perm::WriteRobot, &scope)?
            }
        }
        let t = now();
        let mut last = None;
        let mut insert = tx.prepare_cached(
            "INSERT INTO logs(part_id, time, level, message, entry) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for mut entry in req.logs {
            let time = *entry.time.get_or_insert_with(|| to_ts(t));
            insert.execute(params![
                part_id,
                from_ts(&time),
                entry.level.to_lowercase(),
                &entry.message,
                entry.encode_to_vec()
            ])?;
            last = Some(tx.last_insert_rowid());
        }
        exec(
            tx,
            "UPDATE parts SET last_access = ?2 WHERE id = ?1",
            params![part_id, t],
        )?;
        exec(
            tx,
            "UPDATE robots SET last_access = ?2 WHERE id = ?1",
            params![scope.robot_id, t],
        )?;
        Ok(last)
    })
}

pub fn push_logs(api: &Api, who: &Principal, req: LogRequest) -> ApiResult<LogResponse> {
    if let Some(seq) = store_entries(api, who, req)? {
        // Concurrent pushes may finish out of order: never move the watch backwards.
        api.log_seq.send_if_modified(|v| {
            let newer = seq > *v;
            if newer {
                *v = seq;
            }
            newer
        });
    }
    Ok(LogResponse {})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::store::{Store, query_plan};

    fn plan(sql: &str, args: &[Value]) -> String {
        let store = Store::open_in_memory().unwrap();
        store
            .read(|c| Ok(query_plan(c, sql, params_from_iter(args))?))
            .unwrap()
    }

    /// Paging stays cheap at 100k entries only if every page is an index range read in
    /// index order: no sort, no scan of earlier pages.
    #[test]
    #[allow(deprecated)]
    fn pages_are_index_ranges_in_both_orders() {
        for order in [None, Some(LogOrder::Ascending as i32)] {
            let req = GetRobotPartLogsRequest {
                id: "p".into(),
                page_token: Some("5.7".into()),
                levels: vec!["Error".into()],
                filter: Some("x".into()),
                order,
                ..Default::default()
            };
            let (sql, args, size) = page_query(&req).unwrap();
            assert_eq!(size, PAGE_SIZE);
            let p = plan(&sql, &args);
            assert!(
                p.contains("USING INDEX logs_part_time (part_id=? AND"),
                "{p}"
            );
            assert!(!p.contains("TEMP B-TREE"), "{p}");
        }
    }

    #[test]
    fn tails_read_only_the_new_seq_range() {
        let (sql, mut args) = tail_query(&TailRobotPartLogsRequest {
            id: "p".into(),
            errors_only: true,
            filter: None,
        });
        args.splice(0..0, [Value::Integer(1), Value::Integer(2)]);
        let p = plan(&sql, &args);
        assert!(
            p.contains("INTEGER PRIMARY KEY (rowid>? AND rowid<?)"),
            "{p}"
        );
    }

    /// Seqs 1..=6: p error, q error, p info, p error, p error, q info (times descending, so
    /// store order and time order disagree, as with entries logged during an outage).
    fn six_entries() -> Store {
        let store = Store::open_in_memory().unwrap();
        let rows = [
            ("p", "error"),
            ("q", "error"),
            ("p", "info"),
            ("p", "error"),
            ("p", "error"),
            ("q", "info"),
        ];
        store
            .tx(|tx| {
                for (i, (part, level)) in rows.iter().enumerate() {
                    exec(
                        tx,
                        "INSERT INTO logs(part_id, time, level, message, entry) VALUES (?1, ?2, ?3, 'm', x'')",
                        params![part, 100 - i as i64, level],
                    )?;
                }
                Ok(())
            })
            .unwrap();
        store
    }

    #[test]
    fn a_resume_starts_after_the_matching_entries_the_client_took() {
        let store = six_entries();
        let req = |errors_only| TailRobotPartLogsRequest {
            id: "p".into(),
            errors_only,
            filter: None,
        };
        let at = |errors_only, cursor, delivered| {
            store
                .read(|c| resume_point(c, &req(errors_only), cursor, delivered, 6))
                .unwrap()
        };
        // p's entries after seq 0 are 1, 3, 4, 5; its errors 1, 4, 5.
        assert_eq!(at(false, 0, 0), 0);
        assert_eq!(at(false, 0, 2), 3);
        assert_eq!(at(true, 0, 2), 4);
        assert_eq!(at(true, 1, 1), 4);
        // More than there are (deleted since): everything was sent.
        assert_eq!(at(true, 0, 9), 6);
        let ahead = store.read(|c| resume_point(c, &req(false), 7, 0, 6));
        assert!(ahead.unwrap_err().to_string().starts_with(RESUME_HEADER));
    }

    #[test]
    fn resume_headers_must_be_numbers() {
        let mut md = MetadataMap::new();
        assert_eq!(header_number(&md, RESUME_HEADER).unwrap(), None);
        md.insert(RESUME_HEADER, "12".parse().unwrap());
        assert_eq!(header_number(&md, RESUME_HEADER).unwrap(), Some(12));
        for bad in ["-1", "x", "1.5"] {
            md.insert(RESUME_HEADER, bad.parse().unwrap());
            assert!(header_number(&md, RESUME_HEADER).is_err(), "{bad}");
        }
    }

    #[test]
    fn limits_and_tokens_are_checked() {
        let req = |limit, token: &str| GetRobotPartLogsRequest {
            id: "p".into(),
            limit,
            page_token: Some(token.into()),
            ..Default::default()
        };
        assert_eq!(page_query(&req(Some(7), "")).unwrap().2, 7);
        assert_eq!(page_query(&req(Some(5000), "")).unwrap().2, PAGE_SIZE);
        assert_eq!(
            page_query(&req(Some(-1), "")).unwrap_err().code(),
            tonic::Code::InvalidArgument
        );
        for bad in ["x", "1", "1.x", ".2"] {
            assert!(
                page_query(&req(None, bad))
                    .unwrap_err()
                    .to_string()
                    .starts_with("page_token:"),
                "{bad}"
            );
        }
    }
}
