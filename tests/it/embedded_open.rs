//! The embedded fleet opens at a run's first call: a run that makes none never opens the store,
//! and one whose fleet cannot open fails as it did when the fleet opened before the script.

use crate::lua::{assert_exit, fleetsh, local, text};

#[tokio::test]
async fn a_run_without_calls_never_opens_the_fleet_and_a_call_reports_why_it_cannot() {
    let dir = tempfile::tempdir().unwrap();
    // The first start makes the fleet and its key (credentials.json).
    assert_exit(
        &fleetsh(local(dir.path(), &["-e", "return 1"]), None).await,
        0,
    );
    // A store that cannot open: a run that makes no call does not notice.
    let db = dir.path().join("fleet.db");
    std::fs::write(&db, vec![b'x'; 8192]).unwrap();
    let out = fleetsh(local(dir.path(), &["-e", "return 1"]), None).await;
    assert_exit(&out, 0);
    assert_eq!(text(&out.stdout), "1\n");
    // The first call fails; whatever the script makes of it, the run ends as a start that
    // failed: the store's own message, exit code 3, and no second message about the call.
    let script = "print('before') local ok = pcall(cloud.list_organizations) assert(not ok)";
    let out = fleetsh(local(dir.path(), &["-e", script]), None).await;
    assert_exit(&out, 3);
    let err = text(&out.stderr);
    assert!(
        err.lines().last().unwrap_or_default()
            == "fleetsh: file is not a database: Error code 26: file is not a database",
        "{err}"
    );
    assert!(!err.contains("FAILED_PRECONDITION"), "{err}");
    assert_eq!(
        std::fs::read(&db).unwrap(),
        vec![b'x'; 8192],
        "the store was changed"
    );
}
