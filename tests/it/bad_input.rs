//! Bad input, server side: every unary RPC (all of AppService, RobotService/Log and
//! AuthService/Authenticate) starts from a valid request (`fixture::requests`) and gets each of
//! its fields, at any depth, replaced by an empty, a 1 MiB, a malformed and another
//! organization's value (numbers: negative; timestamps: out of range; enums: unknown). Every
//! answer must be a user error that names the field or the value, never INTERNAL or UNKNOWN,
//! and the server must keep serving.

use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, Value};
use serde_json::json;
use tonic::Code;

use crate::dynamic::{Conn, call_via, method, request, unary_methods};
use crate::fixture::{Ids, grant, must, populate, requests, resolve};
use crate::harness::TestServer;
use crate::web_client::WebChannel;

const MIB: usize = 1024 * 1024;
const MALFORMED: &str = "not-a-uuid/../';--";

#[derive(Debug, Clone, Copy, PartialEq)]
enum Bad {
    Empty,
    Oversized,
    Malformed,
    OtherOrg,
    Negative,
    FarFuture,
    NegativeNanos,
    UnknownEnum,
}

/// A field to mutate: the names from the request down to it (a repeated message field steps
/// into its first element).
type Path = Vec<FieldDescriptor>;

fn is_wkt(m: &MessageDescriptor) -> bool {
    m.full_name().starts_with("google.protobuf.")
}

fn leaves(desc: &MessageDescriptor, prefix: &Path, out: &mut Vec<Path>) {
    for f in desc.fields() {
        let mut p = prefix.clone();
        p.push(f.clone());
        match f.kind() {
            // Maps (issue 12's method_parameters) hold free-form entries, not fields to name.
            Kind::Message(m) if m.is_map_entry() => {}
            Kind::Message(m) if !is_wkt(&m) && prefix.len() < 2 => leaves(&m, &p, out),
            Kind::Message(m) if m.full_name() != "google.protobuf.Timestamp" => {}
            _ => out.push(p),
        }
    }
}

fn path_name(p: &Path) -> String {
    p.iter().map(|f| f.name()).collect::<Vec<_>>().join(".")
}

/// The message holding the last field of `p`, created on the way where absent.
fn parent<'a>(msg: &'a mut DynamicMessage, p: &[FieldDescriptor]) -> &'a mut DynamicMessage {
    let Some((first, rest)) = p.split_first() else {
        return msg;
    };
    let Kind::Message(m) = first.kind() else {
        unreachable!("only message fields have children")
    };
    let v = msg.get_field_mut(first);
    let child = match v {
        Value::List(items) => {
            if items.is_empty() {
                items.push(Value::Message(DynamicMessage::new(m)));
            }
            &mut items[0]
        }
        other => other,
    };
    match child {
        Value::Message(c) => parent(c, rest),
        _ => unreachable!(),
    }
}

/// The current value of the leaf `p` as a string, when it is one.
fn current(msg: &mut DynamicMessage, p: &Path) -> Option<String> {
    let leaf = p.last().unwrap();
    match parent(msg, &p[..p.len() - 1]).get_field(leaf).as_ref() {
        Value::String(s) => Some(s.clone()),
        Value::List(l) => l.first().and_then(|v| v.as_str()).map(str::to_string),
        _ => None,
    }
}

fn timestamp(seconds: i64, nanos: i32) -> Value {
    let desc = fleetsh::proto::POOL
        .get_message_by_name("google.protobuf.Timestamp")
        .unwrap();
    let mut t = DynamicMessage::new(desc);
    t.set_field_by_name("seconds", Value::I64(seconds));
    t.set_field_by_name("nanos", Value::I32(nanos));
    Value::Message(t)
}

/// The bad values for the leaf `p`, given the request's current value there and the other
/// organization's ids.
fn bad_values(f: &FieldDescriptor, cur: Option<&str>, a: &Ids, b: &Ids) -> Vec<(Bad, Value)> {
    let other = cur
        .and_then(|c| a.iter().find(|(_, v)| *v == c))
        .map(|(k, _)| b[k].clone());
    let one = |v: Value| if f.is_list() { Value::List(vec![v]) } else { v };
    match f.kind() {
        Kind::String => {
            let mut v = vec![
                (Bad::Empty, one(Value::String(String::new()))),
                (Bad::Oversized, one(Value::String("x".repeat(MIB)))),
                (Bad::Malformed, one(Value::String(MALFORMED.into()))),
            ];
            if let Some(o) = other {
                v.push((Bad::OtherOrg, one(Value::String(o))));
            }
            v
        }
        Kind::Int64 => vec![
            (Bad::Negative, one(Value::I64(-1))),
            (Bad::Negative, one(Value::I64(i64::MIN))),
        ],
        Kind::Int32 => vec![(Bad::Negative, one(Value::I32(-1)))],
        Kind::Enum(_) => vec![(Bad::UnknownEnum, one(Value::EnumNumber(999)))],
        Kind::Message(_) => vec![
            (Bad::FarFuture, one(timestamp(i64::MAX, 0))),
            (Bad::NegativeNanos, one(timestamp(0, -1))),
        ],
        _ => vec![],
    }
}

/// Id fields where a value that names nothing is not an error, and why:
/// filters (no match is an empty answer, never another organization's data), optional ids
/// whose empty value means "none" or "unchanged", and fields the server sets itself.
const NOT_LOOKUPS: &[(&str, &str, &[Bad])] = &[
    // A filter: an unknown user belongs to no organization the caller can see.
    (
        "ListOrganizationsByUser",
        "user_id",
        &[Bad::Malformed, Bad::OtherOrg],
    ),
    // Namespaces are global; the organization id is not used.
    (
        "GetOrganizationNamespaceAvailability",
        "organization_id",
        &[Bad::Empty, Bad::Malformed, Bad::OtherOrg],
    ),
    // An invite's grants go to whoever accepts it; an empty organization means the invite's.
    (
        "CreateOrganizationInvite",
        "authorizations.identity_id",
        &[Bad::Empty, Bad::Malformed, Bad::OtherOrg],
    ),
    (
        "CreateOrganizationInvite",
        "authorizations.organization_id",
        &[Bad::Empty],
    ),
    (
        "UpdateOrganizationInviteAuthorizations",
        "add_authorizations.identity_id",
        &[Bad::Empty, Bad::Malformed, Bad::OtherOrg],
    ),
    (
        "UpdateOrganizationInviteAuthorizations",
        "add_authorizations.organization_id",
        &[Bad::Empty],
    ),
    // Optional: empty is "no parent" / "public modules only".
    ("CreateLocation", "parent_location_id", &[Bad::Empty]),
    ("ListModules", "organization_id", &[Bad::Empty]),
    ("ListRegistryItems", "organization_id", &[Bad::Empty]),
    // An owner may grant its own resources to a key of another organization (as the cloud
    // lets an owner add any user); the grant is scoped to the owner's resource.
    ("AddRole", "authorization.identity_id", &[Bad::OtherOrg]),
    ("RemoveRole", "authorization.identity_id", &[Bad::OtherOrg]),
    // A name, not an id: any text is a valid part name, and earlier calls here create parts
    // named like the malformed value (NewRobotPart part_name) in the same location.
    ("GetRobotPartByNameAndLocation", "name", &[Bad::Malformed]),
    // A tag is a name: SetFragmentTag above accepts any text, so a tag named like the
    // malformed value exists by the time DeleteFragmentTag runs.
    ("DeleteFragmentTag", "tag", &[Bad::Malformed]),
    // A question: an unknown or foreign resource is answered "not authorized" (omitted), so
    // the answer never tells whether an id exists.
    (
        "CheckPermissions",
        "permissions.resource_id",
        &[Bad::Malformed, Bad::OtherOrg],
    ),
    // A filter's empty id means "any" (proto3's unset), narrowing nothing.
    (
        "TabularDataByFilter",
        "data_request.filter.part_id",
        &[Bad::Empty],
    ),
    (
        "BinaryDataByFilter",
        "data_request.filter.part_id",
        &[Bad::Empty],
    ),
    (
        "AddTagsToBinaryDataByFilter",
        "filter.part_id",
        &[Bad::Empty],
    ),
    (
        "RemoveTagsFromBinaryDataByFilter",
        "filter.part_id",
        &[Bad::Empty],
    ),
    ("TagsByFilter", "filter.part_id", &[Bad::Empty]),
    ("BoundingBoxLabelsByFilter", "filter.part_id", &[Bad::Empty]),
    ("DeleteBinaryDataByFilter", "filter.part_id", &[Bad::Empty]),
];

fn may_accept(method: &str, path: &str, bad: Bad) -> bool {
    NOT_LOOKUPS
        .iter()
        .any(|(m, p, b)| *m == method && *p == path && b.contains(&bad))
}

/// Why an answer is wrong, or None when it is right. `ids`: every fixture id, which an error
/// may name instead of the field (PERMISSION_DENIED names the organization it guards).
fn judge(
    bad: Bad,
    id_field: bool,
    path: &str,
    value: &Value,
    ids: &[&String],
    r: &Result<DynamicMessage, tonic::Status>,
) -> Option<String> {
    let field = path.rsplit('.').next().unwrap();
    let s = match r {
        Ok(_) if bad == Bad::Oversized => return Some("accepted a 1 MiB string".into()),
        Ok(_) if id_field && matches!(bad, Bad::Empty | Bad::Malformed | Bad::OtherOrg) => {
            return Some("accepted a bad id".into());
        }
        Ok(_) => return None,
        Err(s) => s,
    };
    let allowed = [
        Code::InvalidArgument,
        Code::NotFound,
        Code::PermissionDenied,
        Code::FailedPrecondition,
        Code::AlreadyExists,
        Code::Unauthenticated,
    ];
    if !allowed.contains(&s.code()) {
        return Some(format!("{:?}: {}", s.code(), s.message()));
    }
    if bad == Bad::Oversized && s.code() != Code::InvalidArgument {
        return Some(format!(
            "{:?} instead of INVALID_ARGUMENT: {}",
            s.code(),
            s.message()
        ));
    }
    let shown = match value {
        Value::String(v) => Some(v.as_str()),
        Value::List(l) => l.first().and_then(|v| v.as_str()),
        _ => None,
    };
    let msg = s.message();
    let names_it = msg.contains(field)
        || msg.contains(&field.replace('_', " "))
        // A required field of a message the test had to create names that field instead.
        || msg.split(':').next().is_some_and(|f| !f.contains(' '))
        || match shown {
            Some("") => msg.contains("\"\""),
            Some(v) => msg.contains(&v[..v.len().min(64)]),
            None => false,
        }
        || ids.iter().any(|id| msg.contains(id.as_str()));
    (!names_it).then(|| {
        format!(
            "{:?} message names neither {field} nor the value: {msg}",
            s.code()
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_refuses_bad_fields_by_name_and_keeps_serving() {
    bad_fields_over(false).await;
}

/// The same bad input over gRPC-web on HTTP/1.1: a page gets the same statuses and messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_refuses_bad_fields_by_name_and_keeps_serving_over_grpc_web() {
    bad_fields_over(true).await;
}

async fn bad_fields_over(web: bool) {
    let s = TestServer::start().await;
    // The calls under test go through `conn`; the fixture's setup uses gRPC.
    let conn = if web {
        Conn::Web(Box::new(WebChannel::new(
            &s.fleet.credentials.address,
            None,
        )))
    } else {
        Conn::Grpc(s.channel.clone())
    };
    let c = s.fleet.credentials.clone();
    let root = s.token(&c.api_key_id, &c.api_key).await.unwrap();
    // The root key creates B, so it owns both; the caller owns only A.
    let b_org = must(&s, &root, "CreateOrganization", json!({"name": "B"})).await;
    let b_org = b_org["organization"]["id"].as_str().unwrap().to_string();
    let key = must(&s, &root, "CreateKey", json!({"authorizations": [grant(&c.org_id, "owner", "organization", &c.org_id)], "name": "a-owner"})).await;
    let (key_id, key_secret) = (key["id"].as_str().unwrap(), key["key"].as_str().unwrap());
    let token = s.token(key_id, key_secret).await.unwrap();
    let mut a = populate(&s, &root, &c.org_id, "A").await;
    let mut b = populate(&s, &root, &b_org, "B").await;
    a.insert("key_id", key_id.into());
    a.insert("key_secret", key_secret.into());
    b.insert("key_id", b["key"].clone());
    b.insert("key_secret", "not-the-secret".into());

    let mut table = requests();
    table.push((
        "AuthService",
        "Authenticate",
        json!({"entity": "$key_id", "credentials": {"type": "api-key", "payload": "$key_secret"}}),
    ));
    let covered: Vec<_> = table.iter().map(|(_, n, _)| *n).collect();
    for m in unary_methods() {
        let not_yet = crate::fixture::NOT_YET.iter().any(|(_, n)| *n == m.name());
        assert!(
            covered.contains(&m.name()) || not_yet,
            "{} has no row in fixture::requests (nor in fixture::NOT_YET)",
            m.name()
        );
    }
    let all_ids: Vec<String> = a.values().chain(b.values()).cloned().collect();
    let ids: Vec<&String> = all_ids.iter().collect();
    let mut failures = Vec::new();
    let mut calls = 0;
    for (svc, name, req) in &table {
        let m = method(svc, name);
        // Authenticate is the one call made without a token.
        let token = (*svc != "AuthService").then_some(token.as_str());
        let base = request(&m, &resolve(req, &a));
        let empty = call_via(&conn, token, &m, DynamicMessage::new(m.input())).await;
        if let Err(e) = &empty {
            if matches!(e.code(), Code::Internal | Code::Unknown | Code::Unavailable) {
                failures.push(format!(
                    "{name} (empty request): {:?} {}",
                    e.code(),
                    e.message()
                ));
            }
        }
        let mut paths = Vec::new();
        leaves(&m.input(), &Vec::new(), &mut paths);
        for p in paths {
            let mut probe = base.clone();
            let cur = current(&mut probe, &p);
            let id_field = req_has_placeholder(req, &p);
            let leaf = p.last().unwrap();
            for (bad, value) in bad_values(leaf, cur.as_deref(), &a, &b) {
                let mut msg = base.clone();
                parent(&mut msg, &p[..p.len() - 1]).set_field(leaf, value.clone());
                // Each invite is new, so one accepted call does not make the next a duplicate.
                if *name == "CreateOrganizationInvite" && path_name(&p) != "email" {
                    msg.set_field_by_name("email", Value::String(format!("n{calls}@example.com")));
                }
                let r = call_via(&conn, token, &m, msg).await;
                calls += 1;
                let path = path_name(&p);
                let id_field = id_field && !may_accept(name, &path, bad);
                if let Some(why) = judge(bad, id_field, &path, &value, &ids, &r) {
                    failures.push(format!("{name} {path} = {bad:?}: {why}"));
                }
            }
        }
    }
    // Still serving, and to the same caller.
    let m = method("AppService", "GetOrganization");
    call_via(
        &conn,
        Some(&token),
        &m,
        request(&m, &json!({"organization_id": c.org_id})),
    )
    .await
    .expect("the server still serves after the bad input");
    assert!(calls > 400, "only {calls} bad calls were made");
    assert!(
        failures.is_empty(),
        "{} of {calls} bad calls were answered wrongly:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Whether the original request holds a `$placeholder` (an id) at `p`.
fn req_has_placeholder(req: &serde_json::Value, p: &Path) -> bool {
    let mut v = req;
    for f in p {
        v = match v.get(f.name()) {
            Some(serde_json::Value::Array(a)) => match a.first() {
                Some(x) => x,
                None => return false,
            },
            Some(x) => x,
            None => return false,
        };
    }
    // `$fresh` names are new names, not references to something that exists.
    v.as_str()
        .is_some_and(|s| s.starts_with('$') && !s.starts_with("$fresh"))
}
