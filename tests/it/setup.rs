//! Setup shared by the service tests (`*_api.rs`): the owner's token, tokens of keys made for
//! an organization and role, and a second organization with an owner key of its own, the
//! one that must neither read nor change the first's resources.

use fleetsh::proto::viam::app::v1::{Authorization, CreateKeyRequest, CreateOrganizationRequest};
use fleetsh::server::store::{hash_secret, new_id, new_secret, now};

use crate::harness::{App, Bearer, TestServer};

/// The `authorization` value of a service client's interceptor.
pub fn bearer(token: &str) -> Bearer {
    Bearer(Some(format!("Bearer {token}").parse().unwrap()))
}

/// A token for the key `key_id`/`key`, exchanged on `channel` (for fleets a test reaches by its
/// own channel: TLS, another address).
pub async fn token_on(channel: &tonic::transport::Channel, key_id: &str, key: &str) -> String {
    use fleetsh::proto::rpc::v1::{AuthenticateRequest, Credentials};
    fleetsh::proto::rpc::v1::auth_service_client::AuthServiceClient::new(channel.clone())
        .authenticate(AuthenticateRequest {
            entity: key_id.into(),
            credentials: Some(Credentials {
                r#type: "api-key".into(),
                payload: key.into(),
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .access_token
}

/// A token of the owner key created at the fleet's first start.
pub async fn owner_token(s: &TestServer) -> String {
    let c = &s.fleet.credentials;
    s.token(&c.api_key_id, &c.api_key).await.unwrap()
}

/// A new key (id, secret) holding `role` on the whole organization `org`, written straight
/// into the store so that a test of one area does not lean on another area's CreateKey.
pub fn org_key(s: &TestServer, org: &str, role: &str) -> (String, String) {
    let (id, key) = (new_id(), new_secret(32));
    s.fleet
        .api
        .store
        .tx(|tx| {
            tx.execute(
                "INSERT INTO api_keys(id, org_id, name, key_hash, created_on) VALUES (?1, ?2, 'test', ?3, ?4)",
                rusqlite::params![id, org, hash_secret(&key), now()],
            )?;
            tx.execute(
                "INSERT INTO authorizations(org_id, identity_id, identity_type, role, resource_type, resource_id)
                 VALUES (?1, ?2, 'api-key', ?3, 'organization', ?1)",
                rusqlite::params![org, id, role],
            )?;
            Ok(())
        })
        .unwrap();
    (id, key)
}

/// A token of a new key holding `role` on the whole organization `org`.
pub async fn org_token(s: &TestServer, org: &str, role: &str) -> String {
    let (id, key) = org_key(s, org, role);
    s.token(&id, &key).await.unwrap()
}

/// An app client whose key holds only `role` on `org`.
pub async fn key_in(s: &TestServer, org: &str, role: &str) -> App {
    let (id, key) = org_key(s, org, role);
    s.client_for(&id, &key).await
}

/// A second organization "B", made by `app`'s key; its id.
pub async fn second_org(app: &mut App) -> String {
    let req = CreateOrganizationRequest { name: "B".into() };
    app.create_organization(req)
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap()
        .id
}

/// A second organization "B", made by the fleet's owner, and a token of an owner key of B's
/// own (which holds nothing in the fleet's first organization).
pub async fn other_org(s: &TestServer) -> (String, String) {
    let b = second_org(&mut s.owner().await).await;
    let token = org_token(s, &b, "owner").await;
    (b, token)
}

/// An API key's role grant on one resource (`resource_type` organization, location or robot).
pub fn key_grant(org: &str, resource_type: &str, resource_id: &str, role: &str) -> Authorization {
    Authorization {
        authorization_type: "role".into(),
        authorization_id: format!("{resource_type}_{role}"),
        resource_type: resource_type.into(),
        resource_id: resource_id.into(),
        organization_id: org.into(),
        identity_type: "api-key".into(),
        ..Default::default()
    }
}

/// A token of a key made through CreateKey (by `app`'s key) holding `grant`.
pub async fn token_with(app: &mut App, s: &TestServer, grant: Authorization) -> String {
    let key = app
        .create_key(CreateKeyRequest {
            authorizations: vec![grant],
            name: "k".into(),
        })
        .await
        .unwrap()
        .into_inner();
    s.token(&key.id, &key.key).await.unwrap()
}
