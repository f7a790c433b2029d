//! The helpers a newcomer meets first, through the real binary: `help` in scripts, `time`,
//! `http`, `json` on tables JSON cannot hold, deep tables refused by name, a mistyped cloud
//! function, `fleetsh types -o` into a new folder, and functions made from the descriptors.

use std::path::Path;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::dead_url;
use crate::lua::{args, assert_exit, fleetsh, local, text};

async fn run(dir: &Path, code: &str) -> std::process::Output {
    fleetsh(local(dir, &["-q", "-e", code]), None).await
}

#[tokio::test]
async fn help_works_in_scripts_and_one_liners() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), r#"help "get_robot""#).await;
    assert_exit(&out, 0);
    let shown = text(&out.stdout);
    assert!(
        shown.starts_with("cloud.get_robot(robot_id: string) -> robot: cloud.Robot"),
        "{shown}"
    );
    let out = run(dir.path(), "help()").await;
    assert_exit(&out, 0);
    assert!(text(&out.stdout).contains("  list_locations "));
}

#[tokio::test]
async fn fleetsh_help_name_prints_the_same_text_from_the_shell() {
    let dir = tempfile::tempdir().unwrap();
    let lua = run(dir.path(), r#"help "get_robot""#).await;
    let shell = fleetsh(args(&["help", "get_robot"]), None).await;
    assert_exit(&shell, 0);
    assert_eq!(text(&shell.stdout), text(&lua.stdout));
    let sub = fleetsh(args(&["help", "types"]), None).await;
    assert_exit(&sub, 0);
    assert!(
        text(&sub.stdout).contains("Usage: fleetsh types"),
        "{}",
        text(&sub.stdout)
    );
    let unknown = fleetsh(args(&["help", "get_robto"]), None).await;
    assert_exit(&unknown, 2);
    assert!(
        text(&unknown.stdout).contains("did you mean get_robot"),
        "{}",
        text(&unknown.stdout)
    );
}

#[tokio::test]
async fn a_mistyped_cloud_function_says_what_exists() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), "cloud.list_robot()").await;
    assert_exit(&out, 1);
    let err = text(&out.stderr);
    assert!(
        err.contains(
            "(command line):1: cloud.list_robot does not exist; did you mean cloud.list_robots?"
        ),
        "{err}"
    );
    assert!(!err.contains("attempt to call a nil value"), "{err}");
}

#[tokio::test]
async fn argument_count_errors_read_as_english() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        r#"print(select(2, pcall(cloud.get_robot, "a", "b")))"#,
    )
    .await;
    assert_eq!(
        text(&out.stdout).trim(),
        "get_robot: INVALID_ARGUMENT: get_robot takes at most 1 positional argument (robot_id), got 2"
    );
}

#[tokio::test]
async fn a_table_nested_100000_deep_is_refused_by_name_and_the_process_lives() {
    let dir = tempfile::tempdir().unwrap();
    let code = r#"
        local part = cloud.get_robot_parts(cloud.new_robot("deep"))[1]
        local t = {} local c = t
        for _ = 1, 100000 do c.a = {} c = c.a end
        local ok, e = pcall(cloud.update_robot_part, { robot_part_id = part.id, name = "p", robot_config = t })
        print(ok, e.code, e.message)
        local self = {} self.self = self
        ok, e = pcall(cloud.update_robot_part, { robot_part_id = part.id, name = "p", robot_config = self })
        print(ok, e.code)
        print(pcall(json.encode, t))
        print("alive")
    "#;
    let out = run(dir.path(), code).await;
    assert_exit(&out, 0);
    let shown = text(&out.stdout);
    assert!(
        shown.contains(
            "false\tINVALID_ARGUMENT\trobot_config: nested deeper than 64 levels (or it contains itself)"
        ),
        "{shown}"
    );
    assert!(shown.contains("false\tINVALID_ARGUMENT\n"), "{shown}");
    assert!(shown.contains("nested deeper than 64 levels"), "{shown}");
    assert!(shown.trim_end().ends_with("alive"), "{shown}");
}

#[tokio::test]
async fn json_encode_never_drops_keys() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        r#"local ok, e = pcall(json.encode, { [1] = 1, x = 2 }) print(ok, tostring(e))
           print(json.encode({ a = {}, b = { 1, 2 }, c = { x = 1 } }))"#,
    )
    .await;
    assert_exit(&out, 0);
    let shown = text(&out.stdout);
    assert!(shown.starts_with("false\t"), "{shown}");
    assert!(
        shown.contains("both array items (1..1) and other keys ('x')"),
        "{shown}"
    );
    assert!(
        shown.contains(r#"{"a":{},"b":[1,2],"c":{"x":1}}"#),
        "{shown}"
    );
}

#[tokio::test]
async fn time_has_sub_second_clocks_and_durations() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        r#"local t, s = time.now()
           local loc = cloud.create_location("clock")
           local created = time.parse(loc.created_on)
           assert(math.abs(created - t) < 60, "server and script agree on the time")
           assert(s:match("^%d%d%d%d%-%d%d%-%d%dT"), s)
           print(time.duration("90d"), time.format(86400.25), math.type(time.monotonic()))"#,
    )
    .await;
    assert_exit(&out, 0);
    assert_eq!(
        text(&out.stdout).trim(),
        "7776000.0\t1970-01-02T00:00:00.250Z\tfloat"
    );
}

/// A webhook on a loopback port that answers `n` requests with 204, one per connection; the
/// handle returns the requests' bodies.
pub async fn webhook_sink(n: usize) -> (String, tokio::task::JoinHandle<Vec<String>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook/T0KEN", listener.local_addr().unwrap());
    let handle = tokio::spawn(async move {
        let mut bodies = Vec::new();
        for _ in 0..n {
            let req = exchange(&listener, NO_CONTENT).await;
            bodies.push(
                req.split_once("\r\n\r\n")
                    .map_or(String::new(), |(_, b)| b.to_string()),
            );
        }
        bodies
    });
    (url, handle)
}

const NO_CONTENT: &str =
    "HTTP/1.1 204 No Content\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";

/// One HTTP/1.1 exchange on a loopback port: returns the request it read.
async fn one_http_exchange(
    listener: tokio::net::TcpListener,
    reply: &'static str,
) -> tokio::task::JoinHandle<String> {
    tokio::spawn(async move { exchange(&listener, reply).await })
}

async fn exchange(listener: &tokio::net::TcpListener, reply: &str) -> String {
    {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        // Read the head, then the body its content-length announces.
        loop {
            let n = sock.read(&mut chunk).await.unwrap();
            buf.extend_from_slice(&chunk[..n]);
            let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n");
            if let Some(end) = head_end {
                let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
                let len = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: "))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if buf.len() >= end + 4 + len || n == 0 {
                    break;
                }
            }
            if n == 0 {
                break;
            }
        }
        sock.write_all(reply.as_bytes()).await.unwrap();
        sock.shutdown().await.ok();
        String::from_utf8_lossy(&buf).into_owned()
    }
}

#[tokio::test]
async fn http_posts_json_to_a_webhook_and_keeps_urls_out_of_errors() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = one_http_exchange(
        listener,
        "HTTP/1.1 202 Accepted\r\nconnection: close\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let code = format!(
        r#"local r = http.post_json("http://127.0.0.1:{port}/hooks/T0KEN", {{ offline = {{ "a", "b" }} }},
             {{ headers = {{ ["x-fleet"] = "lab" }} }})
           print(r.status, r.ok, r.body, r.headers["content-type"])
           local ok, e = pcall(http.request, {{ url = "{dead}/hooks/S3CRET", timeout = 5 }})
           print(ok, tostring(e))
           ok, e = pcall(http.request, {{ url = "ftp://x/" }})
           print(ok, tostring(e))"#,
        dead = dead_url(),
    );
    let out = run(dir.path(), &code).await;
    assert_exit(&out, 0);
    let request = server.await.unwrap();
    assert!(
        request.starts_with("POST /hooks/T0KEN HTTP/1.1\r\n"),
        "{request}"
    );
    let lower = request.to_lowercase();
    assert!(
        lower.contains("content-type: application/json"),
        "{request}"
    );
    assert!(lower.contains("x-fleet: lab"), "{request}");
    assert!(request.ends_with(r#"{"offline":["a","b"]}"#), "{request}");
    let shown = text(&out.stdout);
    assert!(shown.starts_with("202\ttrue\tok\ttext/plain\n"), "{shown}");
    assert!(shown.contains("false\t"), "{shown}");
    assert!(
        !shown.contains("S3CRET"),
        "a url's path never reaches a message: {shown}"
    );
    assert!(
        shown.contains("http.request GET http://127.0.0.1:"),
        "{shown}"
    );
    assert!(
        shown.contains("only http:// and https:// urls are supported"),
        "{shown}"
    );
}

#[tokio::test]
async fn types_writes_into_a_folder_it_makes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("types/fleetsh.lua");
    let out = fleetsh(args(&["types", "-o", file.to_str().unwrap()]), None).await;
    assert_exit(&out, 0);
    let defs = std::fs::read_to_string(&file).unwrap();
    assert!(defs.starts_with("---@meta"));
    assert!(defs.contains("function time.parse(s) end"), "time is typed");
    assert!(defs.contains("function http.post_json(url, value, opts) end"));
}

#[tokio::test]
async fn rpcs_without_a_spec_line_get_functions_from_the_descriptors() {
    let dir = tempfile::tempdir().unwrap();
    // RobotService/Log has no spec line: cloud.robot.log takes the request's fields.
    let out = run(
        dir.path(),
        r#"local part = cloud.get_robot_parts(cloud.new_robot("gen"))[1]
           cloud.robot.log { id = part.id, logs = { { host = "h", level = "error", time = "2024-01-02T03:04:05Z",
             logger_name = "rdk", message = "made from the descriptors", caller = {}, fields = {} } } }
           local logs = cloud.get_robot_part_logs(part.id)
           print(#logs, logs[1].message)
           local ok, e = pcall(function() return cloud.robot.logs end)
           print(tostring(e):match("cloud%.robot%.logs does not exist; did you mean cloud%.robot%.log%?") ~= nil)"#,
    )
    .await;
    assert_exit(&out, 0);
    assert_eq!(text(&out.stdout), "1\tmade from the descriptors\ntrue\n");
}
