//! The runner's command line and output: flags before and after the script path, stderr in
//! `--log-format json`, tracebacks of the user's frames only, and printed results.

use std::path::Path;

use crate::lua::{args, assert_exit, fleetsh, local, text};

/// A script that prints how many arguments it got and each of them.
fn args_script(dir: &Path) -> String {
    let path = dir.join("args.lua");
    std::fs::write(&path, "print(select('#', ...), ...)").unwrap();
    path.display().to_string()
}

#[tokio::test]
async fn every_word_after_the_script_path_is_the_scripts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let script = args_script(dir.path());
    for (words, printed) in [
        (vec!["--dry-run"], "1\t--dry-run\n"),
        (vec!["--quiet", "x"], "2\t--quiet\tx\n"),
        (vec!["match=zz*", "--dry-run"], "2\tmatch=zz*\t--dry-run\n"),
        (
            vec!["--timeout", "1s", "--", "-e"],
            "4\t--timeout\t1s\t--\t-e\n",
        ),
    ] {
        let mut a = vec!["run", script.as_str()];
        a.extend(&words);
        let out = fleetsh(local(&data, &a), None).await;
        assert_exit(&out, 0);
        // No plan line: the run was not a dry run; the banner: it was not quiet.
        assert_eq!(text(&out.stdout), printed, "{words:?}");
        assert!(text(&out.stderr).contains("local fleet at"), "{words:?}");
    }
}

#[tokio::test]
async fn runner_flags_before_the_script_path_still_work() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let script = args_script(dir.path());
    for a in [
        args(&["--dry-run", "run", &script, "a"]),
        args(&["run", "--dry-run", &script, "a"]),
        args(&["--quiet", "run", "--dry-run", &script, "a"]),
    ] {
        let out = fleetsh(
            local(&data, &a.iter().map(String::as_str).collect::<Vec<_>>()),
            None,
        )
        .await;
        assert_exit(&out, 0);
        assert_eq!(text(&out.stdout), "1\ta\ndry run: no changes\n", "{a:?}");
    }
}

/// Every stderr line of a run, parsed as JSON (the test fails on the first line that is not).
#[track_caller]
fn json_lines(stderr: &[u8]) -> Vec<serde_json::Value> {
    text(stderr)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l:?}")))
        .collect()
}

#[tokio::test]
async fn a_refused_command_line_is_a_json_line_under_json_logs() {
    let dir = tempfile::tempdir().unwrap();
    let out = fleetsh(
        local(
            dir.path(),
            &["--log-format", "json", "--no-such-flag", "-e", "1"],
        ),
        None,
    )
    .await;
    assert_exit(&out, 2);
    let lines = json_lines(&out.stderr);
    assert_eq!(lines.len(), 1, "{}", text(&out.stderr));
    assert_eq!(lines[0]["level"], "error");
    let message = lines[0]["message"].as_str().unwrap();
    assert!(message.contains("--no-such-flag"), "{message}");
    // Text logs keep clap's own text.
    let out = fleetsh(local(dir.path(), &["--no-such-flag", "-e", "1"]), None).await;
    assert_exit(&out, 2);
    assert!(text(&out.stderr).starts_with("error: unexpected argument '--no-such-flag'"));
}

#[tokio::test]
async fn json_log_format_makes_every_stderr_line_json() {
    let dir = tempfile::tempdir().unwrap();
    let out = fleetsh(
        local(
            dir.path(),
            &["--log-format", "json", "-e", "log.warn('w') error('bad')"],
        ),
        None,
    )
    .await;
    assert_exit(&out, 1);
    let lines = json_lines(&out.stderr);
    let messages: Vec<&str> = lines
        .iter()
        .map(|l| l["message"].as_str().unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{messages:?}");
    assert!(messages[0].starts_with("local fleet at "), "{messages:?}");
    assert_eq!(lines[0]["level"], "info");
    assert_eq!(messages[1], "w");
    assert!(
        messages[2].starts_with("(command line):1: bad"),
        "{messages:?}"
    );
}

#[tokio::test]
async fn the_local_fleets_own_warnings_are_json_too() {
    let dir = tempfile::tempdir().unwrap();
    fleetsh(local(dir.path(), &["-q", "-e", "print(1)"]), None).await;
    // A lost credentials file makes the fleet warn (tracing, not the runner's logger).
    std::fs::remove_file(dir.path().join("credentials.json")).unwrap();
    let out = fleetsh(
        local(dir.path(), &["--log-format", "json", "-e", "print(1)"]),
        None,
    )
    .await;
    assert_exit(&out, 0);
    let lines = json_lines(&out.stderr);
    assert!(
        lines
            .iter()
            .any(|l| l.to_string().contains("creating a new owner key")),
        "{lines:?}"
    );
}

#[tokio::test]
async fn a_timeout_is_said_once() {
    let dir = tempfile::tempdir().unwrap();
    for code in ["while true do end", "sleep(30)"] {
        let out = fleetsh(local(dir.path(), &["--timeout", "300ms", "-e", code]), None).await;
        assert_exit(&out, 5);
        let err = text(&out.stderr);
        assert_eq!(err.matches("timed out").count(), 1, "{code}: {err}");
        assert!(
            err.contains("fleetsh: timed out after 300ms (--timeout)"),
            "{err}"
        );
        assert!(!err.contains("traceback"), "{code}: {err}");

        let out = fleetsh(
            local(
                dir.path(),
                &["--timeout", "300ms", "--log-format", "json", "-e", code],
            ),
            None,
        )
        .await;
        assert_exit(&out, 5);
        let errors: Vec<_> = json_lines(&out.stderr)
            .into_iter()
            .filter(|l| l["level"] == "error")
            .collect();
        assert_eq!(errors.len(), 1, "{code}: {errors:?}");
        assert_eq!(errors[0]["message"], "timed out after 300ms (--timeout)");
    }
}

#[tokio::test]
async fn tracebacks_show_the_users_frames_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.lua");
    std::fs::write(
        &path,
        "local function f()\n  cloud.get_robot('nope')\nend\nf()\n",
    )
    .unwrap();
    let p = path.display().to_string();
    let parallel = "cloud.parallel({function() error('x') end})";
    for a in [vec!["run", p.as_str()], vec!["-e", parallel]] {
        let mut all = vec!["-q"];
        all.extend(a);
        let out = fleetsh(local(&dir.path().join("data"), &all), None).await;
        assert_exit(&out, 1);
        let err = text(&out.stderr);
        for internal in [
            "prelude.lua",
            "runner",
            "xpcall",
            "chores",
            "__mlua",
            "stack traceback:\n\nstack",
        ] {
            assert!(!err.contains(internal), "{internal:?} in {err}");
        }
        assert_eq!(err.matches("stack traceback:").count(), 1, "{err}");
    }
    let out = fleetsh(local(&dir.path().join("data"), &["-q", "run", &p]), None).await;
    let err = text(&out.stderr);
    assert_eq!(
        err,
        format!(
            "fleetsh: {p}:2: get_robot: NOT_FOUND: robot \"nope\" not found\nstack traceback:\n\
             \t{p}:2: in local 'f'\n\t{p}:4: in main chunk\n"
        )
    );
}

#[tokio::test]
async fn returned_values_are_printed_as_json_or_lua() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // stdout is a pipe here: JSON by default, one document per value, secrets masked.
    let out = fleetsh(
        local(&data, &["-q", "-e", "return cloud.list_locations(), 2"]),
        None,
    )
    .await;
    assert_exit(&out, 0);
    let stdout = text(&out.stdout);
    let docs: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(docs.len(), 2, "{stdout}");
    assert_eq!(docs[0][0]["name"], "Main");
    assert_eq!(docs[0][0]["auth"]["secret"], "****");
    assert_eq!(docs[1], 2);

    let out = fleetsh(
        local(
            &data,
            &[
                "-q",
                "--output",
                "lua",
                "-e",
                "return 1, 'a', nil, {x = true}",
            ],
        ),
        None,
    )
    .await;
    assert_exit(&out, 0);
    assert_eq!(text(&out.stdout), "1\t\"a\"\tnil\t{ x = true }\n");

    // A script file's results too; nothing at all when it returns nothing.
    let script = dir.path().join("r.lua");
    std::fs::write(&script, "print('printed') return ...").unwrap();
    let s = script.display().to_string();
    let out = fleetsh(local(&data, &["-q", "run", &s, "a"]), None).await;
    assert_exit(&out, 0);
    assert_eq!(text(&out.stdout), "printed\n\"a\"\n");
    let out = fleetsh(local(&data, &["-q", "run", &s]), None).await;
    assert_eq!(text(&out.stdout), "printed\n");

    let out = fleetsh(local(&data, &["-q", "-e", "return print"]), None).await;
    assert_exit(&out, 1);
    assert!(
        text(&out.stderr).contains("--output lua"),
        "{}",
        text(&out.stderr)
    );
}
