//! CreateOAuthAppUser: a user signed up through an OAuth app, its password kept as an argon2
//! hash, and tokens that really authenticate as that user (its grants, nothing more).

use fleetsh::proto::rpc::v1::auth_service_client::AuthServiceClient;
use fleetsh::proto::rpc::v1::{AuthenticateRequest, Credentials};
use fleetsh::proto::viam::app::v1::*;
use tonic::Code;

use crate::harness::{App, TestServer, assert_status};
use crate::parts::operator;

async fn new_app(app: &mut App, org: &str) -> String {
    let config = OAuthConfig {
        client_authentication: ClientAuthentication::Required as i32,
        pkce: Pkce::Required as i32,
        url_validation: UrlValidation::ExactMatch as i32,
        redirect_uris: vec!["https://example.com/cb".into()],
        enabled_grants: vec![EnabledGrant::AuthorizationCode as i32],
        ..Default::default()
    };
    app.create_o_auth_app(CreateOAuthAppRequest {
        org_id: org.into(),
        client_name: "portal".into(),
        oauth_config: Some(config),
    })
    .await
    .unwrap()
    .into_inner()
    .client_id
}

fn sign_up(org: &str, app_id: &str, email: &str, password: &str) -> CreateOAuthAppUserRequest {
    CreateOAuthAppUserRequest {
        org_id: org.into(),
        application_id: app_id.into(),
        email: email.into(),
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        password: password.into(),
    }
}

async fn get_org(client: &mut App, org: &str) -> Result<Organization, tonic::Status> {
    let req = GetOrganizationRequest {
        organization_id: org.into(),
    };
    Ok(client
        .get_organization(req)
        .await?
        .into_inner()
        .organization
        .unwrap())
}

#[tokio::test]
async fn a_signed_up_user_authenticates_as_itself_with_its_grants_only() {
    let s = TestServer::start().await;
    let mut owner = s.owner().await;
    let org = s.org_id().to_string();
    let app_id = new_app(&mut owner, &org).await;
    let made = owner
        .create_o_auth_app_user(sign_up(
            &org,
            &app_id,
            "Ada@Example.com",
            "correct horse battery",
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(
        !made.user_id.is_empty() && !made.registration_id.is_empty(),
        "{made:?}"
    );

    // The token is the user's: a user with no grants sees no organization and may not read one.
    let mut user = s.with_token(Some(&made.auth_token));
    let orgs = user
        .list_organizations(ListOrganizationsRequest {})
        .await
        .expect("the user's token authenticates")
        .into_inner()
        .organizations;
    assert!(orgs.is_empty(), "a new user holds no grants: {orgs:?}");
    assert_status(get_org(&mut user, &org).await, Code::PermissionDenied, "");
    // Granted a role, the same token reads the organization: it is that user's.
    owner
        .add_role(AddRoleRequest {
            authorization: Some(Authorization {
                authorization_type: "role".into(),
                authorization_id: "organization_operator".into(),
                resource_type: "organization".into(),
                resource_id: org.clone(),
                identity_id: made.user_id.clone(),
                identity_type: "user".into(),
                organization_id: org.clone(),
            }),
        })
        .await
        .unwrap();
    assert_eq!(get_org(&mut user, &org).await.unwrap().id, org);
    // An operator still may not sign users up.
    assert_status(
        user.create_o_auth_app_user(sign_up(
            &org,
            &app_id,
            "eve@example.com",
            "correct horse battery",
        ))
        .await,
        Code::PermissionDenied,
        "",
    );

    // The refresh token is no bearer token, but Authenticate exchanges it for one.
    let mut refresh = s.with_token(Some(&made.refresh_token));
    assert_status(
        refresh
            .list_organizations(ListOrganizationsRequest {})
            .await,
        Code::Unauthenticated,
        "credential type",
    );
    let exchange = |entity: &str, payload: &str| AuthenticateRequest {
        entity: entity.into(),
        credentials: Some(Credentials {
            r#type: "refresh-token".into(),
            payload: payload.into(),
        }),
    };
    let mut auth = AuthServiceClient::new(s.channel.clone());
    let fresh = auth
        .authenticate(exchange(&made.user_id, &made.refresh_token))
        .await
        .unwrap()
        .into_inner()
        .access_token;
    assert_eq!(
        get_org(&mut s.with_token(Some(&fresh)), &org)
            .await
            .unwrap()
            .id,
        org
    );
    // Neither an access token nor another user's refresh token is a refresh token.
    for (entity, payload) in [
        (&made.user_id, &made.auth_token),
        (&"someone".to_string(), &made.refresh_token),
    ] {
        assert_status(
            auth.authenticate(exchange(entity, payload)).await,
            Code::Unauthenticated,
            "invalid credentials",
        );
    }

    // The password is kept only as a salted argon2 hash.
    let hash: String = s
        .fleet
        .api
        .store
        .read(|c| {
            Ok(c.query_row(
                "SELECT password_hash FROM oauth_app_users WHERE user_id = ?1",
                [&made.user_id],
                |r| r.get(0),
            )?)
        })
        .unwrap();
    assert!(
        hash.starts_with("$argon2id$") && !hash.contains("correct horse"),
        "{hash}"
    );
}

#[tokio::test]
async fn sign_ups_are_refused_for_taken_emails_weak_passwords_and_non_owners() {
    let s = TestServer::start().await;
    let mut owner = s.owner().await;
    let org = s.org_id().to_string();
    let app_id = new_app(&mut owner, &org).await;
    let other_app = new_app(&mut owner, &org).await;
    owner
        .create_o_auth_app_user(sign_up(
            &org,
            &app_id,
            "ada@example.com",
            "correct horse battery",
        ))
        .await
        .unwrap();
    assert_status(
        owner
            .create_o_auth_app_user(sign_up(
                &org,
                &app_id,
                "ADA@example.com",
                "another password",
            ))
            .await,
        Code::AlreadyExists,
        "already signed up through this app",
    );
    // The email names a user already: no token for someone else's account through another app.
    assert_status(
        owner
            .create_o_auth_app_user(sign_up(
                &org,
                &other_app,
                "ada@example.com",
                "another password",
            ))
            .await,
        Code::AlreadyExists,
        "already exists",
    );
    for weak in ["", "short"] {
        assert_status(
            owner
                .create_o_auth_app_user(sign_up(&org, &app_id, "bob@example.com", weak))
                .await,
            Code::InvalidArgument,
            "password",
        );
    }
    assert_status(
        owner
            .create_o_auth_app_user(sign_up(
                &org,
                &app_id,
                "not-an-email",
                "correct horse battery",
            ))
            .await,
        Code::InvalidArgument,
        "email",
    );
    assert_status(
        owner
            .create_o_auth_app_user(sign_up(
                &org,
                "no-such-app",
                "bob@example.com",
                "correct horse battery",
            ))
            .await,
        Code::NotFound,
        "no-such-app",
    );
    let mut op = operator(&s).await;
    assert_status(
        op.create_o_auth_app_user(sign_up(
            &org,
            &app_id,
            "bob@example.com",
            "correct horse battery",
        ))
        .await,
        Code::PermissionDenied,
        "",
    );
}
