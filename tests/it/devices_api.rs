//! Firebase config and device push tokens: stored and returned per organization (nothing is
//! sent to Firebase); the config JSON is not kept, only its digest.

use fleetsh::proto::viam::app::v1::*;
use tonic::Code;

use crate::harness::{App, TestServer, assert_status};
use crate::setup::{key_in, second_org};

const CONFIG: &str =
    r#"{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----secret"}"#;

async fn set(app: &mut App, org: &str, app_id: &str) -> Result<(), tonic::Status> {
    let req = SetFirebaseConfigRequest {
        org_id: org.into(),
        app_id: app_id.into(),
        config_json: CONFIG.into(),
    };
    app.set_firebase_config(req).await.map(|_| ())
}

async fn tokens(app: &mut App, app_id: &str) -> Result<Vec<String>, tonic::Status> {
    let req = GetDevicePushTokensRequest {
        app_id: app_id.into(),
    };
    Ok(app
        .get_device_push_tokens(req)
        .await?
        .into_inner()
        .device_tokens)
}

async fn upload(
    app: &mut App,
    app_id: &str,
    device: &str,
    token: &str,
) -> Result<(), tonic::Status> {
    let req = UploadDevicePushTokenRequest {
        app_id: app_id.into(),
        device_token: token.into(),
        device_uuid: device.into(),
    };
    app.upload_device_push_token(req).await.map(|_| ())
}

#[tokio::test]
async fn firebase_config_and_device_tokens_round_trip() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let org = s.org_id().to_string();
    let get = |org: &str| GetFirebaseConfigRequest { org_id: org.into() };
    assert_status(
        app.get_firebase_config(get(&org)).await,
        Code::NotFound,
        "SetFirebaseConfig",
    );
    assert_status(
        upload(&mut app, "app-1", "d1", "t1").await,
        Code::NotFound,
        "app-1",
    );
    let bad = SetFirebaseConfigRequest {
        org_id: org.clone(),
        app_id: "app-1".into(),
        config_json: "not json".into(),
    };
    assert_status(
        app.set_firebase_config(bad).await,
        Code::InvalidArgument,
        "config_json",
    );

    set(&mut app, &org, "app-1").await.unwrap();
    assert_eq!(
        app.get_firebase_config(get(&org))
            .await
            .unwrap()
            .into_inner()
            .app_id,
        "app-1"
    );
    // The service account's key is not kept: only a digest is stored.
    let kept: String = s
        .fleet
        .api
        .store
        .read(|c| Ok(c.query_row("SELECT config_sha256 FROM firebase_apps", [], |r| r.get(0))?))
        .unwrap();
    assert!(!kept.contains("secret") && kept.len() == 64, "{kept}");

    // A device's new token replaces its old one; an operator's phone may register.
    upload(&mut app, "app-1", "d1", "t1").await.unwrap();
    upload(&mut app, "app-1", "d1", "t1b").await.unwrap();
    let mut operator = key_in(&s, &org, "operator").await;
    upload(&mut operator, "app-1", "d2", "t2").await.unwrap();
    assert_eq!(tokens(&mut app, "app-1").await.unwrap(), ["t1b", "t2"]);
    assert_status(
        tokens(&mut operator, "app-1").await,
        Code::PermissionDenied,
        &org,
    );
    let del = DeleteDevicePushTokenRequest {
        app_id: "app-1".into(),
        device_uuid: "d1".into(),
    };
    app.delete_device_push_token(del.clone()).await.unwrap();
    assert_eq!(tokens(&mut app, "app-1").await.unwrap(), ["t2"]);
    assert_status(
        app.delete_device_push_token(del).await,
        Code::NotFound,
        "d1",
    );

    // Another organization may not take the app id, nor see its tokens.
    let b = second_org(&mut app).await;
    let mut other = key_in(&s, &b, "owner").await;
    assert_status(
        set(&mut other, &b, "app-1").await,
        Code::AlreadyExists,
        "app-1",
    );
    assert_status(
        tokens(&mut other, "app-1").await,
        Code::PermissionDenied,
        &org,
    );

    // Deleting the config takes its devices' tokens with it.
    let wrong = DeleteFirebaseConfigRequest {
        org_id: org.clone(),
        app_id: "app-2".into(),
    };
    assert_status(
        app.delete_firebase_config(wrong).await,
        Code::NotFound,
        "app-2",
    );
    let del = DeleteFirebaseConfigRequest {
        org_id: org.clone(),
        app_id: "app-1".into(),
    };
    app.delete_firebase_config(del).await.unwrap();
    assert_status(
        app.get_firebase_config(get(&org)).await,
        Code::NotFound,
        &org,
    );
    set(&mut app, &org, "app-1").await.unwrap();
    assert!(tokens(&mut app, "app-1").await.unwrap().is_empty());
}
