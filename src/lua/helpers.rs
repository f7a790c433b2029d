//! Small globals for scripts: `json`, `log`, `sleep`, `env`, `time` (and `cloud.parallel`,
//! from parallel.rs).

use std::time::Duration;

use mlua::{Function, Lua, LuaSerdeExt, MultiValue, Table, Value as Lv};

use super::spec;

pub fn register(lua: &Lua, cloud: &Table) -> mlua::Result<()> {
    let g = lua.globals();
    g.set("json", json(lua)?)?;
    super::time::register(lua)?;
    g.set("log", log(lua)?)?;
    g.set(
        "sleep",
        lua.create_async_function(|_, secs: f64| async move {
            if !secs.is_finite() || secs < 0.0 {
                return Err(mlua::Error::runtime(
                    "sleep: seconds must be a non-negative number",
                ));
            }
            tokio::time::sleep(Duration::from_secs_f64(secs)).await;
            Ok(())
        })?,
    )?;
    g.set(
        "env",
        lua.create_function(|_, name: String| Ok(std::env::var(name).ok()))?,
    )?;
    spec::define(
        lua,
        cloud,
        &super::parallel::PARALLEL,
        super::parallel::function(lua)?,
    )
}

fn json(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set(
        "encode",
        lua.create_function(|_, (v, opts): (Lv, Option<Table>)| {
            let pretty = opts
                .map(|o| o.get::<Option<bool>>("indent"))
                .transpose()?
                .flatten()
                .unwrap_or(false);
            // Sorted keys: the same table always encodes to the same text.
            json_shape(&v, "value", 0)?;
            let s = v.to_serializable().sort_keys(true);
            let out = if pretty {
                serde_json::to_string_pretty(&s)
            } else {
                serde_json::to_string(&s)
            };
            out.map_err(|e| mlua::Error::runtime(format!("json.encode: {e}")))
        })?,
    )?;
    t.set(
        "decode",
        lua.create_function(|lua, s: mlua::LuaString| {
            let v: serde_json::Value = serde_json::from_slice(&s.as_bytes())
                .map_err(|e| mlua::Error::runtime(format!("json.decode: {e}")))?;
            lua.to_value(&v)
        })?,
    )?;
    t.set("null", lua.null())?;
    Ok(t)
}

/// Refuses what JSON cannot hold faithfully, before encoding: a table with both array items and
/// other keys (serde would write the array and drop the rest), and nesting deeper than
/// `convert::MAX_DEPTH` (or a table that contains itself), which would exhaust the stack.
fn json_shape(v: &Lv, path: &str, depth: usize) -> mlua::Result<()> {
    let Lv::Table(t) = v else { return Ok(()) };
    // Before the serializer walks it raw.
    super::lazy::force(t)?;
    let fail = |why: String| {
        let shown: String = path.chars().take(60).collect();
        let more = if shown.len() < path.len() { "…" } else { "" };
        Err(mlua::Error::runtime(format!(
            "json.encode: {shown}{more}: {why}"
        )))
    };
    if depth >= super::convert::MAX_DEPTH {
        return fail(format!(
            "nested deeper than {} levels (or it contains itself)",
            super::convert::MAX_DEPTH
        ));
    }
    let len = t.raw_len();
    for pair in t.pairs::<Lv, Lv>() {
        let (k, x) = pair?;
        let in_array = matches!(k, Lv::Integer(i) if i >= 1 && (i as usize) <= len);
        if len > 0 && !in_array {
            let key = k.to_string().unwrap_or_else(|_| k.type_name().to_string());
            return fail(format!(
                "a table with both array items (1..{len}) and other keys ('{key}') has no JSON form; \
                 use one or the other"
            ));
        }
        let sub = match &k {
            Lv::Integer(i) => format!("{path}[{i}]"),
            other => format!("{path}.{}", other.to_string().unwrap_or_default()),
        };
        json_shape(&x, &sub, depth + 1)?;
    }
    Ok(())
}

fn log(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    for level in ["info", "warn", "error", "debug"] {
        t.set(
            level,
            lua.create_function(move |lua, args: MultiValue| {
                let tostring: Function = lua.globals().get("tostring")?;
                let parts = args
                    .into_iter()
                    .map(|v| tostring.call::<String>(v))
                    .collect::<mlua::Result<Vec<_>>>()?;
                let text = parts.join(" ");
                // A runner's hooks write it (--log-format, --quiet); elsewhere plain stderr.
                super::hooks::get(lua).log(lua, level, &text);
                Ok(())
            })?,
        )?;
    }
    Ok(t)
}
