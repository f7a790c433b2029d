//! OAuth applications: stored and returned per organization, the client secret shown once
//! (kept hashed), owners writing, members reading, other organizations seeing nothing.

use fleetsh::proto::viam::app::v1::*;
use fleetsh::server::store::hash_secret;
use tonic::Code;

use crate::harness::{App, TestServer, assert_status};
use crate::setup::{key_in, second_org};

fn config(redirect: &str) -> OAuthConfig {
    OAuthConfig {
        client_authentication: ClientAuthentication::Required as i32,
        pkce: Pkce::Required as i32,
        url_validation: UrlValidation::ExactMatch as i32,
        origin_uris: vec!["https://example.com".into()],
        redirect_uris: vec![redirect.into()],
        logout_uri: "https://example.com/logout".into(),
        enabled_grants: vec![
            EnabledGrant::AuthorizationCode as i32,
            EnabledGrant::RefreshToken as i32,
        ],
        invite_redirect_uri: String::new(),
    }
}

async fn create(app: &mut App, org: &str, name: &str) -> CreateOAuthAppResponse {
    let req = CreateOAuthAppRequest {
        org_id: org.into(),
        client_name: name.into(),
        oauth_config: Some(config("https://example.com/cb")),
    };
    app.create_o_auth_app(req).await.unwrap().into_inner()
}

async fn read(app: &mut App, org: &str, id: &str) -> Result<ReadOAuthAppResponse, tonic::Status> {
    let req = ReadOAuthAppRequest {
        org_id: org.into(),
        client_id: id.into(),
    };
    Ok(app.read_o_auth_app(req).await?.into_inner())
}

async fn list(app: &mut App, org: &str) -> Vec<String> {
    let req = ListOAuthAppsRequest { org_id: org.into() };
    app.list_o_auth_apps(req)
        .await
        .unwrap()
        .into_inner()
        .client_ids
}

#[tokio::test]
async fn an_app_round_trips_and_its_secret_is_shown_once_and_kept_hashed() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let org = s.org_id().to_string();
    let first = create(&mut app, &org, "portal").await;
    let second = create(&mut app, &org, "kiosk").await;
    assert_ne!(first.client_id, second.client_id);
    assert!(first.client_secret.len() >= 32, "{first:?}");
    assert_ne!(first.client_secret, second.client_secret);
    assert_eq!(
        list(&mut app, &org).await,
        [first.client_id.clone(), second.client_id.clone()]
    );

    let got = read(&mut app, &org, &first.client_id).await.unwrap();
    assert_eq!(got.client_name, "portal");
    assert_eq!(got.oauth_config, Some(config("https://example.com/cb")));
    assert_eq!(
        got.client_secret, "",
        "the secret is returned on create only"
    );
    let stored: String = s
        .fleet
        .api
        .store
        .read(|c| {
            Ok(c.query_row(
                "SELECT secret_sha256 FROM oauth_apps WHERE client_id = ?1",
                [&first.client_id],
                |r| r.get(0),
            )?)
        })
        .unwrap();
    assert_eq!(stored, hash_secret(&first.client_secret));

    let update = UpdateOAuthAppRequest {
        org_id: org.clone(),
        client_id: first.client_id.clone(),
        client_name: "portal v2".into(),
        oauth_config: Some(config("https://example.com/v2/cb")),
    };
    app.update_o_auth_app(update).await.unwrap();
    let got = read(&mut app, &org, &first.client_id).await.unwrap();
    assert_eq!(got.client_name, "portal v2");
    assert_eq!(got.oauth_config, Some(config("https://example.com/v2/cb")));

    let delete = DeleteOAuthAppRequest {
        org_id: org.clone(),
        client_id: first.client_id.clone(),
    };
    app.delete_o_auth_app(delete.clone()).await.unwrap();
    assert_status(
        read(&mut app, &org, &first.client_id).await,
        Code::NotFound,
        &first.client_id,
    );
    assert_eq!(list(&mut app, &org).await, [second.client_id]);
    assert_status(
        app.delete_o_auth_app(delete).await,
        Code::NotFound,
        "ListOAuthApps",
    );
}

#[tokio::test]
async fn an_incomplete_config_is_refused_naming_the_field() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let org = s.org_id().to_string();
    let with = |c: OAuthConfig| CreateOAuthAppRequest {
        org_id: org.clone(),
        client_name: "portal".into(),
        oauth_config: Some(c),
    };
    let cases = [
        (
            OAuthConfig {
                pkce: 0,
                ..config("https://example.com/cb")
            },
            "oauth_config.pkce",
        ),
        (
            OAuthConfig {
                enabled_grants: vec![],
                ..config("https://example.com/cb")
            },
            "oauth_config.enabled_grants",
        ),
        (config("example.com/cb"), "oauth_config.redirect_uris"),
        (
            config("https://*.example.com/cb"),
            "URL_VALIDATION_ALLOW_WILDCARDS",
        ),
    ];
    for (c, why) in cases {
        assert_status(
            app.create_o_auth_app(with(c)).await,
            Code::InvalidArgument,
            why,
        );
    }
    let wild = OAuthConfig {
        url_validation: UrlValidation::AllowWildcards as i32,
        ..config("https://*.example.com/cb")
    };
    app.create_o_auth_app(with(wild)).await.unwrap();
    let none = CreateOAuthAppRequest {
        oauth_config: None,
        ..with(config("https://example.com/cb"))
    };
    assert_status(
        app.create_o_auth_app(none).await,
        Code::InvalidArgument,
        "oauth_config",
    );
}

#[tokio::test]
async fn operators_read_owners_write_and_other_organizations_see_nothing() {
    let s = TestServer::start().await;
    let mut owner = s.owner().await;
    let org = s.org_id().to_string();
    let made = create(&mut owner, &org, "portal").await;
    let mut operator = key_in(&s, &org, "operator").await;
    assert_eq!(
        read(&mut operator, &org, &made.client_id)
            .await
            .unwrap()
            .client_name,
        "portal"
    );
    let req = CreateOAuthAppRequest {
        org_id: org.clone(),
        client_name: "x".into(),
        oauth_config: Some(config("https://example.com/cb")),
    };
    assert_status(
        operator.create_o_auth_app(req).await,
        Code::PermissionDenied,
        "",
    );

    let b = second_org(&mut owner).await;
    let mut b_owner = key_in(&s, &b, "owner").await;
    assert_status(
        read(&mut b_owner, &org, &made.client_id).await,
        Code::PermissionDenied,
        "",
    );
    // B's owner asking about A's app in B's name finds nothing either.
    assert_status(
        read(&mut b_owner, &b, &made.client_id).await,
        Code::NotFound,
        &made.client_id,
    );
    assert!(list(&mut b_owner, &b).await.is_empty());
}

#[tokio::test]
async fn a_deleted_organization_takes_its_apps_along() {
    let s = TestServer::start().await;
    let mut owner = s.owner().await;
    let b = second_org(&mut owner).await;
    create(&mut owner, &b, "portal").await;
    let req = DeleteOrganizationRequest {
        organization_id: b.clone(),
    };
    owner.delete_organization(req).await.unwrap();
    let left: i64 = s
        .fleet
        .api
        .store
        .read(|c| {
            Ok(c.query_row(
                "SELECT count(*) FROM oauth_apps WHERE org_id = ?1",
                [&b],
                |r| r.get(0),
            )?)
        })
        .unwrap();
    assert_eq!(left, 0);
}

fn dashboard() -> fleetsh::proto::viam::app::v1::App {
    fleetsh::proto::viam::app::v1::App {
        name: "dashboard".into(),
        r#type: "single_machine".into(),
        entrypoint: "dist/index.html".into(),
        fragment_ids: vec!["frag-1".into()],
        logo_path: Some("static/logo.png".into()),
        customizations: Some(AppCustomizations {
            machine_picker: Some(MachinePickerCustomizations {
                heading: Some("Pick one".into()),
                subheading: None,
            }),
        }),
        allowed_org_ids: None,
    }
}

async fn declare(app: &mut App, module_id: &str, visibility: Visibility) {
    let req = UpdateModuleRequest {
        module_id: module_id.into(),
        visibility: visibility as i32,
        url: "https://example.com".into(),
        description: "d".into(),
        entrypoint: "run.sh".into(),
        apps: vec![dashboard()],
        ..Default::default()
    };
    app.update_module(req).await.unwrap();
}

#[tokio::test]
async fn a_module_app_gives_its_branding_and_its_uploaded_files() {
    let s = TestServer::start().await;
    let mut owner = s.owner().await;
    let org = s.org_id().to_string();
    let req = CreateModuleRequest {
        organization_id: org.clone(),
        name: "viewer".into(),
    };
    let module_id = owner
        .create_module(req)
        .await
        .unwrap()
        .into_inner()
        .module_id;
    declare(&mut owner, &module_id, Visibility::Private).await;
    let ask = || GetAppBrandingRequest {
        public_namespace: org.clone(),
        name: "dashboard".into(),
    };
    let b = owner.get_app_branding(ask()).await.unwrap().into_inner();
    assert_eq!(b.logo_path.as_deref(), Some("static/logo.png"));
    assert_eq!(b.fragment_ids, ["frag-1"]);
    assert_eq!(
        b.text_customizations["machine_picker"].fields["heading"],
        "Pick one"
    );
    let content = || GetAppContentRequest {
        public_namespace: org.clone(),
        name: "dashboard".into(),
    };
    assert_status(
        owner.get_app_content(content()).await,
        Code::NotFound,
        "UploadModuleFile",
    );
    s.fleet
        .api
        .store
        .tx(|tx| {
            tx.execute(
                "INSERT INTO module_files(module_id, version, platform, path, size, sha256, uploaded_at)
                 VALUES (?1, '1.0.0', 'any', 'modules/viewer/1.0.0.tar.gz', 1, '', 1)",
                [&module_id],
            )?;
            Ok(())
        })
        .unwrap();
    let c = owner.get_app_content(content()).await.unwrap().into_inner();
    assert_eq!(
        (
            c.blob_path.as_str(),
            c.entrypoint.as_str(),
            c.app_type,
            c.public
        ),
        (
            "modules/viewer/1.0.0.tar.gz",
            "dist/index.html",
            AppType::SingleMachine as i32,
            false
        )
    );
    let missing = GetAppBrandingRequest {
        name: "nothing".into(),
        ..ask()
    };
    assert_status(
        owner.get_app_branding(missing).await,
        Code::NotFound,
        "nothing",
    );

    let b_org = second_org(&mut owner).await;
    let mut stranger = key_in(&s, &b_org, "owner").await;
    assert_status(
        stranger.get_app_branding(ask()).await,
        Code::PermissionDenied,
        "private",
    );
    declare(&mut owner, &module_id, Visibility::Public).await;
    stranger.get_app_branding(ask()).await.unwrap();
    assert!(
        stranger
            .get_app_content(content())
            .await
            .unwrap()
            .into_inner()
            .public
    );
}
