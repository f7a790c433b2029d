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
