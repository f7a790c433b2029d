//! The Lua state: `cloud` (Rust core + prelude.lua), helpers, and the bridge in convert.rs
//! (replies: decode.rs). Front ends add their own parts through `hooks` (setups and call
//! hooks); this module knows none of them.

pub mod bson;
pub mod cloud;
pub mod convert;
pub mod decode;
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

const PRELUDE: &str = include_str!("prelude.lua");
/// `cloud.data.*` in the Python DataClient's shape (issue 12), on top of the prelude.
const DATA: &str = include_str!("data.lua");
/// `cloud.billing.*` and `cloud.ml_training.*` in the Python clients' shape (issue 12, billing).
const BILLING: &str = include_str!("billing.lua");

/// A Lua state with `cloud`, `json`, `log`, `sleep` and `env` installed, then each of `setups`.
/// Without `cloud` (None) the state is complete but every call fails: it serves to read the
/// function specs (`cloud._specs`) for help and types.
pub fn new_state(cloud: Option<Rc<Cloud>>, setups: &[Setup]) -> mlua::Result<Lua> {
    let lua = Lua::new();
    // Tag mlua's array metatable once so that convert.rs recognises decoded JSON arrays too.
    lua.array_metatable().raw_set("__fleetsh_array", true)?;
    let table = lua.create_table()?;
    cloud::register(&lua, &table, cloud)?;
    helpers::register(&lua, &table)?;
    bson::register(&lua, &table)?;
    lua.globals().set("cloud", table.clone())?;
    lua.load(PRELUDE)
        .set_name("@prelude.lua")
        .call::<()>(table.clone())?;
    lua.load(DATA)
        .set_name("@data.lua")
        .call::<()>(table.clone())?;
    lua.load(BILLING)
        .set_name("@billing.lua")
        .call::<()>(table.clone())?;
    for setup in setups {
        setup(&lua, &table)?;
    }
    Ok(lua)
}
