//! What makes scripts safe to leave alone: secrets that print as `****`, dry runs, audit lines,
//! locks, timeouts, structured logs, progress bars, and the editor's type definitions.

pub mod docs;
pub mod hook;
pub mod lock;
pub mod logger;
pub mod progress;
pub mod secret;
pub mod session;
pub mod types;

use std::rc::Rc;

use mlua::{Lua, MultiValue, Table, Value as Lv};
use tonic::Code;

use crate::client::ApiKey;
use crate::lua::Cloud;
use crate::lua::error::{CallError, code_name};

/// Adds `cloud.reveal`, `cloud.is_planned` and `cloud.check_key`.
pub fn register(lua: &Lua, table: &Table, cloud: Rc<Cloud>) -> mlua::Result<()> {
    table.set(
        "reveal",
        lua.create_function(|_, v: Lv| secret::reveal(&v))?,
    )?;
    table.set(
        "is_planned",
        lua.create_function(|_, v: Lv| {
            Ok(match v {
                Lv::Table(t) => t.raw_get::<Option<bool>>("_planned")?.unwrap_or(false),
                Lv::String(s) => s.as_bytes().as_ref() == hook::PLANNED.as_bytes(),
                _ => false,
            })
        })?,
    )?;
    // `_check_key` answers like `_call` (ok, value | ok=false, CallError) so the Lua wrapper
    // raises a real error value for failures other than a rejected key.
    table.set(
        "_check_key",
        lua.create_async_function(move |lua, (id, key): (String, Lv)| {
            let cloud = cloud.clone();
            async move {
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
function cloud.check_key(id, key)
  local ok, good, why = cloud._check_key(id, key)
  if not ok then error(good, 0) end
  return good, why
end
"#;
