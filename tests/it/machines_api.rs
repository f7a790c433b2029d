//! Behaviour of the machine RPCs of issue 11: listing machines across locations and an
//! organization, finding a part by name, favorites, and the restart flag a part reads once.

use fleetsh::proto::viam::app::v1::*;
use tonic::Code;

use crate::harness::{App, TestServer, assert_status};
use crate::logs::as_part;
use crate::parts::{machine, operator};

async fn new_location(app: &mut App, s: &TestServer, name: &str) -> String {
    app.create_location(CreateLocationRequest {
        organization_id: s.org_id().into(),
        name: name.into(),
        parent_location_id: None,
    })
    .await
    .unwrap()
    .into_inner()
    .location
    .unwrap()
    .id
}

async fn machine_in(app: &mut App, location: &str, name: &str) -> String {
    app.new_robot(NewRobotRequest {
        name: name.into(),
        location: location.into(),
    })
    .await
    .unwrap()
    .into_inner()
    .id
}

fn names(robots: &[Robot]) -> Vec<&str> {
    robots.iter().map(|r| r.name.as_str()).collect()
}

#[tokio::test]
async fn machines_are_listed_for_locations_and_for_the_whole_organization() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let home = s.location_id().to_string();
    let lab = new_location(&mut app, &s, "lab").await;
    let _attic = new_location(&mut app, &s, "attic").await;
    machine_in(&mut app, &home, "a").await;
    machine_in(&mut app, &lab, "b").await;
    machine_in(&mut app, &lab, "c").await;

    let both = app
        .list_robots_for_locations(ListRobotsForLocationsRequest {
            location_ids: vec![lab.clone(), home.clone(), lab.clone()],
        })
        .await
        .unwrap()
        .into_inner()
        .robots;
    assert_eq!(
        names(&both),
        ["b", "c", "a"],
        "in the order asked, once each"
    );

    let org = app
        .list_robots_for_org(ListRobotsForOrgRequest {
            org_id: s.org_id().into(),
        })
        .await
        .unwrap()
        .into_inner()
        .robots;
    assert_eq!(names(&org), ["a", "b", "c"]);

    // Another organization's machines are not listed, and its locations are refused.
    let other = app
        .create_organization(CreateOrganizationRequest { name: "B".into() })
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap();
    let b_loc = app
        .create_location(CreateLocationRequest {
            organization_id: other.id.clone(),
            name: "b-home".into(),
            parent_location_id: None,
        })
        .await
        .unwrap()
        .into_inner()
        .location
        .unwrap()
        .id;
    machine_in(&mut app, &b_loc, "elsewhere").await;
    let org_again = app
        .list_robots_for_org(ListRobotsForOrgRequest {
            org_id: s.org_id().into(),
        })
        .await
        .unwrap()
        .into_inner()
        .robots;
    assert_eq!(names(&org_again), ["a", "b", "c"]);
    let mut op = operator(&s).await;
    assert_status(
        op.list_robots_for_locations(ListRobotsForLocationsRequest {
            location_ids: vec![home.clone(), b_loc.clone()],
        })
        .await,
        Code::PermissionDenied,
        &b_loc,
    );
    assert_status(
        op.list_robots_for_org(ListRobotsForOrgRequest { org_id: other.id })
            .await,
        Code::PermissionDenied,
        "read_robot",
    );
    assert_status(
        app.list_robots_for_locations(ListRobotsForLocationsRequest {
            location_ids: vec![],
        })
        .await,
        Code::InvalidArgument,
        "location_ids",
    );
}

#[tokio::test]
async fn a_part_is_found_by_its_name_in_a_location() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let (robot, main) = machine(&mut app, &s, "rover").await;
    let found = app
        .get_robot_part_by_name_and_location(GetRobotPartByNameAndLocationRequest {
            name: "rover-main".into(),
            location_id: s.location_id().into(),
        })
        .await
        .unwrap()
        .into_inner()
        .part
        .unwrap();
    assert_eq!(
        (found.id.as_str(), found.robot.as_str()),
        (main.as_str(), robot.as_str())
    );
    assert!(!found.secret.is_empty(), "the owner sees the part's secret");

    assert_status(
        app.get_robot_part_by_name_and_location(GetRobotPartByNameAndLocationRequest {
            name: "nobody".into(),
            location_id: s.location_id().into(),
        })
        .await,
        Code::NotFound,
        "nobody",
    );
    // Part names are unique per machine only: two machines' parts may share a name.
    let (other, _) = machine(&mut app, &s, "other").await;
    app.new_robot_part(NewRobotPartRequest {
        robot_id: other,
        part_name: "rover-main".into(),
    })
    .await
    .unwrap();
    assert_status(
        app.get_robot_part_by_name_and_location(GetRobotPartByNameAndLocationRequest {
            name: "rover-main".into(),
            location_id: s.location_id().into(),
        })
        .await,
        Code::FailedPrecondition,
        "GetRobotPart",
    );
}

#[tokio::test]
async fn favorites_are_kept_per_caller_and_go_with_their_machine() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let (a, _) = machine(&mut app, &s, "a").await;
    let (b, _) = machine(&mut app, &s, "b").await;
    for id in [&b, &a, &b] {
        app.add_favorite_machine(AddFavoriteMachineRequest {
            machine_id: id.clone(),
        })
        .await
        .unwrap();
    }
    let list = |favs: Vec<FavoriteMachine>| {
        favs.into_iter()
            .map(|f| {
                assert!(f.created_on.is_some());
                (f.machine.unwrap().name, f.organization_id)
            })
            .collect::<Vec<_>>()
    };
    let favs = app
        .list_favorite_machines(ListFavoriteMachinesRequest {})
        .await
        .unwrap()
        .into_inner()
        .favorites;
    let org = s.org_id().to_string();
    assert_eq!(
        list(favs),
        [
            ("b".to_string(), org.clone()),
            ("a".to_string(), org.clone())
        ]
    );

    // Another caller has its own (empty) list.
    let mut op = operator(&s).await;
    let theirs = op
        .list_favorite_machines(ListFavoriteMachinesRequest {})
        .await
        .unwrap()
        .into_inner()
        .favorites;
    assert!(theirs.is_empty(), "{theirs:?}");

    app.remove_favorite_machine(RemoveFavoriteMachineRequest {
        machine_id: b.clone(),
    })
    .await
    .unwrap();
    app.delete_robot(DeleteRobotRequest { id: a })
        .await
        .unwrap();
    let favs = app
        .list_favorite_machines(ListFavoriteMachinesRequest {})
        .await
        .unwrap()
        .into_inner()
        .favorites;
    assert!(
        favs.is_empty(),
        "removed and deleted machines are gone: {favs:?}"
    );
    assert_status(
        app.add_favorite_machine(AddFavoriteMachineRequest {
            machine_id: "no-such-machine".into(),
        })
        .await,
        Code::NotFound,
        "no-such-machine",
    );
}

#[tokio::test]
async fn a_part_reads_its_restart_flag_once() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let (_, part) = machine(&mut app, &s, "rover").await;
    let (_, other) = machine(&mut app, &s, "other").await;
    let mut robot = as_part(&s, &mut app, &part).await;
    let ask = |id: &str| NeedsRestartRequest { id: id.into() };

    let first = robot.needs_restart(ask(&part)).await.unwrap().into_inner();
    assert!(!first.must_restart, "nothing asked for a restart yet");
    assert_eq!(first.id, part);
    assert!(first.restart_check_interval.unwrap().seconds > 0);

    app.mark_part_for_restart(MarkPartForRestartRequest {
        part_id: part.clone(),
    })
    .await
    .unwrap();
    let marked = robot.needs_restart(ask(&part)).await.unwrap().into_inner();
    assert!(marked.must_restart, "MarkPartForRestart was called");
    let again = robot.needs_restart(ask(&part)).await.unwrap().into_inner();
    assert!(!again.must_restart, "the flag is cleared once read");

    assert_status(
        robot.needs_restart(ask(&other)).await,
        Code::PermissionDenied,
        "only ask about itself",
    );
}

#[tokio::test]
async fn config_applies_imported_fragments_and_summaries_show_what_parts_reported() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let frag = app
        .create_fragment(CreateFragmentRequest {
            name: "cams".into(),
            organization_id: s.org_id().into(),
            config: Some(fleetsh_struct(
                r#"{"components": [{"name": "cam", "api": "rdk:component:camera", "model": "fake"},
                                   {"name": "arm", "api": "rdk:component:arm", "model": "theirs"}]}"#,
            )),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .fragment
        .unwrap();
    let (_, part) = machine(&mut app, &s, "rover").await;
    let (_, quiet) = machine(&mut app, &s, "quiet").await;
    let config = format!(
        r#"{{"components": [{{"name": "arm", "api": "rdk:component:arm", "model": "mine"}}], "fragments": ["{}"]}}"#,
        frag.id
    );
    app.update_robot_part(UpdateRobotPartRequest {
        id: part.clone(),
        name: "rover-main".into(),
        robot_config_json: Some(config),
        ..Default::default()
    })
    .await
    .unwrap();

    let mut robot = as_part(&s, &mut app, &part).await;
    let got = robot
        .config(ConfigRequest {
            id: part.clone(),
            agent_info: Some(AgentInfo {
                host: "rover.local".into(),
                os: "linux".into(),
                version: "0.52.0".into(),
                platform: Some("linux/arm64".into()),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .config
        .unwrap();
    let models: Vec<(&str, &str)> = got
        .components
        .iter()
        .map(|c| (c.name.as_str(), c.model.as_str()))
        .collect();
    assert_eq!(
        models,
        [("arm", "mine"), ("cam", "fake")],
        "the part's own arm wins"
    );
    assert_status(
        robot
            .config(ConfigRequest {
                id: quiet.clone(),
                agent_info: None,
            })
            .await,
        Code::PermissionDenied,
        "only ask about itself",
    );

    let summaries = app
        .list_machine_summaries(ListMachineSummariesRequest {
            organization_id: s.org_id().into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .location_summaries;
    assert_eq!(summaries.len(), 1);
    assert_eq!(summaries[0].location_id, s.location_id());
    let machines = &summaries[0].machine_summaries;
    let names: Vec<&str> = machines.iter().map(|m| m.machine_name.as_str()).collect();
    assert_eq!(names, ["rover", "quiet"]);
    let reported = &machines[0].part_summaries[0];
    assert_eq!(reported.online_state, OnlineState::Online as i32);
    assert!(reported.last_online.is_some());
    assert_eq!(
        reported.viam_server_version,
        Some(ViamServerVersion {
            version: Some(viam_server_version::Version::Major("0.52.0".into()))
        })
    );
    assert_eq!(reported.os.as_deref(), Some("linux"));
    assert_eq!(reported.platform.as_deref(), Some("linux/arm64"));
    assert_eq!(reported.fragments.len(), 1);
    assert_eq!(reported.fragments[0].name, "cams");
    let never = &machines[1].part_summaries[0];
    assert_eq!(never.online_state, OnlineState::AwaitingSetup as i32);
    assert_eq!(
        (
            never.last_online,
            never.viam_server_version.clone(),
            never.os.as_deref(),
            never.platform.as_deref()
        ),
        (None, None, None, None),
        "a part that never reported has nothing reported"
    );

    // Filters: by fragment, and at most `limit` machines.
    let by_fragment = app
        .list_machine_summaries(ListMachineSummariesRequest {
            organization_id: s.org_id().into(),
            fragment_ids: vec![frag.id.clone()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .location_summaries;
    assert_eq!(by_fragment[0].machine_summaries.len(), 1);
    assert_eq!(by_fragment[0].machine_summaries[0].machine_name, "rover");
    let limited = app
        .list_machine_summaries(ListMachineSummariesRequest {
            organization_id: s.org_id().into(),
            limit: Some(1),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .location_summaries;
    assert_eq!(limited[0].machine_summaries.len(), 1);
}

fn fleetsh_struct(json: &str) -> prost_types::Struct {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    let serde_json::Value::Object(o) = v else {
        panic!("not an object")
    };
    prost_types::Struct {
        fields: o.into_iter().map(|(k, v)| (k, to_value(v))).collect(),
    }
}

fn to_value(v: serde_json::Value) -> prost_types::Value {
    use prost_types::value::Kind;
    let kind = match v {
        serde_json::Value::Null => Kind::NullValue(0),
        serde_json::Value::Bool(b) => Kind::BoolValue(b),
        serde_json::Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap()),
        serde_json::Value::String(s) => Kind::StringValue(s),
        serde_json::Value::Array(a) => Kind::ListValue(prost_types::ListValue {
            values: a.into_iter().map(to_value).collect(),
        }),
        serde_json::Value::Object(o) => Kind::StructValue(prost_types::Struct {
            fields: o.into_iter().map(|(k, v)| (k, to_value(v))).collect(),
        }),
    };
    prost_types::Value { kind: Some(kind) }
}

#[tokio::test]
async fn fragment_updates_keep_revisions_read_by_number_tag_and_history() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let f = app
        .create_fragment(CreateFragmentRequest {
            name: "base".into(),
            organization_id: s.org_id().into(),
            config: Some(fleetsh_struct(r#"{"components": []}"#)),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .fragment
        .unwrap();
    for name in ["second", "third"] {
        app.update_fragment(UpdateFragmentRequest {
            id: f.id.clone(),
            name: name.into(),
            ..Default::default()
        })
        .await
        .unwrap();
    }
    let get = |version: &str| GetFragmentRequest {
        id: f.id.clone(),
        version: Some(version.into()),
        ..Default::default()
    };
    let one = app.get_fragment(get("1")).await.unwrap().into_inner();
    assert_eq!(one.fragment.unwrap().name, "base");
    let revs: Vec<String> = one.revisions.into_iter().map(|r| r.revision).collect();
    assert_eq!(revs, ["1", "2", "3"]);

    let tags = app
        .set_fragment_tag(SetFragmentTagRequest {
            fragment_id: f.id.clone(),
            tag: "stable".into(),
            revision: "2".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .tags;
    assert_eq!(
        tags,
        [FragmentTag {
            tag: "stable".into(),
            revision: "2".into()
        }]
    );
    let tagged = app.get_fragment(get("stable")).await.unwrap().into_inner();
    assert_eq!(tagged.fragment.unwrap().name, "second");
    assert_eq!(tagged.tags.len(), 1);
    assert_status(
        app.set_fragment_tag(SetFragmentTagRequest {
            fragment_id: f.id.clone(),
            tag: "x".into(),
            revision: "9".into(),
        })
        .await,
        Code::NotFound,
        "no revision",
    );

    let page = |token: &str| GetFragmentHistoryRequest {
        id: f.id.clone(),
        page_token: Some(token.into()),
        page_limit: Some(2),
    };
    let first = app
        .get_fragment_history(page(""))
        .await
        .unwrap()
        .into_inner();
    let revs: Vec<&str> = first.history.iter().map(|h| h.revision.as_str()).collect();
    assert_eq!(revs, ["3", "2"], "newest first");
    assert_eq!(first.history[0].old.as_ref().unwrap().name, "third");
    let rest = app
        .get_fragment_history(page(&first.next_page_token))
        .await
        .unwrap()
        .into_inner();
    let revs: Vec<&str> = rest.history.iter().map(|h| h.revision.as_str()).collect();
    assert_eq!(revs, ["1"]);
    assert!(rest.next_page_token.is_empty());

    let left = app
        .delete_fragment_tag(DeleteFragmentTagRequest {
            fragment_id: f.id.clone(),
            tag: "stable".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .tags;
    assert!(left.is_empty());
    assert_status(
        app.get_fragment(get("stable")).await,
        Code::NotFound,
        "stable",
    );
    // Another caller without the organization cannot tag it.
    let mut op = operator(&s).await;
    assert_status(
        op.set_fragment_tag(SetFragmentTagRequest {
            fragment_id: f.id.clone(),
            tag: "mine".into(),
            revision: "1".into(),
        })
        .await,
        Code::PermissionDenied,
        "write_fragment",
    );
}

async fn fragment_with(app: &mut App, s: &TestServer, name: &str, config: &str) -> String {
    app.create_fragment(CreateFragmentRequest {
        name: name.into(),
        organization_id: s.org_id().into(),
        config: Some(fleetsh_struct(config)),
        ..Default::default()
    })
    .await
    .unwrap()
    .into_inner()
    .fragment
    .unwrap()
    .id
}

#[tokio::test]
async fn fragments_imported_by_part_configs_count_in_usage_machine_and_nested_lists() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let leaf = fragment_with(&mut app, &s, "leaf", r#"{"components": [{"name": "cam"}]}"#).await;
    let top = fragment_with(
        &mut app,
        &s,
        "top",
        &format!(r#"{{"fragments": ["{leaf}"]}}"#),
    )
    .await;
    let unused = fragment_with(&mut app, &s, "unused", "{}").await;
    let (robot, part) = machine(&mut app, &s, "rover").await;
    machine(&mut app, &s, "plain").await;
    app.update_robot_part(UpdateRobotPartRequest {
        id: part,
        name: "rover-main".into(),
        robot_config_json: Some(format!(r#"{{"fragments": [{{"id": "{top}"}}]}}"#)),
        ..Default::default()
    })
    .await
    .unwrap();

    let usage = |id: &str| GetFragmentUsageRequest {
        fragment_id: id.into(),
    };
    let used = app
        .get_fragment_usage(usage(&top))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            used.version_usages[0].machines,
            used.version_usages[0].organizations,
            used.version_usages[0].machines_in_current_org
        ),
        (1, 1, 1)
    );
    let idle = app
        .get_fragment_usage(usage(&unused))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(idle.version_usages[0].machines, 0);
    let got = app
        .get_fragment(GetFragmentRequest {
            id: top.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.fragment.unwrap().robot_part_count, 1);
    assert_eq!(got.fragment_usage.unwrap().machines, 1);

    let on_machine = app
        .list_machine_fragments(ListMachineFragmentsRequest {
            machine_id: robot,
            additional_fragment_ids: vec![unused.clone()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let names: Vec<&str> = on_machine
        .fragments
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(
        names,
        ["top", "unused", "leaf"],
        "imports, the extra one, then nested ones"
    );
    assert_eq!(on_machine.resolved_fragments.len(), 3);

    let nested = app
        .list_nested_fragments(ListNestedFragmentsRequest {
            fragment_id: Some(top.clone()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let names: Vec<&str> = nested.fragments.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["leaf"]);
    assert_eq!(nested.resolved_fragments[0].fragment_id, leaf);
}

#[tokio::test]
async fn set_config_property_changes_paths_and_reports_each_change() {
    use prost_types::value::Kind;
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let (_, part) = machine(&mut app, &s, "rover").await;
    app.update_robot_part(UpdateRobotPartRequest {
        id: part.clone(),
        name: "rover-main".into(),
        robot_config_json: Some(
            r#"{"components": [{"name": "arm", "attributes": {"speed": 1}}]}"#.into(),
        ),
        ..Default::default()
    })
    .await
    .unwrap();
    let num = |n: f64| prost_types::Value {
        kind: Some(Kind::NumberValue(n)),
    };
    let change = |path: &str, v: prost_types::Value| ConfigPropertyChange {
        path: path.into(),
        value: Some(v),
    };
    let results = app
        .set_config_property(SetConfigPropertyRequest {
            robot_part_id: part.clone(),
            property_changes: vec![
                change("components.0.attributes.speed", num(5.0)),
                change(
                    "network.bind_address",
                    prost_types::Value {
                        kind: Some(Kind::StringValue(":8080".into())),
                    },
                ),
                change("components.7.name", num(1.0)),
            ],
        })
        .await
        .unwrap()
        .into_inner()
        .property_changes;
    let ok: Vec<bool> = results.iter().map(|r| r.success).collect();
    assert_eq!(ok, [true, true, false]);
    assert!(
        results[2].error.contains("past the list"),
        "{}",
        results[2].error
    );

    let got = app
        .get_robot_part(GetRobotPartRequest { id: part.clone() })
        .await
        .unwrap()
        .into_inner();
    let config: serde_json::Value = serde_json::from_str(&got.config_json).unwrap();
    assert_eq!(config["components"][0]["attributes"]["speed"], 5.0);
    assert_eq!(config["network"]["bind_address"], ":8080");
    let history = app
        .get_robot_part_history(GetRobotPartHistoryRequest {
            id: part,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .history;
    assert_eq!(
        history.len(),
        2,
        "the update and the property change are both in the history"
    );
}

/// A machine's id and its parts' names, in order.
type MachineParts = (String, Vec<String>);

/// Summaries group parts under their machine and machines under their location in the listed
/// order, filter by location in the query, and leave out what a key scoped to one machine
/// cannot read (its location then appears only for that machine).
#[tokio::test]
async fn summaries_group_parts_by_machine_and_location_and_show_only_readable_machines() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let home = s.location_id().to_string();
    let lab = new_location(&mut app, &s, "lab").await;
    let a = machine_in(&mut app, &home, "a").await;
    let b = machine_in(&mut app, &lab, "b").await;
    let c = machine_in(&mut app, &lab, "c").await;
    app.new_robot_part(NewRobotPartRequest {
        robot_id: b.clone(),
        part_name: "b-arm".into(),
    })
    .await
    .unwrap();
    let shape = |ls: &[LocationSummary]| -> Vec<(String, Vec<MachineParts>)> {
        ls.iter()
            .map(|l| {
                let machines = l
                    .machine_summaries
                    .iter()
                    .map(|m| {
                        let parts = m.part_summaries.iter().map(|p| p.part_name.clone());
                        (m.machine_id.clone(), parts.collect())
                    })
                    .collect();
                (l.location_id.clone(), machines)
            })
            .collect()
    };
    let list = |location_ids: Vec<String>| ListMachineSummariesRequest {
        organization_id: s.org_id().into(),
        location_ids,
        ..Default::default()
    };
    let all = app
        .list_machine_summaries(list(vec![]))
        .await
        .unwrap()
        .into_inner();
    let s_ = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        shape(&all.location_summaries),
        [
            (home.clone(), vec![(a.clone(), s_(&["a-main"]))]),
            (
                lab.clone(),
                vec![
                    (b.clone(), s_(&["b-main", "b-arm"])),
                    (c.clone(), s_(&["c-main"]))
                ]
            ),
        ]
    );
    let lab_part = &all.location_summaries[1].machine_summaries[0].part_summaries[1];
    assert_eq!(
        (lab_part.is_main_part, lab_part.dns_name.as_deref()),
        (false, Some("b-arm"))
    );
    let lab_only = app
        .list_machine_summaries(list(vec![lab.clone()]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        shape(&lab_only.location_summaries),
        shape(&all.location_summaries[1..]),
        "filtered by location"
    );

    let (key_id, key) = crate::keys::create_key(
        &mut app,
        vec![crate::keys::grant(s.org_id(), "operator", "robot", &c)],
    )
    .await;
    let mut scoped = s.client_for(&key_id, &key).await;
    let seen = scoped
        .list_machine_summaries(list(vec![]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        shape(&seen.location_summaries),
        [(lab.clone(), vec![(c.clone(), s_(&["c-main"]))])],
        "a key for machine c sees only c"
    );
}
