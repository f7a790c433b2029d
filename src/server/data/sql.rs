//! TabularDataBySQL: the query runs in SQLite itself (its dialect: SELECT, WITH, joins,
//! aggregates, `json_extract`/`->>`), on a connection of its own opened read-only, against a
//! temporary view `readings` that holds only the caller's organization's readings it may see.
//! An authorizer allows nothing but SELECT reading that view (and json_each/json_tree), so a
//! query can neither write nor read any other table, and a progress handler stops one that
//! runs too long.
//!
//! Columns of `readings`: organization_id, location_id, robot_id, robot_name, part_id,
//! part_name, component_type, component_name, method_name, time_requested, time_received
//! (RFC 3339 text, milliseconds, UTC: they compare as text), tags (a JSON array), method_parameters
//! and data (JSON objects). Dotted access into `data`, as upstream writes it
//! (`data.readings.temperature`, or `r.data.readings.temperature` with an alias), is rewritten
//! to `json_extract(data, '$.readings.temperature')` before SQLite reads the query; SQLite's own
//! `data ->> '$.readings.temperature'` works too.
//!
//! Each result row becomes one BSON document: integers int64, reals double, text a string,
//! except text that is a JSON object or array (a document or array) or an RFC 3339 UTC time
//! (a date), so `SELECT *` answers with the same shapes as upstream's `data`, `tags` and times.

use std::time::{Duration, Instant};

use bson::raw::{CStr, CString};
use bson::{RawArrayBuf, RawBinaryRef, RawBson, RawBsonRef, RawDocumentBuf};
use rusqlite::functions::FunctionFlags;
use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use super::Access;
use crate::proto::viam::app::data::v1::{TabularDataBySqlRequest, TabularDataBySqlResponse};
use crate::server::Api;
use crate::server::authz::{Perm, Principal, Scope};
use crate::server::error::{ApiError, ApiResult, required};

/// How long one query may run.
const MAX_DURATION: Duration = Duration::from_secs(10);
/// Rows and bytes one answer may carry (the reply is one message).
const MAX_ROWS: usize = 100_000;
const MAX_BYTES: usize = 64 * 1024 * 1024;
/// How much of the database a query's connection maps instead of reading.
const MMAP_BYTES: i64 = 1 << 30;

/// The view's times as text: what `strftime('%Y-%m-%dT%H:%M:%fZ', ns / 1e9, 'unixepoch')`
/// makes, by digit arithmetic. strftime's formatting was a quarter of the server's CPU for a
/// query returning 100,000 rows.
const TIME_FUNCTION: &str = "fleetsh_utc_millis";

/// Unix nanoseconds as `YYYY-MM-DDTHH:MM:SS.sssZ`, to the nearest millisecond (strftime's
/// own rounding through doubles differs by a millisecond for some sub-millisecond parts);
/// `None` outside years 0000-9999, which strftime shows as NULL too.
fn utc_millis_text(nanos: i64) -> Option<UtcMillis> {
    let millis = nanos.checked_add(500_000)?.div_euclid(1_000_000);
    let (days, ms) = (millis.div_euclid(86_400_000), millis.rem_euclid(86_400_000));
    let (y, m, d) = civil_from_days(days);
    if !(0..=9999).contains(&y) {
        return None;
    }
    let secs = ms / 1000;
    let mut b = *b"0000-00-00T00:00:00.000Z";
    let mut put = |at: usize, width: usize, mut n: i64| {
        for i in (at..at + width).rev() {
            b[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    put(0, 4, y);
    put(5, 2, m);
    put(8, 2, d);
    put(11, 2, secs / 3600);
    put(14, 2, secs / 60 % 60);
    put(17, 2, secs % 60);
    put(20, 3, ms % 1000);
    Some(UtcMillis(b))
}

/// A view time's text, kept on the stack: SQLite copies a function's text result anyway, and
/// a String made and freed per row and time column was a third of the function's cost.
struct UtcMillis([u8; 24]);

impl UtcMillis {
    fn as_str(&self) -> &str {
        // Digits and ASCII punctuation only.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl rusqlite::ToSql for UtcMillis {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(rusqlite::types::ToSqlOutput::Borrowed(ValueRef::Text(
            self.as_str().as_bytes(),
        )))
    }
}

/// Days since 1970-01-01 as (year, month, day) in the proleptic Gregorian calendar
/// (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// (year, month, day) as days since 1970-01-01: `civil_from_days`'s inverse.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DDTHH:MM:SS.sssZ` (the view's own times) as milliseconds since the epoch, without
/// a general RFC 3339 parser; other shapes are `None` and take that parser.
fn view_time_millis(b: &[u8]) -> Option<i64> {
    if b.len() != 24 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' {
        return None;
    }
    if b[16] != b':' || b[19] != b'.' || b[23] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| {
        b[r].iter().try_fold(0i64, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0'))
        })
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s, ms) = (num(11..13)?, num(14..16)?, num(17..19)?, num(20..23)?);
    let days_in_month = match mo {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return None,
    };
    if !(1..=days_in_month).contains(&d) || h > 23 || mi > 59 || s > 59 {
        return None;
    }
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s;
    Some(secs * 1000 + ms)
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The view's definition for one caller: literal ids (all read from the store, quoted).
/// The organization's term is marked as matching half of the rows: without statistics SQLite
/// rated `org_id = ?` as selective as `part_id = ?` and walked the organization's index, reading
/// every reading of the organization to answer a query about one part (100,000 rows of
/// 1,100,000: 1.1 s). A query that names no part still walks the organization's index.
/// A caller who may read the whole organization sees all of its readings: the grant lists,
/// checked row by row, were 6% of a query returning 100,000 rows.
fn view_sql(org_id: &str, access: &Access) -> String {
    let list = |v: &Vec<String>| quote(&serde_json::to_string(v).unwrap_or_default());
    let time = |c: &str| format!("{TIME_FUNCTION}({c}) AS {c}");
    let granted = if access.orgs.iter().any(|o| o == org_id) {
        String::new()
    } else {
        format!(
            " AND (org_id IN (SELECT value FROM json_each({}))
             OR location_id IN (SELECT value FROM json_each({}))
             OR robot_id IN (SELECT value FROM json_each({})))",
            list(&access.orgs),
            list(&access.locations),
            list(&access.robots),
        )
    };
    format!(
        "CREATE TEMP VIEW readings AS SELECT
             org_id AS organization_id, location_id, robot_id, robot_name, part_id, part_name,
             component_type, component_name, method_name, {}, {}, tags, method_parameters, data
         FROM main.data_readings
         WHERE likelihood(org_id = {}, 0.5){granted}",
        time("time_requested"),
        time("time_received"),
        quote(org_id),
    )
}

/// Only SELECT reading the view (or JSON table functions); functions and CTEs are free.
fn authorize(ctx: AuthContext<'_>) -> Authorization {
    match ctx.action {
        AuthAction::Select | AuthAction::Function { .. } | AuthAction::Recursive => {
            Authorization::Allow
        }
        AuthAction::Read { table_name, .. }
            if ctx.accessor == Some("readings")
                || matches!(table_name, "readings" | "json_each" | "json_tree") =>
        {
            Authorization::Allow
        }
        _ => Authorization::Deny,
    }
}

/// Rewrites dotted access into `data` (outside quotes and comments) to `json_extract`.
fn rewrite_dotted(q: &str) -> String {
    let chars: Vec<char> = q.chars().collect();
    let mut out = String::with_capacity(q.len());
    let mut i = 0;
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    while i < chars.len() {
        let c = chars[i];
        let close = match c {
            '\'' | '"' | '`' => Some(c),
            '[' => Some(']'),
            _ => None,
        };
        if let Some(close) = close {
            // A quoted string or name, copied as is ('' inside '...' is a quote, not the end).
            out.push(c);
            i += 1;
            while i < chars.len() {
                out.push(chars[i]);
                i += 1;
                if chars[i - 1] == close {
                    if i < chars.len() && chars[i] == close && close != ']' {
                        out.push(chars[i]);
                        i += 1;
                        continue;
                    }
                    break;
                }
            }
            continue;
        }
        if c == '-' && chars.get(i + 1) == Some(&'-') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(chars[i]);
                i += 1;
            }
            continue;
        }
        if c == '/' && chars.get(i + 1) == Some(&'*') {
            let start = i;
            i += 2;
            while i < chars.len() && !(chars[i - 1] == '*' && chars[i] == '/' && i > start + 2) {
                i += 1;
            }
            i = (i + 1).min(chars.len());
            out.extend(&chars[start..i]);
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' {
            // An identifier chain: a.b.c
            let start = i;
            let mut segments = Vec::new();
            loop {
                let s = i;
                while i < chars.len() && ident(chars[i]) {
                    i += 1;
                }
                segments.push(chars[s..i].iter().collect::<String>());
                if i + 1 < chars.len()
                    && chars[i] == '.'
                    && (chars[i + 1].is_ascii_alphabetic() || chars[i + 1] == '_')
                {
                    i += 1;
                } else {
                    break;
                }
            }
            let at = segments
                .iter()
                .take(2)
                .position(|s| s.eq_ignore_ascii_case("data"))
                .filter(|&p| p + 1 < segments.len());
            match at {
                Some(p) => out.push_str(&format!(
                    "json_extract({}, '$.{}')",
                    segments[..=p].join("."),
                    segments[p + 1..].join(".")
                )),
                None => out.extend(&chars[start..i]),
            }
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

fn open(api: &Api, org_id: &str, access: &Access) -> ApiResult<Connection> {
    let path = api.data_dir.join("fleet.db");
    let conn = Connection::open_with_flags(
        &path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(5))?;
    // Each query opens its own connection, so its page cache starts empty and every page came
    // through pread into a fresh copy (a tenth of a 100,000-row query); mapped, pages are read
    // in place.
    conn.pragma_update(None, "mmap_size", MMAP_BYTES)?;
    create_view(&conn, org_id, access)?;
    conn.authorizer(Some(authorize))?;
    let deadline = Instant::now() + MAX_DURATION;
    conn.progress_handler(10_000, Some(move || Instant::now() > deadline))?;
    Ok(conn)
}

/// The `readings` view of one caller on `conn`, with the time function it reads through.
fn create_view(conn: &Connection, org_id: &str, access: &Access) -> ApiResult<()> {
    conn.create_scalar_function(
        TIME_FUNCTION,
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            Ok(match ctx.get_raw(0) {
                ValueRef::Integer(ns) => utc_millis_text(ns),
                _ => None,
            })
        },
    )?;
    conn.execute_batch(&view_sql(org_id, access))?;
    Ok(())
}

fn is_utc_time(s: &str) -> bool {
    let b = s.as_bytes();
    (20..=35).contains(&b.len())
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[10] == b'T'
        && s.ends_with('Z')
}

/// A column's value as BSON, appended straight to the row's document (no `Document` in
/// between: building, encoding and dropping one per row was a fifth of a large answer's time).
/// Text and blobs are written from SQLite's own bytes: copying each into an owned string first
/// was a tenth of the encoding.
fn append_value(doc: &mut RawDocumentBuf, key: &CStr, v: ValueRef<'_>) {
    match v {
        ValueRef::Null => doc.append(key, RawBsonRef::Null),
        ValueRef::Integer(i) => doc.append(key, i),
        ValueRef::Real(f) => doc.append(key, f),
        ValueRef::Text(t) => {
            if t.starts_with(b"{") || t.starts_with(b"[") {
                if let Some(b) = serde_json::from_slice(t).ok().and_then(json_to_raw) {
                    return doc.append(key, b);
                }
            }
            if let Some(ms) = view_time_millis(t) {
                return doc.append(key, bson::DateTime::from_millis(ms));
            }
            let s = String::from_utf8_lossy(t);
            if is_utc_time(&s) {
                if let Ok(d) = bson::DateTime::parse_rfc3339_str(&*s) {
                    return doc.append(key, d);
                }
            }
            doc.append(key, &*s)
        }
        ValueRef::Blob(b) => doc.append(
            key,
            RawBinaryRef {
                subtype: bson::spec::BinarySubtype::Generic,
                bytes: b,
            },
        ),
    }
}

/// An empty document with room for `bytes` (the previous row's size: rows of one answer are
/// alike, and growing each one field by field was a twentieth of the encoding).
fn document_of(bytes: usize) -> RawDocumentBuf {
    let mut b = Vec::with_capacity(bytes);
    // An empty document's bytes (its length, 5, and the terminating NUL), written here rather
    // than copied from one allocated per row.
    b.extend_from_slice(&[5, 0, 0, 0, 0]);
    RawDocumentBuf::from_bytes(b).expect("an empty document is a document")
}

/// JSON as BSON (as `docs::json_to_bson`: integers int64, other numbers double); `None` for an
/// object with a key BSON cannot hold (a NUL), which then stays text.
fn json_to_raw(v: serde_json::Value) -> Option<RawBson> {
    use serde_json::Value as J;
    Some(match v {
        J::Null => RawBson::Null,
        J::Bool(b) => RawBson::Boolean(b),
        J::Number(n) => match n.as_i64() {
            Some(i) => RawBson::Int64(i),
            None => RawBson::Double(n.as_f64().unwrap_or(f64::NAN)),
        },
        J::String(s) => RawBson::String(s),
        J::Array(a) => {
            let mut out = RawArrayBuf::new();
            for x in a {
                out.push(json_to_raw(x)?);
            }
            RawBson::Array(out)
        }
        J::Object(m) => {
            let mut out = RawDocumentBuf::new();
            for (k, v) in m {
                out.append(CString::try_from(k).ok()?, json_to_raw(v)?);
            }
            RawBson::Document(out)
        }
    })
}

fn query_error(e: rusqlite::Error) -> ApiError {
    match e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::OperationInterrupted =>
        {
            ApiError::ResourceExhausted(format!(
                "sql_query: ran longer than {} s; narrow it (WHERE, LIMIT)",
                MAX_DURATION.as_secs()
            ))
        }
        rusqlite::Error::SqliteFailure(f, msg)
            if f.code == rusqlite::ErrorCode::AuthorizationForStatementDenied =>
        {
            ApiError::invalid(
                "sql_query",
                format!(
                    "{}: only SELECT statements reading the readings table are allowed",
                    msg.unwrap_or_else(|| "not authorized".into())
                ),
            )
        }
        rusqlite::Error::MultipleStatement => {
            ApiError::invalid("sql_query", "one statement per query")
        }
        e => ApiError::invalid("sql_query", e),
    }
}

pub fn tabular_data_by_sql(
    api: &Api,
    who: &Principal,
    req: TabularDataBySqlRequest,
) -> ApiResult<TabularDataBySqlResponse> {
    let org_id = required("organization_id", &req.organization_id)?;
    let query = required("sql_query", &req.sql_query)?;
    let access = api.store.read(|c| {
        let scope = Scope::organization(c, org_id)?;
        let perm = Perm::ReadOrganizationDataManagement;
        let access = Access::of(c, who, perm)?;
        access.require_in(perm, &scope.org_id, &scope.what)?;
        Ok(access)
    })?;
    let conn = open(api, org_id, &access)?;
    let mut stmt = conn.prepare(&rewrite_dotted(query)).map_err(query_error)?;
    let names = stmt
        .column_names()
        .into_iter()
        .map(|n| {
            CString::try_from(n).map_err(|_| {
                ApiError::invalid(
                    "sql_query",
                    format!("column name {n:?} holds a NUL character"),
                )
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let mut rows = stmt.query([]).map_err(query_error)?;
    let mut raw_data = Vec::new();
    let (mut bytes, mut last) = (0, 0);
    while let Some(r) = rows.next().map_err(query_error)? {
        let mut doc = document_of(last);
        for (i, name) in names.iter().enumerate() {
            append_value(&mut doc, name, r.get_ref(i)?);
        }
        let encoded = doc.into_bytes();
        last = encoded.len();
        bytes += encoded.len();
        raw_data.push(encoded);
        if raw_data.len() > MAX_ROWS || bytes > MAX_BYTES {
            return Err(ApiError::ResourceExhausted(format!(
                "sql_query: the answer exceeds {MAX_ROWS} rows or {} MiB; add a LIMIT or aggregate",
                MAX_BYTES >> 20
            )));
        }
    }
    Ok(TabularDataBySqlResponse { raw_data })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_access_into_data_becomes_json_extract_outside_quotes_and_comments() {
        assert_eq!(
            rewrite_dotted("SELECT data.readings.temp AS t FROM readings r WHERE r.data.a.b > 1.5"),
            "SELECT json_extract(data, '$.readings.temp') AS t FROM readings r WHERE json_extract(r.data, '$.a.b') > 1.5"
        );
        for unchanged in [
            "SELECT data, readings.data FROM readings",
            "SELECT 'data.readings.temp', \"data.x\" FROM readings -- data.y",
            "SELECT 1 /* data.z */, 'it''s data.q' FROM readings",
            "SELECT data ->> '$.readings.temp' FROM readings",
        ] {
            assert_eq!(rewrite_dotted(unchanged), unchanged);
        }
    }

    #[test]
    fn text_that_looks_like_json_or_a_time_becomes_bson_of_that_kind() {
        // A value as the one field of a row's document, read back.
        let doc = |v: ValueRef<'_>| {
            let key = CString::try_from("v").unwrap();
            let mut d = document_of(0);
            append_value(&mut d, &key, v);
            let d = bson::Document::try_from(d).unwrap();
            assert_eq!(d.len(), 1);
            d.get("v").unwrap().clone()
        };
        assert_eq!(
            doc(ValueRef::Text(b"{\"a\":1,\"b\":[1.5,\"x\",null]}")),
            bson::Bson::Document(bson::doc! {"a": 1_i64, "b": [1.5, "x", null]})
        );
        assert_eq!(
            doc(ValueRef::Text(b"[\"x\"]")),
            bson::Bson::Array(vec!["x".into()])
        );
        for text in [
            "2024-01-02T03:04:05.678Z",
            "2024-02-29T23:59:59.999Z",
            "2024-01-02T03:04:05Z",
        ] {
            assert_eq!(
                doc(ValueRef::Text(text.as_bytes())),
                bson::Bson::DateTime(bson::DateTime::parse_rfc3339_str(text).unwrap()),
                "{text}"
            );
        }
        for not_a_time in [
            "2023-02-29T00:00:00.000Z",
            "2024-13-01T00:00:00.000Z",
            "2024-01-02T24:00:00.000Z",
        ] {
            assert_eq!(
                view_time_millis(not_a_time.as_bytes()),
                None,
                "{not_a_time}"
            );
        }
        assert_eq!(
            doc(ValueRef::Text(b"{not json")),
            bson::Bson::String("{not json".into())
        );
        assert_eq!(
            doc(ValueRef::Text(b"caf\xc3\xa9 \xff")),
            bson::Bson::String("caf\u{e9} \u{fffd}".into())
        );
        assert_eq!(doc(ValueRef::Integer(1 << 40)), bson::Bson::Int64(1 << 40));
        assert_eq!(doc(ValueRef::Real(2.5)), bson::Bson::Double(2.5));
        assert_eq!(doc(ValueRef::Null), bson::Bson::Null);
        assert_eq!(
            doc(ValueRef::Blob(b"\x00\x01")),
            bson::Bson::Binary(bson::Binary {
                subtype: bson::spec::BinarySubtype::Generic,
                bytes: vec![0, 1],
            })
        );
    }

    #[test]
    fn a_query_about_one_part_walks_that_parts_index_not_the_organizations() {
        let store = crate::server::store::Store::open_in_memory().unwrap();
        let whole = Access {
            orgs: vec!["o".into()],
            ..Access::default()
        };
        let one_location = Access {
            locations: vec!["l".into()],
            ..Access::default()
        };
        for access in [whole, one_location] {
            let plan = |q: &str| {
                store
                    .read(|c| {
                        create_view(c, "o", &access)?;
                        let plan = crate::server::store::query_plan(c, q, [])?;
                        c.execute_batch("DROP VIEW temp.readings")?;
                        Ok(plan)
                    })
                    .unwrap()
            };
            let one_part = plan("SELECT data FROM readings WHERE part_id = 'p'");
            assert!(
                one_part.contains("data_readings_source_time (part_id=?)"),
                "a query about one part reads the whole organization:\n{one_part}"
            );
            let all = plan("SELECT data FROM readings");
            assert!(all.contains("data_readings_org_time"), "{all}");
        }
    }

    #[test]
    fn the_view_holds_what_the_grants_allow() {
        let store = crate::server::store::Store::open_in_memory().unwrap();
        store
            .tx(|tx| {
                tx.execute_batch(
                    "INSERT INTO orgs(id, name, created_on) VALUES ('o', 'org', 0), ('q', 'other', 0);
                     INSERT INTO data_readings(org_id, location_id, robot_id, robot_name, part_id,
                         part_name, component_type, component_name, method_name,
                         method_parameters, tags, time_requested, time_received, time_synced, data)
                     VALUES ('o', 'l1', 'r1', 'm', 'p1', 'm-main', 't', 'c', 'R', '{}', '[]', 1, 1, 1, '{}'),
                         ('o', 'l1', 'r2', 'm', 'p2', 'm-main', 't', 'c', 'R', '{}', '[]', 1, 1, 1, '{}'),
                         ('o', 'l2', 'r3', 'm', 'p3', 'm-main', 't', 'c', 'R', '{}', '[]', 1, 1, 1, '{}'),
                         ('q', 'l3', 'r4', 'm', 'p4', 'm-main', 't', 'c', 'R', '{}', '[]', 1, 1, 1, '{}');",
                )?;
                Ok(())
            })
            .unwrap();
        let robots_seen = |access: Access| {
            store
                .read(|c| {
                    create_view(c, "o", &access)?;
                    let mut stmt = c.prepare("SELECT robot_id FROM readings ORDER BY robot_id")?;
                    let seen = stmt
                        .query_map([], |r| r.get::<_, String>(0))?
                        .collect::<Result<Vec<_>, _>>()?;
                    c.execute_batch("DROP VIEW temp.readings")?;
                    Ok(seen)
                })
                .unwrap()
        };
        let v = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let of = |orgs: &[&str], locations: &[&str], robots: &[&str]| Access {
            orgs: v(orgs),
            locations: v(locations),
            robots: v(robots),
            ..Access::default()
        };
        assert_eq!(robots_seen(of(&["o"], &[], &[])), v(&["r1", "r2", "r3"]));
        assert_eq!(
            robots_seen(of(&["q", "o"], &["l3"], &[])),
            v(&["r1", "r2", "r3"])
        );
        assert_eq!(robots_seen(of(&[], &["l1"], &[])), v(&["r1", "r2"]));
        assert_eq!(robots_seen(of(&[], &["l2"], &["r2"])), v(&["r2", "r3"]));
        assert_eq!(robots_seen(of(&["q"], &["l3"], &["r4"])), v(&[]));
    }

    #[test]
    fn view_times_are_what_strftime_makes() {
        let conn = Connection::open_in_memory().unwrap();
        let mut nanos: Vec<i64> = vec![0, 1, 499_999, 500_000, 999_999_999, -1, -1_500_000_000];
        // Times 1827-2112 (leap days and centuries included), whole milliseconds and not.
        let mut x: i64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let n = x.rem_euclid(9_000_000_000_000_000_000) - 4_500_000_000_000_000_000;
            nanos.extend([n, n - n.rem_euclid(1_000_000)]);
        }
        for n in nanos {
            let want: Option<String> = crate::server::store::row(
                &conn,
                "SELECT strftime('%Y-%m-%dT%H:%M:%fZ', ?1 / 1000000000.0, 'unixepoch')",
                [n],
                |r| r.get(0),
            )
            .unwrap();
            let got = utc_millis_text(n).map(|t| t.as_str().to_owned());
            // Whole milliseconds read exactly as strftime's; a sub-millisecond part goes to
            // the nearest millisecond, where strftime's arithmetic in doubles is off by one
            // now and then.
            if n.rem_euclid(1_000_000) == 0 {
                assert_eq!(got, want, "{n} ns");
            }
            if let Some(text) = &got {
                let ms = view_time_millis(text.as_bytes()).unwrap();
                assert_eq!(ms, (n + 500_000).div_euclid(1_000_000), "{text} read back");
            }
        }
    }
}
