//! The one Lua <-> protobuf bridge. It walks a `MessageDescriptor` field by field (not serde's
//! protobuf-JSON mapping, which would turn bytes into base64 and 64-bit integers into strings).
//!
//! Lua -> proto: tables with proto field names; unknown keys are errors with a "did you mean"
//! hint; enums by value name (or number); bytes are raw Lua strings; Timestamps are RFC 3339
//! strings; `google.protobuf.Struct`/`Value`/`ListValue` are plain Lua values (json.null for null).
//! Proto -> Lua: plain tables; unset message and proto3 `optional` fields are nil; repeated
//! fields and lists are arrays marked with mlua's array metatable (so `json.encode` keeps `[]`).

use mlua::{Lua, LuaSerdeExt, Table, Value as Lv};
use prost_reflect::{
    DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, ReflectMessage, Value as Pv,
};

pub type ConvResult<T> = Result<T, String>;

pub(super) const STRUCT: &str = "google.protobuf.Struct";
pub(super) const VALUE: &str = "google.protobuf.Value";
pub(super) const LIST_VALUE: &str = "google.protobuf.ListValue";
pub(super) const TIMESTAMP: &str = "google.protobuf.Timestamp";

/// A Lua value's type as errors name it (integers apart from floats).
pub fn type_name(v: &Lv) -> &'static str {
    match v {
        Lv::Integer(_) => "integer",
        Lv::Number(_) => "number",
        other => other.type_name(),
    }
}

/// The closest name among `candidates`, when it is close enough to be a plausible typo.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(name, c), c))
        .filter(|(score, _)| *score > 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

// ---------- Lua -> proto ----------

/// Builds a message of type `desc` from a Lua table (through its encoding, encode.rs: one set of
/// rules for requests sent and messages built).
pub fn to_message(desc: &MessageDescriptor, table: &Table) -> ConvResult<DynamicMessage> {
    built(desc, super::encode::encode(desc, table, None)?)
}

/// How deep tables may nest in a request (messages, Structs, lists). Deeper input, such as a
/// table that contains itself, is refused with the argument's name instead of exhausting the
/// stack.
pub const MAX_DEPTH: usize = 64;

/// Top-level field name -> the name the user wrote it as (the prelude's `map` reversed): the
/// Lua table itself, read field by field (only for an error's message), rather than a map built
/// on every call.
#[derive(Default)]
pub struct Labels(pub Option<Table>);

impl Labels {
    pub(super) fn get(&self, field: &str) -> Option<String> {
        self.0.as_ref()?.raw_get::<Option<String>>(field).ok()?
    }
}

/// Like `to_message`, but errors about a top-level field (and anything inside it) name it by its
/// label: `robot_id: expected string`, not the proto field `id` the user never typed.
pub fn to_message_labeled(
    desc: &MessageDescriptor,
    table: &Table,
    labels: &Labels,
) -> ConvResult<DynamicMessage> {
    built(desc, super::encode::encode(desc, table, Some(labels))?)
}

fn built(desc: &MessageDescriptor, bytes: Vec<u8>) -> ConvResult<DynamicMessage> {
    DynamicMessage::decode(desc.clone(), bytes.as_slice())
        .map_err(|e| format!("{}: encoded request does not decode: {e}", desc.full_name()))
}

// ---------- proto -> Lua ----------

/// A fresh array table: carries a marker so that an empty result stays a list on the way back.
pub fn new_array(lua: &Lua, items: Vec<Lv>) -> mlua::Result<Table> {
    let t = lua.create_sequence_from(items)?;
    t.set_metatable(Some(array_marker(lua)?))?;
    Ok(t)
}

/// mlua's array metatable (json.encode writes such tables as `[]`), tagged for `is_array`.
pub(super) fn array_marker(lua: &Lua) -> mlua::Result<Table> {
    let mt = lua.array_metatable();
    mt.raw_set("__fleetsh_array", true)?;
    Ok(mt)
}

/// Turns a message into a plain Lua table (or a string/value for the well-known types).
pub fn from_message(lua: &Lua, msg: &DynamicMessage) -> mlua::Result<Lv> {
    let desc = msg.descriptor();
    match desc.full_name() {
        TIMESTAMP => {
            let ts = prost_types::Timestamp {
                seconds: msg
                    .get_field_by_name("seconds")
                    .and_then(|v| v.as_i64())
                    .unwrap_or(0),
                nanos: msg
                    .get_field_by_name("nanos")
                    .and_then(|v| v.as_i32())
                    .unwrap_or(0),
            };
            return Ok(Lv::String(lua.create_string(ts.to_string())?));
        }
        VALUE => return value_to_lua(lua, msg),
        STRUCT => return struct_to_lua(lua, msg),
        LIST_VALUE => return list_to_lua(lua, msg),
        _ => {}
    }
    let t = lua.create_table()?;
    for field in desc.fields() {
        if field.supports_presence() && !msg.has_field(&field) {
            continue;
        }
        let v = msg.get_field(&field);
        t.raw_set(field.name(), field_to_lua(lua, &field, &v)?)?;
    }
    Ok(Lv::Table(t))
}

fn field_to_lua(lua: &Lua, field: &FieldDescriptor, v: &Pv) -> mlua::Result<Lv> {
    let kind = field.kind();
    match v {
        Pv::List(items) => {
            let items = items
                .iter()
                .map(|i| scalar_to_lua(lua, &kind, i))
                .collect::<mlua::Result<Vec<_>>>()?;
            Ok(Lv::Table(new_array(lua, items)?))
        }
        Pv::Map(map) => {
            let Kind::Message(entry) = kind else {
                unreachable!("map fields are messages")
            };
            let val_kind = entry.map_entry_value_field().kind();
            let t = lua.create_table()?;
            for (k, val) in map {
                t.raw_set(map_key_to_lua(lua, k)?, scalar_to_lua(lua, &val_kind, val)?)?;
            }
            Ok(Lv::Table(t))
        }
        other => scalar_to_lua(lua, &kind, other),
    }
}

pub(super) fn map_key_to_lua(lua: &Lua, k: &MapKey) -> mlua::Result<Lv> {
    Ok(match k {
        MapKey::String(s) => Lv::String(lua.create_string(s)?),
        MapKey::Bool(b) => Lv::Boolean(*b),
        MapKey::I32(i) => Lv::Integer(i64::from(*i)),
        MapKey::I64(i) => Lv::Integer(*i),
        MapKey::U32(i) => Lv::Integer(i64::from(*i)),
        MapKey::U64(i) => Lv::Integer(*i as i64),
    })
}

pub(super) fn scalar_to_lua(lua: &Lua, kind: &Kind, v: &Pv) -> mlua::Result<Lv> {
    Ok(match v {
        Pv::Bool(b) => Lv::Boolean(*b),
        Pv::I32(i) => Lv::Integer(i64::from(*i)),
        Pv::I64(i) => Lv::Integer(*i),
        Pv::U32(i) => Lv::Integer(i64::from(*i)),
        // Wraps above i64::MAX: Lua has no unsigned 64-bit integers.
        Pv::U64(i) => Lv::Integer(*i as i64),
        Pv::F32(f) => Lv::Number(f64::from(*f)),
        Pv::F64(f) => Lv::Number(*f),
        Pv::String(s) => Lv::String(lua.create_string(s)?),
        Pv::Bytes(b) => Lv::String(lua.create_string(b.as_ref())?),
        Pv::EnumNumber(n) => match kind {
            Kind::Enum(e) => match e.get_value(*n) {
                Some(ev) => Lv::String(lua.create_string(ev.name())?),
                None => Lv::Integer(i64::from(*n)),
            },
            _ => Lv::Integer(i64::from(*n)),
        },
        Pv::Message(m) => from_message(lua, m)?,
        Pv::List(_) | Pv::Map(_) => unreachable!("nested lists and maps do not exist in proto3"),
    })
}

fn value_to_lua(lua: &Lua, msg: &DynamicMessage) -> mlua::Result<Lv> {
    let Some(field) = msg.descriptor().fields().find(|f| msg.has_field(f)) else {
        return Ok(lua.null());
    };
    let v = msg.get_field(&field);
    Ok(match (field.name(), v.as_ref()) {
        ("null_value", _) => lua.null(),
        ("number_value", Pv::F64(n)) => number_to_lua(*n),
        ("string_value", Pv::String(s)) => Lv::String(lua.create_string(s)?),
        ("bool_value", Pv::Bool(b)) => Lv::Boolean(*b),
        ("struct_value", Pv::Message(m)) => struct_to_lua(lua, m)?,
        ("list_value", Pv::Message(m)) => list_to_lua(lua, m)?,
        _ => lua.null(),
    })
}

/// Struct numbers are doubles; integral ones come back as Lua integers (3, not 3.0).
pub(super) fn number_to_lua(n: f64) -> Lv {
    if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 {
        Lv::Integer(n as i64)
    } else {
        Lv::Number(n)
    }
}

fn struct_to_lua(lua: &Lua, msg: &DynamicMessage) -> mlua::Result<Lv> {
    let t = lua.create_table()?;
    if let Some(fields) = msg.get_field_by_name("fields") {
        if let Some(map) = fields.as_map() {
            for (k, v) in map {
                if let (MapKey::String(k), Pv::Message(m)) = (k, v) {
                    t.raw_set(k.as_str(), value_to_lua(lua, m)?)?;
                }
            }
        }
    }
    Ok(Lv::Table(t))
}

fn list_to_lua(lua: &Lua, msg: &DynamicMessage) -> mlua::Result<Lv> {
    let mut items = Vec::new();
    if let Some(values) = msg.get_field_by_name("values") {
        for v in values.as_list().unwrap_or_default() {
            if let Pv::Message(m) = v {
                items.push(value_to_lua(lua, m)?);
            }
        }
    }
    Ok(Lv::Table(new_array(lua, items)?))
}

#[cfg(test)]
#[path = "convert_tests.rs"]
pub(super) mod tests;
