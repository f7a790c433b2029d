//! Which machines run a registry module: a part's config names them in `modules`
//! (`{"type": "registry", "module_id": "<namespace>:<name>", ...}`). GetModule, ListModules and
//! a module's registry item report the counts (machines and organizations, and how many of them
//! are outside the module's own organization). Only the part's own config is read, not the
//! fragments it imports.

use std::collections::HashSet;

use prost::Message;
use rusqlite::Connection;
use serde_json::Value;

use super::error::{ApiError, ApiResult};
use super::structs::struct_to_json;

#[derive(Debug, Default, PartialEq)]
pub struct ModuleUsage {
    pub robots: i64,
    pub organizations: i64,
    pub external_robots: i64,
    pub external_organizations: i64,
}

/// Whether a config's `modules` list runs `module_id` from the registry.
fn runs(config: &Value, module_id: &str) -> bool {
    config
        .get("modules")
        .and_then(Value::as_array)
        .is_some_and(|mods| {
            mods.iter()
                .any(|m| m.get("module_id").and_then(Value::as_str) == Some(module_id))
        })
}

/// The machines whose parts run `module_id`, owned by `owner_org`, counted as the registry does.
pub fn usage(c: &Connection, module_id: &str, owner_org: &str) -> ApiResult<ModuleUsage> {
    // The id's bytes appear in the encoded config of every part naming it: a cheap filter
    // before decoding.
    let mut stmt = c.prepare_cached(
        "SELECT p.robot_id, l.org_id, p.config FROM parts p
         JOIN robots r ON r.id = p.robot_id JOIN locations l ON l.id = r.location_id
         WHERE instr(p.config, CAST(?1 AS BLOB)) > 0",
    )?;
    let rows = stmt
        .query_map([module_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Vec<u8>>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut machines: HashSet<(String, String)> = HashSet::new();
    for (robot, org, config) in rows {
        let s = prost_types::Struct::decode(config.as_slice())
            .map_err(|e| ApiError::Internal(format!("stored config is corrupt: {e}")))?;
        if runs(&struct_to_json(&s), module_id) {
            machines.insert((robot, org));
        }
    }
    let orgs: HashSet<&str> = machines.iter().map(|(_, o)| o.as_str()).collect();
    let outside = |o: &str| o != owner_org;
    Ok(ModuleUsage {
        robots: machines.len() as i64,
        organizations: orgs.len() as i64,
        external_robots: machines.iter().filter(|(_, o)| outside(o)).count() as i64,
        external_organizations: orgs.iter().filter(|o| outside(o)).count() as i64,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::runs;

    #[test]
    fn only_a_registry_entry_naming_the_module_counts() {
        let config = json!({"modules": [
            {"type": "local", "name": "m", "executable_path": "/bin/acme:m"},
            {"type": "registry", "name": "m", "module_id": "acme:m", "version": "latest"},
        ]});
        assert!(runs(&config, "acme:m"));
        assert!(!runs(&config, "acme:other"));
        assert!(!runs(
            &json!({"components": [{"module_id": "acme:m"}]}),
            "acme:m"
        ));
        assert!(!runs(
            &json!({"modules": {"module_id": "acme:m"}}),
            "acme:m"
        ));
    }
}
