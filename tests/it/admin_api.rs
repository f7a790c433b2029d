//! `fleetsh.admin.v1.FleetAdminService`: fault rules added, listed and cleared over the wire
//! change what the next calls answer; the clock moves; invites are accepted and members added,
//! seen by the app API as any member; only the fleet's owner key may call it.

use fleetsh::proto::fleetsh::admin::v1::fleet_admin_service_client::FleetAdminServiceClient;
use fleetsh::proto::fleetsh::admin::v1::*;
use fleetsh::proto::viam::app::v1::{
    CreateOrganizationInviteRequest, CreateOrganizationRequest, GetOrganizationRequest,
    GetUserIdByEmailRequest, ListAuthorizationsRequest, ListOrganizationMembersRequest,
    ListOrganizationsByUserRequest,
};
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::harness::{Bearer, TestServer, assert_status};
use crate::keys::{create_key, grant};

type Admin = FleetAdminServiceClient<InterceptedService<Channel, Bearer>>;

fn admin(s: &TestServer, token: Option<&str>) -> Admin {
    let header = token.map(|t| format!("Bearer {t}").parse().unwrap());
    FleetAdminServiceClient::with_interceptor(s.channel.clone(), Bearer(header))
}

async fn owner_admin(s: &TestServer) -> Admin {
    admin(s, Some(&crate::setup::owner_token(s).await))
}

fn rule(method: &str) -> FaultRule {
    FaultRule {
        method: method.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_fault_added_over_the_wire_answers_the_next_call_is_listed_and_cleared() {
    let s = TestServer::start().await;
    let mut adm = owner_admin(&s).await;
    let mut app = s.owner().await;
    let get_org = || GetOrganizationRequest {
        organization_id: s.org_id().into(),
    };
    let id = adm
        .add_fault(AddFaultRequest {
            rule: Some(FaultRule {
                code: Some("NOT_FOUND".into()),
                message: Some("the admin API says no".into()),
                times: Some(1),
                ..rule("GetOrganization")
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .id;
    assert_status(
        app.get_organization(get_org()).await,
        Code::NotFound,
        "the admin API says no",
    );
    app.get_organization(get_org())
        .await
        .expect("times = 1: the second call is served");

    let listed = adm
        .list_faults(ListFaultsRequest {})
        .await
        .unwrap()
        .into_inner()
        .faults;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let f = &listed[0];
    let r = f.rule.as_ref().unwrap();
    assert_eq!(
        (f.id.as_str(), r.method.as_str(), r.code.as_deref(), f.seen),
        (id.as_str(), "GetOrganization", Some("NOT_FOUND"), 2)
    );
    assert_eq!(r.times, Some(0), "the rule has no calls left");

    let e = adm
        .clear_faults(ClearFaultsRequest {
            ids: vec![id.clone(), "fault-99".into()],
            all: false,
        })
        .await;
    assert_status(e, Code::NotFound, "fault-99");
    let cleared = adm
        .clear_faults(ClearFaultsRequest {
            ids: vec![id],
            all: false,
        })
        .await
        .unwrap();
    assert_eq!(cleared.into_inner().cleared, 1);
    let left = adm.list_faults(ListFaultsRequest {}).await.unwrap();
    assert!(left.into_inner().faults.is_empty());
}

#[tokio::test]
async fn every_call_failing_does_not_lock_the_owner_out_of_the_admin_api() {
    let s = TestServer::start().await;
    let mut adm = owner_admin(&s).await;
    let mut app = s.owner().await;
    adm.add_fault(AddFaultRequest {
        rule: Some(FaultRule {
            code: Some("UNAVAILABLE".into()),
            message: Some("everything is down".into()),
            ..rule("*")
        }),
    })
    .await
    .unwrap();
    let org = || GetOrganizationRequest {
        organization_id: s.org_id().into(),
    };
    assert_status(
        app.get_organization(org()).await,
        Code::Unavailable,
        "everything is down",
    );
    let listed = adm.list_faults(ListFaultsRequest {}).await.unwrap();
    assert_eq!(listed.into_inner().faults.len(), 1);
    let cleared = adm
        .clear_faults(ClearFaultsRequest {
            ids: vec![],
            all: true,
        })
        .await
        .unwrap();
    assert_eq!(cleared.into_inner().cleared, 1);
    app.get_organization(org()).await.expect("cleared");
}

#[tokio::test]
async fn a_bad_rule_is_refused_naming_its_field() {
    let s = TestServer::start().await;
    let mut adm = owner_admin(&s).await;
    for (r, field) in [
        (
            FaultRule {
                code: Some("UNAVAIL".into()),
                ..rule("GetRobot")
            },
            "rule.code",
        ),
        (
            FaultRule {
                latency: Some("soon".into()),
                ..rule("GetRobot")
            },
            "rule.latency",
        ),
        (rule(""), "rule.method"),
        (
            FaultRule {
                probability: Some(1.5),
                ..rule("GetRobot")
            },
            "rule.probability",
        ),
    ] {
        let e = adm.add_fault(AddFaultRequest { rule: Some(r) }).await;
        assert_status(e, Code::InvalidArgument, field);
    }
    let e = adm.add_fault(AddFaultRequest { rule: None }).await;
    assert_status(e, Code::InvalidArgument, "rule");
    let listed = adm.list_faults(ListFaultsRequest {}).await.unwrap();
    assert!(
        listed.into_inner().faults.is_empty(),
        "a refused rule was kept"
    );
}

#[tokio::test]
async fn advance_clock_ages_what_the_fleet_stored() {
    let s = TestServer::start().await;
    let mut adm = owner_admin(&s).await;
    let mut app = s.owner().await;
    let created = |app: &mut crate::harness::App| {
        let req = GetOrganizationRequest {
            organization_id: s.org_id().into(),
        };
        let mut app = app.clone();
        async move {
            let org = app.get_organization(req).await.unwrap().into_inner();
            org.organization.unwrap().created_on.unwrap().seconds
        }
    };
    let before = created(&mut app).await;
    let moved = adm
        .advance_clock(AdvanceClockRequest { by: "91d".into() })
        .await
        .unwrap()
        .into_inner()
        .moved;
    assert!(moved > 0);
    assert_eq!(before - created(&mut app).await, 91 * 86_400);
    let e = adm
        .advance_clock(AdvanceClockRequest { by: "later".into() })
        .await;
    assert_status(e, Code::InvalidArgument, "by");
}

#[tokio::test]
async fn only_the_fleets_owner_key_may_call_it() {
    let s = TestServer::start().await;
    let org = s.org_id().to_string();
    let mut owner = s.owner().await;
    let (op_id, op_key) = create_key(
        &mut owner,
        vec![grant(&org, "operator", "organization", &org)],
    )
    .await;
    let loc = s.location_id().to_string();
    let (loc_id, loc_key) =
        create_key(&mut owner, vec![grant(&org, "owner", "location", &loc)]).await;
    // The owner of another organization (made through the API) owns that one, not the fleet.
    let other = owner
        .create_organization(CreateOrganizationRequest {
            name: "elsewhere".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap()
        .id;
    let (other_id, other_key) = create_key(
        &mut owner,
        vec![grant(&other, "owner", "organization", &other)],
    )
    .await;
    for (who, id, key) in [
        ("an operator of the organization", op_id, op_key),
        ("an owner of its location", loc_id, loc_key),
        ("an owner of another organization", other_id, other_key),
    ] {
        let token = s.token(&id, &key).await.unwrap();
        let mut adm = admin(&s, Some(&token));
        let e = adm.list_faults(ListFaultsRequest {}).await;
        assert_eq!(
            e.as_ref().map_err(|e| e.code()).err(),
            Some(Code::PermissionDenied),
            "{who}: {e:?}"
        );
        let e = adm
            .add_fault(AddFaultRequest {
                rule: Some(rule("*")),
            })
            .await;
        assert_status(e, Code::PermissionDenied, "owner API key");
        let e = adm
            .advance_clock(AdvanceClockRequest { by: "1d".into() })
            .await;
        assert_status(e, Code::PermissionDenied, "owner API key");
        let e = adm
            .add_member(AddMemberRequest {
                organization_id: org.clone(),
                email: "eve@example.com".into(),
                roles: vec![],
            })
            .await;
        assert_status(e, Code::PermissionDenied, "owner API key");
        let e = adm
            .accept_invite(AcceptInviteRequest {
                organization_id: org.clone(),
                email: "eve@example.com".into(),
            })
            .await;
        assert_status(e, Code::PermissionDenied, "owner API key");
    }
    let members = owner
        .list_organization_members(ListOrganizationMembersRequest {
            organization_id: org.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(members.members.len(), 1, "a refused caller added a member");
    let e = admin(&s, None).list_faults(ListFaultsRequest {}).await;
    assert_status(e, Code::Unauthenticated, "authentication required");
    let e = admin(&s, Some("not-a-token"))
        .clear_faults(ClearFaultsRequest {
            ids: vec![],
            all: true,
        })
        .await;
    assert_eq!(e.unwrap_err().code(), Code::Unauthenticated);
    assert!(
        s.fleet.api.faults.list().is_empty(),
        "a refused caller added a rule"
    );
}

/// From Lua over --url: `cloud.admin.*`, made from the descriptors like every other area.
#[test]
fn lua_scripts_reach_it_as_cloud_admin() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("serve.log");
    let serve = crate::serve_proc::Serve::spawn(
        &tmp.path().join("fleet"),
        "127.0.0.1:0",
        "warn",
        &[],
        &log,
    );
    let c = &serve.creds;
    let script = r#"
        local id = cloud.admin.add_fault { rule = { method = "ListLocations", code = "ABORTED", message = "from lua", times = 1 } }
        local ok, err = pcall(cloud.list_locations)
        assert(not ok and err.code == "ABORTED" and err.message == "from lua", tostring(err))
        local listed = cloud.admin.list_faults()
        assert(#listed == 1 and listed[1].id == id and listed[1].seen == 1, json.encode(listed))
        assert(cloud.admin.clear_faults { all = true } == 1)
        assert(#cloud.admin.list_faults() == 0)
        cloud.create_organization_invite { email = "lu@example.com", authorizations = {}, send_email_invite = false }
        local lu = cloud.admin.accept_invite { email = "lu@example.com" }
        assert(cloud.get_user_id_by_email("lu@example.com") == lu, lu)
        local bo = cloud.admin.add_member { email = "bo@example.com",
          roles = { { role = "operator", resource_type = "organization", resource_id = cloud.default_org_id() } } }
        assert(#cloud.list_organization_members() == 3 and bo ~= lu)
        print("moved " .. tostring(cloud.admin.advance_clock("1d") > 0))
    "#;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fleetsh"))
        .args([
            "--url",
            &c.address,
            "--api-key-id",
            &c.api_key_id,
            "--api-key",
            &c.api_key,
        ])
        .args(["-e", script])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "moved true",
        "{stderr}"
    );
}

async fn members_of(app: &mut crate::harness::App, org: &str) -> Vec<(String, String)> {
    let r = app
        .list_organization_members(ListOrganizationMembersRequest {
            organization_id: org.into(),
        })
        .await
        .unwrap()
        .into_inner();
    r.members
        .into_iter()
        .map(|m| (m.user_id, m.emails.join(",")))
        .collect()
}

/// The grants of `user` in `org`, as (authorization_id, resource_id, identity_type).
async fn grants_of(
    app: &mut crate::harness::App,
    org: &str,
    user: &str,
) -> Vec<(String, String, String)> {
    let r = app
        .list_authorizations(ListAuthorizationsRequest {
            organization_id: org.into(),
            resource_ids: vec![],
        })
        .await
        .unwrap()
        .into_inner();
    let mut g: Vec<_> = r
        .authorizations
        .into_iter()
        .filter(|a| a.identity_id == user)
        .map(|a| (a.authorization_id, a.resource_id, a.identity_type))
        .collect();
    g.sort();
    g
}

#[tokio::test]
async fn an_accepted_invite_is_a_member_with_its_roles_and_is_pending_no_more() {
    let s = TestServer::start().await;
    let mut adm = owner_admin(&s).await;
    let mut app = s.owner().await;
    let org = s.org_id().to_string();
    let loc = s.location_id().to_string();
    let mut g = grant(&org, "operator", "location", &loc);
    g.identity_type = String::new();
    app.create_organization_invite(CreateOrganizationInviteRequest {
        organization_id: org.clone(),
        email: "Ana@Example.com".into(),
        authorizations: vec![g],
        send_email_invite: Some(false),
    })
    .await
    .unwrap();
    let user_id = adm
        .accept_invite(AcceptInviteRequest {
            organization_id: org.clone(),
            email: "ANA@example.com".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .user_id;
    assert!(!user_id.is_empty());

    let listed = app
        .list_organization_members(ListOrganizationMembersRequest {
            organization_id: org.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        listed.invites.is_empty(),
        "still pending: {:?}",
        listed.invites
    );
    let ana: Vec<_> = listed
        .members
        .iter()
        .filter(|m| m.user_id == user_id)
        .collect();
    assert_eq!(ana.len(), 1, "{:?}", listed.members);
    assert_eq!(ana[0].emails, vec!["ana@example.com".to_string()]);
    assert!(ana[0].date_added.is_some());
    assert_eq!(
        grants_of(&mut app, &org, &user_id).await,
        vec![("location_operator".into(), loc.clone(), "user".into())]
    );
    let found = app
        .get_user_id_by_email(GetUserIdByEmailRequest {
            email: "ana@example.com".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .user_id;
    assert_eq!(found, user_id);
    let orgs = app
        .list_organizations_by_user(ListOrganizationsByUserRequest {
            user_id: user_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .orgs;
    assert_eq!(orgs.len(), 1, "{orgs:?}");
    assert_eq!(orgs[0].org_id, org);

    // The invite is gone: accepting again finds none.
    let e = adm
        .accept_invite(AcceptInviteRequest {
            organization_id: org.clone(),
            email: "ana@example.com".into(),
        })
        .await;
    assert_status(
        e,
        Code::NotFound,
        "no pending invite for \"ana@example.com\"",
    );
}

#[tokio::test]
async fn add_member_grants_its_roles_and_one_user_may_join_two_organizations() {
    let s = TestServer::start().await;
    let mut adm = owner_admin(&s).await;
    let mut app = s.owner().await;
    let org = s.org_id().to_string();
    let loc = s.location_id().to_string();
    let role = |role: &str, rt: &str, id: &str| MemberRole {
        role: role.into(),
        resource_type: rt.into(),
        resource_id: id.into(),
    };
    let bo = adm
        .add_member(AddMemberRequest {
            organization_id: org.clone(),
            email: "bo@example.com".into(),
            roles: vec![
                role("operator", "organization", &org),
                role("owner", "location", &loc),
            ],
        })
        .await
        .unwrap()
        .into_inner()
        .user_id;
    assert!(
        members_of(&mut app, &org)
            .await
            .contains(&(bo.clone(), "bo@example.com".into()))
    );
    assert_eq!(
        grants_of(&mut app, &org, &bo).await,
        vec![
            ("location_owner".into(), loc.clone(), "user".into()),
            ("organization_operator".into(), org.clone(), "user".into()),
        ]
    );
    // Without roles: owner of the organization, as an invite without authorizations.
    let other = app
        .create_organization(CreateOrganizationRequest {
            name: "elsewhere".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap()
        .id;
    let again = adm
        .add_member(AddMemberRequest {
            organization_id: other.clone(),
            email: "BO@example.com".into(),
            roles: vec![],
        })
        .await
        .unwrap()
        .into_inner()
        .user_id;
    assert_eq!(again, bo, "one address, one user");
    assert_eq!(
        grants_of(&mut app, &other, &bo).await,
        vec![("organization_owner".into(), other.clone(), "user".into())]
    );
    let e = adm
        .add_member(AddMemberRequest {
            organization_id: org.clone(),
            email: "bo@example.com".into(),
            roles: vec![],
        })
        .await;
    assert_status(e, Code::AlreadyExists, "already a member");
    // A known user's address is taken as it is: the fleet's admin@localhost joins too.
    let admin_id = app
        .get_user_id_by_email(GetUserIdByEmailRequest {
            email: "admin@localhost".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .user_id;
    let joined = adm
        .add_member(AddMemberRequest {
            organization_id: other.clone(),
            email: "admin@localhost".into(),
            roles: vec![role("operator", "organization", &other)],
        })
        .await
        .unwrap()
        .into_inner()
        .user_id;
    assert_eq!(joined, admin_id);
}

#[tokio::test]
async fn members_are_refused_bad_input_naming_what_is_wrong() {
    let s = TestServer::start().await;
    let mut adm = owner_admin(&s).await;
    let mut app = s.owner().await;
    let org = s.org_id().to_string();
    let add = |org: &str, email: &str, roles: Vec<MemberRole>| AddMemberRequest {
        organization_id: org.into(),
        email: email.into(),
        roles,
    };
    let role = |role: &str, rt: &str, id: &str| MemberRole {
        role: role.into(),
        resource_type: rt.into(),
        resource_id: id.into(),
    };
    let other = app
        .create_organization(CreateOrganizationRequest {
            name: "elsewhere".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap()
        .id;
    let cases = [
        (
            add("", "a@example.com", vec![]),
            Code::InvalidArgument,
            "organization_id: required",
        ),
        (
            add("nope", "a@example.com", vec![]),
            Code::NotFound,
            "organization \"nope\" not found",
        ),
        (
            add(&org, " ", vec![]),
            Code::InvalidArgument,
            "email: required",
        ),
        (
            add(&org, "a@b", vec![]),
            Code::InvalidArgument,
            "email: \"a@b\" is not an email address",
        ),
        (
            add(
                &org,
                "a@example.com",
                vec![role("boss", "organization", &org)],
            ),
            Code::InvalidArgument,
            "roles[0].role: \"boss\" is not",
        ),
        (
            add(&org, "a@example.com", vec![role("owner", "planet", &org)]),
            Code::InvalidArgument,
            "roles[0].resource_type",
        ),
        (
            add(&org, "a@example.com", vec![role("owner", "location", "")]),
            Code::InvalidArgument,
            "roles[0].resource_id: required",
        ),
        (
            add(
                &org,
                "a@example.com",
                vec![role("owner", "robot", "r-none")],
            ),
            Code::NotFound,
            "roles[0]: robot \"r-none\" not found",
        ),
        (
            add(
                &org,
                "a@example.com",
                vec![role("owner", "organization", &other)],
            ),
            Code::NotFound,
            "not found in organization",
        ),
    ];
    for (req, code, message) in cases {
        let e = adm.add_member(req.clone()).await;
        assert_status(e, code, message);
    }
    let accept = |org: &str, email: &str| AcceptInviteRequest {
        organization_id: org.into(),
        email: email.into(),
    };
    for (req, code, message) in [
        (
            accept("nope", "a@example.com"),
            Code::NotFound,
            "organization \"nope\" not found",
        ),
        (accept(&org, ""), Code::InvalidArgument, "email: required"),
        (
            accept(&org, "a@example.com"),
            Code::NotFound,
            "no pending invite for \"a@example.com\"",
        ),
    ] {
        let e = adm.accept_invite(req.clone()).await;
        assert_status(e, code, message);
    }
    // A pending invite is accepted or deleted, not bypassed with other roles.
    app.create_organization_invite(CreateOrganizationInviteRequest {
        organization_id: org.clone(),
        email: "c@example.com".into(),
        authorizations: vec![],
        send_email_invite: Some(false),
    })
    .await
    .unwrap();
    let e = adm.add_member(add(&org, "c@example.com", vec![])).await;
    assert_status(e, Code::FailedPrecondition, "pending invite");
    assert_eq!(
        members_of(&mut app, &org).await.len(),
        1,
        "a refused call added a member"
    );
}
