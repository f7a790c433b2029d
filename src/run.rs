//! The script runner behind `fleetsh run FILE`, `fleetsh run -` and `fleetsh -e CHUNK`: chunk
//! names, the `arg` table, `require` next to the script, exit codes, and the unattended-run
//! options (dry run, lock, timeout, log format, audit; see src/chores/).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use mlua::{Function, HookTriggers, Lua, MultiValue, Table, UserData, VmState};

use crate::chores::lock::{self, LockError};
use crate::chores::logger::{LogFormat, Logger};
use crate::chores::progress;
use crate::chores::session::Session;
use crate::cli::{GlobalOpts, OutputFormat, RunnerOpts};
use crate::client::target::{UsageError, resolve};
use crate::lua::{Cloud, new_state};
use crate::repl::printer::Printer;
use crate::server::Embedded;

use crate::exit;

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
pub fn main(g: &GlobalOpts, r: &RunnerOpts, source: Source, args: Vec<String>) -> u8 {
    on_lua_thread(run(g, r, source, args))
}

/// Runs `f` on a current-thread runtime: Lua stays on one thread, and concurrency inside a
/// script comes from async calls in coroutines.
pub fn on_lua_thread(f: impl std::future::Future<Output = u8>) -> u8 {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(f),
        Err(e) => {
            eprintln!("fleetsh: cannot start the runtime: {e}");
            exit::SCRIPT
        }
    }
}

pub fn run_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
}

async fn run(g: &GlobalOpts, r: &RunnerOpts, source: Source, args: Vec<String>) -> u8 {
    let label = match &source {
        Source::Chunk(_) => "-e".to_string(),
        Source::Stdin => "-".to_string(),
        Source::File(p) => p.display().to_string(),
    };
    let logger = Rc::new(Logger {
        format: r.log_format.unwrap_or_default(),
        quiet: g.quiet,
        script: label,
        run_id: run_id(),
    });
    // Bars are not log lines: none in cron (quiet) or where every stderr line is JSON.
    if g.quiet || logger.format == LogFormat::Json {
        progress::suppress();
    }
    // Taken before anything else (even connecting), held until the process ends.
    let _lock = match r.lock.as_deref().map(|p| lock::acquire(p, &logger.run_id)) {
        None => None,
        Some(Ok(l)) => Some(l),
        Some(Err(LockError::Held(who))) => {
            logger.runner("error", &who);
            return exit::LOCKED;
        }
        Some(Err(LockError::Io(e))) => {
            logger.runner("error", &e);
            return exit::USAGE;
        }
    };
    let mut script = match load(source) {
        Ok(s) => s,
        Err(e) => {
            logger.runner("error", &e);
            return exit::SCRIPT;
        }
    };
    strip_shebang(&mut script.code);
    let session = match Session::new(r.dry_run, logger.clone(), r.audit.as_deref()) {
        Ok(s) => Rc::new(s),
        Err(e) => {
            logger.runner("error", &e);
            return exit::USAGE;
        }
    };
    let Connected { lua, fleet, .. } = match connect(g, &logger, session.clone()).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    // `--output json` asks for a JSON stdout even when the script writes it itself.
    let mut json_on_stdout = r.output == Some(OutputFormat::Json);
    let mut code = match prepare(&lua, r.timeout) {
        Ok(()) => {
            let ended = match r.timeout {
                None => execute(&lua, &script, &args).await,
                Some(limit) => {
                    let started = Instant::now();
                    match tokio::time::timeout(limit, execute(&lua, &script, &args)).await {
                        Ok(ended) if started.elapsed() < limit => ended,
                        // Past the deadline the outcome is the timeout, said once: the
                        // instruction hook stops a CPU-bound script with an error of its own.
                        _ => Ended::TimedOut(limit),
                    }
                }
            };
            // Lua's print/io.write buffer in C stdio: flush before the plan is printed.
            let _ = lua.load("io.stdout:flush()").exec();
            // The embedded fleet opens at the first call: if it could not, the run fails as
            // one whose fleet could not start before the script (its message, exit code 3),
            // whatever the script made of the failed call.
            if let Some(e) = fleet.as_ref().and_then(Embedded::failed_open) {
                logger.runner("error", &e);
                drop(lua);
                stop_fleet(fleet, &logger).await;
                return exit::CONNECT;
            }
            match ended {
                Ended::Returned(values) => match print_values(&lua, &values, r.output) {
                    Ok(json) => {
                        json_on_stdout |= json;
                        0
                    }
                    Err(e) => {
                        logger.runner("error", &e);
                        exit::SCRIPT
                    }
                },
                Ended::Exit(n) => n,
                Ended::Failed(message) => {
                    logger.runner("error", &message);
                    exit::SCRIPT
                }
                Ended::TimedOut(limit) => {
                    let limit = humantime::format_duration(limit);
                    logger.runner("error", &format!("timed out after {limit} (--timeout)"));
                    exit::TIMEOUT
                }
            }
        }
        Err(e) => {
            logger.runner("error", &format!("cannot set up Lua: {e}"));
            exit::SCRIPT
        }
    };
    drop(lua);
    if r.dry_run && code != exit::TIMEOUT {
        session.print_plan(json_on_stdout);
        if code == 0 && session.planned_changes() > 0 {
            code = exit::PLANNED;
        }
    }
    if session.audit_failed.get() && code == 0 {
        code = exit::SCRIPT;
    }
    stop_fleet(fleet, &logger).await;
    code
}

/// What the runner installs into `lua/`'s state: the chores (secrets, dry run, audit, logger,
/// progress) and `help`.
pub const SETUPS: &[crate::lua::Setup] = &[crate::chores::register, crate::repl::help::setup];

/// A Lua state connected to the chosen fleet, as every front end (runner, REPL) gets it.
pub struct Connected {
    pub lua: Lua,
    /// The in-process local fleet, to stop (`stop_fleet`) after the state is dropped.
    pub fleet: Option<Embedded>,
    /// Where calls go, for people (`local fleet DIR` or the remote URL).
    pub label: String,
}

/// Resolves the target (flags, environment, profile, else the embedded local fleet), connects,
/// and builds the Lua state: `cloud`, the helpers, and the logger and session that `log.*` and
/// the call hook (dry run, audit) read. Failures are logged; `Err` is the exit code.
pub async fn connect(
    g: &GlobalOpts,
    logger: &Rc<Logger>,
    session: Rc<Session>,
) -> Result<Connected, u8> {
    let target = match resolve(&g.selection()).await {
        Ok(t) => t,
        Err(e) if e.is::<UsageError>() => {
            logger.runner("error", &e.to_string());
            return Err(exit::USAGE);
        }
        Err(e) => {
            logger.runner("error", &format!("{e:#}"));
            return Err(exit::CONNECT);
        }
    };
    // Through the logger, so it is a JSON line under --log-format json.
    if let Some(notice) = &target.notice
        && !g.quiet
    {
        logger.runner("info", notice);
    }
    let cloud = Rc::new(Cloud {
        client: target.client,
        defaults: target.defaults,
    });
    let state = new_state(Some(cloud), SETUPS).inspect(|lua| {
        lua.set_app_data(logger.clone());
        lua.set_app_data(session);
    });
    let fleet = match (target.fleet, target.on_first_call) {
        (Some(started), _) => Some(Embedded::Started(started)),
        (None, lazy) => lazy.map(Embedded::OnFirstCall),
    };
    match state {
        Ok(lua) => Ok(Connected {
            lua,
            fleet,
            label: target.label,
        }),
        Err(e) => {
            logger.runner("error", &format!("cannot set up Lua: {e}"));
            stop_fleet(fleet, logger).await;
            Err(exit::SCRIPT)
        }
    }
}

/// Stops the in-process local fleet, if one was started (its store is closed cleanly).
pub async fn stop_fleet(fleet: Option<Embedded>, logger: &Logger) {
    if let Some(fleet) = fleet
        && let Err(e) = fleet.stop().await
    {
        logger.runner("warn", &format!("stopping the local fleet: {e:#}"));
    }
}

/// `os.exit(n)` raised as a value so the runner still prints the plan, releases the lock and
/// stops the local fleet before exiting with `n`.
struct ExitRequest(u8);
impl UserData for ExitRequest {}

/// Runner-only setup of a connected state: `os.exit`, and the instruction hook that stops
/// CPU-bound code at the deadline.
fn prepare(lua: &Lua, timeout: Option<Duration>) -> mlua::Result<()> {
    let exit = lua.create_function(|lua, v: mlua::Value| {
        let code = match v {
            mlua::Value::Nil | mlua::Value::Boolean(true) => 0,
            mlua::Value::Boolean(false) => 1,
            mlua::Value::Integer(n) => (n & 0xff) as u8,
            mlua::Value::Number(n) => (n as i64 & 0xff) as u8,
            other => {
                return Err(mlua::Error::runtime(format!(
                    "os.exit: expected a number or boolean, got {}",
                    other.type_name()
                )));
            }
        };
        lua.create_userdata(ExitRequest(code))
    })?;
    lua.load("local make = ... os.exit = function(code) error(make(code), 0) end")
        .set_name("=os.exit")
        .call::<()>(exit)?;
    if let Some(limit) = timeout {
        let deadline = Instant::now() + limit;
        lua.set_global_hook(
            HookTriggers::new().every_nth_instruction(10_000),
            move |_, _| {
                if Instant::now() >= deadline {
                    return Err(mlua::Error::runtime(format!(
                        "timed out after {} (--timeout)",
                        humantime::format_duration(limit)
                    )));
                }
                Ok(VmState::Continue)
            },
        )?;
    }
    Ok(())
}

/// Wraps the chunk in xpcall so a failure reports where the script raised it, with a traceback.
const RUNNER: &str =
    "local chunk, handler = ... return function(...) return xpcall(chunk, handler, ...) end";

/// The xpcall message handler: the message starts with the script's own position, and the
/// traceback shows the script's frames only (see `user_frames`).
fn handler(lua: &Lua) -> mlua::Result<Function> {
    lua.create_function(|lua, e: mlua::Value| {
        if let mlua::Value::UserData(u) = &e {
            if u.is::<ExitRequest>() {
                return Ok(e);
            }
        }
        let text = match &e {
            mlua::Value::String(s) => s.to_string_lossy(),
            other => {
                let tostring: Function = lua.globals().get("tostring")?;
                tostring.call(other.clone())?
            }
        };
        // A Rust callback's error carries mlua's traceback already: one traceback is enough.
        let text = text
            .split_once("\nstack traceback:")
            .map_or(text.as_str(), |(m, _)| m);
        // A raised value (a call error) carries no position, and one raised inside fleetsh's
        // own Lua names that: either way, name the script's innermost frame instead.
        let text = match strip_internal_position(text) {
            Some(rest) => format!("{}{rest}", script_position(lua).unwrap_or_default()),
            None if !matches!(e, mlua::Value::String(_)) => {
                format!("{}{text}", script_position(lua).unwrap_or_default())
            }
            None => text.to_string(),
        };
        let traceback = lua.traceback(Some(&text), 1)?.to_string_lossy();
        Ok(mlua::Value::String(
            lua.create_string(user_frames(&traceback))?,
        ))
    })
}

/// Chunk names (`short_src`) of fleetsh's own Lua code and mlua's glue: not the user's frames.
const INTERNAL_SOURCES: &[&str] = &[
    "prelude.lua",
    "runner",
    "chores",
    "cloud.parallel",
    "os.exit",
    "__mlua_async_poll",
];

fn is_internal(short_src: &str) -> bool {
    INTERNAL_SOURCES.contains(&short_src)
}

/// `prelude.lua:12: msg` -> `Some("msg")`; a message without an internal position -> None.
pub fn strip_internal_position(message: &str) -> Option<&str> {
    let (src, rest) = message.split_once(':')?;
    let (line, rest) = rest.split_once(": ")?;
    (is_internal(src) && line.bytes().all(|b| b.is_ascii_digit())).then_some(rest)
}

/// A Lua traceback with the frames of fleetsh's own code removed (prelude.lua, the runner's
/// xpcall, chores, mlua's glue), and with them the C functions they called (`error`, `xpcall`):
/// what is left is where the user's code was. The message before `stack traceback:` is kept.
pub fn user_frames(traceback: &str) -> String {
    let Some((message, frames)) = traceback.split_once("\nstack traceback:") else {
        return traceback.to_string();
    };
    let frames: Vec<&str> = frames.lines().filter(|l| !l.trim().is_empty()).collect();
    let source = |l: &str| l.trim().split_once(':').map(|(s, _)| s.to_string());
    let internal = |l: &str| source(l).is_some_and(|s| is_internal(&s));
    let kept: Vec<&str> = frames
        .iter()
        .enumerate()
        .filter(|(i, l)| {
            if internal(l) {
                return false;
            }
            // A C function belongs to whoever called it: the frame below it.
            if l.trim().starts_with("[C]:") {
                return frames.get(i + 1).is_some_and(|next| !internal(next));
            }
            true
        })
        .map(|(_, l)| *l)
        .collect();
    if kept.is_empty() {
        return message.to_string();
    }
    format!("{message}\nstack traceback:\n{}", kept.join("\n"))
}

/// `file:line: ` of the innermost frame of the script itself (not C, not fleetsh's own Lua).
fn script_position(lua: &Lua) -> Option<String> {
    (1..64).find_map(|level| {
        lua.inspect_stack(level, |d| {
            let src = d.source();
            let line = d.current_line()?;
            let short = src.short_src?.to_string();
            (!is_internal(&short) && short != "[C]").then(|| format!("{short}:{line}: "))
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

/// How a script ended.
enum Ended {
    /// It returned these values (none: it returned nothing).
    Returned(Vec<mlua::Value>),
    /// `os.exit(n)`.
    Exit(u8),
    /// It failed; the message (position, traceback) is ready to log.
    Failed(String),
    /// `--timeout` expired.
    TimedOut(Duration),
}

async fn execute(lua: &Lua, script: &Script, args: &[String]) -> Ended {
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
        Err(e) => return Ended::Failed(e.to_string()),
    };
    let args = MultiValue::from_iter(
        args.iter()
            .filter_map(|a| lua.create_string(a).ok())
            .map(mlua::Value::String),
    );
    let mut results = match runner.call_async::<MultiValue>(args).await {
        Ok(r) => r.into_iter(),
        Err(e) => return Ended::Failed(e.to_string()),
    };
    match (results.next(), results.next()) {
        (Some(mlua::Value::Boolean(true)), first) => {
            Ended::Returned(first.into_iter().chain(results).collect())
        }
        (_, Some(mlua::Value::UserData(u))) if u.is::<ExitRequest>() => {
            Ended::Exit(u.borrow::<ExitRequest>().map_or(exit::SCRIPT, |x| x.0))
        }
        (_, msg) => Ended::Failed(
            msg.and_then(|m| m.to_string().ok())
                .unwrap_or_else(|| "error".into()),
        ),
    }
}

/// Prints what the chunk returned (nothing when it returned nothing): lua-style through the
/// REPL's printer (secrets masked), or one JSON document per value through the `json` helper
/// (the same encoding as `json.encode`, secrets masked too).
///
/// Returns whether stdout now carries JSON documents, so that what follows (a dry run's plan)
/// keeps stdout one format for `jq`.
fn print_values(
    lua: &Lua,
    values: &[mlua::Value],
    format: Option<OutputFormat>,
) -> Result<bool, String> {
    use std::io::{IsTerminal, Write};
    if values.is_empty() {
        return Ok(false);
    }
    let terminal = std::io::stdout().is_terminal();
    let format = format.unwrap_or(if terminal {
        OutputFormat::Lua
    } else {
        OutputFormat::Json
    });
    let text = match format {
        OutputFormat::Lua => {
            let color = terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            Printer::new(color).render_all(values)
        }
        OutputFormat::Json => {
            let encode = lua
                .globals()
                .get::<Table>("json")
                .and_then(|j| j.get::<Function>("encode"))
                .map_err(|e| format!("cannot print the results as JSON: {e}"))?;
            let mut docs = Vec::with_capacity(values.len());
            for (i, v) in values.iter().enumerate() {
                let doc: String = encode.call(v.clone()).map_err(|e| {
                    format!(
                        "cannot print result {} as JSON ({}); use --output lua",
                        i + 1,
                        crate::repl::eval::message(&e)
                    )
                })?;
                docs.push(doc);
            }
            docs.join("\n")
        }
    };
    let mut out = std::io::stdout().lock();
    // A closed pipe (`| head`) is not worth a failure.
    let _ = writeln!(out, "{text}").and_then(|()| out.flush());
    Ok(format == OutputFormat::Json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracebacks_keep_the_users_frames_only() {
        let tb = "t.lua:2: get_robot: NOT_FOUND\nstack traceback:\n\t[C]: in function 'error'\n\
                  \tprelude.lua:7: in upvalue 'raise'\n\tprelude.lua:338: in field 'get_robot'\n\
                  \tt.lua:2: in local 'f'\n\tt.lua:4: in main chunk\n\t[C]: in function 'xpcall'\n\
                  \trunner:1: in function <runner:1>";
        assert_eq!(
            user_frames(tb),
            "t.lua:2: get_robot: NOT_FOUND\nstack traceback:\n\tt.lua:2: in local 'f'\n\tt.lua:4: in main chunk"
        );
        // The user's own call of a C function stays.
        let tb = "x:1: boom\nstack traceback:\n\t[C]: in function 'error'\n\tx:1: in main chunk\n\
                  \t[C]: in function 'xpcall'\n\trunner:1: in function <runner:1>";
        assert_eq!(
            user_frames(tb),
            "x:1: boom\nstack traceback:\n\t[C]: in function 'error'\n\tx:1: in main chunk"
        );
        assert_eq!(strip_internal_position("prelude.lua:12: bad"), Some("bad"));
        assert_eq!(strip_internal_position("t.lua:12: bad"), None);
        assert_eq!(strip_internal_position("runner: x"), None);
    }

    #[test]
    fn shebang_keeps_line_numbers() {
        let mut c = b"#!/usr/bin/env fleetsh run\nprint(1)".to_vec();
        strip_shebang(&mut c);
        assert!(c.starts_with(b"--"));
        assert_eq!(c.iter().filter(|b| **b == b'\n').count(), 1);
    }
}
