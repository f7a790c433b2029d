//! Edges of the Lua <-> protobuf bridge, and a round trip of every message of every RPC.

use mlua::{Function, Lua, Table, Value as Lv};
use prost_reflect::{DynamicMessage, Kind, MessageDescriptor, ReflectMessage};

use super::*;
use crate::proto::POOL;

pub(crate) fn desc(name: &str) -> MessageDescriptor {
    POOL.get_message_by_name(name)
        .unwrap_or_else(|| panic!("{name} not in pool"))
}

pub(crate) fn lua() -> Lua {
    let lua = Lua::new();
    lua.array_metatable()
        .raw_set("__fleetsh_array", true)
        .unwrap();
    lua
}

pub(crate) fn table(lua: &Lua, src: &str) -> Table {
    lua.load(format!("return {src}")).eval().unwrap()
}

fn convert(lua: &Lua, msg: &str, src: &str) -> ConvResult<DynamicMessage> {
    to_message(&desc(msg), &table(lua, src))
}

/// Structural equality of Lua values, `eq(a, b, path)` -> ok, where they differ. With
/// `metatables`, tables must also share their metatable (the array marker), else it is ignored.
pub(crate) fn deep_eq(lua: &Lua, metatables: bool) -> Function {
    lua.load(
        r#"
        local metatables = ...
        local function eq(a, b, path)
          if type(a) ~= type(b) then return false, path .. ": " .. type(a) .. " vs " .. type(b) end
          if type(a) ~= "table" then
            -- NaN is not equal to itself, yet two NaNs decoded from the same bytes agree.
            local same = a == b or (a ~= a and b ~= b)
            if same and math.type(a) == math.type(b) then return true end
            return false, path .. ": " .. tostring(a) .. " vs " .. tostring(b)
          end
          if metatables and getmetatable(a) ~= getmetatable(b) then
            return false, path .. ": metatables differ"
          end
          for k, v in pairs(a) do
            local ok, where = eq(v, b[k], path .. "." .. tostring(k))
            if not ok then return false, where end
          end
          for k in pairs(b) do
            if a[k] == nil then return false, path .. "." .. tostring(k) .. ": only in the second" end
          end
          return true
        end
        return eq"#,
    )
    .call(metatables)
    .unwrap()
}

/// A sample value for every field kind: non-default scalars, 64-bit integers beyond 2^53,
/// enums, raw bytes, nested and empty Structs, lists, maps, timestamps.
pub(crate) fn sample(lua: &Lua, d: &MessageDescriptor, depth: usize) -> Table {
    let t = lua.create_table().unwrap();
    for f in d.fields() {
        // Only the first member of a real oneof: setting another would clear it.
        if let Some(o) = f.containing_oneof() {
            if !o.is_synthetic() && o.fields().next().map(|x| x.number()) != Some(f.number()) {
                continue;
            }
        }
        let v = if f.is_map() {
            let Kind::Message(entry) = f.kind() else {
                unreachable!()
            };
            let key = match entry.map_entry_key_field().kind() {
                Kind::String => Lv::String(lua.create_string("key").unwrap()),
                _ => Lv::Integer(7),
            };
            // Maps and lists always come back as tables, empty ones where depth cut the sample.
            let m = lua.create_table().unwrap();
            if let Some(val) = single(lua, &entry.map_entry_value_field().kind(), f.name(), depth) {
                m.raw_set(key, val).unwrap();
            }
            Lv::Table(m)
        } else if f.is_list() {
            let items: Vec<Lv> = (0..2)
                .filter_map(|_| single(lua, &f.kind(), f.name(), depth))
                .collect();
            Lv::Table(lua.create_sequence_from(items).unwrap())
        } else {
            match single(lua, &f.kind(), f.name(), depth) {
                Some(v) => v,
                None => continue,
            }
        };
        t.raw_set(f.name(), v).unwrap();
    }
    t
}

fn single(lua: &Lua, kind: &Kind, name: &str, depth: usize) -> Option<Lv> {
    Some(match kind {
        Kind::Double => Lv::Number(1.5),
        Kind::Float => Lv::Number(0.25),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Lv::Integer(-7),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Lv::Integer(9_007_199_254_740_993),
        Kind::Uint32 | Kind::Fixed32 => Lv::Integer(7),
        Kind::Uint64 | Kind::Fixed64 => Lv::Integer(1 << 40),
        Kind::Bool => Lv::Boolean(true),
        Kind::String => Lv::String(lua.create_string(format!("s-{name}")).unwrap()),
        Kind::Bytes => Lv::String(lua.create_string([0xff, 0x00, 0x80, b'a']).unwrap()),
        Kind::Enum(e) => Lv::String(lua.create_string(e.values().last()?.name()).unwrap()),
        Kind::Message(m) => match m.full_name() {
            "google.protobuf.Timestamp" => {
                Lv::String(lua.create_string("2024-01-02T03:04:05.123456789Z").unwrap())
            }
            "google.protobuf.Struct" => Lv::Table(table(
                lua,
                r#"{ a = { b = 1, c = { 1, "x", true, { d = 2.5 } } }, e = {}, s = "str" }"#,
            )),
            "google.protobuf.Value" => Lv::String(lua.create_string("v").unwrap()),
            "google.protobuf.ListValue" => Lv::Table(table(lua, "{ 1, 'two' }")),
            _ if depth >= 3 => return None,
            _ => Lv::Table(sample(lua, m, depth + 1)),
        },
    })
}

#[test]
fn round_trip_every_request_and_response_message() {
    let lua = lua();
    let eq = deep_eq(&lua, false);
    let mut checked = 0;
    for svc in POOL.services() {
        for m in svc.methods() {
            for d in [m.input(), m.output()] {
                let t = sample(&lua, &d, 0);
                let msg = to_message(&d, &t).unwrap_or_else(|e| panic!("{}: {e}", d.full_name()));
                // Through the wire format too: what the server gets is what the table said.
                let bytes = prost::Message::encode_to_vec(&msg);
                let back = DynamicMessage::decode(d.clone(), bytes.as_slice()).unwrap();
                let out = from_message(&lua, &back).unwrap();
                let (same, why): (bool, Option<String>) = eq.call((t, out, d.full_name())).unwrap();
                assert!(
                    same,
                    "{} does not round-trip: {}",
                    d.full_name(),
                    why.unwrap_or_default()
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 2 * 56, "only {checked} messages checked");
}

#[test]
fn unknown_field_names_the_closest() {
    let lua = lua();
    let e = convert(&lua, "viam.app.v1.NewRobotRequest", "{ nme = 'x' }").unwrap_err();
    assert_eq!(
        e,
        "unknown field 'nme' for viam.app.v1.NewRobotRequest; did you mean 'name'?"
    );
    let e = convert(&lua, "viam.app.v1.NewRobotRequest", "{ [1] = 'x' }").unwrap_err();
    assert!(e.contains("field names must be strings"), "{e}");
}

#[test]
fn wrong_types_name_the_field_and_expected_type() {
    let lua = lua();
    let e = convert(&lua, "viam.app.v1.NewRobotRequest", "{ name = 5 }").unwrap_err();
    assert_eq!(e, "name: expected string, got integer");
    let e = convert(
        &lua,
        "viam.app.v1.GetRobotPartHistoryRequest",
        "{ page_limit = 1.5 }",
    )
    .unwrap_err();
    assert!(
        e.contains("page_limit") && e.contains("non-integral"),
        "{e}"
    );
    let m = convert(
        &lua,
        "viam.app.v1.GetRobotPartHistoryRequest",
        "{ page_limit = 2.0 }",
    )
    .unwrap();
    assert_eq!(m.get_field_by_name("page_limit").unwrap().as_i64(), Some(2));
    let e = convert(
        &lua,
        "viam.app.v1.CheckPermissionsRequest",
        "{ permissions = { { resource_type = true } } }",
    )
    .unwrap_err();
    assert_eq!(
        e,
        "permissions[1].resource_type: expected string, got boolean"
    );
    let e = convert(
        &lua,
        "viam.app.v1.CheckPermissionsRequest",
        "{ permissions = { x = 1 } }",
    )
    .unwrap_err();
    assert!(e.contains("expected an array"), "{e}");
}

#[test]
fn enums_by_full_value_name_or_number() {
    let lua = lua();
    let m = convert(
        &lua,
        "viam.app.v1.UpdateFragmentRequest",
        "{ visibility = 'FRAGMENT_VISIBILITY_PUBLIC' }",
    )
    .unwrap();
    let back: Table = match from_message(&lua, &m).unwrap() {
        Lv::Table(t) => t,
        _ => unreachable!(),
    };
    assert_eq!(
        back.get::<String>("visibility").unwrap(),
        "FRAGMENT_VISIBILITY_PUBLIC"
    );
    let e = convert(
        &lua,
        "viam.app.v1.UpdateFragmentRequest",
        "{ visibility = 'FRAGMENT_VISIBILITY_PUBLC' }",
    )
    .unwrap_err();
    assert!(
        e.contains("did you mean 'FRAGMENT_VISIBILITY_PUBLIC'"),
        "{e}"
    );
    assert!(
        convert(
            &lua,
            "viam.app.v1.UpdateFragmentRequest",
            "{ visibility = 2 }"
        )
        .is_ok()
    );
    assert!(
        convert(
            &lua,
            "viam.app.v1.UpdateFragmentRequest",
            "{ visibility = 99 }"
        )
        .is_err()
    );
}

#[test]
fn optional_fields_stay_unset_when_nil_and_message_fields_come_back_nil() {
    let lua = lua();
    let m = convert(&lua, "viam.app.v1.CreateLocationRequest", "{ name = 'a' }").unwrap();
    let f = m
        .descriptor()
        .get_field_by_name("parent_location_id")
        .unwrap();
    assert!(!m.has_field(&f));
    let m = convert(
        &lua,
        "viam.app.v1.CreateLocationRequest",
        "{ name = 'a', parent_location_id = '' }",
    )
    .unwrap();
    assert!(m.has_field(&f), "an explicit empty string is present");
    let out: Table = lua
        .unpack(
            from_message(
                &lua,
                &DynamicMessage::new(desc("viam.app.v1.GetRobotResponse")),
            )
            .unwrap(),
        )
        .unwrap();
    assert!(out.get::<Lv>("robot").unwrap().is_nil());
}

#[test]
fn timestamps_are_rfc3339_strings() {
    let lua = lua();
    let m = convert(
        &lua,
        "viam.app.v1.GetRobotPartHistoryRequest",
        "{ start = '2024-01-02T03:04:05Z' }",
    )
    .unwrap();
    let out: Table = lua.unpack(from_message(&lua, &m).unwrap()).unwrap();
    assert_eq!(out.get::<String>("start").unwrap(), "2024-01-02T03:04:05Z");
    let e = convert(
        &lua,
        "viam.app.v1.GetRobotPartHistoryRequest",
        "{ start = 'yesterday' }",
    )
    .unwrap_err();
    assert!(
        e.starts_with("start: 'yesterday' is not an RFC 3339 time"),
        "{e}"
    );
}

#[test]
fn bytes_are_raw_strings_and_strings_must_be_utf8() {
    let lua = lua();
    let m = convert(
        &lua,
        "viam.app.v1.UploadModuleFileRequest",
        r#"{ file = "\xff\x00" }"#,
    )
    .unwrap();
    assert_eq!(
        m.get_field_by_name("file")
            .unwrap()
            .as_bytes()
            .unwrap()
            .as_ref(),
        b"\xff\x00"
    );
    let e = convert(&lua, "viam.app.v1.NewRobotRequest", r#"{ name = "\xff" }"#).unwrap_err();
    assert!(e.contains("not valid UTF-8"), "{e}");
}

#[test]
fn structs_are_plain_tables_and_empty_lists_stay_lists() {
    let lua = lua();
    let m = convert(&lua, "viam.app.v1.CreateFragmentRequest", "{ config = {} }").unwrap();
    let cfg = m.get_field_by_name("config").unwrap();
    assert!(
        cfg.as_message()
            .unwrap()
            .get_field_by_name("fields")
            .unwrap()
            .as_map()
            .unwrap()
            .is_empty()
    );
    lua.globals().set("NULL", lua.null()).unwrap();
    let m = convert(
        &lua,
        "viam.app.v1.CreateFragmentRequest",
        "{ config = { l = {}, n = NULL, a = {1, 2} } }",
    )
    .unwrap();
    let out: Table = lua.unpack(from_message(&lua, &m).unwrap()).unwrap();
    let cfg: Table = out.get("config").unwrap();
    assert_eq!(
        cfg.get::<Lv>("n").unwrap(),
        lua.null(),
        "null survives as json.null"
    );
    assert_eq!(cfg.get::<Table>("a").unwrap().raw_len(), 2);
    assert_eq!(
        cfg.get::<Table>("l").unwrap().raw_len(),
        0,
        "empty table is an empty struct"
    );
    let resp = DynamicMessage::new(desc("viam.app.v1.ListRobotsResponse"));
    let out: Table = lua.unpack(from_message(&lua, &resp).unwrap()).unwrap();
    let robots: Table = out.get("robots").unwrap();
    assert_eq!(robots.raw_len(), 0);
    assert!(
        robots.metatable().is_some(),
        "empty repeated fields are marked as arrays"
    );
    let json = serde_json::to_string(&Lv::Table(out).to_serializable()).unwrap();
    assert_eq!(json, r#"{"robots":[]}"#);
}

#[test]
fn closest_only_suggests_plausible_names() {
    assert_eq!(closest("nme", ["name", "location"]), Some("name"));
    assert_eq!(closest("zzzz", ["name", "location"]), None);
}

#[test]
fn arrays_with_holes_are_refused_not_read_past() {
    // Found by the lua_convert fuzz target: `#t` may count past a hole.
    let lua = lua();
    for src in [
        "{ resource_ids = { 'a', nil, 'c', 'd' } }",
        "{ resource_ids = { [1] = 'a', [4] = 'd' } }",
    ] {
        let e = convert(&lua, "viam.app.v1.ListAuthorizationsRequest", src).unwrap_err();
        assert!(e.contains("resource_ids: expected an array"), "{src}: {e}");
    }
}
