//! RobotService/Config: a part's config as the local fleet holds it, with the fragments it
//! imports (`"fragments": ["<id>", {"id": "<id>"}]`) applied, as a viam.app.v1.RobotConfig.
//! What the part reports with it (agent_info: version, OS, platform) is kept for
//! ListMachineSummaries; a part that never asked has no report.

use prost::Message;
use prost_reflect::{DeserializeOptions, DynamicMessage};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value};

use super::Api;
use super::authz::Principal;
use super::error::{ApiError, ApiResult, required};
use super::parts::authorize_part_caller;
use super::store::{exec, now, row};
use super::structs::struct_to_json;
use crate::proto::POOL;
use crate::proto::viam::app::v1::*;

/// The config lists a fragment adds its entries to. A part's own entry wins over a
/// fragment's of the same name.
const MERGED_LISTS: &[&str] = &[
    "components",
    "services",
    "remotes",
    "processes",
    "modules",
    "packages",
    "jobs",
];

fn stored_struct(bytes: &[u8], what: &str) -> ApiResult<Value> {
    let s = prost_types::Struct::decode(bytes)
        .map_err(|e| ApiError::Internal(format!("stored {what} config is corrupt: {e}")))?;
    Ok(struct_to_json(&s))
}

/// The fragment ids a config imports, in order: strings or objects with an `id`.
pub fn imported_fragments(config: &Value) -> Vec<String> {
    config
        .get("fragments")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|f| match f {
                    Value::String(id) => Some(id.clone()),
                    Value::Object(o) => o.get("id").and_then(Value::as_str).map(str::to_string),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The part's stored config as JSON.
pub fn part_config_json(c: &Connection, part_id: &str) -> ApiResult<Value> {
    let bytes: Vec<u8> = row(
        c,
        "SELECT config FROM parts WHERE id = ?1",
        [part_id],
        |r| r.get(0),
    )?;
    stored_part_config(&bytes)
}

/// A part's config as stored (`parts.config`), as JSON.
pub fn stored_part_config(bytes: &[u8]) -> ApiResult<Value> {
    stored_struct(bytes, "part")
}

/// The part's config with its fragments applied. A fragment must belong to the part's
/// organization or be public; an unknown one is an error the owner can fix.
fn applied_config(c: &Connection, part_id: &str, org_id: &str) -> ApiResult<Value> {
    let mut config = part_config_json(c, part_id)?;
    for id in imported_fragments(&config) {
        let bytes: Option<Vec<u8>> = row(
            c,
            "SELECT config FROM fragments WHERE id = ?1 AND (org_id = ?2 OR visibility = ?3)",
            params![id, org_id, FragmentVisibility::Public as i32],
            |r| r.get(0),
        )
        .optional()?;
        let bytes = bytes.ok_or_else(|| {
            ApiError::FailedPrecondition(format!(
                "the part's config imports fragment {id:?}, which does not exist or is not visible \
                 to its organization; remove it from the part's `fragments` with UpdateRobotPart"
            ))
        })?;
        merge(&mut config, &stored_struct(&bytes, "fragment")?);
    }
    Ok(config)
}

fn merge(config: &mut Value, fragment: &Value) {
    let Some(target) = config.as_object_mut() else {
        return;
    };
    for key in MERGED_LISTS {
        let Some(extra) = fragment.get(*key).and_then(Value::as_array) else {
            continue;
        };
        let list = target
            .entry(key.to_string())
            .or_insert_with(|| Value::Array(vec![]));
        let Some(list) = list.as_array_mut() else {
            continue;
        };
        let name = |v: &Value| v.get("name").and_then(Value::as_str).map(str::to_string);
        for item in extra {
            let clash =
                name(item).is_some_and(|n| list.iter().any(|o| name(o).as_deref() == Some(&n)));
            if !clash {
                list.push(item.clone());
            }
        }
    }
}

/// A config document as a RobotConfig; fields RobotConfig does not have (`fragments`,
/// `fragment_mods`, ...) are left out.
fn to_robot_config(config: Value) -> ApiResult<RobotConfig> {
    let desc = POOL
        .get_message_by_name("viam.app.v1.RobotConfig")
        .ok_or_else(|| ApiError::Internal("RobotConfig is missing from the descriptors".into()))?;
    let config = match config {
        Value::Object(o) => Value::Object(o),
        _ => Value::Object(Map::new()),
    };
    let msg = DynamicMessage::deserialize_with_options(
        desc,
        config,
        &DeserializeOptions::new().deny_unknown_fields(false),
    )
    .map_err(|e| {
        ApiError::FailedPrecondition(format!(
            "the part's config does not fit viam.app.v1.RobotConfig ({e}); fix it with UpdateRobotPart"
        ))
    })?;
    msg.transcode_to()
        .map_err(|e| ApiError::Internal(format!("RobotConfig transcode: {e}")))
}

pub fn config(api: &Api, who: &Principal, req: ConfigRequest) -> ApiResult<ConfigResponse> {
    let id = required("id", &req.id)?;
    api.store.tx(|tx| {
        let scope = authorize_part_caller(tx, who, id)?;
        let config = to_robot_config(applied_config(tx, id, &scope.org_id)?)?;
        if let Some(info) = &req.agent_info {
            exec(
                tx,
                "INSERT INTO part_reports(part_id, version, os, platform, reported_on)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(part_id) DO UPDATE SET version = ?2, os = ?3, platform = ?4, reported_on = ?5",
                params![id, info.version, info.os, info.platform, now()],
            )?;
        }
        // Asking for its config is how a part comes online, and its machine with it (as a
        // Log does): GetRobot and ListRobots read the machine's last access.
        let t = now();
        exec(
            tx,
            "UPDATE parts SET last_access = ?2 WHERE id = ?1",
            params![id, t],
        )?;
        exec(
            tx,
            "UPDATE robots SET last_access = ?2 WHERE id = ?1",
            params![scope.robot_id, t],
        )?;
        Ok(ConfigResponse {
            config: Some(config),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fragments_add_their_entries_and_the_part_wins_on_a_name() {
        let mut part =
            json!({"components": [{"name": "arm", "model": "mine"}], "fragments": ["f"]});
        let frag = json!({"components": [{"name": "arm", "model": "theirs"}, {"name": "cam"}],
                          "modules": [{"name": "m"}]});
        assert_eq!(imported_fragments(&part), ["f"]);
        merge(&mut part, &frag);
        assert_eq!(
            part["components"],
            json!([{"name": "arm", "model": "mine"}, {"name": "cam"}])
        );
        assert_eq!(part["modules"], json!([{"name": "m"}]));
    }

    #[test]
    fn a_config_document_becomes_a_robot_config() {
        let c = to_robot_config(
            json!({"components": [{"name": "arm", "api": "rdk:component:arm",
            "model": "fake", "attributes": {"x": 1}}], "fragments": ["f"]}),
        )
        .unwrap();
        assert_eq!(c.components.len(), 1);
        assert_eq!(c.components[0].name, "arm");
        assert_eq!(c.components[0].api, "rdk:component:arm");
    }
}
