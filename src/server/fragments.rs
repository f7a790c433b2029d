//! Fragments: named config snippets owned by an organization, private, public or
//! public-unlisted. Every revision is kept (fragment_revisions.rs).

use prost::Message;
use rusqlite::{Connection, params};

use super::Api;
use super::authz::{Perm, Principal, Scope};
use super::error::{ApiError, ApiResult};
use super::fragment_revisions as revs;
use super::fragment_usage;
use super::store::{exec, found, from_ts, new_id, now, row, to_ts};
use super::structs::json_to_struct;
use crate::proto::viam::app::v1::*;

const PRIVATE: i32 = FragmentVisibility::Private as i32;
const PUBLIC: i32 = FragmentVisibility::Public as i32;
const UNLISTED: i32 = FragmentVisibility::PublicUnlisted as i32;

const COLUMNS: &str =
    "f.id, f.name, f.config, f.config_json, f.visibility, f.created_on, f.last_updated,
     f.revision, o.id, o.name, o.public_namespace";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Fragment> {
    let config: Vec<u8> = r.get(2)?;
    let visibility: i32 = r.get(4)?;
    Ok(Fragment {
        id: r.get(0)?,
        name: r.get(1)?,
        // The BLOB is only ever written by this file from a decoded Struct.
        fragment: Some(prost_types::Struct::decode(config.as_slice()).unwrap_or_default()),
        fragment_config_json: r.get(3)?,
        visibility,
        public: visibility == PUBLIC,
        created_on: Some(to_ts(r.get(5)?)),
        last_updated: Some(to_ts(r.get(6)?)),
        revision: r.get::<_, i64>(7)?.to_string(),
        organization_owner: r.get(8)?,
        organization_name: r.get(9)?,
        public_namespace: r.get(10)?,
        // Filled in by fragment_usage::with_usage where a reply reports usage.
        robot_part_count: 0,
        organization_count: 0,
        only_used_by_owner: false,
    })
}

fn load(c: &Connection, id: &str) -> ApiResult<Fragment> {
    if id.is_empty() {
        return Err(ApiError::invalid("id", "required"));
    }
    let sql =
        format!("SELECT {COLUMNS} FROM fragments f JOIN orgs o ON o.id = f.org_id WHERE f.id = ?1");
    found(row(c, &sql, [id], from_row), "fragment", id)
}

fn query(c: &Connection, filter: &str, args: impl rusqlite::Params) -> ApiResult<Vec<Fragment>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM fragments f JOIN orgs o ON o.id = f.org_id WHERE {filter}
         ORDER BY f.created_on, f.id"
    );
    let mut stmt = c.prepare(&sql)?;
    Ok(stmt.query_map(args, from_row)?.collect::<Result<_, _>>()?)
}

/// A known visibility; `field` names the request field in the error.
fn check_visibility(field: &str, v: i32) -> ApiResult<i32> {
    match v {
        PRIVATE | PUBLIC | UNLISTED => Ok(v),
        _ => Err(ApiError::invalid(
            field,
            format!("{v} is not FRAGMENT_VISIBILITY_PRIVATE, _PUBLIC or _PUBLIC_UNLISTED"),
        )),
    }
}

fn required_name(name: &str) -> ApiResult<&str> {
    let name = name.trim();
    if name.is_empty() {
        Err(ApiError::invalid("name", "must not be empty"))
    } else {
        Ok(name)
    }
}

/// Which fragments a list returns, as the API guide says:
/// - `fragment_visibility` non-empty (the SDK's `visibilities`, which supersedes the
///   deprecated `show_public`): the organization's fragments with those visibilities, plus
///   other organizations' PUBLIC ones when PUBLIC is asked for;
/// - else `show_public` true (the SDK's default): public fragments only, that is the
///   organization's PUBLIC and PUBLIC_UNLISTED ones (unlisted is public to whoever has the id)
///   and other organizations' PUBLIC ones;
/// - else: the organization's PRIVATE fragments only.
///
/// So `show_public` true and false split the organization's own fragments between them.
/// Other organizations' unlisted fragments never appear: they are reachable by id only.
pub fn list_fragments(
    api: &Api,
    who: &Principal,
    req: ListFragmentsRequest,
) -> ApiResult<ListFragmentsResponse> {
    let org = req.organization_id.as_str();
    let mut asked = req
        .fragment_visibility
        .iter()
        .map(|v| check_visibility("fragment_visibility", *v))
        .collect::<ApiResult<Vec<i32>>>()?;
    if asked.is_empty() {
        asked = if req.show_public {
            vec![PUBLIC, UNLISTED]
        } else {
            vec![PRIVATE]
        };
    }
    api.store.read(|c| {
        who.require(Perm::ReadFragment, &Scope::organization(c, org)?)?;
        let mut fragments: Vec<Fragment> = query(c, "f.org_id = ?1", [org])?
            .into_iter()
            .filter(|f| asked.contains(&f.visibility))
            .collect();
        if asked.contains(&PUBLIC) {
            fragments.extend(query(
                c,
                "f.org_id <> ?1 AND f.visibility = ?2",
                params![org, PUBLIC],
            )?);
        }
        let (fragments, fragment_usages) = fragments
            .into_iter()
            .map(|f| fragment_usage::with_usage(c, f))
            .collect::<ApiResult<Vec<_>>>()?
            .into_iter()
            .unzip();
        Ok(ListFragmentsResponse {
            fragments,
            fragment_usages,
        })
    })
}

/// Readable: with read_fragment on the owning organization, or by anyone when it is public
/// or public-unlisted.
fn require_readable(who: &Principal, f: &Fragment) -> ApiResult<()> {
    if f.visibility == PUBLIC || f.visibility == UNLISTED {
        return Ok(());
    }
    who.require(
        Perm::ReadFragment,
        &Scope::stored_org(&f.organization_owner),
    )
    .map_err(|_| {
        ApiError::denied(format!(
            "fragment {:?} is private to its organization",
            f.id
        ))
    })
}

pub fn get_fragment(
    api: &Api,
    who: &Principal,
    req: GetFragmentRequest,
) -> ApiResult<GetFragmentResponse> {
    api.store.read(|c| {
        let current = load(c, &req.id)?;
        require_readable(who, &current)?;
        let fragment = match req.version.as_deref().filter(|v| !v.is_empty()) {
            None => current,
            Some(v) if v == current.revision => current,
            Some(v) => revs::resolve(c, &current.id, v)?.ok_or_else(|| {
                ApiError::NotFound(format!(
                    "fragment {:?} has no revision or tag {v:?}; GetFragment lists its revisions and tags",
                    current.id
                ))
            })?,
        };
        let (fragment, usage) = fragment_usage::with_usage(c, fragment)?;
        Ok(GetFragmentResponse {
            fragment_usage: Some(usage),
            revisions: revs::revisions(c, &fragment.id)?,
            tags: revs::tags(c, &fragment.id)?,
            fragment: Some(fragment),
        })
    })
}

pub fn create_fragment(
    api: &Api,
    who: &Principal,
    req: CreateFragmentRequest,
) -> ApiResult<CreateFragmentResponse> {
    let name = required_name(&req.name)?;
    let visibility = match req.visibility {
        None | Some(0) => PRIVATE,
        Some(v) => check_visibility("visibility", v)?,
    };
    let config = req.config.unwrap_or_default().encode_to_vec();
    api.store.tx(|tx| {
        who.require(Perm::WriteFragment, &Scope::organization(tx, &req.organization_id)?)?;
        let id = new_id();
        exec(tx,
            "INSERT INTO fragments(id, org_id, name, config, visibility, created_on, last_updated, revision)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, 1)",
            params![id, req.organization_id, name, config, visibility, now()],
        )?;
        let fragment = load(tx, &id)?;
        revs::record(tx, who, &fragment)?;
        Ok(CreateFragmentResponse { fragment: Some(fragment) })
    })
}

/// The new visibility: `visibility` wins over `public`; neither keeps the current one.
fn new_visibility(req: &UpdateFragmentRequest, current: i32) -> ApiResult<i32> {
    match (req.visibility.filter(|v| *v != 0), req.public) {
        (Some(v), _) => check_visibility("visibility", v),
        (None, Some(true)) => Ok(PUBLIC),
        (None, Some(false)) => Ok(PRIVATE),
        (None, None) => Ok(current),
    }
}

/// The new config as (Struct, JSON text): `fragment_config_json` when non-empty (kept
/// verbatim), else `config`; None keeps the current config.
fn new_config(
    req: &UpdateFragmentRequest,
) -> ApiResult<Option<(prost_types::Struct, Option<String>)>> {
    if let Some(json) = req
        .fragment_config_json
        .as_deref()
        .filter(|j| !j.trim().is_empty())
    {
        return Ok(Some((
            json_to_struct("fragment_config_json", json)?,
            Some(json.to_string()),
        )));
    }
    Ok(req.config.clone().map(|s| (s, None)))
}

pub fn update_fragment(
    api: &Api,
    who: &Principal,
    req: UpdateFragmentRequest,
) -> ApiResult<UpdateFragmentResponse> {
    let name = required_name(&req.name)?;
    let config = new_config(&req)?;
    api.store.tx(|tx| {
        let current = load(tx, &req.id)?;
        who.require(Perm::WriteFragment, &Scope::stored_org(&current.organization_owner))?;
        let last = current.last_updated.as_ref().map(from_ts).unwrap_or_default();
        if let Some(known) = &req.last_known_update
            && from_ts(known) != last
        {
            return Err(ApiError::FailedPrecondition(format!(
                "fragment {:?} was updated since last_known_update (now revision {}); get it again and retry",
                current.id, current.revision
            )));
        }
        let visibility = new_visibility(&req, current.visibility)?;
        // Strictly later than the last update, so last_known_update always tells edits apart.
        let at = now().max(last + 1000);
        exec(tx,
            "UPDATE fragments SET name = ?2, visibility = ?3, last_updated = ?4, revision = revision + 1
             WHERE id = ?1",
            params![current.id, name, visibility, at],
        )?;
        if let Some((config, json)) = config {
            exec(tx,
                "UPDATE fragments SET config = ?2, config_json = ?3 WHERE id = ?1",
                params![current.id, config.encode_to_vec(), json],
            )?;
        }
        let fragment = load(tx, &current.id)?;
        revs::record(tx, who, &fragment)?;
        Ok(UpdateFragmentResponse { fragment: Some(fragment) })
    })
}

pub fn delete_fragment(
    api: &Api,
    who: &Principal,
    req: DeleteFragmentRequest,
) -> ApiResult<DeleteFragmentResponse> {
    if req.id.is_empty() {
        return Err(ApiError::invalid("id", "required"));
    }
    api.store.tx(|tx| {
        let org_id: String = found(
            row(
                tx,
                "SELECT org_id FROM fragments WHERE id = ?1",
                [&req.id],
                |r| r.get(0),
            ),
            "fragment",
            &req.id,
        )?;
        who.require(Perm::WriteFragment, &Scope::stored_org(&org_id))?;
        exec(tx, "DELETE FROM fragments WHERE id = ?1", [&req.id])?;
        Ok(DeleteFragmentResponse {})
    })
}

pub fn get_fragment_history(
    api: &Api,
    who: &Principal,
    req: GetFragmentHistoryRequest,
) -> ApiResult<GetFragmentHistoryResponse> {
    api.store.read(|c| {
        let fragment = load(c, &req.id)?;
        require_readable(who, &fragment)?;
        revs::history(c, &fragment.id, req.page_token.as_deref(), req.page_limit)
    })
}

/// The fragment, after checking that `who` may change it.
fn writable(c: &Connection, who: &Principal, id: &str) -> ApiResult<Fragment> {
    if id.is_empty() {
        return Err(ApiError::invalid("fragment_id", "required"));
    }
    let fragment = load(c, id)?;
    who.require(
        Perm::WriteFragment,
        &Scope::stored_org(&fragment.organization_owner),
    )?;
    Ok(fragment)
}

pub fn set_fragment_tag(
    api: &Api,
    who: &Principal,
    req: SetFragmentTagRequest,
) -> ApiResult<SetFragmentTagResponse> {
    let tag = super::error::required("tag", &req.tag)?;
    super::error::required("revision", &req.revision)?;
    api.store.tx(|tx| {
        let fragment = writable(tx, who, &req.fragment_id)?;
        revs::set_tag(tx, &fragment.id, tag, &req.revision)?;
        Ok(SetFragmentTagResponse {
            tags: revs::tags(tx, &fragment.id)?,
        })
    })
}

pub fn delete_fragment_tag(
    api: &Api,
    who: &Principal,
    req: DeleteFragmentTagRequest,
) -> ApiResult<DeleteFragmentTagResponse> {
    let tag = super::error::required("tag", &req.tag)?;
    api.store.tx(|tx| {
        let fragment = writable(tx, who, &req.fragment_id)?;
        revs::delete_tag(tx, &fragment.id, tag)?;
        Ok(DeleteFragmentTagResponse {
            tags: revs::tags(tx, &fragment.id)?,
        })
    })
}

pub fn get_fragment_usage(
    api: &Api,
    who: &Principal,
    req: GetFragmentUsageRequest,
) -> ApiResult<GetFragmentUsageResponse> {
    if req.fragment_id.is_empty() {
        return Err(ApiError::invalid("fragment_id", "required"));
    }
    api.store.read(|c| {
        let fragment = load(c, &req.fragment_id)?;
        // Who uses a fragment is the owner's to know, even for a public one.
        who.require(
            Perm::ReadFragment,
            &Scope::stored_org(&fragment.organization_owner),
        )?;
        let (_, usage) = fragment_usage::with_usage(c, fragment)?;
        Ok(GetFragmentUsageResponse {
            version_usages: vec![usage],
        })
    })
}

/// The readable fragments among `ids` (nested imports included), each resolved at its
/// current revision or, for an additional fragment with a version, at that one.
fn resolve_all(
    c: &Connection,
    who: &Principal,
    roots: Vec<String>,
    additional: &[AdditionalFragment],
) -> ApiResult<(Vec<Fragment>, Vec<ResolvedFragment>)> {
    let mut roots = roots;
    for a in additional {
        if a.fragment_id.is_empty() {
            return Err(ApiError::invalid(
                "additional_fragments.fragment_id",
                "required",
            ));
        }
        // Asked for by id, so an unreadable one is refused rather than left out.
        require_readable(who, &load(c, &a.fragment_id)?)?;
        roots.push(a.fragment_id.clone());
    }
    let mut fragments = Vec::new();
    let mut resolved = Vec::new();
    for id in fragment_usage::closure(c, &roots)? {
        let current = load(c, &id)?;
        if require_readable(who, &current).is_err() {
            continue;
        }
        let version = additional
            .iter()
            .find(|a| a.fragment_id == id)
            .and_then(|a| a.version.as_deref())
            .filter(|v| !v.is_empty());
        let f = match version {
            Some(v) => revs::resolve(c, &id, v)?.ok_or_else(|| {
                ApiError::invalid(
                    "additional_fragments.version",
                    format!("fragment {id:?} has no revision or tag {v:?}"),
                )
            })?,
            None => current,
        };
        resolved.push(ResolvedFragment {
            fragment_id: f.id.clone(),
            resolved_config: f.fragment.clone(),
            error: None,
            revision: f.revision.clone(),
        });
        fragments.push(f);
    }
    Ok((fragments, resolved))
}

pub fn list_machine_fragments(
    api: &Api,
    who: &Principal,
    req: ListMachineFragmentsRequest,
) -> ApiResult<ListMachineFragmentsResponse> {
    let machine_id = super::error::required("machine_id", &req.machine_id)?;
    if let Some(i) = req
        .additional_fragment_ids
        .iter()
        .position(|f| f.is_empty())
    {
        return Err(ApiError::invalid(
            "additional_fragment_ids",
            format!("entry {i} is empty"),
        ));
    }
    api.store.read(|c| {
        who.require(Perm::ReadRobot, &Scope::robot(c, machine_id)?)?;
        let mut roots = fragment_usage::machine_imports(c, machine_id)?;
        for id in &req.additional_fragment_ids {
            // Asked for by id, so an unreadable one is refused rather than left out.
            require_readable(who, &load(c, id)?)?;
            roots.push(id.clone());
        }
        let (fragments, resolved_fragments) =
            resolve_all(c, who, roots, &req.additional_fragments)?;
        Ok(ListMachineFragmentsResponse {
            fragments,
            resolved_fragments,
        })
    })
}

pub fn list_nested_fragments(
    api: &Api,
    who: &Principal,
    req: ListNestedFragmentsRequest,
) -> ApiResult<ListNestedFragmentsResponse> {
    let id = req.fragment_id.as_deref().unwrap_or_default();
    if id.is_empty() {
        return Err(ApiError::invalid("fragment_id", "required"));
    }
    api.store.read(|c| {
        let root = load(c, id)?;
        require_readable(who, &root)?;
        let imports = root
            .fragment
            .as_ref()
            .map(super::structs::struct_to_json)
            .map(|j| super::robot_config::imported_fragments(&j))
            .unwrap_or_default();
        let (fragments, resolved_fragments) =
            resolve_all(c, who, imports, &req.additional_fragments)?;
        // The fragment itself is not nested in itself, even through a loop.
        let (fragments, resolved_fragments) = fragments
            .into_iter()
            .zip(resolved_fragments)
            .filter(|(f, _)| f.id != root.id)
            .unzip();
        Ok(ListNestedFragmentsResponse {
            fragments,
            resolved_fragments,
        })
    })
}
