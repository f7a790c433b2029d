//! Saved queries (issue 12): an organization's named MQL pipelines, stored as the client sent
//! them (one BSON document per stage) and returned the same way. TabularDataByMQL runs one by
//! name (`query_prefix_name`): its stages come first, then the request's own.
//!
//! Saving, changing and deleting need write_data_management on the organization; reading needs
//! the grant MQL itself needs (read_organization_data_management in that organization), since
//! a saved query is only good for running over the organization's readings.

use bson::Document;
use rusqlite::{Connection, OptionalExtension, params};

use super::{Access, mql};
use crate::proto::viam::app::data::v1::*;
use crate::server::Api;
use crate::server::authz::{Perm, Principal, Scope};
use crate::server::error::{ApiError, ApiResult, required};
use crate::server::store::{exec, new_id, now, to_ts};

const READ: Perm = Perm::ReadOrganizationDataManagement;

/// Stages a saved query may hold, and bytes all of them together.
const MAX_STAGES: usize = 1000;
const MAX_PIPELINE_BYTES: usize = 1024 * 1024;

struct Stored {
    id: String,
    org_id: String,
    name: String,
    pipeline: Vec<u8>,
    created_on: i64,
    updated_at: i64,
}

const COLUMNS: &str = "id, org_id, name, pipeline, created_on, updated_at";

fn stored(r: &rusqlite::Row<'_>) -> rusqlite::Result<Stored> {
    Ok(Stored {
        id: r.get(0)?,
        org_id: r.get(1)?,
        name: r.get(2)?,
        pipeline: r.get(3)?,
        created_on: r.get(4)?,
        updated_at: r.get(5)?,
    })
}

impl Stored {
    fn to_proto(&self) -> Query {
        Query {
            id: self.id.clone(),
            organization_id: self.org_id.clone(),
            name: self.name.clone(),
            mql_binary: split(&self.pipeline),
            created_on: Some(to_ts(self.created_on)),
            updated_at: Some(to_ts(self.updated_at)),
        }
    }
}

/// The stages of a stored pipeline: BSON documents back to back, each led by its length
/// (checked when saved, so a stored pipeline always splits cleanly).
fn split(mut blob: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while blob.len() >= 4 {
        let len = i32::from_le_bytes([blob[0], blob[1], blob[2], blob[3]]) as usize;
        if len < 5 || len > blob.len() {
            break;
        }
        out.push(blob[..len].to_vec());
        blob = &blob[len..];
    }
    out
}

/// The request's stages as one blob, once each is a well-formed stage: a BSON document of
/// exactly its own length with one `$` key (what runs it is checked when it runs, as upstream
/// stores pipelines its engine runs later).
fn pipeline_blob(stages: &[Vec<u8>]) -> ApiResult<Vec<u8>> {
    if stages.is_empty() {
        return Err(ApiError::invalid(
            "mql_binary",
            "required: a pipeline of at least one stage, such as {\"$match\": {...}}",
        ));
    }
    if stages.len() > MAX_STAGES {
        return Err(ApiError::invalid(
            "mql_binary",
            format!(
                "{} stages; a saved query holds at most {MAX_STAGES}",
                stages.len()
            ),
        ));
    }
    let docs = mql::parse_stages(stages)?;
    for (i, (raw, d)) in stages.iter().zip(&docs).enumerate() {
        let declared = raw
            .get(..4)
            .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
        if declared != Some(raw.len()) {
            return Err(ApiError::invalid(
                "mql_binary",
                format!("stage {i} has bytes after its BSON document; send one document per stage"),
            ));
        }
        if !d.keys().next().is_some_and(|k| k.starts_with('$')) {
            return Err(ApiError::invalid(
                "mql_binary",
                format!("stage {i} is not a stage: its key must start with $, as in $match"),
            ));
        }
    }
    let blob = stages.concat();
    if blob.len() > MAX_PIPELINE_BYTES {
        return Err(ApiError::invalid(
            "mql_binary",
            format!("the pipeline exceeds {} KiB", MAX_PIPELINE_BYTES >> 10),
        ));
    }
    Ok(blob)
}

fn get(c: &Connection, id: &str) -> ApiResult<Stored> {
    let id = required("id", id)?;
    c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM saved_queries WHERE id = ?1"
    ))?
    .query_row([id], stored)
    .optional()?
    .ok_or_else(|| ApiError::not_found("saved query", id))
}

fn readable(c: &Connection, who: &Principal, id: &str) -> ApiResult<Stored> {
    let q = get(c, id)?;
    Access::of(c, who, READ)?.require_in(READ, &q.org_id, &format!("saved query {:?}", q.id))?;
    Ok(q)
}

fn writable(c: &Connection, who: &Principal, id: &str) -> ApiResult<Stored> {
    let q = get(c, id)?;
    who.require(Perm::WriteDataManagement, &Scope::stored_org(&q.org_id))?;
    Ok(q)
}

/// A saved query's name, trimmed; ALREADY_EXISTS when the organization has another of it
/// (TabularDataByMQL finds a saved query by name).
fn new_name<'a>(
    c: &Connection,
    org_id: &str,
    name: &'a str,
    except: Option<&str>,
) -> ApiResult<&'a str> {
    super::unique_name(
        c,
        ("saved_queries", "a saved query", "update that query"),
        org_id,
        name,
        except,
    )
}

/// The stages of the organization's saved query `name`, for TabularDataByMQL.
pub(super) fn stages_named(
    api: &Api,
    who: &Principal,
    org_id: &str,
    name: &str,
) -> ApiResult<Vec<Document>> {
    let blob = api.store.read(|c| {
        let scope = Scope::organization(c, org_id)?;
        Access::of(c, who, READ)?.require_in(READ, &scope.org_id, &scope.what)?;
        c.prepare_cached("SELECT pipeline FROM saved_queries WHERE org_id = ?1 AND name = ?2")?
            .query_row([org_id, name], |r| r.get::<_, Vec<u8>>(0))
            .optional()?
            .ok_or_else(|| {
                ApiError::NotFound(format!(
                    "query_prefix_name: organization {org_id:?} has no saved query named \
                     {name:?}; list them with ListSavedQueries"
                ))
            })
    })?;
    mql::parse_stages(&split(&blob))
}

pub fn create_saved_query(
    api: &Api,
    who: &Principal,
    req: CreateSavedQueryRequest,
) -> ApiResult<CreateSavedQueryResponse> {
    let blob = pipeline_blob(&req.mql_binary)?;
    api.store.tx(|tx| {
        let scope = Scope::organization(tx, &req.organization_id)?;
        who.require(Perm::WriteDataManagement, &scope)?;
        let name = new_name(tx, &scope.org_id, &req.name, None)?;
        let id = new_id();
        let t = now();
        exec(
            tx,
            "INSERT INTO saved_queries(id, org_id, name, pipeline, created_on, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
            params![id, scope.org_id, name, blob, t],
        )?;
        Ok(CreateSavedQueryResponse { id })
    })
}

/// Changes the name, the pipeline or both: an empty name or an empty pipeline keeps the
/// stored one (proto3 cannot tell "unchanged" from "empty", and neither may be empty).
pub fn update_saved_query(
    api: &Api,
    who: &Principal,
    req: UpdateSavedQueryRequest,
) -> ApiResult<UpdateSavedQueryResponse> {
    if req.name.trim().is_empty() && req.mql_binary.is_empty() {
        return Err(ApiError::invalid(
            "name",
            "nothing to change: give a new name, a new mql_binary pipeline or both",
        ));
    }
    let blob = if req.mql_binary.is_empty() {
        None
    } else {
        Some(pipeline_blob(&req.mql_binary)?)
    };
    api.store.tx(|tx| {
        let q = writable(tx, who, &req.id)?;
        let name = if req.name.trim().is_empty() {
            q.name.clone()
        } else {
            new_name(tx, &q.org_id, &req.name, Some(&q.id))?.to_string()
        };
        exec(
            tx,
            "UPDATE saved_queries SET name = ?2, pipeline = ?3, updated_at = ?4 WHERE id = ?1",
            params![q.id, name, blob.unwrap_or(q.pipeline), now()],
        )?;
        Ok(UpdateSavedQueryResponse {})
    })
}

pub fn get_saved_query(
    api: &Api,
    who: &Principal,
    req: GetSavedQueryRequest,
) -> ApiResult<GetSavedQueryResponse> {
    api.store.read(|c| {
        let q = readable(c, who, &req.id)?;
        Ok(GetSavedQueryResponse {
            saved_query: Some(q.to_proto()),
        })
    })
}

pub fn delete_saved_query(
    api: &Api,
    who: &Principal,
    req: DeleteSavedQueryRequest,
) -> ApiResult<DeleteSavedQueryResponse> {
    api.store.tx(|tx| {
        let q = writable(tx, who, &req.id)?;
        exec(tx, "DELETE FROM saved_queries WHERE id = ?1", [&q.id])?;
        Ok(DeleteSavedQueryResponse {})
    })
}

/// The organization's saved queries, oldest first; `limit` > 0 keeps the first that many.
pub fn list_saved_queries(
    api: &Api,
    who: &Principal,
    req: ListSavedQueriesRequest,
) -> ApiResult<ListSavedQueriesResponse> {
    if req.limit < 0 {
        return Err(ApiError::invalid(
            "limit",
            format!(
                "{} is negative; give 0 for all, or how many to return",
                req.limit
            ),
        ));
    }
    let limit = if req.limit == 0 { -1 } else { req.limit };
    api.store.read(|c| {
        let scope = Scope::organization(c, &req.organization_id)?;
        Access::of(c, who, READ)?.require_in(READ, &scope.org_id, &scope.what)?;
        let mut stmt = c.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM saved_queries WHERE org_id = ?1
             ORDER BY created_on, id LIMIT ?2"
        ))?;
        let queries = stmt
            .query_map(params![scope.org_id, limit], stored)?
            .map(|r| r.map(|q| q.to_proto()))
            .collect::<Result<_, _>>()?;
        Ok(ListSavedQueriesResponse { queries })
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
    fn a_pipeline_splits_back_into_the_stages_it_was_saved_from() {
        let stages = vec![
            enc(&doc! {"$match": {"component_name": "temp"}}),
            enc(&doc! {"$limit": 10}),
        ];
        assert_eq!(split(&pipeline_blob(&stages).unwrap()), stages);
    }

    #[test]
    fn malformed_stages_are_refused() {
        let mut trailing = enc(&doc! {"$limit": 1});
        trailing.push(0);
        let cases = [
            vec![],
            vec![b"not bson".to_vec()],
            vec![enc(&doc! {"limit": 1})],
            vec![enc(&doc! {"$limit": 1, "$skip": 2})],
            vec![trailing],
        ];
        for c in cases {
            let e = pipeline_blob(&c).unwrap_err();
            assert_eq!(e.code(), tonic::Code::InvalidArgument, "{c:?}: {e}");
        }
    }
}
