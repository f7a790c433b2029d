//! Acknowledged writes survive kill -9 of `fleetsh serve`, and the database stays intact.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use fleetsh::proto::rpc::v1::auth_service_client::AuthServiceClient;
use fleetsh::proto::rpc::v1::{AuthenticateRequest, Credentials as RpcCredentials};
use fleetsh::proto::viam::app::v1::app_service_client::AppServiceClient;
use fleetsh::proto::viam::app::v1::*;
use fleetsh::server::Credentials;
use tonic::transport::Channel;

use crate::harness::{App, Bearer};

/// Starts `fleetsh serve` on a free port and waits until it says it is serving.
fn spawn_serve(dir: &std::path::Path) -> (Child, Credentials) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fleetsh"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir)
        .env("RUST_LOG", "warn")
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn fleetsh serve");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    loop {
        let line = lines.next().expect("server exited before serving").unwrap();
        if line.contains("serving the local fleet on") {
            break;
        }
    }
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, Credentials::read(dir).unwrap())
}

async fn connect(c: &Credentials) -> App {
    let channel = Channel::from_shared(c.address.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let token = AuthServiceClient::new(channel.clone())
        .authenticate(AuthenticateRequest {
            entity: c.api_key_id.clone(),
            credentials: Some(RpcCredentials {
                r#type: "api-key".into(),
                payload: c.api_key.clone(),
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .access_token;
    AppServiceClient::with_interceptor(
        channel,
        Bearer(Some(format!("Bearer {token}").parse().unwrap())),
    )
}

/// Writes until the server dies, returning the ids it acknowledged.
async fn write_until_killed(
    app: &mut App,
    location: &str,
    round: usize,
    kill_after: usize,
    child: &mut Child,
) -> Vec<String> {
    let mut acked = Vec::new();
    for i in 0.. {
        if i == kill_after {
            child.kill().unwrap(); // SIGKILL: no shutdown path runs
        }
        match app
            .new_robot(NewRobotRequest {
                name: format!("r{round}-{i}"),
                location: location.into(),
            })
            .await
        {
            Ok(r) => acked.push(r.into_inner().id),
            Err(_) => break,
        }
    }
    let _ = child.wait();
    acked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9_and_the_database_stays_intact() {
    let dir = tempfile::tempdir().unwrap();
    let rounds: usize = std::env::var("FLEETSH_KILL_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let mut all = Vec::new();
    for round in 0..rounds {
        let (mut child, creds) = spawn_serve(dir.path());
        let mut app = connect(&creds).await;
        // Kill at a different point each round, while writes are in flight.
        all.extend(
            write_until_killed(
                &mut app,
                &creds.location_id,
                round,
                50 + round * 37,
                &mut child,
            )
            .await,
        );
    }
    assert!(
        all.len() >= rounds * 50,
        "too few acknowledged writes: {}",
        all.len()
    );

    let (mut child, creds) = spawn_serve(dir.path());
    let mut app = connect(&creds).await;
    for id in &all {
        app.get_robot(GetRobotRequest { id: id.clone() })
            .await
            .unwrap_or_else(|e| panic!("lost {id}: {e}"));
    }
    let listed = app
        .list_robots(ListRobotsRequest {
            location_id: creds.location_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .robots;
    assert!(listed.len() >= all.len());
    child.kill().unwrap();
    let _ = child.wait();

    let db = rusqlite::Connection::open(dir.path().join("fleet.db")).unwrap();
    let check: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}
