//! What makes scripts safe to leave alone: secrets that print as `****`, dry runs, audit lines,
//! locks, timeouts, structured logs, progress bars, and the editor's type definitions.

pub mod docs;
pub mod hook;
pub mod http;
pub mod lock;
pub mod logger;
pub mod progress;
pub mod secret;
pub mod session;
pub mod types;

use std::rc::Rc;

use futures::future::LocalBoxFuture;
use mlua::{Lua, MultiValue, Table, Value as Lv};
use tonic::Code;

use crate::client::ApiKey;
use crate::lua::Cloud;
use crate::lua::error::{CallError, code_name};
use crate::lua::hooks::{self, Call, Hooks, Outcome, Setup};
use crate::lua::spec::{self, Native};

/// What every front end (runner, REPL, docs) installs into its Lua state.
pub const SETUP: &[Setup] = &[register];

/// The call hook (secrets, dry-run plans, audit lines), the runner's logger and progress bars.
struct ChoreHooks;

impl Hooks for ChoreHooks {
    fn around<'a>(
        &'a self,
        lua: &'a Lua,
        call: Call<'a>,
        send: LocalBoxFuture<'a, Outcome>,
    ) -> LocalBoxFuture<'a, Outcome> {
        Box::pin(hook::around(lua, call, send))
    }

    fn log(&self, lua: &Lua, level: &str, text: &str) {
        match lua.app_data_ref::<Rc<logger::Logger>>() {
            Some(logger) => logger.script(level, text),
            None => eprintln!("{level}: {text}"),
        }
    }

    fn progress(&self, len: Option<u64>, label: &str) -> Option<indicatif::ProgressBar> {
        progress::bar(len, label)
    }
}

const REVEAL: Native = Native {
    name: "reveal",
    area: None,
    params: &["s cloud.Secret|string"],
    returns: &["string value"],
    defaults: &[],
    doc: "The real value of a secret (API key, part or location secret).",
};

const IS_PLANNED: Native = Native {
    name: "is_planned",
    area: None,
    params: &["v any"],
    returns: &["boolean planned"],
    defaults: &[],
    doc: "Whether v came from a call planned by --dry-run.",
};

const IS_DRY_RUN: Native = Native {
    name: "is_dry_run",
    area: None,
    params: &[],
    returns: &["boolean dry_run"],
    defaults: &[],
    doc: "Whether this run plans its changes (--dry-run) instead of sending them.",
};

/// Adds the hooks, `cloud.reveal`, `cloud.is_planned` and `cloud.check_key`.
pub fn register(lua: &Lua, table: &Table) -> mlua::Result<()> {
    hooks::install(lua, Rc::new(ChoreHooks));
    http::register(lua)?;
    let reveal = lua.create_function(|_, v: Lv| secret::reveal(&v))?;
    spec::define(lua, table, &REVEAL, reveal)?;
    let is_planned = lua.create_function(|_, v: Lv| {
        Ok(match v {
            Lv::Table(t) => t.raw_get::<Option<bool>>("_planned")?.unwrap_or(false),
            Lv::String(s) => s.as_bytes().as_ref() == hook::PLANNED.as_bytes(),
            _ => false,
        })
    })?;
    spec::define(lua, table, &IS_PLANNED, is_planned)?;
    let is_dry_run = lua.create_function(|lua, ()| {
        Ok(lua
            .app_data_ref::<Rc<session::Session>>()
            .is_some_and(|s| s.dry_run))
    })?;
    spec::define(lua, table, &IS_DRY_RUN, is_dry_run)?;
    // `_check_key` answers like `_call` (ok, value | ok=false, CallError) so the Lua wrapper
    // raises a real error value for failures other than a rejected key.
    table.set(
        "_check_key",
        lua.create_async_function(move |lua, (id, key): (String, Lv)| {
            let cloud = lua.app_data_ref::<Rc<Cloud>>().map(|c| Rc::clone(&c));
            async move {
                let Some(cloud) = cloud else {
                    let e = CallError::new("check_key", "UNAVAILABLE", "not connected");
                    return Ok(MultiValue::from_vec(vec![
                        Lv::Boolean(false),
                        Lv::UserData(lua.create_userdata(e)?),
                    ]));
                };
                let key = secret::reveal(&key)?.unwrap_or_default();
                let r = cloud.client.check_key(&ApiKey { id, key }).await;
                let rejected = |c| matches!(c, Code::Unauthenticated | Code::PermissionDenied);
                let vals: Vec<Lv> = match r {
                    Ok(()) => vec![Lv::Boolean(true), Lv::Boolean(true)],
                    Err(s) if rejected(s.code()) => {
                        let why = format!("{}: {}", code_name(s.code()), s.message());
                        vec![
                            Lv::Boolean(true),
                            Lv::Boolean(false),
                            Lv::String(lua.create_string(why)?),
                        ]
                    }
                    Err(s) => {
                        let e = CallError::from_status("check_key", &s);
                        vec![Lv::Boolean(false), Lv::UserData(lua.create_userdata(e)?)]
                    }
                };
                Ok(MultiValue::from_vec(vals))
            }
        })?,
    )?;
    lua.globals().set(
        "write_private",
        lua.create_function(|_, (path, text): (String, mlua::LuaString)| {
            // Owner-only and atomic: the one writer credentials and profiles use too.
            crate::private_file::write_private(std::path::Path::new(&path), &text.as_bytes())
                .map_err(|e| mlua::Error::runtime(format!("write_private {path}: {e:#}")))
        })?,
    )?;
    lua.load(LUA).set_name("=chores").call::<()>(table.clone())
}

/// `cloud.check_key(id, key)` -> true | false, why: whether an API key authenticates.
const LUA: &str = r#"
local cloud = ...
local function check_key(id, key)
  local ok, good, why = cloud._check_key(id, key)
  if not ok then error(good, 0) end
  return good, why
end
cloud.check_key = check_key
table.insert(cloud._specs, { "check_key", area = "API keys", params = { "id string", "key cloud.Secret|string" },
  returns = { "boolean ok", "string? why" }, doc = "Whether an API key authenticates against the current endpoint.",
  named = false, fn = check_key })
"#;
