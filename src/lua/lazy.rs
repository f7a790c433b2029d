//! Lazily converted lists: a long repeated message field of a reply (10,000 machines) becomes
//! a table that decodes each element when it is first read, instead of building every element
//! table before the call returns. Most scripts read a few elements, or only `#`.
//!
//! The list stays raw-empty while it is lazy, so that every read goes through `__index` and
//! every write through `__newindex`; `__len`, `__pairs` and `ipairs` behave as on an array. A
//! write, `setmetatable` (which then refuses it, as it refuses an eager array), `force`, or any Rust code that walks tables raw (json, printing, requests, secrets)
//! first turns it into a plain array with the array metatable: from then on it is exactly what
//! an eager decode would have made. Decoding errors of an element surface when it is read.
//! `getmetatable` answers `false` for it, as for an eager array (whose metatable is protected).

use mlua::{Function, Lua, Table, Value as Lv};

/// Lists shorter than this are decoded at once: laziness pays only for long lists.
pub const LAZY_MIN: usize = 64;

const FACTORY_KEY: &str = "fleetsh.lazy_list";

/// `make(state, n, decode)` -> a lazy list of `n` elements; `decode(state, i)` makes element i.
/// In Lua: element reads are the hot path (an `ipairs` over 10,000 machines), and a Lua
/// closure reads the cache without crossing into Rust.
const FACTORY: &str = r#"
local array_mt, setmetatable = ...
-- No rawset: the prelude wraps it (to force lazy lists), and once `array_mt` is set (it has
-- no __newindex) a plain assignment is raw. `setmetatable` is the raw one from Rust: the
-- prelude's forces the list first, which would call this `force` again.
-- Not getmetatable: the prelude's answers `false` for a lazy list, as for an eager one.
local mtype = math.type
return function(state, n, decode)
  local cache = {}
  local forced = false
  local mt = { __fleetsh_array = true, __lazy = true }
  local function element(i)
    local v = cache[i]
    if v == nil and mtype(i) == "integer" and i >= 1 and i <= n then
      v = decode(state, i)
      cache[i] = v
    end
    return v
  end
  local function force(t)
    if forced then return end
    for i = 1, n do element(i) end
    forced = true
    setmetatable(t, array_mt)
    for i = 1, n do t[i] = cache[i] end
  end
  mt.__force = force
  mt.__index = function(_, i) return element(i) end
  mt.__len = function() return n end
  mt.__pairs = function(t)
    return function(_, i)
      i = i + 1
      local v = t[i]
      if v ~= nil then return i, v end
    end, t, 0
  end
  mt.__newindex = function(t, k, v)
    force(t)
    t[k] = v
  end
  return setmetatable({}, mt)
end
"#;

fn factory(lua: &Lua) -> mlua::Result<Function> {
    if let Ok(f) = lua.named_registry_value::<Function>(FACTORY_KEY) {
        return Ok(f);
    }
    let raw_setmetatable = lua.create_function(|_, (t, mt): (Table, Option<Table>)| {
        t.set_metatable(mt)?;
        Ok(t)
    })?;
    let f: Function = lua
        .load(FACTORY)
        .set_name("=lazy list")
        .call((super::convert::array_marker(lua)?, raw_setmetatable))?;
    lua.set_named_registry_value(FACTORY_KEY, &f)?;
    Ok(f)
}

/// A lazy list of `n` elements: `decode(state, i)` returns element `i` (1-based).
pub fn new_list(lua: &Lua, state: Lv, n: usize, decode: &Function) -> mlua::Result<Table> {
    factory(lua)?.call((state, n, decode))
}

/// Whether `t` is a lazy list not yet turned into a plain array.
pub fn is_lazy(t: &Table) -> bool {
    t.metatable()
        .is_some_and(|mt| mt.raw_get::<bool>("__lazy").unwrap_or(false))
}

/// Turns a lazy list into the plain array an eager decode makes (every element decoded, the
/// array metatable); other tables are left as they are. Call it before walking a table raw.
pub fn force(t: &Table) -> mlua::Result<()> {
    let Some(mt) = t.metatable() else {
        return Ok(());
    };
    match mt.raw_get::<Lv>("__force")? {
        Lv::Function(f) if mt.raw_get::<bool>("__lazy").unwrap_or(false) => f.call(t),
        _ => Ok(()),
    }
}

/// `force` for a value that may be a table.
pub fn force_value(v: &Lv) -> mlua::Result<()> {
    match v {
        Lv::Table(t) => force(t),
        _ => Ok(()),
    }
}

#[cfg(test)]
#[path = "lazy_tests.rs"]
mod tests;
