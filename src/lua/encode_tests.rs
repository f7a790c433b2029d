//! The encoder's own edges; convert_tests.rs checks its rules (every message of every RPC
//! round-trips through `to_message`, which decodes what `encode` wrote, and the errors).

use mlua::Table;
use prost::Message;
use prost_reflect::{DynamicMessage, Value as Pv};

use super::*;
use crate::lua::convert::tests::{desc, lua, table};

fn decoded(name: &str, t: &Table) -> DynamicMessage {
    let d = desc(name);
    let bytes = encode(&d, t, None).unwrap();
    DynamicMessage::decode(d, bytes.as_slice()).unwrap()
}

#[test]
fn nested_messages_of_128_bytes_and_more_get_their_whole_length() {
    let lua = lua();
    // Lengths of one, two and three varint bytes, nested inside each other.
    for n in [100, 200, 20_000] {
        let t = table(
            &lua,
            &format!(
                "{{ id = 'p', robot_config = {{ a = {{ b = string.rep('x', {n}) }}, c = 1 }} }}"
            ),
        );
        let msg = decoded("viam.app.v1.UpdateRobotPartRequest", &t);
        let cfg = msg.get_field_by_name("robot_config").unwrap();
        let Pv::Message(cfg) = cfg.as_ref() else {
            panic!("robot_config is a Struct")
        };
        let back = crate::lua::convert::from_message(&lua, cfg).unwrap();
        let back: Table = lua.unpack(back).unwrap();
        let a: Table = back.get("a").unwrap();
        assert_eq!(a.get::<String>("b").unwrap().len(), n, "{n}");
        assert_eq!(back.get::<i64>("c").unwrap(), 1, "{n}");
    }
}

#[test]
fn defaults_without_presence_stay_off_the_wire_and_set_optionals_go_on_it() {
    let lua = lua();
    let d = desc("viam.app.v1.GetRobotPartLogsRequest");
    // `id` and `errors_only` have no presence: their defaults are not sent, as prost-reflect
    // leaves them out; an empty `filter` (proto3 optional) is set, so it is sent.
    let bytes = encode(&d, &table(&lua, "{ id = '', errors_only = false }"), None).unwrap();
    assert!(bytes.is_empty(), "{bytes:?}");
    let bytes = encode(&d, &table(&lua, "{ id = 'x', filter = '' }"), None).unwrap();
    let msg = DynamicMessage::decode(d.clone(), bytes.as_slice()).unwrap();
    assert!(msg.has_field_by_name("filter"));
    assert_eq!(
        bytes.len(),
        msg.encode_to_vec().len(),
        "the bytes prost-reflect writes"
    );
}

#[test]
fn errors_name_the_argument_by_its_label() {
    let lua = lua();
    let d = desc("viam.app.v1.GetRobotRequest");
    let labels = Labels(Some(table(&lua, "{ id = 'robot_id' }")));
    let e = encode(&d, &table(&lua, "{ id = 5 }"), Some(&labels)).unwrap_err();
    assert_eq!(e, "robot_id: expected string, got integer");
    let e = encode(&d, &table(&lua, "{ id = 5 }"), None).unwrap_err();
    assert_eq!(e, "id: expected string, got integer");
}
