use fleetsh::proto::viam::app::v1::*;
use tonic::Code;

use crate::harness::{App, TestServer, assert_status};

async fn create(app: &mut App, org: &str, name: &str, parent: Option<&str>) -> Location {
    app.create_location(CreateLocationRequest {
        organization_id: org.into(),
        name: name.into(),
        parent_location_id: parent.map(Into::into),
    })
    .await
    .unwrap()
    .into_inner()
    .location
    .unwrap()
}

#[tokio::test]
async fn nested_locations_move_rename_and_refuse_cycles() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let org = s.org_id();
    let a = create(&mut app, org, "A", None).await;
    let b = create(&mut app, org, "B", Some(&a.id)).await;
    assert_eq!(b.parent_location_id, a.id);
    assert_eq!(b.auth.as_ref().unwrap().secrets.len(), 1, "owners see secrets");

    // Unset name keeps it; "" parent moves to the top level.
    let upd = |id: &str, name: Option<&str>, parent: Option<&str>| UpdateLocationRequest {
        location_id: id.into(),
        name: name.map(Into::into),
        parent_location_id: parent.map(Into::into),
        region: None,
    };
    let moved = app.update_location(upd(&b.id, None, Some(""))).await.unwrap().into_inner().location.unwrap();
    assert_eq!((moved.name.as_str(), moved.parent_location_id.as_str()), ("B", ""));
    let renamed = app.update_location(upd(&b.id, Some("Bee"), None)).await.unwrap().into_inner().location.unwrap();
    assert_eq!(renamed.name, "Bee");

    app.update_location(upd(&b.id, Some(""), Some(&a.id))).await.unwrap();
    assert_status(app.update_location(upd(&a.id, None, Some(&b.id))).await, Code::InvalidArgument, "cycle");
    assert_status(app.update_location(upd(&a.id, None, Some(&a.id))).await, Code::InvalidArgument, "cycle");
    assert_status(app.update_location(upd(&a.id, None, Some("nope"))).await, Code::NotFound, "nope");

    // A location holding a sub-location cannot be deleted.
    assert_status(
        app.delete_location(DeleteLocationRequest { location_id: a.id.clone() }).await,
        Code::FailedPrecondition,
        "sub-location",
    );
    app.delete_location(DeleteLocationRequest { location_id: b.id.clone() }).await.unwrap();
    app.delete_location(DeleteLocationRequest { location_id: a.id.clone() }).await.unwrap();
    assert_status(app.get_location(GetLocationRequest { location_id: a.id.clone() }).await, Code::NotFound, &a.id);
}

#[tokio::test]
async fn create_location_validates_its_input() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let req = |org: &str, name: &str, parent: Option<&str>| CreateLocationRequest {
        organization_id: org.into(),
        name: name.into(),
        parent_location_id: parent.map(Into::into),
    };
    assert_status(app.create_location(req(s.org_id(), "", None)).await, Code::InvalidArgument, "name");
    assert_status(app.create_location(req(s.org_id(), "x", Some("nope"))).await, Code::NotFound, "parent location");
    assert_status(app.create_location(req("nope", "x", None)).await, Code::NotFound, "organization");
    let list = app
        .list_locations(ListLocationsRequest { organization_id: s.org_id().into() })
        .await
        .unwrap()
        .into_inner()
        .locations;
    assert_eq!(list.len(), 1, "only the root location made at first start");
}

#[tokio::test]
async fn location_secrets_are_created_and_deleted() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let loc = s.location_id().to_string();
    let auth = app
        .create_location_secret(CreateLocationSecretRequest { location_id: loc.clone() })
        .await
        .unwrap()
        .into_inner()
        .auth
        .unwrap();
    assert_eq!(auth.secrets.len(), 2);
    let id = auth.secrets[1].id.clone();
    app.delete_location_secret(DeleteLocationSecretRequest { location_id: loc.clone(), secret_id: id.clone() })
        .await
        .unwrap();
    let auth = app.location_auth(LocationAuthRequest { location_id: loc.clone() }).await.unwrap().into_inner();
    assert_eq!(auth.auth.unwrap().secrets.len(), 1);
    assert_status(
        app.delete_location_secret(DeleteLocationSecretRequest { location_id: loc, secret_id: id }).await,
        Code::NotFound,
        "location secret",
    );
}
