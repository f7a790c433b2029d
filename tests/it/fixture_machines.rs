//! Valid requests for the machine RPCs of issue 11 (robots, parts, favorites, RobotService),
//! in the shape of `fixture::requests`.

use serde_json::{Value, json};

pub fn requests() -> Vec<(&'static str, &'static str, Value)> {
    let app = |m: &'static str, v: Value| ("AppService", m, v);
    vec![
        app("ListRobotsForLocations", json!({"location_ids": ["$loc"]})),
        app("ListRobotsForOrg", json!({"org_id": "$org"})),
        app(
            "GetRobotPartByNameAndLocation",
            json!({"name": "$extra_part_name", "location_id": "$loc"}),
        ),
        app("AddFavoriteMachine", json!({"machine_id": "$robot"})),
        app("RemoveFavoriteMachine", json!({"machine_id": "$robot"})),
        app("ListFavoriteMachines", json!({})),
        app(
            "ListMachineSummaries",
            json!({"organization_id": "$org", "location_ids": ["$loc"], "fragment_ids": ["$frag"], "limit": 10}),
        ),
        app(
            "GetFragmentHistory",
            json!({"id": "$frag", "page_limit": 10}),
        ),
        app(
            "SetFragmentTag",
            json!({"fragment_id": "$frag", "tag": "stable", "revision": "1"}),
        ),
        app(
            "DeleteFragmentTag",
            json!({"fragment_id": "$frag", "tag": "$frag_tag"}),
        ),
        app("GetFragmentUsage", json!({"fragment_id": "$frag"})),
        app(
            "ListMachineFragments",
            json!({"machine_id": "$robot", "additional_fragment_ids": ["$frag"]}),
        ),
        app(
            "ListNestedFragments",
            json!({"fragment_id": "$frag", "additional_fragments": [{"fragment_id": "$frag", "version": "1"}]}),
        ),
        app(
            "SetConfigProperty",
            json!({"robot_part_id": "$part", "property_changes": [{"path": "debug", "value": true}]}),
        ),
        ("RobotService", "NeedsRestart", json!({"id": "$part"})),
        ("RobotService", "Certificate", json!({"id": "$part"})),
        (
            "RobotService",
            "Config",
            json!({"id": "$part", "agent_info": {"host": "h", "os": "linux", "version": "0.1.0", "platform": "linux/arm64"}}),
        ),
    ]
}
