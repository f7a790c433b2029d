//! `fleetsh test`: the repository's own `*_test.lua` files pass; a deliberately failing example
//! shows the diff, the file and the line; a file that does not parse, an error outside an
//! assertion and a test past its deadline each fail alone while the rest still run.

use std::path::Path;

use crate::lua::{args, assert_exit, fleetsh, text};

fn repo(p: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(p)
        .display()
        .to_string()
}

#[tokio::test]
async fn the_shipped_chores_tests_pass() {
    let out = fleetsh(args(&["test", &repo("scripts")]), None).await;
    let shown = text(&out.stdout);
    assert_exit(&out, 0);
    let last = shown.lines().last().unwrap_or_default();
    assert!(last.ends_with(" passed, 0 failed"), "{shown}");
    assert!(
        shown.contains("cleanup_locations_test.lua: a dry run plans"),
        "{shown}"
    );
}

#[tokio::test]
async fn failures_show_the_diff_file_and_line_and_the_rest_still_runs() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("reports/junit.xml");
    let out = fleetsh(
        args(&[
            "test",
            &repo("tests/examples"),
            "--junit",
            junit.to_str().unwrap(),
        ]),
        None,
    )
    .await;
    assert_exit(&out, 1);
    let shown = text(&out.stdout);
    for want in [
        "failing_test.lua:8: values differ",
        "robots: expected 1, got 0",
        "tags[2]: expected \"c\", got \"b\"",
        "failing_test.lua:13: get_robot: NOT_FOUND: robot \"no-such-robot\" not found",
        "skip  ",
        "not yet (waiting for the fleet clock)",
        "broken_test.lua:4: 'end' expected",
    ] {
        assert!(shown.contains(want), "{want}:\n{shown}");
    }
    assert!(
        shown.contains("ok    ") && shown.contains("passes"),
        "{shown}"
    );
    assert_eq!(
        shown.lines().last(),
        Some("1 passed, 3 failed, 1 skipped"),
        "{shown}"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("failures=\"3\"") && xml.contains("skipped=\"1\""),
        "{xml}"
    );
}

#[tokio::test]
async fn filter_timeout_and_isolation() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("iso_test.lua");
    std::fs::write(
        &file,
        r#"
        test("first leaves a location behind", function(t)
          cloud.create_location("left-behind")
          t.eq(#cloud.list_locations(), 2)
        end)
        test("second sees a fresh fleet", function(t)
          t.eq(#cloud.list_locations(), 1)
        end)
        test("spins", function(t) while true do end end)
        "#,
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let out = fleetsh(args(&["test", path, "--test-timeout", "1s"]), None).await;
    assert_exit(&out, 1);
    let shown = text(&out.stdout);
    assert!(
        shown.contains("iso_test.lua:9: test timed out after 1s (--test-timeout)"),
        "{shown}"
    );
    assert_eq!(shown.lines().last(), Some("2 passed, 1 failed"), "{shown}");
    let out = fleetsh(args(&["test", path, "--filter", "fresh"]), None).await;
    assert_exit(&out, 0);
    assert_eq!(text(&out.stdout).lines().last(), Some("1 passed, 0 failed"));
    let out = fleetsh(
        args(&["test", dir.path().join("none").to_str().unwrap()]),
        None,
    )
    .await;
    assert_exit(&out, 2);
}

#[tokio::test]
async fn fixtures_describe_a_fleet_as_data() {
    let out = fleetsh(args(&["test", &repo("tests/fleet")]), None).await;
    assert_exit(&out, 0);
    assert!(
        text(&out.stdout).contains("9 passed, 0 failed"),
        "{}",
        text(&out.stdout)
    );
}

#[tokio::test]
async fn a_seed_file_gives_every_test_the_same_fleet_afresh() {
    for seed in ["tests/seeded/lab.seed.json", "tests/seeded/lab.seed.lua"] {
        let out = fleetsh(
            args(&["test", "--seed", &repo(seed), &repo("tests/seeded")]),
            None,
        )
        .await;
        assert_exit(&out, 0);
        assert_eq!(
            text(&out.stdout).lines().last(),
            Some("5 passed, 0 failed"),
            "{seed}: {}",
            text(&out.stdout)
        );
    }
    let out = fleetsh(
        args(&[
            "test",
            "--seed",
            &repo("tests/seeded/none.json"),
            &repo("tests/seeded"),
        ]),
        None,
    )
    .await;
    assert_exit(&out, 2);
}
