//! The interactive session: rustyline for editing, history and completion; `eval` for running
//! input; `printer` for showing results; `help` for the `cloud` reference.

pub mod completer;
pub mod eval;
pub mod help;
pub mod interrupt;
pub mod printer;
pub mod start;

pub use start::main;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use mlua::Lua;
use rustyline::config::Config;
use rustyline::error::ReadlineError;
use rustyline::history::{FileHistory, History as _};
use rustyline::{CompletionType, Editor};

use completer::LuaHelper;
use eval::{Outcome, eval};
use interrupt::{INTERRUPTED, Interrupt};
use printer::Printer;

const PROMPT: &str = "> ";
const CONTINUE_PROMPT: &str = ">> ";
const HISTORY_SIZE: usize = 10_000;

/// How a session looks and where it keeps its history.
#[derive(Debug, Clone)]
pub struct Options {
    /// ANSI colour in results (the default: stdout is a terminal and NO_COLOR is unset).
    pub color: bool,
    /// History file; `None` keeps no history.
    pub history: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        // NO_COLOR (no-color.org) turns colour off even on a terminal.
        let color = std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        Options {
            color,
            history: default_history_path(),
        }
    }
}

/// `$XDG_STATE_HOME/fleetsh/history` (or the data directory where there is no state directory).
pub fn default_history_path() -> Option<PathBuf> {
    dirs::state_dir()
        .or_else(dirs::data_local_dir)
        .map(|d| d.join("fleetsh").join("history"))
}

/// Adds the REPL's globals (`help`) to a Lua state.
pub fn install(lua: &Lua) -> mlua::Result<()> {
    help::install(lua)
}

/// Runs the interactive loop on `lua` until Ctrl-D. Call it inside a tokio runtime with its
/// time driver enabled (a current-thread runtime is enough); Lua calls are awaited, so async
/// Rust functions registered in `lua` work.
pub async fn run(lua: &Lua, banner: &str, opts: Options) -> anyhow::Result<()> {
    // mlua errors are not Send (no `send` feature), so they cannot become anyhow errors as is.
    install(lua).map_err(|e| anyhow::anyhow!("installing help: {e}"))?;
    let interrupt = Interrupt::with_sigint().context("installing the Ctrl-C handler")?;
    interrupt
        .install(lua)
        .map_err(|e| anyhow::anyhow!("installing the interrupt hook: {e}"))?;
    let mut editor = editor(lua)?;
    if let Some(path) = &opts.history {
        load_history(&mut editor, path);
    }
    println!("{banner}");
    let mut session = Session {
        printer: Printer::new(opts.color),
        history: opts.history.clone(),
        secrets_seen: 0,
    };
    let mut chunk = String::new();
    loop {
        let prompt = if chunk.is_empty() {
            PROMPT
        } else {
            CONTINUE_PROMPT
        };
        match editor.readline(prompt) {
            Ok(line) => {
                if !chunk.is_empty() {
                    chunk.push('\n');
                }
                chunk.push_str(&line);
            }
            // Ctrl-C at the prompt drops what was typed, including earlier lines of a chunk.
            Err(ReadlineError::Interrupted) => {
                chunk.clear();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e).context("reading input"),
        }
        if chunk.trim().is_empty() {
            chunk.clear();
            continue;
        }
        interrupt.reset();
        let outcome = interrupt
            .guard(eval(lua, &chunk))
            .await
            .unwrap_or_else(|| Outcome::Error(INTERRUPTED.to_string()));
        if matches!(outcome, Outcome::Incomplete) {
            continue;
        }
        session.show(outcome);
        session.remember(&mut editor, &chunk);
        session.forget_new_secrets(&mut editor);
        chunk.clear();
    }
    Ok(())
}

struct Session {
    printer: Printer,
    history: Option<PathBuf>,
    /// How many secrets the history was last cleaned of.
    secrets_seen: usize,
}

impl Session {
    fn show(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Values(values) if !values.is_empty() => {
                println!("{}", self.printer.render_all(&values))
            }
            Outcome::Values(_) | Outcome::Incomplete => {}
            Outcome::Error(message) if self.printer.color => eprintln!("\x1b[31m{message}\x1b[0m"),
            Outcome::Error(message) => eprintln!("{message}"),
        }
        let _ = std::io::stdout().flush();
    }

    /// Adds the chunk to history (saved at once, so a killed session keeps it) unless it holds
    /// a secret this session has printed.
    fn remember(&self, editor: &mut Editor<LuaHelper, FileHistory>, chunk: &str) {
        if self.printer.contains_secret(chunk) {
            return;
        }
        let _ = editor.add_history_entry(chunk);
        self.save(editor);
    }

    /// A secret printed for the first time may be in lines typed earlier (this session or a
    /// past one): drop those lines and rewrite the file.
    fn forget_new_secrets(&mut self, editor: &mut Editor<LuaHelper, FileHistory>) {
        let seen = self.printer.secrets().len();
        if seen == self.secrets_seen {
            return;
        }
        self.secrets_seen = seen;
        let history = editor.history_mut();
        let kept: Vec<String> = history
            .iter()
            .filter(|line| !self.printer.contains_secret(line))
            .cloned()
            .collect();
        if kept.len() == history.len() {
            return;
        }
        let _ = history.clear();
        for line in &kept {
            let _ = history.add(line);
        }
        if kept.is_empty()
            && let Some(path) = &self.history
        {
            // rustyline does not write an empty history; empty the file ourselves.
            let _ = std::fs::write(path, "");
        }
        self.save(editor);
    }

    fn save(&self, editor: &mut Editor<LuaHelper, FileHistory>) {
        if let Some(path) = &self.history
            && let Err(e) = editor.save_history(path)
        {
            tracing::debug!(path = %path.display(), error = %e, "saving REPL history failed");
        }
    }
}

fn editor(lua: &Lua) -> anyhow::Result<Editor<LuaHelper, FileHistory>> {
    let config = Config::builder()
        .completion_type(CompletionType::List)
        .auto_add_history(false)
        .max_history_size(HISTORY_SIZE)?
        .history_ignore_dups(true)?
        .build();
    let mut editor = Editor::with_config(config).context("starting the line editor")?;
    editor.set_helper(Some(LuaHelper::new(lua)));
    Ok(editor)
}

fn load_history(editor: &mut Editor<LuaHelper, FileHistory>, path: &Path) {
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    // A missing file is the first session; an unreadable one is not worth stopping for.
    if path.exists()
        && let Err(e) = editor.load_history(path)
    {
        tracing::debug!(path = %path.display(), error = %e, "loading REPL history failed");
    }
}
