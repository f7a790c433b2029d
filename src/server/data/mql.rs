//! TabularDataByMQL: an aggregation pipeline (one BSON document per stage) evaluated over the
//! caller's organization's readings, each a document with the fields upstream's have:
//! organization_id, location_id, robot_id, robot_name, part_id, part_name, component_type,
//! component_name, method_name, time_requested and time_received (dates), tags (array),
//! method_parameters and data (documents).
//!
//! No maintained crate evaluates MongoDB queries on documents, so this file does, for a
//! documented subset; anything outside it is INVALID_ARGUMENT naming the stage or operator,
//! never a wrong answer:
//! - stages: $match, $project, $sort, $limit, $skip, $count, $unwind, $group;
//! - $match operators: $eq, $ne, $gt, $gte, $lt, $lte, $in, $nin, $exists, $and, $or, $nor,
//!   $not (per field), $size; a literal matches equal values and arrays holding one;
//! - $group accumulators: $sum, $avg, $min, $max, $first, $last, $count, $push;
//! - expressions ($project, $group): "$field.path", literals, {$literal: v};
//! - a date compares with a date or with RFC 3339 text ("2024-01-02T00:00:00Z"), so scripts
//!   without a date type can still select a time range.
//!
//! Leading $match stages run as the readings are read, so only matching documents are held.
//! With the PIPELINE_SINK source the stages run over a data pipeline's results instead
//! (src/server/data_pipelines.rs), which its runs compute with `run_window`.

use std::cmp::Ordering;

use bson::{Bson, Document};
use rusqlite::types::Value as Sql;

use super::{Access, Where, docs, parse_tags};
use crate::proto::viam::app::data::v1::{
    TabularDataByMqlRequest, TabularDataByMqlResponse, TabularDataSourceType,
};
use crate::server::Api;
use crate::server::authz::{Perm, Principal, Scope};
use crate::server::error::{ApiError, ApiResult, required};

/// Documents a pipeline may hold between stages, and bytes one answer may carry.
const MAX_DOCS: usize = 1_000_000;
const MAX_BYTES: usize = 64 * 1024 * 1024;

type Res<T> = Result<T, String>;

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::invalid("mql_binary", msg.into())
}

/// A reading as a document.
fn reading(r: &rusqlite::Row<'_>) -> rusqlite::Result<Document> {
    let mut d = Document::new();
    for (i, name) in [
        "organization_id",
        "location_id",
        "robot_id",
        "robot_name",
        "part_id",
        "part_name",
        "component_type",
        "component_name",
        "method_name",
    ]
    .iter()
    .enumerate()
    {
        d.insert(*name, r.get::<_, String>(i)?);
    }
    d.insert("time_requested", docs::date(r.get(9)?));
    d.insert("time_received", docs::date(r.get(10)?));
    let tags: Vec<Bson> = parse_tags(&r.get::<_, String>(11)?)
        .into_iter()
        .map(Bson::String)
        .collect();
    d.insert("tags", tags);
    d.insert(
        "method_parameters",
        docs::json_text_to_bson(&r.get::<_, String>(12)?),
    );
    d.insert("data", docs::json_text_to_bson(&r.get::<_, String>(13)?));
    Ok(d)
}

/// The values at a dotted path; arrays on the way are traversed (each element), as $match does.
fn values_at<'a>(v: &'a Bson, path: &[&str], out: &mut Vec<&'a Bson>) {
    let Some((first, rest)) = path.split_first() else {
        out.push(v);
        return;
    };
    match v {
        Bson::Document(d) => {
            if let Some(x) = d.get(*first) {
                values_at(x, rest, out);
            }
        }
        Bson::Array(a) => {
            if let Ok(i) = first.parse::<usize>() {
                if let Some(x) = a.get(i) {
                    values_at(x, rest, out);
                }
            } else {
                for x in a {
                    values_at(x, path, out);
                }
            }
        }
        _ => {}
    }
}

/// The single value at a dotted path (no array traversal), for expressions.
fn value_at(d: &Document, path: &str) -> Option<Bson> {
    let mut cur = Bson::Document(d.clone());
    for part in path.split('.') {
        cur = match cur {
            Bson::Document(mut d) => d.remove(part)?,
            Bson::Array(a) => {
                let vals: Vec<Bson> = a
                    .into_iter()
                    .filter_map(|x| match x {
                        Bson::Document(mut d) => d.remove(part),
                        _ => None,
                    })
                    .collect();
                Bson::Array(vals)
            }
            _ => return None,
        };
    }
    Some(cur)
}

fn number(v: &Bson) -> Option<f64> {
    match v {
        Bson::Int32(i) => Some(f64::from(*i)),
        Bson::Int64(i) => Some(*i as f64),
        Bson::Double(f) => Some(*f),
        _ => None,
    }
}

/// Order of two values of the same kind (numbers across int and double); None across kinds,
/// where comparison operators match nothing (MongoDB's type bracketing).
fn compare(a: &Bson, b: &Bson) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (number(a), number(b)) {
        return x.partial_cmp(&y);
    }
    match (a, b) {
        (Bson::String(x), Bson::String(y)) => Some(x.cmp(y)),
        (Bson::DateTime(x), Bson::DateTime(y)) => Some(x.cmp(y)),
        // A time written as RFC 3339 text (Lua and JSON have no date type) compares as a date.
        (Bson::DateTime(x), Bson::String(y)) => {
            bson::DateTime::parse_rfc3339_str(y).ok().map(|y| x.cmp(&y))
        }
        (Bson::String(x), Bson::DateTime(y)) => {
            bson::DateTime::parse_rfc3339_str(x).ok().map(|x| x.cmp(y))
        }
        (Bson::Boolean(x), Bson::Boolean(y)) => Some(x.cmp(y)),
        (Bson::Null, Bson::Null) => Some(Ordering::Equal),
        (Bson::ObjectId(x), Bson::ObjectId(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn equal(a: &Bson, b: &Bson) -> bool {
    compare(a, b) == Some(Ordering::Equal) || a == b
}

/// A total order for $sort: by kind (null, numbers, strings, documents, arrays, booleans,
/// dates, other), then by value.
fn sort_order(a: Option<&Bson>, b: Option<&Bson>) -> Ordering {
    fn rank(v: Option<&Bson>) -> u8 {
        match v {
            None | Some(Bson::Null) => 0,
            Some(Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_)) => 1,
            Some(Bson::String(_)) => 2,
            Some(Bson::Document(_)) => 3,
            Some(Bson::Array(_)) => 4,
            Some(Bson::Boolean(_)) => 5,
            Some(Bson::DateTime(_)) => 6,
            Some(_) => 7,
        }
    }
    rank(a).cmp(&rank(b)).then_with(|| match (a, b) {
        (Some(x), Some(y)) => compare(x, y).unwrap_or(Ordering::Equal),
        _ => Ordering::Equal,
    })
}

/// Whether `doc` matches the query document `q`.
fn matches(doc: &Document, q: &Document) -> Res<bool> {
    for (k, cond) in q {
        let ok = match k.as_str() {
            "$and" | "$or" | "$nor" => {
                let Bson::Array(subs) = cond else {
                    return Err(format!("{k} takes an array of queries"));
                };
                let mut results = Vec::new();
                for s in subs {
                    let Bson::Document(s) = s else {
                        return Err(format!("{k} takes an array of queries"));
                    };
                    results.push(matches(doc, s)?);
                }
                match k.as_str() {
                    "$and" => results.iter().all(|x| *x),
                    "$or" => results.iter().any(|x| *x),
                    _ => !results.iter().any(|x| *x),
                }
            }
            op if op.starts_with('$') => {
                return Err(format!(
                    "query operator {op} is not supported by the local fleet"
                ));
            }
            path => {
                let mut vals = Vec::new();
                let parts: Vec<&str> = path.split('.').collect();
                if let Some(v) = doc.get(parts[0]) {
                    values_at(v, &parts[1..], &mut vals);
                }
                field_matches(&vals, cond)?
            }
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

fn is_operator_doc(cond: &Bson) -> bool {
    matches!(cond, Bson::Document(d) if d.keys().next().is_some_and(|k| k.starts_with('$')))
}

/// Equality as $match means it: the value, or an array holding it.
fn eq_any(vals: &[&Bson], want: &Bson) -> bool {
    vals.iter()
        .any(|v| equal(v, want) || matches!(v, Bson::Array(a) if a.iter().any(|x| equal(x, want))))
        || (matches!(want, Bson::Null) && vals.is_empty())
}

fn field_matches(vals: &[&Bson], cond: &Bson) -> Res<bool> {
    if !is_operator_doc(cond) {
        return Ok(eq_any(vals, cond));
    }
    let Bson::Document(ops) = cond else {
        unreachable!()
    };
    for (op, arg) in ops {
        let cmp = |want: fn(Ordering) -> bool| {
            vals.iter().any(|v| {
                compare(v, arg).is_some_and(want)
                    || matches!(v, Bson::Array(a) if a.iter().any(|x| compare(x, arg).is_some_and(want)))
            })
        };
        let ok = match op.as_str() {
            "$eq" => eq_any(vals, arg),
            "$ne" => !eq_any(vals, arg),
            "$gt" => cmp(|o| o == Ordering::Greater),
            "$gte" => cmp(|o| o != Ordering::Less),
            "$lt" => cmp(|o| o == Ordering::Less),
            "$lte" => cmp(|o| o != Ordering::Greater),
            "$in" | "$nin" => {
                let Bson::Array(list) = arg else {
                    return Err(format!("{op} takes an array"));
                };
                let found = list.iter().any(|w| eq_any(vals, w));
                if op == "$in" { found } else { !found }
            }
            "$exists" => {
                let want = !matches!(arg, Bson::Boolean(false) | Bson::Int32(0) | Bson::Int64(0));
                vals.is_empty() != want
            }
            "$size" => {
                let n = number(arg).ok_or("$size takes a number")?;
                vals.iter()
                    .any(|v| matches!(v, Bson::Array(a) if a.len() as f64 == n))
            }
            "$not" => !field_matches(vals, arg)?,
            other => {
                return Err(format!(
                    "query operator {other} is not supported by the local fleet"
                ));
            }
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

/// An expression's value in `doc`: "$path", {$literal: v}, or a literal.
fn eval(doc: &Document, e: &Bson) -> Res<Bson> {
    match e {
        Bson::String(s) if s.starts_with('$') => Ok(value_at(doc, &s[1..]).unwrap_or(Bson::Null)),
        Bson::Document(d) if d.len() == 1 && d.contains_key("$literal") => {
            Ok(d.get("$literal").cloned().unwrap_or(Bson::Null))
        }
        Bson::Document(d) if d.keys().next().is_some_and(|k| k.starts_with('$')) => Err(format!(
            "expression operator {} is not supported by the local fleet",
            d.keys().next().map(String::as_str).unwrap_or("")
        )),
        Bson::Document(d) => {
            let mut out = Document::new();
            for (k, v) in d {
                out.insert(k.clone(), eval(doc, v)?);
            }
            Ok(Bson::Document(out))
        }
        other => Ok(other.clone()),
    }
}

fn set_path(d: &mut Document, path: &str, v: Bson) {
    match path.split_once('.') {
        None => {
            d.insert(path, v);
        }
        Some((head, rest)) => {
            if !matches!(d.get(head), Some(Bson::Document(_))) {
                d.insert(head, Document::new());
            }
            if let Some(Bson::Document(sub)) = d.get_mut(head) {
                set_path(sub, rest, v);
            }
        }
    }
}

fn remove_path(d: &mut Document, path: &str) {
    match path.split_once('.') {
        None => {
            d.remove(path);
        }
        Some((head, rest)) => {
            if let Some(Bson::Document(sub)) = d.get_mut(head) {
                remove_path(sub, rest);
            }
        }
    }
}

fn flag(v: &Bson) -> Option<bool> {
    match v {
        Bson::Boolean(b) => Some(*b),
        v => number(v).map(|n| n != 0.0),
    }
}

fn project(docs: Vec<Document>, spec: &Document) -> Res<Vec<Document>> {
    // _id is kept unless excluded, whichever the mode (as MongoDB does); $group makes one.
    let keep_id = spec.get("_id").and_then(flag) != Some(false);
    let fields: Vec<(&String, &Bson)> = spec.iter().filter(|(k, _)| *k != "_id").collect();
    let excluding = fields.iter().any(|(_, v)| flag(v) == Some(false));
    let including = fields.iter().any(|(_, v)| flag(v) != Some(false));
    if excluding && including {
        return Err("$project cannot mix including and excluding fields".into());
    }
    docs.into_iter()
        .map(|d| {
            if excluding || fields.is_empty() {
                let mut out = d;
                for (k, _) in &fields {
                    remove_path(&mut out, k);
                }
                if !keep_id {
                    out.remove("_id");
                }
                return Ok(out);
            }
            let mut out = Document::new();
            if let Some(id) = d.get("_id").filter(|_| keep_id) {
                out.insert("_id", id.clone());
            }
            for (k, v) in &fields {
                let val = if flag(v) == Some(true) {
                    value_at(&d, k)
                } else {
                    Some(eval(&d, v)?)
                };
                if let Some(val) = val {
                    set_path(&mut out, k, val);
                }
            }
            Ok(out)
        })
        .collect()
}

fn sort(mut docs: Vec<Document>, spec: &Document) -> Res<Vec<Document>> {
    let keys: Vec<(String, bool)> = spec
        .iter()
        .map(|(k, v)| match number(v) {
            Some(1.0) => Ok((k.clone(), false)),
            Some(-1.0) => Ok((k.clone(), true)),
            _ => Err(format!("$sort: {k} must be 1 or -1")),
        })
        .collect::<Res<_>>()?;
    if keys.is_empty() {
        return Err("$sort needs at least one field".into());
    }
    docs.sort_by(|a, b| {
        for (k, desc) in &keys {
            let o = sort_order(value_at(a, k).as_ref(), value_at(b, k).as_ref());
            let o = if *desc { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    });
    Ok(docs)
}

fn count_arg(stage: &str, v: &Bson) -> Res<usize> {
    match number(v) {
        Some(n) if n >= 0.0 && n.fract() == 0.0 => Ok(n as usize),
        _ => Err(format!("{stage} takes a non-negative integer")),
    }
}

fn unwind(docs: Vec<Document>, spec: &Bson) -> Res<Vec<Document>> {
    let (path, keep_empty) = match spec {
        Bson::String(s) => (s.clone(), false),
        Bson::Document(d) => (
            d.get_str("path")
                .map_err(|_| "$unwind needs a path")?
                .to_string(),
            d.get_bool("preserveNullAndEmptyArrays").unwrap_or(false),
        ),
        _ => return Err("$unwind takes \"$path\" or {path: \"$path\"}".into()),
    };
    let path = path
        .strip_prefix('$')
        .ok_or("$unwind: the path starts with $")?
        .to_string();
    let mut out = Vec::new();
    for d in docs {
        match value_at(&d, &path) {
            Some(Bson::Array(items)) if !items.is_empty() => {
                for it in items {
                    let mut x = d.clone();
                    set_path(&mut x, &path, it);
                    out.push(x);
                }
            }
            Some(Bson::Array(_)) | Some(Bson::Null) | None => {
                if keep_empty {
                    out.push(d);
                }
            }
            Some(_) => out.push(d),
        }
    }
    Ok(out)
}

/// One accumulator's running state.
enum Acc {
    Sum { int: i64, float: f64, floats: bool },
    Avg { sum: f64, n: u64 },
    Min(Option<Bson>),
    Max(Option<Bson>),
    First(Option<Bson>),
    Last(Bson),
    Count(i64),
    Push(Vec<Bson>),
}

impl Acc {
    fn new(op: &str) -> Res<Self> {
        Ok(match op {
            "$sum" => Acc::Sum {
                int: 0,
                float: 0.0,
                floats: false,
            },
            "$avg" => Acc::Avg { sum: 0.0, n: 0 },
            "$min" => Acc::Min(None),
            "$max" => Acc::Max(None),
            "$first" => Acc::First(None),
            "$last" => Acc::Last(Bson::Null),
            "$count" => Acc::Count(0),
            "$push" => Acc::Push(vec![]),
            other => {
                return Err(format!(
                    "$group accumulator {other} is not supported by the local fleet"
                ));
            }
        })
    }

    fn add(&mut self, v: Bson) {
        match self {
            Acc::Sum { int, float, floats } => match v {
                Bson::Int32(i) => *int += i64::from(i),
                Bson::Int64(i) => *int += i,
                Bson::Double(f) => {
                    *float += f;
                    *floats = true;
                }
                _ => {}
            },
            Acc::Avg { sum, n } => {
                if let Some(x) = number(&v) {
                    *sum += x;
                    *n += 1;
                }
            }
            Acc::Min(m) | Acc::Max(m) if matches!(v, Bson::Null) => {
                let _ = m;
            }
            Acc::Min(m) => {
                if m.as_ref()
                    .is_none_or(|cur| sort_order(Some(&v), Some(cur)) == Ordering::Less)
                {
                    *m = Some(v);
                }
            }
            Acc::Max(m) => {
                if m.as_ref()
                    .is_none_or(|cur| sort_order(Some(&v), Some(cur)) == Ordering::Greater)
                {
                    *m = Some(v);
                }
            }
            Acc::First(f) => {
                if f.is_none() {
                    *f = Some(v);
                }
            }
            Acc::Last(l) => *l = v,
            Acc::Count(n) => *n += 1,
            Acc::Push(p) => p.push(v),
        }
    }

    fn result(self) -> Bson {
        match self {
            Acc::Sum { int, float, floats } => {
                if floats {
                    Bson::Double(float + int as f64)
                } else {
                    Bson::Int64(int)
                }
            }
            Acc::Avg { sum, n } => {
                if n == 0 {
                    Bson::Null
                } else {
                    Bson::Double(sum / n as f64)
                }
            }
            Acc::Min(m) | Acc::Max(m) | Acc::First(m) => m.unwrap_or(Bson::Null),
            Acc::Last(l) => l,
            Acc::Count(n) => Bson::Int64(n),
            Acc::Push(p) => Bson::Array(p),
        }
    }
}

fn group(docs: Vec<Document>, spec: &Document) -> Res<Vec<Document>> {
    let key_expr = spec.get("_id").ok_or("$group needs an _id")?;
    let mut fields = Vec::new();
    for (name, acc) in spec.iter().filter(|(k, _)| *k != "_id") {
        let Bson::Document(a) = acc else {
            return Err(format!(
                "$group: {name} must be {{accumulator: expression}}"
            ));
        };
        let (op, arg) = match a.iter().next() {
            Some((op, arg)) if a.len() == 1 => (op.clone(), arg.clone()),
            _ => {
                return Err(format!(
                    "$group: {name} must be {{accumulator: expression}}"
                ));
            }
        };
        Acc::new(&op)?;
        fields.push((name.clone(), op, arg));
    }
    let mut groups: Vec<(Bson, Vec<Acc>)> = Vec::new();
    for d in &docs {
        let key = eval(d, key_expr)?;
        let i = match groups.iter().position(|(k, _)| equal(k, &key)) {
            Some(i) => i,
            None => {
                let accs = fields
                    .iter()
                    .map(|(_, op, _)| Acc::new(op))
                    .collect::<Res<_>>()?;
                groups.push((key, accs));
                groups.len() - 1
            }
        };
        for (acc, (_, _, arg)) in groups[i].1.iter_mut().zip(&fields) {
            let v = if matches!(acc, Acc::Count(_)) {
                Bson::Null
            } else {
                eval(d, arg)?
            };
            acc.add(v);
        }
    }
    Ok(groups
        .into_iter()
        .map(|(key, accs)| {
            let mut out = Document::new();
            out.insert("_id", key);
            for (acc, (name, _, _)) in accs.into_iter().zip(&fields) {
                out.insert(name.clone(), acc.result());
            }
            out
        })
        .collect())
}

/// One stage: its name and argument.
fn stage_of(d: &Document) -> Res<(&str, &Bson)> {
    match d.iter().next() {
        Some((k, v)) if d.len() == 1 => Ok((k.as_str(), v)),
        _ => {
            Err("each stage is a document with exactly one key, such as {\"$match\": {...}}".into())
        }
    }
}

fn doc_arg<'a>(stage: &str, v: &'a Bson) -> Res<&'a Document> {
    match v {
        Bson::Document(d) => Ok(d),
        _ => Err(format!("{stage} takes a document")),
    }
}

fn run_stage(docs: Vec<Document>, name: &str, arg: &Bson) -> Res<Vec<Document>> {
    Ok(match name {
        "$match" => {
            let q = doc_arg(name, arg)?;
            let mut out = Vec::new();
            for d in docs {
                if matches(&d, q)? {
                    out.push(d);
                }
            }
            out
        }
        "$project" => project(docs, doc_arg(name, arg)?)?,
        "$sort" => sort(docs, doc_arg(name, arg)?)?,
        "$limit" => docs.into_iter().take(count_arg(name, arg)?).collect(),
        "$skip" => docs.into_iter().skip(count_arg(name, arg)?).collect(),
        "$count" => {
            let Bson::String(field) = arg else {
                return Err("$count takes the name of the output field".into());
            };
            let mut d = Document::new();
            d.insert(field.clone(), Bson::Int64(docs.len() as i64));
            vec![d]
        }
        "$unwind" => unwind(docs, arg)?,
        "$group" => group(docs, doc_arg(name, arg)?)?,
        other => {
            return Err(format!(
                "stage {other} is not supported by the local fleet (supported: $match, $project, \
                 $sort, $limit, $skip, $count, $unwind, $group)"
            ));
        }
    })
}

/// The stages of `mql_binary`, each a BSON document of one key.
pub(in crate::server) fn parse_stages(mql_binary: &[Vec<u8>]) -> ApiResult<Vec<Document>> {
    let stages = mql_binary
        .iter()
        .enumerate()
        .map(|(i, b)| {
            Document::from_reader(b.as_slice())
                .map_err(|e| bad(format!("stage {i} is not a BSON document: {e}")))
        })
        .collect::<ApiResult<Vec<_>>>()?;
    for s in &stages {
        stage_of(s).map_err(bad)?;
    }
    Ok(stages)
}

/// A pipeline stored to run later (a data pipeline's) is refused now if it cannot run: every
/// stage must be one the local fleet supports, and the whole pipeline must run over a sample
/// reading. An operator behind a condition the sample fails is met only by a real run, which
/// then fails and records why.
pub(in crate::server) fn check_stages(stages: &[Document]) -> ApiResult<()> {
    let sample = bson::doc! {
        "organization_id": "", "location_id": "", "robot_id": "", "robot_name": "",
        "part_id": "", "part_name": "", "component_type": "", "component_name": "",
        "method_name": "", "time_requested": docs::date(0), "time_received": docs::date(0),
        "tags": [], "method_parameters": {}, "data": {},
    };
    run(vec![sample], stages).map(|_| ()).map_err(bad)
}

/// The organization's readings received in [start, end) (nanoseconds), through `stages`: a
/// data pipeline's run, which sees the whole organization whoever asked for it.
pub(in crate::server) fn run_window(
    c: &rusqlite::Connection,
    org_id: &str,
    (start, end): (i64, i64),
    stages: &[Document],
) -> Res<Vec<Document>> {
    let mut stmt = c
        .prepare_cached(
            "SELECT org_id, location_id, robot_id, robot_name, part_id, part_name, component_type,
                 component_name, method_name, time_requested, time_received, tags,
                 method_parameters, data
             FROM data_readings WHERE org_id = ?1 AND time_received >= ?2 AND time_received < ?3
             ORDER BY time_requested, id",
        )
        .map_err(|e| e.to_string())?;
    let mut rows = stmt
        .query(rusqlite::params![org_id, start, end])
        .map_err(|e| e.to_string())?;
    let mut input = Vec::new();
    while let Some(r) = rows.next().map_err(|e| e.to_string())? {
        input.push(reading(r).map_err(|e| e.to_string())?);
        if input.len() > MAX_DOCS {
            return Err(format!(
                "more than {MAX_DOCS} readings in the window; schedule shorter windows"
            ));
        }
    }
    run(input, stages)
}

/// Runs `stages` over `input` (already through the leading $match stages).
fn run(mut docs: Vec<Document>, stages: &[Document]) -> Res<Vec<Document>> {
    for s in stages {
        let (name, arg) = stage_of(s)?;
        docs = run_stage(docs, name, arg)?;
    }
    Ok(docs)
}

pub fn tabular_data_by_mql(
    api: &Api,
    who: &Principal,
    req: TabularDataByMqlRequest,
) -> ApiResult<TabularDataByMqlResponse> {
    let org_id = required("organization_id", &req.organization_id)?;
    if let Some(src) = &req.data_source {
        match TabularDataSourceType::try_from(src.r#type) {
            // Every reading of the local fleet is recent: hot storage is the same data.
            Ok(
                TabularDataSourceType::Unspecified
                | TabularDataSourceType::Standard
                | TabularDataSourceType::HotStorage,
            ) => {}
            // What a pipeline's runs stored, not the readings.
            Ok(TabularDataSourceType::PipelineSink) => {
                let stages = parse_stages(&req.mql_binary)?;
                let pipeline_id = src.pipeline_id.as_deref().unwrap_or_default();
                let input = crate::server::data_pipelines::sink(api, who, org_id, pipeline_id)?;
                return answer(run(input, &stages).map_err(bad)?);
            }
            Err(_) => {
                return Err(ApiError::invalid(
                    "data_source.type",
                    format!("unknown data source type {}", src.r#type),
                ));
            }
        }
    }
    // A saved query named by query_prefix_name runs first.
    let mut stages = match req.query_prefix_name.as_deref().map(str::trim) {
        Some(name) if !name.is_empty() => {
            super::saved_queries::stages_named(api, who, org_id, name)?
        }
        _ => Vec::new(),
    };
    stages.extend(parse_stages(&req.mql_binary)?);
    // Leading $match stages filter while reading.
    let lead = stages
        .iter()
        .take_while(|s| s.contains_key("$match"))
        .count();
    let (first, rest) = stages.split_at(lead);
    let queries = first
        .iter()
        .map(|s| doc_arg("$match", s.get("$match").unwrap_or(&Bson::Null)).cloned())
        .collect::<Res<Vec<_>>>()
        .map_err(bad)?;
    let input = api.store.read(|c| {
        let scope = Scope::organization(c, org_id)?;
        let perm = Perm::ReadOrganizationDataManagement;
        let access = Access::of(c, who, perm)?;
        access.require_in(perm, &scope.org_id, &scope.what)?;
        let mut w = Where::new(&access);
        w.push("org_id = ?", [Sql::Text(org_id.into())]);
        let sql = format!(
            "SELECT org_id, location_id, robot_id, robot_name, part_id, part_name, component_type,
                 component_name, method_name, time_requested, time_received, tags,
                 method_parameters, data
             FROM data_readings WHERE {} ORDER BY time_requested, id",
            w.sql()
        );
        let mut stmt = c.prepare_cached(&sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(w.params.iter()))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let d = reading(r)?;
            let mut keep = true;
            for q in &queries {
                if !matches(&d, q).map_err(bad)? {
                    keep = false;
                    break;
                }
            }
            if keep {
                out.push(d);
                if out.len() > MAX_DOCS {
                    return Err(ApiError::ResourceExhausted(format!(
                        "mql_binary: more than {MAX_DOCS} readings match; start with a narrower $match"
                    )));
                }
            }
        }
        Ok(out)
    })?;
    answer(run(input, rest).map_err(bad)?)
}

/// The reply: each document encoded, within MAX_BYTES.
fn answer(docs: Vec<Document>) -> ApiResult<TabularDataByMqlResponse> {
    let mut bytes = 0;
    let mut raw_data = Vec::with_capacity(docs.len());
    for d in &docs {
        let e = docs::encode(d);
        bytes += e.len();
        if bytes > MAX_BYTES {
            return Err(ApiError::ResourceExhausted(format!(
                "mql_binary: the answer exceeds {} MiB; add $limit or $project",
                MAX_BYTES >> 20
            )));
        }
        raw_data.push(e);
    }
    Ok(TabularDataByMqlResponse { raw_data })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn readings() -> Vec<Document> {
        vec![
            doc! {"component_name": "a", "tags": ["x"], "data": {"readings": {"t": 20.5}}},
            doc! {"component_name": "b", "tags": [], "data": {"readings": {"t": 10_i64}}},
            doc! {"component_name": "a", "tags": ["x", "y"], "data": {"readings": {"t": 30.0}}},
        ]
    }

    #[test]
    fn match_compares_numbers_across_kinds_and_matches_into_arrays() {
        let out = run(
            readings(),
            &[doc! {"$match": {"data.readings.t": {"$gte": 20_i32}}}],
        )
        .unwrap();
        assert_eq!(out.len(), 2);
        let out = run(readings(), &[doc! {"$match": {"tags": "y"}}]).unwrap();
        assert_eq!(out.len(), 1);
        let out = run(
            readings(),
            &[doc! {"$match": {"$or": [{"component_name": "b"}, {"tags": {"$size": 2}}]}}],
        )
        .unwrap();
        assert_eq!(out.len(), 2);
        let out = run(
            readings(),
            &[doc! {"$match": {"component_name": {"$nin": ["a"]}}}],
        )
        .unwrap();
        assert_eq!(out[0].get_str("component_name").unwrap(), "b");
    }

    #[test]
    fn group_sort_and_project_compute_what_mongodb_computes() {
        let out = run(
            readings(),
            &[
                doc! {"$group": {"_id": "$component_name", "n": {"$sum": 1}, "avg": {"$avg": "$data.readings.t"},
                                 "max": {"$max": "$data.readings.t"}}},
                doc! {"$sort": {"_id": -1}},
                doc! {"$project": {"_id": 1, "n": 1, "avg": 1, "max": 1}},
            ],
        )
        .unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].get_str("_id").unwrap(), "b");
        assert_eq!(out[1].get_i64("n").unwrap(), 2);
        assert_eq!(out[1].get_f64("avg").unwrap(), 25.25);
        assert_eq!(out[1].get_f64("max").unwrap(), 30.0);
    }

    #[test]
    fn dates_compare_with_rfc3339_text() {
        let d = |ms| doc! {"t": bson::DateTime::from_millis(ms)};
        let docs = vec![d(1_700_000_000_000), d(1_800_000_000_000)];
        let out = run(
            docs,
            &[doc! {"$match": {"t": {"$gte": "2025-01-01T00:00:00Z"}}}],
        )
        .unwrap();
        assert_eq!(out, vec![d(1_800_000_000_000)]);
    }

    #[test]
    fn count_skip_limit_unwind() {
        let out = run(
            readings(),
            &[doc! {"$unwind": "$tags"}, doc! {"$count": "n"}],
        )
        .unwrap();
        assert_eq!(out, vec![doc! {"n": 3_i64}]);
        let out = run(readings(), &[doc! {"$skip": 1}, doc! {"$limit": 1}]).unwrap();
        assert_eq!(out[0].get_str("component_name").unwrap(), "b");
    }

    #[test]
    fn unsupported_stages_and_operators_are_named() {
        let e = run(readings(), &[doc! {"$lookup": {}}]).unwrap_err();
        assert!(e.contains("$lookup"), "{e}");
        let e = run(readings(), &[doc! {"$match": {"a": {"$regex": "x"}}}]).unwrap_err();
        assert!(e.contains("$regex"), "{e}");
        let e = run(
            readings(),
            &[doc! {"$group": {"_id": null, "x": {"$stdDevPop": "$a"}}}],
        )
        .unwrap_err();
        assert!(e.contains("$stdDevPop"), "{e}");
    }
}
