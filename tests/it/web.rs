//! The TypeScript SDK and browsers against `fleetsh serve`: gRPC-web on the gRPC port, over
//! HTTP/1.1 and TLS, CORS, and the Node suite in tests/node (the unchanged SDK through its
//! default transport and through connect-node's gRPC transport, and a page in headless
//! Chromium). Node and Chromium come from `.ci/run` (`npm ci`, `apt-get install chromium`);
//! outside CI a machine without them skips the Node tests and says so.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fleetsh::proto::rpc::v1::auth_service_client::AuthServiceClient;
use fleetsh::proto::rpc::v1::{AuthenticateRequest, Credentials as RpcCredentials};
use fleetsh::proto::viam::app::v1::app_service_client::AppServiceClient;
use fleetsh::proto::viam::app::v1::robot_service_client::RobotServiceClient;
use fleetsh::proto::viam::app::v1::{
    GetRobotPartsRequest, ListOrganizationsRequest, NewRobotRequest, TailRobotPartLogsRequest,
};
use fleetsh::server::Credentials;
use tonic::Code;

use crate::harness::{TestServer, free_port};
use crate::lua::{args, command};
use crate::web_client::WebChannel;

const NODE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/node");
const TLS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls");

/// Where the Node runs leave what they made (shapes, screenshots): target/web-test.
fn out_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target/tmp has a parent")
        .join("web-test")
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// False (skip, and say why) when `what` is missing outside CI; in CI a missing tool fails.
fn have(what: &str, present: bool, install: &str) -> bool {
    if !present {
        assert!(
            !in_ci(),
            "{what} is missing in CI (CI=true): .ci/run must install it ({install})"
        );
        eprintln!("SKIPPED: {what} is missing; {install} to run this test");
    }
    present
}

fn node_ready() -> bool {
    have(
        "tests/node/node_modules",
        Path::new(NODE_DIR).join("node_modules").is_dir(),
        "run `npm ci` in tests/node",
    )
}

/// `fleetsh serve` on a free loopback port, with its own data directory; killed when dropped.
struct Served {
    child: Child,
    credentials: Credentials,
    _dir: tempfile::TempDir,
}

impl Served {
    fn start(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let data = dir.path().display().to_string();
        let mut a = args(&["--data", &data, "serve", "--listen", &listen]);
        a.extend(args(extra));
        let child = command(&a, &[])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn fleetsh serve");
        let deadline = Instant::now() + Duration::from_secs(30);
        let credentials = loop {
            match Credentials::read(dir.path()) {
                Ok(c) if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() => break c,
                _ => {
                    assert!(
                        Instant::now() < deadline,
                        "fleetsh serve did not listen on {port}"
                    );
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        };
        Self {
            child,
            credentials,
            _dir: dir,
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `node --test FILE` in tests/node against `fleet`; fails with Node's report.
fn node_test(file: &str, fleet: &Served, env: &[(&str, &str)]) {
    let c = &fleet.credentials;
    let out = Command::new("node")
        // A live tail never ends by itself; the SDK's tail has no way to stop it.
        .args(["--test", "--test-force-exit", "--test-reporter=spec", file])
        .current_dir(NODE_DIR)
        .env("FLEETSH_ADDRESS", &c.address)
        .env("FLEETSH_API_KEY_ID", &c.api_key_id)
        .env("FLEETSH_API_KEY", &c.api_key)
        .env("FLEETSH_ORG_ID", &c.org_id)
        .env("FLEETSH_LOCATION_ID", &c.location_id)
        .env("FLEETSH_OUT", out_dir())
        .envs(env.iter().copied())
        .output()
        .expect("node is on PATH (Node 20 or later)");
    assert!(
        out.status.success(),
        "node --test {file} {env:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_typescript_sdk_passes_over_grpc_web_and_grpc_and_both_transports_agree() {
    if !node_ready() {
        return;
    }
    let mut shapes = Vec::new();
    for transport in ["grpc-web", "grpc"] {
        let fleet = Served::start(&[]);
        let file = out_dir().join(format!("shapes-{transport}.json"));
        let _ = std::fs::remove_file(&file);
        let path = file.display().to_string();
        node_test(
            "app_client.test.js",
            &fleet,
            &[("FLEETSH_TRANSPORT", transport), ("FLEETSH_SHAPES", &path)],
        );
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("the {transport} run wrote no {path}: {e}"));
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(
            v.as_object().is_some_and(|o| o.len() > 60),
            "the {transport} run recorded only {} answers",
            v.as_object().map_or(0, |o| o.len())
        );
        shapes.push(v);
    }
    let (web, grpc) = (
        shapes[0].as_object().unwrap(),
        shapes[1].as_object().unwrap(),
    );
    let differ: Vec<_> = web
        .keys()
        .chain(grpc.keys())
        .filter(|k| web.get(*k) != grpc.get(*k))
        .map(|k| format!("{k}: gRPC-web {:?} / gRPC {:?}", web.get(k), grpc.get(k)))
        .collect();
    assert!(
        differ.is_empty(),
        "the transports disagree (see {}):\n{}",
        out_dir().display(),
        differ.join("\n")
    );
}

#[test]
fn a_browser_page_uses_the_fleet_and_other_origins_are_refused() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !node_ready()
        || !have(
            &chromium,
            Path::new(&chromium).exists(),
            "apt-get install chromium",
        )
    {
        return;
    }
    let page_port = free_port().to_string();
    let allowed = format!("http://allowed.test:{page_port}");
    let fleet = Served::start(&["--cors-origin", &allowed]);
    let shot = out_dir().join("browser.png");
    let _ = std::fs::remove_file(&shot);
    node_test(
        "browser.test.js",
        &fleet,
        &[("FLEETSH_PAGE_PORT", &page_port), ("CHROMIUM", &chromium)],
    );
    let size = std::fs::metadata(&shot).map_or(0, |m| m.len());
    assert!(size > 1000, "no screenshot at {}", shot.display());
}

async fn authenticate(web: WebChannel, c: &Credentials) -> Result<String, tonic::Status> {
    let r = AuthServiceClient::new(web)
        .authenticate(AuthenticateRequest {
            entity: c.api_key_id.clone(),
            credentials: Some(RpcCredentials {
                r#type: "api-key".into(),
                payload: c.api_key.clone(),
            }),
        })
        .await?;
    Ok(r.into_inner().access_token)
}

#[tokio::test]
async fn grpc_web_over_http1_serves_unary_calls_with_statuses_and_messages() {
    let s = TestServer::start().await;
    let web = WebChannel::new(&s.fleet.credentials.address, None);
    let token = authenticate(web.clone(), &s.fleet.credentials)
        .await
        .expect("Authenticate");
    let mut app = AppServiceClient::new(web.clone());
    let mut req = tonic::Request::new(ListOrganizationsRequest {});
    let bearer = format!("Bearer {token}").parse().unwrap();
    req.metadata_mut().insert("authorization", bearer);
    let orgs = app.list_organizations(req).await.unwrap().into_inner();
    assert_eq!(orgs.organizations[0].id, s.org_id());
    // No token: the status and its message reach the client.
    let e = app
        .list_organizations(ListOrganizationsRequest {})
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated, "{}", e.message());
    assert!(!e.message().is_empty());
}

#[tokio::test]
async fn grpc_web_over_tls_with_http1_only_alpn() {
    let (cert, key) = (format!("{TLS}/server.pem"), format!("{TLS}/server.key"));
    let fleet = Served::start(&["--tls-cert", &cert, "--tls-key", &key]);
    let ca = std::fs::read(format!("{TLS}/ca.pem")).unwrap();
    // The certificate names localhost.
    let c = &fleet.credentials;
    assert!(c.address.starts_with("https://"), "{}", c.address);
    let web = WebChannel::new(&c.address.replace("127.0.0.1", "localhost"), Some(&ca));
    let token = authenticate(web, c).await.expect("Authenticate over TLS");
    assert!(!token.is_empty());
}

#[tokio::test]
async fn a_log_tail_streams_over_grpc_web() {
    let s = TestServer::start().await;
    let mut owner = s.owner().await;
    let robot = owner
        .new_robot(NewRobotRequest {
            name: "web-bot".into(),
            location: s.location_id().into(),
        })
        .await
        .unwrap()
        .into_inner()
        .id;
    let part = owner
        .get_robot_parts(GetRobotPartsRequest { robot_id: robot })
        .await
        .unwrap()
        .into_inner()
        .parts[0]
        .id
        .clone();
    let c = &s.fleet.credentials;
    let token = s.token(&c.api_key_id, &c.api_key).await.unwrap();
    let web = WebChannel::new(&c.address, None);
    let mut req = tonic::Request::new(TailRobotPartLogsRequest {
        id: part.clone(),
        errors_only: false,
        filter: None,
    });
    let bearer = format!("Bearer {token}").parse().unwrap();
    req.metadata_mut().insert("authorization", bearer);
    let mut tail = AppServiceClient::new(web)
        .tail_robot_part_logs(req)
        .await
        .expect("the tail opens")
        .into_inner();
    let send = async |n: usize| {
        let mut robot = RobotServiceClient::new(s.channel.clone());
        let entry = crate::logs::entry("info", &format!("over grpc-web {n}"), 1);
        let mut req = tonic::Request::new(crate::logs::push(&part, vec![entry]));
        req.metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        robot.log(req).await.unwrap();
    };
    // Entries written while the tail is open arrive as stream messages; keep writing until
    // one does, so that a tail registered late cannot miss them.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut n = 0;
    let got = loop {
        send(n).await;
        n += 1;
        match tokio::time::timeout(Duration::from_millis(300), tail.message()).await {
            Ok(Ok(Some(m))) if !m.logs.is_empty() => break m,
            Ok(Err(e)) => panic!("the tail failed: {e}"),
            Ok(Ok(None)) => panic!("the tail ended"),
            _ => assert!(Instant::now() < deadline, "no tail message in 10 s"),
        }
    };
    assert!(got.logs[0].message.starts_with("over grpc-web "));
}

#[tokio::test]
async fn a_stopped_tls_fleet_frees_its_port() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = fleetsh::server::ServeOptions::new(dir.path());
    opts.listen = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    opts.tls_cert = Some(format!("{TLS}/server.pem").into());
    opts.tls_key = Some(format!("{TLS}/server.key").into());
    let fleet = fleetsh::server::start(&opts).await.unwrap();
    let addr = fleet.addr;
    fleet.stop().await.unwrap();
    // The accept loop (tls::incoming) ends with the server and closes the listener.
    let deadline = Instant::now() + Duration::from_secs(5);
    while let Err(e) = std::net::TcpListener::bind(addr) {
        assert!(
            Instant::now() < deadline,
            "{addr} still bound after stop: {e}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
