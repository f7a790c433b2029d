//! Which configs import a fragment: a part's or fragment's config names the fragments it
//! imports in `fragments` (robot_config.rs reads them). GetFragmentUsage counts the machines
//! and organizations whose parts import one; ListMachineFragments and ListNestedFragments
//! follow the imports, nested fragments included.

use std::collections::HashSet;

use prost::Message;
use rusqlite::Connection;

use super::error::{ApiError, ApiResult};
use super::robot_config::imported_fragments;
use super::structs::struct_to_json;
use crate::proto::viam::app::v1::*;

/// Nested imports deeper than this are a loop or a mistake; the walk stops there.
const MAX_DEPTH: usize = 16;

fn decode(bytes: &[u8]) -> ApiResult<serde_json::Value> {
    let s = prost_types::Struct::decode(bytes)
        .map_err(|e| ApiError::Internal(format!("stored config is corrupt: {e}")))?;
    Ok(struct_to_json(&s))
}

/// The parts whose config imports `fragment_id`, as (robot id, org id), one per part.
pub fn parts_importing(c: &Connection, fragment_id: &str) -> ApiResult<Vec<(String, String)>> {
    // The id's bytes appear in the encoded config of every part importing it: a cheap filter
    // before decoding.
    let mut stmt = c.prepare_cached(
        "SELECT p.robot_id, l.org_id, p.config FROM parts p
         JOIN robots r ON r.id = p.robot_id JOIN locations l ON l.id = r.location_id
         WHERE instr(p.config, CAST(?1 AS BLOB)) > 0",
    )?;
    let rows = stmt
        .query_map([fragment_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Vec<u8>>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = Vec::new();
    for (robot, org, config) in rows {
        if imported_fragments(&decode(&config)?)
            .iter()
            .any(|i| i == fragment_id)
        {
            out.push((robot, org));
        }
    }
    Ok(out)
}

/// The usage of a fragment owned by `owner_org`, and how many parts import it.
pub fn usage(
    c: &Connection,
    fragment_id: &str,
    owner_org: &str,
) -> ApiResult<(FragmentUsage, usize)> {
    let parts = parts_importing(c, fragment_id)?;
    let machines: HashSet<(&str, &str)> = parts
        .iter()
        .map(|(r, o)| (r.as_str(), o.as_str()))
        .collect();
    let orgs: HashSet<&str> = machines.iter().map(|(_, o)| *o).collect();
    let usage = FragmentUsage {
        fragment_id: fragment_id.into(),
        organizations: orgs.len() as i32,
        machines: machines.len() as i32,
        machines_in_current_org: machines.iter().filter(|(_, o)| *o == owner_org).count() as i32,
        version: None,
    };
    Ok((usage, parts.len()))
}

/// The fragment with its usage counts filled in, and that usage.
pub fn with_usage(c: &Connection, mut f: Fragment) -> ApiResult<(Fragment, FragmentUsage)> {
    let (usage, parts) = usage(c, &f.id, &f.organization_owner)?;
    f.robot_part_count = parts as i32;
    f.organization_count = usage.organizations;
    f.only_used_by_owner =
        usage.organizations > 0 && usage.machines == usage.machines_in_current_org;
    Ok((f, usage))
}

/// The fragment ids a machine's parts import, in part order, once each.
pub fn machine_imports(c: &Connection, robot_id: &str) -> ApiResult<Vec<String>> {
    let mut stmt = c.prepare_cached(
        "SELECT config FROM parts WHERE robot_id = ?1 ORDER BY main_part DESC, created_on, id",
    )?;
    let configs = stmt
        .query_map([robot_id], |r| r.get::<_, Vec<u8>>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = Vec::new();
    for config in configs {
        for id in imported_fragments(&decode(&config)?) {
            if !out.contains(&id) {
                out.push(id);
            }
        }
    }
    Ok(out)
}

/// `roots` and every fragment they import, nested, once each in the order met; ids naming
/// no fragment are left out.
pub fn closure(c: &Connection, roots: &[String]) -> ApiResult<Vec<String>> {
    let mut seen: Vec<String> = Vec::new();
    let mut level: Vec<String> = roots.to_vec();
    for _ in 0..MAX_DEPTH {
        let mut next = Vec::new();
        for id in level {
            if seen.contains(&id) {
                continue;
            }
            let config: Option<Vec<u8>> =
                rusqlite::OptionalExtension::optional(super::store::row(
                    c,
                    "SELECT config FROM fragments WHERE id = ?1",
                    [&id],
                    |r| r.get(0),
                ))?;
            let Some(config) = config else { continue };
            next.extend(imported_fragments(&decode(&config)?));
            seen.push(id);
        }
        if next.is_empty() {
            break;
        }
        level = next;
    }
    Ok(seen)
}
