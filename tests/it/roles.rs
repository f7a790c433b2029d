use fleetsh::proto::viam::app::v1::*;
use tonic::Code;

use crate::harness::{App, TestServer, assert_status};
use crate::keys::{create_key, grant, new_location, new_org, new_robot};

/// An AddRole/RemoveRole authorization as the Python SDK sends it (identity_type "").
fn role(org: &str, identity: &str, role: &str, rt: &str, resource: &str) -> Option<Authorization> {
    Some(Authorization {
        identity_id: identity.into(),
        identity_type: String::new(),
        ..grant(org, role, rt, resource)
    })
}

async fn list(app: &mut App, org: &str, resource_ids: &[&str]) -> Vec<Authorization> {
    let req = ListAuthorizationsRequest {
        organization_id: org.into(),
        resource_ids: resource_ids.iter().map(|s| s.to_string()).collect(),
    };
    app.list_authorizations(req)
        .await
        .unwrap()
        .into_inner()
        .authorizations
}

#[tokio::test]
async fn roles_are_added_listed_and_removed() {
    let s = TestServer::start().await;
    let mut owner = s.owner().await;
    let org = s.org_id().to_string();
    let loc = s.location_id().to_string();
    let (key_id, key) =
        create_key(&mut owner, vec![grant(&org, "operator", "location", &loc)]).await;
    let mut k = s.client_for(&key_id, &key).await;
    assert_status(
        k.list_authorizations(ListAuthorizationsRequest {
            organization_id: org.clone(),
            resource_ids: vec![],
        })
        .await,
        Code::PermissionDenied,
        "read_organization",
    );

    owner
        .add_role(AddRoleRequest {
            authorization: role(&org, &key_id, "owner", "organization", &org),
        })
        .await
        .unwrap();
    // Adding what is held already is harmless.
    owner
        .add_role(AddRoleRequest {
            authorization: role(&org, &key_id, "owner", "organization", &org),
        })
        .await
        .unwrap();
    // The same token now carries the new grant: grants are read on every call.
    let all = list(&mut k, &org, &[]).await;
    let mine: Vec<_> = all.iter().filter(|a| a.identity_id == key_id).collect();
    assert_eq!(mine.len(), 2);
    assert!(
        mine.iter()
            .all(|a| a.identity_type == "api-key" && a.authorization_type == "role")
    );
    let user = all
        .iter()
        .find(|a| a.identity_type == "user")
        .expect("the local admin user owns the organization");
    assert_eq!(user.authorization_id, "organization_owner");
    let at_loc = list(&mut owner, &org, &[&loc]).await;
    assert_eq!(at_loc.len(), 1);
    assert_eq!(
        (
            at_loc[0].authorization_id.as_str(),
            at_loc[0].identity_id.as_str()
        ),
        ("location_operator", key_id.as_str())
    );

    owner
        .remove_role(RemoveRoleRequest {
            authorization: role(&org, &key_id, "owner", "organization", &org),
        })
        .await
        .unwrap();
    assert_status(
        owner
            .remove_role(RemoveRoleRequest {
                authorization: role(&org, &key_id, "owner", "organization", &org),
            })
            .await,
        Code::NotFound,
        "organization_owner",
    );
    assert_status(
        k.list_authorizations(ListAuthorizationsRequest {
            organization_id: org.clone(),
            resource_ids: vec![],
        })
        .await,
        Code::PermissionDenied,
        "read_organization",
    );
    assert_status(
        owner
            .list_authorizations(ListAuthorizationsRequest {
                organization_id: "nope".into(),
                resource_ids: vec![],
            })
            .await,
        Code::NotFound,
        "nope",
    );
    // Naming a resource that is not in the organization is NOT_FOUND, whether it exists
    // elsewhere or not at all.
    let other_org = new_org(&mut owner, "other").await;
    let other_loc = new_location(&mut owner, &other_org, "elsewhere").await;
    for missing in ["no-such-id", other_org.as_str(), other_loc.as_str()] {
        assert_status(
            owner
                .list_authorizations(ListAuthorizationsRequest {
                    organization_id: org.clone(),
                    resource_ids: vec![loc.clone(), missing.to_string()],
                })
                .await,
            Code::NotFound,
            &format!("resource_ids[1]: no organization, location or machine {missing:?}"),
        );
    }
    assert_status(
        owner
            .list_authorizations(ListAuthorizationsRequest {
                organization_id: org.clone(),
                resource_ids: vec![String::new()],
            })
            .await,
        Code::InvalidArgument,
        "resource_ids[0]",
    );
    let robot = new_robot(&mut owner, &loc, "r").await;
    assert!(list(&mut owner, &org, &[&robot, &org]).await.len() > 1);

    // Roles go to users too; the last organization owner stays.
    let user_id = user.identity_id.clone();
    owner
        .add_role(AddRoleRequest {
            authorization: role(&org, &user_id, "operator", "location", &loc),
        })
        .await
        .unwrap();
    let first = s.fleet.credentials.api_key_id.clone();
    owner
        .remove_role(RemoveRoleRequest {
            authorization: role(&org, &user_id, "owner", "organization", &org),
        })
        .await
        .unwrap();
    assert_status(
        owner
            .remove_role(RemoveRoleRequest {
                authorization: role(&org, &first, "owner", "organization", &org),
            })
            .await,
        Code::FailedPrecondition,
        "no owner left",
    );
}

#[tokio::test]
async fn add_role_validates_the_authorization() {
    let s = TestServer::start().await;
    let mut owner = s.owner().await;
    let org = s.org_id().to_string();
    let loc = s.location_id().to_string();
    let me = s.fleet.credentials.api_key_id.clone();
    let add = |a: Option<Authorization>| AddRoleRequest { authorization: a };
    let cases: Vec<(Option<Authorization>, Code, &str)> = vec![
        (None, Code::InvalidArgument, "authorization: required"),
        (
            role(&org, &me, "king", "location", &loc),
            Code::InvalidArgument,
            "authorization_id",
        ),
        (
            Some(Authorization {
                authorization_id: "robot_owner".into(),
                ..role(&org, &me, "owner", "location", &loc).unwrap()
            }),
            Code::InvalidArgument,
            "authorization_id",
        ),
        (
            role(&org, &me, "owner", "planet", &loc),
            Code::InvalidArgument,
            "resource_type",
        ),
        (
            Some(Authorization {
                authorization_type: "group".into(),
                ..role(&org, &me, "owner", "location", &loc).unwrap()
            }),
            Code::InvalidArgument,
            "authorization_type",
        ),
        (
            role(&org, &me, "owner", "location", ""),
            Code::InvalidArgument,
            "resource_id",
        ),
        (
            role(&org, &me, "owner", "location", "nope"),
            Code::NotFound,
            "location \"nope\"",
        ),
        (
            role(&org, &me, "owner", "organization", "nope"),
            Code::NotFound,
            "nope",
        ),
        (
            role("nope", &me, "owner", "location", &loc),
            Code::NotFound,
            "organization",
        ),
        (
            role(&org, "", "owner", "location", &loc),
            Code::InvalidArgument,
            "identity_id",
        ),
        (
            role(&org, "ghost", "owner", "location", &loc),
            Code::NotFound,
            "identity_id",
        ),
        (
            Some(Authorization {
                identity_type: "user".into(),
                ..role(&org, &me, "owner", "location", &loc).unwrap()
            }),
            Code::InvalidArgument,
            "identity_type",
        ),
    ];
    for (a, code, needle) in cases {
        assert_status(owner.add_role(add(a)).await, code, needle);
    }
    // A resource of another organization cannot be granted through this one.
    let b = new_org(&mut owner, "B").await;
    let b_loc = new_location(&mut owner, &b, "B loc").await;
    let b_robot = new_robot(&mut owner, &b_loc, "b").await;
    assert_status(
        owner
            .add_role(add(role(&org, &me, "owner", "robot", &b_robot)))
            .await,
        Code::NotFound,
        "resource_id",
    );
    owner
        .add_role(add(role(&b, &me, "operator", "robot", &b_robot)))
        .await
        .unwrap();
}

#[tokio::test]
async fn check_permissions_returns_only_what_the_caller_holds() {
    let s = TestServer::start().await;
    let mut owner = s.owner().await;
    let org = s.org_id().to_string();
    let loc = s.location_id().to_string();
    let robot = new_robot(&mut owner, &loc, "r").await;
    let (id, key) = create_key(&mut owner, vec![grant(&org, "operator", "location", &loc)]).await;
    let mut op = s.client_for(&id, &key).await;
    let entry = |rt: &str, id: &str, perms: &[&str]| AuthorizedPermissions {
        resource_type: rt.into(),
        resource_id: id.into(),
        permissions: perms.iter().map(|p| p.to_string()).collect(),
    };
    let check = |permissions| CheckPermissionsRequest { permissions };
    let got = op
        .check_permissions(check(vec![
            entry(
                "robot",
                &robot,
                &["read_robot", "write_robot", "control_robot"],
            ),
            entry("location", &loc, &["write_location"]),
            entry("organization", &org, &["read_organization"]),
        ]))
        .await
        .unwrap()
        .into_inner()
        .authorized_permissions;
    assert_eq!(
        got,
        vec![entry("robot", &robot, &["read_robot", "control_robot"])]
    );
    let all = owner
        .check_permissions(check(vec![entry(
            "location",
            &loc,
            &["write_location", "read_location_secret"],
        )]))
        .await
        .unwrap()
        .into_inner()
        .authorized_permissions;
    assert_eq!(
        all,
        vec![entry(
            "location",
            &loc,
            &["write_location", "read_location_secret"]
        )]
    );

    assert_status(
        op.check_permissions(check(vec![])).await,
        Code::InvalidArgument,
        "permissions",
    );
    assert_status(
        op.check_permissions(check(vec![entry(
            "robot",
            &robot,
            &["read_robot", "fly", "swim"],
        )]))
        .await,
        Code::InvalidArgument,
        "\"fly\", \"swim\"",
    );
    // An unknown resource is omitted like one the caller holds nothing on: the answer does
    // not tell whether an id exists.
    let other_org = new_org(&mut owner, "other").await;
    let got = op
        .check_permissions(check(vec![
            entry("robot", "nope", &["read_robot"]),
            entry("location", "nope", &["read_location"]),
            entry("organization", "nope", &["read_organization"]),
            entry("organization", &other_org, &["read_organization"]),
            entry("robot", &robot, &["read_robot"]),
        ]))
        .await
        .unwrap()
        .into_inner()
        .authorized_permissions;
    assert_eq!(got, vec![entry("robot", &robot, &["read_robot"])]);
    assert_status(
        op.check_permissions(check(vec![entry("robot", "", &["read_robot"])]))
            .await,
        Code::InvalidArgument,
        "permissions[0].resource_id",
    );
    assert_status(
        op.check_permissions(check(vec![entry("planet", &robot, &["read_robot"])]))
            .await,
        Code::InvalidArgument,
        "resource_type",
    );
}
