//! Functions written in Rust describe themselves where they are defined: `define` sets the
//! function and adds its spec to `cloud._specs`, the one table (with prelude.lua's lines) that
//! help, `fleetsh types` and the coverage tests read.

use mlua::{Function, Lua, Table};

/// The description of a function written in Rust.
pub struct Native {
    pub name: &'static str,
    /// The help area (default: general).
    pub area: Option<&'static str>,
    /// `name type`, a trailing `?` on the type marks an optional parameter.
    pub params: &'static [&'static str],
    /// `type name`.
    pub returns: &'static [&'static str],
    /// `(parameter, value)` as help shows them.
    pub defaults: &'static [(&'static str, &'static str)],
    /// One line of meaning.
    pub doc: &'static str,
}

/// `cloud[spec.name] = f`, with its spec appended to `cloud._specs`. Such functions take
/// their arguments positionally (`named = false`).
pub fn define(lua: &Lua, cloud: &Table, spec: &Native, f: Function) -> mlua::Result<()> {
    let t = lua.create_table()?;
    t.raw_set(1, spec.name)?;
    t.raw_set("area", spec.area)?;
    t.raw_set("params", spec.params)?;
    t.raw_set("returns", spec.returns)?;
    let defaults = lua.create_table()?;
    for (k, v) in spec.defaults {
        defaults.raw_push(lua.create_sequence_from([*k, *v])?)?;
    }
    t.raw_set("defaults_doc", defaults)?;
    t.raw_set("doc", spec.doc)?;
    t.raw_set("named", false)?;
    t.raw_set("fn", f.clone())?;
    specs(lua, cloud)?.raw_push(t)?;
    cloud.raw_set(spec.name, f)
}

/// `cloud._specs`, made on first use.
pub fn specs(lua: &Lua, cloud: &Table) -> mlua::Result<Table> {
    match cloud.raw_get::<Option<Table>>("_specs")? {
        Some(t) => Ok(t),
        None => {
            let t = lua.create_table()?;
            cloud.raw_set("_specs", t.clone())?;
            Ok(t)
        }
    }
}
