//! Lua tables -> protobuf wire bytes, field by field through the request's `MessageDescriptor`,
//! by the rules of convert.rs: proto field names (unknown ones are errors with a "did you mean"
//! hint), enums by value name or number, bytes as raw Lua strings, Timestamps as RFC 3339
//! strings, `google.protobuf.Struct`/`Value`/`ListValue` as plain Lua values.
//!
//! Requests are encoded straight from the script's tables: building a
//! `prost_reflect::DynamicMessage` first, then encoding and dropping it, was ~4,700 instructions
//! of a get_robot. The bytes are those prost-reflect encodes for the same message (unset and
//! default fields without presence left out, repeated scalars packed), up to the order of
//! fields, which the table's iteration gives.

use std::fmt;

use bytes::BufMut;
use mlua::{Table, Value as Lv};
use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint};
use prost_reflect::{EnumDescriptor, FieldDescriptor, Kind, MessageDescriptor};

use super::convert::{
    ConvResult, LIST_VALUE, Labels, MAX_DEPTH, STRUCT, TIMESTAMP, VALUE, closest, type_name,
};

/// Encodes a message of type `desc` from a Lua table; errors about a top-level field name it by
/// its label (`robot_id`, not the proto field `id` the user never typed).
pub fn encode(
    desc: &MessageDescriptor,
    table: &Table,
    labels: Option<&Labels>,
) -> ConvResult<Vec<u8>> {
    let mut buf = Vec::with_capacity(64);
    message(&mut buf, desc, table, &Path::Root, labels, 0)?;
    Ok(buf)
}

/// Where a value sits in the request, as errors name it (`robot.tags[2]`); rendered only when
/// an error is raised.
enum Path<'a> {
    Root,
    /// A field of a message, or a key of a Struct; `labels` rename top-level fields.
    Field(&'a Path<'a>, &'a str, Option<&'a Labels>),
    /// An item of an array, from 1.
    Index(&'a Path<'a>, usize),
    /// A key of a map.
    Key(&'a Path<'a>, &'a Lv),
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Field(parent, name, labels) => {
                let label = labels.and_then(|l| l.get(name));
                let name = label.as_deref().unwrap_or(name);
                match parent {
                    Path::Root => f.write_str(name),
                    _ => write!(f, "{parent}.{name}"),
                }
            }
            Path::Index(parent, i) => write!(f, "{parent}[{i}]"),
            Path::Key(parent, k) => write!(f, "{parent}[{}]", key_repr(k)),
        }
    }
}

fn lua_err(e: mlua::Error) -> String {
    e.to_string()
}

fn expected(path: &Path, what: &str, got: &Lv) -> String {
    format!("{path}: expected {what}, got {}", type_name(got))
}

fn too_deep(path: &Path) -> String {
    let path = path.to_string();
    let arg = path.split(['.', '[']).next().unwrap_or(&path);
    format!("{arg}: nested deeper than {MAX_DEPTH} levels (or it contains itself)")
}

fn key_repr(k: &Lv) -> String {
    match k {
        Lv::String(s) => format!("'{}'", s.to_string_lossy()),
        Lv::Integer(i) => i.to_string(),
        other => type_name(other).to_string(),
    }
}

/// A length-delimited field `tag` whose body `body` writes: the length goes in front once the
/// body is written (one byte reserved; moved over for a body of 128 bytes or more).
fn nested(
    buf: &mut Vec<u8>,
    tag: u32,
    body: impl FnOnce(&mut Vec<u8>) -> ConvResult<()>,
) -> ConvResult<()> {
    encode_key(tag, WireType::LengthDelimited, buf);
    let at = buf.len();
    buf.push(0);
    body(buf)?;
    let len = buf.len() - at - 1;
    if len < 0x80 {
        buf[at] = len as u8;
    } else {
        let mut head = [0u8; 10];
        let n = encoded_len_varint(len as u64);
        encode_varint(len as u64, &mut &mut head[..]);
        buf.splice(at..at + 1, head[..n].iter().copied());
    }
    Ok(())
}

/// A length-delimited field `tag` holding `bytes`.
fn delimited(buf: &mut Vec<u8>, tag: Option<u32>, bytes: &[u8]) {
    if let Some(tag) = tag {
        encode_key(tag, WireType::LengthDelimited, buf);
    }
    encode_varint(bytes.len() as u64, buf);
    buf.put_slice(bytes);
}

fn message(
    buf: &mut Vec<u8>,
    desc: &MessageDescriptor,
    table: &Table,
    path: &Path,
    labels: Option<&Labels>,
    depth: usize,
) -> ConvResult<()> {
    if depth > MAX_DEPTH {
        return Err(too_deep(path));
    }
    for pair in table.pairs::<Lv, Lv>() {
        let (k, v) = pair.map_err(lua_err)?;
        let Lv::String(k) = &k else {
            return Err(match path {
                Path::Root => format!(
                    "{}: field names must be strings, got {} key in a {} table",
                    desc.full_name(),
                    type_name(&k),
                    desc.full_name()
                ),
                _ => format!(
                    "{path}: field names must be strings, got {} key in a {} table",
                    type_name(&k),
                    desc.full_name()
                ),
            });
        };
        let name = k.to_str().map_err(lua_err)?;
        let Some(field) = desc.get_field_by_name(&name) else {
            return Err(unknown_field(desc, &name));
        };
        field_value(buf, &field, v, &Path::Field(path, &name, labels), depth)?;
    }
    Ok(())
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

fn field_value(
    buf: &mut Vec<u8>,
    field: &FieldDescriptor,
    v: Lv,
    path: &Path,
    depth: usize,
) -> ConvResult<()> {
    if field.is_map() {
        return map_value(buf, field, v, path, depth);
    }
    let tag = field.number();
    if field.is_list() {
        let Lv::Table(t) = &v else {
            return Err(expected(path, "array", &v));
        };
        let items = array_items(t, path)?;
        let kind = field.kind();
        if field.is_packed() {
            // An empty list is the default: nothing on the wire.
            if items.is_empty() {
                return Ok(());
            }
            return nested(buf, tag, |b| {
                for (i, item) in items.into_iter().enumerate() {
                    single(
                        b,
                        None,
                        &kind,
                        item,
                        &Path::Index(path, i + 1),
                        depth,
                        false,
                    )?;
                }
                Ok(())
            });
        }
        for (i, item) in items.into_iter().enumerate() {
            single(
                buf,
                Some(tag),
                &kind,
                item,
                &Path::Index(path, i + 1),
                depth,
                false,
            )?;
        }
        return Ok(());
    }
    let skip_default = !field.supports_presence();
    single(buf, Some(tag), &field.kind(), v, path, depth, skip_default)
}

/// The values of a Lua sequence 1..n; any other key is an error.
fn array_items(t: &Table, path: &Path) -> ConvResult<Vec<Lv>> {
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

fn map_value(
    buf: &mut Vec<u8>,
    field: &FieldDescriptor,
    v: Lv,
    path: &Path,
    depth: usize,
) -> ConvResult<()> {
    let Lv::Table(t) = &v else {
        return Err(expected(path, "table", &v));
    };
    let Kind::Message(entry) = field.kind() else {
        unreachable!("map fields are messages")
    };
    let key_kind = entry.map_entry_key_field().kind();
    let val_kind = entry.map_entry_value_field().kind();
    for pair in t.pairs::<Lv, Lv>() {
        let (k, val) = pair.map_err(lua_err)?;
        let kpath = Path::Key(path, &k);
        // An entry's key and value have no presence: defaults are left out, as prost does.
        nested(buf, field.number(), |b| {
            single(b, Some(1), &key_kind, k.clone(), &kpath, depth, true)?;
            single(b, Some(2), &val_kind, val, &kpath, depth, true)
        })?;
    }
    Ok(())
}

fn integer(v: &Lv, path: &Path, what: &str) -> ConvResult<i64> {
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

fn ranged<T: TryFrom<i64>>(i: i64, path: &Path, what: &str) -> ConvResult<T> {
    T::try_from(i).map_err(|_| format!("{path}: {i} is out of range for {what}"))
}

/// One value of `kind` as field `tag` (None: an item of a packed run, written without its key);
/// `skip_default`: a field without presence, which leaves its default value off the wire.
fn single(
    buf: &mut Vec<u8>,
    tag: Option<u32>,
    kind: &Kind,
    v: Lv,
    path: &Path,
    depth: usize,
    skip_default: bool,
) -> ConvResult<()> {
    let key = |buf: &mut Vec<u8>, wire: WireType| {
        if let Some(tag) = tag {
            encode_key(tag, wire, buf);
        }
    };
    let varint = |buf: &mut Vec<u8>, n: u64| {
        if !(skip_default && n == 0) {
            key(buf, WireType::Varint);
            encode_varint(n, buf);
        }
    };
    // A fixed-width value, given as its little-endian bytes.
    let fixed = |buf: &mut Vec<u8>, zero: bool, wire: WireType, le: &[u8]| {
        if !(skip_default && zero) {
            key(buf, wire);
            buf.extend_from_slice(le);
        }
    };
    match kind {
        Kind::Double | Kind::Float => {
            let n = match &v {
                Lv::Integer(i) => *i as f64,
                Lv::Number(n) => *n,
                other => return Err(expected(path, "number", other)),
            };
            if matches!(kind, Kind::Float) {
                let n = n as f32;
                fixed(buf, n == 0.0, WireType::ThirtyTwoBit, &n.to_le_bytes());
            } else {
                fixed(buf, n == 0.0, WireType::SixtyFourBit, &n.to_le_bytes());
            }
        }
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            let i: i32 = ranged(integer(&v, path, "int32")?, path, "int32")?;
            match kind {
                Kind::Int32 => varint(buf, i64::from(i) as u64),
                Kind::Sint32 => varint(buf, u64::from(((i << 1) ^ (i >> 31)) as u32)),
                _ => fixed(buf, i == 0, WireType::ThirtyTwoBit, &i.to_le_bytes()),
            }
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
            let i = integer(&v, path, "int64")?;
            match kind {
                Kind::Int64 => varint(buf, i as u64),
                Kind::Sint64 => varint(buf, ((i << 1) ^ (i >> 63)) as u64),
                _ => fixed(buf, i == 0, WireType::SixtyFourBit, &i.to_le_bytes()),
            }
        }
        Kind::Uint32 | Kind::Fixed32 => {
            let i: u32 = ranged(integer(&v, path, "uint32")?, path, "uint32")?;
            match kind {
                Kind::Uint32 => varint(buf, u64::from(i)),
                _ => fixed(buf, i == 0, WireType::ThirtyTwoBit, &i.to_le_bytes()),
            }
        }
        // Lua integers are signed 64-bit: uint64 values above i64::MAX are not representable.
        Kind::Uint64 | Kind::Fixed64 => {
            let i: u64 = ranged(integer(&v, path, "uint64")?, path, "uint64")?;
            match kind {
                Kind::Uint64 => varint(buf, i),
                _ => fixed(buf, i == 0, WireType::SixtyFourBit, &i.to_le_bytes()),
            }
        }
        Kind::Bool => match v {
            Lv::Boolean(b) => varint(buf, u64::from(b)),
            other => return Err(expected(path, "boolean", &other)),
        },
        Kind::String => match &v {
            Lv::String(s) => {
                let s = s.to_str().map_err(|_| {
                    format!("{path}: string is not valid UTF-8 (only bytes fields take raw bytes)")
                })?;
                if !(skip_default && s.is_empty()) {
                    delimited(buf, tag, s.as_bytes());
                }
            }
            other => return Err(expected(path, "string", other)),
        },
        Kind::Bytes => match &v {
            Lv::String(s) => {
                let b = s.as_bytes();
                if !(skip_default && b.is_empty()) {
                    delimited(buf, tag, &b);
                }
            }
            other => return Err(expected(path, "string (bytes)", other)),
        },
        Kind::Enum(e) => {
            let n = enum_number(e, &v, path)?;
            if !(skip_default && n == e.default_value().number()) {
                key(buf, WireType::Varint);
                encode_varint(i64::from(n) as u64, buf);
            }
        }
        // A message field has presence: set, it is on the wire even when empty.
        Kind::Message(m) => {
            let tag = tag.expect("messages are never packed");
            nested(buf, tag, |b| message_value(b, m, v, path, depth + 1))?;
        }
    }
    Ok(())
}

fn enum_number(e: &EnumDescriptor, v: &Lv, path: &Path) -> ConvResult<i32> {
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

/// The body of a message field of type `m`.
fn message_value(
    buf: &mut Vec<u8>,
    m: &MessageDescriptor,
    v: Lv,
    path: &Path,
    depth: usize,
) -> ConvResult<()> {
    match m.full_name() {
        TIMESTAMP => timestamp(buf, &v, path),
        VALUE => struct_value(buf, v, path, depth),
        STRUCT => match &v {
            Lv::Table(t) => struct_message(buf, t, path, depth),
            other => Err(expected(path, "table (Struct)", other)),
        },
        LIST_VALUE => match &v {
            Lv::Table(t) => list_message(buf, t, path, depth),
            other => Err(expected(path, "array (ListValue)", other)),
        },
        _ => match &v {
            Lv::Table(t) => message(buf, m, t, path, None, depth),
            other => Err(expected(path, &format!("table ({})", m.full_name()), other)),
        },
    }
}

// The well-known types' field numbers, fixed by google/protobuf/{timestamp,struct}.proto.
const TIMESTAMP_SECONDS: u32 = 1;
const TIMESTAMP_NANOS: u32 = 2;
const STRUCT_FIELDS: u32 = 1;
const VALUE_NULL: u32 = 1;
const VALUE_NUMBER: u32 = 2;
const VALUE_STRING: u32 = 3;
const VALUE_BOOL: u32 = 4;
const VALUE_STRUCT: u32 = 5;
const VALUE_LIST: u32 = 6;
const LIST_VALUES: u32 = 1;

fn timestamp(buf: &mut Vec<u8>, v: &Lv, path: &Path) -> ConvResult<()> {
    let Lv::String(s) = v else {
        return Err(expected(path, "RFC 3339 time string", v));
    };
    let ts: prost_types::Timestamp = s.to_str().map_err(lua_err)?.parse().map_err(|_| {
        format!(
            "{path}: '{}' is not an RFC 3339 time (e.g. 2024-01-02T03:04:05Z)",
            s.to_string_lossy()
        )
    })?;
    if ts.seconds != 0 {
        encode_key(TIMESTAMP_SECONDS, WireType::Varint, buf);
        encode_varint(ts.seconds as u64, buf);
    }
    if ts.nanos != 0 {
        encode_key(TIMESTAMP_NANOS, WireType::Varint, buf);
        encode_varint(i64::from(ts.nanos) as u64, buf);
    }
    Ok(())
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

/// `google.protobuf.Value`: one member of its `kind` oneof, which is on the wire even when it
/// holds its default (null, 0, "", false).
fn struct_value(buf: &mut Vec<u8>, v: Lv, path: &Path, depth: usize) -> ConvResult<()> {
    if depth > MAX_DEPTH {
        return Err(too_deep(path));
    }
    match v {
        Lv::Nil | Lv::LightUserData(_) => {
            encode_key(VALUE_NULL, WireType::Varint, buf);
            encode_varint(0, buf);
        }
        Lv::Boolean(b) => {
            encode_key(VALUE_BOOL, WireType::Varint, buf);
            encode_varint(u64::from(b), buf);
        }
        Lv::Integer(i) => {
            encode_key(VALUE_NUMBER, WireType::SixtyFourBit, buf);
            buf.put_f64_le(i as f64);
        }
        Lv::Number(n) => {
            encode_key(VALUE_NUMBER, WireType::SixtyFourBit, buf);
            buf.put_f64_le(n);
        }
        Lv::String(s) => {
            let s = s
                .to_str()
                .map_err(|_| format!("{path}: string is not valid UTF-8"))?;
            delimited(buf, Some(VALUE_STRING), s.as_bytes());
        }
        Lv::Table(t) if is_array(&t) => {
            nested(buf, VALUE_LIST, |b| list_message(b, &t, path, depth + 1))?;
        }
        Lv::Table(t) => {
            nested(buf, VALUE_STRUCT, |b| {
                struct_message(b, &t, path, depth + 1)
            })?;
        }
        other => return Err(expected(path, "JSON-like value", &other)),
    }
    Ok(())
}

/// `google.protobuf.Struct`: its `fields` map, one entry per key of the table.
fn struct_message(buf: &mut Vec<u8>, t: &Table, path: &Path, depth: usize) -> ConvResult<()> {
    for pair in t.pairs::<Lv, Lv>() {
        let (k, v) = pair.map_err(lua_err)?;
        let Lv::String(k) = &k else {
            return Err(format!(
                "{path}: object keys must be strings, got {} key",
                type_name(&k)
            ));
        };
        let key = k.to_str().map_err(lua_err)?;
        let vpath = Path::Field(path, &key, None);
        nested(buf, STRUCT_FIELDS, |b| {
            // The entry's key has no presence: an empty key is left off, as prost does.
            if !key.is_empty() {
                delimited(b, Some(1), key.as_bytes());
            }
            nested(b, 2, |b| struct_value(b, v, &vpath, depth + 1))
        })?;
    }
    Ok(())
}

/// `google.protobuf.ListValue`: its `values`, one per item of the array.
fn list_message(buf: &mut Vec<u8>, t: &Table, path: &Path, depth: usize) -> ConvResult<()> {
    for (i, v) in array_items(t, path)?.into_iter().enumerate() {
        let ipath = Path::Index(path, i + 1);
        nested(buf, LIST_VALUES, |b| struct_value(b, v, &ipath, depth + 1))?;
    }
    Ok(())
}

#[cfg(test)]
#[path = "encode_tests.rs"]
mod tests;
