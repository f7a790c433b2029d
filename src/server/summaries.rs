//! ListMachineSummaries: an organization's machines grouped by location, each part with its
//! online state and what it last reported through RobotService (Config's agent_info: version,
//! OS, platform). A part that never reported has those fields unset, not guessed.

use std::collections::HashSet;
use std::ops::ControlFlow;

use rusqlite::Connection;

use super::Api;
use super::authz::{Perm, Principal, Scope};
use super::error::{ApiError, ApiResult};
use super::parts::write_dns_label;
use super::robot_config::{imported_fragments, stored_part_config};
use super::robots::online;
use super::store::{row, to_ts};
use super::summaries_encode::{ListMachineSummariesResponse, PartFields, SummariesWriter};
use crate::proto::viam::app::v1::*;

/// An organization's parts in their listed order, of the locations in ?2 (a JSON array) when
/// it is not NULL: the rows of other locations are neither sorted nor read. The rowids after
/// each table's id make the order one SQLite can prove its indexes give (a text PRIMARY KEY
/// may hold NULLs, so `id` alone does not end the order; a machine's `name` comes before its
/// rowid as in its index): the join walks locations_org_created, robots_location_created_name
/// (covering: no machine's row is read) and parts_robot_order instead of sorting every part.
/// The part's stored config (a protobuf Struct) comes in the same query: one query per part
/// made ListMachineSummaries of 10,000 machines 10,000 queries.
const PARTS_IN_ORDER: &str =
    "SELECT l.id, l.name, r.id, r.name, p.id, p.name, p.main_part, p.last_access,
        pr.version, pr.os, pr.platform, p.config
     FROM locations l JOIN robots r ON r.location_id = l.id JOIN parts p ON p.robot_id = r.id
     LEFT JOIN part_reports pr ON pr.part_id = p.id
     WHERE l.org_id = ?1 AND (?2 IS NULL OR l.id IN (SELECT value FROM json_each(?2)))
     ORDER BY l.created_on, l.id, l.rowid, r.created_on, r.id, r.name, r.rowid,
         p.main_part DESC, p.created_on, p.id, p.rowid";

/// Columns of PARTS_IN_ORDER.
const LOCATION_ID: usize = 0;
const LOCATION_NAME: usize = 1;
const ROBOT_ID: usize = 2;
const ROBOT_NAME: usize = 3;
const PART_ID: usize = 4;
const PART_NAME: usize = 5;
const MAIN_PART: usize = 6;
const LAST_ACCESS: usize = 7;
const VERSION: usize = 8;
const OS: usize = 9;
const PLATFORM: usize = 10;
const CONFIG: usize = 11;

/// Calls `each` with the rows of the organization's parts in their listed order, of the given
/// locations only when some are given, until it breaks. Rows go to `each` as SQLite steps to
/// them, borrowed: a Vec of 10,000 rows was a tenth of the call, and a location's or
/// machine's id and name copied into every part's row (12 Strings per part) a quarter.
fn for_each_part(
    c: &Connection,
    org_id: &str,
    locations: &[String],
    mut each: impl FnMut(&rusqlite::Row<'_>) -> ApiResult<ControlFlow<()>>,
) -> ApiResult<()> {
    let mut stmt = c.prepare_cached(PARTS_IN_ORDER)?;
    let filter = (!locations.is_empty()).then(|| serde_json::json!(locations).to_string());
    let mut rows = stmt.query(rusqlite::params![org_id, filter])?;
    while let Some(r) = rows.next()? {
        if each(r)?.is_break() {
            break;
        }
    }
    Ok(())
}

/// Text column `i` of `r`, borrowed (NULL is an error: the schema declares these NOT NULL).
fn text<'r>(r: &'r rusqlite::Row<'_>, i: usize) -> ApiResult<&'r str> {
    Ok(r.get_ref(i)?.as_str().map_err(rusqlite::Error::from)?)
}

/// The fragments a part's config imports, with their names where the fragment exists.
fn fragment_summaries(c: &Connection, config: &[u8]) -> ApiResult<Vec<FragmentSummary>> {
    // A Struct without the key `fragments` in its bytes imports none: most parts, whose
    // config need not be decoded then.
    if !config
        .windows(FRAGMENTS_KEY.len())
        .any(|w| w == FRAGMENTS_KEY)
    {
        return Ok(Vec::new());
    }
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

const FRAGMENTS_KEY: &[u8] = b"fragments";

/// Column `i` of `r` where a part reported it: NULL (no report) and "" are both unset.
fn reported<'r>(r: &'r rusqlite::Row<'_>, i: usize) -> ApiResult<Option<&'r str>> {
    Ok(r.get_ref(i)?
        .as_str_or_null()
        .map_err(rusqlite::Error::from)?
        .filter(|v| !v.is_empty()))
}

/// Writes the part of row `r` into `w`; whether it imports one of `wanted` (no fragment
/// wanted: true). `label` is scratch for its DNS name.
fn write_part(
    c: &Connection,
    r: &rusqlite::Row<'_>,
    wanted: &HashSet<&str>,
    label: &mut String,
    w: &mut SummariesWriter,
) -> ApiResult<bool> {
    let last_access: Option<i64> = r.get(LAST_ACCESS)?;
    let (state, seconds) = online(last_access);
    let part_name = text(r, PART_NAME)?;
    write_dns_label(part_name, label);
    let fragments = fragment_summaries(
        c,
        r.get_ref(CONFIG)?
            .as_blob()
            .map_err(rusqlite::Error::from)?,
    )?;
    w.part(&PartFields {
        part_id: text(r, PART_ID)?,
        part_name,
        is_main_part: r.get(MAIN_PART)?,
        online_state: state as i32,
        seconds_since_online: seconds,
        last_access: last_access.map(to_ts),
        // The local fleet sees a part only when it calls in, so it was online then.
        last_online: last_access.map(to_ts),
        viam_server_version: reported(r, VERSION)?,
        os: reported(r, OS)?,
        platform: reported(r, PLATFORM)?,
        dns_name: label,
        fragments: &fragments,
    });
    Ok(wanted.is_empty() || fragments.iter().any(|f| wanted.contains(f.id.as_str())))
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
        let wanted: HashSet<&str> = req.fragment_ids.iter().map(String::as_str).collect();
        let whole = who.can(Perm::ReadRobot, &scope);
        let mut w = SummariesWriter::default();
        let mut label = String::new();
        // The machine of the previous row, whether the caller may see it, and whether one of
        // its parts imports a wanted fragment: a machine's parts are consecutive, so its scope
        // is looked up once and it is kept or dropped when the next machine starts.
        let mut robot = String::new();
        let mut visible = false;
        let mut matches = false;
        // The location filter is the query's own (PARTS_IN_ORDER's ?2).
        for_each_part(c, org_id, &req.location_ids, |r| {
            let robot_id = text(r, ROBOT_ID)?;
            if robot != robot_id {
                w.close_machine(matches);
                // At most `limit` machines, counted in the order listed.
                if w.kept() == limit {
                    return Ok(ControlFlow::Break(()));
                }
                robot.clear();
                robot.push_str(robot_id);
                visible = whole || who.can(Perm::ReadRobot, &Scope::robot(c, robot_id)?);
                matches = false;
                if visible {
                    w.open_machine(
                        text(r, LOCATION_ID)?,
                        text(r, LOCATION_NAME)?,
                        robot_id,
                        text(r, ROBOT_NAME)?,
                    );
                }
            }
            if visible {
                matches |= write_part(c, r, &wanted, &mut label, &mut w)?;
            }
            Ok(ControlFlow::Continue(()))
        })?;
        w.close_machine(matches);
        Ok(w.finish())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::store::{Store, query_plan};

    #[test]
    fn parts_are_listed_off_indexes_without_sorting() {
        let store = Store::open_in_memory().unwrap();
        for filter in [None, Some(r#"["l"]"#)] {
            let plan = store
                .read(|c| {
                    Ok(query_plan(
                        c,
                        PARTS_IN_ORDER,
                        rusqlite::params!["o", filter],
                    )?)
                })
                .unwrap();
            assert!(
                !plan.contains("TEMP B-TREE"),
                "ListMachineSummaries sorts its rows (filter {filter:?}):\n{plan}"
            );
            assert!(plan.contains("parts_robot_order"), "{plan}");
            assert!(
                plan.contains("COVERING INDEX robots_location_created_name"),
                "machines are read off their index, not their rows:\n{plan}"
            );
        }
    }
}
