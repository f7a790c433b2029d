//! Two organizations with one of everything, and a valid request for every unary RPC written
//! with placeholders (`$robot`) that resolve to either organization's resources. The bad-input
//! test mutates these requests field by field; the security test sends them as they are.

use std::collections::HashMap;

use prost_reflect::{DynamicMessage, SerializeOptions};
use serde_json::{Value, json};

use crate::dynamic::{call, method, request};
use crate::harness::TestServer;

/// The placeholders of one organization, by name without the `$`.
pub type Ids = HashMap<&'static str, String>;

pub fn to_json(msg: &DynamicMessage) -> Value {
    msg.serialize_with_options(
        serde_json::value::Serializer,
        &SerializeOptions::new().use_proto_field_name(true),
    )
    .unwrap()
}

/// Calls AppService/`name` with `req`, panicking on failure: fixtures must build.
pub async fn must(s: &TestServer, token: &str, name: &str, req: Value) -> Value {
    let m = method("AppService", name);
    let resp = call(&s.channel, Some(token), &m, request(&m, &req))
        .await
        .unwrap_or_else(|e| panic!("fixture {name} {req}: {e:?}"));
    to_json(&resp)
}

fn str_at(v: &Value, ptr: &str) -> String {
    v.pointer(ptr)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no {ptr} in {v}"))
        .to_string()
}

pub fn grant(org: &str, role: &str, rtype: &str, rid: &str) -> Value {
    json!({"authorization_type": "role", "authorization_id": format!("{rtype}_{role}"),
           "resource_type": rtype, "resource_id": rid, "organization_id": org,
           "identity_type": "api-key"})
}

/// One organization's resources, created by `token` (which must own `org`).
pub async fn populate(s: &TestServer, token: &str, org: &str, tag: &str) -> Ids {
    let mut ids = Ids::new();
    ids.insert("org", org.to_string());
    let loc = must(
        s,
        token,
        "CreateLocation",
        json!({"organization_id": org, "name": format!("{tag}-loc")}),
    )
    .await;
    let loc = str_at(&loc, "/location/id");
    let robot = must(
        s,
        token,
        "NewRobot",
        json!({"name": format!("{tag}-robot"), "location": loc}),
    )
    .await;
    let robot = str_at(&robot, "/id");
    let parts = must(s, token, "GetRobotParts", json!({"robot_id": robot})).await;
    let part = str_at(&parts, "/parts/0/id");
    let extra = must(
        s,
        token,
        "NewRobotPart",
        json!({"robot_id": robot, "part_name": format!("{tag}-extra")}),
    )
    .await;
    let extra = str_at(&extra, "/part_id");
    let ls = must(
        s,
        token,
        "CreateLocationSecret",
        json!({"location_id": loc}),
    )
    .await;
    let loc_secret = str_at(&ls, "/auth/secrets/0/id");
    let ps = must(s, token, "CreateRobotPartSecret", json!({"part_id": part})).await;
    let part_secret = str_at(&ps, "/part/secrets/0/id");
    let frag = must(s, token, "CreateFragment", json!({"name": format!("{tag}-frag"), "organization_id": org, "config": {"components": []}})).await;
    let frag = str_at(&frag, "/fragment/id");
    let frag_tag = format!("{tag}-tag");
    must(
        s,
        token,
        "SetFragmentTag",
        json!({"fragment_id": frag, "tag": frag_tag, "revision": "1"}),
    )
    .await;
    let module = must(
        s,
        token,
        "CreateModule",
        json!({"organization_id": org, "name": format!("{tag}mod")}),
    )
    .await;
    let module = str_at(&module, "/module_id");
    let key = must(s, token, "CreateKey", json!({"authorizations": [grant(org, "operator", "organization", org)], "name": format!("{tag}-key")})).await;
    let key = str_at(&key, "/id");
    // An organization to share the location with.
    let peer = must(
        s,
        token,
        "CreateOrganization",
        json!({"name": format!("{tag}-peer")}),
    )
    .await;
    let peer = str_at(&peer, "/organization/id");
    let email = format!("{}@example.com", tag.to_lowercase());
    must(s, token, "CreateOrganizationInvite", json!({"organization_id": org, "email": email, "authorizations": [grant(org, "operator", "organization", org)], "send_email_invite": false})).await;
    let members = must(
        s,
        token,
        "ListOrganizationMembers",
        json!({"organization_id": org}),
    )
    .await;
    // API keys are not members: an organization made by a key may have none.
    let user = members
        .pointer("/members/0/user_id")
        .and_then(Value::as_str)
        .map_or_else(|| format!("{tag}-no-such-user"), str::to_string);
    // An OAuth app of the organization.
    let oauth = must(s, token, "CreateOAuthApp", json!({"org_id": org, "client_name": format!("{tag}-app"), "oauth_config": crate::fixture_oauth::config()})).await;
    ids.insert("oauth_app", str_at(&oauth, "/client_id"));
    // A hosted app declared by the module.
    let app = json!({"name": "dashboard", "type": "multi_machine", "entrypoint": "dist/index.html",
                     "logo_path": "static/logo.png", "fragment_ids": [frag],
                     "customizations": {"machine_picker": {"heading": "Pick one"}}});
    must(s, token, "UpdateModule", json!({"module_id": module, "visibility": "VISIBILITY_PRIVATE", "url": "https://example.com", "description": "d", "entrypoint": "run.sh", "apps": [app]})).await;
    ids.insert("app", "dashboard".into());
    ids.insert("app_module", module.clone());
    // Names that must be new on every create; the security test renews them per call.
    ids.insert("fresh", format!("{tag}new"));
    ids.insert(
        "fresh_email",
        format!("new-{}@example.com", tag.to_lowercase()),
    );
    for (k, v) in [
        ("loc", loc),
        ("robot", robot),
        ("part", part),
        ("extra_part_name", format!("{tag}-extra")),
        ("extra_part", extra),
        ("loc_secret", loc_secret),
        ("part_secret", part_secret),
        ("frag", frag),
        ("frag_tag", frag_tag),
        ("module", module),
        ("key", key),
        ("peer_org", peer),
        ("email", email),
        ("user", user),
    ] {
        ids.insert(k, v);
    }
    // A reading, binary data and a bounding box of the part.
    crate::fixture_data::populate(s, token, &mut ids).await;
    // A dataset holding the binary data, and one to delete.
    crate::fixture_datasets::populate(s, token, tag, &mut ids).await;
    // A sequence in a sequence dataset, and one to delete.
    crate::fixture_sequences::populate(s, token, tag, &mut ids).await;
    // A pending and a canceled training job.
    crate::fixture_billing::populate(s, token, &mut ids).await;
    // Saved queries (one to delete) and an index to delete.
    crate::fixture_queries::populate(s, token, tag, &mut ids).await;
    // A data pipeline and a package, each with one to delete.
    crate::fixture_pipelines::populate(s, token, tag, &mut ids).await;
    ids
}

/// Replaces every `$name` string in `v` by `ids[name]`.
pub fn resolve(v: &Value, ids: &Ids) -> Value {
    match v {
        Value::String(s) if s.starts_with('$') => Value::String(
            ids.get(&s[1..])
                .unwrap_or_else(|| panic!("no fixture {s}"))
                .clone(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|x| resolve(x, ids)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), resolve(x, ids)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The RPCs of the served services that the local fleet does not implement yet: each answers
/// UNIMPLEMENTED naming itself (tests/it/unimplemented.rs checks it). Implementing one moves it
/// from here to `requests`.
pub const NOT_YET: &[(&str, &str)] = &[("ExternalAuthService", "AuthenticateTo")];

/// A valid request for every unary RPC (service, method, JSON with placeholders). Calls that
/// destroy something act on resources that exist only to be destroyed where that matters.
pub fn requests() -> Vec<(&'static str, &'static str, Value)> {
    let g = json!({"authorization_type": "role", "authorization_id": "location_operator",
                   "resource_type": "location", "resource_id": "$loc", "identity_id": "$key",
                   "organization_id": "$org", "identity_type": "api-key"});
    let log = json!({"host": "h", "level": "info", "time": "2024-01-01T00:00:00Z",
                     "logger_name": "l", "message": "m"});
    let app = |m: &'static str, v: Value| ("AppService", m, v);
    vec![
        app("CreateOrganization", json!({"name": "new org"})),
        app("ListOrganizations", json!({})),
        app("ListOrganizationsByUser", json!({"user_id": "$user"})),
        app("GetOrganization", json!({"organization_id": "$org"})),
        app(
            "GetOrganizationNamespaceAvailability",
            json!({"public_namespace": "free-ns", "organization_id": "$org"}),
        ),
        app(
            "ListOrganizationMembers",
            json!({"organization_id": "$org"}),
        ),
        // The first start's admin, a member until DeleteOrganizationMember below.
        app("GetUserIDByEmail", json!({"email": "admin@localhost"})),
        app(
            "CreateOrganizationInvite",
            json!({"organization_id": "$org", "email": "$fresh_email", "authorizations": [g], "send_email_invite": false}),
        ),
        app(
            "UpdateOrganizationInviteAuthorizations",
            json!({"organization_id": "$org", "email": "$email", "add_authorizations": [g]}),
        ),
        app(
            "DeleteOrganizationMember",
            json!({"organization_id": "$org", "user_id": "$user"}),
        ),
        app(
            "DeleteOrganizationInvite",
            json!({"organization_id": "$org", "email": "$email"}),
        ),
        app(
            "ResendOrganizationInvite",
            json!({"organization_id": "$org", "email": "$email", "send_email_invite": false}),
        ),
        app(
            "CreateLocation",
            json!({"organization_id": "$org", "name": "new loc", "parent_location_id": "$loc"}),
        ),
        app("GetLocation", json!({"location_id": "$loc"})),
        app(
            "UpdateLocation",
            json!({"location_id": "$loc", "name": "renamed"}),
        ),
        app("DeleteLocation", json!({"location_id": "$loc"})),
        app("ListLocations", json!({"organization_id": "$org"})),
        app("LocationAuth", json!({"location_id": "$loc"})),
        app("CreateLocationSecret", json!({"location_id": "$loc"})),
        app(
            "DeleteLocationSecret",
            json!({"location_id": "$loc", "secret_id": "$loc_secret"}),
        ),
        app("GetRobot", json!({"id": "$robot"})),
        app("GetRoverRentalRobots", json!({"org_id": "$org"})),
        app("GetRobotParts", json!({"robot_id": "$robot"})),
        app("GetRobotPart", json!({"id": "$part"})),
        app(
            "GetRobotPartLogs",
            json!({"id": "$part", "filter": "m", "levels": ["info"], "start": "2020-01-01T00:00:00Z", "end": "2030-01-01T00:00:00Z", "limit": 10}),
        ),
        app(
            "GetRobotPartHistory",
            json!({"id": "$part", "page_limit": 10}),
        ),
        app(
            "UpdateRobotPart",
            json!({"id": "$part", "name": "main", "robot_config": {"components": []}}),
        ),
        app(
            "NewRobotPart",
            json!({"robot_id": "$robot", "part_name": "$fresh"}),
        ),
        app("DeleteRobotPart", json!({"part_id": "$extra_part"})),
        app("MarkPartAsMain", json!({"part_id": "$part"})),
        app("MarkPartForRestart", json!({"part_id": "$part"})),
        app("CreateRobotPartSecret", json!({"part_id": "$part"})),
        app(
            "DeleteRobotPartSecret",
            json!({"part_id": "$part", "secret_id": "$part_secret"}),
        ),
        app("ListRobots", json!({"location_id": "$loc"})),
        app("NewRobot", json!({"name": "$fresh", "location": "$loc"})),
        app(
            "UpdateRobot",
            json!({"id": "$robot", "name": "renamed", "location": "$loc"}),
        ),
        app("DeleteRobot", json!({"id": "$robot"})),
        app("ListFragments", json!({"organization_id": "$org"})),
        app("GetFragment", json!({"id": "$frag"})),
        app(
            "CreateFragment",
            json!({"name": "new frag", "organization_id": "$org", "config": {}}),
        ),
        app(
            "UpdateFragment",
            json!({"id": "$frag", "name": "renamed", "config": {}}),
        ),
        app("DeleteFragment", json!({"id": "$frag"})),
        app("AddRole", json!({"authorization": g})),
        app("RemoveRole", json!({"authorization": g})),
        app(
            "ListAuthorizations",
            json!({"organization_id": "$org", "resource_ids": ["$loc"]}),
        ),
        app(
            "CheckPermissions",
            json!({"permissions": [{"resource_type": "location", "resource_id": "$loc", "permissions": ["read_location"]}]}),
        ),
        app(
            "CreateModule",
            json!({"organization_id": "$org", "name": "$fresh"}),
        ),
        app(
            "UpdateModule",
            json!({"module_id": "$module", "visibility": "VISIBILITY_PRIVATE", "url": "https://example.com", "description": "d", "entrypoint": "run.sh", "models": [{"api": "rdk:component:arm", "model": "acme:demo:arm"}]}),
        ),
        app("GetModule", json!({"module_id": "$module"})),
        app("ListModules", json!({"organization_id": "$org"})),
        app(
            "CreateKey",
            json!({"authorizations": [grant("$org", "operator", "location", "$loc")], "name": "k"}),
        ),
        app("DeleteKey", json!({"id": "$key"})),
        app("RotateKey", json!({"id": "$key"})),
        app("ListKeys", json!({"org_id": "$org"})),
        app(
            "CreateKeyFromExistingKeyAuthorizations",
            json!({"id": "$key"}),
        ),
        ("RobotService", "Log", json!({"id": "$part", "logs": [log]})),
    ]
    .into_iter()
    .chain(crate::fixture_registry::requests())
    .chain(crate::fixture_orgs::requests())
    .chain(crate::fixture_machines::requests())
    .chain(crate::fixture_oauth::requests())
    .chain(crate::fixture_data::requests())
    .chain(crate::fixture_datasets::requests())
    // sequences
    .chain(crate::fixture_sequences::requests())
    // billing
    .chain(crate::fixture_billing::requests())
    // queries
    .chain(crate::fixture_queries::requests())
    // pipelines
    .chain(crate::fixture_pipelines::requests())
    .collect()
}
