//! Secrets: API keys are stored hashed; location and part secrets reach only callers with the
//! secret-reading permissions; the credentials file and the database are private to the
//! user (mode 0600); and no secret appears in the server's debug log.

use std::os::unix::fs::PermissionsExt;

use serde_json::{Value, json};

use crate::dynamic::{call, method, request};
use crate::fixture::{grant, must, populate};
use crate::harness::TestServer;
use crate::serve_proc::Serve;

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// Every string in `v` found under a key named like a secret.
fn secret_values(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                match x {
                    Value::String(s)
                        if ["key", "secret", "access_token"].contains(&k.as_str())
                            && !s.is_empty() =>
                    {
                        out.push(s.clone())
                    }
                    _ => secret_values(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| secret_values(x, out)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_reach_only_callers_allowed_to_read_them() {
    let s = TestServer::start().await;
    let c = s.fleet.credentials.clone();
    let root = s.token(&c.api_key_id, &c.api_key).await.unwrap();
    let ids = populate(&s, &root, &c.org_id, "A").await;
    let k = must(&s, &root, "CreateKey", json!({"authorizations": [grant(&c.org_id, "operator", "organization", &c.org_id)], "name": "op"})).await;
    let operator = s
        .token(k["id"].as_str().unwrap(), k["key"].as_str().unwrap())
        .await
        .unwrap();

    let get = async |token: &str, name: &str, req: Value| {
        let m = method("AppService", name);
        call(&s.channel, Some(token), &m, request(&m, &req))
            .await
            .map(|r| crate::fixture::to_json(&r))
    };
    let part_req = json!({"id": ids["part"]});
    let loc_req = json!({"location_id": ids["loc"]});
    let parts_req = json!({"robot_id": ids["robot"]});
    for (name, req) in [
        ("GetRobotPart", &part_req),
        ("GetLocation", &loc_req),
        ("GetRobotParts", &parts_req),
    ] {
        let mut seen = Vec::new();
        secret_values(&get(&root, name, req.clone()).await.unwrap(), &mut seen);
        assert!(
            !seen.is_empty(),
            "{name}: the owner sees no secret (the test would prove nothing)"
        );
        let mut leaked = Vec::new();
        secret_values(
            &get(&operator, name, req.clone()).await.unwrap(),
            &mut leaked,
        );
        assert!(
            leaked.is_empty(),
            "{name} shows an operator secrets: {leaked:?}"
        );
    }
    let denied = get(&operator, "LocationAuth", loc_req.clone())
        .await
        .unwrap_err();
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_hashed_files_are_private_and_debug_logs_hold_no_secret() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("fleet");
    let log = tmp.path().join("serve.log");
    // The first start prints the new owner key once, by design; the debug run is the second.
    drop(Serve::spawn(
        &data,
        "127.0.0.1:0",
        "warn",
        &[],
        &tmp.path().join("first.log"),
    ));
    let mut serve = Serve::spawn(&data, "127.0.0.1:0", "debug", &[], &log);
    let c = serve.creds.clone();
    let channel = tonic::transport::Channel::from_shared(c.address.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let auth = method("AuthService", "Authenticate");
    let authenticate = async |id: &str, key: &str| {
        let r = call(
            &channel,
            None,
            &auth,
            request(
                &auth,
                &json!({"entity": id, "credentials": {"type": "api-key", "payload": key}}),
            ),
        )
        .await
        .unwrap();
        crate::fixture::to_json(&r)["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let root = authenticate(&c.api_key_id, &c.api_key).await;
    let mut secrets = vec![c.api_key.clone(), root.clone()];
    let app = async |name: &str, req: Value| {
        let m = method("AppService", name);
        let r = call(&channel, Some(&root), &m, request(&m, &req))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        crate::fixture::to_json(&r)
    };
    let org = c.org_id.clone();
    let key = app(
        "CreateKey",
        json!({"authorizations": [grant(&org, "owner", "organization", &org)], "name": "k"}),
    )
    .await;
    let key_id = key["id"].as_str().unwrap().to_string();
    let rotated = app("RotateKey", json!({"id": key_id})).await;
    let robot = app("NewRobot", json!({"name": "r", "location": c.location_id})).await;
    let part =
        app("GetRobotParts", json!({"robot_id": robot["id"]})).await["parts"][0]["id"].clone();
    for v in [
        key.clone(),
        rotated.clone(),
        app(
            "CreateLocationSecret",
            json!({"location_id": c.location_id}),
        )
        .await,
        app("LocationAuth", json!({"location_id": c.location_id})).await,
        app("CreateRobotPartSecret", json!({"part_id": part})).await,
        app("GetRobotPart", json!({"id": part})).await,
    ] {
        secret_values(&v, &mut secrets);
    }
    let new_id = rotated["id"].as_str().unwrap_or(&key_id).to_string();
    secrets.push(authenticate(&new_id, rotated["key"].as_str().unwrap()).await);
    // A part secret exchanged for a token, as a machine does.
    let part_secret = app("GetRobotPart", json!({"id": part})).await["part"]["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let r = call(&channel, None, &auth, request(&auth, &json!({"entity": part, "credentials": {"type": "robot-secret", "payload": part_secret}}))).await;
    if let Ok(t) = r {
        secrets.push(
            crate::fixture::to_json(&t)["access_token"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    // While the server runs, its write-ahead files exist and must be as private.
    for f in ["fleet.db-wal", "fleet.db-shm"] {
        assert_eq!(mode(&data.join(f)), 0o600, "{f} is readable by others");
    }
    serve.terminate();
    secrets.sort();
    secrets.dedup();
    assert!(
        secrets.len() >= 8,
        "too few secrets collected: {}",
        secrets.len()
    );

    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.lines().count() > 10,
        "the debug run logged almost nothing:\n{text}"
    );
    for secret in &secrets {
        assert!(
            !text.contains(secret.as_str()),
            "a secret is in the debug log:\n{text}"
        );
    }

    // API keys: only hashes are stored, in the database and its write-ahead log alike.
    let mut db = Vec::new();
    for f in ["fleet.db", "fleet.db-wal"] {
        if let Ok(bytes) = std::fs::read(data.join(f)) {
            db.extend(bytes);
        }
    }
    let db = String::from_utf8_lossy(&db);
    for k in [
        &c.api_key,
        key["key"].as_str().unwrap(),
        rotated["key"].as_str().unwrap(),
    ] {
        assert!(!db.contains(k), "an API key is stored in clear");
    }

    for f in ["credentials.json", "fleet.db"] {
        assert_eq!(mode(&data.join(f)), 0o600, "{f} is readable by others");
    }
}
