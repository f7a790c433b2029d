//! `fleetsh repl` (and bare `fleetsh` on a terminal): the runner's connected state, a banner,
//! then the interactive loop.

use std::rc::Rc;

use mlua::Lua;

use crate::chores::logger::{LogFormat, Logger};
use crate::chores::session::Session;
use crate::cli::GlobalOpts;
use crate::exit::SCRIPT as EXIT_SCRIPT;
use crate::run::{self, Connected};

/// Runs the REPL against the fleet chosen by `g`; returns the process exit code (0 on Ctrl-D).
pub fn main(g: &GlobalOpts) -> u8 {
    run::on_lua_thread(session(g))
}

async fn session(g: &GlobalOpts) -> u8 {
    let logger = Rc::new(Logger {
        format: LogFormat::Text,
        quiet: g.quiet,
        script: "repl".into(),
        run_id: run::run_id(),
    });
    let session = match Session::new(false, logger.clone(), None) {
        Ok(s) => Rc::new(s),
        Err(e) => {
            logger.runner("error", &e);
            return EXIT_SCRIPT;
        }
    };
    // The banner names the local fleet's directory; the runner's own notice would repeat it.
    let quiet = GlobalOpts {
        quiet: true,
        ..g.clone()
    };
    let Connected { lua, fleet, label } = match run::connect(&quiet, &logger, session).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    let banner = banner(&lua, &label, fleet.is_some()).await;
    let code = match super::run(&lua, &banner, super::Options::default()).await {
        Ok(()) => 0,
        Err(e) => {
            logger.runner("error", &format!("{e:#}"));
            EXIT_SCRIPT
        }
    };
    drop(lua);
    run::stop_fleet(fleet, &logger).await;
    code
}

/// `fleetsh 0.1.0 · Lua 5.4 · local fleet DIR` or `... · https://app.viam.com:443 · org ID`.
async fn banner(lua: &Lua, label: &str, local: bool) -> String {
    let lua_version: String = lua
        .globals()
        .get("_VERSION")
        .unwrap_or_else(|_| "Lua".into());
    let mut text = format!(
        "fleetsh {} · {lua_version} · {label}",
        env!("CARGO_PKG_VERSION")
    );
    if !local {
        text.push_str(" · ");
        text.push_str(&organization(lua).await);
    }
    text.push_str(" · help() lists the cloud functions, Ctrl-D exits");
    text
}

/// The organization calls default to (one call for a remote without a profile org), or why
/// there is none.
async fn organization(lua: &Lua) -> String {
    let chunk = "local ok, v = pcall(cloud.default_org_id) return ok, tostring(v)";
    let answer = match lua.load(chunk).set_name("=banner").into_function() {
        Ok(f) => f.call_async::<(bool, String)>(()).await,
        Err(e) => Err(e),
    };
    match answer {
        Ok((true, id)) => format!("org {id}"),
        Ok((false, why)) => format!("no default org ({why})"),
        Err(e) => format!("no default org ({})", super::eval::message(&e)),
    }
}
