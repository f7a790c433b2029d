//! Behaviour of issue 11's orgs-area RPCs: metadata, and (as they land) organization updates,
//! sharing, roles and keys.

use std::collections::BTreeMap;

use fleetsh::proto::viam::app::v1::*;
use prost_types::{Struct, Value, value::Kind};
use tonic::Code;

use crate::harness::{TestServer, assert_status};

fn text(s: &str) -> Value {
    Value {
        kind: Some(Kind::StringValue(s.into())),
    }
}

fn data(pairs: &[(&str, Value)]) -> Struct {
    Struct {
        fields: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect::<BTreeMap<_, _>>(),
    }
}

#[tokio::test]
async fn metadata_of_every_resource_round_trips_and_is_replaced_whole() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let robot = app
        .new_robot(NewRobotRequest {
            name: "m1".into(),
            location: s.location_id().into(),
        })
        .await
        .unwrap()
        .into_inner()
        .id;
    let part = app
        .get_robot_parts(GetRobotPartsRequest {
            robot_id: robot.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .parts[0]
        .id
        .clone();
    let nested = Value {
        kind: Some(Kind::StructValue(data(&[("floor", text("2"))]))),
    };
    let first = data(&[("team", text("blue")), ("where", nested)]);
    let second = data(&[("team", text("red"))]);

    // A resource never given metadata has an empty Struct.
    let org = app
        .get_organization_metadata(GetOrganizationMetadataRequest {
            organization_id: s.org_id().into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(org.data, Some(Struct::default()));

    for (i, value) in [&first, &second].into_iter().enumerate() {
        // Each resource gets its own copy with a distinct marker, so a mix-up shows.
        let own = |tag: &str| {
            let mut d = value.clone();
            d.fields.insert("of".into(), text(&format!("{tag}{i}")));
            d
        };
        let (o, l, r, p) = (own("org"), own("loc"), own("robot"), own("part"));
        app.update_organization_metadata(UpdateOrganizationMetadataRequest {
            organization_id: s.org_id().into(),
            data: Some(o.clone()),
        })
        .await
        .unwrap();
        app.update_location_metadata(UpdateLocationMetadataRequest {
            location_id: s.location_id().into(),
            data: Some(l.clone()),
        })
        .await
        .unwrap();
        app.update_robot_metadata(UpdateRobotMetadataRequest {
            id: robot.clone(),
            data: Some(r.clone()),
        })
        .await
        .unwrap();
        app.update_robot_part_metadata(UpdateRobotPartMetadataRequest {
            id: part.clone(),
            data: Some(p.clone()),
        })
        .await
        .unwrap();
        let got = app
            .get_organization_metadata(GetOrganizationMetadataRequest {
                organization_id: s.org_id().into(),
            })
            .await
            .unwrap()
            .into_inner()
            .data;
        assert_eq!(got, Some(o), "organization metadata, round {i}");
        let got = app
            .get_location_metadata(GetLocationMetadataRequest {
                location_id: s.location_id().into(),
            })
            .await
            .unwrap()
            .into_inner()
            .data;
        assert_eq!(got, Some(l), "location metadata, round {i}");
        let got = app
            .get_robot_metadata(GetRobotMetadataRequest { id: robot.clone() })
            .await
            .unwrap()
            .into_inner()
            .data;
        assert_eq!(got, Some(r), "robot metadata, round {i}");
        let got = app
            .get_robot_part_metadata(GetRobotPartMetadataRequest { id: part.clone() })
            .await
            .unwrap()
            .into_inner()
            .data;
        assert_eq!(got, Some(p), "part metadata, round {i}");
    }

    // Absent data clears it.
    app.update_robot_metadata(UpdateRobotMetadataRequest {
        id: robot.clone(),
        data: None,
    })
    .await
    .unwrap();
    let got = app
        .get_robot_metadata(GetRobotMetadataRequest { id: robot.clone() })
        .await
        .unwrap()
        .into_inner()
        .data;
    assert_eq!(got, Some(Struct::default()));
}

#[tokio::test]
async fn metadata_of_a_deleted_or_unknown_resource_is_not_found() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let robot = app
        .new_robot(NewRobotRequest {
            name: "gone".into(),
            location: s.location_id().into(),
        })
        .await
        .unwrap()
        .into_inner()
        .id;
    app.update_robot_metadata(UpdateRobotMetadataRequest {
        id: robot.clone(),
        data: Some(data(&[("k", text("v"))])),
    })
    .await
    .unwrap();
    app.delete_robot(DeleteRobotRequest { id: robot.clone() })
        .await
        .unwrap();
    assert_status(
        app.get_robot_metadata(GetRobotMetadataRequest { id: robot.clone() })
            .await,
        Code::NotFound,
        &robot,
    );
    assert_status(
        app.update_location_metadata(UpdateLocationMetadataRequest {
            location_id: "nowhere".into(),
            data: None,
        })
        .await,
        Code::NotFound,
        "nowhere",
    );
    assert_status(
        app.get_robot_part_metadata(GetRobotPartMetadataRequest { id: "".into() })
            .await,
        Code::InvalidArgument,
        "id",
    );
}

fn role(org: &str, identity: &str, role: &str, rtype: &str, rid: &str) -> Authorization {
    Authorization {
        authorization_type: "role".into(),
        authorization_id: format!("{rtype}_{role}"),
        resource_type: rtype.into(),
        resource_id: rid.into(),
        identity_id: identity.into(),
        identity_type: "api-key".into(),
        organization_id: org.into(),
    }
}

async fn new_key(app: &mut crate::harness::App, auth: Authorization, name: &str) -> String {
    app.create_key(CreateKeyRequest {
        authorizations: vec![auth],
        name: name.into(),
    })
    .await
    .unwrap()
    .into_inner()
    .id
}

#[tokio::test]
async fn rename_key_changes_the_listed_name_only() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let org = s.org_id().to_string();
    let id = new_key(
        &mut app,
        role(&org, "", "operator", "organization", &org),
        "old",
    )
    .await;
    let r = app
        .rename_key(RenameKeyRequest {
            id: id.clone(),
            name: " new name ".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((r.id.as_str(), r.name.as_str()), (id.as_str(), "new name"));
    let keys = app
        .list_keys(ListKeysRequest {
            org_id: org.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .api_keys;
    let k = keys
        .iter()
        .find(|k| k.api_key.as_ref().unwrap().id == id)
        .expect("renamed key still listed");
    assert_eq!(k.api_key.as_ref().unwrap().name, "new name");
    assert_eq!(k.authorizations.len(), 1, "grants kept");
    assert_status(
        app.rename_key(RenameKeyRequest {
            id: id.clone(),
            name: "  ".into(),
        })
        .await,
        Code::InvalidArgument,
        "name",
    );
    assert_status(
        app.rename_key(RenameKeyRequest {
            id: "no-such-key".into(),
            name: "x".into(),
        })
        .await,
        Code::NotFound,
        "no-such-key",
    );
}

#[tokio::test]
async fn change_role_swaps_one_grant_and_keeps_the_last_owner() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let org = s.org_id().to_string();
    let loc = s.location_id().to_string();
    let key = new_key(&mut app, role(&org, "", "operator", "location", &loc), "k").await;
    app.change_role(ChangeRoleRequest {
        old_authorization: Some(role(&org, &key, "operator", "location", &loc)),
        new_authorization: Some(role(&org, &key, "owner", "location", &loc)),
    })
    .await
    .unwrap();
    let auths = app
        .list_authorizations(ListAuthorizationsRequest {
            organization_id: org.clone(),
            resource_ids: vec![loc.clone()],
        })
        .await
        .unwrap()
        .into_inner()
        .authorizations;
    let of_key: Vec<_> = auths
        .iter()
        .filter(|a| a.identity_id == key)
        .map(|a| a.authorization_id.as_str())
        .collect();
    assert_eq!(of_key, ["location_owner"]);
    // The old grant is gone, so changing it again finds nothing.
    assert_status(
        app.change_role(ChangeRoleRequest {
            old_authorization: Some(role(&org, &key, "operator", "location", &loc)),
            new_authorization: Some(role(&org, &key, "owner", "location", &loc)),
        })
        .await,
        Code::NotFound,
        "location_operator",
    );

    // An organization whose only owner is the caller's key: demoting it is refused, unchanged.
    let me = s.fleet.credentials.api_key_id.clone();
    let solo = app
        .create_organization(CreateOrganizationRequest {
            name: "solo".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap()
        .id;
    assert_status(
        app.change_role(ChangeRoleRequest {
            old_authorization: Some(role(&solo, &me, "owner", "organization", &solo)),
            new_authorization: Some(role(&solo, &me, "operator", "organization", &solo)),
        })
        .await,
        Code::FailedPrecondition,
        "no owner left",
    );
    app.list_keys(ListKeysRequest { org_id: solo })
        .await
        .expect("still the owner of the organization after the refused change");
}

#[tokio::test]
async fn robot_api_keys_are_the_keys_with_a_grant_on_that_machine() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let org = s.org_id().to_string();
    let loc = s.location_id().to_string();
    let robot = app
        .new_robot(NewRobotRequest {
            name: "keyed".into(),
            location: loc.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .id;
    let robot_key = new_key(&mut app, role(&org, "", "owner", "robot", &robot), "rk").await;
    new_key(&mut app, role(&org, "", "owner", "location", &loc), "lk").await;
    let keys = app
        .get_robot_api_keys(GetRobotApiKeysRequest {
            robot_id: robot.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .api_keys;
    assert_eq!(keys.len(), 1, "{keys:?}");
    let k = keys[0].api_key.as_ref().unwrap();
    assert_eq!(
        (k.id.as_str(), k.name.as_str(), k.key.as_str()),
        (robot_key.as_str(), "rk", "")
    );
    assert_eq!(keys[0].authorizations.len(), 1);
    assert_eq!(keys[0].authorizations[0].authorization_id, "robot_owner");
    assert_eq!(keys[0].authorizations[0].resource_id, robot);
    assert_status(
        app.get_robot_api_keys(GetRobotApiKeysRequest {
            robot_id: "nope".into(),
        })
        .await,
        Code::NotFound,
        "nope",
    );
}

#[tokio::test]
async fn update_organization_stores_each_given_field_and_sets_the_namespace_once() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let org = app
        .create_organization(CreateOrganizationRequest { name: "o".into() })
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap()
        .id;
    let frag = app
        .create_fragment(CreateFragmentRequest {
            name: "f".into(),
            config: Some(Struct::default()),
            organization_id: org.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .fragment
        .unwrap()
        .id;
    let imports = FragmentImportList {
        fragments: vec![FragmentImport {
            fragment_id: frag.clone(),
            version: "1".into(),
            ..Default::default()
        }],
    };
    let got = app
        .update_organization(UpdateOrganizationRequest {
            organization_id: org.clone(),
            name: Some("renamed".into()),
            public_namespace: Some("fresh-ns".into()),
            region: Some("us-east".into()),
            cid: Some("crm-1".into()),
            default_fragments: Some(imports.clone()),
            allowed_login_methods: Some(AllowedLoginMethods {
                methods: vec![LoginMethod::Google as i32],
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap();
    assert_eq!(
        (
            got.name.as_str(),
            got.public_namespace.as_str(),
            got.default_region.as_str()
        ),
        ("renamed", "fresh-ns", "us-east")
    );
    assert_eq!(got.cid.as_deref(), Some("crm-1"));
    assert_eq!(got.default_fragments, Some(imports));
    let again = app
        .get_organization(GetOrganizationRequest {
            organization_id: org.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap();
    assert_eq!(again, got, "stored, not only echoed");
    // Absent fields keep their values.
    let same = app
        .update_organization(UpdateOrganizationRequest {
            organization_id: org.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap();
    assert_eq!(same, got);
    assert_status(
        app.update_organization(UpdateOrganizationRequest {
            organization_id: org.clone(),
            public_namespace: Some("other-ns".into()),
            ..Default::default()
        })
        .await,
        Code::FailedPrecondition,
        "UpdateOrganizationNamespace",
    );
    assert_status(
        app.update_organization(UpdateOrganizationRequest {
            organization_id: org.clone(),
            default_fragments: Some(FragmentImportList {
                fragments: vec![FragmentImport {
                    fragment_id: "no-such-fragment".into(),
                    ..Default::default()
                }],
            }),
            ..Default::default()
        })
        .await,
        Code::NotFound,
        "no-such-fragment",
    );

    let moved = app
        .update_organization_namespace(UpdateOrganizationNamespaceRequest {
            organization_id: org.clone(),
            new_public_namespace: "moved-ns".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap();
    assert_eq!(moved.public_namespace, "moved-ns");
    // The first start's organization holds "local".
    assert_status(
        app.update_organization_namespace(UpdateOrganizationNamespaceRequest {
            organization_id: org.clone(),
            new_public_namespace: "local".into(),
        })
        .await,
        Code::AlreadyExists,
        "local",
    );
    assert_status(
        app.update_organization_namespace(UpdateOrganizationNamespaceRequest {
            organization_id: org.clone(),
            new_public_namespace: "Bad NS".into(),
        })
        .await,
        Code::InvalidArgument,
        "new_public_namespace",
    );
}

#[tokio::test]
async fn an_empty_organization_is_deleted_and_one_with_locations_is_refused() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    assert_status(
        app.delete_organization(DeleteOrganizationRequest {
            organization_id: s.org_id().into(),
        })
        .await,
        Code::FailedPrecondition,
        "location",
    );
    let org = app
        .create_organization(CreateOrganizationRequest {
            name: "doomed".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap()
        .id;
    app.update_organization_metadata(UpdateOrganizationMetadataRequest {
        organization_id: org.clone(),
        data: Some(data(&[("k", text("v"))])),
    })
    .await
    .unwrap();
    app.delete_organization(DeleteOrganizationRequest {
        organization_id: org.clone(),
    })
    .await
    .unwrap();
    assert_status(
        app.get_organization(GetOrganizationRequest {
            organization_id: org.clone(),
        })
        .await,
        Code::NotFound,
        &org,
    );
    let listed = app
        .list_organizations(ListOrganizationsRequest {})
        .await
        .unwrap()
        .into_inner()
        .organizations;
    assert!(listed.iter().all(|o| o.id != org), "{listed:?}");
    // The first organization is untouched.
    app.get_organization(GetOrganizationRequest {
        organization_id: s.org_id().into(),
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn user_ids_by_email_and_organization_search_stay_within_the_callers_organizations() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let admin = app
        .get_user_id_by_email(GetUserIdByEmailRequest {
            email: "Admin@Localhost".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .user_id;
    let members = app
        .list_organization_members(ListOrganizationMembersRequest {
            organization_id: s.org_id().into(),
        })
        .await
        .unwrap()
        .into_inner()
        .members;
    assert_eq!(admin, members[0].user_id);
    assert_status(
        app.get_user_id_by_email(GetUserIdByEmailRequest {
            email: "nobody@example.com".into(),
        })
        .await,
        Code::NotFound,
        "nobody@example.com",
    );

    let second = app
        .create_organization(CreateOrganizationRequest {
            name: "Second Shop".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap()
        .id;
    let search = async |app: &mut crate::harness::App, req: SearchOrganizationsRequest| {
        let mut ids: Vec<String> = app
            .search_organizations(req)
            .await
            .unwrap()
            .into_inner()
            .organizations
            .into_iter()
            .map(|o| o.org_id)
            .collect();
        ids.sort();
        ids
    };
    let mut both = vec![s.org_id().to_string(), second.clone()];
    both.sort();
    assert_eq!(
        search(&mut app, SearchOrganizationsRequest::default()).await,
        both
    );
    let by_name = SearchOrganizationsRequest {
        org_name: Some("second".into()),
        ..Default::default()
    };
    assert_eq!(search(&mut app, by_name).await, [second.as_str()]);
    let by_ns = SearchOrganizationsRequest {
        public_namespace: Some("local".into()),
        ..Default::default()
    };
    assert_eq!(search(&mut app, by_ns).await, [s.org_id().to_string()]);

    // A key of the second organization only: it finds nothing of the first, nor its admin.
    let (k, id) = {
        let r = app
            .create_key(CreateKeyRequest {
                authorizations: vec![role(&second, "", "owner", "organization", &second)],
                name: "second".into(),
            })
            .await
            .unwrap()
            .into_inner();
        (r.key, r.id)
    };
    let mut other = s.client_for(&id, &k).await;
    assert_eq!(
        search(&mut other, SearchOrganizationsRequest::default()).await,
        [second.as_str()]
    );
    assert_status(
        other
            .search_organizations(SearchOrganizationsRequest {
                org_id: Some(s.org_id().into()),
                ..Default::default()
            })
            .await,
        Code::NotFound,
        "not one of yours",
    );
    assert_status(
        other
            .get_user_id_by_email(GetUserIdByEmailRequest {
                email: "admin@localhost".into(),
            })
            .await,
        Code::NotFound,
        "admin@localhost",
    );
}

#[tokio::test]
async fn a_shared_location_and_its_machines_are_visible_to_the_other_organization_until_unshared() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let (org_a, loc) = (s.org_id().to_string(), s.location_id().to_string());
    let hidden = app
        .create_location(CreateLocationRequest {
            organization_id: org_a.clone(),
            name: "not shared".into(),
            parent_location_id: None,
        })
        .await
        .unwrap()
        .into_inner()
        .location
        .unwrap()
        .id;
    let robot = app
        .new_robot(NewRobotRequest {
            name: "shared-bot".into(),
            location: loc.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .id;
    let org_b = app
        .create_organization(CreateOrganizationRequest { name: "B".into() })
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap()
        .id;
    let b_key = app
        .create_key(CreateKeyRequest {
            authorizations: vec![role(&org_b, "", "owner", "organization", &org_b)],
            name: "b".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut b = s.client_for(&b_key.id, &b_key.key).await;
    let get_loc = |id: &str| GetLocationRequest {
        location_id: id.into(),
    };
    assert_status(
        b.get_location(get_loc(&loc)).await,
        Code::PermissionDenied,
        &loc,
    );

    app.share_location(ShareLocationRequest {
        location_id: loc.clone(),
        organization_id: org_b.clone(),
    })
    .await
    .unwrap();
    let listed: Vec<String> = b
        .list_locations(ListLocationsRequest {
            organization_id: org_b.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .locations
        .into_iter()
        .map(|l| l.id)
        .collect();
    assert_eq!(listed, [loc.as_str()], "only the shared location");
    let seen = b.get_location(get_loc(&loc)).await.unwrap().into_inner();
    let orgs: Vec<(String, bool)> = seen
        .location
        .unwrap()
        .organizations
        .into_iter()
        .map(|o| (o.organization_id, o.primary))
        .collect();
    assert_eq!(orgs, [(org_a.clone(), true), (org_b.clone(), false)]);
    let robots = b
        .list_robots(ListRobotsRequest {
            location_id: loc.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .robots;
    assert!(robots.iter().any(|r| r.id == robot), "{robots:?}");
    b.get_robot(GetRobotRequest { id: robot.clone() })
        .await
        .unwrap();
    let access = app
        .get_organizations_with_access_to_location(GetOrganizationsWithAccessToLocationRequest {
            location_id: loc.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .organization_identities;
    let ids: Vec<&str> = access.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(ids, [org_a.as_str(), org_b.as_str()]);
    assert_eq!(access[1].name, "B");
    // Operator rights only: the owning organization alone changes or deletes.
    assert_status(
        b.delete_robot(DeleteRobotRequest { id: robot.clone() })
            .await,
        Code::PermissionDenied,
        &robot,
    );
    assert_status(
        b.get_location(get_loc(&hidden)).await,
        Code::PermissionDenied,
        &hidden,
    );

    // The receiving organization may end the share itself.
    b.unshare_location(UnshareLocationRequest {
        location_id: loc.clone(),
        organization_id: org_b.clone(),
    })
    .await
    .unwrap();
    assert_status(
        b.get_location(get_loc(&loc)).await,
        Code::PermissionDenied,
        &loc,
    );
    assert_status(
        app.unshare_location(UnshareLocationRequest {
            location_id: loc.clone(),
            organization_id: org_b.clone(),
        })
        .await,
        Code::NotFound,
        "not shared",
    );
    // B's owner does not own A: it cannot share A's locations.
    assert_status(
        b.share_location(ShareLocationRequest {
            location_id: loc.clone(),
            organization_id: org_b.clone(),
        })
        .await,
        Code::PermissionDenied,
        "",
    );
}
