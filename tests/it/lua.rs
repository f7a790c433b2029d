//! The Lua runner end to end: the built binary against (a) the embedded local fleet in a temp
//! data dir and (b) a TestServer over a socket, so exit codes and stderr are tested too.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::harness::TestServer;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_fleetsh");

/// Runs the binary with a clean environment (no ambient credentials) on a blocking thread, so
/// a TestServer on this runtime keeps serving.
pub async fn fleetsh(args: Vec<String>, stdin: Option<&'static str>) -> Output {
    fleetsh_env(args, stdin, &[]).await
}

/// The binary with no ambient credentials, profile or config file, plus `envs`.
pub fn command(args: &[String], envs: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("VIAM_API_KEY")
        .env_remove("VIAM_API_KEY_ID")
        .env_remove("FLEETSH_URL")
        .env_remove("FLEETSH_DATA")
        .env_remove("FLEETSH_PROFILE")
        .env_remove("RUST_LOG")
        .env("FLEETSH_CONFIG", "/nonexistent/fleetsh-test-config.toml")
        // A real `viam login` on the test machine must not send the tests to the cloud.
        .env("VIAM_HOME", "/nonexistent/viam-home")
        .env_remove("VIAM_CLI_PROFILE_NAME")
        .env("FLEETSH_TEST_ENV", "yes");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd
}

pub async fn fleetsh_env(
    args: Vec<String>,
    stdin: Option<&'static str>,
    envs: &[(&str, &str)],
) -> Output {
    let mut cmd = command(&args, envs);
    tokio::task::spawn_blocking(move || {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn fleetsh");
        {
            use std::io::Write;
            let mut pipe = child.stdin.take().unwrap();
            if let Some(s) = stdin {
                pipe.write_all(s.as_bytes()).unwrap();
            }
        }
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[track_caller]
pub fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

pub fn args(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

pub fn local(dir: &Path, rest: &[&str]) -> Vec<String> {
    let mut a = args(&["--data", &dir.display().to_string()]);
    a.extend(args(rest));
    a
}

pub fn remote(s: &TestServer, rest: &[&str]) -> Vec<String> {
    let c = &s.fleet.credentials;
    let mut a = args(&[
        "--url",
        &c.address,
        "--api-key-id",
        &c.api_key_id,
        "--api-key",
        &c.api_key,
    ]);
    a.extend(args(rest));
    a
}

/// Every `tests/lua/*.lua`, so a new script is run without being listed here.
fn scripts() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lua");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "lua"))
        .collect();
    v.sort();
    assert!(v.len() >= 10, "tests/lua holds the scripts");
    v
}

/// The first line that says `NAME ok`, which every script prints last.
#[track_caller]
fn assert_script_ok(path: &Path, out: &Output) {
    let name = path.file_stem().unwrap().to_string_lossy();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{name}\nstdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains(&format!("{name} ok")),
        "{name}: {}",
        text(&out.stdout)
    );
}

#[tokio::test]
async fn scripts_pass_against_the_embedded_local_fleet() {
    for path in scripts() {
        // A fresh fleet per script: no script depends on another's data.
        let dir = tempfile::tempdir().unwrap();
        let p = path.display().to_string();
        let out = fleetsh(local(dir.path(), &["run", &p]), None).await;
        assert_script_ok(&path, &out);
    }
}

#[tokio::test]
async fn scripts_pass_against_a_server_over_a_socket() {
    for path in scripts() {
        let s = TestServer::start().await;
        let p = path.display().to_string();
        let out = fleetsh(remote(&s, &["run", &p]), None).await;
        assert_script_ok(&path, &out);
        assert!(
            !text(&out.stderr).contains("local fleet"),
            "a remote never starts the local fleet"
        );
    }
}

/// The names scripts can call: every public `cloud` function (the ones made from the schema
/// for the served services included: `cloud` and each area, `cloud.robot`, `cloud.data`, ...)
/// and the helpers.
const LIST_API: &str = r#"
local names = {}
for _, k in ipairs(cloud._functions()) do
  if type(cloud[k]) == "function" then names[#names + 1] = "cloud." .. k end
end
for _, area in ipairs(cloud._areas()) do
  for _, k in ipairs(cloud[area]._functions()) do names[#names + 1] = "cloud." .. area .. "." .. k end
end
for _, t in ipairs({ "json", "log" }) do
  for k, v in pairs(_G[t]) do if type(v) == "function" then names[#names + 1] = t .. "." .. k end end
end
names[#names + 1] = "sleep"
names[#names + 1] = "env"
table.sort(names)
print(table.concat(names, "\n"))
"#;

#[tokio::test]
async fn every_function_of_the_module_is_called_by_some_script() {
    let dir = tempfile::tempdir().unwrap();
    let out = fleetsh(local(dir.path(), &["-e", LIST_API]), None).await;
    assert_exit(&out, 0);
    let listed = text(&out.stdout);
    let names: Vec<&str> = listed.lines().collect();
    // 56 Python-named functions, call, parallel, default_org_id; json, log, sleep, env.
    assert!(names.len() >= 59 + 2 + 4 + 2, "{names:?}");
    for must in [
        "cloud.tail_robot_part_logs",
        "cloud.call",
        "cloud.parallel",
        "json.decode",
    ] {
        assert!(names.contains(&must), "{must} missing from {names:?}");
    }
    let sources: Vec<String> = scripts()
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    let called = |name: &str| {
        sources.iter().any(|src| {
            src.match_indices(name).any(|(i, _)| {
                let after = src[i + name.len()..].chars().next();
                let before = src[..i].chars().next_back();
                // `cloud.get_robot` must not count `cloud.get_robot_parts`.
                !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
                    && !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.')
            })
        })
    };
    // RPCs the local fleet does not serve yet cannot be called for real (fixture::NOT_YET).
    let not_yet: Vec<String> = crate::fixture::NOT_YET
        .iter()
        .map(|(_, rpc)| fleetsh::lua::generated::snake_case(rpc))
        .collect();
    let missing: Vec<&&str> = names
        .iter()
        .filter(|n| {
            !not_yet
                .iter()
                .any(|y| n.rsplit('.').next() == Some(y.as_str()))
        })
        .filter(|n| !called(n))
        .collect();
    assert!(
        missing.is_empty(),
        "not called by any tests/lua script: {missing:?}"
    );
}

#[tokio::test]
async fn defaults_apply_only_when_unambiguous() {
    let s = TestServer::start().await;
    // One location reachable: it is the default.
    let only = format!(
        "local id = cloud.new_robot('r') assert(cloud.get_robot(id).location == '{}') \
         cloud.create_location('second-loc')",
        s.location_id()
    );
    let out = fleetsh(remote(&s, &["-e", &only]), None).await;
    assert_exit(&out, 0);
    let out = fleetsh(remote(&s, &["-e", "cloud.list_robots()"]), None).await;
    assert_exit(&out, 1);
    let err = text(&out.stderr);
    assert!(
        err.contains("list_robots: FAILED_PRECONDITION: several locations")
            && err.contains("(second-loc)"),
        "{err}"
    );
    let out = fleetsh(
        remote(&s, &["-e", "cloud.create_organization('second')"]),
        None,
    )
    .await;
    assert_exit(&out, 0);
    let out = fleetsh(remote(&s, &["-e", "cloud.list_locations()"]), None).await;
    assert_exit(&out, 1);
    let err = text(&out.stderr);
    assert!(
        err.contains("FAILED_PRECONDITION")
            && err.contains("pass org_id")
            && err.contains(s.org_id())
            && err.contains("(second)"),
        "{err}"
    );
    let pick = format!("print(#cloud.list_locations{{org_id = '{}'}})", s.org_id());
    let out = fleetsh(remote(&s, &["-e", &pick]), None).await;
    assert_exit(&out, 0);
}

#[tokio::test]
async fn a_fresh_machine_gets_the_local_fleet_with_one_line_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let out = fleetsh(
        local(dir.path(), &["-e", "print(#cloud.list_organizations())"]),
        None,
    )
    .await;
    assert_exit(&out, 0);
    assert_eq!(text(&out.stdout), "1\n");
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("fleetsh: local fleet at ") && err.contains("no cloud credentials"),
        "{err}"
    );
    assert!(
        !err.contains(&read_key(dir.path())),
        "the key is never printed"
    );
    // The second run reuses the same fleet.
    let out = fleetsh(
        local(
            dir.path(),
            &[
                "-e",
                "cloud.create_location('x') print(#cloud.list_locations())",
            ],
        ),
        None,
    )
    .await;
    assert_eq!(text(&out.stdout), "2\n");
}

fn read_key(dir: &Path) -> String {
    fleetsh::server::Credentials::read(dir).unwrap().api_key
}

#[tokio::test]
async fn script_errors_exit_1_with_position_and_traceback() {
    let dir = tempfile::tempdir().unwrap();
    let out = fleetsh(
        local(dir.path(), &["-e", "local x = 1\nerror('boom')"]),
        None,
    )
    .await;
    assert_exit(&out, 1);
    let err = text(&out.stderr);
    assert!(
        err.contains("(command line):2: boom") && err.contains("stack traceback"),
        "{err}"
    );

    let out = fleetsh(
        local(dir.path(), &["-e", "\ncloud.get_robot('nope')"]),
        None,
    )
    .await;
    assert_exit(&out, 1);
    let err = text(&out.stderr);
    assert!(
        err.contains("(command line):2: get_robot: NOT_FOUND: robot \"nope\" not found"),
        "{err}"
    );

    let out = fleetsh(local(dir.path(), &["-e", "this is not lua"]), None).await;
    assert_exit(&out, 1);
    let out = fleetsh(local(dir.path(), &["run", "/nonexistent/script.lua"]), None).await;
    assert_exit(&out, 1);
    assert!(text(&out.stderr).contains("cannot open"));
}

#[tokio::test]
async fn usage_errors_exit_2() {
    let out = fleetsh(args(&["--no-such-flag"]), None).await;
    assert_exit(&out, 2);
    let out = fleetsh(
        args(&["--url", "http://127.0.0.1:1", "-e", "print(1)"]),
        None,
    )
    .await;
    assert_exit(&out, 2);
    assert!(text(&out.stderr).contains("needs --api-key-id"));
    let out = fleetsh(args(&["--api-key-id", "x", "-e", "print(1)"]), None).await;
    assert_exit(&out, 2);
}

#[tokio::test]
async fn bad_credentials_or_no_server_exit_3() {
    let s = TestServer::start().await;
    let c = &s.fleet.credentials;
    let wrong = args(&[
        "--url",
        &c.address,
        "--api-key-id",
        &c.api_key_id,
        "--api-key",
        "wrong",
        "-e",
        "print(1)",
    ]);
    let out = fleetsh(wrong, None).await;
    assert_exit(&out, 3);
    let err = text(&out.stderr);
    assert!(err.contains("cannot authenticate"), "{err}");
    assert!(!err.contains(&c.api_key), "the key is never printed");

    let dead = crate::harness::dead_url();
    let out = fleetsh(
        args(&[
            "--url",
            &dead,
            "--api-key-id",
            "a",
            "--api-key",
            "b",
            "-e",
            "print(1)",
        ]),
        None,
    )
    .await;
    assert_exit(&out, 3);
}

#[tokio::test]
async fn os_exit_arg_require_and_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let out = fleetsh(local(dir.path(), &["-e", "os.exit(5)"]), None).await;
    assert_exit(&out, 5);

    let scripts = tempfile::tempdir().unwrap();
    std::fs::write(
        scripts.path().join("helper.lua"),
        "return { twice = function(x) return 2 * x end }",
    )
    .unwrap();
    let main = scripts.path().join("main.lua");
    std::fs::write(
        &main,
        "#!/usr/bin/env fleetsh run\nlocal h = require('helper')\nprint(arg[0]:match('main.lua$') ~= nil, arg[1], arg[2], h.twice(21), select('#', ...))",
    )
    .unwrap();
    let main = main.display().to_string();
    // Run from elsewhere: require finds helper.lua next to the script.
    let out = fleetsh(local(dir.path(), &["run", &main, "a", "--b"]), None).await;
    assert_exit(&out, 0);
    assert_eq!(text(&out.stdout), "true\ta\t--b\t42\t2\n");

    let out = fleetsh(
        local(dir.path(), &["run", "-"]),
        Some("print(arg[0], #cloud.list_locations())"),
    )
    .await;
    assert_exit(&out, 0);
    assert_eq!(text(&out.stdout), "-\t1\n");
    // No subcommand and stdin is not a terminal: stdin is the script.
    let out = fleetsh(local(dir.path(), &[]), Some("print('from stdin')")).await;
    assert_eq!(text(&out.stdout), "from stdin\n");
}

#[tokio::test]
async fn org_id_defaults_to_the_only_reachable_org_on_a_remote() {
    let s = TestServer::start().await;
    let check = format!(
        "assert(cloud.default_org_id() == '{}') print(#cloud.list_locations())",
        s.org_id()
    );
    let out = fleetsh(remote(&s, &["-e", &check]), None).await;
    assert_exit(&out, 0);
    assert_eq!(text(&out.stdout), "1\n");
}

/// A read-only script on the embedded fleet writes nothing: credentials.json keeps its bytes
/// (the throwaway port is not recorded) and the owner key is not re-exchanged, so no WAL
/// write and no checkpoint fsync happen at each start.
#[tokio::test]
async fn a_read_only_embedded_run_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let first = fleetsh(local(dir.path(), &["-e", "return 1"]), None).await;
    assert_exit(&first, 0);
    let creds = dir.path().join("credentials.json");
    let before = std::fs::read(&creds).unwrap();
    let db = dir.path().join("fleet.db");
    let db_before = std::fs::read(&db).unwrap();
    let out = fleetsh(
        local(
            dir.path(),
            &["-e", "assert(#cloud.list_organizations() == 1)"],
        ),
        None,
    )
    .await;
    assert_exit(&out, 0);
    assert_eq!(
        std::fs::read(&creds).unwrap(),
        before,
        "credentials.json rewritten"
    );
    assert_eq!(std::fs::read(&db).unwrap(), db_before, "fleet.db changed");
}
