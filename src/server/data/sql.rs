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

use bson::{Bson, Document};
use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use super::{Access, docs};
use crate::proto::viam::app::data::v1::{TabularDataBySqlRequest, TabularDataBySqlResponse};
use crate::server::Api;
use crate::server::authz::{Perm, Principal, Scope};
use crate::server::error::{ApiError, ApiResult, required};

/// How long one query may run.
const MAX_DURATION: Duration = Duration::from_secs(10);
/// Rows and bytes one answer may carry (the reply is one message).
const MAX_ROWS: usize = 100_000;
const MAX_BYTES: usize = 64 * 1024 * 1024;

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The view's definition for one caller: literal ids (all read from the store, quoted).
fn view_sql(org_id: &str, access: &Access) -> String {
    let list = |v: &Vec<String>| quote(&serde_json::to_string(v).unwrap_or_default());
    let time =
        |c: &str| format!("strftime('%Y-%m-%dT%H:%M:%fZ', {c} / 1000000000.0, 'unixepoch') AS {c}");
    format!(
        "CREATE TEMP VIEW readings AS SELECT
             org_id AS organization_id, location_id, robot_id, robot_name, part_id, part_name,
             component_type, component_name, method_name, {}, {}, tags, method_parameters, data
         FROM main.data_readings
         WHERE org_id = {} AND (org_id IN (SELECT value FROM json_each({}))
             OR location_id IN (SELECT value FROM json_each({}))
             OR robot_id IN (SELECT value FROM json_each({})))",
        time("time_requested"),
        time("time_received"),
        quote(org_id),
        list(&access.orgs),
        list(&access.locations),
        list(&access.robots),
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
    conn.execute_batch(&view_sql(org_id, access))?;
    conn.authorizer(Some(authorize))?;
    let deadline = Instant::now() + MAX_DURATION;
    conn.progress_handler(10_000, Some(move || Instant::now() > deadline))?;
    Ok(conn)
}

fn is_utc_time(s: &str) -> bool {
    let b = s.as_bytes();
    (20..=35).contains(&b.len())
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[10] == b'T'
        && s.ends_with('Z')
}

fn value(v: ValueRef<'_>) -> Bson {
    match v {
        ValueRef::Null => Bson::Null,
        ValueRef::Integer(i) => Bson::Int64(i),
        ValueRef::Real(f) => Bson::Double(f),
        ValueRef::Text(t) => {
            let s = String::from_utf8_lossy(t);
            if s.starts_with('{') || s.starts_with('[') {
                if let Ok(j) = serde_json::from_str::<serde_json::Value>(&s) {
                    return docs::json_to_bson(j);
                }
            }
            if is_utc_time(&s) {
                if let Ok(d) = bson::DateTime::parse_rfc3339_str(&*s) {
                    return Bson::DateTime(d);
                }
            }
            Bson::String(s.into_owned())
        }
        ValueRef::Blob(b) => Bson::Binary(bson::Binary {
            subtype: bson::spec::BinarySubtype::Generic,
            bytes: b.to_vec(),
        }),
    }
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
    let names: Vec<String> = stmt.column_names().into_iter().map(String::from).collect();
    let mut rows = stmt.query([]).map_err(query_error)?;
    let mut raw_data = Vec::new();
    let mut bytes = 0;
    while let Some(r) = rows.next().map_err(query_error)? {
        let mut doc = Document::new();
        for (i, name) in names.iter().enumerate() {
            doc.insert(name.clone(), value(r.get_ref(i)?));
        }
        let encoded = docs::encode(&doc);
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
        assert!(matches!(
            value(ValueRef::Text(b"{\"a\":1}")),
            Bson::Document(_)
        ));
        assert!(matches!(value(ValueRef::Text(b"[\"x\"]")), Bson::Array(_)));
        assert!(matches!(
            value(ValueRef::Text(b"2024-01-02T03:04:05.678Z")),
            Bson::DateTime(_)
        ));
        assert_eq!(
            value(ValueRef::Text(b"{not json")),
            Bson::String("{not json".into())
        );
        assert_eq!(value(ValueRef::Integer(1 << 40)), Bson::Int64(1 << 40));
    }
}
