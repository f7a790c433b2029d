//! Fragment revisions and tags: every create and update keeps the fragment as it then was,
//! GetFragment reads one by `version` (a revision number or a tag), GetFragmentHistory pages
//! through them newest first, and a tag names one revision.

use prost::Message;
use rusqlite::{Connection, OptionalExtension, params};

use super::authz::{Identity, Principal};
use super::error::{ApiError, ApiResult};
use super::store::{exec, row, to_ts};
use crate::proto::viam::app::v1::*;

const HISTORY_PAGE_DEFAULT: i64 = 100;
const HISTORY_PAGE_MAX: i64 = 1000;

/// Keeps `f` (just written) as its revision, made by `who`.
pub fn record(c: &Connection, who: &Principal, f: &Fragment) -> ApiResult<()> {
    let revision: i64 = f
        .revision
        .parse()
        .map_err(|_| ApiError::Internal(format!("fragment revision {:?}", f.revision)))?;
    let at = f.last_updated.as_ref().map_or(0, super::store::from_ts);
    let editor_type = match who.identity {
        Identity::ApiKey { .. } => AuthenticationType::ApiKey,
        Identity::Part { .. } => AuthenticationType::RobotPartSecret,
        Identity::User { .. } => AuthenticationType::WebOauth,
    };
    exec(
        c,
        "INSERT OR REPLACE INTO fragment_revisions(fragment_id, revision, snapshot, created_at, editor_type, editor)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![f.id, revision, f.encode_to_vec(), at, editor_type as i32, who.id()],
    )?;
    Ok(())
}

fn decode(bytes: &[u8]) -> ApiResult<Fragment> {
    Fragment::decode(bytes)
        .map_err(|e| ApiError::Internal(format!("stored fragment revision is corrupt: {e}")))
}

/// The revision `version` names: a tag of the fragment, else a revision number.
pub fn resolve(c: &Connection, fragment_id: &str, version: &str) -> ApiResult<Option<Fragment>> {
    let tagged: Option<i64> = row(
        c,
        "SELECT revision FROM fragment_tags WHERE fragment_id = ?1 AND tag = ?2",
        params![fragment_id, version],
        |r| r.get(0),
    )
    .optional()?;
    let Some(revision) = tagged.or_else(|| version.parse::<i64>().ok()) else {
        return Ok(None);
    };
    let bytes: Option<Vec<u8>> = row(
        c,
        "SELECT snapshot FROM fragment_revisions WHERE fragment_id = ?1 AND revision = ?2",
        params![fragment_id, revision],
        |r| r.get(0),
    )
    .optional()?;
    bytes.as_deref().map(decode).transpose()
}

pub fn revisions(c: &Connection, fragment_id: &str) -> ApiResult<Vec<FragmentRevision>> {
    let mut stmt = c.prepare_cached(
        "SELECT revision, created_at FROM fragment_revisions WHERE fragment_id = ?1 ORDER BY revision",
    )?;
    let out = stmt
        .query_map([fragment_id], |r| {
            Ok(FragmentRevision {
                revision: r.get::<_, i64>(0)?.to_string(),
                created_at: Some(to_ts(r.get(1)?)),
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(out)
}

pub fn tags(c: &Connection, fragment_id: &str) -> ApiResult<Vec<FragmentTag>> {
    let mut stmt = c.prepare_cached(
        "SELECT tag, revision FROM fragment_tags WHERE fragment_id = ?1 ORDER BY tag",
    )?;
    let out = stmt
        .query_map([fragment_id], |r| {
            Ok(FragmentTag {
                tag: r.get(0)?,
                revision: r.get::<_, i64>(1)?.to_string(),
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(out)
}

/// Points `tag` at `revision`, which must be a kept revision of the fragment.
pub fn set_tag(c: &Connection, fragment_id: &str, tag: &str, revision: &str) -> ApiResult<()> {
    let n: i64 = revision.parse().map_err(|_| {
        ApiError::invalid("revision", "a revision number, as GetFragment lists them")
    })?;
    let kept: bool = row(
        c,
        "SELECT EXISTS(SELECT 1 FROM fragment_revisions WHERE fragment_id = ?1 AND revision = ?2)",
        params![fragment_id, n],
        |r| r.get(0),
    )?;
    if !kept {
        return Err(ApiError::NotFound(format!(
            "fragment {fragment_id:?} has no revision {revision:?}; GetFragment lists its revisions"
        )));
    }
    exec(
        c,
        "INSERT INTO fragment_tags(fragment_id, tag, revision) VALUES (?1, ?2, ?3)
         ON CONFLICT(fragment_id, tag) DO UPDATE SET revision = ?3",
        params![fragment_id, tag, n],
    )?;
    Ok(())
}

pub fn delete_tag(c: &Connection, fragment_id: &str, tag: &str) -> ApiResult<()> {
    let n = exec(
        c,
        "DELETE FROM fragment_tags WHERE fragment_id = ?1 AND tag = ?2",
        params![fragment_id, tag],
    )?;
    if n == 0 {
        return Err(ApiError::NotFound(format!(
            "fragment {fragment_id:?} has no tag {tag:?}; GetFragment lists its tags"
        )));
    }
    Ok(())
}

/// One page of the fragment's revisions, newest first; the token is the revision to start
/// below.
pub fn history(
    c: &Connection,
    fragment_id: &str,
    page_token: Option<&str>,
    page_limit: Option<i64>,
) -> ApiResult<GetFragmentHistoryResponse> {
    let limit = match page_limit {
        None | Some(0) => HISTORY_PAGE_DEFAULT,
        Some(n) if n < 0 => return Err(ApiError::invalid("page_limit", "must not be negative")),
        Some(n) => n.min(HISTORY_PAGE_MAX),
    };
    let below = match page_token {
        None | Some("") => i64::MAX,
        Some(t) => t
            .parse::<i64>()
            .map_err(|_| ApiError::invalid("page_token", "not a token from GetFragmentHistory"))?,
    };
    let mut stmt = c.prepare_cached(
        "SELECT revision, snapshot, created_at, editor_type, editor FROM fragment_revisions
         WHERE fragment_id = ?1 AND revision < ?2 ORDER BY revision DESC LIMIT ?3",
    )?;
    let rows = stmt
        .query_map(params![fragment_id, below, limit + 1], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i32>(3)?,
                r.get::<_, String>(4)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut history = Vec::new();
    let mut next_page_token = String::new();
    for (revision, snapshot, at, editor_type, editor) in rows {
        if history.len() as i64 == limit {
            next_page_token = (revision + 1).to_string();
            break;
        }
        let old = decode(&snapshot)?;
        history.push(FragmentHistoryEntry {
            fragment: fragment_id.into(),
            edited_on: Some(to_ts(at)),
            config: old.fragment.clone(),
            old: Some(old),
            edited_by: Some(AuthenticatorInfo {
                r#type: editor_type,
                value: editor,
                is_deactivated: false,
            }),
            revision: revision.to_string(),
        });
    }
    Ok(GetFragmentHistoryResponse {
        history,
        next_page_token,
    })
}
