//! Machine parts: their config (a google.protobuf.Struct kept as encoded bytes so it
//! round-trips exactly), edit history, main-part rule, restart flag and secrets.

use prost::Message;
use rusqlite::{Connection, OptionalExtension, params};

use super::Api;
use super::authz::{Identity, Perm, Principal, Scope};
use super::error::{ApiError, ApiResult, required};
use super::robots::online;
use super::store::{Tx, exec, found, from_ts, new_id, new_secret, now, row, to_ts};
use super::structs::{json_to_struct, struct_to_json};
use crate::proto::viam::app::v1::*;

/// Domain suffix of the names the local fleet reports; nothing resolves them.
const DOMAIN: &str = "local.fleetsh";

const HISTORY_PAGE_DEFAULT: i64 = 100;
const HISTORY_PAGE_MAX: i64 = 1000;

/// The part's scope after checking `perm` on it.
fn authorize(c: &Connection, who: &Principal, perm: Perm, part_id: &str) -> ApiResult<Scope> {
    let scope = Scope::part(c, part_id)?;
    who.require(perm, &scope)?;
    Ok(scope)
}

/// A DNS label from a part name: lower-case alphanumerics and dashes.
pub fn dns_label(name: &str) -> String {
    let mut label = String::with_capacity(name.len());
    write_dns_label(name, &mut label);
    label
}

/// [`dns_label`] into `out`, replacing what it held: a listing of thousands of parts reuses
/// one String.
pub fn write_dns_label(name: &str, out: &mut String) {
    out.clear();
    // What maps to '-' is exactly what is not an ASCII alphanumeric, so trimming those from
    // the name first trims the label's leading and trailing dashes.
    let kept = name.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    out.extend(kept.chars().map(|c| {
        if c.is_ascii_alphanumeric() {
            c.to_ascii_lowercase()
        } else {
            '-'
        }
    }));
}

fn decode_struct(bytes: &[u8]) -> ApiResult<prost_types::Struct> {
    prost_types::Struct::decode(bytes)
        .map_err(|e| ApiError::Internal(format!("stored config is corrupt: {e}")))
}

fn part_secrets(c: &Connection, part_id: &str) -> ApiResult<Vec<SharedSecret>> {
    let mut stmt =
        c.prepare_cached("SELECT id, secret, created_on FROM part_secrets WHERE part_id = ?1 ORDER BY created_on, id")?;
    let secrets = stmt
        .query_map([part_id], |r| {
            Ok(SharedSecret {
                id: r.get(0)?,
                secret: r.get(1)?,
                created_on: Some(to_ts(r.get(2)?)),
                state: shared_secret::State::Enabled as i32,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(secrets)
}

/// The part without its secrets: what history stores and what callers without
/// `read_robot_secret` see.
pub(super) fn load_public(c: &Connection, id: &str) -> ApiResult<RobotPart> {
    type Row = (
        String,
        String,
        bool,
        Vec<u8>,
        Option<String>,
        Option<Vec<u8>>,
        i64,
        i64,
        Option<i64>,
        String,
    );
    let (
        name,
        robot,
        main_part,
        config,
        config_json,
        info,
        created,
        updated,
        last_access,
        location_id,
    ): Row = found(
        row(
            c,
            "SELECT p.name, p.robot_id, p.main_part, p.config, p.config_json, p.user_supplied_info,
                    p.created_on, p.last_updated, p.last_access, r.location_id
             FROM parts p JOIN robots r ON r.id = p.robot_id WHERE p.id = ?1",
            [id],
            |r| r.try_into(),
        ),
        "robot part",
        id,
    )?;
    let (state, seconds) = online(last_access);
    let label = dns_label(&name);
    Ok(RobotPart {
        id: id.into(),
        robot_config: Some(decode_struct(&config)?),
        robot_config_json: config_json,
        user_supplied_info: info.as_deref().map(decode_struct).transpose()?,
        last_access: last_access.map(to_ts),
        main_part,
        fqdn: format!("{label}.{location_id}.{DOMAIN}"),
        local_fqdn: format!("{label}.{location_id}.local"),
        dns_name: label,
        name,
        robot,
        location_id,
        created_on: Some(to_ts(created)),
        last_updated: Some(to_ts(updated)),
        online_state: state as i32,
        seconds_since_online: seconds,
        ..RobotPart::default()
    })
}

/// The part as `who` may see it: secrets only with `read_robot_secret`.
pub fn load_part(c: &Connection, who: &Principal, id: &str) -> ApiResult<RobotPart> {
    let mut part = load_public(c, id)?;
    if who.can(Perm::ReadRobotSecret, &Scope::part(c, id)?) {
        part.secrets = part_secrets(c, id)?;
        part.secret = part
            .secrets
            .first()
            .map(|s| s.secret.clone())
            .unwrap_or_default();
    }
    Ok(part)
}

pub fn get_robot_part_by_name_and_location(
    api: &Api,
    who: &Principal,
    req: GetRobotPartByNameAndLocationRequest,
) -> ApiResult<GetRobotPartByNameAndLocationResponse> {
    let name = required("name", &req.name)?;
    let location_id = required("location_id", &req.location_id)?;
    api.store.read(|c| {
        let scope = Scope::location(c, location_id)?;
        let mut stmt = c.prepare_cached(
            "SELECT p.id FROM parts p JOIN robots r ON r.id = p.robot_id
             WHERE r.location_id = ?1 AND p.name = ?2 ORDER BY p.created_on, p.id",
        )?;
        let ids: Vec<String> = stmt
            .query_map(params![location_id, name], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        // Only parts the caller may read count, so the answer never reveals hidden machines.
        let mut readable = Vec::new();
        for id in ids {
            if who.can(Perm::ReadRobot, &Scope::part(c, &id)?) {
                readable.push(id);
            }
        }
        match readable.as_slice() {
            [id] => Ok(GetRobotPartByNameAndLocationResponse {
                part: Some(load_part(c, who, id)?),
            }),
            [] if !who.in_org(&scope.org_id) => Err(ApiError::denied(format!(
                "read_robot on location {location_id:?}"
            ))),
            [] => Err(ApiError::NotFound(format!(
                "no robot part named {name:?} in location {location_id:?}; list the machines with ListRobots"
            ))),
            several => Err(ApiError::FailedPrecondition(format!(
                "{} parts are named {name:?} in location {location_id:?} (ids {several:?}); use GetRobotPart with an id",
                several.len()
            ))),
        }
    })
}

pub fn needs_restart(
    api: &Api,
    who: &Principal,
    req: NeedsRestartRequest,
) -> ApiResult<NeedsRestartResponse> {
    let id = required("id", &req.id)?;
    api.store.tx(|tx| {
        authorize_part_caller(tx, who, id)?;
        // Read once: the flag MarkPartForRestart set is cleared by the read that reports it.
        let must_restart: bool = row(
            tx,
            "SELECT restart_requested FROM parts WHERE id = ?1",
            [id],
            |r| r.get(0),
        )?;
        if must_restart {
            exec(
                tx,
                "UPDATE parts SET restart_requested = 0 WHERE id = ?1",
                [id],
            )?;
        }
        Ok(NeedsRestartResponse {
            id: id.into(),
            must_restart,
            restart_check_interval: Some(prost_types::Duration {
                seconds: RESTART_CHECK_SECS,
                nanos: 0,
            }),
        })
    })
}

/// How often a part should ask NeedsRestart again, as upstream tells its parts.
const RESTART_CHECK_SECS: i64 = 60;

/// A RobotService caller for `part_id`, checked as Log checks it: the part itself (its own
/// secret), or an API key that may write the part's machine. Returns the part's scope.
pub fn authorize_part_caller(c: &Connection, who: &Principal, part_id: &str) -> ApiResult<Scope> {
    let scope = Scope::part(c, part_id)?;
    match &who.identity {
        Identity::Part { id } if id == part_id => {}
        Identity::Part { .. } => {
            return Err(ApiError::denied(format!(
                "a part may only ask about itself, not {}",
                scope.what
            )));
        }
        Identity::ApiKey { .. } | Identity::User { .. } => who.require(Perm::WriteRobot, &scope)?,
    }
    Ok(scope)
}

fn rfc3339(nanos: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(nanos.max(0) as u64);
    humantime::format_rfc3339_nanos(t).to_string()
}

pub fn get_robot_parts(
    api: &Api,
    who: &Principal,
    req: GetRobotPartsRequest,
) -> ApiResult<GetRobotPartsResponse> {
    let robot_id = required("robot_id", &req.robot_id)?;
    api.store.read(|c| {
        who.require(Perm::ReadRobot, &Scope::robot(c, robot_id)?)?;
        let mut stmt = c.prepare_cached(
            "SELECT id FROM parts WHERE robot_id = ?1 ORDER BY main_part DESC, created_on, id",
        )?;
        let ids: Vec<String> = stmt
            .query_map([robot_id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let parts = ids
            .iter()
            .map(|id| load_part(c, who, id))
            .collect::<ApiResult<_>>()?;
        Ok(GetRobotPartsResponse { parts })
    })
}

pub fn get_robot_part(
    api: &Api,
    who: &Principal,
    req: GetRobotPartRequest,
) -> ApiResult<GetRobotPartResponse> {
    let id = required("id", &req.id)?;
    api.store.read(|c| {
        authorize(c, who, Perm::ReadRobot, id)?;
        let part = load_part(c, who, id)?;
        // The text as it was given when there is one, so its key order and formatting survive.
        let config_json = match &part.robot_config_json {
            Some(text) => text.clone(),
            None => {
                let config = part
                    .robot_config
                    .as_ref()
                    .map(struct_to_json)
                    .unwrap_or_default();
                serde_json::to_string_pretty(&config)
                    .map_err(|e| ApiError::Internal(e.to_string()))?
            }
        };
        Ok(GetRobotPartResponse {
            part: Some(part),
            config_json,
        })
    })
}

pub fn get_robot_part_history(
    api: &Api,
    who: &Principal,
    req: GetRobotPartHistoryRequest,
) -> ApiResult<GetRobotPartHistoryResponse> {
    let id = required("id", &req.id)?;
    let limit = match req.page_limit {
        None | Some(0) => HISTORY_PAGE_DEFAULT,
        Some(n) if n < 0 => return Err(ApiError::invalid("page_limit", "must not be negative")),
        Some(n) => n.min(HISTORY_PAGE_MAX),
    };
    // The token is the seq of the last entry returned; seq grows with every edit.
    let before = match req.page_token.as_deref() {
        None | Some("") => i64::MAX,
        Some(t) => t
            .parse::<i64>()
            .map_err(|_| ApiError::invalid("page_token", "not a token from this API"))?,
    };
    let start = req.start.as_ref().map_or(i64::MIN, from_ts);
    let end = req.end.as_ref().map_or(i64::MAX, from_ts);
    api.store.read(|c| {
        authorize(c, who, Perm::ReadRobotConfig, id)?;
        let mut stmt = c.prepare_cached(
            "SELECT seq, robot_id, at, old, editor_type, editor FROM part_history
             WHERE part_id = ?1 AND seq < ?2 AND at >= ?3 AND at <= ?4 ORDER BY seq DESC LIMIT ?5",
        )?;
        let rows = stmt.query_map(params![id, before, start, end, limit + 1], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Vec<u8>>(3)?,
                r.get::<_, i32>(4)?,
                r.get::<_, String>(5)?,
            ))
        })?;
        let mut history = Vec::new();
        let mut next_page_token = String::new();
        for row in rows {
            let (seq, robot, at, old, editor_type, editor) = row?;
            if history.len() as i64 == limit {
                next_page_token = (seq + 1).to_string();
                break;
            }
            let old = RobotPart::decode(old.as_slice())
                .map_err(|e| ApiError::Internal(format!("stored history entry is corrupt: {e}")))?;
            history.push(RobotPartHistoryEntry {
                part: id.into(),
                robot,
                when: Some(to_ts(at)),
                old: Some(old),
                edited_by: Some(AuthenticatorInfo {
                    r#type: editor_type,
                    value: editor,
                    is_deactivated: false,
                }),
            });
        }
        Ok(GetRobotPartHistoryResponse {
            history,
            next_page_token,
        })
    })
}

/// The new config: JSON text wins when given (its text is kept), then a Struct; neither keeps it.
fn new_config(
    req: &UpdateRobotPartRequest,
) -> ApiResult<Option<(prost_types::Struct, Option<String>)>> {
    match req
        .robot_config_json
        .as_deref()
        .filter(|t| !t.trim().is_empty())
    {
        Some(text) => Ok(Some((
            json_to_struct("robot_config_json", text)?,
            Some(text.to_string()),
        ))),
        None => Ok(req.robot_config.clone().map(|s| (s, None))),
    }
}

fn editor(who: &Principal) -> AuthenticationType {
    match who.identity {
        Identity::ApiKey { .. } => AuthenticationType::ApiKey,
        Identity::Part { .. } => AuthenticationType::RobotPartSecret,
        Identity::User { .. } => AuthenticationType::WebOauth,
    }
}

pub fn update_robot_part(
    api: &Api,
    who: &Principal,
    req: UpdateRobotPartRequest,
) -> ApiResult<UpdateRobotPartResponse> {
    let id = required("id", &req.id)?;
    let name = required("name", &req.name)?;
    let config = new_config(&req)?;
    api.store.tx(|tx| {
        let scope = authorize(tx, who, Perm::WriteRobot, id)?;
        let before = load_public(tx, id)?;
        let stored = before.last_updated.as_ref().map_or(0, from_ts);
        let known = req.last_known_update.as_ref().map(from_ts);
        if known.is_some_and(|k| k != stored) {
            return Err(ApiError::FailedPrecondition(format!(
                "last_known_update {} is stale: the part was last updated {}; read it again and retry",
                rfc3339(known.unwrap_or_default()),
                rfc3339(stored)
            )));
        }
        ensure_unique_name(tx, scope.robot_id.as_deref().unwrap_or_default(), name, id)?;
        // Strictly increasing, so last_known_update always detects an edit in between.
        let t = now().max(stored + 1000);
        exec(tx,
            "INSERT INTO part_history(part_id, robot_id, at, old, editor_type, editor) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![id, before.robot, t, before.encode_to_vec(), editor(who) as i32, who.id()],
        )?;
        exec(tx, "UPDATE parts SET name = ?2, last_updated = ?3 WHERE id = ?1", params![id, name, t])?;
        if let Some((config, text)) = config {
            exec(tx,
                "UPDATE parts SET config = ?2, config_json = ?3 WHERE id = ?1",
                params![id, config.encode_to_vec(), text],
            )?;
        }
        Ok(UpdateRobotPartResponse { part: Some(load_part(tx, who, id)?) })
    })
}

/// Sets `value` at `path` in `config`: dot-separated object keys, or indexes into lists;
/// missing objects on the way are made. Returns why not when the path leads elsewhere.
fn set_at(
    config: &mut serde_json::Value,
    path: &str,
    value: serde_json::Value,
) -> Result<(), String> {
    use serde_json::Value as J;
    let keys: Vec<&str> = path.split('.').collect();
    if keys.iter().any(|k| k.is_empty()) {
        return Err(format!(
            "path {path:?} has an empty segment; write keys as a.b.0.c"
        ));
    }
    let mut at = config;
    for (i, key) in keys.iter().enumerate() {
        let last = i + 1 == keys.len();
        at = match at {
            J::Object(map) => {
                if last {
                    map.insert(key.to_string(), value);
                    return Ok(());
                }
                map.entry(key.to_string())
                    .or_insert_with(|| J::Object(Default::default()))
            }
            J::Array(list) => {
                let n: usize = key
                    .parse()
                    .map_err(|_| format!("{key:?} in {path:?} indexes a list: give a number"))?;
                let len = list.len();
                let slot = list.get_mut(n).ok_or_else(|| {
                    format!("index {n} in {path:?} is past the list's {len} entries")
                })?;
                if last {
                    *slot = value;
                    return Ok(());
                }
                slot
            }
            _ => {
                return Err(format!(
                    "{:?} in {path:?} is neither an object nor a list",
                    keys[..i].join(".")
                ));
            }
        };
    }
    Ok(())
}

fn value_json(v: &prost_types::Value) -> serde_json::Value {
    let wrapped = prost_types::Struct {
        fields: [("v".to_string(), v.clone())].into(),
    };
    struct_to_json(&wrapped)["v"].take()
}

pub fn set_config_property(
    api: &Api,
    who: &Principal,
    req: SetConfigPropertyRequest,
) -> ApiResult<SetConfigPropertyResponse> {
    let id = required("robot_part_id", &req.robot_part_id)?;
    if req.property_changes.is_empty() {
        return Err(ApiError::invalid(
            "property_changes",
            "required: give at least one path and value",
        ));
    }
    if let Some(i) = req
        .property_changes
        .iter()
        .position(|c| c.path.trim().is_empty())
    {
        return Err(ApiError::invalid(
            "property_changes.path",
            format!("entry {i} has no path"),
        ));
    }
    api.store.tx(|tx| {
        authorize(tx, who, Perm::WriteRobot, id)?;
        let before = load_public(tx, id)?;
        let mut config = before.robot_config.as_ref().map(struct_to_json).unwrap_or_default();
        let mut results = Vec::new();
        for change in &req.property_changes {
            let value = change.value.as_ref().map(value_json).unwrap_or(serde_json::Value::Null);
            // Each change applies on its own: one that cannot leaves the others standing.
            let outcome = set_at(&mut config, &change.path, value);
            results.push(ConfigPropertyChangeResult {
                path: change.path.clone(),
                value: change.value.clone(),
                success: outcome.is_ok(),
                error: outcome.err().unwrap_or_default(),
            });
        }
        if results.iter().any(|r| r.success) {
            let text = serde_json::to_string(&config).map_err(|e| ApiError::Internal(e.to_string()))?;
            let new = json_to_struct("property_changes", &text)?;
            let stored = before.last_updated.as_ref().map_or(0, from_ts);
            let t = now().max(stored + 1000);
            exec(tx,
                "INSERT INTO part_history(part_id, robot_id, at, old, editor_type, editor) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id, before.robot, t, before.encode_to_vec(), editor(who) as i32, who.id()],
            )?;
            // The JSON text given before no longer matches the config: drop it.
            exec(tx,
                "UPDATE parts SET config = ?2, config_json = NULL, last_updated = ?3 WHERE id = ?1",
                params![id, new.encode_to_vec(), t],
            )?;
        }
        Ok(SetConfigPropertyResponse { property_changes: results })
    })
}

fn ensure_unique_name(c: &Connection, robot_id: &str, name: &str, except: &str) -> ApiResult<()> {
    let clash: Option<String> = row(
        c,
        "SELECT id FROM parts WHERE robot_id = ?1 AND name = ?2 AND id != ?3",
        params![robot_id, name, except],
        |r| r.get(0),
    )
    .optional()?;
    match clash {
        Some(other) => Err(ApiError::AlreadyExists(format!(
            "a part named {name:?} already exists on machine {robot_id:?} (id {other:?})"
        ))),
        None => Ok(()),
    }
}

pub fn new_robot_part(
    api: &Api,
    who: &Principal,
    req: NewRobotPartRequest,
) -> ApiResult<NewRobotPartResponse> {
    let robot_id = required("robot_id", &req.robot_id)?;
    let name = required("part_name", &req.part_name)?;
    api.store.tx(|tx| {
        who.require(Perm::WriteRobot, &Scope::robot(tx, robot_id)?)?;
        ensure_unique_name(tx, robot_id, name, "")?;
        // A machine whose parts were all deleted gets its main part back here.
        let has_main: bool = row(
            tx,
            "SELECT EXISTS(SELECT 1 FROM parts WHERE robot_id = ?1 AND main_part)",
            [robot_id],
            |r| r.get(0),
        )?;
        let part_id = insert_part(tx, robot_id, name, !has_main)?;
        Ok(NewRobotPartResponse { part_id })
    })
}

pub fn delete_robot_part(
    api: &Api,
    who: &Principal,
    req: DeleteRobotPartRequest,
) -> ApiResult<DeleteRobotPartResponse> {
    let id = required("part_id", &req.part_id)?;
    api.store.tx(|tx| {
        authorize(tx, who, Perm::WriteRobot, id)?;
        let (main, others): (bool, i64) = row(tx,
            "SELECT main_part, (SELECT COUNT(*) FROM parts o WHERE o.robot_id = p.robot_id AND o.id != p.id)
             FROM parts p WHERE p.id = ?1",
            [id],
            |r| r.try_into(),
        )?;
        if main && others > 0 {
            return Err(ApiError::FailedPrecondition(format!(
                "part {id:?} is the main part and its machine has {others} other part(s); mark another part as main first"
            )));
        }
        exec(tx, "DELETE FROM logs WHERE part_id = ?1", [id])?;
        exec(tx, "DELETE FROM parts WHERE id = ?1", [id])?;
        Ok(DeleteRobotPartResponse {})
    })
}

pub fn mark_part_as_main(
    api: &Api,
    who: &Principal,
    req: MarkPartAsMainRequest,
) -> ApiResult<MarkPartAsMainResponse> {
    let id = required("part_id", &req.part_id)?;
    api.store.tx(|tx| {
        let scope = authorize(tx, who, Perm::WriteRobot, id)?;
        exec(
            tx,
            "UPDATE parts SET main_part = (id = ?1) WHERE robot_id = ?2",
            params![id, scope.robot_id.unwrap_or_default()],
        )?;
        Ok(MarkPartAsMainResponse {})
    })
}

pub fn mark_part_for_restart(
    api: &Api,
    who: &Principal,
    req: MarkPartForRestartRequest,
) -> ApiResult<MarkPartForRestartResponse> {
    let id = required("part_id", &req.part_id)?;
    api.store.tx(|tx| {
        authorize(tx, who, Perm::ControlRobot, id)?;
        exec(
            tx,
            "UPDATE parts SET restart_requested = 1 WHERE id = ?1",
            [id],
        )?;
        Ok(MarkPartForRestartResponse {})
    })
}

pub fn create_robot_part_secret(
    api: &Api,
    who: &Principal,
    req: CreateRobotPartSecretRequest,
) -> ApiResult<CreateRobotPartSecretResponse> {
    let id = required("part_id", &req.part_id)?;
    api.store.tx(|tx| {
        let scope = authorize(tx, who, Perm::WriteRobot, id)?;
        who.require(Perm::ReadRobotSecret, &scope)?;
        insert_secret(tx, id)?;
        Ok(CreateRobotPartSecretResponse {
            part: Some(load_part(tx, who, id)?),
        })
    })
}

pub fn delete_robot_part_secret(
    api: &Api,
    who: &Principal,
    req: DeleteRobotPartSecretRequest,
) -> ApiResult<DeleteRobotPartSecretResponse> {
    let id = required("part_id", &req.part_id)?;
    let secret_id = required("secret_id", &req.secret_id)?;
    api.store.tx(|tx| {
        authorize(tx, who, Perm::WriteRobot, id)?;
        let n = exec(
            tx,
            "DELETE FROM part_secrets WHERE id = ?1 AND part_id = ?2",
            params![secret_id, id],
        )?;
        if n == 0 {
            return Err(ApiError::not_found("robot part secret", secret_id));
        }
        Ok(DeleteRobotPartSecretResponse {})
    })
}

fn insert_secret(tx: &Tx<'_>, part_id: &str) -> ApiResult<()> {
    exec(
        tx,
        "INSERT INTO part_secrets(id, part_id, secret, created_on) VALUES (?1, ?2, ?3, ?4)",
        params![new_id(), part_id, new_secret(32), now()],
    )?;
    Ok(())
}

/// Creates a part with an empty config and one secret; returns its id.
pub fn insert_part(tx: &Tx<'_>, robot_id: &str, name: &str, main: bool) -> ApiResult<String> {
    let id = new_id();
    let t = now();
    let empty = prost_types::Struct::default().encode_to_vec();
    exec(
        tx,
        "INSERT INTO parts(id, robot_id, name, main_part, config, created_on, last_updated)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
        params![id, robot_id, name, main, empty, t],
    )?;
    insert_secret(tx, &id)?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_labels_are_lower_case_alphanumerics_and_dashes() {
        assert_eq!(dns_label("My Rover_1-main"), "my-rover-1-main");
        assert_eq!(dns_label("--Ünï cödé--"), "n--c-d");
        assert_eq!(dns_label("é"), "");
        assert_eq!(dns_label("-a-"), "a");
        assert_eq!(dns_label("a"), "a");
        assert_eq!(dns_label(""), "");
    }
}
