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
