//! Custom indexes (issue 12): an organization's index specifications per collection (the hot
//! store, or a data pipeline's sink), checked and recorded. The local fleet keeps its readings
//! in SQLite with indexes of its own, so a custom index changes no query plan and no answer
//! (a `unique` option is recorded, not enforced); it exists so that scripts that manage indexes
//! run against the local fleet as they do against the cloud, and ListIndexes shows what they
//! made.
//!
//! A specification is MongoDB's: the key document ({"data.readings.temperature": 1}) and
//! optional options ({"name": ..., "unique": ..., ...}), as the Go CLI sends them (two parts,
//! JSON), or one document {"key": {...}, "options": {...}} (the Python SDK sends the dict it
//! is given, as BSON). Either is accepted as BSON or JSON text and returned as sent.
//!
//! Creating and deleting need write_data_management on the organization; listing needs
//! read_organization_data_management there.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bson::{Bson, Document};
use rusqlite::{Connection, OptionalExtension, params};

use super::{Access, docs};
use crate::proto::viam::app::data::v1::*;
use crate::server::Api;
use crate::server::authz::{Perm, Principal, Scope};
use crate::server::error::{ApiError, ApiResult, required};
use crate::server::store::{exec, now};

const READ: Perm = Perm::ReadOrganizationDataManagement;

/// Bytes a specification may hold, and fields a key may index.
const MAX_SPEC_BYTES: usize = 64 * 1024;
const MAX_KEY_FIELDS: usize = 32;

/// The options MongoDB's createIndexes takes that mean something for a stored spec.
const OPTIONS: &[&str] = &[
    "name",
    "unique",
    "sparse",
    "expireAfterSeconds",
    "partialFilterExpression",
    "collation",
    "hidden",
    "weights",
    "default_language",
    "language_override",
    "wildcardProjection",
];

/// The collection a request names: (type, pipeline name or "").
fn collection(kind: i32, pipeline_name: Option<&str>) -> ApiResult<(i32, String)> {
    let pipeline = pipeline_name.map(str::trim).unwrap_or_default();
    match IndexableCollection::try_from(kind) {
        Ok(IndexableCollection::HotStore) if pipeline.is_empty() => Ok((kind, String::new())),
        Ok(IndexableCollection::HotStore) => Err(ApiError::invalid(
            "pipeline_name",
            "only for INDEXABLE_COLLECTION_PIPELINE_SINK; leave it out for the hot store",
        )),
        Ok(IndexableCollection::PipelineSink) if !pipeline.is_empty() => {
            Ok((kind, pipeline.to_string()))
        }
        Ok(IndexableCollection::PipelineSink) => Err(ApiError::invalid(
            "pipeline_name",
            "required with INDEXABLE_COLLECTION_PIPELINE_SINK: name the pipeline whose sink it is",
        )),
        Ok(IndexableCollection::Unspecified) => Err(ApiError::invalid(
            "collection_type",
            "required: INDEXABLE_COLLECTION_HOT_STORE or INDEXABLE_COLLECTION_PIPELINE_SINK",
        )),
        Err(_) => Err(ApiError::invalid(
            "collection_type",
            format!("unknown collection type {kind}"),
        )),
    }
}

fn bad(msg: impl std::fmt::Display) -> ApiError {
    ApiError::invalid("index_spec", msg)
}

/// One part of a spec as a document: BSON of exactly its length, else a JSON object.
fn part(i: usize, raw: &[u8]) -> ApiResult<Document> {
    let declared = raw
        .get(..4)
        .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
    if declared == Some(raw.len())
        && let Ok(d) = Document::from_reader(raw)
    {
        return Ok(d);
    }
    match serde_json::from_slice::<serde_json::Value>(raw).map(docs::json_to_bson) {
        Ok(Bson::Document(d)) => Ok(d),
        _ => Err(bad(format!(
            "part {i} is neither a BSON document nor a JSON object"
        ))),
    }
}

/// The checked key and options of a spec.
fn parse(spec: &[Vec<u8>]) -> ApiResult<(Document, Document)> {
    if spec.iter().map(Vec::len).sum::<usize>() > MAX_SPEC_BYTES {
        return Err(bad(format!("exceeds {} KiB", MAX_SPEC_BYTES >> 10)));
    }
    let parts = spec
        .iter()
        .enumerate()
        .map(|(i, p)| part(i, p))
        .collect::<ApiResult<Vec<_>>>()?;
    let (key, options) = match parts.as_slice() {
        [] => {
            return Err(bad(
                "required: the index key, such as {\"key\": {\"data.readings.temperature\": 1}}",
            ));
        }
        [one] if one.contains_key("key") => {
            if let Some(k) = one.keys().find(|k| *k != "key" && *k != "options") {
                return Err(bad(format!(
                    "unknown field {k:?}; a spec document has \"key\" and \"options\""
                )));
            }
            let key = match one.get("key") {
                Some(Bson::Document(d)) => d.clone(),
                _ => return Err(bad("\"key\" must be a document of field: 1 or -1")),
            };
            let options = match one.get("options") {
                None => Document::new(),
                Some(Bson::Document(d)) => d.clone(),
                _ => return Err(bad("\"options\" must be a document")),
            };
            (key, options)
        }
        [key] => (key.clone(), Document::new()),
        [key, options] => (key.clone(), options.clone()),
        _ => {
            return Err(bad(format!(
                "{} parts; send the key, then optionally the options",
                parts.len()
            )));
        }
    };
    check_key(&key)?;
    check_options(&options)?;
    Ok((key, options))
}

fn check_key(key: &Document) -> ApiResult<()> {
    if key.is_empty() {
        return Err(bad("the key names no field"));
    }
    if key.len() > MAX_KEY_FIELDS {
        return Err(bad(format!(
            "the key names {} fields; at most {MAX_KEY_FIELDS}",
            key.len()
        )));
    }
    for (field, v) in key {
        if field.is_empty() || field.starts_with('$') && field != "$**" {
            return Err(bad(format!("{field:?} is not a field path")));
        }
        let ok = match v {
            Bson::Int32(n) => *n == 1 || *n == -1,
            Bson::Int64(n) => *n == 1 || *n == -1,
            Bson::Double(n) => *n == 1.0 || *n == -1.0,
            Bson::String(s) => matches!(s.as_str(), "text" | "2dsphere" | "2d" | "hashed"),
            _ => false,
        };
        if !ok {
            return Err(bad(format!(
                "field {field:?}: {v} is not an index direction; use 1, -1, \"text\", \
                 \"2dsphere\", \"2d\" or \"hashed\""
            )));
        }
    }
    Ok(())
}

fn check_options(options: &Document) -> ApiResult<()> {
    for (k, v) in options {
        if !OPTIONS.contains(&k.as_str()) {
            return Err(bad(format!(
                "unknown option {k:?}; known: {}",
                OPTIONS.join(", ")
            )));
        }
        let ok = match k.as_str() {
            "name" => matches!(v, Bson::String(s) if !s.trim().is_empty()),
            "unique" | "sparse" | "hidden" => matches!(v, Bson::Boolean(_)),
            "expireAfterSeconds" => match v {
                Bson::Int32(n) => *n >= 0,
                Bson::Int64(n) => *n >= 0,
                Bson::Double(n) => *n >= 0.0 && n.fract() == 0.0,
                _ => false,
            },
            "default_language" | "language_override" => matches!(v, Bson::String(_)),
            _ => matches!(v, Bson::Document(_)),
        };
        if !ok {
            return Err(bad(format!("option {k:?}: {v} is not a valid value")));
        }
    }
    Ok(())
}

/// The index's name: the options' `name`, else MongoDB's default (`field_1_other_-1`).
fn name_of(key: &Document, options: &Document) -> String {
    if let Some(Bson::String(n)) = options.get("name") {
        return n.trim().to_string();
    }
    key.iter()
        .map(|(f, v)| {
            let dir = match v {
                Bson::String(s) => s.clone(),
                Bson::Double(n) => format!("{}", *n as i64),
                other => other.to_string(),
            };
            format!("{f}_{dir}")
        })
        .collect::<Vec<_>>()
        .join("_")
}

fn exists(c: &Connection, org: &str, kind: i32, pipeline: &str, name: &str) -> ApiResult<bool> {
    Ok(c.prepare_cached(
        "SELECT 1 FROM data_indexes
             WHERE org_id = ?1 AND collection_type = ?2 AND pipeline_name = ?3 AND name = ?4",
    )?
    .query_row(params![org, kind, pipeline, name], |_| Ok(()))
    .optional()?
    .is_some())
}

fn describe(pipeline: &str) -> String {
    if pipeline.is_empty() {
        "the hot store".into()
    } else {
        format!("the sink of pipeline {pipeline:?}")
    }
}

pub fn create_index(
    api: &Api,
    who: &Principal,
    req: CreateIndexRequest,
) -> ApiResult<CreateIndexResponse> {
    let (kind, pipeline) = collection(req.collection_type, req.pipeline_name.as_deref())?;
    let (key, options) = parse(&req.index_spec)?;
    let name = name_of(&key, &options);
    if name == "_id_" {
        return Err(bad(
            "\"_id_\" is the name of the built-in index; choose another",
        ));
    }
    let spec: Vec<String> = req.index_spec.iter().map(|p| B64.encode(p)).collect();
    let spec = serde_json::to_string(&spec).map_err(|e| ApiError::Internal(e.to_string()))?;
    api.store.tx(|tx| {
        let scope = Scope::organization(tx, &req.organization_id)?;
        who.require(Perm::WriteDataManagement, &scope)?;
        if exists(tx, &scope.org_id, kind, &pipeline, &name)? {
            return Err(ApiError::AlreadyExists(format!(
                "index_spec: {} of organization {:?} already has an index named {name:?}; \
                 delete it first or give options.name another name",
                describe(&pipeline),
                scope.org_id
            )));
        }
        exec(
            tx,
            "INSERT INTO data_indexes(org_id, collection_type, pipeline_name, name, spec, created_on)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![scope.org_id, kind, pipeline, name, spec, now()],
        )?;
        Ok(CreateIndexResponse {})
    })
}

/// The custom indexes of one collection, oldest first. The local fleet's own SQLite indexes
/// are no MongoDB indexes and are not listed.
pub fn list_indexes(
    api: &Api,
    who: &Principal,
    req: ListIndexesRequest,
) -> ApiResult<ListIndexesResponse> {
    let (kind, pipeline) = collection(req.collection_type, req.pipeline_name.as_deref())?;
    api.store.read(|c| {
        let scope = Scope::organization(c, &req.organization_id)?;
        Access::of(c, who, READ)?.require_in(READ, &scope.org_id, &scope.what)?;
        let mut stmt = c.prepare_cached(
            "SELECT name, spec FROM data_indexes
             WHERE org_id = ?1 AND collection_type = ?2 AND pipeline_name = ?3
             ORDER BY created_on, name",
        )?;
        let rows = stmt.query_map(params![scope.org_id, kind, pipeline], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut indexes = Vec::new();
        for row in rows {
            let (index_name, spec) = row?;
            let parts: Vec<String> = serde_json::from_str(&spec).unwrap_or_default();
            indexes.push(Index {
                collection_type: kind,
                pipeline_name: (!pipeline.is_empty()).then(|| pipeline.clone()),
                index_name,
                index_spec: parts.iter().filter_map(|p| B64.decode(p).ok()).collect(),
                created_by: IndexCreator::Customer as i32,
            });
        }
        Ok(ListIndexesResponse { indexes })
    })
}

pub fn delete_index(
    api: &Api,
    who: &Principal,
    req: DeleteIndexRequest,
) -> ApiResult<DeleteIndexResponse> {
    let (kind, pipeline) = collection(req.collection_type, req.pipeline_name.as_deref())?;
    let name = required("index_name", &req.index_name)?;
    api.store.tx(|tx| {
        let scope = Scope::organization(tx, &req.organization_id)?;
        who.require(Perm::WriteDataManagement, &scope)?;
        if !exists(tx, &scope.org_id, kind, &pipeline, name)? {
            return Err(ApiError::NotFound(format!(
                "index_name: {} of organization {:?} has no custom index named {name:?}; \
                 ListIndexes shows the names",
                describe(&pipeline),
                scope.org_id
            )));
        }
        exec(
            tx,
            "DELETE FROM data_indexes
             WHERE org_id = ?1 AND collection_type = ?2 AND pipeline_name = ?3 AND name = ?4",
            params![scope.org_id, kind, pipeline, name],
        )?;
        Ok(DeleteIndexResponse {})
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn enc(d: &Document) -> Vec<u8> {
        let mut v = Vec::new();
        d.to_writer(&mut v).unwrap();
        v
    }

    #[test]
    fn specs_parse_in_the_cli_and_the_sdk_forms_and_are_named_as_mongodb_names_them() {
        let cli = vec![br#"{"data.readings.t": 1, "time_received": -1}"#.to_vec()];
        let (k, o) = parse(&cli).unwrap();
        assert_eq!(name_of(&k, &o), "data.readings.t_1_time_received_-1");
        let sdk = vec![enc(
            &doc! {"key": {"robot_id": 1}, "options": {"name": "by_robot"}},
        )];
        let (k, o) = parse(&sdk).unwrap();
        assert_eq!(name_of(&k, &o), "by_robot");
        let two = vec![
            enc(&doc! {"a": -1}),
            br#"{"name": "a_desc", "unique": true}"#.to_vec(),
        ];
        let (k, o) = parse(&two).unwrap();
        assert_eq!(name_of(&k, &o), "a_desc");
    }

    #[test]
    fn bad_specs_are_refused() {
        let cases: Vec<Vec<Vec<u8>>> = vec![
            vec![],
            vec![b"nope".to_vec()],
            vec![enc(&doc! {})],
            vec![enc(&doc! {"a": 2})],
            vec![enc(&doc! {"a": "up"})],
            vec![enc(&doc! {"$where": 1})],
            vec![enc(&doc! {"a": 1}), enc(&doc! {"colour": "red"})],
            vec![enc(&doc! {"a": 1}), enc(&doc! {"unique": "yes"})],
            vec![enc(&doc! {"key": {"a": 1}, "extra": 1})],
            vec![enc(&doc! {"a": 1}), enc(&doc! {}), enc(&doc! {})],
        ];
        for c in cases {
            let e = parse(&c).unwrap_err();
            assert_eq!(e.code(), tonic::Code::InvalidArgument, "{c:?}: {e}");
        }
    }
}
