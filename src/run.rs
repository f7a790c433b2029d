//! The script runner behind `fleetsh run FILE`, `fleetsh run -` and `fleetsh -e CHUNK`: chunk
//! names, the `arg` table, `require` next to the script, and exit codes
//! (0 ok, 1 script error, 2 usage, 3 cannot connect or authenticate; `os.exit(n)` as given).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use mlua::{Function, Lua, MultiValue, Table};

use crate::cli::GlobalOpts;
use crate::client::target::{UsageError, resolve};
use crate::lua::{Cloud, new_state};

pub const EXIT_SCRIPT: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_CONNECT: u8 = 3;

pub enum Source {
    Chunk(String),
    File(PathBuf),
    Stdin,
}

struct Script {
    code: Vec<u8>,
    /// Lua chunk name: `@file` makes messages read `file:line:`.
    chunk_name: String,
    arg0: String,
    dir: Option<PathBuf>,
}

fn load(source: Source) -> Result<Script, String> {
    Ok(match source {
        Source::Chunk(code) => Script {
            code: code.into_bytes(),
            chunk_name: "=(command line)".into(),
            arg0: "-e".into(),
            dir: None,
        },
        Source::Stdin => {
            let mut code = Vec::new();
            std::io::stdin()
                .read_to_end(&mut code)
                .map_err(|e| format!("cannot read stdin: {e}"))?;
            Script {
                code,
                chunk_name: "=stdin".into(),
                arg0: "-".into(),
                dir: None,
            }
        }
        Source::File(path) => {
            let code =
                std::fs::read(&path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
            let dir = path
                .parent()
                .map(Path::to_path_buf)
                .filter(|d| !d.as_os_str().is_empty());
            Script {
                code,
                chunk_name: format!("@{}", path.display()),
                arg0: path.display().to_string(),
                dir: Some(dir.unwrap_or_else(|| PathBuf::from("."))),
            }
        }
    })
}

/// Blanks a `#!` first line (keeping line numbers), as the standalone interpreter does.
fn strip_shebang(code: &mut [u8]) {
    if code.starts_with(b"#") {
        for b in code.iter_mut().take_while(|b| **b != b'\n') {
            *b = b' ';
        }
        code[0] = b'-';
        if code.len() > 1 && code[1] != b'\n' {
            code[1] = b'-';
        }
    }
}

/// Runs `source` against the fleet chosen by `g`; returns the process exit code.
pub fn main(g: &GlobalOpts, source: Source, args: Vec<String>) -> u8 {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fleetsh: cannot start the runtime: {e}");
            return EXIT_SCRIPT;
        }
    };
    rt.block_on(run(g, source, args))
}

async fn run(g: &GlobalOpts, source: Source, args: Vec<String>) -> u8 {
    let mut script = match load(source) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("fleetsh: {e}");
            return EXIT_SCRIPT;
        }
    };
    strip_shebang(&mut script.code);
    let target = match resolve(g).await {
        Ok(t) => t,
        Err(e) if e.is::<UsageError>() => {
            eprintln!("fleetsh: {e}");
            return EXIT_USAGE;
        }
        Err(e) => {
            eprintln!("fleetsh: {e:#}");
            return EXIT_CONNECT;
        }
    };
    let cloud = Rc::new(Cloud {
        client: target.client,
        defaults: target.defaults,
    });
    let code = match new_state(cloud) {
        Ok(lua) => {
            let code = execute(&lua, &script, &args).await;
            drop(lua);
            code
        }
        Err(e) => {
            eprintln!("fleetsh: cannot set up Lua: {e}");
            EXIT_SCRIPT
        }
    };
    if let Some(fleet) = target.fleet {
        if let Err(e) = fleet.stop().await {
            eprintln!("fleetsh: stopping the local fleet: {e:#}");
        }
    }
    code
}

/// Wraps the chunk in xpcall so a failure reports where the script raised it, with a traceback.
const RUNNER: &str =
    "local chunk, handler = ... return function(...) return xpcall(chunk, handler, ...) end";

/// The xpcall message handler. A raised value (a call error) carries no position, so it names
/// the first frame of the script itself (skipping C functions and prelude.lua).
fn handler(lua: &Lua) -> mlua::Result<Function> {
    lua.create_function(|lua, e: mlua::Value| {
        let text = match &e {
            mlua::Value::String(s) => s.to_string_lossy(),
            other => {
                let tostring: Function = lua.globals().get("tostring")?;
                let text: String = tostring.call(other.clone())?;
                format!("{}{text}", script_position(lua).unwrap_or_default())
            }
        };
        lua.traceback(Some(&text), 1)
    })
}

fn script_position(lua: &Lua) -> Option<String> {
    (1..64).find_map(|level| {
        lua.inspect_stack(level, |d| {
            let src = d.source();
            let line = d.current_line()?;
            let short = src.short_src?.to_string();
            (short != "prelude.lua").then(|| format!("{short}:{line}: "))
        })?
    })
}

fn set_args(lua: &Lua, script: &Script, args: &[String]) -> mlua::Result<()> {
    let arg = lua.create_table()?;
    arg.raw_set(0, script.arg0.as_str())?;
    for (i, a) in args.iter().enumerate() {
        arg.raw_set(i + 1, a.as_str())?;
    }
    lua.globals().set("arg", arg)?;
    if let Some(dir) = &script.dir {
        let package: Table = lua.globals().get("package")?;
        let path: String = package.get("path")?;
        let d = dir.display();
        package.set("path", format!("{d}/?.lua;{d}/?/init.lua;{path}"))?;
    }
    Ok(())
}

async fn execute(lua: &Lua, script: &Script, args: &[String]) -> u8 {
    let prepared = (|| -> mlua::Result<Function> {
        set_args(lua, script, args)?;
        let chunk = lua
            .load(&script.code[..])
            .set_name(&script.chunk_name)
            .into_function()?;
        lua.load(RUNNER)
            .set_name("=runner")
            .call::<Function>((chunk, handler(lua)?))
    })();
    let runner = match prepared {
        Ok(f) => f,
        Err(e) => {
            eprintln!("fleetsh: {e}");
            return EXIT_SCRIPT;
        }
    };
    let args = MultiValue::from_iter(
        args.iter()
            .filter_map(|a| lua.create_string(a).ok())
            .map(mlua::Value::String),
    );
    match runner.call_async::<(bool, mlua::Value)>(args).await {
        Ok((true, _)) => 0,
        Ok((false, msg)) => {
            eprintln!(
                "fleetsh: {}",
                msg.to_string().unwrap_or_else(|_| "error".into())
            );
            EXIT_SCRIPT
        }
        Err(e) => {
            eprintln!("fleetsh: {e}");
            EXIT_SCRIPT
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebang_keeps_line_numbers() {
        let mut c = b"#!/usr/bin/env fleetsh run\nprint(1)".to_vec();
        strip_shebang(&mut c);
        assert!(c.starts_with(b"--"));
        assert_eq!(c.iter().filter(|b| **b == b'\n').count(), 1);
    }
}
