use fleetsh::proto::viam::app::v1::*;
use tonic::Code;

use crate::harness::{TestServer, assert_status};

#[tokio::test]
async fn first_start_creates_an_org_owned_by_the_admin_and_an_owner_key() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let orgs = app
        .list_organizations(ListOrganizationsRequest {})
        .await
        .unwrap()
        .into_inner()
        .organizations;
    assert_eq!(orgs.len(), 1);
    assert_eq!(orgs[0].id, s.org_id());
    let members = app
        .list_organization_members(ListOrganizationMembersRequest {
            organization_id: s.org_id().into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(members.members.len(), 1);
    assert_eq!(members.members[0].emails, ["admin@localhost"]);
    let got = app
        .get_organization(GetOrganizationRequest {
            organization_id: s.org_id().into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.organization.unwrap().public_namespace, "local");
}

#[tokio::test]
async fn credentials_file_is_private_and_reused_on_restart() {
    let s = TestServer::start().await;
    let path = s.dir.path().join("credentials.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let first = s.fleet.credentials.clone();
    let TestServer { fleet, dir, .. } = s;
    fleet.stop().await.unwrap();
    let s = TestServer::start_in(dir, |_| {}).await;
    assert!(!s.fleet.created);
    assert_eq!(s.fleet.credentials.api_key_id, first.api_key_id);
    assert_eq!(s.fleet.credentials.org_id, first.org_id);
    s.owner()
        .await
        .list_organizations(ListOrganizationsRequest {})
        .await
        .unwrap();
}

#[tokio::test]
async fn namespace_availability() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let avail = |ns: &str| GetOrganizationNamespaceAvailabilityRequest {
        public_namespace: ns.into(),
        organization_id: String::new(),
    };
    assert!(
        app.get_organization_namespace_availability(avail("fresh-name-1"))
            .await
            .unwrap()
            .into_inner()
            .available
    );
    assert!(
        !app.get_organization_namespace_availability(avail("local"))
            .await
            .unwrap()
            .into_inner()
            .available
    );
    assert_status(
        app.get_organization_namespace_availability(avail("")).await,
        Code::InvalidArgument,
        "public_namespace",
    );
    assert_status(
        app.get_organization_namespace_availability(avail("Bad_NS"))
            .await,
        Code::InvalidArgument,
        "public_namespace",
    );
}

#[tokio::test]
async fn create_organization_makes_the_caller_owner() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let org = app
        .create_organization(CreateOrganizationRequest {
            name: "Second".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap();
    assert_eq!(org.name, "Second");
    let orgs = app
        .list_organizations(ListOrganizationsRequest {})
        .await
        .unwrap()
        .into_inner()
        .organizations;
    assert_eq!(orgs.len(), 2);
    assert_status(
        app.create_organization(CreateOrganizationRequest { name: " ".into() })
            .await,
        Code::InvalidArgument,
        "name",
    );
    assert_status(
        app.get_organization(GetOrganizationRequest {
            organization_id: "nope".into(),
        })
        .await,
        Code::NotFound,
        "nope",
    );
}

#[tokio::test]
async fn the_last_owner_cannot_be_removed() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let members = app
        .list_organization_members(ListOrganizationMembersRequest {
            organization_id: s.org_id().into(),
        })
        .await
        .unwrap()
        .into_inner()
        .members;
    // The owner key still owns the org, so removing the admin user is allowed...
    app.delete_organization_member(DeleteOrganizationMemberRequest {
        organization_id: s.org_id().into(),
        user_id: members[0].user_id.clone(),
    })
    .await
    .unwrap();
    assert_status(
        app.delete_organization_member(DeleteOrganizationMemberRequest {
            organization_id: s.org_id().into(),
            user_id: members[0].user_id.clone(),
        })
        .await,
        Code::NotFound,
        "not a member",
    );
}

#[tokio::test]
async fn calls_without_a_valid_token_are_unauthenticated() {
    let s = TestServer::start().await;
    for token in [None, Some("garbage")] {
        let mut app = s.with_token(token);
        assert_status(
            app.list_organizations(ListOrganizationsRequest {}).await,
            Code::Unauthenticated,
            "",
        );
    }
    assert_status(
        s.token(&s.fleet.credentials.api_key_id, "wrong").await,
        Code::Unauthenticated,
        "invalid credentials",
    );
}

#[tokio::test]
async fn expired_tokens_are_rejected() {
    let s = TestServer::start_with(|o| o.token_ttl = std::time::Duration::from_secs(1)).await;
    let mut app = s.owner().await;
    app.list_organizations(ListOrganizationsRequest {})
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_status(
        app.list_organizations(ListOrganizationsRequest {}).await,
        Code::Unauthenticated,
        "xpired",
    );
}
