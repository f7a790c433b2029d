use std::time::Duration;

use fleetsh::proto::rpc::v1::auth_service_client::AuthServiceClient;
use fleetsh::proto::rpc::v1::{AuthenticateRequest, Credentials};
use fleetsh::proto::viam::app::v1::robot_service_client::RobotServiceClient;
use fleetsh::proto::viam::app::v1::*;
use fleetsh::proto::viam::common::v1::LogEntry;
use prost_types::Timestamp;
use tokio_stream::StreamExt;
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::harness::{App, Bearer, TestServer, assert_status};
use crate::parts::{machine, operator, operator_key};

type Robot = RobotServiceClient<InterceptedService<Channel, Bearer>>;

fn robot_client(s: &TestServer, token: &str) -> Robot {
    RobotServiceClient::with_interceptor(
        s.channel.clone(),
        Bearer(Some(format!("Bearer {token}").parse().unwrap())),
    )
}

/// A RobotService client authenticated as the part with its own secret.
pub(crate) async fn as_part(s: &TestServer, app: &mut App, part_id: &str) -> Robot {
    let part = app
        .get_robot_part(GetRobotPartRequest { id: part_id.into() })
        .await
        .unwrap()
        .into_inner()
        .part
        .unwrap();
    let token = part_token(s, part_id, &part.secret).await.unwrap();
    robot_client(s, &token)
}

async fn part_token(s: &TestServer, part_id: &str, secret: &str) -> Result<String, tonic::Status> {
    let resp = AuthServiceClient::new(s.channel.clone())
        .authenticate(AuthenticateRequest {
            entity: part_id.into(),
            credentials: Some(Credentials {
                r#type: "robot-secret".into(),
                payload: secret.into(),
            }),
        })
        .await?;
    Ok(resp.into_inner().access_token)
}

pub(crate) fn entry(level: &str, message: &str, seconds: i64) -> LogEntry {
    LogEntry {
        level: level.into(),
        message: message.into(),
        time: Some(Timestamp { seconds, nanos: 0 }),
        logger_name: "test".into(),
        ..Default::default()
    }
}

pub(crate) fn push(id: &str, logs: Vec<LogEntry>) -> LogRequest {
    LogRequest {
        id: id.into(),
        logs,
    }
}

fn query(id: &str) -> GetRobotPartLogsRequest {
    GetRobotPartLogsRequest {
        id: id.into(),
        ..Default::default()
    }
}

async fn messages(app: &mut App, req: GetRobotPartLogsRequest) -> Vec<String> {
    app.get_robot_part_logs(req)
        .await
        .unwrap()
        .into_inner()
        .logs
        .into_iter()
        .map(|e| e.message)
        .collect()
}

#[tokio::test]
async fn parts_push_their_own_logs_and_clients_page_through_them() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let (_, part_id) = machine(&mut app, &s, "rover").await;
    let (_, other_id) = machine(&mut app, &s, "other").await;
    let mut robot = as_part(&s, &mut app, &part_id).await;

    // 250 entries, four sharing each second: page boundaries fall inside a second, where the
    // seq orders them.
    let logs: Vec<LogEntry> = (0..250)
        .map(|i| {
            entry(
                if i % 10 == 0 { "ERROR" } else { "Info" },
                &format!("m{i:03}"),
                1_700_000_000 + i / 4,
            )
        })
        .collect();
    robot.log(push(&part_id, logs)).await.unwrap();
    let part = app
        .get_robot_part(GetRobotPartRequest {
            id: part_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .part
        .unwrap();
    assert_eq!(part.online_state, OnlineState::Online as i32);
    assert!(part.last_access.is_some());

    let (mut seen, mut sizes) = (Vec::new(), Vec::new());
    let mut token = None;
    loop {
        let resp = app
            .get_robot_part_logs(GetRobotPartLogsRequest {
                page_token: token.take(),
                ..query(&part_id)
            })
            .await
            .unwrap()
            .into_inner();
        sizes.push(resp.logs.len());
        seen.extend(resp.logs.into_iter().map(|e| e.message));
        if resp.next_page_token.is_empty() {
            break;
        }
        token = Some(resp.next_page_token);
    }
    let newest_first: Vec<String> = (0..250).rev().map(|i| format!("m{i:03}")).collect();
    assert_eq!(seen, newest_first);
    assert_eq!(sizes, [100, 100, 50]);

    let asc = GetRobotPartLogsRequest {
        order: Some(LogOrder::Ascending as i32),
        limit: Some(3),
        ..query(&part_id)
    };
    let page = app
        .get_robot_part_logs(asc.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        page.logs
            .iter()
            .map(|e| e.message.as_str())
            .collect::<Vec<_>>(),
        ["m000", "m001", "m002"]
    );
    assert_eq!(page.logs[0].level, "ERROR", "entries come back as pushed");
    let next = GetRobotPartLogsRequest {
        page_token: Some(page.next_page_token),
        ..asc
    };
    assert_eq!(messages(&mut app, next).await, ["m003", "m004", "m005"]);

    let levels = GetRobotPartLogsRequest {
        levels: vec!["error".into()],
        limit: Some(2),
        ..query(&part_id)
    };
    assert_eq!(messages(&mut app, levels).await, ["m240", "m230"]);
    #[allow(deprecated)]
    let errors = GetRobotPartLogsRequest {
        errors_only: true,
        filter: Some("m1".into()),
        ..query(&part_id)
    };
    assert_eq!(messages(&mut app, errors).await.len(), 10);
    let window = GetRobotPartLogsRequest {
        start: Some(Timestamp {
            seconds: 1_700_000_001,
            nanos: 0,
        }),
        end: Some(Timestamp {
            seconds: 1_700_000_002,
            nanos: 0,
        }),
        ..query(&part_id)
    };
    assert_eq!(
        messages(&mut app, window).await,
        [
            "m011", "m010", "m009", "m008", "m007", "m006", "m005", "m004"
        ]
    );
    assert!(messages(&mut app, query(&other_id)).await.is_empty());

    let bad = GetRobotPartLogsRequest {
        page_token: Some("garbage".into()),
        ..query(&part_id)
    };
    assert_status(
        app.get_robot_part_logs(bad).await,
        Code::InvalidArgument,
        "page_token",
    );
    assert_status(
        app.get_robot_part_logs(query("ghost")).await,
        Code::NotFound,
        "ghost",
    );

    // Limits and identities.
    let too_many = (0..1001).map(|i| entry("info", "x", i)).collect();
    assert_status(
        robot.log(push(&part_id, too_many)).await,
        Code::InvalidArgument,
        "1000",
    );
    assert_status(
        robot
            .log(push(&other_id, vec![entry("info", "x", 1)]))
            .await,
        Code::PermissionDenied,
        "own",
    );
    let other_secret = app
        .get_robot_part(GetRobotPartRequest {
            id: other_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let other_token = part_token(&s, &other_id, &other_secret.part.unwrap().secret)
        .await
        .unwrap();
    assert_status(
        robot_client(&s, &other_token)
            .log(push(&part_id, vec![entry("info", "x", 1)]))
            .await,
        Code::PermissionDenied,
        "",
    );
    assert_status(
        part_token(&s, &part_id, "wrong").await,
        Code::Unauthenticated,
        "invalid credentials",
    );
}

#[tokio::test]
async fn api_keys_push_with_write_robot_and_entries_without_time_get_now() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let (_, part_id) = machine(&mut app, &s, "rover").await;
    let c = &s.fleet.credentials;
    let owner_token = s.token(&c.api_key_id, &c.api_key).await.unwrap();
    let untimed = LogEntry {
        level: "WARN".into(),
        message: "no time".into(),
        ..Default::default()
    };
    robot_client(&s, &owner_token)
        .log(push(&part_id, vec![untimed]))
        .await
        .unwrap();
    let logs = app
        .get_robot_part_logs(query(&part_id))
        .await
        .unwrap()
        .into_inner()
        .logs;
    assert_eq!(logs.len(), 1);
    let t = logs[0].time.as_ref().unwrap().seconds;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now - t).abs() < 60, "time {t} is not now {now}");
    // Levels match case-insensitively.
    let warn = GetRobotPartLogsRequest {
        levels: vec!["Warn".into()],
        ..query(&part_id)
    };
    assert_eq!(messages(&mut app, warn).await, ["no time"]);

    // Operators read logs but may not write them.
    let (op_id, op_key) = operator_key(&s);
    let op_token = s.token(&op_id, &op_key).await.unwrap();
    let denied = robot_client(&s, &op_token)
        .log(push(&part_id, vec![entry("info", "x", 1)]))
        .await;
    assert_status(denied, Code::PermissionDenied, "write_robot");
    assert_eq!(
        messages(&mut operator(&s).await, query(&part_id)).await,
        ["no time"]
    );
}

async fn next(stream: &mut tonic::Streaming<TailRobotPartLogsResponse>) -> Vec<String> {
    let msg = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("a batch in time");
    msg.unwrap()
        .unwrap()
        .logs
        .into_iter()
        .map(|e| e.message)
        .collect()
}

#[tokio::test]
async fn tails_get_only_new_matching_entries() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let (_, part_id) = machine(&mut app, &s, "rover").await;
    let mut robot = as_part(&s, &mut app, &part_id).await;
    robot
        .log(push(&part_id, vec![entry("info", "needle before", 1)]))
        .await
        .unwrap();

    let tail = |errors_only, filter: Option<&str>| TailRobotPartLogsRequest {
        id: part_id.clone(),
        errors_only,
        filter: filter.map(Into::into),
    };
    let mut needles = app
        .tail_robot_part_logs(tail(false, Some("needle")))
        .await
        .unwrap()
        .into_inner();
    let mut errors = app
        .tail_robot_part_logs(tail(true, None))
        .await
        .unwrap()
        .into_inner();
    let mut op = operator(&s).await;
    let mut op_all = op
        .tail_robot_part_logs(tail(false, None))
        .await
        .unwrap()
        .into_inner();

    robot
        .log(push(&part_id, vec![entry("info", "hay", 2)]))
        .await
        .unwrap();
    robot
        .log(push(
            &part_id,
            vec![entry("info", "needle 1", 3), entry("error", "boom", 4)],
        ))
        .await
        .unwrap();

    assert_eq!(next(&mut needles).await, ["needle 1"]);
    assert_eq!(next(&mut errors).await, ["boom"]);
    let mut all = next(&mut op_all).await;
    if all.len() == 1 {
        all.extend(next(&mut op_all).await);
    }
    assert_eq!(all, ["hay", "needle 1", "boom"]);
    // Nothing else is pending: no empty batches, nothing from before the call.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), needles.next())
            .await
            .is_err()
    );

    let ghost = TailRobotPartLogsRequest {
        id: "ghost".into(),
        ..tail(false, None)
    };
    assert_status(
        app.tail_robot_part_logs(ghost).await.map(|_| ()),
        Code::NotFound,
        "ghost",
    );
    // The opening request goes through the same size limits as a unary call.
    let long = "x".repeat(2000);
    assert_status(
        app.tail_robot_part_logs(tail(false, Some(&long)))
            .await
            .map(|_| ()),
        Code::InvalidArgument,
        "filter: longer than 1024 characters",
    );
    // Dropping a tail ends it on the server; later pushes still work.
    drop(needles);
    robot
        .log(push(&part_id, vec![entry("error", "after", 5)]))
        .await
        .unwrap();
    assert_eq!(next(&mut errors).await, ["after"]);
}

#[tokio::test]
async fn an_open_tail_does_not_hold_up_shutdown() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let (_, part_id) = machine(&mut app, &s, "rover").await;
    let mut stream = app
        .tail_robot_part_logs(TailRobotPartLogsRequest {
            id: part_id,
            errors_only: false,
            filter: None,
        })
        .await
        .unwrap()
        .into_inner();
    let TestServer { fleet, .. } = s;
    tokio::time::timeout(Duration::from_secs(5), fleet.stop())
        .await
        .expect("stop must not wait for the tail's client")
        .unwrap();
    // The stream ends (cleanly or with an error) instead of hanging.
    let end = tokio::time::timeout(Duration::from_secs(5), stream.next()).await;
    assert!(end.is_ok(), "tail kept hanging after the server stopped");
}

/// Log sequence numbers are never reused: deleting the machine that logged last must not let
/// the next entries of another part take numbers a live tail (or a restarted server's start
/// point) has already passed.
#[tokio::test]
async fn a_tail_sees_entries_logged_after_the_newest_logs_were_deleted() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let (_, part_id) = machine(&mut app, &s, "rover").await;
    let (doomed, doomed_part) = machine(&mut app, &s, "doomed").await;
    let mut robot = as_part(&s, &mut app, &part_id).await;
    let mut doomed_robot = as_part(&s, &mut app, &doomed_part).await;
    robot
        .log(push(&part_id, vec![entry("info", "first", 1)]))
        .await
        .unwrap();
    let mut tail = app
        .tail_robot_part_logs(TailRobotPartLogsRequest {
            id: part_id.clone(),
            errors_only: false,
            filter: None,
        })
        .await
        .unwrap()
        .into_inner();
    // The newest entries belong to the machine about to be deleted.
    let many = (0..5).map(|i| entry("info", &format!("d{i}"), 2)).collect();
    doomed_robot.log(push(&doomed_part, many)).await.unwrap();
    app.delete_robot(DeleteRobotRequest { id: doomed })
        .await
        .unwrap();
    robot
        .log(push(&part_id, vec![entry("info", "after the delete", 3)]))
        .await
        .unwrap();
    assert_eq!(next(&mut tail).await, ["after the delete"]);
}
