//! The client's connection behaviour end to end, with `fleetsh serve` as a child process: a
//! tail that survives server restarts, token renewal, call deadlines and read retries, TLS.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::harness::{TestServer, free_port};
use crate::lua::{args, assert_exit, command, fleetsh, fleetsh_env, local, remote, text};

const TLS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls");

/// `fleetsh serve` on 127.0.0.1:`port`, killed when dropped.
pub(crate) struct Served(Child);

impl Served {
    pub(crate) fn start(dir: &Path, port: u16, extra: &[&str]) -> Self {
        let listen = format!("127.0.0.1:{port}");
        let mut a = args(&[
            "--data",
            &dir.display().to_string(),
            "serve",
            "--listen",
            &listen,
        ]);
        a.extend(args(extra));
        let child = command(&a, &[])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn fleetsh serve");
        // The socket accepts before credentials.json names it: wait for both.
        let ready = || {
            fleetsh::server::Credentials::read(dir)
                .is_ok_and(|c| c.address.ends_with(&format!(":{port}")))
                && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !ready() {
            assert!(
                Instant::now() < deadline,
                "fleetsh serve did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Served(child)
    }

    /// SIGTERM: a graceful shutdown, which ends open tails cleanly.
    pub(crate) fn terminate(mut self) {
        let pid = self.0.id().to_string();
        let ok = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(ok.success());
        self.0.wait().unwrap();
    }

    /// SIGKILL: the connection drops mid-stream.
    pub(crate) fn kill(mut self) {
        self.0.kill().unwrap();
        self.0.wait().unwrap();
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn creds_args(dir: &Path, url: &str, rest: &[&str]) -> Vec<String> {
    let c = fleetsh::server::Credentials::read(dir).unwrap();
    let mut a = args(&[
        "--url",
        url,
        "--api-key-id",
        &c.api_key_id,
        "--api-key",
        &c.api_key,
    ]);
    a.extend(args(rest));
    a
}

/// Runs a chunk against the data dir's fleet in-process (the server may be down meanwhile).
pub(crate) async fn lua_local(dir: &Path, chunk: &str) -> String {
    let out = fleetsh(local(dir, &["-e", chunk]), None).await;
    assert_exit(&out, 0);
    text(&out.stdout)
}

fn push(part: &str, entries: &[(&str, u32)]) -> String {
    let logs: Vec<String> = entries
        .iter()
        .map(|(msg, sec)| {
            format!("{{ level = 'info', time = '2030-01-01T00:00:{sec:02}Z', message = '{msg}', logger_name = 'rdk' }}")
        })
        .collect();
    format!(
        "cloud.call('viam.app.v1.RobotService/Log', {{ id = '{part}', logs = {{ {} }} }})",
        logs.join(", ")
    )
}

/// Lines of a child's stdout as they come (a thread reads; the runtime stays free to serve).
pub(crate) fn lines_of(child: &mut Child) -> UnboundedReceiver<String> {
    let out = child.stdout.take().unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    rx
}

pub(crate) async fn expect_line(
    rx: &mut UnboundedReceiver<String>,
    want: &str,
    got: &mut Vec<String>,
) {
    let wait = async {
        while !got.iter().any(|l| l == want) {
            match rx.recv().await {
                Some(l) => got.push(l),
                None => panic!("output ended before {want:?}; got {got:?}"),
            }
        }
    };
    if tokio::time::timeout(Duration::from_secs(60), wait)
        .await
        .is_err()
    {
        panic!("timed out waiting for {want:?}; got {got:?}");
    }
}

/// The rest of the output once the child has exited.
async fn rest(mut rx: UnboundedReceiver<String>) -> Vec<String> {
    let mut v = Vec::new();
    while let Some(l) = rx.recv().await {
        v.push(l);
    }
    v
}

pub(crate) const TAIL: &str = r#"
local f, s, c, closer = cloud.tail_robot_part_logs{ robot_part_id = arg[1], errors_only = false }
print("tailing") io.stdout:flush()
for e in f, s, c, closer do
  print(e.message) io.stdout:flush()
  if e.message == "end" then break end
end
print("tail done")
"#;

#[tokio::test]
async fn a_tail_resumes_across_server_restarts_without_duplicates() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let server = Served::start(dir, port, &[]);
    let part = lua_local_remote(
        dir,
        &url,
        "print(cloud.get_robot_parts(cloud.new_robot('t'))[1].id)",
    )
    .await;
    let part = part.trim().to_string();

    let scripts = tempfile::tempdir().unwrap();
    let tail = scripts.path().join("tail.lua");
    std::fs::write(&tail, TAIL).unwrap();
    let mut child = command(
        &creds_args(dir, &url, &["run", &tail.display().to_string(), &part]),
        &[],
    )
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut rx = lines_of(&mut child);
    let mut got = Vec::new();
    expect_line(&mut rx, "tailing", &mut got).await;
    lua_local_remote(dir, &url, &push(&part, &[("a1", 1), ("a2", 2)])).await;
    expect_line(&mut rx, "a2", &mut got).await;

    // Graceful restart; while the server is down, entries arrive through another process on
    // the same data: the tail must fetch them (b1 shares a2's time) and skip a2.
    server.terminate();
    lua_local(dir, &push(&part, &[("b1", 2), ("b2", 3)])).await;
    let server = Served::start(dir, port, &[]);
    expect_line(&mut rx, "b2", &mut got).await;

    // A crash: the connection drops mid-stream.
    server.kill();
    let _server = Served::start(dir, port, &[]);
    lua_local_remote(dir, &url, &push(&part, &[("c1", 4)])).await;
    expect_line(&mut rx, "c1", &mut got).await;
    lua_local_remote(dir, &url, &push(&part, &[("end", 5)])).await;
    expect_line(&mut rx, "tail done", &mut got).await;

    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        got,
        ["tailing", "a1", "a2", "b1", "b2", "c1", "end", "tail done"]
    );
    assert!(
        text(&out.stderr).contains("reconnecting"),
        "{}",
        text(&out.stderr)
    );
}

/// Runs a chunk against the served fleet over the socket.
pub(crate) async fn lua_local_remote(dir: &Path, url: &str, chunk: &str) -> String {
    let out = fleetsh(creds_args(dir, url, &["-e", chunk]), None).await;
    assert_exit(&out, 0);
    text(&out.stdout)
}

#[tokio::test]
async fn an_expired_token_is_renewed_without_the_script_noticing() {
    let s = TestServer::start_with(|o| o.token_ttl = Duration::from_secs(1)).await;
    let chunk = "local n = #cloud.list_locations() sleep(2.2) \
                 cloud.create_location('after-expiry') sleep(2.2) \
                 assert(#cloud.list_locations() == n + 1) print('renewed')";
    let out = fleetsh(remote(&s, &["-e", chunk]), None).await;
    assert_exit(&out, 0);
    assert_eq!(text(&out.stdout), "renewed\n");
}

/// A TCP proxy that can stop forwarding (a silent network) or refuse connections.
struct Proxy {
    addr: SocketAddr,
    paused: Arc<AtomicBool>,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let paused = Arc::new(AtomicBool::new(false));
        let p = paused.clone();
        tokio::spawn(async move {
            while let Ok((down, _)) = listener.accept().await {
                let Ok(up) = TcpStream::connect(upstream).await else {
                    continue;
                };
                let (dr, dw) = down.into_split();
                let (ur, uw) = up.into_split();
                tokio::spawn(pipe(dr, uw, p.clone()));
                tokio::spawn(pipe(ur, dw, p.clone()));
            }
        });
        Self { addr, paused }
    }
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    paused: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        while paused.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

#[tokio::test]
async fn call_timeout_bounds_calls_with_their_retries() {
    let s = TestServer::start().await;
    let proxy = Proxy::start(s.fleet.addr).await;
    let c = &s.fleet.credentials;
    let url = format!("http://{}", proxy.addr);
    let chunk = r#"
assert(#cloud.list_locations() == 1)
print("ready") io.stdout:flush()
io.read("l")
local function timed(f, ...)
  local ok, err = pcall(f, ...)
  assert(not ok)
  return err.code
end
print(timed(cloud.list_locations), timed(cloud.create_location, "never"))
"#;
    let a = args(&[
        "--url",
        &url,
        "--api-key-id",
        &c.api_key_id,
        "--api-key",
        &c.api_key,
        "--call-timeout",
        "300ms",
        "--log-level",
        "fleetsh::client=debug",
        "-e",
        chunk,
    ]);
    let mut child = command(&a, &[])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut rx = lines_of(&mut child);
    let mut got = Vec::new();
    expect_line(&mut rx, "ready", &mut got).await;
    proxy.paused.store(true, Ordering::SeqCst);
    let started = Instant::now();
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let elapsed = started.elapsed();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(got, ["ready"]);
    assert_eq!(
        rest(rx).await,
        ["DEADLINE_EXCEEDED\tDEADLINE_EXCEEDED"],
        "{err}"
    );
    // The call timeout bounds a call with its retries: the read's first attempt used all of
    // its 300 ms, so it is not tried again (each retry used to get 300 ms more: 3 attempts,
    // over 1.2 s); the write, which reached the server, is never retried.
    assert_eq!(retries(&err, "ListLocations"), 0, "{err}");
    assert_eq!(retries(&err, "CreateLocation"), 0, "{err}");
    assert!(
        elapsed >= Duration::from_millis(600) && elapsed < Duration::from_millis(1200),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn reads_are_retried_while_the_server_is_unavailable() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let server = Served::start(dir, port, &[]);
    let chunk = r#"
assert(#cloud.list_locations() == 1)
print("ready") io.stdout:flush()
io.read("l")
local ok, err = pcall(cloud.create_location, "down")
local write = err.code
ok, err = pcall(cloud.list_locations)
print(write, err.code)
"#;
    let mut child = command(
        &creds_args(
            dir,
            &url,
            &["--log-level", "fleetsh::client=debug", "-e", chunk],
        ),
        &[],
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut rx = lines_of(&mut child);
    let mut got = Vec::new();
    expect_line(&mut rx, "ready", &mut got).await;
    server.kill();
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(rest(rx).await, ["UNAVAILABLE\tUNAVAILABLE"], "{err}");
    // A write that went out on the connection that broke may have been applied: never
    // retried. Only a refused connection proves nothing was sent, and only then is a write
    // retried (`retry::after_failure`'s unit tests).
    assert_eq!(retries(&err, "ListLocations"), 2, "{err}");
    let sent_write_retried = err.lines().any(|l| {
        l.contains("retrying") && l.contains("method=\"CreateLocation\"") && l.contains("sent=true")
    });
    assert!(!sent_write_retried, "{err}");
}

#[tokio::test]
async fn https_urls_verify_the_server_against_the_system_roots() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path();
    let port = free_port();
    let cert = format!("{TLS}/server.pem");
    let key = format!("{TLS}/server.key");
    let _server = Served::start(dir, port, &["--tls-cert", &cert, "--tls-key", &key]);
    let url = format!("https://localhost:{port}");
    let ca = format!("{TLS}/ca.pem");
    // rustls-native-certs reads SSL_CERT_FILE instead of the system store when it is set.
    let out = fleetsh_env(
        creds_args(dir, &url, &["-e", "print(#cloud.list_locations())"]),
        None,
        &[("SSL_CERT_FILE", &ca)],
    )
    .await;
    assert_exit(&out, 0);
    assert_eq!(text(&out.stdout), "1\n");

    // Without the test CA the certificate is not trusted: cannot connect, exit 3.
    let out = fleetsh_env(
        creds_args(dir, &url, &["-e", "print(1)"]),
        None,
        &[("SSL_CERT_FILE", &format!("{TLS}/server.pem"))],
    )
    .await;
    assert_exit(&out, 3);
    let err = text(&out.stderr);
    assert!(
        err.contains("certificate is not trusted") && err.contains("SSL_CERT_FILE"),
        "{err}"
    );
    // Plaintext to a TLS server fails too, and says to use https://.
    let plain = format!("http://127.0.0.1:{port}");
    let out = fleetsh(creds_args(dir, &plain, &["-e", "print(1)"]), None).await;
    assert_exit(&out, 3);
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("use https://127.0.0.1:{port}")),
        "{err}"
    );
}

/// One line on stderr that names the cause once; `what` must be in it.
#[track_caller]
fn assert_one_line(out: &std::process::Output, what: &[&str]) {
    assert_exit(out, 3);
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    for w in what {
        assert_eq!(err.matches(w).count(), 1, "{w:?} once in: {err}");
    }
}

#[tokio::test]
async fn connection_failures_say_once_what_failed_and_what_to_try() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path();
    let port = free_port();
    let _server = Served::start(dir, port, &[]);
    let c = fleetsh::server::Credentials::read(dir).unwrap();

    // TLS spoken to a plaintext server.
    let tls = format!("https://127.0.0.1:{port}");
    let out = fleetsh(creds_args(dir, &tls, &["-e", "print(1)"]), None).await;
    assert_one_line(
        &out,
        &[
            "InvalidContentType",
            &format!("use http://127.0.0.1:{port}"),
        ],
    );

    // A plaintext connection whose answer is not HTTP/2 frames (an HTTP/1 server here; a TLS
    // server's alert reads the same way when it comes before the reset).
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other = listener.local_addr().unwrap().port();
    // Every connection the client makes (it retries a failed connect) gets the same answer.
    let held = tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let answer = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
                let _ = s.write_all(answer).await;
                // Held open, so the client's verdict comes from the bytes, not from a close.
                let _ = s.read_to_end(&mut Vec::new()).await;
            });
        }
    });
    let url = format!("http://127.0.0.1:{other}");
    let out = fleetsh(creds_args(dir, &url, &["-e", "print(1)"]), None).await;
    assert_one_line(
        &out,
        &[
            "without an HTTP/2 answer",
            &format!("use https://127.0.0.1:{other}"),
        ],
    );
    held.abort();

    // Nothing listens: the address, and what to try.
    let dead = free_port();
    let url = format!("http://127.0.0.1:{dead}");
    let out = fleetsh(creds_args(dir, &url, &["-e", "print(1)"]), None).await;
    assert_one_line(
        &out,
        &[
            "Connection refused",
            &format!("nothing listens at 127.0.0.1:{dead}"),
            "`fleetsh serve`",
        ],
    );

    // A refused key: which id, and where it came from.
    let url = format!("http://127.0.0.1:{port}");
    let wrong = args(&[
        "--url",
        &url,
        "--api-key-id",
        &c.api_key_id,
        "--api-key",
        "wrong",
        "-e",
        "print(1)",
    ]);
    let out = fleetsh(wrong, None).await;
    let refused = format!("refused key id {}", c.api_key_id);
    assert_one_line(&out, &[&refused, "(from the --api-key-id flag)"]);
    assert!(!text(&out.stderr).contains(&c.api_key));

    let out = fleetsh_env(
        args(&["--url", &url, "-e", "print(1)"]),
        None,
        &[
            ("VIAM_API_KEY_ID", &c.api_key_id),
            ("VIAM_API_KEY", "wrong"),
        ],
    )
    .await;
    assert_one_line(
        &out,
        &[&refused, "(from the environment variable VIAM_API_KEY_ID)"],
    );

    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[profiles.lab]\nurl = \"{url}\"\napi_key_id = \"{}\"\napi_key = \"wrong\"\n",
            c.api_key_id
        ),
    )
    .unwrap();
    let cfg = config.display().to_string();
    let out = fleetsh_env(
        args(&["--profile", "lab", "-e", "print(1)"]),
        None,
        &[("FLEETSH_CONFIG", &cfg)],
    )
    .await;
    assert_one_line(&out, &[&refused, &format!("(from profile lab in {cfg})")]);
}

/// The client's debug lines that retried `method`.
fn retries(stderr: &str, method: &str) -> usize {
    stderr
        .lines()
        .filter(|l| l.contains("retrying") && l.contains(&format!("method=\"{method}\"")))
        .count()
}

/// A key the server stops taking mid-script (deleted, here by the script itself) is refused
/// when the client authenticates again: the error names the key, where it came from and what
/// to do, as a refusal at connect does.
#[tokio::test]
async fn a_key_refused_mid_script_names_where_it_came_from_and_what_to_do() {
    let s = TestServer::start().await;
    let c = &s.fleet.credentials;
    let (id, key) = crate::setup::org_key(&s, &c.org_id, "owner");
    let chunk = format!(
        "cloud.delete_key('{id}') \
         local ok, err = pcall(cloud.list_locations) \
         print(ok, err.code, err.message)"
    );
    let a = args(&[
        "--url",
        &c.address,
        "--api-key-id",
        &id,
        "--api-key",
        &key,
        "-e",
        &chunk,
    ]);
    let out = fleetsh(a, None).await;
    assert_exit(&out, 0);
    let said = text(&out.stdout);
    for needle in [
        "false\tUNAUTHENTICATED\t",
        &format!("the server refused key id {id}"),
        "(from the --api-key-id flag)",
        "check the key id and the key, or save a working pair with `fleetsh profile add`",
    ] {
        assert!(said.contains(needle), "no {needle:?} in {said:?}");
    }
    assert!(!said.contains(&key), "the key's secret was shown: {said}");
}
