//! Faults: kill -9 of `fleetsh serve` under a writing Lua script (`fleetsh run --url`) loses no
//! acknowledged write and leaves the database intact; a read-only script outlives a server
//! restart through read retries; a token that expires mid-script is renewed unnoticed.
//!
//! The short kill run is in CI; the long one (20 kills during 10,000 writes) is ignored:
//!   cargo test --test it durability::long -- --ignored --nocapture

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fleetsh::server::Credentials;

use crate::harness::free_port;
use crate::serve_proc::Serve;

/// `fleetsh run --url URL -` with the fleet's owner key, the script on stdin.
fn run_script(c: &Credentials, script: &str, args: &[&str]) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fleetsh"))
        .args(["run", "--url", &c.address, "-"])
        .args(args)
        .env("VIAM_API_KEY_ID", &c.api_key_id)
        .env("VIAM_API_KEY", &c.api_key)
        .env_remove("FLEETSH_PROFILE")
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn fleetsh run");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    child
}

/// Writes until `n` writes are acknowledged, printing each acknowledged id. A failed write
/// (server down) may or may not have committed; only acknowledged ones are promised.
const WRITER: &str = r#"
local loc, n = arg[1], tonumber(arg[2])
local acked, attempt = 0, 0
while acked < n do
  attempt = attempt + 1
  local ok, id = pcall(cloud.new_robot, "w" .. attempt, loc)
  if ok then
    acked = acked + 1
    print(id)
    io.stdout:flush()
  else
    sleep(0.02)
  end
end
"#;

/// Kills the server `kills` times, evenly spread over `writes` acknowledged writes, then
/// checks every acknowledged id and the database's integrity.
async fn kill_during_writes(writes: usize, kills: usize) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("fleet");
    let log = tmp.path().join("serve.log");
    let listen = format!("127.0.0.1:{}", free_port());
    let mut serve = Serve::spawn(&data, &listen, "warn", &[], &log);
    let creds = serve.creds.clone();
    let mut writer = run_script(&creds, WRITER, &[&creds.location_id, &writes.to_string()]);
    let stdout = BufReader::new(writer.stdout.take().unwrap());
    let every = writes / (kills + 1);
    let mut acked = Vec::new();
    for line in stdout.lines() {
        acked.push(line.unwrap());
        if acked.len() % every == 0 && acked.len() / every <= kills {
            serve.kill();
            serve = Serve::spawn(&data, &listen, "warn", &[], &log);
        }
    }
    let out = writer.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "writer failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(acked.len(), writes);
    let unique: HashSet<_> = acked.iter().collect();
    assert_eq!(unique.len(), writes, "an id was acknowledged twice");

    let mut app = serve.owner().await;
    let listed: HashSet<String> = app
        .list_robots(fleetsh::proto::viam::app::v1::ListRobotsRequest {
            location_id: creds.location_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .robots
        .into_iter()
        .map(|r| r.id)
        .collect();
    let lost: Vec<_> = acked.iter().filter(|id| !listed.contains(*id)).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged writes lost: {lost:?}",
        lost.len()
    );
    serve.kill();
    assert_integrity(&data);
}

fn assert_integrity(data: &Path) {
    let db = rusqlite::Connection::open(data.join("fleet.db")).unwrap();
    let check: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9_and_the_database_stays_intact() {
    kill_during_writes(300, 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: 20 kills during 10,000 writes (about a minute)"]
async fn long_acknowledged_writes_survive_20_kills_during_10000_writes() {
    kill_during_writes(10_000, 20).await;
}

/// Waits for the script, asserting exit 0 and the expected last line.
fn assert_finished(child: Child, last: &str) {
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.trim_end().ends_with(last),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_script_outlives_a_server_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("fleet");
    let log = tmp.path().join("serve.log");
    let listen = format!("127.0.0.1:{}", free_port());
    let mut serve = Serve::spawn(&data, &listen, "warn", &[], &log);
    let creds = serve.creds.clone();
    let reader = r#"
      for i = 1, 60 do
        cloud.list_robots(arg[1])
        cloud.get_location(arg[1])
        print(i)
        io.stdout:flush()
        sleep(0.05)
      end
      print("done")
    "#;
    let mut child = run_script(&creds, reader, &[&creds.location_id]);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // Restart once the script is well under way.
    for _ in 0..10 {
        lines.next().unwrap().unwrap();
    }
    serve.kill();
    serve = Serve::spawn(&data, &listen, "warn", &[], &log);
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    let err = child.wait_with_output().unwrap();
    assert!(
        err.status.success() && rest.last().map(String::as_str) == Some("done"),
        "the reader did not survive the restart: exit {:?}, last lines {:?}\nstderr:\n{}",
        err.status.code(),
        rest.iter().rev().take(3).collect::<Vec<_>>(),
        String::from_utf8_lossy(&err.stderr)
    );
    drop(serve);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_expiring_mid_script_is_renewed_unnoticed() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("fleet");
    let log = tmp.path().join("serve.log");
    let serve = Serve::spawn(&data, "127.0.0.1:0", "info", &["--token-ttl", "1s"], &log);
    let creds = serve.creds.clone();
    // Reads and writes across three token lifetimes.
    let script = r#"
      for i = 1, 12 do
        cloud.new_robot("t" .. i, arg[1])
        assert(#cloud.list_robots(arg[1]) == i)
        sleep(0.25)
      end
      print("done")
    "#;
    let start = Instant::now();
    assert_finished(run_script(&creds, script, &[&creds.location_id]), "done");
    // Tokens live one second (expiry has whole-second resolution): a run this long used
    // at least two of them.
    assert!(start.elapsed() > Duration::from_millis(2500));
    drop(serve);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_is_renewed_before_it_expires() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("fleet");
    let log = tmp.path().join("serve.log");
    // A 3 s token is renewed 1 s before its expiry, i.e. 2 s after it was issued.
    let serve = Serve::spawn(&data, "127.0.0.1:0", "info", &["--token-ttl", "3s"], &log);
    let c = serve.creds.clone();
    let mut child = Command::new(env!("CARGO_BIN_EXE_fleetsh"))
        .args([
            "--log-level",
            "fleetsh=debug",
            "run",
            "--url",
            &c.address,
            "-",
        ])
        .env("VIAM_API_KEY_ID", &c.api_key_id)
        .env("VIAM_API_KEY", &c.api_key)
        .env_remove("FLEETSH_PROFILE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    let script = "cloud.list_organizations() sleep(2.3) cloud.list_organizations() print('done')";
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("renewing it"),
        "no renewal before expiry:\n{stderr}"
    );
    assert!(
        !stderr.contains("token refused"),
        "the server had to refuse the token first:\n{stderr}"
    );
    drop(serve);
}
