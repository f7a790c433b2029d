use fleetsh::proto::viam::app::v1::*;
use tonic::Code;

use crate::harness::{TestServer, assert_status};

#[tokio::test]
async fn machines_are_created_with_a_main_part_renamed_moved_and_deleted() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let loc = s.location_id().to_string();
    let id = app
        .new_robot(NewRobotRequest { name: "rover".into(), location: loc.clone() })
        .await
        .unwrap()
        .into_inner()
        .id;
    let robot = app.get_robot(GetRobotRequest { id: id.clone() }).await.unwrap().into_inner().robot.unwrap();
    assert_eq!((robot.name.as_str(), robot.location.as_str()), ("rover", loc.as_str()));
    assert_status(
        app.new_robot(NewRobotRequest { name: "rover".into(), location: loc.clone() }).await,
        Code::AlreadyExists,
        "rover",
    );
    let list = app.list_robots(ListRobotsRequest { location_id: loc.clone() }).await.unwrap().into_inner().robots;
    assert_eq!(list.len(), 1);

    let other = app
        .create_location(CreateLocationRequest {
            organization_id: s.org_id().into(),
            name: "Other".into(),
            parent_location_id: None,
        })
        .await
        .unwrap()
        .into_inner()
        .location
        .unwrap();
    let moved = app
        .update_robot(UpdateRobotRequest { id: id.clone(), name: "rover2".into(), location: other.id.clone() })
        .await
        .unwrap()
        .into_inner()
        .robot
        .unwrap();
    assert_eq!((moved.name.as_str(), moved.location.as_str()), ("rover2", other.id.as_str()));
    assert_status(
        app.delete_location(DeleteLocationRequest { location_id: other.id.clone() }).await,
        Code::FailedPrecondition,
        "machine",
    );
    app.delete_robot(DeleteRobotRequest { id: id.clone() }).await.unwrap();
    assert_status(app.get_robot(GetRobotRequest { id: id.clone() }).await, Code::NotFound, &id);
    assert_status(app.delete_robot(DeleteRobotRequest { id: String::new() }).await, Code::InvalidArgument, "id");
}

#[tokio::test]
async fn rover_rentals_are_the_machines_of_the_rover_rentals_location() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let rentals = app
        .create_location(CreateLocationRequest {
            organization_id: s.org_id().into(),
            name: "Rover Rentals".into(),
            parent_location_id: None,
        })
        .await
        .unwrap()
        .into_inner()
        .location
        .unwrap();
    app.new_robot(NewRobotRequest { name: "r1".into(), location: rentals.id.clone() }).await.unwrap();
    app.new_robot(NewRobotRequest { name: "not-rental".into(), location: s.location_id().into() }).await.unwrap();
    let robots = app
        .get_rover_rental_robots(GetRoverRentalRobotsRequest { org_id: s.org_id().into() })
        .await
        .unwrap()
        .into_inner()
        .robots;
    assert_eq!(robots.len(), 1);
    assert_eq!(robots[0].robot_name, "r1");
    assert!(!robots[0].robot_main_part_id.is_empty());
}
