//! Load: concurrent clients, each doing a mix of reads, writes and log pushes with one live
//! tail open, against `fleetsh serve`. Zero errors; every write and every log entry present
//! exactly once afterwards (counted in the database); each tail saw its own entries; p50/p99
//! latency printed.
//!
//! CI runs 10 clients x 200 calls; the full run (50 x 2,000) is ignored:
//!   cargo test --release --test it load::long -- --ignored --nocapture

use std::time::{Duration, Instant};

use fleetsh::proto::viam::app::v1::robot_service_client::RobotServiceClient;
use fleetsh::proto::viam::app::v1::*;
use fleetsh::proto::viam::common::v1::LogEntry;
use tokio_stream::StreamExt;

use crate::harness::Bearer;
use crate::keys::{new_location, new_robot};
use crate::serve_proc::Serve;

/// What one client did: its location and part, how many writes and log entries were
/// acknowledged, and the latency of every call.
struct Outcome {
    location: String,
    part: String,
    writes: usize,
    logs: usize,
    tailed: usize,
    latencies: Vec<Duration>,
}

async fn client(serve_addr: String, token: String, org: String, n: usize, me: usize) -> Outcome {
    let channel = tonic::transport::Channel::from_shared(serve_addr)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let bearer = Bearer(Some(format!("Bearer {token}").parse().unwrap()));
    let mut app =
        fleetsh::proto::viam::app::v1::app_service_client::AppServiceClient::with_interceptor(
            channel.clone(),
            bearer.clone(),
        );
    let mut robot_svc = RobotServiceClient::with_interceptor(channel, bearer);
    let location = new_location(&mut app, &org, &format!("load{me}")).await;
    let robot = new_robot(&mut app, &location, "base").await;
    let part = app
        .get_robot_parts(GetRobotPartsRequest {
            robot_id: robot.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .parts[0]
        .id
        .clone();
    let mut tail = app
        .tail_robot_part_logs(TailRobotPartLogsRequest {
            id: part.clone(),
            errors_only: false,
            filter: None,
        })
        .await
        .unwrap()
        .into_inner();
    let (tail_tx, mut tail_rx) = tokio::sync::mpsc::unbounded_channel();
    let tail_task = tokio::spawn(async move {
        let mut seen = 0;
        while let Some(Ok(batch)) = tail.next().await {
            seen += batch.logs.len();
            let _ = tail_tx.send(seen);
        }
    });

    let mut out = Outcome {
        location,
        part: part.clone(),
        writes: 0,
        logs: 0,
        tailed: 0,
        latencies: Vec::with_capacity(n),
    };
    for i in 0..n {
        let start = Instant::now();
        let r = match i % 5 {
            0 => app
                .new_robot(NewRobotRequest {
                    name: format!("w{i}"),
                    location: out.location.clone(),
                })
                .await
                .map(|_| out.writes += 1),
            1 => app
                .get_robot(GetRobotRequest { id: robot.clone() })
                .await
                .map(drop),
            2 => app
                .list_robots(ListRobotsRequest {
                    location_id: out.location.clone(),
                })
                .await
                .map(drop),
            3 => {
                let entry = LogEntry {
                    host: "load".into(),
                    level: "info".into(),
                    time: Some(prost_types::Timestamp {
                        seconds: 1_700_000_000 + i as i64,
                        nanos: 0,
                    }),
                    logger_name: "load".into(),
                    message: format!("c{me} m{i}"),
                    ..Default::default()
                };
                robot_svc
                    .log(LogRequest {
                        id: part.clone(),
                        logs: vec![entry],
                    })
                    .await
                    .map(|_| out.logs += 1)
            }
            _ => app
                .get_robot_part(GetRobotPartRequest { id: part.clone() })
                .await
                .map(drop),
        };
        out.latencies.push(start.elapsed());
        if let Err(e) = r {
            panic!("client {me} call {i}: {:?} {}", e.code(), e.message());
        }
    }
    // The tail delivers what was pushed, a little later.
    let deadline = Instant::now() + Duration::from_secs(20);
    while out.tailed < out.logs && Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_millis(500), tail_rx.recv()).await {
            Ok(Some(seen)) => out.tailed = seen,
            Ok(None) => break,
            Err(_) => {}
        }
    }
    tail_task.abort();
    out
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize)
        .saturating_sub(1)
        .min(sorted.len() - 1)]
}

async fn load(clients: usize, calls: usize) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("fleet");
    let mut serve = Serve::spawn(
        &data,
        "127.0.0.1:0",
        "warn",
        &[],
        &tmp.path().join("serve.log"),
    );
    let c = serve.creds.clone();
    let token = serve.token().await;
    let start = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|me| {
            tokio::spawn(client(
                c.address.clone(),
                token.clone(),
                c.org_id.clone(),
                calls,
                me,
            ))
        })
        .collect();
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.expect("a client failed"));
    }
    let elapsed = start.elapsed();
    serve.terminate();

    let db = rusqlite::Connection::open(data.join("fleet.db")).unwrap();
    let mut latencies = Vec::new();
    for o in &outcomes {
        let robots: i64 = db
            .query_row(
                "SELECT COUNT(*) FROM robots WHERE location_id = ?1",
                [&o.location],
                |r| r.get(0),
            )
            .unwrap();
        // The base robot plus every acknowledged write, once each.
        assert_eq!(robots as usize, o.writes + 1, "robots in {}", o.location);
        let (logs, distinct): (i64, i64) = db
            .query_row(
                "SELECT COUNT(*), COUNT(DISTINCT message) FROM logs WHERE part_id = ?1",
                [&o.part],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(
            (logs as usize, distinct as usize),
            (o.logs, o.logs),
            "log entries of part {}",
            o.part
        );
        assert_eq!(
            o.tailed, o.logs,
            "the tail of part {} missed entries",
            o.part
        );
        latencies.extend(&o.latencies);
    }
    latencies.sort();
    let total = latencies.len();
    println!(
        "load: {clients} clients x {calls} calls = {total} calls in {:.1?} ({:.0} calls/s); latency p50 {:?}, p99 {:?}, max {:?}",
        elapsed,
        total as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        latencies[total - 1],
    );
    assert_eq!(total, clients * calls);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_clients_mixed_calls_lose_and_duplicate_nothing() {
    load(10, 200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "long: 50 clients x 2,000 calls; run with --release --nocapture to read the latency"]
async fn long_fifty_clients_two_thousand_calls_each() {
    load(50, 2000).await;
}
