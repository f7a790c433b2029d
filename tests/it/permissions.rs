//! The permission matrix: every (RPC, principal) pair against the expected status code. Add a
//! row per RPC: an `Op` variant, its call in `Op::call`, and its codes in `MATRIX`.

use std::time::Duration;

use fleetsh::proto::viam::app::v1::*;
use tonic::{Code, Status};

use crate::harness::{App, TestServer};
use crate::keys::{create_key, grant, new_location, new_org, new_robot};

/// The principals, in the column order of `MATRIX`.
const PRINCIPALS: [&str; 7] = [
    "owner",
    "org operator",
    "location owner key",
    "robot key",
    "other org key",
    "no token",
    "deleted key",
];

const OK: Code = Code::Ok;
const DENY: Code = Code::PermissionDenied;
const UNAUTH: Code = Code::Unauthenticated;

#[derive(Debug, Clone, Copy)]
enum Op {
    GetOrganization,
    ListOrganizationMembers,
    CreateLocation,
    ListLocations,
    GetLocation,
    DeleteLocation,
    GetRobot,
    NewRobot,
    DeleteRobot,
    ListAuthorizations,
    AddRole,
    CheckPermissions,
    CreateKey,
    ListKeys,
    DeleteKey,
    CreateOrganizationInvite,
    DeleteOrganizationInvite,
}

#[rustfmt::skip]
const MATRIX: &[(Op, [Code; 7])] = &[
    //                              owner org-op loc-own robot  other  none    deleted
    (Op::GetOrganization,          [OK,   OK,   OK,     OK,    DENY,  UNAUTH, UNAUTH]),
    (Op::ListOrganizationMembers,  [OK,   OK,   DENY,   DENY,  DENY,  UNAUTH, UNAUTH]),
    (Op::CreateLocation,           [OK,   DENY, DENY,   DENY,  DENY,  UNAUTH, UNAUTH]),
    (Op::ListLocations,            [OK,   OK,   OK,     OK,    DENY,  UNAUTH, UNAUTH]),
    (Op::GetLocation,              [OK,   OK,   OK,     DENY,  DENY,  UNAUTH, UNAUTH]),
    (Op::DeleteLocation,           [OK,   DENY, DENY,   DENY,  DENY,  UNAUTH, UNAUTH]),
    (Op::GetRobot,                 [OK,   OK,   OK,     OK,    DENY,  UNAUTH, UNAUTH]),
    (Op::NewRobot,                 [OK,   DENY, OK,     DENY,  DENY,  UNAUTH, UNAUTH]),
    (Op::DeleteRobot,              [OK,   DENY, OK,     DENY,  DENY,  UNAUTH, UNAUTH]),
    (Op::ListAuthorizations,       [OK,   OK,   DENY,   DENY,  DENY,  UNAUTH, UNAUTH]),
    (Op::AddRole,                  [OK,   DENY, DENY,   DENY,  DENY,  UNAUTH, UNAUTH]),
    (Op::CheckPermissions,         [OK,   OK,   OK,     OK,    OK,    UNAUTH, UNAUTH]),
    (Op::CreateKey,                [OK,   DENY, DENY,   DENY,  DENY,  UNAUTH, UNAUTH]),
    (Op::ListKeys,                 [OK,   DENY, DENY,   DENY,  DENY,  UNAUTH, UNAUTH]),
    (Op::DeleteKey,                [OK,   DENY, DENY,   DENY,  DENY,  UNAUTH, UNAUTH]),
    (Op::CreateOrganizationInvite, [OK,   DENY, DENY,   DENY,  DENY,  UNAUTH, UNAUTH]),
    (Op::DeleteOrganizationInvite, [OK,   DENY, DENY,   DENY,  DENY,  UNAUTH, UNAUTH]),
];

/// Resources of organization A that the calls act on. Calls that destroy something get a fresh
/// target from `owner` each time, so the order of rows and columns does not matter; with no
/// owner they act on a placeholder id (for callers refused before any lookup).
struct Fixture {
    owner: Option<App>,
    org: String,
    location: String,
    robot: String,
    operator_key: String,
    serial: u32,
}

impl Fixture {
    fn next(&mut self) -> u32 {
        self.serial += 1;
        self.serial
    }
}

impl Op {
    async fn call(self, app: &mut App, fx: &mut Fixture) -> Result<(), Status> {
        let org = fx.org.clone();
        let n = fx.next();
        match self {
            Op::GetOrganization => drop(
                app.get_organization(GetOrganizationRequest {
                    organization_id: org,
                })
                .await?,
            ),
            Op::ListOrganizationMembers => drop(
                app.list_organization_members(ListOrganizationMembersRequest {
                    organization_id: org,
                })
                .await?,
            ),
            Op::CreateLocation => {
                let req = CreateLocationRequest {
                    organization_id: org,
                    name: format!("l{n}"),
                    parent_location_id: None,
                };
                drop(app.create_location(req).await?)
            }
            Op::ListLocations => drop(
                app.list_locations(ListLocationsRequest {
                    organization_id: org,
                })
                .await?,
            ),
            Op::GetLocation => drop(
                app.get_location(GetLocationRequest {
                    location_id: fx.location.clone(),
                })
                .await?,
            ),
            Op::DeleteLocation => {
                let id = match &mut fx.owner {
                    Some(o) => new_location(o, &org, &format!("doomed{n}")).await,
                    None => "x".into(),
                };
                drop(
                    app.delete_location(DeleteLocationRequest { location_id: id })
                        .await?,
                )
            }
            Op::GetRobot => drop(
                app.get_robot(GetRobotRequest {
                    id: fx.robot.clone(),
                })
                .await?,
            ),
            Op::NewRobot => drop(
                app.new_robot(NewRobotRequest {
                    name: format!("r{n}"),
                    location: fx.location.clone(),
                })
                .await?,
            ),
            Op::DeleteRobot => {
                let id = match &mut fx.owner {
                    Some(o) => new_robot(o, &fx.location, &format!("doomed{n}")).await,
                    None => "x".into(),
                };
                drop(app.delete_robot(DeleteRobotRequest { id }).await?)
            }
            Op::ListAuthorizations => {
                let req = ListAuthorizationsRequest {
                    organization_id: org,
                    resource_ids: vec![],
                };
                drop(app.list_authorizations(req).await?)
            }
            Op::AddRole => {
                let a = Authorization {
                    identity_id: fx.operator_key.clone(),
                    ..grant(&org, "operator", "location", &fx.location)
                };
                drop(
                    app.add_role(AddRoleRequest {
                        authorization: Some(a),
                    })
                    .await?,
                )
            }
            Op::CheckPermissions => {
                let p = AuthorizedPermissions {
                    resource_type: "location".into(),
                    resource_id: fx.location.clone(),
                    permissions: vec!["read_location".into()],
                };
                drop(
                    app.check_permissions(CheckPermissionsRequest {
                        permissions: vec![p],
                    })
                    .await?,
                )
            }
            Op::CreateKey => {
                let req = CreateKeyRequest {
                    authorizations: vec![grant(&org, "operator", "organization", &org)],
                    name: String::new(),
                };
                drop(app.create_key(req).await?)
            }
            Op::ListKeys => drop(app.list_keys(ListKeysRequest { org_id: org }).await?),
            Op::DeleteKey => {
                let id = match &mut fx.owner {
                    Some(o) => {
                        create_key(o, vec![grant(&org, "operator", "organization", &org)])
                            .await
                            .0
                    }
                    None => "x".into(),
                };
                drop(app.delete_key(DeleteKeyRequest { id }).await?)
            }
            Op::CreateOrganizationInvite => {
                let req = CreateOrganizationInviteRequest {
                    organization_id: org,
                    email: format!("p{n}@example.com"),
                    authorizations: vec![],
                    send_email_invite: Some(false),
                };
                drop(app.create_organization_invite(req).await?)
            }
            Op::DeleteOrganizationInvite => {
                let email = format!("d{n}@example.com");
                let req = CreateOrganizationInviteRequest {
                    organization_id: org.clone(),
                    email: email.clone(),
                    authorizations: vec![],
                    send_email_invite: Some(false),
                };
                if let Some(o) = &mut fx.owner {
                    o.create_organization_invite(req).await.unwrap();
                }
                drop(
                    app.delete_organization_invite(DeleteOrganizationInviteRequest {
                        organization_id: org,
                        email,
                    })
                    .await?,
                )
            }
        }
        Ok(())
    }
}

fn code_of(r: &Result<(), Status>) -> Code {
    r.as_ref().err().map_or(Code::Ok, Status::code)
}

/// Organization A with a location, a machine in it, and the principals of `PRINCIPALS`.
async fn setup(s: &TestServer) -> (Fixture, Vec<App>) {
    let mut owner = s.owner().await;
    let org = s.org_id().to_string();
    let location = s.location_id().to_string();
    let robot = new_robot(&mut owner, &location, "fixture").await;
    let (op_id, op_key) = create_key(
        &mut owner,
        vec![grant(&org, "operator", "organization", &org)],
    )
    .await;
    let (loc_id, loc_key) = create_key(
        &mut owner,
        vec![grant(&org, "owner", "location", &location)],
    )
    .await;
    let (robot_id, robot_key) =
        create_key(&mut owner, vec![grant(&org, "owner", "robot", &robot)]).await;
    // The owner key owns B too (it created it); this key's only grant is on B.
    let b = new_org(&mut owner, "B").await;
    let (b_id, b_key) = create_key(&mut owner, vec![grant(&b, "owner", "organization", &b)]).await;
    let (gone_id, gone_key) =
        create_key(&mut owner, vec![grant(&org, "owner", "organization", &org)]).await;
    let gone = s.client_for(&gone_id, &gone_key).await;
    owner
        .delete_key(DeleteKeyRequest { id: gone_id })
        .await
        .unwrap();

    let apps = vec![
        s.owner().await,
        s.client_for(&op_id, &op_key).await,
        s.client_for(&loc_id, &loc_key).await,
        s.client_for(&robot_id, &robot_key).await,
        s.client_for(&b_id, &b_key).await,
        s.with_token(None),
        gone,
    ];
    let fx = Fixture {
        owner: Some(owner),
        org,
        location,
        robot,
        operator_key: op_id,
        serial: 0,
    };
    (fx, apps)
}

#[tokio::test]
async fn every_principal_gets_the_expected_code_from_every_rpc() {
    let s = TestServer::start().await;
    let (mut fx, mut apps) = setup(&s).await;
    let mut mismatches = Vec::new();
    for (op, expected) in MATRIX {
        for (i, app) in apps.iter_mut().enumerate() {
            let got = code_of(&op.call(app, &mut fx).await);
            if got != expected[i] {
                mismatches.push(format!(
                    "{op:?} as {}: expected {:?}, got {got:?}",
                    PRINCIPALS[i], expected[i]
                ));
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[tokio::test]
async fn an_expired_token_is_refused_by_every_rpc() {
    let s = TestServer::start_with(|o| o.token_ttl = Duration::from_secs(1)).await;
    let c = &s.fleet.credentials;
    // The interceptor refuses an expired token before any lookup, so placeholders will do.
    let mut fx = Fixture {
        owner: None,
        org: c.org_id.clone(),
        location: c.location_id.clone(),
        robot: "x".into(),
        operator_key: "x".into(),
        serial: 0,
    };
    let token = s.token(&c.api_key_id, &c.api_key).await.unwrap();
    let mut app = s.with_token(Some(&token));
    // Expiry has whole-second resolution and no leeway: two seconds are always past it.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    for (op, _) in MATRIX {
        let r = op.call(&mut app, &mut fx).await;
        assert_eq!(code_of(&r), UNAUTH, "{op:?}: {r:?}");
        assert!(r.unwrap_err().message().contains("xpired"), "{op:?}");
    }
    // The same credentials still work: only the token aged.
    let mut fresh = s.owner().await;
    fresh
        .get_location(GetLocationRequest {
            location_id: fx.location.clone(),
        })
        .await
        .unwrap();
}
