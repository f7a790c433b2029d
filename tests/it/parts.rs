use fleetsh::proto::viam::app::v1::*;
use fleetsh::server::store::{hash_secret, new_id, new_secret, now};
use prost_types::value::Kind;
use prost_types::{ListValue, Struct, Timestamp, Value};
use tonic::Code;

use crate::harness::{App, TestServer, assert_status};

/// A new machine in the default location; returns (robot id, main part id).
pub async fn machine(app: &mut App, s: &TestServer, name: &str) -> (String, String) {
    let robot = app
        .new_robot(NewRobotRequest {
            name: name.into(),
            location: s.location_id().into(),
        })
        .await
        .unwrap()
        .into_inner()
        .id;
    let parts = app
        .get_robot_parts(GetRobotPartsRequest {
            robot_id: robot.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .parts;
    assert_eq!(parts.len(), 1);
    (robot, parts[0].id.clone())
}

/// A client holding a fresh key with the operator role on the whole organization.
pub async fn operator(s: &TestServer) -> App {
    let (id, key) = operator_key(s);
    s.client_for(&id, &key).await
}

/// A fresh key with the operator role on the whole organization: (id, key).
pub fn operator_key(s: &TestServer) -> (String, String) {
    let (id, key) = (new_id(), new_secret(32));
    let org = s.org_id().to_string();
    s.fleet
        .api
        .store
        .tx(|tx| {
            tx.execute(
                "INSERT INTO api_keys(id, org_id, name, key_hash, created_on) VALUES (?1, ?2, 'op', ?3, ?4)",
                rusqlite::params![id, org, hash_secret(&key), now()],
            )?;
            tx.execute(
                "INSERT INTO authorizations(org_id, identity_id, identity_type, role, resource_type, resource_id)
                 VALUES (?1, ?2, 'api-key', 'operator', 'organization', ?1)",
                rusqlite::params![org, id],
            )?;
            Ok(())
        })
        .unwrap();
    (id, key)
}

fn nanos(t: &Option<Timestamp>) -> i128 {
    let t = t.as_ref().expect("a timestamp");
    i128::from(t.seconds) * 1_000_000_000 + i128::from(t.nanos)
}

fn v(kind: Kind) -> Value {
    Value { kind: Some(kind) }
}

fn sample_config() -> Struct {
    let mut inner = Struct::default();
    inner
        .fields
        .insert("pin".into(), v(Kind::NumberValue(12.0)));
    inner
        .fields
        .insert("ratio".into(), v(Kind::NumberValue(-0.125)));
    inner.fields.insert("on".into(), v(Kind::BoolValue(true)));
    inner.fields.insert("nothing".into(), v(Kind::NullValue(0)));
    let list = ListValue {
        values: vec![
            v(Kind::StringValue("a".into())),
            v(Kind::StructValue(inner.clone())),
            v(Kind::BoolValue(false)),
        ],
    };
    let mut s = Struct::default();
    s.fields
        .insert("components".into(), v(Kind::ListValue(list)));
    s.fields.insert("board".into(), v(Kind::StructValue(inner)));
    s
}

async fn get_part(app: &mut App, id: &str) -> GetRobotPartResponse {
    app.get_robot_part(GetRobotPartRequest { id: id.into() })
        .await
        .unwrap()
        .into_inner()
}

fn update(id: &str, name: &str) -> UpdateRobotPartRequest {
    UpdateRobotPartRequest {
        id: id.into(),
        name: name.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn configs_round_trip_exactly_and_stale_updates_are_rejected() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let (robot, part_id) = machine(&mut app, &s, "rover").await;
    let got = get_part(&mut app, &part_id).await;
    let part = got.part.unwrap();
    assert_eq!(
        (part.robot.as_str(), part.name.as_str(), part.main_part),
        (robot.as_str(), "rover-main", true)
    );
    assert_eq!(part.location_id, s.location_id());
    assert_eq!(
        part.fqdn,
        format!("rover-main.{}.local.fleetsh", s.location_id())
    );
    assert_eq!(part.online_state, OnlineState::AwaitingSetup as i32);
    assert_eq!(part.secrets.len(), 1);
    assert_eq!(part.secret, part.secrets[0].secret);
    assert_eq!(part.secrets[0].state, shared_secret::State::Enabled as i32);
    assert_eq!(got.config_json.trim(), "{}");

    let config = sample_config();
    let req = UpdateRobotPartRequest {
        robot_config: Some(config.clone()),
        last_known_update: part.last_updated,
        ..update(&part_id, "rover-main")
    };
    let updated = app
        .update_robot_part(req)
        .await
        .unwrap()
        .into_inner()
        .part
        .unwrap();
    assert_eq!(updated.robot_config.as_ref(), Some(&config));
    assert!(nanos(&updated.last_updated) > nanos(&part.last_updated));
    let got = get_part(&mut app, &part_id).await;
    assert_eq!(got.part.unwrap().robot_config, Some(config.clone()));
    let json: serde_json::Value = serde_json::from_str(&got.config_json).unwrap();
    assert_eq!(json["board"]["pin"], 12);
    assert_eq!(json["components"][1]["nothing"], serde_json::Value::Null);

    // The first read's last_updated is stale now.
    let stale = UpdateRobotPartRequest {
        last_known_update: part.last_updated,
        ..update(&part_id, "x")
    };
    assert_status(
        app.update_robot_part(stale).await,
        Code::FailedPrecondition,
        "stale",
    );

    // No config keeps it; a rename alone still bumps last_updated.
    let renamed = app
        .update_robot_part(update(&part_id, "renamed"))
        .await
        .unwrap()
        .into_inner()
        .part
        .unwrap();
    assert_eq!(
        (renamed.name.as_str(), renamed.robot_config.as_ref()),
        ("renamed", Some(&config))
    );
    assert!(nanos(&renamed.last_updated) > nanos(&updated.last_updated));

    let text = "{\"z\": 1, \"a\": [true, null]}";
    let req = UpdateRobotPartRequest {
        robot_config_json: Some(text.into()),
        ..update(&part_id, "renamed")
    };
    let part = app
        .update_robot_part(req)
        .await
        .unwrap()
        .into_inner()
        .part
        .unwrap();
    assert_eq!(part.robot_config_json.as_deref(), Some(text));
    assert_eq!(
        part.robot_config.unwrap().fields["z"],
        v(Kind::NumberValue(1.0))
    );
    assert_eq!(get_part(&mut app, &part_id).await.config_json, text);

    let bad = UpdateRobotPartRequest {
        robot_config_json: Some("{nope".into()),
        ..update(&part_id, "renamed")
    };
    assert_status(
        app.update_robot_part(bad).await,
        Code::InvalidArgument,
        "robot_config_json",
    );
    assert_status(
        app.update_robot_part(update(&part_id, " ")).await,
        Code::InvalidArgument,
        "name",
    );
    assert_status(
        app.update_robot_part(update("nope", "n")).await,
        Code::NotFound,
        "nope",
    );
    let future = Timestamp {
        seconds: 1,
        nanos: 0,
    };
    let req = UpdateRobotPartRequest {
        last_known_update: Some(future),
        ..update(&part_id, "renamed")
    };
    assert_status(
        app.update_robot_part(req).await,
        Code::FailedPrecondition,
        "stale",
    );
}

#[tokio::test]
async fn history_lists_the_part_before_each_edit_newest_first() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let (_, part_id) = machine(&mut app, &s, "rover").await;
    for name in ["one", "two", "three"] {
        app.update_robot_part(update(&part_id, name)).await.unwrap();
    }
    let history = |page_limit, page_token| GetRobotPartHistoryRequest {
        id: part_id.clone(),
        page_limit,
        page_token,
        ..Default::default()
    };
    let all = app
        .get_robot_part_history(history(None, None))
        .await
        .unwrap()
        .into_inner();
    let olds: Vec<String> = all
        .history
        .iter()
        .map(|h| h.old.as_ref().unwrap().name.clone())
        .collect();
    assert_eq!(olds, ["two", "one", "rover-main"]);
    assert_eq!(all.next_page_token, "");
    let first = &all.history[0];
    assert_eq!(first.part, part_id);
    let by = first.edited_by.as_ref().unwrap();
    assert_eq!(
        (by.r#type, by.value.as_str()),
        (
            AuthenticationType::ApiKey as i32,
            s.fleet.credentials.api_key_id.as_str()
        )
    );
    assert!(nanos(&first.when) > nanos(&all.history[1].when));
    assert!(
        first.old.as_ref().unwrap().secrets.is_empty(),
        "history never keeps secrets"
    );

    let page1 = app
        .get_robot_part_history(history(Some(2), None))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page1.history.len(), 2);
    assert_ne!(page1.next_page_token, "");
    let page2 = app
        .get_robot_part_history(history(Some(2), Some(page1.next_page_token)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page2.history.len(), 1);
    assert_eq!(page2.history[0].old.as_ref().unwrap().name, "rover-main");
    assert_eq!(page2.next_page_token, "");

    // `end` before the last edit leaves it out.
    let req = GetRobotPartHistoryRequest {
        end: all.history[1].when,
        ..history(None, None)
    };
    assert_eq!(
        app.get_robot_part_history(req)
            .await
            .unwrap()
            .into_inner()
            .history
            .len(),
        2
    );
    assert_status(
        app.get_robot_part_history(history(None, Some("x".into())))
            .await,
        Code::InvalidArgument,
        "page_token",
    );
    assert_status(
        app.get_robot_part_history(history(Some(-1), None)).await,
        Code::InvalidArgument,
        "page_limit",
    );
}

#[tokio::test]
async fn parts_are_added_made_main_and_deleted_by_the_rules() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let (robot, main_id) = machine(&mut app, &s, "rover").await;
    let new = |name: &str| NewRobotPartRequest {
        robot_id: robot.clone(),
        part_name: name.into(),
    };
    let arm = app
        .new_robot_part(new("arm"))
        .await
        .unwrap()
        .into_inner()
        .part_id;
    assert_status(
        app.new_robot_part(new("arm")).await,
        Code::AlreadyExists,
        "arm",
    );
    assert_status(
        app.new_robot_part(new("")).await,
        Code::InvalidArgument,
        "part_name",
    );
    assert_status(
        app.new_robot_part(NewRobotPartRequest {
            robot_id: "ghost".into(),
            part_name: "x".into(),
        })
        .await,
        Code::NotFound,
        "ghost",
    );
    assert!(!get_part(&mut app, &arm).await.part.unwrap().main_part);
    assert_status(
        app.update_robot_part(update(&arm, "rover-main")).await,
        Code::AlreadyExists,
        "rover-main",
    );

    assert_status(
        app.delete_robot_part(DeleteRobotPartRequest {
            part_id: main_id.clone(),
        })
        .await,
        Code::FailedPrecondition,
        "main part",
    );
    app.mark_part_as_main(MarkPartAsMainRequest {
        part_id: arm.clone(),
    })
    .await
    .unwrap();
    let parts = app
        .get_robot_parts(GetRobotPartsRequest {
            robot_id: robot.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .parts;
    let mains: Vec<&str> = parts
        .iter()
        .filter(|p| p.main_part)
        .map(|p| p.id.as_str())
        .collect();
    assert_eq!(mains, [arm.as_str()]);
    assert_status(
        app.mark_part_as_main(MarkPartAsMainRequest {
            part_id: "ghost".into(),
        })
        .await,
        Code::NotFound,
        "ghost",
    );

    app.delete_robot_part(DeleteRobotPartRequest {
        part_id: main_id.clone(),
    })
    .await
    .unwrap();
    assert_status(
        app.get_robot_part(GetRobotPartRequest {
            id: main_id.clone(),
        })
        .await,
        Code::NotFound,
        &main_id,
    );
    // The last part may go; the next new part is then the main one.
    app.delete_robot_part(DeleteRobotPartRequest { part_id: arm })
        .await
        .unwrap();
    let again = app
        .new_robot_part(new("again"))
        .await
        .unwrap()
        .into_inner()
        .part_id;
    assert!(get_part(&mut app, &again).await.part.unwrap().main_part);
    assert_status(
        app.get_robot_parts(GetRobotPartsRequest {
            robot_id: "ghost".into(),
        })
        .await,
        Code::NotFound,
        "ghost",
    );
}

#[tokio::test]
async fn operators_restart_but_neither_write_nor_see_secrets() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let (_, part_id) = machine(&mut app, &s, "rover").await;
    let mut op = operator(&s).await;
    let seen = get_part(&mut op, &part_id).await.part.unwrap();
    assert!(seen.secret.is_empty() && seen.secrets.is_empty());
    assert_status(
        op.update_robot_part(update(&part_id, "x")).await,
        Code::PermissionDenied,
        "write_robot",
    );
    assert_status(
        op.create_robot_part_secret(CreateRobotPartSecretRequest {
            part_id: part_id.clone(),
        })
        .await,
        Code::PermissionDenied,
        "write_robot",
    );
    op.mark_part_for_restart(MarkPartForRestartRequest {
        part_id: part_id.clone(),
    })
    .await
    .unwrap();
    let flagged: bool = s
        .fleet
        .api
        .store
        .read(|c| {
            Ok(c.query_row(
                "SELECT restart_requested FROM parts WHERE id = ?1",
                [&part_id],
                |r| r.get(0),
            )?)
        })
        .unwrap();
    assert!(flagged);
    assert_status(
        op.mark_part_for_restart(MarkPartForRestartRequest {
            part_id: "ghost".into(),
        })
        .await,
        Code::NotFound,
        "ghost",
    );
    assert_status(
        s.with_token(None)
            .get_robot_part(GetRobotPartRequest { id: part_id })
            .await,
        Code::Unauthenticated,
        "",
    );
}

#[tokio::test]
async fn part_secrets_are_created_and_deleted() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let (_, part_id) = machine(&mut app, &s, "rover").await;
    let part = app
        .create_robot_part_secret(CreateRobotPartSecretRequest {
            part_id: part_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .part
        .unwrap();
    assert_eq!(part.secrets.len(), 2);
    assert_ne!(part.secrets[0].secret, part.secrets[1].secret);
    let delete = |secret_id: &str| DeleteRobotPartSecretRequest {
        part_id: part_id.clone(),
        secret_id: secret_id.into(),
    };
    app.delete_robot_part_secret(delete(&part.secrets[0].id))
        .await
        .unwrap();
    let left = get_part(&mut app, &part_id).await.part.unwrap().secrets;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, part.secrets[1].id);
    assert_status(
        app.delete_robot_part_secret(delete(&part.secrets[0].id))
            .await,
        Code::NotFound,
        &part.secrets[0].id,
    );
    assert_status(
        app.delete_robot_part_secret(delete("")).await,
        Code::InvalidArgument,
        "secret_id",
    );
}
