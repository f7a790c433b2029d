//! The Lua state: `cloud` (Rust core + prelude.lua), helpers, and the bridge in convert.rs
//! (replies: decode.rs).

pub mod cloud;
pub mod convert;
pub mod decode;
pub mod error;
pub mod helpers;

use std::rc::Rc;

use mlua::{Lua, LuaSerdeExt};

pub use cloud::{Cloud, Defaults};

const PRELUDE: &str = include_str!("prelude.lua");

/// A Lua state with `cloud`, `json`, `log`, `sleep` and `env` installed.
pub fn new_state(cloud: Rc<Cloud>) -> mlua::Result<Lua> {
    let lua = Lua::new();
    // Tag mlua's array metatable once so that convert.rs recognises decoded JSON arrays too.
    lua.array_metatable().raw_set("__fleetsh_array", true)?;
    let table = lua.create_table()?;
    cloud::register(&lua, &table, cloud.clone())?;
    crate::chores::register(&lua, &table, cloud)?;
    helpers::register(&lua, &table)?;
    lua.globals().set("cloud", table.clone())?;
    lua.load(PRELUDE)
        .set_name("@prelude.lua")
        .call::<()>(table)?;
    Ok(lua)
}
