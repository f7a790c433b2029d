//! A resumed log tail loses and repeats nothing (issue 11's seed text, issue 13's faults): the
//! tail resumes by the cursor the local fleet gives (`fleetsh-log-cursor`), so entries stored
//! during an outage come through even when their timestamps are older than the newest entry
//! already shown, which a resume by time cannot fetch.

use std::path::Path;
use std::process::{Child, Stdio};

use fleetsh::server::ServeOptions;
use fleetsh::server::faults::Rule;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::harness::free_port;
use crate::lua::{command, text};
use crate::lua_connect::{
    Served, TAIL, creds_args, expect_line, lines_of, lua_local, lua_local_remote,
};

/// A RobotService/Log call pushing `(message, second of 2030-01-01T00:00)` entries.
fn push(part: &str, entries: &[(&str, u32)]) -> String {
    let logs: Vec<String> = entries
        .iter()
        .map(|(msg, sec)| {
            format!("{{ level = 'info', time = '2030-01-01T00:00:{sec:02}Z', message = '{msg}', logger_name = 'rdk' }}")
        })
        .collect();
    format!(
        "cloud.call('viam.app.v1.RobotService/Log', {{ id = '{part}', logs = {{ {} }} }})",
        logs.join(", ")
    )
}

struct Tailing {
    child: Child,
    rx: UnboundedReceiver<String>,
    got: Vec<String>,
    part: String,
}

/// Makes the tail's streams hide their headers, as a server without cursors (the cloud) sends
/// none: the tail then resumes by time.
const NO_CURSOR: &str = r#"
local raw_call = cloud._call
cloud._call = function(method, ...)
  local ok, s = raw_call(method, ...)
  if not ok or method ~= "TailRobotPartLogs" then return ok, s end
  return true, { next = function() return s:next() end, close = function() s:close() end,
    header = function() return nil end }
end
"#;

/// A served fleet with one machine, a tail on it (a `fleetsh run` child) that has shown
/// a1 (:10) and a2 (:20).
async fn tail_showing_two(dir: &Path, url: &str) -> Tailing {
    tail_showing_two_with(dir, url, "").await
}

async fn tail_showing_two_with(dir: &Path, url: &str, prelude: &str) -> Tailing {
    let part = lua_local_remote(
        dir,
        url,
        "print(cloud.get_robot_parts(cloud.new_robot('t'))[1].id)",
    )
    .await
    .trim()
    .to_string();
    let tail = dir.join("tail.lua");
    std::fs::write(&tail, format!("{prelude}{TAIL}")).unwrap();
    let mut child = command(
        &creds_args(dir, url, &["run", &tail.display().to_string(), &part]),
        &[],
    )
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut rx = lines_of(&mut child);
    let mut got = Vec::new();
    expect_line(&mut rx, "tailing", &mut got).await;
    lua_local_remote(dir, url, &push(&part, &[("a1", 10), ("a2", 20)])).await;
    expect_line(&mut rx, "a2", &mut got).await;
    Tailing {
        child,
        rx,
        got,
        part,
    }
}

/// Entries stored while the server is down, by another process on the same data, all older
/// than a2 (the newest shown).
async fn log_old_entries_during_outage(dir: &Path, part: &str) {
    lua_local(dir, &push(part, &[("old1", 5), ("old2", 15), ("old3", 20)])).await;
}

/// Ends the tail with an "end" entry and returns its lines and stderr.
async fn finish(mut t: Tailing, dir: &Path, url: &str) -> (Vec<String>, String) {
    lua_local_remote(dir, url, &push(&t.part, &[("end", 30)])).await;
    expect_line(&mut t.rx, "tail done", &mut t.got).await;
    let out = tokio::task::spawn_blocking(move || t.child.wait_with_output().unwrap())
        .await
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    (t.got, stderr)
}

const EXPECTED: [&str; 8] = [
    "tailing",
    "a1",
    "a2",
    "old1",
    "old2",
    "old3",
    "end",
    "tail done",
];

#[tokio::test]
async fn a_tail_resumed_after_a_crash_fetches_older_entries_logged_meanwhile_once() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let server = Served::start(dir, port, &[]);
    let mut t = tail_showing_two(dir, &url).await;

    server.kill();
    log_old_entries_during_outage(dir, &t.part).await;
    let _server = Served::start(dir, port, &[]);
    expect_line(&mut t.rx, "old3", &mut t.got).await;

    let (got, stderr) = finish(t, dir, &url).await;
    assert_eq!(got, EXPECTED, "each entry once, in store order");
    assert!(stderr.contains("reconnecting"), "{stderr}");
}

#[tokio::test]
async fn a_tail_resumed_through_failing_reopens_loses_and_repeats_nothing() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let server = Served::start(dir, port, &[]);
    let mut t = tail_showing_two(dir, &url).await;

    server.kill();
    log_old_entries_during_outage(dir, &t.part).await;
    // The fleet comes back in this process, so that the rule is in place before it serves:
    // this test runs on one thread, and the serving task starts only at the next await.
    let mut opts = ServeOptions::new(dir);
    opts.listen = format!("127.0.0.1:{port}").parse().unwrap();
    let fleet = fleetsh::server::start(&opts).await.unwrap();
    let mut rule = Rule::new("TailRobotPartLogs").unwrap();
    rule.times = Some(2);
    fleet.api.faults.add(rule);
    expect_line(&mut t.rx, "old3", &mut t.got).await;

    let (got, stderr) = finish(t, dir, &url).await;
    // The rule answered both of its calls: another would pass it untouched. (The client's own
    // read retries may absorb them inside one reopen of the Lua tail.)
    let spent = fleet
        .api
        .faults
        .effect("tail_robot_part_logs", "-", Vec::new)
        .is_none();
    fleet.stop().await.unwrap();
    assert_eq!(got, EXPECTED, "each entry once, in store order");
    assert!(
        spent,
        "the first two reopens after the restart were not refused"
    );
    assert!(stderr.contains("reconnecting"), "{stderr}");
}

#[tokio::test]
async fn without_a_server_cursor_the_tail_resumes_by_time_and_repeats_nothing() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let server = Served::start(dir, port, &[]);
    let mut t = tail_showing_two_with(dir, &url, NO_CURSOR).await;

    server.kill();
    // b1 shares a2's time: fetched by time, told apart from a2 by identity. `old` is older
    // than a2: a resume by time cannot see it (what the cursor is for), which shows that this
    // tail took the fallback.
    lua_local(dir, &push(&t.part, &[("old", 5), ("b1", 20), ("b2", 25)])).await;
    let _server = Served::start(dir, port, &[]);
    expect_line(&mut t.rx, "b2", &mut t.got).await;

    let (got, stderr) = finish(t, dir, &url).await;
    assert_eq!(
        got,
        ["tailing", "a1", "a2", "b1", "b2", "end", "tail done"],
        "{stderr}"
    );
}
