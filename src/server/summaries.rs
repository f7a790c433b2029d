//! ListMachineSummaries: an organization's machines grouped by location, each part with its
//! online state and what it last reported through RobotService (Config's agent_info: version,
//! OS, platform). A part that never reported has those fields unset, not guessed.

use std::collections::HashSet;

use rusqlite::Connection;

use super::Api;
use super::authz::{Perm, Principal, Scope};
use super::error::{ApiError, ApiResult};
use super::parts::dns_label;
use super::robot_config::{imported_fragments, stored_part_config};
use super::robots::online;
use super::store::{row, to_ts};
use crate::proto::viam::app::v1::*;

struct PartRow {
    location_id: String,
    location_name: String,
    robot_id: String,
    robot_name: String,
    part_id: String,
    part_name: String,
    main: bool,
    last_access: Option<i64>,
    version: Option<String>,
    os: Option<String>,
    platform: Option<String>,
    /// The stored config (a protobuf Struct), read in the same query: one query per part
    /// made ListMachineSummaries of 10,000 machines 10,000 queries.
    config: Vec<u8>,
}

/// An organization's parts in their listed order, of the locations in ?2 (a JSON array) when
/// it is not NULL: the rows of other locations are neither sorted nor read. The rowids after
/// each table's id make the order one SQLite can prove its indexes give (a text PRIMARY KEY
/// may hold NULLs, so `id` alone does not end the order): the join walks
/// locations_org_created, robots_location_created and parts_robot_order instead of sorting
/// every part.
const PARTS_IN_ORDER: &str =
    "SELECT l.id, l.name, r.id, r.name, p.id, p.name, p.main_part, p.last_access,
        pr.version, pr.os, pr.platform, p.config
     FROM locations l JOIN robots r ON r.location_id = l.id JOIN parts p ON p.robot_id = r.id
     LEFT JOIN part_reports pr ON pr.part_id = p.id
     WHERE l.org_id = ?1 AND (?2 IS NULL OR l.id IN (SELECT value FROM json_each(?2)))
     ORDER BY l.created_on, l.id, l.rowid, r.created_on, r.id, r.rowid,
         p.main_part DESC, p.created_on, p.id, p.rowid";

/// Calls `each` with the parts of the organization's machines in their listed order, of the
/// given locations only when some are given. Rows go to `each` as SQLite steps to them: a
/// Vec of 10,000 rows, grown by doubling and copied each time, was a tenth of the call.
fn for_each_part(
    c: &Connection,
    org_id: &str,
    locations: &[String],
    mut each: impl FnMut(PartRow) -> ApiResult<()>,
) -> ApiResult<()> {
    let mut stmt = c.prepare_cached(PARTS_IN_ORDER)?;
    let filter = (!locations.is_empty()).then(|| serde_json::json!(locations).to_string());
    let rows = stmt.query_map(rusqlite::params![org_id, filter], |r| {
        Ok(PartRow {
            location_id: r.get(0)?,
            location_name: r.get(1)?,
            robot_id: r.get(2)?,
            robot_name: r.get(3)?,
            part_id: r.get(4)?,
            part_name: r.get(5)?,
            main: r.get(6)?,
            last_access: r.get(7)?,
            version: r.get(8)?,
            os: r.get(9)?,
            platform: r.get(10)?,
            config: r.get(11)?,
        })
    })?;
    for row in rows {
        each(row?)?;
    }
    Ok(())
}

/// The fragments a part's config imports, with their names where the fragment exists.
fn fragment_summaries(c: &Connection, config: &[u8]) -> ApiResult<Vec<FragmentSummary>> {
    let mut out = Vec::new();
    for id in imported_fragments(&stored_part_config(config)?) {
        let name: Option<String> = rusqlite::OptionalExtension::optional(row(
            c,
            "SELECT name FROM fragments WHERE id = ?1",
            [&id],
            |r| r.get(0),
        ))?;
        out.push(FragmentSummary {
            id,
            name: name.unwrap_or_default(),
        });
    }
    Ok(out)
}

/// The part's summary, taking the strings it needs out of its row.
fn part_summary(c: &Connection, p: &mut PartRow) -> ApiResult<PartSummary> {
    let (state, seconds) = online(p.last_access);
    let non_empty = |s: &mut Option<String>| s.take().filter(|v| !v.is_empty());
    let dns_name = Some(dns_label(&p.part_name));
    Ok(PartSummary {
        part_id: std::mem::take(&mut p.part_id),
        part_name: std::mem::take(&mut p.part_name),
        is_main_part: p.main,
        online_state: state as i32,
        seconds_since_online: seconds,
        last_access: p.last_access.map(to_ts),
        // The local fleet sees a part only when it calls in, so it was online then.
        last_online: p.last_access.map(to_ts),
        viam_server_version: non_empty(&mut p.version).map(|v| ViamServerVersion {
            version: Some(viam_server_version::Version::Major(v)),
        }),
        // Nothing a part sends names its agent's version.
        viam_agent_version: None,
        os: non_empty(&mut p.os),
        platform: non_empty(&mut p.platform),
        public_ip_address: None,
        dns_name,
        fragments: fragment_summaries(c, &p.config)?,
    })
}

pub fn list_machine_summaries(
    api: &Api,
    who: &Principal,
    req: ListMachineSummariesRequest,
) -> ApiResult<ListMachineSummariesResponse> {
    if req.organization_id.is_empty() {
        return Err(ApiError::invalid("organization_id", "required"));
    }
    let limit = match req.limit {
        None | Some(0) => usize::MAX,
        Some(n) if n < 0 => return Err(ApiError::invalid("limit", "must not be negative")),
        Some(n) => n as usize,
    };
    let org_id = req.organization_id.as_str();
    api.store.read(|c| {
        let scope = Scope::organization(c, org_id)?;
        if !who.in_org(org_id) {
            return Err(ApiError::denied(format!("read_robot on {}", scope.what)));
        }
        for l in &req.location_ids {
            if Scope::location(c, l)?.org_id != org_id {
                return Err(ApiError::invalid(
                    "location_ids",
                    format!("location {l:?} belongs to another organization"),
                ));
            }
        }
        for f in &req.fragment_ids {
            let visible: bool = row(
                c,
                "SELECT EXISTS(SELECT 1 FROM fragments WHERE id = ?1 AND (org_id = ?2 OR visibility = ?3))",
                rusqlite::params![f, org_id, FragmentVisibility::Public as i32],
                |r| r.get(0),
            )?;
            if !visible {
                return Err(ApiError::invalid(
                    "fragment_ids",
                    format!("no fragment {f:?} in this organization nor public; list them with ListFragments"),
                ));
            }
        }
        let locations: HashSet<&str> = req.location_ids.iter().map(String::as_str).collect();
        let fragments: HashSet<&str> = req.fragment_ids.iter().map(String::as_str).collect();
        let whole = who.can(Perm::ReadRobot, &scope);
        let mut out: Vec<LocationSummary> = Vec::new();
        let mut robot_visible: Option<(String, bool)> = None;
        for_each_part(c, org_id, &req.location_ids, |mut p| {
            if !locations.is_empty() && !locations.contains(p.location_id.as_str()) {
                return Ok(());
            }
            let visible = match &robot_visible {
                Some((id, v)) if *id == p.robot_id => *v,
                _ => {
                    let v = whole || who.can(Perm::ReadRobot, &Scope::robot(c, &p.robot_id)?);
                    robot_visible = Some((p.robot_id.clone(), v));
                    v
                }
            };
            if !visible {
                return Ok(());
            }
            let part = part_summary(c, &mut p)?;
            let new_machine = out
                .last()
                .and_then(|l| l.machine_summaries.last())
                .is_none_or(|m| m.machine_id != p.robot_id);
            if new_machine {
                if out.last().is_none_or(|l| l.location_id != p.location_id) {
                    out.push(LocationSummary {
                        location_id: p.location_id,
                        location_name: p.location_name,
                        machine_summaries: vec![],
                    });
                }
                if let Some(l) = out.last_mut() {
                    l.machine_summaries.push(MachineSummary {
                        machine_id: p.robot_id,
                        machine_name: p.robot_name,
                        part_summaries: vec![],
                    });
                }
            }
            if let Some(m) = out.last_mut().and_then(|l| l.machine_summaries.last_mut()) {
                m.part_summaries.push(part);
            }
            Ok(())
        })?;
        if !fragments.is_empty() {
            // Only machines with a part importing one of the fragments.
            for l in &mut out {
                l.machine_summaries.retain(|m| {
                    m.part_summaries.iter().any(|p| {
                        p.fragments
                            .iter()
                            .any(|f| fragments.contains(f.id.as_str()))
                    })
                });
            }
            out.retain(|l| !l.machine_summaries.is_empty());
        }
        // At most `limit` machines, counted in the order listed.
        let mut left = limit;
        for l in &mut out {
            l.machine_summaries.truncate(left);
            left -= l.machine_summaries.len();
        }
        out.retain(|l| !l.machine_summaries.is_empty());
        Ok(ListMachineSummariesResponse {
            location_summaries: out,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::store::Store;

    #[test]
    fn parts_are_listed_off_indexes_without_sorting() {
        let store = Store::open_in_memory().unwrap();
        for filter in [None, Some(r#"["l"]"#)] {
            let plan = store
                .read(|c| {
                    let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {PARTS_IN_ORDER}"))?;
                    let rows =
                        stmt.query_map(rusqlite::params!["o", filter], |r| r.get::<_, String>(3))?;
                    Ok(rows.collect::<Result<Vec<_>, _>>()?.join("\n"))
                })
                .unwrap();
            assert!(
                !plan.contains("TEMP B-TREE"),
                "ListMachineSummaries sorts its rows (filter {filter:?}):\n{plan}"
            );
            assert!(plan.contains("parts_robot_order"), "{plan}");
        }
    }
}
