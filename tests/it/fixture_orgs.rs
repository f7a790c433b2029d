//! Valid requests for the RPCs of issue 11's orgs area (metadata, sharing, roles, keys), in
//! the shape of `fixture::requests`.

use serde_json::{Value, json};

pub fn requests() -> Vec<(&'static str, &'static str, Value)> {
    let app = |m: &'static str, v: Value| ("AppService", m, v);
    let data = json!({"team": "blue", "count": 3});
    // The key's location grant that security.rs renews before each ChangeRole.
    let grant = |role: &str| {
        json!({"authorization_type": "role", "authorization_id": format!("location_{role}"),
               "resource_type": "location", "resource_id": "$loc", "identity_id": "$key",
               "organization_id": "$org", "identity_type": "api-key"})
    };
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
        app(
            "ChangeRole",
            json!({"old_authorization": grant("operator"), "new_authorization": grant("owner")}),
        ),
        app("RenameKey", json!({"id": "$key", "name": "renamed"})),
        app("GetRobotAPIKeys", json!({"robot_id": "$robot"})),
        app(
            "UpdateOrganization",
            json!({"organization_id": "$org", "name": "renamed org", "region": "us-east", "cid": "c1"}),
        ),
        app(
            "UpdateOrganizationNamespace",
            json!({"organization_id": "$org", "new_public_namespace": "renamed-ns"}),
        ),
        app("DeleteOrganization", json!({"organization_id": "$org"})),
        app(
            "ShareLocation",
            json!({"location_id": "$loc", "organization_id": "$peer_org"}),
        ),
        app(
            "GetOrganizationsWithAccessToLocation",
            json!({"location_id": "$loc"}),
        ),
        app(
            "UnshareLocation",
            json!({"location_id": "$loc", "organization_id": "$peer_org"}),
        ),
        app(
            "SearchOrganizations",
            json!({"org_id": "$org", "org_name": "", "public_namespace": ""}),
        ),
    ]
}
