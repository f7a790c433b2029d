//! Valid requests for the RPCs of issue 11's orgs area (metadata, sharing, roles, keys), in
//! the shape of `fixture::requests`.

use serde_json::{Value, json};

pub fn requests() -> Vec<(&'static str, &'static str, Value)> {
    let app = |m: &'static str, v: Value| ("AppService", m, v);
    let data = json!({"team": "blue", "count": 3});
    vec![
        app(
            "GetOrganizationMetadata",
            json!({"organization_id": "$org"}),
        ),
        app(
            "UpdateOrganizationMetadata",
            json!({"organization_id": "$org", "data": data}),
        ),
        app("GetLocationMetadata", json!({"location_id": "$loc"})),
        app(
            "UpdateLocationMetadata",
            json!({"location_id": "$loc", "data": data}),
        ),
        app("GetRobotMetadata", json!({"id": "$robot"})),
        app("UpdateRobotMetadata", json!({"id": "$robot", "data": data})),
        app("GetRobotPartMetadata", json!({"id": "$part"})),
        app(
            "UpdateRobotPartMetadata",
            json!({"id": "$part", "data": data}),
        ),
    ]
}
