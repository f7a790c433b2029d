//! `fleetsh serve --faults FILE`: the file's rules apply from the first call; a bad rule stops
//! the start with exit 2, naming the file, the rule and the field; a call slowed by a rule does
//! not keep a SIGTERM'd server up.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fleetsh::proto::viam::app::v1::{GetOrganizationRequest, ListOrganizationsRequest};
use tonic::Code;

use crate::serve_proc::Serve;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_faults_answer_their_code_and_message_for_their_count() {
    let tmp = tempfile::tempdir().unwrap();
    let faults = tmp.path().join("outage.toml");
    std::fs::write(
        &faults,
        r#"
[[faults]]
method = "ListOrganizations"
code = "UNAVAILABLE"
message = "planned outage"
times = 2
"#,
    )
    .unwrap();
    let log = tmp.path().join("serve.log");
    let args = ["--faults", faults.to_str().unwrap()];
    let serve = Serve::spawn(
        &tmp.path().join("fleet"),
        "127.0.0.1:0",
        "warn",
        &args,
        &log,
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("1 fault rules from"), "{text}");
    let mut app = serve.owner().await;
    for n in 1..=2 {
        let e = app
            .list_organizations(ListOrganizationsRequest {})
            .await
            .expect_err("the rule answers the first two calls");
        assert_eq!(
            (e.code(), e.message()),
            (Code::Unavailable, "planned outage"),
            "call {n}"
        );
    }
    app.list_organizations(ListOrganizationsRequest {})
        .await
        .expect("times = 2: the third call is served");
}

#[test]
fn a_bad_rule_stops_the_start_with_exit_2_naming_file_rule_and_field() {
    let tmp = tempfile::tempdir().unwrap();
    let faults = tmp.path().join("bad.json");
    std::fs::write(
        &faults,
        r#"{"faults": [{"method": "Get*"}, {"method": "List*", "code": "UNAVAIL"}]}"#,
    )
    .unwrap();
    let data = tmp.path().join("fleet");
    let out = Command::new(env!("CARGO_BIN_EXE_fleetsh"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .arg("--faults")
        .arg(&faults)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{}: rule 2: field 'code': 'UNAVAIL'",
            faults.display()
        )),
        "the error does not name the file, rule and field:\n{stderr}"
    );
    assert!(!data.exists(), "a refused start made the data directory");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_serve_promptly_during_a_call_a_fault_slows() {
    let tmp = tempfile::tempdir().unwrap();
    let faults = tmp.path().join("slow.json");
    std::fs::write(
        &faults,
        r#"[{"method": "GetOrganization", "code": "OK", "latency": "60s"}]"#,
    )
    .unwrap();
    let log = tmp.path().join("serve.log");
    let args = ["--faults", faults.to_str().unwrap()];
    let mut serve = Serve::spawn(
        &tmp.path().join("fleet"),
        "127.0.0.1:0",
        "warn",
        &args,
        &log,
    );
    let mut app = serve.owner().await;
    let org = serve.creds.org_id.clone();
    let slow = tokio::spawn(async move {
        app.get_organization(GetOrganizationRequest {
            organization_id: org,
        })
        .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    Command::new("kill")
        .arg(serve.child.id().to_string())
        .status()
        .unwrap();
    let status = loop {
        if let Some(s) = serve.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "serve still runs 10 s after SIGTERM with a slowed call in flight"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        slow.await.unwrap().is_err(),
        "the slowed call cannot have succeeded"
    );
}
