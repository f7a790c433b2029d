//! from_bytes against from_message: the same Lua values (metatables included) from the same
//! bytes, for every message of every RPC and for a test message with every field shape; and
//! malformed bytes are errors naming the message type, never panics.

use mlua::{Lua, Table, Value as Lv};
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, Value as Pv};
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{
    DescriptorProto, EnumDescriptorProto, EnumValueDescriptorProto, FieldDescriptorProto,
    FieldOptions, FileDescriptorProto, MessageOptions, OneofDescriptorProto,
};

use super::*;
use crate::lua::convert::tests::{deep_eq, desc, lua, sample, table};
use crate::lua::convert::{from_message, to_message};
use crate::proto::POOL;

/// from_bytes(bytes) is what from_message shows of the DynamicMessage decoded from bytes.
fn assert_same(lua: &Lua, d: &MessageDescriptor, bytes: &[u8]) {
    let want = from_message(lua, &DynamicMessage::decode(d.clone(), bytes).unwrap()).unwrap();
    let got = from_bytes(lua, d, bytes).unwrap_or_else(|e| panic!("{}: {e}", d.full_name()));
    let (same, why): (bool, Option<String>) =
        deep_eq(lua, true).call((got, want, d.full_name())).unwrap();
    assert!(same, "{}: {}", d.full_name(), why.unwrap_or_default());
}

fn all_messages() -> Vec<MessageDescriptor> {
    POOL.services()
        .flat_map(|s| s.methods().collect::<Vec<_>>())
        .flat_map(|m| [m.input(), m.output()])
        .collect()
}

#[test]
fn every_message_of_every_rpc_decodes_as_from_message_shows_it() {
    let lua = lua();
    for d in all_messages() {
        let msg = to_message(&d, &sample(&lua, &d, 0)).unwrap();
        assert_same(&lua, &d, &msg.encode_to_vec());
        // Nothing on the wire: defaults, nil messages, empty arrays and maps.
        assert_same(&lua, &d, &[]);
    }
}

// ---------- a test message with every field shape ----------

fn field(name: &str, number: i32, ty: Type, type_name: &str) -> FieldDescriptorProto {
    FieldDescriptorProto {
        name: Some(name.into()),
        number: Some(number),
        r#type: Some(ty as i32),
        label: Some(Label::Optional as i32),
        type_name: (!type_name.is_empty()).then(|| type_name.into()),
        ..Default::default()
    }
}

fn repeated(mut f: FieldDescriptorProto) -> FieldDescriptorProto {
    f.label = Some(Label::Repeated as i32);
    f
}

fn in_oneof(
    mut f: FieldDescriptorProto,
    index: i32,
    proto3_optional: bool,
) -> FieldDescriptorProto {
    f.oneof_index = Some(index);
    f.proto3_optional = proto3_optional.then_some(true);
    f
}

fn map_entry(name: &str, key: Type, value: Type, value_type: &str) -> DescriptorProto {
    DescriptorProto {
        name: Some(name.into()),
        field: vec![
            field("key", 1, key, ""),
            field("value", 2, value, value_type),
        ],
        options: Some(MessageOptions {
            map_entry: Some(true),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// `test.All`: every scalar kind, enums, nested and recursive messages, the well-known types,
/// packed and unpacked repeated fields, maps with integer, string and bool keys, a oneof and
/// proto3 `optional` fields.
fn test_pool() -> DescriptorPool {
    use Type::*;
    let inner = DescriptorProto {
        name: Some("Inner".into()),
        field: vec![
            field("id", 1, String, ""),
            repeated(field("xs", 2, Int32, "")),
            field("next", 3, Message, ".test.Inner"),
            field("n", 4, Int64, ""),
        ],
        ..Default::default()
    };
    let mut loose = repeated(field("loose", 23, Sint64, ""));
    loose.options = Some(FieldOptions {
        packed: Some(false),
        ..Default::default()
    });
    let all = DescriptorProto {
        name: Some("All".into()),
        field: vec![
            field("d", 1, Double, ""),
            field("fl", 2, Float, ""),
            field("i32", 3, Int32, ""),
            field("i64", 4, Int64, ""),
            field("u32", 5, Uint32, ""),
            field("u64", 6, Uint64, ""),
            field("s32", 7, Sint32, ""),
            field("s64", 8, Sint64, ""),
            field("f32", 9, Fixed32, ""),
            field("f64", 10, Fixed64, ""),
            field("sf32", 11, Sfixed32, ""),
            field("sf64", 12, Sfixed64, ""),
            field("b", 13, Bool, ""),
            field("s", 14, String, ""),
            field("by", 15, Bytes, ""),
            field("color", 16, Enum, ".test.Color"),
            field("inner", 17, Message, ".test.Inner"),
            field("at", 18, Message, ".google.protobuf.Timestamp"),
            field("st", 19, Message, ".google.protobuf.Struct"),
            field("v", 20, Message, ".google.protobuf.Value"),
            field("lv", 21, Message, ".google.protobuf.ListValue"),
            repeated(field("ints", 22, Int32, "")),
            loose,
            repeated(field("colors", 24, Enum, ".test.Color")),
            repeated(field("inners", 25, Message, ".test.Inner")),
            repeated(field("names", 26, String, "")),
            repeated(field("ds", 27, Double, "")),
            repeated(field("fx", 28, Fixed32, "")),
            repeated(field("by_num", 29, Message, ".test.All.ByNumEntry")),
            repeated(field("by_name", 30, Message, ".test.All.ByNameEntry")),
            repeated(field("flags", 31, Message, ".test.All.FlagsEntry")),
            in_oneof(field("word", 32, String, ""), 0, false),
            in_oneof(field("boxed", 33, Message, ".test.Inner"), 0, false),
            in_oneof(field("num", 34, Int64, ""), 0, false),
            in_oneof(field("maybe", 35, String, ""), 1, true),
            in_oneof(field("maybe_n", 36, Int32, ""), 2, true),
            repeated(field("times", 37, Message, ".google.protobuf.Timestamp")),
            field("child", 38, Message, ".test.All"),
        ],
        nested_type: vec![
            map_entry("ByNumEntry", Int32, Enum, ".test.Color"),
            map_entry("ByNameEntry", String, Message, ".test.Inner"),
            map_entry("FlagsEntry", Bool, Bytes, ""),
        ],
        oneof_decl: ["choice", "_maybe", "_maybe_n"]
            .map(|n| OneofDescriptorProto {
                name: Some(n.into()),
                ..Default::default()
            })
            .to_vec(),
        ..Default::default()
    };
    let color = EnumDescriptorProto {
        name: Some("Color".into()),
        value: ["COLOR_UNSPECIFIED", "RED", "GREEN"]
            .iter()
            .enumerate()
            .map(|(i, n)| EnumValueDescriptorProto {
                name: Some(n.to_string()),
                number: Some(i as i32),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let file = FileDescriptorProto {
        name: Some("test/all.proto".into()),
        package: Some("test".into()),
        dependency: vec![
            "google/protobuf/timestamp.proto".into(),
            "google/protobuf/struct.proto".into(),
        ],
        message_type: vec![all, inner],
        enum_type: vec![color],
        syntax: Some("proto3".into()),
        ..Default::default()
    };
    let mut pool = POOL.clone();
    pool.add_file_descriptor_proto(file).unwrap();
    pool
}

fn all_desc() -> MessageDescriptor {
    test_pool().get_message_by_name("test.All").unwrap()
}

const FULL: &str = r#"{
  d = 1.5, fl = 0.25, i32 = -7, i64 = 9007199254740993, u32 = 4000000000, u64 = 1 << 62,
  s32 = -3, s64 = -9007199254740993, f32 = 4000000000, f64 = 1 << 60, sf32 = -5,
  sf64 = -(1 << 60), b = true, s = "héllo", by = "\xff\x00\x80", color = "GREEN",
  inner = { id = "i", xs = { 1, -2 }, next = { id = "deeper", n = 3 } },
  at = "2024-01-02T03:04:05.123456789Z",
  st = { a = { b = 1, c = { 1, "x", true, { d = 2.5 } } }, e = {}, s = "str", n = NULL },
  v = { 1, "two", NULL, { k = false } }, lv = { 3.25, "z" },
  ints = { 1, -1, 300 }, loose = { -1, 1, 1 << 40 }, colors = { "RED", "GREEN" },
  inners = { { id = "a" }, { id = "b", xs = { 5 } } }, names = { "x", "" },
  ds = { 0.5, -2 }, fx = { 7, 0 },
  by_num = { [1] = "RED", [-4] = "GREEN" }, by_name = { k = { id = "v" }, e = {} },
  flags = { [true] = "\x01", [false] = "" },
  boxed = { id = "in a oneof" }, maybe = "", times = { "1970-01-01T00:00:00Z" },
  child = { s = "kid", child = { maybe_n = 0 } },
}"#;

fn encode(lua: &Lua, d: &MessageDescriptor, src: &str) -> Vec<u8> {
    lua.globals().set("NULL", lua.null()).unwrap();
    to_message(d, &table(lua, src)).unwrap().encode_to_vec()
}

#[test]
fn every_field_shape_decodes_as_from_message_shows_it() {
    let lua = lua();
    let d = all_desc();
    assert_same(&lua, &d, &encode(&lua, &d, FULL));
    assert_same(&lua, &d, &[]);
    // Explicit defaults on the wire for presence fields; the other oneof members.
    assert_same(&lua, &d, &encode(&lua, &d, "{ word = '', maybe_n = 0 }"));
    assert_same(&lua, &d, &encode(&lua, &d, "{ num = 0, inner = {} }"));
    // Unknown enum numbers stay integers, in fields, arrays and maps.
    let mut m = DynamicMessage::new(d.clone());
    m.set_field_by_name("color", Pv::EnumNumber(42));
    m.set_field_by_name(
        "colors",
        Pv::List(vec![Pv::EnumNumber(1), Pv::EnumNumber(-9)]),
    );
    m.set_field_by_name("u64", Pv::U64(u64::MAX));
    m.set_field_by_name("f64", Pv::U64(u64::MAX - 1));
    assert_same(&lua, &d, &m.encode_to_vec());
    let out: Table = lua
        .unpack(from_bytes(&lua, &d, &m.encode_to_vec()).unwrap())
        .unwrap();
    assert_eq!(out.get::<i64>("color").unwrap(), 42);
    assert_eq!(
        out.get::<i64>("u64").unwrap(),
        -1,
        "wraps as from_message does"
    );
}

#[test]
fn shapes_of_a_full_message() {
    let lua = lua();
    let d = all_desc();
    let out: Table = lua
        .unpack(from_bytes(&lua, &d, &encode(&lua, &d, FULL)).unwrap())
        .unwrap();
    assert_eq!(out.get::<i64>("i64").unwrap(), 9_007_199_254_740_993);
    assert_eq!(
        out.get::<String>("at").unwrap(),
        "2024-01-02T03:04:05.123456789Z"
    );
    assert_eq!(out.get::<String>("color").unwrap(), "GREEN");
    assert_eq!(
        &out.get::<mlua::LuaString>("by").unwrap().as_bytes()[..],
        b"\xff\x00\x80"
    );
    let st: Table = out.get("st").unwrap();
    assert_eq!(st.get::<Lv>("n").unwrap(), lua.null());
    assert!(st.metatable().is_none(), "a Struct is an object");
    let ints: Table = out.get("ints").unwrap();
    assert_eq!(ints.raw_len(), 3);
    assert!(ints.metatable().is_some(), "repeated fields are arrays");
    assert!(
        out.get::<Lv>("word").unwrap().is_nil(),
        "another oneof member is set"
    );
    assert_eq!(
        out.get::<String>("maybe").unwrap(),
        "",
        "present though empty"
    );
    assert!(out.get::<Lv>("maybe_n").unwrap().is_nil());
    let empty: Table = lua.unpack(from_bytes(&lua, &d, &[]).unwrap()).unwrap();
    assert_eq!(
        empty.get::<i64>("i32").unwrap(),
        0,
        "default scalars are present"
    );
    assert_eq!(empty.get::<String>("color").unwrap(), "COLOR_UNSPECIFIED");
    assert!(
        empty.get::<Lv>("inner").unwrap().is_nil(),
        "unset messages are nil"
    );
    assert!(empty.get::<Lv>("at").unwrap().is_nil());
}

#[test]
fn occurrences_merge_as_protobuf_says() {
    let lua = lua();
    let d = all_desc();
    // A message concatenated with another is the two merged: repeated fields (packed and not)
    // and maps append, scalars and oneofs take the last, nested messages merge field by field.
    let parts = [
        "{ ints = { 1, 2 }, loose = { 3 }, names = { 'a' }, s = 'first', i32 = 5, word = 'w',
           inner = { id = 'x', xs = { 1 }, next = { id = 'n' } }, by_num = { [1] = 'RED' },
           inners = { { id = 'a' } }, maybe = 'm' }",
        "{ ints = { 3 }, loose = { 4, 5 }, names = { 'b' }, s = 'second', num = 9,
           inner = { xs = { 2 }, next = { n = 4 } }, by_num = { [1] = 'GREEN', [2] = 'RED' },
           inners = { { id = 'b' } } }",
        "{ boxed = { id = 'box' }, inner = { id = 'y' }, ints = { 4 } }",
        "{ boxed = { n = 1 } }",
    ];
    let mut bytes = Vec::new();
    for p in parts {
        bytes.extend(encode(&lua, &d, p));
        assert_same(&lua, &d, &bytes);
    }
    let out: Table = lua.unpack(from_bytes(&lua, &d, &bytes).unwrap()).unwrap();
    let ints: Vec<i64> = out.get("ints").unwrap();
    assert_eq!(ints, [1, 2, 3, 4]);
    let inner: Table = out.get("inner").unwrap();
    assert_eq!(inner.get::<String>("id").unwrap(), "y");
    assert_eq!(inner.get::<Vec<i64>>("xs").unwrap(), [1, 2]);
    // A repeated field split by other fields, each element its own occurrence.
    let mut split = Vec::new();
    for (i, p) in [
        "{ loose = { 1 } }",
        "{ s = 'between' }",
        "{ loose = { 2 } }",
    ]
    .iter()
    .enumerate()
    {
        split.extend(encode(&lua, &d, p));
        if i == 1 {
            // A packed run of the same field between unpacked elements.
            split.extend(encode(&lua, &d, "{ ints = { 7 } }"));
        }
    }
    assert_same(&lua, &d, &split);
}

#[test]
fn unknown_fields_are_skipped() {
    let lua = lua();
    let d = desc("viam.app.v1.Robot");
    let mut bytes = encode(&lua, &d, "{ id = 'r', name = 'n' }");
    // Unknown fields of every wire type: a varint, a fixed64, a length-delimited blob, a group.
    use prost::encoding::{WireType, encode_key, encode_varint};
    encode_key(99, WireType::Varint, &mut bytes);
    encode_varint(150, &mut bytes);
    encode_key(98, WireType::SixtyFourBit, &mut bytes);
    bytes.extend([0; 8]);
    encode_key(97, WireType::LengthDelimited, &mut bytes);
    bytes.extend([3, b'a', b'b', b'c']);
    encode_key(96, WireType::StartGroup, &mut bytes);
    encode_key(95, WireType::Varint, &mut bytes);
    encode_varint(1, &mut bytes);
    encode_key(96, WireType::EndGroup, &mut bytes);
    encode_key(2, WireType::LengthDelimited, &mut bytes);
    bytes.extend([4, b'l', b'a', b's', b't']);
    assert_same(&lua, &d, &bytes);
}

#[test]
fn malformed_bytes_are_errors_naming_the_message() {
    let lua = lua();
    let d = desc("viam.app.v1.ListRobotsResponse");
    let good = encode(
        &lua,
        &d,
        "{ robots = { { id = 'a', name = 'n', created_on = '2024-01-02T03:04:05Z' } } }",
    );
    let e = from_bytes(&lua, &d, &good[..good.len() - 3]).unwrap_err();
    let m = e
        .downcast_ref::<MalformedReply>()
        .expect("a MalformedReply");
    assert!(m.to_string().starts_with("decoding viam."), "{m}");
    // Invalid UTF-8 in a string field, named by message and field.
    let mut bad = encode(&lua, &desc("viam.app.v1.Robot"), "{ id = 'ab' }");
    *bad.last_mut().unwrap() = 0xff;
    let e = from_bytes(&lua, &desc("viam.app.v1.Robot"), &bad).unwrap_err();
    assert_eq!(
        e.to_string(),
        "decoding viam.app.v1.Robot: id: string is not valid UTF-8"
    );
    // A varint where a string belongs.
    let e = from_bytes(&lua, &desc("viam.app.v1.Robot"), &[0x08, 0x01]).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("decoding viam.app.v1.Robot: id: "),
        "{e}"
    );
    // Values nested past the limit.
    let value = desc("google.protobuf.Value");
    let mut nested = Vec::new();
    for _ in 0..200 {
        // list_value (6) { values (1) { ...nested } }
        let mut inner = Vec::new();
        prost::encoding::encode_key(1, prost::encoding::WireType::LengthDelimited, &mut inner);
        prost::encoding::encode_varint(nested.len() as u64, &mut inner);
        inner.extend(&nested);
        nested.clear();
        prost::encoding::encode_key(6, prost::encoding::WireType::LengthDelimited, &mut nested);
        prost::encoding::encode_varint(inner.len() as u64, &mut nested);
        nested.extend(inner);
    }
    let e = from_bytes(&lua, &value, &nested).unwrap_err();
    assert!(e.to_string().contains("nested too deeply"), "{e}");
}

/// Bit flips and truncations of valid encodings: never a panic, and whatever both decoders
/// accept they show alike.
#[test]
fn damaged_bytes_never_panic() {
    let lua = lua();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut descs = all_messages();
    descs.push(all_desc());
    for d in descs {
        let good = if d.full_name() == "test.All" {
            encode(&lua, &d, FULL)
        } else {
            to_message(&d, &sample(&lua, &d, 0))
                .unwrap()
                .encode_to_vec()
        };
        if good.is_empty() {
            continue;
        }
        for _ in 0..50 {
            let mut bytes = good.clone();
            let at = next() as usize % bytes.len();
            bytes[at] ^= 1 << (next() % 8);
            if next() % 4 == 0 {
                bytes.truncate(next() as usize % bytes.len());
            }
            let ours = from_bytes(&lua, &d, &bytes);
            if let (Ok(_), Ok(_)) = (&ours, DynamicMessage::decode(d.clone(), bytes.as_slice())) {
                assert_same(&lua, &d, &bytes);
            }
        }
    }
}

#[test]
fn field_names_are_interned_once_per_state() {
    let lua = lua();
    let d = desc("viam.app.v1.Robot");
    from_bytes(&lua, &d, &[]).unwrap();
    let first = plans(&lua, &d).unwrap();
    from_bytes(&lua, &d, &[]).unwrap();
    assert!(Rc::ptr_eq(&first, &plans(&lua, &d).unwrap()));
}

#[test]
fn simple_messages_are_built_in_one_raw_session_and_merges_take_the_full_walk() {
    let lua = lua();
    let d = desc("viam.app.v1.GetRobotResponse");
    let plans = plans(&lua, &d).unwrap();
    assert!(
        plans.msgs[0].simple,
        "GetRobotResponse: singular fields only"
    );
    let list = plans_of(&lua, "viam.app.v1.ListRobotsResponse");
    assert!(!list.msgs[0].simple, "a list is not for the fast path");
    assert!(list.msgs[1].simple, "its Robot elements are");

    let one = encode(
        &lua,
        &d,
        "{ robot = { id = 'r1', name = 'n', created_on = '2024-01-02T03:04:05Z',
           online_state = 'ONLINE_STATE_ONLINE' } }",
    );
    let fast = raw::decode(&lua, &plans, 0, &one, 0).unwrap();
    assert!(fast.is_some(), "the fast path took a plain reply");
    assert_same(&lua, &d, &one);
    // The robot twice: protobuf merges the two, which the fast path leaves to the full walk.
    let mut twice = one.clone();
    twice.extend(encode(
        &lua,
        &d,
        "{ robot = { name = 'second', seconds_since_online = 3 } }",
    ));
    assert!(raw::decode(&lua, &plans, 0, &twice, 0).unwrap().is_none());
    assert_same(&lua, &d, &twice);
    let out: Table = lua.unpack(from_bytes(&lua, &d, &twice).unwrap()).unwrap();
    let robot: Table = out.get("robot").unwrap();
    assert_eq!(
        robot.get::<String>("id").unwrap(),
        "r1",
        "kept from the first"
    );
    assert_eq!(robot.get::<String>("name").unwrap(), "second");
    // Damaged: the fast path gives up and the full walk names the message.
    let e = from_bytes(&lua, &d, &one[..one.len() - 3]).unwrap_err();
    assert!(e.to_string().contains("decoding viam.app.v1."), "{e}");
}

fn plans_of(lua: &Lua, name: &str) -> Rc<PlanSet> {
    plans(lua, &desc(name)).unwrap()
}
