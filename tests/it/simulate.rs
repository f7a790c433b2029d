//! Simulated parts (src/sim/): they report through a part's own RPCs over the socket, so the
//! fleet's summaries and logs show them as it would show real parts: online with their
//! versions, logging at their rate and mix, offline in their windows, restarting when marked.

use std::time::Duration;

use fleetsh::proto::viam::app::v1::*;
use fleetsh::sim::{Access, MachineSpec, SimClock, SimPart, Simulation, State};
use serde_json::json;

use crate::harness::{App, TestServer};

fn specs(v: serde_json::Value) -> Vec<MachineSpec> {
    fleetsh::sim::spec::machines(v).unwrap()
}

async fn simulate(s: &TestServer, clock: &SimClock, v: serde_json::Value) -> Simulation {
    let access = Access::from_credentials(&s.fleet.credentials);
    fleetsh::sim::start(&access, specs(v), clock.clone())
        .await
        .unwrap()
}

/// What `fleet.clock.advance` does: the fleet's stored times, then the simulation's clock.
fn advance(s: &TestServer, clock: &SimClock, by: Duration) {
    s.fleet
        .api
        .store
        .tx(|tx| fleetsh::server::clock::advance(tx, by.as_nanos() as i64))
        .unwrap();
    clock.advance(by);
}

async fn live(p: &SimPart) {
    let r = p.wait_until(Duration::from_secs(5), |st| p.live(st)).await;
    assert!(r.is_ok(), "{} never came online: {:?}", p.machine_name, r);
}

async fn in_state(p: &SimPart, state: State) {
    let r = p
        .wait_until(Duration::from_secs(5), |st| st.state == state)
        .await;
    assert!(r.is_ok(), "{} never {state:?}: {r:?}", p.machine_name);
}

async fn part_summary(app: &mut App, org_id: &str, part_id: &str) -> PartSummary {
    let req = ListMachineSummariesRequest {
        organization_id: org_id.into(),
        ..Default::default()
    };
    let reply = app.list_machine_summaries(req).await.unwrap().into_inner();
    reply
        .location_summaries
        .into_iter()
        .flat_map(|l| l.machine_summaries)
        .flat_map(|m| m.part_summaries)
        .find(|p| p.part_id == part_id)
        .unwrap_or_else(|| panic!("part {part_id} is not in the summaries"))
}

async fn logs(app: &mut App, part_id: &str) -> Vec<fleetsh::proto::viam::common::v1::LogEntry> {
    let mut out = Vec::new();
    let mut page_token = None;
    loop {
        let req = GetRobotPartLogsRequest {
            id: part_id.into(),
            page_token: page_token.clone(),
            ..Default::default()
        };
        let r = app.get_robot_part_logs(req).await.unwrap().into_inner();
        out.extend(r.logs);
        if r.next_page_token.is_empty() {
            return out;
        }
        page_token = Some(r.next_page_token);
    }
}

fn online(p: &PartSummary) -> bool {
    p.online_state == OnlineState::Online as i32
}

#[tokio::test]
async fn a_simulated_part_shows_online_in_summaries_with_what_it_reported() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let existing = app
        .new_robot(NewRobotRequest {
            name: "old-timer".into(),
            location: s.location_id().into(),
        })
        .await
        .unwrap()
        .into_inner()
        .id;
    let clock = SimClock::new();
    let sim = simulate(
        &s,
        &clock,
        json!([
            {"name": "rover-1", "version": "0.61.0", "os": "linux", "platform": "linux/arm64"},
            {"id": existing},
        ]),
    )
    .await;
    let (rover, old) = (sim.parts[0].clone(), sim.parts[1].clone());
    assert_eq!(
        old.machine_id, existing,
        "an existing machine is used by id"
    );
    assert_eq!(old.machine_name, "old-timer");
    live(&rover).await;
    live(&old).await;
    let p = part_summary(&mut app, s.org_id(), &rover.part_id).await;
    assert!(online(&p), "{p:?}");
    assert_eq!(
        p.viam_server_version.and_then(|v| v.version),
        Some(viam_server_version::Version::Major("0.61.0".into()))
    );
    assert_eq!(p.os.as_deref(), Some("linux"));
    assert_eq!(p.platform.as_deref(), Some("linux/arm64"));
    // Created by name in the fleet's location, found there again by the next simulation.
    let robots = app
        .list_robots(ListRobotsRequest {
            location_id: s.location_id().into(),
        })
        .await
        .unwrap()
        .into_inner()
        .robots;
    assert_eq!(robots.iter().filter(|r| r.name == "rover-1").count(), 1);
    sim.stop().await;
    let again = simulate(&s, &clock, json!([{"name": "rover-1"}])).await;
    assert_eq!(again.parts[0].machine_id, rover.machine_id);
    again.stop().await;
}

#[tokio::test]
async fn logs_arrive_at_the_rate_and_in_the_mix() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let clock = SimClock::new();
    let sim = simulate(
        &s,
        &clock,
        json!([{"name": "chatty", "logs": {"rate": "20/s",
            "levels": {"info": 8, "warn": 1, "error": 1}, "messages": {"error": "motor stalled"}}}]),
    )
    .await;
    let p = sim.parts[0].clone();
    live(&p).await;
    let started = std::time::Instant::now();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Stopped, it sends nothing more: what it counted is what the fleet holds.
    sim.stop().await;
    let sent = p.status();
    let elapsed = started.elapsed().as_secs_f64();
    let stored = logs(&mut app, &p.part_id).await;
    let generated: Vec<_> = stored
        .iter()
        .filter(|e| e.logger_name == "rdk.sim")
        .collect();
    assert_eq!(
        generated.len() as u64,
        sent.logs_sent,
        "every entry sent is stored"
    );
    let expected = 20.0 * elapsed;
    assert!(
        (generated.len() as f64) > expected * 0.6 && (generated.len() as f64) <= expected + 2.0,
        "{} entries in {elapsed:.2}s at 20/s",
        generated.len()
    );
    let count = |level: &str| generated.iter().filter(|e| e.level == level).count();
    let n = generated.len();
    // Smooth round robin: every 10 entries hold exactly 8 info, 1 warn, 1 error.
    assert!(
        count("error").abs_diff(n / 10) <= 1,
        "{n} entries, {} errors",
        count("error")
    );
    assert!(
        count("warn").abs_diff(n / 10) <= 1,
        "{n} entries, {} warns",
        count("warn")
    );
    assert_eq!(count("info") + count("warn") + count("error"), n);
    assert!(
        generated
            .iter()
            .filter(|e| e.level == "error")
            .all(|e| e.message == "motor stalled")
    );
    assert_eq!(generated[0].host, "chatty");
    assert_eq!(sent.state, State::Stopped);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(logs(&mut app, &p.part_id).await.len(), stored.len());
}

#[tokio::test]
async fn an_offline_window_makes_it_offline_in_summaries_until_it_ends() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let clock = SimClock::new();
    let sim = simulate(
        &s,
        &clock,
        json!([{"name": "flaky", "offline": {"every": "10m", "for": "5m"}}]),
    )
    .await;
    let p = sim.parts[0].clone();
    live(&p).await;
    let fetches = p.status().config_fetches;
    // Into the window (fleet time 5m30s): it stops calling.
    advance(&s, &clock, Duration::from_secs(330));
    in_state(&p, State::Offline).await;
    // No call since the advance: its last one is 5m30s old.
    let summary = part_summary(&mut app, s.org_id(), &p.part_id).await;
    assert!(!online(&summary), "offline in its window: {summary:?}");
    advance(&s, &clock, Duration::from_secs(120));
    let summary = part_summary(&mut app, s.org_id(), &p.part_id).await;
    assert!(!online(&summary), "offline in its window: {summary:?}");
    assert!(summary.seconds_since_online >= 120, "{summary:?}");
    // Past the window (10m30s): back, with its config fetched again.
    advance(&s, &clock, Duration::from_secs(180));
    live(&p).await;
    let summary = part_summary(&mut app, s.org_id(), &p.part_id).await;
    assert!(online(&summary), "online after its window: {summary:?}");
    assert!(p.status().config_fetches > fetches);
    sim.stop().await;
}

#[tokio::test]
async fn an_advance_while_online_is_followed_by_a_call_in() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let clock = SimClock::new();
    // Its check-in interval is far longer than the test: only the advance makes it call.
    let sim = simulate(&s, &clock, json!([{"name": "steady", "check_in": "1h"}])).await;
    let p = sim.parts[0].clone();
    live(&p).await;
    advance(&s, &clock, Duration::from_secs(3600));
    live(&p).await;
    let summary = part_summary(&mut app, s.org_id(), &p.part_id).await;
    assert!(online(&summary), "{summary:?}");
    sim.stop().await;
}

#[tokio::test]
async fn marked_for_restart_it_restarts_with_its_new_config() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let clock = SimClock::new();
    let sim = simulate(
        &s,
        &clock,
        json!([{"name": "worker", "restart_check": "100ms", "restart_takes": "300ms"}]),
    )
    .await;
    let p = sim.parts[0].clone();
    live(&p).await;
    assert!(p.status().components.is_empty());
    app.update_robot_part(UpdateRobotPartRequest {
        id: p.part_id.clone(),
        name: p.part_name.clone(),
        robot_config: Some(components_config(&["arm"])),
        ..Default::default()
    })
    .await
    .unwrap();
    app.mark_part_for_restart(MarkPartForRestartRequest {
        part_id: p.part_id.clone(),
    })
    .await
    .unwrap();
    in_state(&p, State::Restarting).await;
    let back = p
        .wait_until(Duration::from_secs(5), |st| st.restarts == 1 && p.live(st))
        .await
        .expect("back online after the restart");
    assert_eq!(back.components, ["arm"], "the new config");
    let messages: Vec<String> = logs(&mut app, &p.part_id)
        .await
        .into_iter()
        .map(|e| e.message)
        .collect();
    let restart = messages
        .iter()
        .position(|m| m == "restarting: the cloud marked this part for restart")
        .unwrap_or_else(|| panic!("no restart line in {messages:?}"));
    assert!(
        messages[..restart]
            .iter()
            .chain(&messages[restart + 1..])
            .any(|m| m == "online: config fetched, components arm"),
        "{messages:?}"
    );
    // Read once: the flag is cleared, so it restarts once.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(p.status().restarts, 1);
    sim.stop().await;
}

fn components_config(names: &[&str]) -> prost_types::Struct {
    use prost_types::value::Kind;
    let component = |n: &str| prost_types::Value {
        kind: Some(Kind::StructValue(prost_types::Struct {
            fields: [
                ("name".to_string(), str_value(n)),
                ("api".to_string(), str_value("rdk:component:arm")),
                ("model".to_string(), str_value("fake")),
            ]
            .into(),
        })),
    };
    prost_types::Struct {
        fields: [(
            "components".to_string(),
            prost_types::Value {
                kind: Some(Kind::ListValue(prost_types::ListValue {
                    values: names.iter().map(|n| component(n)).collect(),
                })),
            },
        )]
        .into(),
    }
}

fn str_value(s: &str) -> prost_types::Value {
    prost_types::Value {
        kind: Some(prost_types::value::Kind::StringValue(s.into())),
    }
}

/// The temperatures of `part`'s "temp" readings, oldest first, through TabularDataByFilter.
#[allow(deprecated)]
async fn temperatures(data: &mut crate::data_api::Data, part_id: &str) -> Vec<f64> {
    use fleetsh::proto::viam::app::data::v1::*;
    let req = TabularDataByFilterRequest {
        data_request: Some(DataRequest {
            filter: Some(Filter {
                part_id: part_id.into(),
                component_name: "temp".into(),
                ..Default::default()
            }),
            limit: 1000,
            last: String::new(),
            sort_order: Order::Ascending as i32,
        }),
        ..Default::default()
    };
    let reply = data.tabular_data_by_filter(req).await.unwrap().into_inner();
    reply
        .data
        .iter()
        .map(|d| {
            let s = d.data.as_ref().unwrap();
            let Some(prost_types::value::Kind::StructValue(r)) = &s.fields["readings"].kind else {
                panic!("no readings in {s:?}")
            };
            match r.fields["temperature"].kind {
                Some(prost_types::value::Kind::NumberValue(n)) => n,
                ref k => panic!("temperature is {k:?}"),
            }
        })
        .collect()
}

#[tokio::test]
async fn readings_arrive_at_the_rate_as_the_part_and_are_queryable_by_filter_and_latest() {
    use fleetsh::proto::viam::app::data::v1::GetLatestTabularDataRequest;
    let s = TestServer::start().await;
    let c = s.fleet.credentials.clone();
    let token = s.token(&c.api_key_id, &c.api_key).await.unwrap();
    let mut data = crate::data_api::data_client(&s.channel, &token);
    let clock = SimClock::new();
    let sim = simulate(
        &s,
        &clock,
        json!([{"name": "weather", "readings": {"rate": "10/s", "components": [
            {"name": "temp", "values": {"temperature": [20, 21, 22, 23], "unit": "C"}},
            {"name": "humidity", "values": {"rh": 40}}
        ]}}]),
    )
    .await;
    let p = sim.parts[0].clone();
    live(&p).await;
    let started = std::time::Instant::now();
    let r = p
        .wait_until(Duration::from_secs(5), |st| st.readings_sent >= 10)
        .await;
    let took = started.elapsed();
    let sent = r.unwrap().readings_sent;
    // 10 readings at 10/s take about a second: not all at once, and not far slower.
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_secs(3),
        "10 readings at 10/s took {took:?}"
    );
    let temps = temperatures(&mut data, &p.part_id).await;
    assert!(
        temps.len() as u64 >= sent,
        "{} stored, {sent} sent",
        temps.len()
    );
    assert_eq!(
        temps[..8],
        [20.0, 21.0, 22.0, 23.0, 20.0, 21.0, 22.0, 23.0],
        "the values cycle in order"
    );
    let latest = data
        .get_latest_tabular_data(GetLatestTabularDataRequest {
            part_id: p.part_id.clone(),
            resource_name: "humidity".into(),
            resource_subtype: "rdk:component:sensor".into(),
            method_name: "Readings".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let payload = latest.payload.unwrap();
    let Some(prost_types::value::Kind::StructValue(r)) = &payload.fields["readings"].kind else {
        panic!("{payload:?}")
    };
    assert_eq!(
        r.fields["rh"].kind,
        Some(prost_types::value::Kind::NumberValue(40.0))
    );
    let age = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        - latest.time_captured.unwrap().seconds;
    assert!(
        (0..5).contains(&age),
        "the latest reading is fresh: {age}s old"
    );
    // Stopped, it captures no more.
    p.stop();
    in_state(&p, State::Stopped).await;
    let stored = temperatures(&mut data, &p.part_id).await.len();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(temperatures(&mut data, &p.part_id).await.len(), stored);
    sim.stop().await;
}

#[tokio::test]
async fn an_offline_part_captures_nothing_until_it_is_back() {
    let s = TestServer::start().await;
    let c = s.fleet.credentials.clone();
    let token = s.token(&c.api_key_id, &c.api_key).await.unwrap();
    let mut data = crate::data_api::data_client(&s.channel, &token);
    let clock = SimClock::new();
    let sim = simulate(
        &s,
        &clock,
        json!([{"name": "probe", "offline": [{"at": "0s", "lasting": "1h"}],
            "readings": {"rate": "20/s", "components": [{"name": "temp", "values": {"temperature": 1}}]}}]),
    )
    .await;
    let p = sim.parts[0].clone();
    in_state(&p, State::Offline).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(temperatures(&mut data, &p.part_id).await.is_empty());
    advance(&s, &clock, Duration::from_secs(3600));
    live(&p).await;
    let r = p
        .wait_until(Duration::from_secs(5), |st| st.readings_sent >= 3)
        .await;
    assert!(r.is_ok(), "{r:?}");
    assert!(
        temperatures(&mut data, &p.part_id).await.len() < 40,
        "no backlog of the offline hour is uploaded"
    );
    sim.stop().await;
}

#[tokio::test]
async fn a_machine_that_cannot_be_found_is_a_clear_error() {
    let s = TestServer::start().await;
    let access = Access::from_credentials(&s.fleet.credentials);
    let e = fleetsh::sim::start(
        &access,
        specs(json!([{"name": "x", "location": "nowhere"}])),
        SimClock::new(),
    )
    .await
    .err()
    .expect("an unknown location is refused");
    assert!(
        e.contains("simulated machine x: no location \"nowhere\""),
        "{e}"
    );
}

#[tokio::test]
async fn fleet_simulate_in_a_test_file() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/simulated");
    let out = crate::lua::fleetsh(crate::lua::args(&["test", dir.to_str().unwrap()]), None).await;
    let shown = crate::lua::text(&out.stdout);
    crate::lua::assert_exit(&out, 0);
    assert_eq!(shown.lines().last(), Some("6 passed, 0 failed"), "{shown}");
}

/// Polls `f` every 50 ms for up to 5 s.
async fn eventually<T>(mut f: impl AsyncFnMut() -> Option<T>) -> Option<T> {
    for _ in 0..100 {
        if let Some(v) = f().await {
            return Some(v);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

#[tokio::test]
async fn serve_simulate_runs_the_machines_of_a_lua_or_json_file() {
    let tmp = tempfile::tempdir().unwrap();
    let lua_file = tmp.path().join("fleet.lua");
    std::fs::write(
        &lua_file,
        r#"return { machines = { { name = "lua-rover", version = "0.63.0",
             logs = { rate = "10/s", levels = { warn = 1 } } } } }"#,
    )
    .unwrap();
    let json_file = tmp.path().join("fleet.json");
    std::fs::write(
        &json_file,
        r#"[{"name": "json-rover", "platform": "linux/arm64", "readings": {"rate": "10/s",
            "components": [{"name": "temp", "values": {"temperature": [20, 21]}}]}}]"#,
    )
    .unwrap();
    for (file, name) in [(&lua_file, "lua-rover"), (&json_file, "json-rover")] {
        let data = tempfile::tempdir().unwrap();
        let log = tmp.path().join(format!("{name}.log"));
        let serve = crate::serve_proc::Serve::spawn(
            data.path(),
            "127.0.0.1:0",
            "warn,fleetsh=info",
            &["--simulate", file.to_str().unwrap()],
            &log,
        );
        let mut app = serve.owner().await;
        let org_id = serve.creds.org_id.clone();
        let summary = eventually(async || {
            let req = ListMachineSummariesRequest {
                organization_id: org_id.clone(),
                ..Default::default()
            };
            let reply = app.list_machine_summaries(req).await.ok()?.into_inner();
            reply
                .location_summaries
                .into_iter()
                .flat_map(|l| l.machine_summaries)
                .filter(|m| m.machine_name == name)
                .flat_map(|m| m.part_summaries)
                .find(online)
        })
        .await
        .unwrap_or_else(|| {
            panic!(
                "{name} never online: {}",
                std::fs::read_to_string(&log).unwrap()
            )
        });
        let stderr = std::fs::read_to_string(&log).unwrap();
        assert!(
            stderr.contains(&format!(
                "fleetsh: simulating 1 machine(s) from {}: {name}",
                file.display()
            )),
            "{stderr}"
        );
        if name == "lua-rover" {
            let v = summary.viam_server_version.and_then(|v| v.version);
            assert_eq!(
                v,
                Some(viam_server_version::Version::Major("0.63.0".into()))
            );
            let part_id = summary.part_id.clone();
            let warned = eventually(async || {
                let req = GetRobotPartLogsRequest {
                    id: part_id.clone(),
                    levels: vec!["warn".into()],
                    ..Default::default()
                };
                let n = app
                    .get_robot_part_logs(req)
                    .await
                    .ok()?
                    .into_inner()
                    .logs
                    .len();
                (n >= 3).then_some(n)
            })
            .await;
            assert!(warned.is_some(), "no warnings logged");
        } else {
            assert_eq!(summary.platform.as_deref(), Some("linux/arm64"));
            let channel = tonic::transport::Channel::from_shared(serve.creds.address.clone())
                .unwrap()
                .connect()
                .await
                .unwrap();
            let mut data = crate::data_api::data_client(&channel, &serve.token().await);
            let part_id = summary.part_id.clone();
            let temps = eventually(async || {
                let t = temperatures(&mut data, &part_id).await;
                (t.len() >= 3).then_some(t)
            })
            .await
            .expect("no readings captured");
            assert_eq!(temps[..3], [20.0, 21.0, 20.0]);
        }
    }
}

#[tokio::test]
async fn serve_refuses_a_simulate_file_it_cannot_use() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("bad.json");
    std::fs::write(&file, r#"[{"name": "x", "logs": {"rate": "lots"}}]"#).unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_fleetsh"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(tmp.path().join("data"))
        .arg("--simulate")
        .arg(&file)
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("--simulate {}", file.display()))
            && stderr.contains("is not a rate"),
        "{stderr}"
    );
}

/// `serve --tls-cert --simulate`: the fleet's certificate is signed by a CA no system root
/// knows, yet its simulated parts reach it and come online.
#[tokio::test]
async fn serve_simulate_reaches_a_tls_fleet_with_its_own_certificate() {
    const TLS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls");
    let dir = tempfile::tempdir().unwrap();
    let mut opts = fleetsh::server::ServeOptions::new(dir.path().join("data"));
    opts.listen = "127.0.0.1:0".parse().unwrap();
    opts.tls_cert = Some(format!("{TLS}/server.pem").into());
    opts.tls_key = Some(format!("{TLS}/server.key").into());
    let fleet = fleetsh::server::start(&opts).await.unwrap();
    let file = dir.path().join("fleet.json");
    std::fs::write(&file, r#"[{"name": "tls-rover", "check_in": "1h"}]"#).unwrap();
    let sim = fleetsh::sim::serve(Some(&file), &fleet)
        .await
        .unwrap()
        .expect("a simulation");
    live(&sim.parts[0]).await;
    sim.stop().await;
    fleet.stop().await.unwrap();
}
