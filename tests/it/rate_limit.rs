//! A rate-limiting server (`fleetsh serve --rate-limit`) and the client that meets it: refused
//! calls are retried (writes too: a refused call was not executed), `cloud.parallel` slows down
//! instead of hammering, and `--max-rate` caps a run.

use std::time::Instant;

use crate::harness::TestServer;
use crate::lua::{assert_exit, fleetsh, local, remote, text};

fn script(dir: &std::path::Path, body: &str) -> String {
    let path = dir.join("chore.lua");
    std::fs::write(&path, body).unwrap();
    path.display().to_string()
}

const FAN_OUT: &str = r#"
local n = tonumber((...))
local id = cloud.new_robot("fan-out")
local ids = {}
for i = 1, n do ids[i] = id end
local results, errors = cloud.parallel(ids, function(robot_id)
  return cloud.get_robot(robot_id).name
end, { concurrency = 64 })
local passed = 0
for _ in pairs(results) do passed = passed + 1 end
print(passed, #errors)
if errors[1] then io.stderr:write(tostring(errors[1].error), "\n") end
"#;

#[tokio::test]
async fn a_throttled_fan_out_finishes_without_errors_and_slows_down() {
    let s = TestServer::start_with(|o| o.rate_limit = Some("40/s".parse().unwrap())).await;
    let dir = tempfile::tempdir().unwrap();
    let path = script(dir.path(), FAN_OUT);
    let start = Instant::now();
    let out = fleetsh(remote(&s, &["run", &path, "200"]), None).await;
    let took = start.elapsed();
    assert_exit(&out, 0);
    assert_eq!(text(&out.stdout), "200\t0\n", "{}", text(&out.stderr));
    let limit = s.fleet.api.rate_limit.as_ref().unwrap();
    let refused = limit.refused();
    // A limit low enough that even a loaded machine's debug build goes over it. Past the first
    // second's burst of 40 the server let 40/s through: the run was paced.
    assert!(took.as_secs_f64() >= 3.5, "took {took:?}");
    assert!(refused > 0, "the server refused some calls");
    // Slowing down, not hammering. With 64 in flight against 40/s the first wave is refused
    // (the calls past the burst of 40), then the client sends at the rate the server's retry
    // delay says and holds every call until then: a few more refusals where the send rate
    // climbs past the limit. Hammering (no pacing) is many refusals per call; cutting the
    // rate by 30% per wave from the first burst's measured rate was about one per call.
    assert!(refused < 80, "{refused} refusals for 201 calls");
}

/// Far more calls at once than the limit lets through in a second: each call is refused many
/// times over (more than any attempt count, more than a shared retry budget holds) while the
/// server keeps saying when to come back, and must still pass, paced at the limit.
#[tokio::test]
async fn a_call_the_server_keeps_delaying_is_retried_until_its_deadline() {
    let s = TestServer::start_with(|o| o.rate_limit = Some("5/s".parse().unwrap())).await;
    let dir = tempfile::tempdir().unwrap();
    let path = script(dir.path(), FAN_OUT);
    let start = Instant::now();
    let out = fleetsh(remote(&s, &["run", &path, "60"]), None).await;
    let took = start.elapsed().as_secs_f64();
    assert_exit(&out, 0);
    assert_eq!(text(&out.stdout), "60\t0\n", "{}", text(&out.stderr));
    // 61 calls, the first 5 in the burst, then 5/s: about 11 s at the limit.
    assert!((10.0..20.0).contains(&took), "took {took:.1} s");
}

/// The same load with a call timeout shorter than the limit needs: the calls that cannot pass
/// in time fail, saying why and what to do.
#[tokio::test]
async fn a_throttled_call_fails_at_its_deadline_saying_so() {
    let s = TestServer::start_with(|o| o.rate_limit = Some("5/s".parse().unwrap())).await;
    let dir = tempfile::tempdir().unwrap();
    let path = script(dir.path(), FAN_OUT);
    let start = Instant::now();
    let out = fleetsh(
        remote(&s, &["--call-timeout", "2s", "run", &path, "60"]),
        None,
    )
    .await;
    assert_exit(&out, 0);
    let stdout = text(&out.stdout);
    let (passed, failed) = stdout.trim().split_once('\t').unwrap();
    let (passed, failed): (u32, u32) = (passed.parse().unwrap(), failed.parse().unwrap());
    assert_eq!(passed + failed, 60, "{stdout}");
    assert!(passed >= 5 && failed > 0, "{stdout}");
    let err = text(&out.stderr);
    assert!(err.contains("RESOURCE_EXHAUSTED"), "{err}");
    assert!(err.contains("throttled"), "{err}");
    assert!(err.contains("call timeout of 2s (--call-timeout)"), "{err}");
    assert!(err.contains("--max-rate"), "what to do: {err}");
    assert!(
        start.elapsed().as_secs_f64() < 10.0,
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn a_refused_write_is_retried_and_made_once() {
    let s = TestServer::start_with(|o| o.rate_limit = Some("4/s".parse().unwrap())).await;
    let dir = tempfile::tempdir().unwrap();
    let path = script(
        dir.path(),
        r#"
for i = 1, 10 do cloud.create_location("throttled-" .. i) end
local n = 0
for _, l in ipairs(cloud.list_locations()) do
  if l.name:match("^throttled%-") then n = n + 1 end
end
print(n)
"#,
    );
    let out = fleetsh(remote(&s, &["run", &path]), None).await;
    assert_exit(&out, 0);
    assert_eq!(text(&out.stdout), "10\n");
    assert!(s.fleet.api.rate_limit.as_ref().unwrap().refused() > 0);
}

#[tokio::test]
async fn max_rate_caps_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = script(dir.path(), FAN_OUT);
    let data = dir.path().join("fleet");
    let start = Instant::now();
    let out = fleetsh(
        local(&data, &["--max-rate", "20/s", "run", &path, "30"]),
        None,
    )
    .await;
    assert_exit(&out, 0);
    assert_eq!(text(&out.stdout), "30\t0\n");
    // 31 calls (and the token exchange) at 20/s, one at a time.
    assert!(
        start.elapsed().as_secs_f64() >= 1.4,
        "{:?}",
        start.elapsed()
    );
    let bad = fleetsh(
        local(&data, &["--max-rate", "fast", "run", &path, "1"]),
        None,
    )
    .await;
    assert_exit(&bad, 2);
    assert!(
        text(&bad.stderr).contains("e.g. 500/s"),
        "{}",
        text(&bad.stderr)
    );
}
