use fleetsh::proto::viam::app::v1::*;
use tonic::Code;

use crate::harness::{App, TestServer, assert_status};

/// An authorization as the Python SDK's CreateKey builds it.
pub fn grant(org: &str, role: &str, resource_type: &str, resource_id: &str) -> Authorization {
    Authorization {
        authorization_type: "role".into(),
        authorization_id: format!("{resource_type}_{role}"),
        resource_type: resource_type.into(),
        resource_id: resource_id.into(),
        identity_id: String::new(),
        organization_id: org.into(),
        identity_type: "api-key".into(),
    }
}

/// Creates a key holding `grants`; returns (id, key).
pub async fn create_key(app: &mut App, grants: Vec<Authorization>) -> (String, String) {
    let r = app
        .create_key(CreateKeyRequest {
            authorizations: grants,
            name: "test".into(),
        })
        .await
        .unwrap()
        .into_inner();
    (r.id, r.key)
}

pub async fn new_location(app: &mut App, org: &str, name: &str) -> String {
    let req = CreateLocationRequest {
        organization_id: org.into(),
        name: name.into(),
        parent_location_id: None,
    };
    app.create_location(req)
        .await
        .unwrap()
        .into_inner()
        .location
        .unwrap()
        .id
}

pub async fn new_robot(app: &mut App, location: &str, name: &str) -> String {
    app.new_robot(NewRobotRequest {
        name: name.into(),
        location: location.into(),
    })
    .await
    .unwrap()
    .into_inner()
    .id
}

pub async fn new_org(app: &mut App, name: &str) -> String {
    app.create_organization(CreateOrganizationRequest { name: name.into() })
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap()
        .id
}

async fn list_keys(app: &mut App, org: &str) -> Vec<ApiKeyWithAuthorizations> {
    app.list_keys(ListKeysRequest { org_id: org.into() })
        .await
        .unwrap()
        .into_inner()
        .api_keys
}

#[tokio::test]
async fn a_location_scoped_key_sees_only_its_location() {
    let s = TestServer::start().await;
    let mut owner = s.owner().await;
    let org = s.org_id().to_string();
    let there = new_location(&mut owner, &org, "There").await;
    let elsewhere = new_robot(&mut owner, s.location_id(), "elsewhere").await;
    let (id, key) = create_key(&mut owner, vec![grant(&org, "owner", "location", &there)]).await;

    let mut scoped = s.client_for(&id, &key).await;
    let locs = scoped
        .list_locations(ListLocationsRequest {
            organization_id: org.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .locations;
    assert_eq!(
        locs.iter().map(|l| l.id.as_str()).collect::<Vec<_>>(),
        [there.as_str()]
    );
    assert_status(
        scoped.get_robot(GetRobotRequest { id: elsewhere }).await,
        Code::PermissionDenied,
        "read_robot",
    );
    let mine = new_robot(&mut scoped, &there, "mine").await;
    scoped
        .get_robot(GetRobotRequest { id: mine })
        .await
        .unwrap();
}

#[tokio::test]
async fn an_operator_key_reads_but_cannot_write_or_manage_access() {
    let s = TestServer::start().await;
    let mut owner = s.owner().await;
    let org = s.org_id().to_string();
    let robot = new_robot(&mut owner, s.location_id(), "r").await;
    let (id, key) = create_key(
        &mut owner,
        vec![grant(&org, "operator", "organization", &org)],
    )
    .await;
    let mut op = s.client_for(&id, &key).await;

    op.get_robot(GetRobotRequest { id: robot.clone() })
        .await
        .unwrap();
    op.list_locations(ListLocationsRequest {
        organization_id: org.clone(),
    })
    .await
    .unwrap();
    assert_status(
        op.delete_robot(DeleteRobotRequest { id: robot }).await,
        Code::PermissionDenied,
        "write",
    );
    let req = CreateKeyRequest {
        authorizations: vec![grant(&org, "owner", "organization", &org)],
        name: "x".into(),
    };
    assert_status(
        op.create_key(req).await,
        Code::PermissionDenied,
        "write_organization",
    );
    let mut a = grant(&org, "owner", "organization", &org);
    a.identity_id = id.clone();
    assert_status(
        op.add_role(AddRoleRequest {
            authorization: Some(a),
        })
        .await,
        Code::PermissionDenied,
        "write_organization",
    );
    assert_status(
        op.list_keys(ListKeysRequest { org_id: org }).await,
        Code::PermissionDenied,
        "write_organization",
    );
}

#[tokio::test]
async fn create_key_validates_its_input() {
    let s = TestServer::start().await;
    let mut owner = s.owner().await;
    let org = s.org_id().to_string();
    let req = |authorizations: Vec<Authorization>| CreateKeyRequest {
        authorizations,
        name: String::new(),
    };
    assert_status(
        owner.create_key(req(vec![])).await,
        Code::InvalidArgument,
        "authorizations",
    );
    let other = new_org(&mut owner, "B").await;
    assert_status(
        owner
            .create_key(req(vec![
                grant(&org, "owner", "organization", &org),
                grant(&other, "owner", "organization", &other),
            ]))
            .await,
        Code::InvalidArgument,
        "one organization",
    );
    assert_status(
        owner
            .create_key(req(vec![grant(&org, "king", "organization", &org)]))
            .await,
        Code::InvalidArgument,
        "authorization_id",
    );
    assert_status(
        owner
            .create_key(req(vec![grant(&org, "owner", "robot", "nope")]))
            .await,
        Code::NotFound,
        "nope",
    );
    assert_status(
        owner
            .create_key(req(vec![grant("nope", "owner", "organization", "nope")]))
            .await,
        Code::NotFound,
        "organization",
    );
    // A location of organization B cannot be granted through organization A.
    let b_loc = new_location(&mut owner, &other, "B loc").await;
    assert_status(
        owner
            .create_key(req(vec![grant(&org, "owner", "location", &b_loc)]))
            .await,
        Code::NotFound,
        "resource_id",
    );

    // An unnamed key is named after the time.
    owner
        .create_key(req(vec![grant(&org, "operator", "organization", &org)]))
        .await
        .unwrap();
    let keys = list_keys(&mut owner, &org).await;
    assert_eq!(keys.len(), 2, "the owner key and the new one");
    assert!(!keys[1].api_key.as_ref().unwrap().name.is_empty());
}

#[tokio::test]
async fn list_keys_shows_authorizations_but_never_the_key() {
    let s = TestServer::start().await;
    let mut owner = s.owner().await;
    let org = s.org_id().to_string();
    let (id, key) = create_key(
        &mut owner,
        vec![grant(&org, "operator", "location", s.location_id())],
    )
    .await;
    let keys = list_keys(&mut owner, &org).await;
    let k = keys
        .iter()
        .find(|k| k.api_key.as_ref().unwrap().id == id)
        .unwrap();
    let api_key = k.api_key.as_ref().unwrap();
    assert_eq!((api_key.name.as_str(), api_key.key.as_str()), ("test", ""));
    assert!(api_key.created_on.is_some());
    assert_eq!(k.authorizations.len(), 1);
    let a = &k.authorizations[0];
    assert_eq!(
        (
            a.authorization_type.as_str(),
            a.authorization_id.as_str(),
            a.resource_type.as_str()
        ),
        ("role", "location_operator", "location")
    );
    assert_eq!(
        (a.resource_id.as_str(), a.org_id.as_str()),
        (s.location_id(), org.as_str())
    );
    assert!(!format!("{keys:?}").contains(&key));
    assert_status(
        owner
            .list_keys(ListKeysRequest {
                org_id: "nope".into(),
            })
            .await,
        Code::NotFound,
        "nope",
    );
}

#[tokio::test]
async fn the_database_never_holds_the_key_text() {
    let s = TestServer::start().await;
    let mut owner = s.owner().await;
    let org = s.org_id().to_string();
    let (_, key) = create_key(&mut owner, vec![grant(&org, "owner", "organization", &org)]).await;
    let mut bytes = std::fs::read(s.dir.path().join("fleet.db")).unwrap();
    bytes.extend(std::fs::read(s.dir.path().join("fleet.db-wal")).unwrap_or_default());
    let hash_hex = fleetsh::server::store::hash_secret(&key);
    assert!(
        bytes
            .windows(hash_hex.len())
            .any(|w| w == hash_hex.as_bytes()),
        "the hash is stored (the search works)"
    );
    assert!(
        !bytes.windows(key.len()).any(|w| w == key.as_bytes()),
        "the key text is in the database"
    );
    let owner_key = &s.fleet.credentials.api_key;
    assert!(
        !bytes
            .windows(owner_key.len())
            .any(|w| w == owner_key.as_bytes())
    );
}

#[tokio::test]
async fn rotate_key_replaces_the_key_and_keeps_name_and_grants() {
    let s = TestServer::start().await;
    let mut owner = s.owner().await;
    let org = s.org_id().to_string();
    let (old_id, old_key) = create_key(
        &mut owner,
        vec![grant(&org, "operator", "location", s.location_id())],
    )
    .await;
    let before = list_keys(&mut owner, &org).await;
    let r = owner
        .rotate_key(RotateKeyRequest { id: old_id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_ne!(
        (r.id.as_str(), r.key.as_str()),
        (old_id.as_str(), old_key.as_str())
    );
    assert_status(
        s.token(&old_id, &old_key).await,
        Code::Unauthenticated,
        "invalid credentials",
    );
    s.token(&r.id, &r.key).await.unwrap();

    let after = list_keys(&mut owner, &org).await;
    let old = before
        .iter()
        .find(|k| k.api_key.as_ref().unwrap().id == old_id)
        .unwrap();
    let new = after
        .iter()
        .find(|k| k.api_key.as_ref().unwrap().id == r.id)
        .unwrap();
    assert_eq!(
        new.api_key.as_ref().unwrap().name,
        old.api_key.as_ref().unwrap().name
    );
    assert_eq!(new.authorizations, old.authorizations);
    assert!(
        after
            .iter()
            .all(|k| k.api_key.as_ref().unwrap().id != old_id)
    );
    assert_status(
        owner
            .rotate_key(RotateKeyRequest { id: old_id.clone() })
            .await,
        Code::NotFound,
        &old_id,
    );
    assert_status(
        owner
            .rotate_key(RotateKeyRequest { id: String::new() })
            .await,
        Code::InvalidArgument,
        "id",
    );
}

#[tokio::test]
async fn create_key_from_existing_keeps_the_old_key() {
    let s = TestServer::start().await;
    let mut owner = s.owner().await;
    let org = s.org_id().to_string();
    let (old_id, old_key) = create_key(
        &mut owner,
        vec![grant(&org, "operator", "organization", &org)],
    )
    .await;
    let r = owner
        .create_key_from_existing_key_authorizations(
            CreateKeyFromExistingKeyAuthorizationsRequest { id: old_id.clone() },
        )
        .await
        .unwrap()
        .into_inner();
    s.token(&old_id, &old_key).await.unwrap();
    let mut copy = s.client_for(&r.id, &r.key).await;
    copy.list_authorizations(ListAuthorizationsRequest {
        organization_id: org.clone(),
        resource_ids: vec![],
    })
    .await
    .unwrap();
    let keys = list_keys(&mut owner, &org).await;
    let grants_of = |id: &str| {
        keys.iter()
            .find(|k| k.api_key.as_ref().unwrap().id == id)
            .unwrap()
            .authorizations
            .clone()
    };
    assert_eq!(grants_of(&r.id), grants_of(&old_id));
    assert_status(
        owner
            .create_key_from_existing_key_authorizations(
                CreateKeyFromExistingKeyAuthorizationsRequest { id: "nope".into() },
            )
            .await,
        Code::NotFound,
        "API key",
    );
}

#[tokio::test]
async fn copying_a_key_needs_ownership_of_every_organization_it_reaches() {
    let s = TestServer::start().await;
    let mut owner = s.owner().await;
    let org = s.org_id().to_string();
    // The first owner key becomes owner of B too; a key owning only A must not clone it.
    new_org(&mut owner, "B").await;
    let (id, key) = create_key(&mut owner, vec![grant(&org, "owner", "organization", &org)]).await;
    let mut a_only = s.client_for(&id, &key).await;
    let first = s.fleet.credentials.api_key_id.clone();
    assert_status(
        a_only
            .rotate_key(RotateKeyRequest { id: first.clone() })
            .await,
        Code::PermissionDenied,
        "organization",
    );
    assert_status(
        a_only
            .create_key_from_existing_key_authorizations(
                CreateKeyFromExistingKeyAuthorizationsRequest { id: first },
            )
            .await,
        Code::PermissionDenied,
        "organization",
    );
}

#[tokio::test]
async fn a_deleted_keys_fresh_token_stops_working() {
    let s = TestServer::start().await;
    let mut owner = s.owner().await;
    let org = s.org_id().to_string();
    let (id, key) = create_key(&mut owner, vec![grant(&org, "owner", "organization", &org)]).await;
    let mut doomed = s.client_for(&id, &key).await;
    doomed
        .list_keys(ListKeysRequest {
            org_id: org.clone(),
        })
        .await
        .unwrap();
    owner
        .delete_key(DeleteKeyRequest { id: id.clone() })
        .await
        .unwrap();
    assert_status(
        doomed
            .list_keys(ListKeysRequest {
                org_id: org.clone(),
            })
            .await,
        Code::Unauthenticated,
        "deleted",
    );
    assert_status(
        s.token(&id, &key).await,
        Code::Unauthenticated,
        "invalid credentials",
    );
    assert_status(
        owner.delete_key(DeleteKeyRequest { id: id.clone() }).await,
        Code::NotFound,
        &id,
    );
    let grants = owner
        .list_authorizations(ListAuthorizationsRequest {
            organization_id: org,
            resource_ids: vec![],
        })
        .await
        .unwrap()
        .into_inner()
        .authorizations;
    assert!(
        grants.iter().all(|g| g.identity_id != id),
        "its grants went with it"
    );
}

#[tokio::test]
async fn the_last_owner_of_an_organization_cannot_be_deleted() {
    let s = TestServer::start().await;
    let mut owner = s.owner().await;
    let b = new_org(&mut owner, "B").await;
    // In B the first key is the only owner, so deleting it would orphan B.
    let first = s.fleet.credentials.api_key_id.clone();
    assert_status(
        owner
            .delete_key(DeleteKeyRequest { id: first.clone() })
            .await,
        Code::FailedPrecondition,
        "owner",
    );
    let (id, key) = create_key(&mut owner, vec![grant(&b, "owner", "organization", &b)]).await;
    owner
        .delete_key(DeleteKeyRequest { id: first })
        .await
        .unwrap();
    s.token(&id, &key).await.unwrap();
}
