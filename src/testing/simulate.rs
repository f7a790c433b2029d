//! `fleet.simulate{...}` in a test: simulated parts (src/sim/) in the test's fleet, calling it
//! over its socket as real parts do. Returns a handle per machine, by name and in order:
//!
//! local sims = fleet.simulate { { name = "rover-1", logs = { rate = "20/s" } } }
//! sims["rover-1"]:wait("online")          -- or "offline", "restarting", "stopped", or a
//!                                          -- function(status) returning true; a timeout
//! sims["rover-1"]:status()                -- {state, live, logs_sent, by_level, readings_sent,
//!                                          --  restarts, ...}
//! sims["rover-1"]:stop()
//!
//! The simulation ends with the test. Offline schedules run on the fleet's clock: each
//! `fleet.clock.advance` moves them on too, and online parts call in at once after it. The
//! parts share the test's thread: they run while the test waits (a cloud call, `t.run`,
//! `sleep`, a handle's `wait`), not during a stretch of plain Lua.

use std::sync::Arc;
use std::time::Duration;

use mlua::{Lua, LuaSerdeExt, Table, UserData, UserDataFields, UserDataMethods, Value as Lv};

use crate::sim::{Access, SimClock, SimPart, Simulation, State, Status};

/// The test's simulations, its clock and how the simulator reaches the test's fleet.
struct Sims {
    access: Access,
    clock: SimClock,
    running: Vec<Simulation>,
}

const DEFAULT_WAIT: Duration = Duration::from_secs(10);

/// Called when a test's fleet is up.
pub fn begin(lua: &Lua, c: &crate::server::Credentials) {
    lua.set_app_data(Sims {
        access: Access::from_credentials(c),
        clock: SimClock::new(),
        running: Vec::new(),
    });
}

/// Called when the test is over, before its fleet stops: no part calls after this.
pub async fn end(lua: &Lua) {
    if let Some(sims) = lua.remove_app_data::<Sims>() {
        for s in sims.running {
            s.stop().await;
        }
    }
}

/// Called after `fleet.clock.advance` moved the fleet's stored times.
pub fn clock_advanced(lua: &Lua, by: Duration) {
    if let Some(sims) = lua.app_data_ref::<Sims>() {
        sims.clock.advance(by);
    }
}

pub fn register(lua: &Lua, fleet: &Table) -> mlua::Result<()> {
    fleet.set(
        "simulate",
        lua.create_async_function(|lua, spec: Lv| async move {
            let err = |e: String| mlua::Error::runtime(format!("fleet.simulate: {e}"));
            let value: serde_json::Value = lua.from_value(spec).map_err(|e| err(e.to_string()))?;
            let specs = crate::sim::spec::machines(value).map_err(err)?;
            let Some((access, clock)) = lua
                .app_data_ref::<Sims>()
                .map(|s| (s.access.clone(), s.clock.clone()))
            else {
                return Err(err("only inside a test".into()));
            };
            let sim = crate::sim::start(&access, specs, clock)
                .await
                .map_err(err)?;
            let handles = lua.create_table()?;
            for p in &sim.parts {
                let h = lua.create_userdata(Handle(p.clone()))?;
                handles.set(p.machine_name.as_str(), h.clone())?;
                handles.raw_push(h)?;
            }
            match lua.app_data_mut::<Sims>() {
                Some(mut s) => s.running.push(sim),
                None => return Err(err("the test ended while starting".into())),
            }
            Ok(handles)
        })?,
    )
}

struct Handle(Arc<SimPart>);

/// What `wait` waits for, checked on every change of the part's status.
type Condition = Box<dyn Fn(&Lua, &Status) -> mlua::Result<bool>>;

fn status_table(lua: &Lua, part: &SimPart, s: &Status) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("state", s.state.name())?;
    t.set("live", part.live(s))?;
    t.set("logs_sent", s.logs_sent)?;
    let levels = lua.create_table()?;
    for (l, n) in &s.by_level {
        levels.set(l.as_str(), *n)?;
    }
    t.set("by_level", levels)?;
    t.set("readings_sent", s.readings_sent)?;
    t.set("restarts", s.restarts)?;
    t.set("config_fetches", s.config_fetches)?;
    t.set("components", s.components.clone())?;
    t.set("last_error", s.last_error.clone())?;
    Ok(t)
}

impl UserData for Handle {
    fn add_fields<F: UserDataFields<Self>>(fields: &mut F) {
        fields.add_field_method_get("machine", |_, h| Ok(h.0.machine_name.clone()));
        fields.add_field_method_get("machine_id", |_, h| Ok(h.0.machine_id.clone()));
        fields.add_field_method_get("part", |_, h| Ok(h.0.part_name.clone()));
        fields.add_field_method_get("part_id", |_, h| Ok(h.0.part_id.clone()));
    }

    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method("status", |lua, h, ()| {
            status_table(lua, &h.0, &h.0.status())
        });
        methods.add_method("stop", |_, h, ()| {
            h.0.stop();
            Ok(())
        });
        // wait("online" | state name | function(status) -> bool, timeout?): "online" means
        // online as the fleet sees it (called in since the clock last moved).
        methods.add_async_method("wait", |lua, h, (cond, timeout): (Lv, Option<Lv>)| {
            let part = h.0.clone();
            async move {
                let limit = match &timeout {
                    None | Some(Lv::Nil) => DEFAULT_WAIT,
                    Some(v) => Duration::from_secs_f64(
                        crate::lua::time::duration(v)
                            .map_err(|e| mlua::Error::runtime(format!("wait: {e}")))?,
                    ),
                };
                let (what, pred): (String, Condition) = match &cond {
                    Lv::String(s) => {
                        let name = s.to_str()?.to_string();
                        let state = State::parse(&name).ok_or_else(|| {
                            mlua::Error::runtime(format!(
                                "wait: {name:?} is not a state (starting, online, offline, \
                                     restarting, stopped) nor a function"
                            ))
                        })?;
                        let p = part.clone();
                        (
                            name,
                            Box::new(move |_, s: &Status| {
                                Ok(if state == State::Online {
                                    p.live(s)
                                } else {
                                    s.state == state
                                })
                            }),
                        )
                    }
                    Lv::Function(f) => {
                        let (f, p) = (f.clone(), part.clone());
                        (
                            "the condition".into(),
                            Box::new(move |lua, s: &Status| {
                                f.call::<bool>(status_table(lua, &p, s)?)
                            }),
                        )
                    }
                    _ => {
                        return Err(mlua::Error::runtime(
                            "wait takes a state name or a function(status)",
                        ));
                    }
                };
                let mut failure = None;
                let result = part
                    .wait_until(limit, |s| match pred(&lua, s) {
                        Ok(done) => done,
                        Err(e) => {
                            failure = Some(e);
                            true
                        }
                    })
                    .await;
                if let Some(e) = failure {
                    return Err(e);
                }
                match result {
                    Ok(s) => status_table(&lua, &part, &s),
                    Err(s) => Err(mlua::Error::runtime(format!(
                        "simulated machine {}: not {what} after {} (state {}{})",
                        part.machine_name,
                        humantime::format_duration(limit),
                        s.state.name(),
                        s.last_error
                            .map(|e| format!("; last error: {e}"))
                            .unwrap_or_default()
                    ))),
                }
            }
        });
    }
}
