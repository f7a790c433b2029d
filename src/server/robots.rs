//! Machines (robots). Each has one main part from birth; parts live in parts.rs.

use rusqlite::{Connection, OptionalExtension, params};

use super::Api;
use super::authz::{Perm, Principal, Scope};
use super::error::{ApiError, ApiResult, required};
use super::parts;
use super::store::{exec, found, new_id, now, row, to_ts};
use crate::proto::viam::app::v1::*;

/// Machines count as online when a part was seen within this many seconds.
const ONLINE_WINDOW_SECS: i64 = 60;

/// Online state and seconds since last seen, for machines and parts.
pub fn online(last_access: Option<i64>) -> (OnlineState, i64) {
    match last_access {
        None => (OnlineState::AwaitingSetup, 0),
        Some(t) => {
            let secs = (now() - t) / 1_000_000_000;
            (
                if secs <= ONLINE_WINDOW_SECS {
                    OnlineState::Online
                } else {
                    OnlineState::Offline
                },
                secs,
            )
        }
    }
}

/// The name of the location whose machines GetRoverRentalRobots reports: the local fleet has
/// no rental program, so operators mark rental rovers by keeping them there.
pub const ROVER_RENTAL_LOCATION: &str = "Rover Rentals";

fn robot_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Robot> {
    robot_in(r.get(2)?, r)
}

/// A machine of `robot_columns!()`'s row, at a location the caller already holds: a list of
/// one location selects `located_robot_columns!()` and reads no location column per row.
fn robot_in(location: String, r: &rusqlite::Row<'_>) -> rusqlite::Result<Robot> {
    let last_access: Option<i64> = r.get(3)?;
    let (online_state, seconds) = online(last_access);
    Ok(Robot {
        id: r.get(0)?,
        name: r.get(1)?,
        location,
        last_access: last_access.map(to_ts),
        created_on: Some(to_ts(r.get(4)?)),
        online_state: online_state as i32,
        seconds_since_online: seconds,
    })
}

/// The columns `robot_from_row` reads, as a literal for `concat!`: hot queries stay constant
/// strings instead of being formatted per call.
macro_rules! robot_columns {
    () => {
        "r.id, r.name, r.location_id, r.last_access, r.created_on"
    };
}

/// `robot_columns!()` without the table's alias, for RETURNING (which takes none).
macro_rules! robot_columns_unqualified {
    () => {
        "id, name, location_id, last_access, created_on"
    };
}

/// `robot_columns!()` with a constant in the location's place, for `robot_in`.
macro_rules! located_robot_columns {
    () => {
        "r.id, r.name, NULL, r.last_access, r.created_on"
    };
}

pub fn load(c: &Connection, id: &str) -> ApiResult<Robot> {
    found(
        row(
            c,
            concat!(
                "SELECT ",
                robot_columns!(),
                " FROM robots r WHERE r.id = ?1"
            ),
            [id],
            robot_from_row,
        ),
        "robot",
        id,
    )
}

/// Another machine of the location with the name. It must seek robots_location_name: the
/// listed-order index covers this query too, and without statistics the planner took a
/// covering index over a seek, scanning the location's machines on every new_robot and
/// update_robot.
const NAME_CLASH: &str = "SELECT id FROM robots INDEXED BY robots_location_name
     WHERE location_id = ?1 AND name = ?2 AND id != ?3";

fn ensure_unique_name(
    c: &Connection,
    location_id: &str,
    name: &str,
    except: &str,
) -> ApiResult<()> {
    let clash = row(c, NAME_CLASH, params![location_id, name, except], |r| {
        r.get::<_, String>(0)
    })
    .optional()?;
    match clash {
        Some(other) => Err(ApiError::AlreadyExists(format!(
            "a machine named {name:?} already exists in location {location_id:?} (id {other:?})"
        ))),
        None => Ok(()),
    }
}

/// The hottest read: the machine and its location's row (for its scope) in one query.
pub fn get_robot(api: &Api, who: &Principal, req: GetRobotRequest) -> ApiResult<GetRobotResponse> {
    let id = required("id", &req.id)?;
    // A machine at a top-level location is one statement (its scope needs no more); one in a
    // sub-location needs its location's ancestors too, read in the same snapshot.
    let top_level = api.store.read_one_statement(|c| {
        let (robot, location) = robot_and_location(c, id)?;
        if location.2.is_some() {
            return Ok(None);
        }
        Ok(Some((robot, Scope::robot_at(c, id, location)?)))
    })?;
    let (robot, scope) = match top_level {
        Some(found) => found,
        None => api.store.read(|c| {
            let (robot, location) = robot_and_location(c, id)?;
            Ok((robot, Scope::robot_at(c, id, location)?))
        })?,
    };
    who.require(Perm::ReadRobot, &scope)?;
    Ok(GetRobotResponse { robot: Some(robot) })
}

/// A location's id, organization and parent.
type LocationRow = (String, String, Option<String>);

/// Machine `id` and its location's row, in one query.
fn robot_and_location(c: &Connection, id: &str) -> ApiResult<(Robot, LocationRow)> {
    found(
        row(
            c,
            concat!(
                "SELECT ",
                robot_columns!(),
                ", l.org_id, l.parent_id FROM robots r
                 JOIN locations l ON l.id = r.location_id WHERE r.id = ?1"
            ),
            [id],
            |r| {
                let robot = robot_from_row(r)?;
                let location = (robot.location.clone(), r.get(5)?, r.get(6)?);
                Ok((robot, location))
            },
        ),
        "robot",
        id,
    )
}

pub fn get_rover_rental_robots(
    api: &Api,
    who: &Principal,
    req: GetRoverRentalRobotsRequest,
) -> ApiResult<GetRoverRentalRobotsResponse> {
    if req.org_id.is_empty() {
        return Err(ApiError::invalid("org_id", "required"));
    }
    api.store.read(|c| {
        who.require(
            Perm::ReadOrganization,
            &Scope::organization(c, &req.org_id)?,
        )?;
        let mut stmt = c.prepare_cached(
            "SELECT r.id, r.location_id, r.name, COALESCE(p.id, '') FROM robots r
             JOIN locations l ON l.id = r.location_id
             LEFT JOIN parts p ON p.robot_id = r.id AND p.main_part = 1
             WHERE l.org_id = ?1 AND l.name = ?2 COLLATE NOCASE ORDER BY r.created_on, r.id",
        )?;
        let robots = stmt
            .query_map(params![req.org_id, ROVER_RENTAL_LOCATION], |r| {
                Ok(RoverRentalRobot {
                    robot_id: r.get(0)?,
                    location_id: r.get(1)?,
                    robot_name: r.get(2)?,
                    robot_main_part_id: r.get(3)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(GetRoverRentalRobotsResponse { robots })
    })
}

/// A location's machines in their listed order, off robots_location_created_name's prefix.
const IN_LOCATION: &str = concat!(
    "SELECT ",
    located_robot_columns!(),
    " FROM robots r WHERE r.location_id = ?1 ORDER BY r.created_on, r.id"
);

/// The machines of one location that `who` may read: all of them with a grant on the location,
/// else those its machine grants name; PERMISSION_DENIED when `who` has nothing there.
fn robots_in_location(c: &Connection, who: &Principal, location_id: &str) -> ApiResult<Vec<Robot>> {
    let scope = Scope::location(c, location_id)?;
    let whole = who.can(Perm::ReadRobot, &scope) || who.can(Perm::ReadLocation, &scope);
    let mut stmt = c.prepare_cached(IN_LOCATION)?;
    let all = stmt.query_map([location_id], |r| robot_in(location_id.to_string(), r))?;
    let mut robots = Vec::new();
    for robot in all {
        let robot = robot?;
        // A robot-scoped key sees only its own machines in the location.
        let visible = whole || {
            let s = Scope {
                robot_id: Some(robot.id.clone()),
                ..scope.clone()
            };
            who.can(Perm::ReadRobot, &s)
        };
        if visible {
            robots.push(robot);
        }
    }
    if robots.is_empty() && !whole && !who.in_org(&scope.org_id) {
        return Err(ApiError::denied(format!(
            "read_robot on location {location_id:?}"
        )));
    }
    Ok(robots)
}

pub fn list_robots(
    api: &Api,
    who: &Principal,
    req: ListRobotsRequest,
) -> ApiResult<ListRobotsResponse> {
    let location_id = required("location_id", &req.location_id)?;
    api.store.read(|c| {
        Ok(ListRobotsResponse {
            robots: robots_in_location(c, who, location_id)?,
        })
    })
}

pub fn list_robots_for_locations(
    api: &Api,
    who: &Principal,
    req: ListRobotsForLocationsRequest,
) -> ApiResult<ListRobotsForLocationsResponse> {
    if req.location_ids.is_empty() {
        return Err(ApiError::invalid(
            "location_ids",
            "required: name at least one location",
        ));
    }
    if let Some(i) = req.location_ids.iter().position(|l| l.trim().is_empty()) {
        return Err(ApiError::invalid(
            "location_ids",
            format!("entry {i} is empty; give location ids"),
        ));
    }
    api.store.read(|c| {
        let mut robots = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for location_id in &req.location_ids {
            // A location named twice lists its machines once.
            if seen.insert(location_id.as_str()) {
                robots.extend(robots_in_location(c, who, location_id)?);
            }
        }
        Ok(ListRobotsForLocationsResponse { robots })
    })
}

pub fn list_robots_for_org(
    api: &Api,
    who: &Principal,
    req: ListRobotsForOrgRequest,
) -> ApiResult<ListRobotsForOrgResponse> {
    let org_id = required("org_id", &req.org_id)?;
    api.store.read(|c| {
        let scope = Scope::organization(c, org_id)?;
        if !who.in_org(org_id) {
            return Err(ApiError::denied(format!("read_robot on {}", scope.what)));
        }
        let whole = who.can(Perm::ReadRobot, &scope);
        let mut stmt = c.prepare_cached(concat!(
            "SELECT ",
            robot_columns!(),
            " FROM robots r JOIN locations l ON l.id = r.location_id
             WHERE l.org_id = ?1 ORDER BY r.created_on, r.id"
        ))?;
        let all = stmt
            .query_map([org_id], robot_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        let mut robots = Vec::new();
        for robot in all {
            // Location and machine keys see the machines their grants cover.
            if whole || who.can(Perm::ReadRobot, &Scope::robot(c, &robot.id)?) {
                robots.push(robot);
            }
        }
        Ok(ListRobotsForOrgResponse { robots })
    })
}

pub fn new_robot(api: &Api, who: &Principal, req: NewRobotRequest) -> ApiResult<NewRobotResponse> {
    let name = required("name", &req.name)?;
    let location_id = required("location", &req.location)?;
    api.store.tx(|tx| {
        who.require(Perm::WriteLocation, &Scope::location(tx, location_id)?)?;
        ensure_unique_name(tx, location_id, name, "")?;
        let id = new_id();
        exec(
            tx,
            "INSERT INTO robots(id, location_id, name, created_on) VALUES (?1, ?2, ?3, ?4)",
            params![id, location_id, name, now()],
        )?;
        parts::insert_part(tx, &id, &format!("{name}-main"), true)?;
        Ok(NewRobotResponse { id })
    })
}

pub fn update_robot(
    api: &Api,
    who: &Principal,
    req: UpdateRobotRequest,
) -> ApiResult<UpdateRobotResponse> {
    let id = required("id", &req.id)?;
    let name = required("name", &req.name)?;
    // The guide: update_robot without a location, from a client that has none, is an error
    // (the SDK sends "" then); the machine's own location is given to keep it in place.
    let target = required("location", req.location.trim())?;
    api.store.tx(|tx| {
        let scope = Scope::robot(tx, id)?;
        who.require(Perm::WriteRobot, &scope)?;
        let to = Scope::location(tx, target)?;
        if to.org_id != scope.org_id {
            return Err(ApiError::invalid(
                "location",
                "belongs to another organization",
            ));
        }
        // Staying in place asks nothing of the location; moving asks to write the new one.
        if scope.locations.first().map(String::as_str) != Some(target) {
            who.require(Perm::WriteLocation, &to)?;
        }
        let location_id = target.to_string();
        ensure_unique_name(tx, &location_id, name, id)?;
        // The machine as updated comes back from the UPDATE itself: one statement less.
        let robot = found(
            row(
                tx,
                concat!(
                    "UPDATE robots SET name = ?2, location_id = ?3 WHERE id = ?1 RETURNING ",
                    robot_columns_unqualified!()
                ),
                params![id, name, location_id],
                robot_from_row,
            ),
            "robot",
            id,
        )?;
        Ok(UpdateRobotResponse { robot: Some(robot) })
    })
}

pub fn delete_robot(
    api: &Api,
    who: &Principal,
    req: DeleteRobotRequest,
) -> ApiResult<DeleteRobotResponse> {
    let id = required("id", &req.id)?;
    api.store.tx(|tx| {
        who.require(Perm::WriteRobot, &Scope::robot(tx, id)?)?;
        exec(
            tx,
            "DELETE FROM logs WHERE part_id IN (SELECT id FROM parts WHERE robot_id = ?1)",
            [id],
        )?;
        exec(
            tx,
            "DELETE FROM authorizations WHERE resource_type = 'robot' AND resource_id = ?1",
            [id],
        )?;
        exec(tx, "DELETE FROM robots WHERE id = ?1", [id])?;
        Ok(DeleteRobotResponse {})
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::store::{Store, query_plan};

    fn plan(sql: &str, params: impl rusqlite::Params) -> String {
        let store = Store::open_in_memory().unwrap();
        store.read(|c| Ok(query_plan(c, sql, params)?)).unwrap()
    }

    #[test]
    fn the_name_check_seeks_by_location_and_name() {
        let plan = plan(NAME_CLASH, params!["l", "n", "r"]);
        assert!(
            plan.contains("robots_location_name (location_id=? AND name=?)"),
            "{plan}"
        );
    }

    #[test]
    fn a_location_is_listed_off_its_index_without_sorting() {
        let plan = plan(IN_LOCATION, params!["l"]);
        assert!(
            plan.contains("robots_location_created_name (location_id=?)"),
            "{plan}"
        );
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    }
}
