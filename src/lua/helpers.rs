//! Small globals for scripts: `json`, `log`, `sleep`, `env`, and `cloud.parallel`.

use std::time::Duration;

use futures::StreamExt;
use mlua::{Function, Lua, LuaSerdeExt, MultiValue, Table, Value as Lv};

pub fn register(lua: &Lua, cloud: &Table) -> mlua::Result<()> {
    let g = lua.globals();
    g.set("json", json(lua)?)?;
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
    cloud.set("parallel", parallel(lua)?)?;
    Ok(())
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
                // A runner installs its logger (--log-format, --quiet); elsewhere plain stderr.
                match lua.app_data_ref::<std::rc::Rc<crate::chores::logger::Logger>>() {
                    Some(logger) => logger.script(level, &text),
                    None => eprintln!("{level}: {text}"),
                }
                Ok(())
            })?,
        )?;
    }
    Ok(t)
}

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
                let bar = crate::chores::progress::bar(Some(items.len() as u64), "parallel");
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
