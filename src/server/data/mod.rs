//! Captured data (issue 12): what DataSyncService uploads store, and what DataService queries,
//! tags and deletes. Readings live in `data_readings`, binary data in `data_binary` with its
//! payload in a file under `<data_dir>/data/` named by the row's server-made id.
//!
//! Who sees what: a principal reads (or writes) the data of the organizations, locations (and
//! their sub-locations) and machines its grants cover with the data-management permissions; a
//! filter can only narrow that. Ids a filter names must exist and lie in an organization where
//! the principal holds a grant, so another organization's ids are refused rather than answered
//! with an empty list.

// Upstream deprecates fields (file_id, binary_ids, BinaryID) that the SDK still sends and reads.
#![allow(deprecated)]

mod binary;
mod database;
mod datasets;
mod docs;
mod filter;
mod mql;
mod sequences;
pub(super) mod service;
mod sql;
mod tabular;
mod upload;
// Saved queries, custom indexes, signed URLs (and their HTTP answer).
mod indexes;
mod saved_queries;
pub(super) mod signed_urls;
// Sequence dataset exports, served by signed URLs; a deleted
// organization's archives go with it.
mod sequence_exports;
pub(super) use sequence_exports::remove_orphans as remove_export_orphans;

// What a data pipeline's runs use (src/server/data_pipelines.rs).
pub(super) use docs::{date as bson_date, encode as bson_encode};
pub(super) use mql::{check_stages, parse_stages, run_window};

// Training jobs name a dataset, checked where datasets live.
pub(crate) use datasets::check_training as check_training_dataset;

use std::path::PathBuf;

use rusqlite::Connection;
use rusqlite::types::Value as Sql;

use super::Api;
use super::authz::{Perm, Principal, ResourceType};
use super::error::{ApiError, ApiResult};
use super::store::row;

/// `name`, trimmed and required; ALREADY_EXISTS when another row of `table` (one with `id`,
/// `org_id` and `name` columns) in the organization has it. `what` names the kind ("a dataset")
/// and `instead` says what to do.
fn unique_name<'a>(
    c: &Connection,
    (table, what, instead): (&str, &str, &str),
    org_id: &str,
    name: &'a str,
    except: Option<&str>,
) -> ApiResult<&'a str> {
    use rusqlite::OptionalExtension;
    let name = super::error::required("name", name)?;
    let taken: Option<String> = c
        .prepare_cached(&format!(
            "SELECT id FROM {table} WHERE org_id = ?1 AND name = ?2"
        ))?
        .query_row([org_id, name], |r| r.get(0))
        .optional()?;
    match taken {
        Some(id) if Some(id.as_str()) != except => Err(ApiError::AlreadyExists(format!(
            "name: organization {org_id:?} already has {what} named {name:?} ({id}); \
             choose another name or {instead}"
        ))),
        _ => Ok(name),
    }
}

/// The directory of binary payloads.
fn binary_dir(api: &Api) -> PathBuf {
    api.data_dir.join("data").join("binary")
}

/// The file of one binary payload. `id` is always one the server made (`store::new_id`), never
/// a name from a request; `checked_id` refuses anything else before it reaches a path.
fn binary_path(api: &Api, id: &str) -> ApiResult<PathBuf> {
    Ok(binary_dir(api).join(checked_id(id)?))
}

/// Removes the payload files of binary data whose rows are gone (a deleted organization's, whose
/// rows its cascade removed): call after the deletion committed, so a rollback keeps them.
pub(in crate::server) fn remove_payloads(api: &Api, ids: &[String]) {
    for id in ids {
        if let Ok(p) = binary_path(api, id) {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// A binary data id as the server makes them: a UUID. Anything else (`../x`, a path, a name)
/// names no binary data.
fn checked_id(id: &str) -> ApiResult<&str> {
    match uuid::Uuid::parse_str(id) {
        Ok(u) if u.hyphenated().to_string() == id => Ok(id),
        _ => Err(ApiError::not_found("binary data", id)),
    }
}

/// The organizations, locations (with their sub-locations) and machines whose data a
/// principal may touch with `perm`, as SQL over the columns `org_id`, `location_id` and
/// `robot_id` of a data table.
#[derive(Debug, Default, Clone)]
pub(super) struct Access {
    /// The organizations of the grants that allow the permission.
    grant_orgs: Vec<String>,
    orgs: Vec<String>,
    locations: Vec<String>,
    robots: Vec<String>,
}

impl Access {
    pub fn of(c: &Connection, who: &Principal, perm: Perm) -> ApiResult<Self> {
        let mut a = Self::default();
        for g in &who.grants {
            if !perm.granted_to(g.role) {
                continue;
            }
            a.grant_orgs.push(g.org_id.clone());
            match g.resource_type {
                ResourceType::Organization => a.orgs.push(g.resource_id.clone()),
                ResourceType::Robot => a.robots.push(g.resource_id.clone()),
                ResourceType::Location => {
                    let mut stmt = c.prepare_cached(
                        "WITH RECURSIVE down(id) AS (
                             SELECT id FROM locations WHERE id = ?1 AND org_id = ?2
                             UNION SELECT l.id FROM locations l JOIN down ON l.parent_id = down.id)
                         SELECT id FROM down",
                    )?;
                    let ids = stmt.query_map([&g.resource_id, &g.org_id], |r| r.get(0))?;
                    for id in ids {
                        a.locations.push(id?);
                    }
                }
            }
        }
        Ok(a)
    }

    /// Refuses a caller whose grants cover no data at all with `perm` (an operator asking to
    /// write, a part asking to read): an empty answer would hide that nothing is allowed.
    pub fn require_some(self, perm: Perm, what: &str) -> ApiResult<Self> {
        if self.orgs.is_empty() && self.locations.is_empty() && self.robots.is_empty() {
            return Err(ApiError::denied(format!("{perm} on {what}")));
        }
        Ok(self)
    }

    /// Refuses a caller with no grant allowing the permission in `org_id` (a grant elsewhere,
    /// say on an organization it made, does not count).
    pub fn require_in(&self, perm: Perm, org_id: &str, what: &str) -> ApiResult<()> {
        if self.grant_orgs.iter().any(|o| o == org_id) {
            Ok(())
        } else {
            Err(ApiError::denied(format!("{perm} on {what}")))
        }
    }

    /// True when a stored row of (org, location, robot) is covered.
    pub fn covers(&self, org: &str, location: &str, robot: &str) -> bool {
        self.orgs.iter().any(|o| o == org)
            || self.locations.iter().any(|l| l == location)
            || self.robots.iter().any(|r| r == robot)
    }

    /// The condition, with its three parameters (JSON arrays of ids).
    fn condition(&self) -> (&'static str, [Sql; 3]) {
        let list = |v: &Vec<String>| Sql::Text(serde_json::to_string(v).unwrap_or_default());
        (
            "(org_id IN (SELECT value FROM json_each(?)) \
              OR location_id IN (SELECT value FROM json_each(?)) \
              OR robot_id IN (SELECT value FROM json_each(?)))",
            [list(&self.orgs), list(&self.locations), list(&self.robots)],
        )
    }
}

/// A WHERE clause under construction: conditions joined by AND, `?` parameters in order.
#[derive(Debug, Default)]
pub(super) struct Where {
    conds: Vec<String>,
    pub params: Vec<Sql>,
}

impl Where {
    pub fn new(access: &Access) -> Self {
        let mut w = Self::default();
        let (cond, params) = access.condition();
        w.conds.push(cond.into());
        w.params.extend(params);
        w
    }

    pub fn push(&mut self, cond: &str, params: impl IntoIterator<Item = Sql>) {
        self.conds.push(cond.into());
        self.params.extend(params);
    }

    pub fn eq(&mut self, column: &str, v: &str) {
        if !v.is_empty() {
            self.push(&format!("{column} = ?"), [Sql::Text(v.into())]);
        }
    }

    /// `column IN (values)`, when any are given.
    pub fn any_of(&mut self, column: &str, values: &[String]) {
        if !values.is_empty() {
            self.push(
                &format!("{column} IN (SELECT value FROM json_each(?))"),
                [json_list(values)],
            );
        }
    }

    pub fn sql(&self) -> String {
        self.conds.join(" AND ")
    }
}

fn json_list(values: &[String]) -> Sql {
    Sql::Text(serde_json::to_string(values).unwrap_or_default())
}

/// Tags as stored (a JSON array), sorted and without repeats.
fn tags_json(tags: &[String]) -> String {
    let mut t: Vec<&str> = tags.iter().map(String::as_str).collect();
    t.sort_unstable();
    t.dedup();
    serde_json::to_string(&t).unwrap_or_else(|_| "[]".into())
}

fn parse_tags(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

/// The machine and names behind a part, as captured data records them.
#[derive(Debug, Clone)]
pub(super) struct Source {
    pub org_id: String,
    pub location_id: String,
    pub robot_id: String,
    pub robot_name: String,
    pub part_id: String,
    pub part_name: String,
}

impl Source {
    pub fn of_part(c: &Connection, part_id: &str) -> ApiResult<Self> {
        row(
            c,
            "SELECT l.org_id, r.location_id, r.id, r.name, p.id, p.name
             FROM parts p JOIN robots r ON r.id = p.robot_id JOIN locations l ON l.id = r.location_id
             WHERE p.id = ?1",
            [part_id],
            |r| {
                Ok(Self {
                    org_id: r.get(0)?,
                    location_id: r.get(1)?,
                    robot_id: r.get(2)?,
                    robot_name: r.get(3)?,
                    part_id: r.get(4)?,
                    part_name: r.get(5)?,
                })
            },
        )
        .map_err(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => ApiError::not_found("robot part", part_id),
            e => e.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_server_made_ids_become_file_names() {
        let id = crate::server::store::new_id();
        assert_eq!(checked_id(&id).unwrap(), id);
        for bad in [
            "../x",
            "..",
            "a/b",
            "/etc/passwd",
            "",
            &id.to_uppercase(),
            &format!("{id}/.."),
        ] {
            assert_eq!(
                checked_id(bad).unwrap_err().code(),
                tonic::Code::NotFound,
                "{bad:?}"
            );
        }
    }
}
