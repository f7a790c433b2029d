//! `fleetsh serve --seed FILE`: the fleet a seed file describes (the file `fleetsh test --seed`
//! takes), made through a client with the same `fleet.seed` a test uses, so both mean one thing.

use std::path::Path;
use std::rc::Rc;

use mlua::{Function, LuaSerdeExt, Table};

use crate::client::Client;
use crate::lua::{Cloud, Defaults, cloud, new_state};

/// Makes the fleet of `text` (the file at `path`) through `client` and returns its ids by name
/// (`{organizations = {NAME = id}, locations = {NAME = id}, machines =, parts =, fragments =,
/// keys = {NAME = {id, key}}, members = {EMAIL = user id}}`).
/// The Lua state and with it the client (its connection) are dropped before this returns.
pub async fn seed(client: Client, path: &Path, text: &str) -> anyhow::Result<serde_json::Value> {
    // mlua's errors are not Send: each becomes its first line, as the test runner shows them.
    let shown = |e: mlua::Error| {
        let e = e.to_string();
        anyhow::anyhow!(
            "--seed {}: {}",
            path.display(),
            e.lines().next().unwrap_or(&e)
        )
    };
    let lua = new_state(None, &[]).map_err(shown)?;
    lua.load(super::file::SEED)
        .set_name("=seed")
        .exec()
        .map_err(shown)?;
    let spec = super::file::seed_spec(&lua, path, text).map_err(anyhow::Error::msg)?;
    let table: Table = lua.globals().get("cloud").map_err(shown)?;
    let fleet = Rc::new(Cloud {
        client,
        defaults: Defaults::default(),
    });
    cloud::connect(&lua, &table, fleet).map_err(shown)?;
    let make: Function = lua
        .globals()
        .get::<Table>("fleet")
        .and_then(|f| f.get("seed"))
        .map_err(shown)?;
    let ids: mlua::Value = make.call_async(spec).await.map_err(shown)?;
    let json = lua.from_value(ids).map_err(shown)?;
    drop(lua);
    Ok(json)
}
