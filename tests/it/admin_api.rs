//! `fleetsh.admin.v1.FleetAdminService`: fault rules added, listed and cleared over the wire
//! change what the next calls answer; the clock moves; only the fleet's owner key may call it.

use fleetsh::proto::fleetsh::admin::v1::fleet_admin_service_client::FleetAdminServiceClient;
use fleetsh::proto::fleetsh::admin::v1::*;
use fleetsh::proto::viam::app::v1::{CreateOrganizationRequest, GetOrganizationRequest};
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
    let c = &s.fleet.credentials;
    let token = s.token(&c.api_key_id, &c.api_key).await.unwrap();
    admin(s, Some(&token))
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
    }
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
