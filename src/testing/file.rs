//! One test file: its own Lua state (the runner's, offline), the harness, the file's chunk;
//! then each test it registered, against a fresh local fleet in a temp directory, with
//! before_each/after_each around it and a deadline.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use mlua::{Function, HookTriggers, Lua, Table, VmState};

use crate::client::target::{Selection, local};
use crate::lua::{Cloud, cloud, new_state};

const HARNESS: &str = include_str!("harness.lua");
pub(super) const SEED: &str = include_str!("seed.lua");

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Passed,
    /// `file:line: message` of the failing assertion or error.
    Failed(String),
    Skipped(String),
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub file: PathBuf,
    pub name: String,
    pub verdict: Verdict,
    pub took: Duration,
}

/// The server side of the test's fleet, for what a test does to it directly (the clock).
struct TestFleet(std::sync::Arc<crate::server::Api>);

pub struct Options {
    /// `--seed FILE`: its path and text, seeded into every test's fleet (`t.ids`).
    pub seed: Option<(PathBuf, String)>,
    pub filter: Option<String>,
    pub timeout: Duration,
    pub call_timeout: Duration,
}

/// Runs every test of `path` (on this thread) and returns their outcomes. A file that does not
/// load is one failed outcome named after the file.
pub fn run(path: &Path, opts: &Options) -> Vec<Outcome> {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return vec![broken(path, format!("cannot start a runtime: {e}"))],
    };
    rt.block_on(run_async(path, opts))
}

fn broken(path: &Path, message: String) -> Outcome {
    Outcome {
        file: path.to_path_buf(),
        name: "(file)".into(),
        verdict: Verdict::Failed(message),
        took: Duration::ZERO,
    }
}

async fn run_async(path: &Path, opts: &Options) -> Vec<Outcome> {
    let (lua, registry) = match load(path, opts.seed.as_ref()) {
        Ok(x) => x,
        Err(e) => return vec![broken(path, e)],
    };
    let deadline = Rc::new(Cell::new(None::<Instant>));
    let limit = opts.timeout;
    let d = deadline.clone();
    // A busy loop never yields to the timer: the instruction hook stops it at the deadline.
    let hooked = lua.set_global_hook(
        HookTriggers::new().every_nth_instruction(10_000),
        move |_, _| match d.get() {
            Some(at) if Instant::now() >= at => Err(mlua::Error::runtime(format!(
                "test timed out after {} (--test-timeout)",
                humantime::format_duration(limit)
            ))),
            _ => Ok(VmState::Continue),
        },
    );
    if let Err(e) = hooked {
        return vec![broken(path, e.to_string())];
    }
    let tests: Vec<Table> = match registry
        .get::<Table>("tests")
        .and_then(|t| t.sequence_values().collect())
    {
        Ok(t) => t,
        Err(e) => return vec![broken(path, e.to_string())],
    };
    let mut out = Vec::new();
    for test in tests {
        let name: String = test.get("name").unwrap_or_default();
        if opts
            .filter
            .as_ref()
            .is_some_and(|f| !name.contains(f.as_str()))
        {
            continue;
        }
        let started = Instant::now();
        deadline.set(Some(started + limit));
        let verdict =
            match tokio::time::timeout(limit, one(&lua, &registry, &test, opts, path)).await {
                Ok(v) => v,
                Err(_) => Verdict::Failed(format!(
                    "{}: test timed out after {} (--test-timeout)",
                    test.get::<String>("where").unwrap_or_default(),
                    humantime::format_duration(limit)
                )),
            };
        deadline.set(None);
        out.push(Outcome {
            file: path.to_path_buf(),
            name,
            verdict,
            took: started.elapsed(),
        });
    }
    out
}

/// The file's state: the runner's setups (offline until a test connects it), the harness,
/// then the file itself, which registers its tests.
fn load(path: &Path, seed: Option<&(PathBuf, String)>) -> Result<(Lua, Table), String> {
    let code = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let lua = new_state(None, crate::run::SETUPS).map_err(|e| e.to_string())?;
    let registry = lua.create_table().map_err(|e| e.to_string())?;
    let setup = || -> mlua::Result<()> {
        for k in ["tests", "before", "after"] {
            registry.set(k, lua.create_table()?)?;
        }
        registry.set(
            "run_chore",
            lua.create_async_function(|lua, (script, args, opts)| {
                super::chore::run(lua, script, args, opts)
            })?,
        )?;
        registry.set(
            "test_dir",
            lua.create_function(|lua, ()| {
                Ok(lua
                    .app_data_ref::<super::chore::ChoreTarget>()
                    .map(|t| t.dir.display().to_string()))
            })?,
        )?;
        registry.set(
            "user_position",
            lua.create_function(|lua, ()| Ok(user_position(lua)))?,
        )?;
        lua.load(HARNESS)
            .set_name("=harness")
            .call::<()>(registry.clone())?;
        lua.load(SEED).set_name("=seed").exec()?;
        // fleet.clock.advance("91d"): the test's fleet gets that much older (server/clock.rs).
        let clock = lua.create_table()?;
        clock.set(
            "advance",
            lua.create_function(|lua, d: mlua::Value| {
                let secs = crate::lua::time::duration(&d)
                    .map_err(|e| mlua::Error::runtime(format!("fleet.clock.advance: {e}")))?;
                let Some(api) = lua.app_data_ref::<TestFleet>().map(|f| f.0.clone()) else {
                    return Err(mlua::Error::runtime(
                        "fleet.clock.advance: only inside a test",
                    ));
                };
                let nanos = (secs * 1e9) as i64;
                let moved = api
                    .store
                    .tx(|tx| crate::server::clock::advance(tx, nanos))
                    .map_err(|e| mlua::Error::runtime(format!("fleet.clock.advance: {e}")))?;
                // Simulated parts' schedules run on the fleet's clock (sim/clock.rs).
                let by = std::time::Duration::try_from_secs_f64(secs).unwrap_or_default();
                super::simulate::clock_advanced(lua, by);
                Ok(moved)
            })?,
        )?;
        let fleet: Table = lua.globals().get("fleet")?;
        fleet.set("clock", clock)?;
        super::simulate::register(&lua, &fleet)?;
        // fleet.fault{method = "MarkPartForRestart", code = "UNAVAILABLE", times = 2}: the
        // test's fleet answers such calls that way (server/faults.rs).
        fleet.set(
            "fault",
            lua.create_function(|lua, spec: Table| {
                let rule = fault_rule(lua, spec)
                    .map_err(|e| mlua::Error::runtime(format!("fleet.fault: {e}")))?;
                let Some(api) = lua.app_data_ref::<TestFleet>().map(|f| f.0.clone()) else {
                    return Err(mlua::Error::runtime("fleet.fault: only inside a test"));
                };
                api.faults.add(rule);
                Ok(())
            })?,
        )?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // `require` finds modules next to the test file, as for scripts.
            let package: Table = lua.globals().get("package")?;
            let p: String = package.get("path")?;
            let d = dir.display();
            package.set("path", format!("{d}/?.lua;{d}/?/init.lua;{p}"))?;
        }
        Ok(())
    };
    setup().map_err(|e| e.to_string())?;
    if let Some((seed_path, text)) = seed {
        registry
            .set("seed", seed_spec(&lua, seed_path, text)?)
            .map_err(|e| e.to_string())?;
    }
    let chunk = lua
        .load(&code[..])
        .set_name(format!("@{}", path.display()))
        .into_function()
        .map_err(|e| e.to_string())?;
    // Registering runs no cloud call, so the chunk runs without a fleet.
    chunk
        .call::<()>(())
        .map_err(|e| first_line(&e.to_string()))?;
    Ok((lua, registry))
}

/// The `--seed` file as a Lua table: JSON (`.json`) or a Lua chunk returning the table.
pub(super) fn seed_spec(lua: &Lua, path: &Path, text: &str) -> Result<Table, String> {
    let shown = path.display();
    if path.extension().is_some_and(|e| e == "json") {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("--seed {shown}: {e}"))?;
        return match mlua::LuaSerdeExt::to_value(lua, &v) {
            Ok(mlua::Value::Table(t)) => Ok(t),
            _ => Err(format!("--seed {shown}: expected a JSON object")),
        };
    }
    lua.load(text)
        .set_name(format!("@{shown}"))
        .eval::<Table>()
        .map_err(|e| format!("--seed {shown}: {}", first_line(&e.to_string())))
}

/// A fault rule from its Lua table, read by the same `Rule::from_fields` as a `--faults` file
/// and the admin API, so a field means, and is refused, the same everywhere.
fn fault_rule(lua: &Lua, t: Table) -> Result<crate::server::faults::Rule, String> {
    let v: serde_json::Value =
        mlua::LuaSerdeExt::from_value(lua, mlua::Value::Table(t)).map_err(|e| e.to_string())?;
    let fields = match v {
        serde_json::Value::Object(fields) => fields,
        // An empty Lua table reads as a list: it has no fields, so `method` is missing.
        serde_json::Value::Array(list) if list.is_empty() => serde_json::Map::new(),
        other => return Err(format!("expected a table of fields, got {other}")),
    };
    crate::server::faults::Rule::from_fields(&fields).map_err(|e| e.to_string())
}

/// `file:line` of the innermost frame of a `@file` chunk other than the prelude: the test
/// file's own line, below the harness and fleetsh's Lua.
fn user_position(lua: &Lua) -> Option<String> {
    (1..128).find_map(|level| {
        lua.inspect_stack(level, |d| {
            let src = d.source();
            let line = d.current_line()?;
            let name = src.source?;
            let short = src.short_src?;
            (name.starts_with('@') && short != "prelude.lua").then(|| format!("{short}:{line}"))
        })?
    })
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or(s).to_string()
}

/// One test against a fleet of its own: before_each, the test, after_each (always).
fn test_dir(path: &Path) -> PathBuf {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

async fn one(lua: &Lua, registry: &Table, test: &Table, opts: &Options, path: &Path) -> Verdict {
    let dir = match tempfile::Builder::new().prefix("fleetsh-test-").tempdir() {
        Ok(d) => d,
        Err(e) => return Verdict::Failed(format!("cannot make a temp dir: {e}")),
    };
    let selection = Selection::local(dir.path().join("fleet"), opts.call_timeout);
    let target = match local(&selection).await {
        Ok(t) => t,
        Err(e) => return Verdict::Failed(format!("cannot start the test's fleet: {e:#}")),
    };
    let table: Table = match lua.globals().get("cloud") {
        Ok(t) => t,
        Err(e) => return Verdict::Failed(e.to_string()),
    };
    let cloud = Rc::new(Cloud {
        client: target.client,
        defaults: target.defaults,
    });
    if let Some(fleet) = &target.fleet {
        lua.set_app_data(TestFleet(fleet.api.clone()));
        let c = &fleet.credentials;
        super::simulate::begin(lua, c);
        lua.set_app_data(super::chore::ChoreTarget {
            url: c.address.clone(),
            key_id: c.api_key_id.clone(),
            key: c.api_key.clone(),
            dir: dir.path().to_path_buf(),
            base: test_dir(path),
        });
    }
    let verdict = match cloud::connect(lua, &table, cloud) {
        Ok(()) => body(registry, test).await,
        Err(e) => Verdict::Failed(e.to_string()),
    };
    // The fleet, its simulated parts, its directory and its calls go with the test.
    super::simulate::end(lua).await;
    lua.remove_app_data::<Rc<Cloud>>();
    lua.remove_app_data::<super::chore::ChoreTarget>();
    lua.remove_app_data::<TestFleet>();
    if let Some(fleet) = target.fleet {
        let _ = fleet.stop().await;
    }
    verdict
}

async fn body(registry: &Table, test: &Table) -> Verdict {
    let run = async || -> mlua::Result<Verdict> {
        let new_t: Function = registry.get("new_t")?;
        let step: Function = registry.get("run")?;
        let t: Table = new_t.call(test.clone())?;
        let judge = async |f: Function| -> mlua::Result<Verdict> {
            let (status, message): (String, Option<String>) =
                step.call_async((f, t.clone())).await?;
            let message = message.unwrap_or_default();
            Ok(match status.as_str() {
                "pass" => Verdict::Passed,
                "skip" => Verdict::Skipped(message),
                _ => Verdict::Failed(message),
            })
        };
        let mut verdict = Verdict::Passed;
        // `--seed FILE`: the fleet described there, ids in `t.ids`, before any before_each.
        if registry.contains_key("seed")? {
            verdict = judge(registry.get("seed_step")?).await?;
        }
        for f in registry
            .get::<Table>("before")?
            .sequence_values::<Function>()
        {
            if verdict != Verdict::Passed {
                break;
            }
            verdict = judge(f?).await?;
            if verdict != Verdict::Passed {
                break;
            }
        }
        if verdict == Verdict::Passed {
            verdict = judge(test.get("fn")?).await?;
        }
        for f in registry
            .get::<Table>("after")?
            .sequence_values::<Function>()
        {
            let after = judge(f?).await?;
            if verdict == Verdict::Passed {
                verdict = after;
            }
        }
        Ok(verdict)
    };
    run()
        .await
        .unwrap_or_else(|e| Verdict::Failed(first_line(&e.to_string())))
}
