//! What a front end plugs into a Lua state without `lua/` knowing it: setup functions that add
//! to `cloud` and the globals (registrars, as wezterm's `add_context_setup_func` list), and one
//! `Hooks` object that every call, log line and progress bar goes through. The runner and the
//! REPL install src/chores/ this way; a bare state (docs, tests) runs with the defaults.

use std::rc::Rc;

use futures::future::LocalBoxFuture;
use mlua::{Lua, Table, Value as Lv};
use prost_reflect::MethodDescriptor;

use super::error::CallError;

/// Adds functions to `cloud` (the table) or to the globals. Runs once per state, after the
/// core and the prelude, so it may use both.
pub type Setup = fn(&Lua, &Table) -> mlua::Result<()>;

/// A call's result as the `cloud` core hands it to Lua: a value, or an error value to raise.
pub type Outcome = mlua::Result<Result<Lv, CallError>>;

/// One `cloud` call about to be sent.
pub struct Call<'a> {
    pub method: &'a MethodDescriptor,
    /// The Lua function's name, as errors and plans name the call.
    pub display: &'a str,
    pub args: Option<Table>,
}

pub trait Hooks {
    /// Around every call: `send` sends it. The default sends it unchanged.
    fn around<'a>(
        &'a self,
        _lua: &'a Lua,
        _call: Call<'a>,
        send: LocalBoxFuture<'a, Outcome>,
    ) -> LocalBoxFuture<'a, Outcome> {
        send
    }

    /// A line from a script's `log.*`.
    fn log(&self, _lua: &Lua, level: &str, text: &str) {
        eprintln!("{level}: {text}");
    }

    /// A progress bar of `len` steps (None: a spinner), or None when bars are off.
    fn progress(&self, _len: Option<u64>, _label: &str) -> Option<indicatif::ProgressBar> {
        None
    }
}

/// The hooks of a state with none installed.
struct Plain;
impl Hooks for Plain {}

/// Installs `hooks` for every later call of this state.
pub fn install(lua: &Lua, hooks: Rc<dyn Hooks>) {
    lua.set_app_data(hooks);
}

/// The installed hooks (the defaults when none are).
pub fn get(lua: &Lua) -> Rc<dyn Hooks> {
    lua.app_data_ref::<Rc<dyn Hooks>>()
        .map_or_else(|| Rc::new(Plain) as Rc<dyn Hooks>, |h| Rc::clone(&h))
}
