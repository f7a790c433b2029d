//! Favorite machines: each caller (API key or part) keeps its own list. Upstream keeps them per
//! user; the local fleet's callers are keys, so the key's id stands for the user.

use rusqlite::params;

use super::Api;
use super::authz::{Perm, Principal, Scope};
use super::error::{ApiResult, required};
use super::robots;
use super::store::{exec, now, to_ts};
use crate::proto::viam::app::v1::*;

pub fn add_favorite_machine(
    api: &Api,
    who: &Principal,
    req: AddFavoriteMachineRequest,
) -> ApiResult<AddFavoriteMachineResponse> {
    let machine_id = required("machine_id", &req.machine_id)?;
    api.store.tx(|tx| {
        who.require(Perm::ReadRobot, &Scope::robot(tx, machine_id)?)?;
        // Adding a favorite twice keeps the first time it was added.
        exec(
            tx,
            "INSERT OR IGNORE INTO favorite_machines(principal_id, robot_id, created_on)
             VALUES (?1, ?2, ?3)",
            params![who.id(), machine_id, now()],
        )?;
        Ok(AddFavoriteMachineResponse {})
    })
}

pub fn remove_favorite_machine(
    api: &Api,
    who: &Principal,
    req: RemoveFavoriteMachineRequest,
) -> ApiResult<RemoveFavoriteMachineResponse> {
    let machine_id = required("machine_id", &req.machine_id)?;
    api.store.tx(|tx| {
        who.require(Perm::ReadRobot, &Scope::robot(tx, machine_id)?)?;
        // Removing one that is not a favorite is done already: nothing to report.
        exec(
            tx,
            "DELETE FROM favorite_machines WHERE principal_id = ?1 AND robot_id = ?2",
            params![who.id(), machine_id],
        )?;
        Ok(RemoveFavoriteMachineResponse {})
    })
}

pub fn list_favorite_machines(
    api: &Api,
    who: &Principal,
    _req: ListFavoriteMachinesRequest,
) -> ApiResult<ListFavoriteMachinesResponse> {
    api.store.read(|c| {
        let mut stmt = c.prepare_cached(
            "SELECT f.robot_id, f.created_on FROM favorite_machines f
             WHERE f.principal_id = ?1 ORDER BY f.created_on, f.robot_id",
        )?;
        let rows = stmt
            .query_map([who.id()], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut favorites = Vec::new();
        for (robot_id, created_on) in rows {
            let scope = Scope::robot(c, &robot_id)?;
            // A favorite whose grant was taken away since is not shown.
            if who.can(Perm::ReadRobot, &scope) {
                favorites.push(FavoriteMachine {
                    machine: Some(robots::load(c, &robot_id)?),
                    organization_id: scope.org_id,
                    created_on: Some(to_ts(created_on)),
                });
            }
        }
        Ok(ListFavoriteMachinesResponse { favorites })
    })
}
