//! `fleetsh serve --seed FILE`: the seed's fleet is made once, at the first start, its ids by
//! name in a file a client reads; a restart does not make it twice; SIGTERM ends the server
//! promptly even while clients hold connections open.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fleetsh::proto::viam::app::v1::ListOrganizationMembersRequest;

use crate::serve_proc::Serve;

const LAB_SEED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/seeded/lab.seed.json");

fn ids(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("no ids file {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// `name id` lines of the machines in `location`, as a Lua client over --url sees them with
/// the key `(id, key)`.
fn machines_seen(serve: &Serve, key: (&str, &str), location: &str) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_fleetsh"))
        .args(["--url", &serve.creds.address, "--api-key-id", key.0])
        .args(["--api-key", key.1, "-e"])
        .arg(format!(
            "for _, r in ipairs(cloud.list_robots('{location}')) do print(r.name .. ' ' .. r.id) end"
        ))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "listing the machines failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

/// SIGTERM, then how long the server took to exit (panics past `limit`).
fn terminate_within(serve: &mut Serve, limit: Duration) -> Duration {
    let started = Instant::now();
    let sent = Command::new("kill")
        .arg(serve.child.id().to_string())
        .status()
        .unwrap();
    assert!(sent.success());
    loop {
        if let Some(status) = serve.child.try_wait().unwrap() {
            assert!(status.success(), "serve exited with {status} after SIGTERM");
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "fleetsh serve still runs {limit:?} after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn log_text(log: &Path) -> String {
    std::fs::read_to_string(log).unwrap_or_default()
}

struct Dirs {
    _tmp: tempfile::TempDir,
    data: PathBuf,
    log: PathBuf,
    ids: PathBuf,
}

fn dirs() -> Dirs {
    let tmp = tempfile::tempdir().unwrap();
    Dirs {
        data: tmp.path().join("fleet"),
        log: tmp.path().join("serve.log"),
        ids: tmp.path().join("ids.json"),
        _tmp: tmp,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_served_seed_is_what_clients_list_and_a_restart_does_not_make_it_twice() {
    let d = dirs();
    let ids_flag = d.ids.to_str().unwrap();
    let args = ["--seed", LAB_SEED, "--seed-ids", ids_flag];
    let mut serve = Serve::spawn(&d.data, "127.0.0.1:0", "warn", &args, &d.log);
    let first = ids(&d.ids);
    assert_eq!(
        first,
        ids(&d.data.join("seed-ids.json")),
        "--seed-ids is a copy of DATA/seed-ids.json"
    );
    let lab = first["locations"]["lab"]
        .as_str()
        .expect("ids.locations.lab");
    let want: Vec<String> = {
        let mut v: Vec<String> = ["rover-1", "rover-2"]
            .iter()
            .map(|n| format!("{n} {}", first["machines"][n].as_str().unwrap()))
            .collect();
        v.sort();
        v
    };
    let c = serve.creds.clone();
    assert_eq!(
        machines_seen(&serve, (&c.api_key_id, &c.api_key), lab),
        want
    );
    // The seeded key works, with the role the seed gave it (operator on lab).
    let ci = &first["keys"]["ci"];
    let ci = (ci["id"].as_str().unwrap(), ci["key"].as_str().unwrap());
    assert_eq!(machines_seen(&serve, ci, lab), want);
    // The seeded member, as any client of the app API sees members.
    let bo = first["members"]["bo@example.com"]
        .as_str()
        .expect("ids.members[\"bo@example.com\"]");
    let mut app = serve.owner().await;
    let listed = app
        .list_organization_members(ListOrganizationMembersRequest {
            organization_id: c.org_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        listed
            .members
            .iter()
            .any(|m| m.user_id == bo && m.emails == ["bo@example.com"]),
        "the seed's member is not listed: {:?}",
        listed.members
    );
    drop(app);
    terminate_within(&mut serve, Duration::from_secs(10));

    let mut serve = Serve::spawn(&d.data, "127.0.0.1:0", "warn", &args, &d.log);
    let log = log_text(&d.log);
    assert!(
        log.contains("not seeding again"),
        "the restart does not say it skipped the seed:\n{log}"
    );
    assert_eq!(ids(&d.ids), first, "the ids changed on restart");
    assert_eq!(
        machines_seen(&serve, (&c.api_key_id, &c.api_key), lab),
        want,
        "the restart made the seed's machines again"
    );
    terminate_within(&mut serve, Duration::from_secs(10));
}

#[test]
fn another_seed_on_a_seeded_fleet_is_refused_with_exit_2() {
    let d = dirs();
    let mut serve = Serve::spawn(
        &d.data,
        "127.0.0.1:0",
        "warn",
        &["--seed", LAB_SEED],
        &d.log,
    );
    terminate_within(&mut serve, Duration::from_secs(10));
    let other = d.data.parent().unwrap().join("other.seed.json");
    std::fs::write(&other, r#"{"locations": [{"name": "depot"}]}"#).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_fleetsh"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&d.data)
        .arg("--seed")
        .arg(&other)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("was seeded from") && stderr.contains("lab.seed.json"),
        "the refusal does not name the earlier seed:\n{stderr}"
    );
    // A seed the fleet refuses (a machine without a name) names the file; exit 2.
    let bad = d.data.parent().unwrap().join("bad.seed.json");
    std::fs::write(&bad, r#"{"machines": [{}]}"#).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_fleetsh"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(d.data.parent().unwrap().join("fresh"))
        .arg("--seed")
        .arg(&bad)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("bad.seed.json") && stderr.contains("every machine needs a name"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_a_seeded_serve_promptly_while_clients_hold_connections() {
    let d = dirs();
    let mut serve = Serve::spawn(
        &d.data,
        "127.0.0.1:0",
        "warn",
        &["--seed", LAB_SEED],
        &d.log,
    );
    // An SDK-like client that made a call and keeps its channel, and a connection that never
    // says anything.
    let mut app = serve.owner().await;
    app.list_organizations(fleetsh::proto::viam::app::v1::ListOrganizationsRequest {})
        .await
        .unwrap();
    let addr = serve
        .creds
        .address
        .trim_start_matches("http://")
        .to_string();
    let _silent = std::net::TcpStream::connect(&addr).unwrap();
    let took = terminate_within(&mut serve, Duration::from_secs(8));
    assert!(took < Duration::from_secs(5), "SIGTERM took {took:?}");
    drop(app);
}
