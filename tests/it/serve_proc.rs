//! `fleetsh serve` as a child process (the real binary, so kill -9 and its stderr are real),
//! with its stderr in a file that tests can read.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fleetsh::proto::rpc::v1::auth_service_client::AuthServiceClient;
use fleetsh::proto::rpc::v1::{AuthenticateRequest, Credentials as RpcCredentials};
use fleetsh::proto::viam::app::v1::app_service_client::AppServiceClient;
use fleetsh::server::Credentials;
use tonic::transport::Channel;

use crate::harness::{App, Bearer};

pub struct Serve {
    pub child: Child,
    pub creds: Credentials,
}

impl Serve {
    /// Starts a server on `listen` (e.g. "127.0.0.1:0") over `dir`, writing its stderr to
    /// `log` (appended, so restarts keep one history), and waits until it serves.
    pub fn spawn(dir: &Path, listen: &str, rust_log: &str, extra: &[&str], log: &Path) -> Self {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let start_len = out.metadata().unwrap().len() as usize;
        let mut child = Command::new(env!("CARGO_BIN_EXE_fleetsh"))
            .args(["serve", "--listen", listen, "--data"])
            .arg(dir)
            .args(extra)
            .env("RUST_LOG", rust_log)
            .stderr(Stdio::from(out))
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn fleetsh serve");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            if text[start_len.min(text.len())..].contains("serving the local fleet on") {
                break;
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!("fleetsh serve exited ({status}) before serving:\n{text}");
            }
            assert!(
                Instant::now() < deadline,
                "fleetsh serve did not start:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let creds = Credentials::read(dir).unwrap();
        Self { child, creds }
    }

    /// SIGKILL: no shutdown path runs.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, as a service manager stops it, then waits.
    pub fn terminate(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }

    /// An access token for the owner key.
    pub async fn token(&self) -> String {
        let c = &self.creds;
        let channel = Channel::from_shared(c.address.clone())
            .unwrap()
            .connect()
            .await
            .unwrap();
        AuthServiceClient::new(channel)
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
            .access_token
    }

    pub async fn owner(&self) -> App {
        let channel = Channel::from_shared(self.creds.address.clone())
            .unwrap()
            .connect()
            .await
            .unwrap();
        let token = self.token().await;
        AppServiceClient::with_interceptor(
            channel,
            Bearer(Some(format!("Bearer {token}").parse().unwrap())),
        )
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_log_has_no_colours_and_no_successful_authentications() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("fleet");
    let log = tmp.path().join("serve.log");
    // RUST_LOG as `fleetsh serve` defaults to it (info for its own lines).
    let serve = Serve::spawn(&data, "127.0.0.1:0", "warn,fleetsh=info", &[], &log);
    serve.token().await;
    // A refusal, which stays at info.
    let channel = Channel::from_shared(serve.creds.address.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let refused = AuthServiceClient::new(channel)
        .authenticate(AuthenticateRequest {
            entity: serve.creds.api_key_id.clone(),
            credentials: Some(RpcCredentials {
                r#type: "api-key".into(),
                payload: "wrong".into(),
            }),
        })
        .await;
    assert_eq!(refused.unwrap_err().code(), tonic::Code::Unauthenticated);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        !text.contains('\x1b'),
        "ANSI escape codes in a log that is a file:\n{text:?}"
    );
    let auth_lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("Authenticate"))
        .collect();
    assert_eq!(
        auth_lines.len(),
        1,
        "only the refused Authenticate is logged at info:\n{text}"
    );
    assert!(auth_lines[0].contains("Unauthenticated"), "{text}");
}

/// `fleetsh serve` on `listen` over `dir`, expected to fail; returns its stderr.
fn failed_serve(dir: &Path, listen: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_fleetsh"))
        .args(["serve", "--listen", listen, "--data"])
        .arg(dir)
        .env("RUST_LOG", "warn,fleetsh=info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("run fleetsh serve");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "serve on a taken port started:\n{stderr}"
    );
    stderr
}

/// Every file under `dir` with its contents, to tell whether anything changed.
fn snapshot(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let bytes = std::fs::read(&p).unwrap_or_default();
            (p, bytes)
        })
        .collect();
    files.sort();
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_on_a_taken_port_makes_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_addr = taken.local_addr().unwrap().to_string();

    // A fresh data directory is not created.
    let fresh = tmp.path().join("fresh");
    let stderr = failed_serve(&fresh, &taken_addr);
    assert!(
        stderr.contains(&format!("cannot listen on {taken_addr}")),
        "the error does not name the address:\n{stderr}"
    );
    assert!(
        !fresh.exists(),
        "a failed start created {}",
        fresh.display()
    );
    // The next start on a free port makes the fleet from scratch, with no warning.
    let log = tmp.path().join("fresh.log");
    let mut serve = Serve::spawn(&fresh, "127.0.0.1:0", "warn,fleetsh=info", &[], &log);
    serve.terminate();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("new local fleet in"), "{text}");
    assert!(
        !text.contains("WARN"),
        "a warning after the failed start:\n{text}"
    );

    // An existing fleet is left as it was, and its key keeps working.
    let before = snapshot(&fresh);
    let stderr = failed_serve(&fresh, &taken_addr);
    assert!(stderr.contains(&taken_addr), "{stderr}");
    assert!(
        snapshot(&fresh) == before,
        "a failed start changed {}",
        fresh.display()
    );
    let log = tmp.path().join("again.log");
    let serve = Serve::spawn(&fresh, "127.0.0.1:0", "warn,fleetsh=info", &[], &log);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        !text.contains("WARN"),
        "a warning after the failed start:\n{text}"
    );
    assert!(
        !text.contains("new local fleet in"),
        "a new owner key:\n{text}"
    );
    serve.owner().await;
    drop(taken);
}

/// `fleetsh serve` on a pseudo-terminal: its log lines are coloured unless NO_COLOR is set.
async fn terminal_log_line(no_colour: bool) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fleetsh"));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(tmp.path().join("fleet"))
        .env("RUST_LOG", "warn,fleetsh=info")
        .env("TERM", "xterm")
        .env_remove("NO_COLOR");
    if no_colour {
        cmd.env("NO_COLOR", "1");
    }
    let mut session = expectrl::Session::spawn(cmd).expect("spawn fleetsh serve on a pty");
    session.set_expect_timeout(Some(Duration::from_secs(30)));
    let found = session
        .expect(expectrl::Regex(
            r"serving the local fleet on (http://[0-9.:]+)",
        ))
        .expect("fleetsh serve did not start");
    let address = String::from_utf8_lossy(found.get(1).unwrap()).into_owned();
    let channel = Channel::from_shared(address)
        .unwrap()
        .connect()
        .await
        .unwrap();
    // A refused Authenticate: one request line at info.
    let _ = AuthServiceClient::new(channel)
        .authenticate(AuthenticateRequest {
            entity: "nobody".into(),
            credentials: Some(RpcCredentials {
                r#type: "api-key".into(),
                payload: "wrong".into(),
            }),
        })
        .await;
    let line = session
        .expect(expectrl::Regex(r"[^\n]*Authenticate[^\n]*"))
        .expect("no request line for the refused Authenticate");
    let line = String::from_utf8_lossy(line.get(0).unwrap()).into_owned();
    let _ = session.get_process_mut().kill(expectrl::Signal::SIGKILL);
    line
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_gets_coloured_log_lines_unless_no_color_is_set() {
    let coloured = terminal_log_line(false).await;
    assert!(
        coloured.contains('\x1b'),
        "no colour on a terminal: {coloured:?}"
    );
    let plain = terminal_log_line(true).await;
    assert!(
        !plain.contains('\x1b'),
        "colour despite NO_COLOR: {plain:?}"
    );
}
