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
    DynamicMessage, EnumDescriptor, FieldDescriptor, Kind, MapKey, MessageDescriptor,
    ReflectMessage, Value as Pv,
};

pub type ConvResult<T> = Result<T, String>;

pub(super) const STRUCT: &str = "google.protobuf.Struct";
pub(super) const VALUE: &str = "google.protobuf.Value";
pub(super) const LIST_VALUE: &str = "google.protobuf.ListValue";
pub(super) const TIMESTAMP: &str = "google.protobuf.Timestamp";

fn lua_err(e: mlua::Error) -> String {
    e.to_string()
}

/// A Lua value's type as errors name it (integers apart from floats).
pub fn type_name(v: &Lv) -> &'static str {
    match v {
        Lv::Integer(_) => "integer",
        Lv::Number(_) => "number",
        other => other.type_name(),
    }
}

fn expected(path: &str, what: &str, got: &Lv) -> String {
    format!("{path}: expected {what}, got {}", type_name(got))
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

/// Builds a message of type `desc` from a Lua table.
pub fn to_message(desc: &MessageDescriptor, table: &Table) -> ConvResult<DynamicMessage> {
    message_from_table(desc, table, "", None, 0)
}

/// How deep tables may nest in a request (messages, Structs, lists). Deeper input, such as a
/// table that contains itself, is refused with the argument's name instead of exhausting the
/// stack.
pub const MAX_DEPTH: usize = 64;

fn too_deep(path: &str) -> String {
    let arg = path.split(['.', '[']).next().unwrap_or(path);
    format!("{arg}: nested deeper than {MAX_DEPTH} levels (or it contains itself)")
}

/// Top-level field name -> the name the user wrote it as (the prelude's `map` reversed): the
/// Lua table itself, read field by field, rather than a map built on every call.
#[derive(Default)]
pub struct Labels(pub Option<Table>);

impl Labels {
    fn get(&self, field: &str) -> Option<String> {
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
    message_from_table(desc, table, "", Some(labels), 0)
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

fn message_from_table(
    desc: &MessageDescriptor,
    table: &Table,
    path: &str,
    labels: Option<&Labels>,
    depth: usize,
) -> ConvResult<DynamicMessage> {
    if depth > MAX_DEPTH {
        return Err(too_deep(path));
    }
    let mut msg = DynamicMessage::new(desc.clone());
    for pair in table.pairs::<Lv, Lv>() {
        let (k, v) = pair.map_err(lua_err)?;
        let Lv::String(k) = &k else {
            return Err(format!(
                "{}: field names must be strings, got {} key in a {} table",
                if path.is_empty() {
                    desc.full_name()
                } else {
                    path
                },
                type_name(&k),
                desc.full_name()
            ));
        };
        let name = k.to_str().map_err(lua_err)?.to_string();
        let Some(field) = desc.get_field_by_name(&name) else {
            return Err(unknown_field(desc, &name));
        };
        let label = labels.and_then(|l| l.get(&name));
        let fpath = join(path, label.as_deref().unwrap_or(&name));
        let value = field_value(&field, v, &fpath, depth)?;
        msg.try_set_field(&field, value)
            .map_err(|e| format!("{fpath}: {e}"))?;
    }
    Ok(msg)
}

fn unknown_field(desc: &MessageDescriptor, name: &str) -> String {
    let names: Vec<String> = desc.fields().map(|f| f.name().to_string()).collect();
    let mut msg = format!("unknown field '{name}' for {}", desc.full_name());
    match closest(name, names.iter().map(String::as_str)) {
        Some(c) => msg.push_str(&format!("; did you mean '{c}'?")),
        None if names.is_empty() => msg.push_str(" (it has no fields)"),
        None => msg.push_str(&format!(" (fields: {})", names.join(", "))),
    }
    msg
}

fn field_value(field: &FieldDescriptor, v: Lv, path: &str, depth: usize) -> ConvResult<Pv> {
    if field.is_map() {
        return map_value(field, v, path, depth);
    }
    if field.is_list() {
        let Lv::Table(t) = &v else {
            return Err(expected(path, "array", &v));
        };
        let items = array_items(t, path)?;
        let kind = field.kind();
        return items
            .into_iter()
            .enumerate()
            .map(|(i, item)| single_value(&kind, item, &format!("{path}[{}]", i + 1), depth))
            .collect::<ConvResult<Vec<_>>>()
            .map(Pv::List);
    }
    single_value(&field.kind(), v, path, depth)
}

/// The values of a Lua sequence 1..n; any other key is an error.
fn array_items(t: &Table, path: &str) -> ConvResult<Vec<Lv>> {
    // A reply's lazy list sent back in a request: walked raw below.
    super::lazy::force(t).map_err(lua_err)?;
    let n = t.raw_len();
    let mut count = 0usize;
    for pair in t.pairs::<Lv, Lv>() {
        let (k, _) = pair.map_err(lua_err)?;
        match k {
            Lv::Integer(i) if i >= 1 && (i as usize) <= n => count += 1,
            other => {
                return Err(format!(
                    "{path}: expected an array, found key {}",
                    key_repr(&other)
                ));
            }
        }
    }
    // `#t` of a table with holes is any border, so 1..n may hold fewer keys than n.
    if count != n {
        return Err(format!(
            "{path}: expected an array, found a hole (nil) among its first {n} items"
        ));
    }
    (1..=n)
        .map(|i| t.raw_get::<Lv>(i).map_err(lua_err))
        .collect()
}

fn key_repr(k: &Lv) -> String {
    match k {
        Lv::String(s) => format!("'{}'", s.to_string_lossy()),
        Lv::Integer(i) => i.to_string(),
        other => type_name(other).to_string(),
    }
}

fn map_value(field: &FieldDescriptor, v: Lv, path: &str, depth: usize) -> ConvResult<Pv> {
    let Lv::Table(t) = &v else {
        return Err(expected(path, "table", &v));
    };
    let Kind::Message(entry) = field.kind() else {
        unreachable!("map fields are messages")
    };
    let key_kind = entry.map_entry_key_field().kind();
    let val_kind = entry.map_entry_value_field().kind();
    let mut map = std::collections::HashMap::new();
    for pair in t.pairs::<Lv, Lv>() {
        let (k, val) = pair.map_err(lua_err)?;
        let kpath = format!("{path}[{}]", key_repr(&k));
        let key = match single_value(&key_kind, k, &kpath, depth)? {
            Pv::String(s) => MapKey::String(s),
            Pv::Bool(b) => MapKey::Bool(b),
            Pv::I32(i) => MapKey::I32(i),
            Pv::I64(i) => MapKey::I64(i),
            Pv::U32(i) => MapKey::U32(i),
            Pv::U64(i) => MapKey::U64(i),
            _ => return Err(format!("{kpath}: unsupported map key type")),
        };
        map.insert(key, single_value(&val_kind, val, &kpath, depth)?);
    }
    Ok(Pv::Map(map))
}

fn integer(v: &Lv, path: &str, what: &str) -> ConvResult<i64> {
    match v {
        Lv::Integer(i) => Ok(*i),
        Lv::Number(n) if n.fract() == 0.0 && *n >= i64::MIN as f64 && *n < i64::MAX as f64 => {
            Ok(*n as i64)
        }
        Lv::Number(n) => Err(format!(
            "{path}: expected {what}, got non-integral number {n}"
        )),
        other => Err(expected(path, what, other)),
    }
}

fn ranged<T: TryFrom<i64>>(i: i64, path: &str, what: &str) -> ConvResult<T> {
    T::try_from(i).map_err(|_| format!("{path}: {i} is out of range for {what}"))
}

fn single_value(kind: &Kind, v: Lv, path: &str, depth: usize) -> ConvResult<Pv> {
    Ok(match kind {
        Kind::Double | Kind::Float => {
            let n = match &v {
                Lv::Integer(i) => *i as f64,
                Lv::Number(n) => *n,
                other => return Err(expected(path, "number", other)),
            };
            if matches!(kind, Kind::Float) {
                Pv::F32(n as f32)
            } else {
                Pv::F64(n)
            }
        }
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            Pv::I32(ranged(integer(&v, path, "int32")?, path, "int32")?)
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Pv::I64(integer(&v, path, "int64")?),
        Kind::Uint32 | Kind::Fixed32 => {
            Pv::U32(ranged(integer(&v, path, "uint32")?, path, "uint32")?)
        }
        // Lua integers are signed 64-bit: uint64 values above i64::MAX are not representable.
        Kind::Uint64 | Kind::Fixed64 => {
            Pv::U64(ranged(integer(&v, path, "uint64")?, path, "uint64")?)
        }
        Kind::Bool => match v {
            Lv::Boolean(b) => Pv::Bool(b),
            other => return Err(expected(path, "boolean", &other)),
        },
        Kind::String => match &v {
            Lv::String(s) => Pv::String(
                s.to_str()
                    .map_err(|_| {
                        format!(
                            "{path}: string is not valid UTF-8 (only bytes fields take raw bytes)"
                        )
                    })?
                    .to_string(),
            ),
            other => return Err(expected(path, "string", other)),
        },
        Kind::Bytes => match &v {
            Lv::String(s) => Pv::Bytes(bytes::Bytes::copy_from_slice(&s.as_bytes())),
            other => return Err(expected(path, "string (bytes)", other)),
        },
        Kind::Enum(e) => Pv::EnumNumber(enum_number(e, &v, path)?),
        Kind::Message(m) => message_value(m, v, path, depth + 1)?,
    })
}

fn enum_number(e: &EnumDescriptor, v: &Lv, path: &str) -> ConvResult<i32> {
    match v {
        Lv::String(s) => {
            let name = s.to_string_lossy();
            e.get_value_by_name(&name)
                .map(|ev| ev.number())
                .ok_or_else(|| {
                    let names: Vec<String> = e.values().map(|v| v.name().to_string()).collect();
                    let hint = closest(&name, names.iter().map(String::as_str))
                        .map(|c| format!("; did you mean '{c}'?"))
                        .unwrap_or_else(|| format!(" (one of: {})", names.join(", ")));
                    format!("{path}: unknown {} value '{name}'{hint}", e.full_name())
                })
        }
        Lv::Integer(_) | Lv::Number(_) => {
            let n: i32 = ranged(integer(v, path, "enum number")?, path, "enum")?;
            e.get_value(n)
                .map(|_| n)
                .ok_or_else(|| format!("{path}: {n} is not a value of {}", e.full_name()))
        }
        other => Err(expected(path, &format!("{} name", e.full_name()), other)),
    }
}

fn message_value(m: &MessageDescriptor, v: Lv, path: &str, depth: usize) -> ConvResult<Pv> {
    let msg = match m.full_name() {
        TIMESTAMP => timestamp_message(m, &v, path)?,
        VALUE => struct_value(m, v, path, depth)?,
        STRUCT => match &v {
            Lv::Table(t) => struct_message(m, t, path, depth)?,
            other => return Err(expected(path, "table (Struct)", other)),
        },
        LIST_VALUE => match &v {
            Lv::Table(t) => list_message(m, t, path, depth)?,
            other => return Err(expected(path, "array (ListValue)", other)),
        },
        _ => match &v {
            Lv::Table(t) => message_from_table(m, t, path, None, depth)?,
            other => return Err(expected(path, &format!("table ({})", m.full_name()), other)),
        },
    };
    Ok(Pv::Message(msg))
}

fn timestamp_message(m: &MessageDescriptor, v: &Lv, path: &str) -> ConvResult<DynamicMessage> {
    let Lv::String(s) = v else {
        return Err(expected(path, "RFC 3339 time string", v));
    };
    let ts: prost_types::Timestamp = s.to_str().map_err(lua_err)?.parse().map_err(|_| {
        format!(
            "{path}: '{}' is not an RFC 3339 time (e.g. 2024-01-02T03:04:05Z)",
            s.to_string_lossy()
        )
    })?;
    let mut msg = DynamicMessage::new(m.clone());
    msg.set_field_by_name("seconds", Pv::I64(ts.seconds));
    msg.set_field_by_name("nanos", Pv::I32(ts.nanos));
    Ok(msg)
}

fn sub_desc(m: &MessageDescriptor, field: &str) -> MessageDescriptor {
    match m.get_field_by_name(field).map(|f| f.kind()) {
        Some(Kind::Message(d)) => d,
        _ => unreachable!(
            "well-known type {} has message field {field}",
            m.full_name()
        ),
    }
}

/// A Lua table that is a non-empty sequence (or carries the array metatable) is a list.
fn is_array(t: &Table) -> bool {
    if super::lazy::is_lazy(t) {
        return true;
    }
    let marked = t.metatable().is_some_and(|mt| {
        // Marked by us (from_message) or by json.decode: keep `[]` a list on the way back.
        mt.raw_get::<bool>("__fleetsh_array").unwrap_or(false)
    });
    marked || (t.raw_len() > 0 && t.pairs::<Lv, Lv>().count() == t.raw_len())
}

fn struct_value(
    m: &MessageDescriptor,
    v: Lv,
    path: &str,
    depth: usize,
) -> ConvResult<DynamicMessage> {
    if depth > MAX_DEPTH {
        return Err(too_deep(path));
    }
    let mut msg = DynamicMessage::new(m.clone());
    let (field, value) = match v {
        Lv::Nil | Lv::LightUserData(_) => ("null_value", Pv::EnumNumber(0)),
        Lv::Boolean(b) => ("bool_value", Pv::Bool(b)),
        Lv::Integer(i) => ("number_value", Pv::F64(i as f64)),
        Lv::Number(n) => ("number_value", Pv::F64(n)),
        Lv::String(s) => (
            "string_value",
            Pv::String(
                s.to_str()
                    .map_err(|_| format!("{path}: string is not valid UTF-8"))?
                    .to_string(),
            ),
        ),
        Lv::Table(t) if is_array(&t) => (
            "list_value",
            Pv::Message(list_message(
                &sub_desc(m, "list_value"),
                &t,
                path,
                depth + 1,
            )?),
        ),
        Lv::Table(t) => (
            "struct_value",
            Pv::Message(struct_message(
                &sub_desc(m, "struct_value"),
                &t,
                path,
                depth + 1,
            )?),
        ),
        other => return Err(expected(path, "JSON-like value", &other)),
    };
    msg.set_field_by_name(field, value);
    Ok(msg)
}

fn struct_message(
    m: &MessageDescriptor,
    t: &Table,
    path: &str,
    depth: usize,
) -> ConvResult<DynamicMessage> {
    let value_desc = match m.get_field_by_name("fields").map(|f| f.kind()) {
        Some(Kind::Message(entry)) => match entry.map_entry_value_field().kind() {
            Kind::Message(d) => d,
            _ => unreachable!("Struct.fields values are Values"),
        },
        _ => unreachable!("Struct has a fields map"),
    };
    let mut map = std::collections::HashMap::new();
    for pair in t.pairs::<Lv, Lv>() {
        let (k, v) = pair.map_err(lua_err)?;
        let Lv::String(k) = &k else {
            return Err(format!(
                "{path}: object keys must be strings, got {} key",
                type_name(&k)
            ));
        };
        let key = k.to_str().map_err(lua_err)?.to_string();
        let value = struct_value(&value_desc, v, &join(path, &key), depth + 1)?;
        map.insert(MapKey::String(key), Pv::Message(value));
    }
    let mut msg = DynamicMessage::new(m.clone());
    msg.set_field_by_name("fields", Pv::Map(map));
    Ok(msg)
}

fn list_message(
    m: &MessageDescriptor,
    t: &Table,
    path: &str,
    depth: usize,
) -> ConvResult<DynamicMessage> {
    let value_desc = sub_desc(m, "values");
    let values = array_items(t, path)?
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            struct_value(&value_desc, v, &format!("{path}[{}]", i + 1), depth + 1).map(Pv::Message)
        })
        .collect::<ConvResult<Vec<_>>>()?;
    let mut msg = DynamicMessage::new(m.clone());
    msg.set_field_by_name("values", Pv::List(values));
    Ok(msg)
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
