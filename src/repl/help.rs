//! `help()`: the REPL's view of `cloud.__help` (`{ [name] = { area=, signature=, defaults=,
//! doc= } }`), built on first use from the function descriptions that also feed the LuaLS
//! definitions (src/chores/docs.rs), so help and editor types cannot disagree.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use mlua::{Function, Lua, Table, Value};

use super::printer::Printer;

/// Area of `cloud` functions that have no help entry.
const NO_AREA: &str = "other";

/// Registers the global `help`, which prints `help_text` of its argument.
pub fn install(lua: &Lua) -> mlua::Result<()> {
    let help = lua.create_function(|lua, arg: Value| {
        ensure_entries(lua)?;
        println!("{}", help_text(lua, &arg)?);
        Ok(())
    })?;
    lua.globals().set("help", help)
}

/// `help` as a setup of every runner state, so scripts and `-e` have it too.
pub fn setup(lua: &Lua, _cloud: &Table) -> mlua::Result<()> {
    install(lua)
}

/// `fleetsh help [NAME]`: the text `help()` / `help "NAME"` prints, without a connection.
pub fn text_for(name: Option<&str>) -> mlua::Result<String> {
    let lua = crate::lua::new_state(None, crate::chores::SETUP)?;
    ensure_entries(&lua)?;
    let arg = match name {
        Some(n) => Value::String(lua.create_string(n)?),
        None => Value::Nil,
    };
    help_text(&lua, &arg)
}

/// Fills `cloud.__help` from the function descriptions unless it is there already. Lazily, on
/// the first `help` call: reading the descriptions loads the prelude once more, which a
/// session that never asks for help need not pay for at startup.
pub fn ensure_entries(lua: &Lua) -> mlua::Result<()> {
    let Some(cloud) = raw_table(&lua.globals(), "cloud") else {
        return Ok(());
    };
    if raw_table(&cloud, "__help").is_some() {
        return Ok(());
    }
    cloud.raw_set("__help", entries(lua)?)
}

/// `{ [name] = { area=, signature=, defaults=, doc= } }` of every `cloud` function.
pub fn entries(lua: &Lua) -> mlua::Result<Table> {
    let docs = crate::chores::docs::function_docs()?;
    let table = lua.create_table_with_capacity(0, docs.len())?;
    for d in docs {
        let entry = lua.create_table()?;
        entry.raw_set("area", d.area)?;
        entry.raw_set("signature", d.signature())?;
        entry.raw_set("doc", d.doc.as_str())?;
        if let Some(defaults) = d.defaults_text() {
            entry.raw_set("defaults", defaults)?;
        }
        table.raw_set(d.name.as_str(), entry)?;
    }
    Ok(table)
}

/// `help()` -> the overview; `help(cloud.fn)` or `help "fn"` -> that function's entry.
pub fn help_text(lua: &Lua, arg: &Value) -> mlua::Result<String> {
    let Some(cloud) = raw_table(&lua.globals(), "cloud") else {
        return Ok("help: no `cloud` module in this session".to_string());
    };
    let entries = raw_table(&cloud, "__help");
    match arg {
        Value::Nil => overview(&cloud, entries.as_ref()),
        Value::String(s) => {
            let name = s.to_string_lossy();
            Ok(detail(
                &cloud,
                entries.as_ref(),
                name.strip_prefix("cloud.").unwrap_or(&name),
            ))
        }
        Value::Function(f) => Ok(match name_of(&cloud, f) {
            Some(name) => detail(&cloud, entries.as_ref(), &name),
            None => "help: this function is not part of `cloud`; try help()".to_string(),
        }),
        other => Ok(format!(
            "help: no help for a value of type {}; try help() or help \"name\"",
            other.type_name()
        )),
    }
}

fn raw_table(t: &Table, key: &str) -> Option<Table> {
    match t.raw_get::<Value>(key) {
        Ok(Value::Table(t)) => Some(t),
        _ => None,
    }
}

/// Names of the public functions in `cloud` (not the `_internal` ones), sorted: those defined
/// and those with a help entry (functions made from the descriptors exist once first used).
fn function_names(cloud: &Table) -> Vec<String> {
    let described = raw_table(cloud, "__help")
        .map(|t| {
            t.pairs::<String, Value>()
                .filter_map(Result::ok)
                .map(|(k, _)| k)
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let mut names: Vec<String> = cloud
        .pairs::<Value, Value>()
        .filter_map(Result::ok)
        .filter(|(_, v)| v.is_function())
        .filter_map(|(k, _)| {
            k.as_string()
                .and_then(|s| s.to_str().ok())
                .map(|s| s.to_string())
        })
        .filter(|name| !name.starts_with('_'))
        .chain(described)
        .collect();
    names.sort();
    names.dedup();
    names
}

fn name_of(cloud: &Table, f: &Function) -> Option<String> {
    cloud
        .pairs::<Value, Value>()
        .filter_map(Result::ok)
        .find(|(_, v)| v.to_pointer() == f.to_pointer())
        .and_then(|(k, _)| {
            k.as_string()
                .and_then(|s| s.to_str().ok())
                .map(|s| s.to_string())
        })
}

fn entry_field(entry: &Table, field: &str) -> Option<String> {
    match entry.raw_get::<Value>(field) {
        Ok(Value::String(s)) => Some(s.to_string_lossy()),
        _ => None,
    }
}

fn overview(cloud: &Table, entries: Option<&Table>) -> mlua::Result<String> {
    let mut areas: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for name in function_names(cloud) {
        let entry = entries.and_then(|e| raw_table(e, &name));
        let area = entry
            .as_ref()
            .and_then(|e| entry_field(e, "area"))
            .unwrap_or_else(|| NO_AREA.to_string());
        let doc = entry
            .as_ref()
            .and_then(|e| entry_field(e, "doc"))
            .unwrap_or_default();
        areas.entry(area).or_default().push((name, doc));
    }
    if areas.is_empty() {
        return Ok("help: `cloud` has no functions".to_string());
    }
    let width = areas
        .values()
        .flatten()
        .map(|(n, _)| n.len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (area, fns) in &areas {
        let _ = writeln!(out, "{area}:");
        for (name, doc) in fns {
            let _ = writeln!(out, "  {name:width$}  {doc}");
        }
    }
    out.push_str(
        "help(cloud.NAME) or help \"NAME\" shows a signature, its defaults and its meaning.",
    );
    Ok(out)
}

fn detail(cloud: &Table, entries: Option<&Table>, name: &str) -> String {
    let Some(entry) = entries.and_then(|e| raw_table(e, name)) else {
        if cloud.raw_get::<Value>(name).is_ok_and(|v| v.is_function()) {
            // Defined at run time by a script or setup, so no spec describes it.
            return format!("cloud.{name}: no help entry yet");
        }
        let names = function_names(cloud);
        let mut near: Vec<String> = names.iter().filter(|n| n.contains(name)).cloned().collect();
        if near.is_empty() {
            // A typo rather than a part of a name.
            near.extend(
                crate::lua::convert::closest(name, names.iter().map(String::as_str))
                    .map(str::to_string),
            );
        }
        return if near.is_empty() {
            format!("help: `{name}` is not a cloud function; help() lists them")
        } else {
            format!(
                "help: `{name}` is not a cloud function; did you mean {}?",
                near.join(", ")
            )
        };
    };
    let signature = entry_field(&entry, "signature").unwrap_or_else(|| format!("{name}(...)"));
    let mut out = format!("cloud.{signature}");
    if let Some(doc) = entry_field(&entry, "doc") {
        let _ = write!(out, "\n  {doc}");
    }
    if let Some(defaults) = defaults(&entry) {
        let _ = write!(out, "\n  defaults: {defaults}");
    }
    if let Some(area) = entry_field(&entry, "area") {
        let _ = write!(out, "\n  area: {area}");
    }
    out
}

/// `defaults` may be a ready string or a table of `option = value`.
fn defaults(entry: &Table) -> Option<String> {
    match entry.raw_get::<Value>("defaults").ok()? {
        Value::String(s) => Some(s.to_string_lossy()),
        Value::Table(t) => {
            let mut printer = Printer::new(false);
            let mut pairs: Vec<(String, String)> = t
                .pairs::<String, Value>()
                .filter_map(Result::ok)
                .map(|(k, v)| {
                    let shown = printer.render(&v);
                    (k, shown)
                })
                .collect();
            pairs.sort();
            (!pairs.is_empty()).then(|| {
                pairs
                    .iter()
                    .map(|(k, v)| format!("{k} = {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in for the help table the cloud module provides.
    fn lua() -> Lua {
        let lua = Lua::new();
        lua.load(
            r#"
            cloud = {
                get_robot = function() end,
                get_robot_part_logs = function() end,
                list_locations = function() end,
                undocumented = function() end,
                version = "1",
                __help = {
                    get_robot = { area = "robots", signature = "get_robot(id)", doc = "One robot by id." },
                    get_robot_part_logs = { area = "robot parts", signature = "get_robot_part_logs(part_id, opts?)",
                        defaults = { limit = 100, errors_only = false }, doc = "Logs of a part, newest first." },
                    list_locations = { area = "locations", signature = "list_locations(org_id?)",
                        defaults = "org_id = the session's organization", doc = "Locations of an organization." },
                },
            }
            "#,
        )
        .exec()
        .expect("fixture");
        lua
    }

    fn text(lua: &Lua, arg: &str) -> String {
        let v: Value = lua.load(arg).eval().expect("arg");
        help_text(lua, &v).expect("help")
    }

    #[test]
    fn overview_groups_by_area() {
        let out = text(&lua(), "nil");
        assert_eq!(
            out,
            "locations:\n  list_locations       Locations of an organization.\n\
             other:\n  undocumented         \n\
             robot parts:\n  get_robot_part_logs  Logs of a part, newest first.\n\
             robots:\n  get_robot            One robot by id.\n\
             help(cloud.NAME) or help \"NAME\" shows a signature, its defaults and its meaning."
        );
    }

    #[test]
    fn detail_by_function_or_name() {
        let lua = lua();
        let expected = "cloud.get_robot_part_logs(part_id, opts?)\n  Logs of a part, newest first.\n  \
                        defaults: errors_only = false, limit = 100\n  area: robot parts";
        assert_eq!(text(&lua, "cloud.get_robot_part_logs"), expected);
        assert_eq!(text(&lua, "'get_robot_part_logs'"), expected);
        assert_eq!(text(&lua, "'cloud.get_robot_part_logs'"), expected);
        assert!(
            text(&lua, "'list_locations'")
                .contains("defaults: org_id = the session's organization")
        );
    }

    #[test]
    fn unknown_names_say_so() {
        let lua = lua();
        assert_eq!(
            text(&lua, "'undocumented'"),
            "cloud.undocumented: no help entry yet"
        );
        assert_eq!(
            text(&lua, "'robot'"),
            "help: `robot` is not a cloud function; did you mean get_robot, get_robot_part_logs?"
        );
        assert!(text(&lua, "'zzz'").contains("not a cloud function; help() lists them"));
        assert!(text(&lua, "print").contains("not part of `cloud`"));
        assert!(text(&lua, "42").contains("no help for a value of type integer"));
    }

    #[test]
    fn works_without_cloud_or_help_table() {
        let lua = Lua::new();
        assert!(
            help_text(&lua, &Value::Nil)
                .expect("help")
                .contains("no `cloud` module")
        );
        lua.load("cloud = { f = function() end }")
            .exec()
            .expect("chunk");
        assert!(
            help_text(&lua, &Value::Nil)
                .expect("help")
                .starts_with("other:\n  f")
        );
    }

    /// Entries come from the function descriptions (every function of a live `cloud` having
    /// one is checked through the REPL in tests/it/repl.rs).
    #[test]
    fn entries_are_built_from_the_function_descriptions() {
        let lua = Lua::new();
        lua.load("cloud = { get_robot_part_logs = function() end, get_robot = function() end }")
            .exec()
            .expect("chunk");
        ensure_entries(&lua).expect("help entries");
        let detail = text(&lua, "cloud.get_robot_part_logs");
        assert!(
            detail.starts_with("cloud.get_robot_part_logs(robot_part_id: string, filter?: string"),
            "{detail}"
        );
        assert!(
            detail.contains("defaults: num_log_entries = 100"),
            "{detail}"
        );
        assert!(detail.contains("area: logs"), "{detail}");
        // The overview lists every described function, also those not made yet.
        let overview = help_text(&lua, &Value::Nil).expect("overview");
        assert!(
            overview.starts_with("API keys:\n"),
            "areas in order: {overview}"
        );
        for line in [
            "  get_robot_part_logs ",
            "  get_robot ",
            "  list_locations ",
            "Logs of a machine part, paged until num_log_entries",
        ] {
            assert!(overview.contains(line), "{line}: {overview}");
        }
        // A table already there (a test fixture, a user's own) is kept.
        lua.load("cloud.__help = { get_robot = { doc = 'mine' } }")
            .exec()
            .expect("chunk");
        ensure_entries(&lua).expect("help entries");
        assert!(text(&lua, "'get_robot'").contains("mine"));
    }

    #[test]
    fn install_registers_a_global() {
        let lua = lua();
        install(&lua).expect("install");
        lua.load("help('get_robot')").exec().expect("help runs");
    }
}
