//! Small globals for scripts: `json`, `log`, `sleep`, `env`, `time`, and `cloud.parallel`.

use std::time::Duration;

use futures::StreamExt;
use mlua::{Function, Lua, LuaSerdeExt, MultiValue, Table, Value as Lv};

use super::spec::{self, Native};

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
    spec::define(lua, cloud, &PARALLEL, parallel(lua)?)
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

const PARALLEL: Native = Native {
    name: "parallel",
    area: None,
    params: &[
        "list any[]",
        "fn fun(item:any, index:integer):any",
        "opts {concurrency:integer}?",
    ],
    returns: &[
        "any[] results",
        "{index:integer, item:any, error:any}[] errors",
    ],
    defaults: &[("opts.concurrency", "16")],
    doc: "Runs fn(item, i) for every item concurrently.",
};

/// `cloud.parallel(list, fn, {concurrency=16})` -> `results, errors`: `fn(item, index)` runs in
/// one coroutine per item, at most `concurrency` at a time, all on this thread (the calls inside
/// are async). `results[i]` is fn's first return for item i; `errors` is an array of
/// `{index=, item=, error=}` (empty when all succeeded), so no failure is lost.
fn parallel(lua: &Lua) -> mlua::Result<Function> {
    // pcall inside the coroutine keeps a raised error value intact (a CallError stays a userdata).
    let wrap: Function = lua
        .load("local f = ... return function(item, i) return table.pack(pcall(f, item, i)) end")
        .set_name("=cloud.parallel")
        .into_function()?;
    lua.create_async_function(
        move |lua, (list, f, opts): (Table, Function, Option<Table>)| {
            let wrap = wrap.clone();
            async move {
                let conc = opts
                    .map(|o| o.get::<Option<i64>>("concurrency"))
                    .transpose()?
                    .flatten()
                    .unwrap_or(16);
                if conc < 1 {
                    return Err(mlua::Error::runtime(
                        "cloud.parallel: concurrency must be at least 1",
                    ));
                }
                let body: Function = wrap.call(f)?;
                let items = list
                    .sequence_values::<Lv>()
                    .collect::<mlua::Result<Vec<_>>>()?;
                let bar = super::hooks::get(&lua).progress(Some(items.len() as u64), "parallel");
                let outcomes = futures::stream::iter(items.iter().cloned().enumerate())
                    .map(|(i, item)| {
                        let thread = lua.create_thread(body.clone());
                        let bar = bar.clone();
                        async move {
                            let r = thread?.into_async::<Table>((item, i + 1))?.await;
                            if let Some(b) = &bar {
                                b.inc(1);
                            }
                            r
                        }
                    })
                    .buffered(conc as usize)
                    .collect::<Vec<_>>()
                    .await;
                if let Some(b) = bar {
                    b.finish_and_clear();
                }
                let results = lua.create_table()?;
                let errors = lua.create_table()?;
                for (i, (outcome, item)) in outcomes.into_iter().zip(items).enumerate() {
                    let (ok, value) = match outcome {
                        Ok(packed) => (packed.get::<bool>(1)?, packed.get::<Lv>(2)?),
                        Err(e) => (false, Lv::String(lua.create_string(e.to_string())?)),
                    };
                    if ok {
                        results.raw_set(i + 1, value)?;
                    } else {
                        let e = lua.create_table()?;
                        e.set("index", i + 1)?;
                        e.set("item", item)?;
                        e.set("error", value)?;
                        errors.raw_push(e)?;
                    }
                }
                Ok((results, errors))
            }
        },
    )
}
