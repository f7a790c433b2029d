//! Unattended runs through the real binary: every exit code, --dry-run plans, --lock with two
//! concurrent runs, --timeout, --log-format json / --quiet, --audit lines, masked secrets.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::TestServer;
use crate::lua::{BIN, args, assert_exit, fleetsh, fleetsh_env, local, remote, text};

/// `fleetsh --data DIR <flags> -e CHUNK`.
async fn chunk(dir: &Path, flags: &[&str], code: &str) -> std::process::Output {
    let mut rest: Vec<&str> = flags.to_vec();
    rest.extend(["-e", code]);
    fleetsh(local(dir, &rest), None).await
}

/// The number of locations of the default organization, read by a plain run.
async fn location_count(dir: &Path) -> usize {
    let out = chunk(dir, &["-q"], "print(#cloud.list_locations())").await;
    assert_exit(&out, 0);
    text(&out.stdout).trim().parse().unwrap()
}

#[tokio::test]
async fn help_documents_every_exit_code() {
    let out = fleetsh(args(&["--help"]), None).await;
    assert_exit(&out, 0);
    let help = text(&out.stdout);
    for line in [
        "0  success",
        "1  script error",
        "2  usage",
        "3  cannot connect",
        "4  --lock",
        "5  --timeout",
        "6  partial failure",
        "7  --dry-run",
    ] {
        assert!(help.contains(line), "--help lacks {line:?}:\n{help}");
    }
}

#[tokio::test]
async fn exit_codes_0_1_2_3_6() {
    let dir = tempfile::tempdir().unwrap();
    assert_exit(&chunk(dir.path(), &[], "print(1)").await, 0);
    let out = chunk(dir.path(), &[], "error('boom')").await;
    assert_exit(&out, 1);
    assert!(text(&out.stderr).contains("boom"));
    assert_exit(&fleetsh(args(&["--no-such-flag"]), None).await, 2);
    let out = fleetsh(
        args(&["--url", "http://127.0.0.1:9", "-e", "print(1)"]),
        None,
    )
    .await;
    assert_exit(&out, 2);
    let out = fleetsh(
        args(&[
            "--url",
            "http://127.0.0.1:9",
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
    // os.exit runs the cleanup first: the dry-run plan is still printed.
    let out = chunk(
        dir.path(),
        &["--dry-run"],
        "cloud.create_location('x') os.exit(6)",
    )
    .await;
    assert_exit(&out, 6);
    assert!(text(&out.stdout).contains("create_location"));
}

#[tokio::test]
async fn dry_run_sends_reads_plans_writes_and_exits_7() {
    let dir = tempfile::tempdir().unwrap();
    let before = location_count(dir.path()).await;
    let audit = dir.path().join("audit.jsonl");
    let audit_s = audit.display().to_string();
    let code = r#"
        local n = #cloud.list_locations()
        local loc = cloud.create_location("planned-one")
        assert(cloud.is_planned(loc) and cloud.is_planned(loc.id), "a planned value")
        local id = cloud.new_robot("r", loc.id)
        assert(cloud.is_planned(id))
        print("reads ran", n)
    "#;
    let out = chunk(dir.path(), &["--dry-run", "--audit", &audit_s], code).await;
    assert_exit(&out, 7);
    let stdout = text(&out.stdout);
    assert!(stdout.contains(&format!("reads ran\t{before}")), "{stdout}");
    assert!(stdout.contains("2 change(s) planned"), "{stdout}");
    assert!(stdout.contains("create_location {") && stdout.contains("\"planned-one\""));
    assert!(stdout.contains("new_robot {"), "{stdout}");
    assert_eq!(location_count(dir.path()).await, before, "nothing was sent");
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&audit)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert!(lines.iter().all(|l| l["outcome"] == "planned"));

    // Reads only: an empty plan exits 0.
    let out = chunk(dir.path(), &["--dry-run"], "cloud.list_locations()").await;
    assert_exit(&out, 0);
    assert!(text(&out.stdout).contains("no changes"));
    // JSON plan.
    let out = chunk(
        dir.path(),
        &["--dry-run", "--log-format", "json"],
        "cloud.delete_location('nope')",
    )
    .await;
    assert_exit(&out, 7);
    let plan: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!(plan["plan"][0]["rpc"], "DeleteLocation");
    assert_eq!(plan["plan"][0]["args"]["location_id"], "nope");
    // Results printed as JSON: the plan follows as a JSON document, not as text.
    let out = chunk(
        dir.path(),
        &["--dry-run", "--output", "json"],
        "cloud.delete_location('nope') return {n = 1}",
    )
    .await;
    assert_exit(&out, 7);
    let stdout = text(&out.stdout);
    let docs: Vec<serde_json::Value> = serde_json::Deserializer::from_str(&stdout)
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("stdout is not JSON documents ({e}): {stdout}"));
    assert_eq!(docs[0], serde_json::json!({"n": 1}), "{stdout}");
    assert_eq!(docs[1]["plan"][0]["rpc"], "DeleteLocation", "{stdout}");
}

#[tokio::test]
async fn audit_lines_record_outcomes_and_targets() {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("a.jsonl");
    let audit_s = audit.display().to_string();
    let code = r#"
        local loc = cloud.create_location("audited")
        cloud.update_location(loc.id, "renamed")
        pcall(cloud.delete_location, "no-such-location")
        print(loc.id)
    "#;
    let out = chunk(dir.path(), &["--audit", &audit_s], code).await;
    assert_exit(&out, 0);
    let loc = text(&out.stdout).trim().to_string();
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&audit)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "reads are not audited: {lines:?}");
    let run = &lines[0]["run_id"];
    assert!(
        lines
            .iter()
            .all(|l| &l["run_id"] == run && l["time"].is_string())
    );
    assert_eq!(lines[0]["method"], "create_location");
    assert_eq!(lines[0]["targets"]["result.location.id"], loc.as_str());
    assert_eq!(lines[1]["targets"]["location_id"], loc.as_str());
    assert_eq!(lines[1]["outcome"], "ok");
    assert_eq!(lines[2]["outcome"], "error");
    assert_eq!(lines[2]["code"], "NOT_FOUND");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&audit).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the audit file is private");
    }
}

#[tokio::test]
async fn a_second_run_exits_4_while_the_lock_is_held() {
    let dir = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    let lock = dir.path().join("chore.lock");
    let lock_s = lock.display().to_string();
    let mut first = Command::new(BIN)
        .args(local(other.path(), &["--lock", &lock_s, "-e", "sleep(30)"]))
        .env_remove("VIAM_API_KEY")
        .env_remove("VIAM_API_KEY_ID")
        .env_remove("FLEETSH_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !std::fs::read_to_string(&lock).is_ok_and(|s| s.contains("pid")) {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "lock never taken"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let t = Instant::now();
    let out = chunk(dir.path(), &["--lock", &lock_s], "print('ran')").await;
    assert_exit(&out, 4);
    assert!(t.elapsed() < Duration::from_secs(10), "exits at once");
    assert!(!text(&out.stdout).contains("ran"));
    let err = text(&out.stderr);
    assert!(err.contains(&format!("pid {}", first.id())), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    first.kill().unwrap();
    first.wait().unwrap();
    // Released with the process: the next run goes ahead.
    assert_exit(
        &chunk(dir.path(), &["--lock", &lock_s], "print(1)").await,
        0,
    );
}

#[tokio::test]
async fn timeout_stops_sleeps_busy_loops_and_in_flight_streams() {
    let s = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    for code in [
        "sleep(30)",
        "while true do end",
        "local ok = pcall(function() while true do end end) while true do end",
    ] {
        let t = Instant::now();
        let out = chunk(dir.path(), &["--timeout", "700ms"], code).await;
        assert_exit(&out, 5);
        assert!(t.elapsed() < Duration::from_secs(15), "{code}");
        assert!(text(&out.stderr).contains("timed out after 700ms"));
    }
    // A tail waits on the server until the deadline cancels it.
    let code = format!(
        r#"
        local id = cloud.new_robot("tail-timeout", "{}")
        local part = cloud.get_robot_parts(id)[1].id
        for e in cloud.tail_robot_part_logs{{robot_part_id = part}} do end
    "#,
        s.location_id()
    );
    let t = Instant::now();
    let out = fleetsh(remote(&s, &["--timeout", "1s", "-e", &code]), None).await;
    assert_exit(&out, 5);
    assert!(t.elapsed() < Duration::from_secs(15));
}

#[tokio::test]
async fn json_logs_and_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let out = chunk(
        dir.path(),
        &["--log-format", "json"],
        "log.info('hello', 1) error('bad')",
    )
    .await;
    assert_exit(&out, 1);
    // Every line is JSON; the first is the local fleet's notice.
    let lines: Vec<serde_json::Value> = text(&out.stderr)
        .lines()
        .skip(1)
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{}", text(&out.stderr));
    for l in &lines {
        for k in ["time", "level", "script", "run_id", "message"] {
            assert!(l[k].is_string(), "{k} missing in {l}");
        }
    }
    assert_eq!(lines[0]["message"], "hello 1");
    assert_eq!(lines[0]["level"], "info");
    assert_eq!(lines[1]["level"], "error");
    assert_eq!(lines[0]["run_id"], lines[1]["run_id"]);

    let out = chunk(
        dir.path(),
        &["--quiet"],
        "log.info('chatty') log.warn('w') log.error('only this')",
    )
    .await;
    assert_exit(&out, 0);
    assert_eq!(text(&out.stderr).trim(), "error: only this");
}

#[tokio::test]
async fn secrets_print_masked_and_are_revealed_only_on_purpose() {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("a.jsonl");
    let audit_s = audit.display().to_string();
    let keyfile = dir.path().join("key");
    let code = format!(
        r#"
        local org = cloud.default_org_id()
        local key, id = cloud.create_key({{{{role = "owner", resource_type = "organization", resource_id = org}}}}, "k")
        print(key, "key=" .. key, json.encode({{key = key}}))
        log.info("made", key)
        local part = cloud.get_robot_parts(cloud.new_robot("s"))[1]
        print(part.secret, part.secrets[1].secret)
        local auth = cloud.create_location_secret()
        print(auth.secrets[#auth.secrets].secret)
        assert(cloud.check_key(id, key))
        local f = io.open("{}", "w")
        f:write(key:reveal(), "\n", cloud.reveal(part.secret), "\n", auth.secrets[1].secret:reveal())
        f:close()
        "#,
        keyfile.display()
    );
    let out = chunk(dir.path(), &["--audit", &audit_s], &code).await;
    assert_exit(&out, 0);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("****\tkey=****\t{\"key\":\"****\"}"),
        "{stdout}"
    );
    let secrets = std::fs::read_to_string(&keyfile).unwrap();
    let audit = std::fs::read_to_string(&audit).unwrap();
    for s in secrets.lines() {
        assert!(s.len() >= 16, "a real secret was revealed: {s:?}");
        for (name, hay) in [
            ("stdout", &stdout),
            ("stderr", &text(&out.stderr)),
            ("audit", &audit),
        ] {
            assert!(!hay.contains(s), "a secret leaked into {name}");
        }
    }
}

#[tokio::test]
async fn types_compile_as_lua_and_cover_every_cloud_function() {
    let out = fleetsh(args(&["types"]), None).await;
    assert_exit(&out, 0);
    let defs = text(&out.stdout);
    assert!(defs.starts_with("---@meta"));
    mlua::Lua::new()
        .load(defs.as_str())
        .set_name("=types")
        .into_function()
        .expect("the definition file compiles as Lua");
    // The functions of a live `cloud` table, with the parameter names the prelude declares.
    let dir = tempfile::tempdir().unwrap();
    let list = r#"
        local names = {}
        for k, v in pairs(cloud) do
          if type(v) == "function" and not k:match("^_") then names[#names + 1] = k end
        end
        table.sort(names)
        print(table.concat(names, " "))
    "#;
    let out = chunk(dir.path(), &["-q"], list).await;
    assert_exit(&out, 0);
    let names: Vec<String> = text(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect();
    assert!(names.len() > 60, "{names:?}");
    for name in &names {
        let head = format!("function cloud.{name}(");
        let at = defs
            .find(&head)
            .unwrap_or_else(|| panic!("cloud.{name} is missing from the definitions"));
        // The annotation block right above the function.
        let block: Vec<&str> = defs[..at]
            .lines()
            .rev()
            .take_while(|l| l.starts_with("---"))
            .collect();
        assert!(
            block.iter().any(|l| l.starts_with("---@return ")),
            "cloud.{name} has no @return"
        );
        let params = &defs[at + head.len()..];
        let params = &params[..params.find(')').unwrap()];
        for p in params.split(", ").filter(|p| !p.is_empty()) {
            assert!(
                block
                    .iter()
                    .any(|l| l.starts_with(&format!("---@param {p}"))),
                "cloud.{name}: parameter {p} has no @param"
            );
        }
    }
    for spot in [
        "---@param robot_id string\n",
        "---@return cloud.Secret key",
        "---@class cloud.RobotPart",
    ] {
        assert!(defs.contains(spot), "{spot:?} missing");
    }
}

#[tokio::test]
async fn completions_for_bash_zsh_fish() {
    for shell in ["bash", "zsh", "fish"] {
        let out = fleetsh(args(&["completions", shell]), None).await;
        assert_exit(&out, 0);
        // The script asks fleetsh itself at each Tab (dynamic completion).
        let script = text(&out.stdout);
        assert!(
            script.contains("COMPLETE=") && script.contains("fleetsh"),
            "{shell}: {script}"
        );
    }
    let bash = fleetsh(args(&["completions", "bash"]), None).await;
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.bash");
    std::fs::write(&f, &bash.stdout).unwrap();
    let check = Command::new("bash").arg("-n").arg(&f).status().unwrap();
    assert!(check.success(), "bash -n rejects the completion script");
    assert_exit(&fleetsh(args(&["completions", "tcsh"]), None).await, 2);
}

/// What fleetsh offers for the last word of `words`, as the fish script asks it.
async fn complete(words: &[&str], config: &str) -> Vec<String> {
    let mut a = args(&["--", "fleetsh"]);
    a.extend(args(words));
    let out = fleetsh_env(a, None, &[("COMPLETE", "fish"), ("FLEETSH_CONFIG", config)]).await;
    assert_exit(&out, 0);
    text(&out.stdout)
        .lines()
        .map(|l| l.split('\t').next().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn completion_offers_profile_names_flags_and_subcommands() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[profiles.lab]\napi_key_id = \"a\"\napi_key = \"b\"\n\
         [profiles.prod]\napi_key_id = \"a\"\napi_key = \"b\"\n",
    )
    .unwrap();
    let cfg = config.display().to_string();
    assert_eq!(complete(&["--profile", ""], &cfg).await, ["lab", "prod"]);
    assert_eq!(complete(&["run", "--profile", "p"], &cfg).await, ["prod"]);
    assert_eq!(complete(&["run", "--dry"], &cfg).await, ["--dry-run"]);
    assert!(
        complete(&["pro"], &cfg)
            .await
            .contains(&"profile".to_string())
    );
    // No config file: no names, and no error.
    assert!(
        complete(&["--profile", ""], "/nonexistent/c.toml")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn progress_bars_only_when_stderr_is_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.lua");
    std::fs::write(
        &file,
        r#"
        local part = cloud.get_robot_parts(cloud.new_robot("x"))[1]
        local logs = {}
        for i = 1, 250 do
          logs[i] = {level = "info", message = "m" .. i, time = "2024-01-01T00:00:00Z", logger_name = "t"}
        end
        cloud.call("viam.app.v1.RobotService/Log", {id = part.id, logs = logs})
        assert(#cloud.get_robot_part_logs{robot_part_id = part.id, num_log_entries = 0} == 250)
        local t = {}
        for i = 1, 30 do t[i] = i end
        cloud.parallel(t, function() sleep(0.02) end, {concurrency = 3})
        "#,
    )
    .unwrap();
    let file = file.display().to_string();
    let data = dir.path().join("d").display().to_string();
    // `script` gives the binary a terminal (util-linux, present wherever the tests run).
    let cmd = format!("{BIN} --data {data} run {file} >/dev/null");
    let tty = tokio::task::spawn_blocking(move || {
        Command::new("script")
            .args(["-qec", &cmd, "/dev/null"])
            .output()
            .expect("the `script` utility (util-linux) runs the binary on a terminal")
    })
    .await
    .unwrap();
    assert_exit(&tty, 0);
    let seen = text(&tty.stdout);
    assert!(seen.contains("parallel ["), "{seen}");
    assert!(seen.contains("/30 "), "{seen}");
    assert!(seen.contains("get_robot_part_logs: pages"), "{seen}");

    let data2 = dir.path().join("d2").display().to_string();
    let out = fleetsh(args(&["--data", &data2, "run", &file]), None).await;
    assert_exit(&out, 0);
    let err = text(&out.stderr);
    assert!(!err.contains("parallel") && !err.contains("pages"), "{err}");
}
