//! The REPL driven through a real pseudo-terminal, as an operator uses it: `fleetsh repl` on a
//! fresh embedded fleet (temp `--data`), with a temp HOME/XDG_STATE_HOME for its history.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use expectrl::{Session, WaitStatus};

/// Long enough for a debug build on a busy machine; a hang still fails.
const TIMEOUT: Duration = Duration::from_secs(20);

struct Repl {
    session: Session,
    dir: tempfile::TempDir,
    sync_count: u32,
}

impl Repl {
    /// `fleetsh repl` on a fresh local fleet, with its own state (history) directory.
    fn start() -> Repl {
        Repl::start_in(tempfile::tempdir().expect("temp dir"))
    }

    fn start_in(dir: tempfile::TempDir) -> Repl {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_fleetsh"));
        cmd.arg("repl")
            .env("FLEETSH_DATA", dir.path().join("data"))
            .env("XDG_STATE_HOME", dir.path().join("state"))
            .env("HOME", dir.path())
            .env("NO_COLOR", "1")
            .env("TERM", "xterm")
            .env_remove("FLEETSH_URL")
            .env_remove("RUST_LOG");
        let mut session = Session::spawn(cmd).expect("spawning fleetsh repl");
        session.set_expect_timeout(Some(TIMEOUT));
        let data = dir.path().join("data");
        let mut repl = Repl {
            session,
            dir,
            sync_count: 0,
        };
        // The one-line banner: version, Lua, and the target.
        repl.expect(concat!(
            "fleetsh ",
            env!("CARGO_PKG_VERSION"),
            " · Lua 5.4 · "
        ));
        repl.expect(&format!("local fleet {}", data.display()));
        repl.expect("> ");
        repl
    }

    fn expect(&mut self, text: &str) {
        if let Err(e) = self.session.expect(text) {
            // Show what the terminal did say, to tell a wrong answer from a hang.
            let seen = self
                .session
                .check(expectrl::Regex(r"(?s).+"))
                .map(|c| String::from_utf8_lossy(c.as_bytes()).into_owned());
            panic!("waiting for {text:?}: {e}; unread output: {seen:?}");
        }
    }

    /// Types a line and waits for its echo and the newline of Enter: rustyline drops keys that
    /// arrive in the same read as an Enter, so the next line must not be sent before.
    fn line(&mut self, text: &str) {
        self.session
            .send(format!("{text}\r"))
            .expect("writing to the pty");
        self.expect(text);
        self.expect("\r\n");
    }

    fn send(&mut self, bytes: &str) {
        self.session.send(bytes).expect("writing to the pty");
    }

    /// Waits until the REPL is back at its prompt, reading input in raw mode. A bare `> ` is not
    /// enough: the echo of typed lines contains it too. So evaluate something whose printed
    /// value does not appear in its echo, then wait for the prompt after it.
    fn sync(&mut self) {
        self.sync_count += 1;
        let n = self.sync_count;
        self.line(&format!("'sy' .. 'nc{n}'"));
        self.expect(&format!("\"sync{n}\""));
        self.expect("> ");
    }

    /// Ctrl-D on an empty line; the process must exit with status 0.
    fn exit(mut self) -> tempfile::TempDir {
        self.sync();
        self.send("\x04");
        match self
            .session
            .get_process()
            .wait()
            .expect("waiting for fleetsh")
        {
            WaitStatus::Exited(_, 0) => {}
            other => panic!("fleetsh repl ended with {other:?}"),
        }
        self.dir
    }

    fn history_path(dir: &tempfile::TempDir) -> PathBuf {
        dir.path().join("state").join("fleetsh").join("history")
    }
}

#[test]
fn expressions_print_their_values() {
    let mut r = Repl::start();
    r.line("6*7");
    r.expect("42");
    r.expect("> ");
    r.line("{ b = 2, a = 'x' }, 'two'");
    r.expect("{ a = \"x\", b = 2 }\t\"two\"");
    r.expect("> ");
    r.line("_.b + 40");
    r.expect("42");
    r.expect("> ");
    r.line("error('bad thing')");
    r.expect("stdin:1: bad thing");
    r.expect("> ");
    r.line("100 + 11");
    r.expect("111");
    r.exit();
}

#[test]
fn a_mistyped_cloud_function_says_what_exists() {
    let mut r = Repl::start();
    r.line("cloud.list_robot()");
    r.expect("cloud.list_robot does not exist; did you mean cloud.list_robots?");
    r.expect("> ");
    r.line("#cloud.list_locations()");
    r.expect("1");
    r.exit();
}

#[test]
fn multi_line_function_definition() {
    let mut r = Repl::start();
    r.line("function sq(x)");
    r.expect(">> ");
    r.line("  return x * x");
    r.expect(">> ");
    r.line("end");
    r.sync();
    r.line("sq(12)");
    r.expect("144");
    r.exit();
}

#[test]
fn completes_cloud_functions() {
    let mut r = Repl::start();
    // First Tab fills in the common prefix, the second lists the candidates.
    r.send("cloud.get_rob\t\t");
    // The list is laid out in columns, then the prompt is drawn again with the line.
    let listed = r
        .session
        .expect(expectrl::Regex(r"(?s)get_robot.*> cloud\.get_robot"))
        .expect("a list of candidates");
    let listed = String::from_utf8_lossy(listed.as_bytes()).into_owned();
    for name in [
        "get_robot ",
        "get_robot_part ",
        "get_robot_part_logs",
        "get_robot_parts",
    ] {
        assert!(listed.contains(name), "{name} not offered: {listed:?}");
    }
    // Ctrl-C drops the half-typed line; the next input runs alone. (Keys typed in the same
    // instant as Ctrl-C are dropped with it, so pause as a person would.)
    r.send("\x03");
    std::thread::sleep(Duration::from_millis(300));
    r.line("1000 + 1");
    r.expect("1001");
    r.exit();
}

#[test]
fn ctrl_c_interrupts_a_loop_and_the_session_goes_on() {
    let mut r = Repl::start();
    r.line("while true do end");
    std::thread::sleep(Duration::from_millis(500));
    r.send("\x03");
    r.expect("interrupted");
    r.expect("> ");
    r.line("6*7");
    r.expect("42");
    r.exit();
}

#[test]
fn history_is_written_without_printed_secrets() {
    let mut r = Repl::start();
    r.line("hist_marker = 271828");
    r.sync();
    r.line("t = { id = 'k', secret = 'zz-sekrit-value-9' }");
    r.sync();
    r.line("t");
    r.expect("secret = ****");
    r.line("u = 'zz-sekrit-value-9' .. 'x'");
    let dir = r.exit();
    let history = std::fs::read_to_string(Repl::history_path(&dir)).expect("history file");
    assert!(history.contains("hist_marker = 271828"), "{history}");
    assert!(!history.contains("zz-sekrit-value-9"), "{history}");

    // The next session starts with that history: Up recalls older lines (the syncs, `t`, ...).
    let mut r = Repl::start_in(dir);
    let ups = history
        .lines()
        .rev()
        .position(|l| l.contains("hist_marker"))
        .expect("marker line")
        + 1;
    r.send(&format!("{}\r", "\x1b[A".repeat(ups)));
    r.expect("hist_marker = 271828");
    r.expect("\r\n");
    r.sync();
    r.line("hist_marker + 1");
    r.expect("271829");
    r.exit();
}

#[test]
fn cloud_errors_show_their_code_and_underscore_keeps_the_result() {
    let mut r = Repl::start();
    r.line("cloud.get_robot('no-such-robot')");
    r.expect("NOT_FOUND");
    r.expect("> ");
    r.line("cloud.create_location('un' .. 'der')");
    r.expect("name = \"under\"");
    r.expect("> ");
    r.line("_.name .. '-score'");
    r.expect("\"under-score\"");
    r.exit();
}

#[test]
fn help_describes_cloud_functions() {
    let mut r = Repl::start();
    r.line("help(cloud.get_robot_part_logs)");
    r.expect("cloud.get_robot_part_logs(robot_part_id");
    r.expect("num_log_entries = 100");
    r.expect("> ");
    r.line("help()");
    r.expect("machines and parts:");
    r.expect("> ");
    // Every function of the live module has an entry with a signature (short lines: a line
    // wider than the terminal wraps and its echo no longer matches).
    for line in [
        "missing, n = {}, 0",
        "for k, v in pairs(cloud) do",
        "  local e = cloud.__help[k]",
        "  if type(v) == 'function' and k:sub(1, 1) ~= '_' then",
        "    n = n + 1",
        "    if not (e and e.signature) then",
        "      missing[#missing + 1] = k",
        "    end",
        "  end",
        "end",
    ] {
        r.line(line);
    }
    r.sync();
    r.line("n > 60, table.concat(missing, ' ') .. '|'");
    r.expect("true\t\"|\"");
    r.exit();
}

#[test]
fn printed_api_keys_are_masked_and_kept_out_of_history() {
    let mut r = Repl::start();
    // Short lines: a line wider than the terminal wraps, and its echo no longer matches.
    r.line("org = cloud.default_org_id()");
    r.sync();
    r.line("a = { role = 'owner', resource_type = 'organization', resource_id = org }");
    r.sync();
    // A leading `local` outlives its line, so `k` is there on the next one.
    r.line("local k, id = cloud.create_key({ a }, 'repl')");
    r.sync();
    r.line("k");
    r.expect("****");
    r.expect("> ");
    // The test learns the key's text the way a user could: written to a private file.
    let file = r.dir.path().join("key.txt");
    r.line(&format!("write_private('{}', k:reveal())", file.display()));
    r.sync();
    let key = std::fs::read_to_string(&file).expect("key file");
    assert!(key.len() >= 16, "{key:?}");
    r.line(&format!("pasted = '{key}'"));
    r.sync();
    r.line("pasted == k:reveal()");
    r.expect("true");
    r.line("kept_line = 1");
    let dir = r.exit();
    let history = std::fs::read_to_string(Repl::history_path(&dir)).expect("history file");
    assert!(history.contains("kept_line = 1"), "{history}");
    assert!(history.contains("k:reveal()"), "{history}");
    assert!(
        !history.contains(key.as_str()),
        "the key reached the history: {history}"
    );
}
