//! The Lua state: `cloud` (Rust core + prelude.lua), helpers, and the bridge in convert.rs
//! (replies: decode.rs). Front ends add their own parts through `hooks` (setups and call
//! hooks); this module knows none of them.

pub mod bson;
pub mod cloud;
pub mod convert;
pub mod decode;
pub mod encode;
pub mod error;
pub mod generated;
pub mod helpers;
pub mod hooks;
pub mod lazy;
pub mod parallel;
mod rfc3339;
pub mod spec;
pub mod time;

use std::rc::Rc;

use mlua::{Lua, LuaSerdeExt};

pub use cloud::{Cloud, Defaults};
pub use hooks::Setup;

/// A Lua file of fleetsh's, as source and as the bytecode build.rs compiled it to (issue 15,
/// embedded: undumping is ~10x cheaper than parsing, and parsing was ~40% of a start).
struct LuaFile {
    /// `@name.lua`: what errors and tracebacks call it.
    chunk_name: &'static str,
    source: &'static str,
    bytecode: &'static [u8],
}

macro_rules! lua_file {
    ($name:literal) => {
        LuaFile {
            chunk_name: concat!("@", $name, ".lua"),
            source: include_str!(concat!($name, ".lua")),
            bytecode: include_bytes!(concat!(env!("OUT_DIR"), "/", $name, ".luac")),
        }
    };
}

const PRELUDE: LuaFile = lua_file!("prelude");
/// `cloud.data.*` in the Python DataClient's shape (issue 12), on top of the prelude.
const DATA: LuaFile = lua_file!("data");
/// `cloud.billing.*` and `cloud.ml_training.*` in the Python clients' shape.
const BILLING: LuaFile = lua_file!("billing");
/// `cloud.packages.create_package`, which streams.
const PACKAGES: LuaFile = lua_file!("packages");

/// The areas whose functions are a Lua file of their own, and that file.
/// Loaded on the first read of the area (prelude.lua's `cloud` __index), not at every start:
/// parsing them was a third of a state's setup.
const AREA_FILES: &[(&str, &LuaFile)] = &[
    ("data", &DATA),
    ("billing", &BILLING),
    ("ml_training", &BILLING),
    ("packages", &PACKAGES),
];

/// `file` as a function: its bytecode, or its source when that does not load (bytecode is
/// specific to the Lua build's word sizes, which a cross build may not share with build.rs).
fn load_file(lua: &Lua, file: &LuaFile) -> mlua::Result<mlua::Function> {
    let compiled = lua
        .load(file.bytecode)
        .set_name(file.chunk_name)
        .set_mode(mlua::chunk::ChunkMode::Binary)
        .into_function();
    compiled.or_else(|e| {
        tracing::debug!(file = file.chunk_name, error = %e, "precompiled Lua did not load; parsing the source");
        lua.load(file.source)
            .set_name(file.chunk_name)
            .set_mode(mlua::chunk::ChunkMode::Text)
            .into_function()
    })
}

/// A Lua state with `cloud`, `json`, `log`, `sleep` and `env` installed, then each of `setups`.
/// Without `cloud` (None) the state is complete but every call fails: it serves to read the
/// function specs (`cloud._specs`) for help and types, so its areas are all loaded at once.
pub fn new_state(cloud: Option<Rc<Cloud>>, setups: &[Setup]) -> mlua::Result<Lua> {
    let for_specs = cloud.is_none();
    state(cloud, setups, for_specs)
}

/// `new_state`, with the area files loaded at once (`eager`) or on first read.
fn state(cloud: Option<Rc<Cloud>>, setups: &[Setup], eager: bool) -> mlua::Result<Lua> {
    let lua = Lua::new();
    // Tag mlua's array metatable once so that convert.rs recognises decoded JSON arrays too.
    lua.array_metatable().raw_set("__fleetsh_array", true)?;
    let table = lua.create_table()?;
    cloud::register(&lua, &table, cloud)?;
    helpers::register(&lua, &table)?;
    bson::register(&lua, &table)?;
    register_area_files(&lua, &table)?;
    lua.globals().set("cloud", table.clone())?;
    load_file(&lua, &PRELUDE)?.call::<()>(table.clone())?;
    if eager {
        load_areas(&table)?;
    }
    for setup in setups {
        setup(&lua, &table)?;
    }
    Ok(lua)
}

/// `cloud._area_file(area)` -> the chunk name of the file that defines the area's functions,
/// if any; `cloud._area_chunk(name)` -> that file, compiled (prelude.lua runs it once).
fn register_area_files(lua: &Lua, cloud: &mlua::Table) -> mlua::Result<()> {
    let file = |area: &str| AREA_FILES.iter().find(|(a, _)| *a == area);
    cloud.raw_set(
        "_area_file",
        lua.create_function(move |_, area: String| Ok(file(&area).map(|(_, f)| f.chunk_name)))?,
    )?;
    cloud.raw_set(
        "_area_chunk",
        lua.create_function(|lua, name: String| {
            let (_, file) = AREA_FILES
                .iter()
                .find(|(_, f)| f.chunk_name == name)
                .ok_or_else(|| mlua::Error::runtime(format!("no area file {name}")))?;
            load_file(lua, file)
        })?,
    )
}

/// Reads every area of `cloud`, so that the files of those loaded on first read are loaded and
/// `cloud._specs` is complete.
pub fn load_areas(cloud: &mlua::Table) -> mlua::Result<()> {
    for (area, ..) in AREA_FILES {
        cloud.get::<mlua::Table>(*area)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_names(lua: &Lua) -> Vec<String> {
        let cloud: mlua::Table = lua.globals().get("cloud").unwrap();
        let specs: mlua::Table = cloud.get("_specs").unwrap();
        specs
            .sequence_values::<mlua::Table>()
            .filter_map(|s| s.unwrap().get::<Option<String>>(1).unwrap())
            .collect()
    }

    #[test]
    fn area_files_are_loaded_on_first_read() {
        let lua = state(None, &[], false).unwrap();
        let cloud: mlua::Table = lua.globals().get("cloud").unwrap();
        for area in ["data", "billing", "ml_training"] {
            assert!(
                cloud.raw_get::<mlua::Value>(area).unwrap().is_nil(),
                "{area}"
            );
        }
        let names = spec_names(&lua);
        assert!(!names.iter().any(|n| n.starts_with("data.")), "{names:?}");
        let f: mlua::Value = lua
            .load("return cloud.data.tabular_data_by_sql")
            .eval()
            .unwrap();
        assert!(f.is_function(), "{f:?}");
        assert!(spec_names(&lua).contains(&"data.tabular_data_by_sql".to_string()));
        // billing.lua defines two areas: reading one loads both, once.
        let f: mlua::Value = lua
            .load("return cloud.ml_training.submit_training_job")
            .eval()
            .unwrap();
        assert!(f.is_function(), "{f:?}");
        lua.load("return cloud.billing.get_current_month_usage")
            .eval::<mlua::Function>()
            .unwrap();
        let names = spec_names(&lua);
        let once = |n: &str| names.iter().filter(|s| *s == n).count() == 1;
        assert!(once("billing.get_current_month_usage"), "{names:?}");
        assert!(once("ml_training.submit_training_job"), "{names:?}");
    }

    /// Every file ships as bytecode that this Lua loads as such.
    #[test]
    fn the_lua_files_ship_precompiled() {
        let lua = Lua::new();
        for file in [&PRELUDE, &DATA, &BILLING, &PACKAGES] {
            assert!(
                file.bytecode.starts_with(b"\x1bLua"),
                "{}: not bytecode",
                file.chunk_name
            );
            lua.load(file.bytecode)
                .set_mode(mlua::chunk::ChunkMode::Binary)
                .into_function()
                .unwrap_or_else(|e| panic!("{}: {e}", file.chunk_name));
        }
    }

    /// Precompiled with its debug info: tracebacks and errors still name `prelude.lua` and lines.
    #[test]
    fn precompiled_functions_keep_their_file_and_lines() {
        let lua = state(None, &[], false).unwrap();
        let f: mlua::Function = lua.load("return cloud.get_robot").eval().unwrap();
        let info = f.info();
        assert_eq!(info.source.as_deref(), Some("@prelude.lua"));
        assert!(info.line_defined.is_some_and(|l| l > 1), "{info:?}");
    }

    #[test]
    fn a_file_whose_bytecode_does_not_load_is_parsed_from_its_source() {
        let lua = Lua::new();
        let file = LuaFile {
            chunk_name: "@other_build.lua",
            source: "return 42",
            // The header of a build with other word sizes.
            bytecode: b"\x1bLuaT\x00\x19\x93\r\n\x1a\n\x02\x02\x02",
        };
        let f = load_file(&lua, &file).unwrap();
        assert_eq!(f.call::<i64>(()).unwrap(), 42);
    }

    #[test]
    fn a_state_for_the_specs_has_every_area_loaded() {
        let names = spec_names(&new_state(None, &[]).unwrap());
        for n in [
            "data.tabular_data_by_sql",
            "billing.get_current_month_usage",
            "ml_training.submit_training_job",
        ] {
            assert!(names.iter().any(|s| s == n), "{n} missing");
        }
    }
}
