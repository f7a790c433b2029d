//! Protobuf wire bytes -> Lua values in one pass, in exactly the shapes of
//! `convert::from_message`, without a `DynamicMessage` in between: replies are decoded here, and
//! a list of 10,000 machines spent most of its time building and dropping that intermediate.
//!
//! What a walk needs about a message type (field number -> field, the field names as Lua strings
//! interned once, the defaults of unset fields) is planned once per Lua state and reused.
//!
//! Protobuf merge rules: a singular field seen twice keeps the last value; a singular message
//! field seen twice is merged (later fields overwrite, repeated fields and maps append); a oneof
//! member clears the other members. One approximation: a well-known type (Timestamp, Struct,
//! Value, ListValue) seen twice is replaced by the later one rather than merged with it.

use std::collections::HashMap;
use std::rc::Rc;

use arrayvec::ArrayString;
use bytes::Bytes;
use mlua::{
    AnyUserData, Function, IntoLua, Lua, LuaSerdeExt, LuaString, Table, UserData, Value as Lv,
};
use prost::DecodeError;
use prost::encoding::{
    self, DecodeContext, WireType, check_wire_type, decode_key, decode_varint, skip_field,
};
use prost_reflect::{Kind, MapKey, MessageDescriptor};
use smallvec::{SmallVec, smallvec};

use super::convert::{self, LIST_VALUE, STRUCT, TIMESTAMP, VALUE};
use super::lazy::{self, LAZY_MIN};

#[path = "decode_raw.rs"]
mod raw;

/// Nesting deeper than this is refused, as prost's own decoder does: the walk recurses, and a
/// hostile reply must not overflow the stack.
const MAX_DEPTH: u32 = 100;

use super::rfc3339::CHARS as TIMESTAMP_CHARS;

/// A reply that is not a valid encoding of its message type.
#[derive(Debug, thiserror::Error)]
#[error("decoding {message}: {}{reason}", field.as_ref().map(|f| format!("{f}: ")).unwrap_or_default())]
pub struct MalformedReply {
    pub message: String,
    pub field: Option<String>,
    pub reason: String,
}

/// Decodes an encoded `desc` message into a Lua value, as `from_message` would show it (long
/// lists of messages lazily: lazy.rs).
pub fn from_bytes(lua: &Lua, desc: &MessageDescriptor, bytes: &[u8]) -> mlua::Result<Lv> {
    from_reply(lua, desc, &Bytes::copy_from_slice(bytes))
}

/// `from_bytes` of a reply's buffer, which lazy lists keep (a reference, not a copy).
pub fn from_reply(lua: &Lua, desc: &MessageDescriptor, bytes: &Bytes) -> mlua::Result<Lv> {
    let plans = plans(lua, desc)?;
    if plans.msgs[0].simple
        && let Some(v) = raw::decode(lua, &plans, 0, bytes, 0)?
    {
        return Ok(v);
    }
    let walk = Walk {
        lua,
        plans: &plans,
        root: bytes,
    };
    match walk.message(0, bytes, 0) {
        Ok(out) => out.into_lua(lua),
        Err(bad) => Err(bad.into_lua_error(&plans.msgs[0])),
    }
}

/// What a lazy list needs to decode its elements later: the reply's bytes and where each
/// element's message is in them.
struct Deferred {
    plans: Rc<PlanSet>,
    msg: usize,
    bytes: Bytes,
    ranges: Vec<(usize, usize)>,
    depth: u32,
}

impl UserData for Deferred {}

/// `decode(state, i)`: element `i` of a lazy list (lazy.rs), made once per Lua state.
fn element_decoder(lua: &Lua) -> mlua::Result<Function> {
    const KEY: &str = "fleetsh.lazy_decode";
    if let Ok(f) = lua.named_registry_value::<Function>(KEY) {
        return Ok(f);
    }
    let f = lua.create_function(|lua, (state, i): (AnyUserData, usize)| {
        let d = state.borrow::<Deferred>()?;
        let (start, end) = d.ranges[i - 1];
        let walk = Walk {
            lua,
            plans: &d.plans,
            root: &d.bytes,
        };
        let m = &d.plans.msgs[d.msg];
        if m.simple
            && let Some(v) = raw::decode(lua, &d.plans, d.msg, &d.bytes[start..end], d.depth)?
        {
            return Ok(v);
        }
        match walk.message(d.msg, &d.bytes[start..end], d.depth) {
            Ok(out) => out.into_lua(lua),
            Err(bad) => Err(bad.into_lua_error(m)),
        }
    })?;
    lua.set_named_registry_value(KEY, &f)?;
    Ok(f)
}

// ---------- plans ----------

#[derive(Clone, Copy)]
enum Scalar {
    Double,
    Float,
    Int32,
    Int64,
    Uint32,
    Uint64,
    Sint32,
    Sint64,
    Fixed32,
    Fixed64,
    Sfixed32,
    Sfixed64,
    Bool,
}

impl Scalar {
    /// How one element of a packed repeated field of this type is encoded.
    fn wire_type(self) -> WireType {
        match self {
            Scalar::Double | Scalar::Fixed64 | Scalar::Sfixed64 => WireType::SixtyFourBit,
            Scalar::Float | Scalar::Fixed32 | Scalar::Sfixed32 => WireType::ThirtyTwoBit,
            _ => WireType::Varint,
        }
    }
}

#[derive(Clone, Copy)]
enum Ty {
    Scalar(Scalar),
    String,
    Bytes,
    /// Index into `PlanSet::enums`.
    Enum(usize),
    /// Index into `PlanSet::msgs`.
    Message(usize),
}

enum Card {
    Single,
    List,
    /// A map entry's key and value types; `value_default` is None for message values (an
    /// entry without a value shows the empty message, decoded from no bytes).
    Map {
        key: Ty,
        key_default: Lv,
        value: Ty,
        value_default: Option<Lv>,
    },
}

/// What an unset field shows.
enum Unset {
    /// Nothing: fields with presence (messages, oneof members, proto3 `optional`) stay nil.
    Absent,
    Value(Lv),
    EmptyArray,
    EmptyMap,
}

struct FieldPlan {
    number: u32,
    name: String,
    key: LuaString,
    ty: Ty,
    card: Card,
    default: Unset,
    /// The real (non-synthetic) oneof this field belongs to: index into `MsgPlan::oneofs`.
    oneof: Option<usize>,
}

#[derive(Clone, Copy, PartialEq)]
enum Shape {
    Plain,
    Timestamp,
    Value,
    Struct,
    ListValue,
}

struct MsgPlan {
    name: String,
    shape: Shape,
    /// Sorted by field number.
    fields: Vec<FieldPlan>,
    /// Members (indices into `fields`) of each oneof, by oneof index.
    oneofs: Vec<Vec<usize>>,
    /// Decoded by decode_raw.rs's fast path (`raw::simple`).
    simple: bool,
    /// Where field 0's name is in `PlanSet::keys` (and its default in `defaults`).
    key_base: i64,
}

impl MsgPlan {
    fn field(&self, number: u32) -> Option<usize> {
        self.fields.binary_search_by_key(&number, |f| f.number).ok()
    }
}

/// Value names by number (sorted), as Lua strings and as text (for the fast path); numbers the
/// enum does not know stay integers.
struct EnumPlan(Vec<(i32, LuaString)>, Vec<String>);

/// The plans of a root message type and of every type reachable from it (`msgs[0]` is the root).
struct PlanSet {
    root: MessageDescriptor,
    msgs: Vec<MsgPlan>,
    enums: Vec<EnumPlan>,
    array_mt: Table,
    /// Every message's field names in one array (`MsgPlan::key_base`), and beside them the
    /// values unset fields show (nil for none): what the fast path reads from the stack.
    keys: Table,
    defaults: Table,
}

/// Plans by root type, for the Lua state's lifetime (their Lua strings belong to it). A script
/// reads a few reply types: they are found by comparing descriptors (a pool pointer and an
/// index) rather than by hashing the type's full name. The same type from another pool (each
/// RPC has its own) has a plan of its own.
#[derive(Default)]
struct PlanCache(Vec<Rc<PlanSet>>);

fn plans(lua: &Lua, desc: &MessageDescriptor) -> mlua::Result<Rc<PlanSet>> {
    if let Some(cache) = lua.app_data_ref::<PlanCache>()
        && let Some(p) = cache.0.iter().find(|p| p.root == *desc)
    {
        return Ok(p.clone());
    }
    let set = Rc::new(Planner::new(lua).build(desc)?);
    match lua.app_data_mut::<PlanCache>() {
        Some(mut cache) => cache.0.push(set.clone()),
        None => {
            lua.set_app_data(PlanCache(vec![set.clone()]));
        }
    }
    Ok(set)
}

struct Planner<'a> {
    lua: &'a Lua,
    msgs: Vec<MsgPlan>,
    msg_index: HashMap<String, usize>,
    enums: Vec<EnumPlan>,
    enum_index: HashMap<String, usize>,
}

impl<'a> Planner<'a> {
    fn new(lua: &'a Lua) -> Self {
        Self {
            lua,
            msgs: Vec::new(),
            msg_index: HashMap::new(),
            enums: Vec::new(),
            enum_index: HashMap::new(),
        }
    }

    fn build(mut self, root: &MessageDescriptor) -> mlua::Result<PlanSet> {
        self.message(root)?;
        let total = self.msgs.iter().map(|m| m.fields.len()).sum();
        let keys = self.lua.create_table_with_capacity(total, 0)?;
        let defaults = self.lua.create_table_with_capacity(total, 0)?;
        let mut next = 1i64;
        for m in &mut self.msgs {
            m.key_base = next;
            for f in &m.fields {
                keys.raw_set(next, &f.key)?;
                if let Unset::Value(v) = &f.default {
                    defaults.raw_set(next, v)?;
                }
                next += 1;
            }
        }
        for i in 0..self.msgs.len() {
            self.msgs[i].simple = raw::simple(&self.msgs, i, &mut Vec::new());
        }
        Ok(PlanSet {
            root: root.clone(),
            msgs: self.msgs,
            enums: self.enums,
            array_mt: convert::array_marker(self.lua)?,
            keys,
            defaults,
        })
    }

    fn message(&mut self, desc: &MessageDescriptor) -> mlua::Result<usize> {
        if let Some(&i) = self.msg_index.get(desc.full_name()) {
            return Ok(i);
        }
        let idx = self.msgs.len();
        // Registered before its fields are planned: messages may contain themselves.
        self.msg_index.insert(desc.full_name().to_string(), idx);
        self.msgs.push(MsgPlan {
            name: desc.full_name().to_string(),
            shape: match desc.full_name() {
                TIMESTAMP => Shape::Timestamp,
                VALUE => Shape::Value,
                STRUCT => Shape::Struct,
                LIST_VALUE => Shape::ListValue,
                _ => Shape::Plain,
            },
            fields: Vec::new(),
            oneofs: Vec::new(),
            simple: false,
            key_base: 0,
        });
        let mut fields = desc.fields().collect::<Vec<_>>();
        fields.sort_by_key(|f| f.number());
        let mut plans = Vec::with_capacity(fields.len());
        let oneof_names: Vec<String> = desc.oneofs().map(|o| o.name().to_string()).collect();
        let mut oneofs = vec![Vec::new(); oneof_names.len()];
        for (i, f) in fields.iter().enumerate() {
            let oneof = f
                .containing_oneof()
                .filter(|o| !o.is_synthetic())
                .and_then(|o| oneof_names.iter().position(|n| n == o.name()));
            if let Some(o) = oneof {
                oneofs[o].push(i);
            }
            let kind = f.kind();
            let (card, default) = if f.is_map() {
                let Kind::Message(entry) = &kind else {
                    unreachable!("map fields are messages")
                };
                let key_kind = entry.map_entry_key_field().kind();
                let value_kind = entry.map_entry_value_field().kind();
                let card = Card::Map {
                    key: self.ty(&key_kind)?,
                    key_default: convert::map_key_to_lua(
                        self.lua,
                        &MapKey::default_value(&key_kind),
                    )?,
                    value: self.ty(&value_kind)?,
                    value_default: match value_kind {
                        Kind::Message(_) => None,
                        _ => Some(convert::scalar_to_lua(
                            self.lua,
                            &value_kind,
                            &value_kind.default_value(),
                        )?),
                    },
                };
                (card, Unset::EmptyMap)
            } else if f.is_list() {
                (Card::List, Unset::EmptyArray)
            } else if f.supports_presence() || matches!(kind, Kind::Message(_)) {
                (Card::Single, Unset::Absent)
            } else {
                let v = convert::scalar_to_lua(self.lua, &kind, &f.default_value())?;
                (Card::Single, Unset::Value(v))
            };
            plans.push(FieldPlan {
                number: f.number(),
                name: f.name().to_string(),
                key: self.lua.create_string(f.name())?,
                ty: self.ty(&kind)?,
                card,
                default,
                oneof,
            });
        }
        self.msgs[idx].fields = plans;
        self.msgs[idx].oneofs = oneofs;
        Ok(idx)
    }

    fn ty(&mut self, kind: &Kind) -> mlua::Result<Ty> {
        Ok(match kind {
            Kind::Double => Ty::Scalar(Scalar::Double),
            Kind::Float => Ty::Scalar(Scalar::Float),
            Kind::Int32 => Ty::Scalar(Scalar::Int32),
            Kind::Int64 => Ty::Scalar(Scalar::Int64),
            Kind::Uint32 => Ty::Scalar(Scalar::Uint32),
            Kind::Uint64 => Ty::Scalar(Scalar::Uint64),
            Kind::Sint32 => Ty::Scalar(Scalar::Sint32),
            Kind::Sint64 => Ty::Scalar(Scalar::Sint64),
            Kind::Fixed32 => Ty::Scalar(Scalar::Fixed32),
            Kind::Fixed64 => Ty::Scalar(Scalar::Fixed64),
            Kind::Sfixed32 => Ty::Scalar(Scalar::Sfixed32),
            Kind::Sfixed64 => Ty::Scalar(Scalar::Sfixed64),
            Kind::Bool => Ty::Scalar(Scalar::Bool),
            Kind::String => Ty::String,
            Kind::Bytes => Ty::Bytes,
            Kind::Enum(e) => {
                if let Some(&i) = self.enum_index.get(e.full_name()) {
                    return Ok(Ty::Enum(i));
                }
                let mut numbers: Vec<i32> = e.values().map(|v| v.number()).collect();
                numbers.sort_unstable();
                numbers.dedup();
                // The name `get_value` gives, so that aliases show as from_message shows them.
                let named: Vec<_> = numbers
                    .into_iter()
                    .filter_map(|n| e.get_value(n).map(|v| (n, v.name().to_string())))
                    .collect();
                let values = named
                    .iter()
                    .map(|(n, name)| Ok((*n, self.lua.create_string(name)?)))
                    .collect::<mlua::Result<Vec<_>>>()?;
                let names = named.into_iter().map(|(_, name)| name).collect();
                self.enums.push(EnumPlan(values, names));
                self.enum_index
                    .insert(e.full_name().to_string(), self.enums.len() - 1);
                Ty::Enum(self.enums.len() - 1)
            }
            Kind::Message(m) => Ty::Message(self.message(m)?),
        })
    }
}

// ---------- the walk ----------

enum Bad {
    /// Not a valid encoding; the message and field it is in get named on the way up.
    Wire(String),
    Malformed(MalformedReply),
    Lua(mlua::Error),
}

impl From<DecodeError> for Bad {
    fn from(e: DecodeError) -> Self {
        Bad::Wire(e.to_string())
    }
}

impl From<mlua::Error> for Bad {
    fn from(e: mlua::Error) -> Self {
        Bad::Lua(e)
    }
}

impl Bad {
    fn at(self, m: &MsgPlan, field: Option<&FieldPlan>) -> Bad {
        match self {
            Bad::Wire(reason) => Bad::Malformed(MalformedReply {
                message: m.name.clone(),
                field: field.map(|f| f.name.clone()),
                reason,
            }),
            other => other,
        }
    }

    fn into_lua_error(self, m: &MsgPlan) -> mlua::Error {
        match self.at(m, None) {
            Bad::Lua(e) => e,
            Bad::Malformed(r) => mlua::Error::external(r),
            Bad::Wire(reason) => mlua::Error::runtime(reason),
        }
    }
}

type Res<T> = Result<T, Bad>;

/// A decoded value before it goes into a table: strings are pushed into Lua straight from the
/// wire (or a stack buffer) without first becoming a Lua value held by Rust.
enum Out<'b> {
    Lua(Lv),
    Str(&'b str),
    Short(ArrayString<TIMESTAMP_CHARS>),
}

impl IntoLua for Out<'_> {
    fn into_lua(self, lua: &Lua) -> mlua::Result<Lv> {
        match self {
            Out::Lua(v) => Ok(v),
            Out::Str(s) => s.into_lua(lua),
            Out::Short(s) => s.as_str().into_lua(lua),
        }
    }
}

fn put(t: &Table, key: impl IntoLua, v: Out<'_>) -> mlua::Result<()> {
    // Matched here, not through `Out::into_lua`, so strings take mlua's direct push path.
    match v {
        Out::Lua(v) => t.raw_set(key, v),
        Out::Str(s) => t.raw_set(key, s),
        Out::Short(s) => t.raw_set(key, s.as_str()),
    }
}

/// Which fields of one message occurrence were on the wire (by index into `MsgPlan::fields`);
/// inline up to 64 fields, so a message occurrence allocates nothing for it.
type Seen = SmallVec<[bool; 64]>;

/// One message occurrence being decoded into its table.
struct Target<'t> {
    table: &'t Table,
    seen: Seen,
    /// Repeated message fields whose elements are decoded at the end (or lazily): by field,
    /// each element's range in the root buffer.
    deferred: Vec<(usize, Vec<(usize, usize)>)>,
    /// The array and map tables of repeated fields seen so far: their elements may come in
    /// several runs, interleaved with other fields.
    open: Vec<Open>,
    /// `table` holds an earlier occurrence of the same message, so its defaults are in place
    /// and its arrays and maps are appended to.
    merging: bool,
}

struct Open {
    field: usize,
    table: Table,
    len: i64,
}

/// The bytes of a length-delimited field.
fn delimited<'b>(wire: WireType, buf: &mut &'b [u8]) -> Res<&'b [u8]> {
    check_wire_type(WireType::LengthDelimited, wire)?;
    let len = decode_varint(buf)?;
    if len > buf.len() as u64 {
        return Err(Bad::Wire("length beyond the end of the message".into()));
    }
    let (head, rest) = buf.split_at(len as usize);
    *buf = rest;
    Ok(head)
}

/// The key of a length-delimited field `number` as the encoder writes it, and its length.
fn list_key(number: u32) -> ([u8; 5], usize) {
    let mut key = [0u8; 5];
    let mut rest = &mut key[..];
    encoding::encode_key(number, WireType::LengthDelimited, &mut rest);
    let len = 5 - rest.len();
    (key, len)
}

/// How many elements a list whose first element has `first` bytes likely has in the `left`
/// bytes after it (elements of one type are about one size): growing the ranges by doubling
/// copied them 14 times for 10,000 machines. At most one range per 16 bytes left, so a list
/// of small elements followed by other fields reserves no more than the reply's own size.
fn list_estimate(first: usize, left: usize) -> usize {
    // The key and the length prefix: at least two bytes.
    1 + left / (first + 2).max(16)
}

fn utf8(b: &[u8]) -> Res<&str> {
    std::str::from_utf8(b).map_err(|_| Bad::Wire("string is not valid UTF-8".into()))
}

/// One scalar through prost's decoders (which check the wire type).
fn scalar(s: Scalar, wire: WireType, buf: &mut &[u8]) -> Res<Lv> {
    macro_rules! read {
        ($module:ident) => {{
            let mut v = Default::default();
            encoding::$module::merge(wire, &mut v, buf, DecodeContext::default())?;
            v
        }};
    }
    Ok(match s {
        Scalar::Double => Lv::Number(read!(double)),
        Scalar::Float => Lv::Number(f64::from(read!(float))),
        Scalar::Int32 => Lv::Integer(i64::from(read!(int32))),
        Scalar::Int64 => Lv::Integer(read!(int64)),
        Scalar::Uint32 => Lv::Integer(i64::from(read!(uint32))),
        // Wraps above i64::MAX, as from_message does: Lua has no unsigned 64-bit integers.
        Scalar::Uint64 => Lv::Integer(read!(uint64) as i64),
        Scalar::Sint32 => Lv::Integer(i64::from(read!(sint32))),
        Scalar::Sint64 => Lv::Integer(read!(sint64)),
        Scalar::Fixed32 => Lv::Integer(i64::from(read!(fixed32))),
        Scalar::Fixed64 => Lv::Integer(read!(fixed64) as i64),
        Scalar::Sfixed32 => Lv::Integer(i64::from(read!(sfixed32))),
        Scalar::Sfixed64 => Lv::Integer(read!(sfixed64)),
        Scalar::Bool => Lv::Boolean(read!(bool)),
    })
}

/// A `google.protobuf.Timestamp` from its encoding.
fn timestamp_of(mut buf: &[u8]) -> Res<prost_types::Timestamp> {
    let mut ts = prost_types::Timestamp::default();
    let ctx = DecodeContext::default;
    while !buf.is_empty() {
        let (number, wire) = decode_key(&mut buf)?;
        match number {
            1 => encoding::int64::merge(wire, &mut ts.seconds, &mut buf, ctx())?,
            2 => encoding::int32::merge(wire, &mut ts.nanos, &mut buf, ctx())?,
            _ => skip_field(wire, number, &mut buf, ctx())?,
        }
    }
    Ok(ts)
}

struct Walk<'a> {
    lua: &'a Lua,
    plans: &'a Rc<PlanSet>,
    /// The whole reply: every buffer the walk reads is a part of it.
    root: &'a Bytes,
}

impl Walk<'_> {
    /// One message of plan `idx`, in its Lua shape.
    fn message<'b>(&self, idx: usize, buf: &'b [u8], depth: u32) -> Res<Out<'b>> {
        let m = &self.plans.msgs[idx];
        if depth > MAX_DEPTH {
            return Err(Bad::Wire("messages nested too deeply".into()).at(m, None));
        }
        let out = match m.shape {
            Shape::Plain => self.plain(m, buf, depth),
            Shape::Timestamp => self.timestamp(buf),
            Shape::Value => self.value(m, buf, depth),
            Shape::Struct => self.struct_(m, buf, depth),
            Shape::ListValue => self.list(m, buf, depth),
        };
        out.map_err(|e| e.at(m, None))
    }

    fn plain<'b>(&self, m: &MsgPlan, buf: &'b [u8], depth: u32) -> Res<Out<'b>> {
        let t = self.lua.create_table_with_capacity(0, m.fields.len())?;
        self.fill(m, &t, buf, false, depth)?;
        Ok(Out::Lua(Lv::Table(t)))
    }

    /// Decodes the fields in `buf` into `table` (see `Target::merging`).
    fn fill(
        &self,
        m: &MsgPlan,
        table: &Table,
        mut buf: &[u8],
        merging: bool,
        depth: u32,
    ) -> Res<()> {
        let mut t = Target {
            table,
            seen: smallvec![false; m.fields.len()],
            deferred: Vec::new(),
            open: Vec::new(),
            merging,
        };
        while !buf.is_empty() {
            let (number, wire) = decode_key(&mut buf).map_err(|e| Bad::from(e).at(m, None))?;
            let Some(i) = m.field(number) else {
                skip_field(wire, number, &mut buf, DecodeContext::default())
                    .map_err(|e| Bad::from(e).at(m, None))?;
                continue;
            };
            let f = &m.fields[i];
            self.field(m, &mut t, i, wire, &mut buf, depth)
                .map_err(|e| e.at(m, Some(f)))?;
        }
        for (i, ranges) in std::mem::take(&mut t.deferred) {
            let f = &m.fields[i];
            self.deferred_list(f, table, ranges, depth)
                .map_err(|e| e.at(m, Some(f)))?;
        }
        if merging {
            return Ok(());
        }
        for (i, f) in m.fields.iter().enumerate() {
            if t.seen[i] {
                continue;
            }
            match &f.default {
                Unset::Absent => {}
                Unset::Value(v) => table.raw_set(&f.key, v)?,
                Unset::EmptyArray => table.raw_set(&f.key, self.new_array(0)?)?,
                Unset::EmptyMap => table.raw_set(&f.key, self.lua.create_table()?)?,
            }
        }
        Ok(())
    }

    /// Field `i` of `m`, one occurrence (or one packed run).
    fn field(
        &self,
        m: &MsgPlan,
        t: &mut Target<'_>,
        i: usize,
        wire: WireType,
        buf: &mut &[u8],
        depth: u32,
    ) -> Res<()> {
        let f = &m.fields[i];
        match &f.card {
            Card::Single => {
                if let Some(o) = f.oneof {
                    self.clear_oneof(m, o, i, t)?;
                }
                if let Ty::Message(sub) = f.ty
                    && (t.seen[i] || t.merging)
                    && self.plans.msgs[sub].shape == Shape::Plain
                    && let Lv::Table(earlier) = t.table.raw_get::<Lv>(&f.key)?
                {
                    let bytes = delimited(wire, buf)?;
                    if depth >= MAX_DEPTH {
                        return Err(Bad::Wire("messages nested too deeply".into()));
                    }
                    self.fill(&self.plans.msgs[sub], &earlier, bytes, true, depth + 1)?;
                } else {
                    let v = self.single(f.ty, wire, buf, depth)?;
                    put(t.table, &f.key, v)?;
                }
            }
            Card::List => {
                if let Ty::Message(sub) = f.ty
                    && !t.merging
                    && self.plans.msgs[sub].shape == Shape::Plain
                {
                    let bytes = delimited(wire, buf)?;
                    let ranges = match t.deferred.iter().position(|(j, _)| *j == i) {
                        Some(k) => &mut t.deferred[k].1,
                        None => {
                            t.deferred.push((i, Vec::new()));
                            &mut t.deferred.last_mut().expect("just pushed").1
                        }
                    };
                    if ranges.is_empty() {
                        ranges.reserve(list_estimate(bytes.len(), buf.len()));
                    }
                    ranges.push(self.range(bytes));
                    // A list's elements come one after another under the same key: they are
                    // read here rather than by one turn of `fill`'s loop each (decode_key, the
                    // field lookup, this match: ~130 instructions an element of 10,000).
                    let (key, key_len) = list_key(f.number);
                    while let Some(rest) = buf.strip_prefix(&key[..key_len]) {
                        *buf = rest;
                        let bytes = delimited(WireType::LengthDelimited, buf)?;
                        ranges.push(self.range(bytes));
                    }
                    t.seen[i] = true;
                    return Ok(());
                }
                let o = self.open(t, f, i, true)?;
                let packable = matches!(f.ty, Ty::Scalar(_) | Ty::Enum(_));
                if packable && wire == WireType::LengthDelimited {
                    let mut packed = delimited(wire, buf)?;
                    let elem = match f.ty {
                        Ty::Scalar(s) => s.wire_type(),
                        _ => WireType::Varint,
                    };
                    while !packed.is_empty() {
                        let v = self.single(f.ty, elem, &mut packed, depth)?;
                        let o = &mut t.open[o];
                        o.len += 1;
                        put(&o.table, o.len, v)?;
                    }
                } else {
                    let v = self.single(f.ty, wire, buf, depth)?;
                    let o = &mut t.open[o];
                    o.len += 1;
                    put(&o.table, o.len, v)?;
                }
            }
            Card::Map { .. } => {
                let o = self.open(t, f, i, false)?;
                let entry = delimited(wire, buf)?;
                self.map_entry(&f.card, &t.open[o].table, entry, depth)?;
            }
        }
        t.seen[i] = true;
        Ok(())
    }

    /// Where `bytes`, a part of the reply, lies in it.
    fn range(&self, bytes: &[u8]) -> (usize, usize) {
        let start = bytes.as_ptr() as usize - self.root.as_ptr() as usize;
        (start, start + bytes.len())
    }

    /// The elements of a repeated message field: decoded now when they are few, else a lazy
    /// list (lazy.rs) that decodes each when it is read.
    fn deferred_list(
        &self,
        f: &FieldPlan,
        table: &Table,
        ranges: Vec<(usize, usize)>,
        depth: u32,
    ) -> Res<()> {
        let Ty::Message(sub) = f.ty else {
            unreachable!("only message lists are deferred")
        };
        if ranges.len() >= LAZY_MIN {
            let n = ranges.len();
            let state = self.lua.create_userdata(Deferred {
                plans: self.plans.clone(),
                msg: sub,
                bytes: self.root.clone(),
                ranges,
                depth: depth + 1,
            })?;
            let list = lazy::new_list(
                self.lua,
                Lv::UserData(state),
                n,
                &element_decoder(self.lua)?,
            )?;
            table.raw_set(&f.key, list)?;
            return Ok(());
        }
        let arr = self.new_array(ranges.len())?;
        for (j, (start, end)) in ranges.into_iter().enumerate() {
            let v = self.message(sub, &self.root[start..end], depth + 1)?;
            put(&arr, j + 1, v)?;
        }
        table.raw_set(&f.key, arr)?;
        Ok(())
    }

    /// Setting one member of a oneof unsets the others.
    fn clear_oneof(&self, m: &MsgPlan, oneof: usize, keep: usize, t: &mut Target<'_>) -> Res<()> {
        for &j in &m.oneofs[oneof] {
            if j != keep && (t.merging || t.seen[j]) {
                t.table.raw_set(&m.fields[j].key, Lv::Nil)?;
                t.seen[j] = false;
            }
        }
        Ok(())
    }

    /// The index in `open` of field `i`'s array (or map) table, created on its first element.
    fn open(&self, t: &mut Target<'_>, f: &FieldPlan, i: usize, array: bool) -> Res<usize> {
        if let Some(o) = t.open.iter().position(|o| o.field == i) {
            return Ok(o);
        }
        let earlier = if t.merging {
            t.table.raw_get::<Option<Table>>(&f.key).ok().flatten()
        } else {
            None
        };
        let table = match earlier {
            // An earlier occurrence's lazy list gets the new elements appended: as an array.
            Some(e) => {
                lazy::force(&e)?;
                e
            }
            None if array => self.new_array(0)?,
            None => self.lua.create_table()?,
        };
        t.table.raw_set(&f.key, &table)?;
        // An earlier array is a sequence: this walk made it.
        let len = if array { table.raw_len() as i64 } else { 0 };
        t.open.push(Open {
            field: i,
            table,
            len,
        });
        Ok(t.open.len() - 1)
    }

    fn map_entry(&self, card: &Card, map: &Table, mut buf: &[u8], depth: u32) -> Res<()> {
        let Card::Map {
            key: key_ty,
            key_default,
            value: value_ty,
            value_default,
        } = card
        else {
            unreachable!("map_entry is only called for maps")
        };
        let mut key = None;
        let mut value = None;
        while !buf.is_empty() {
            let (number, wire) = decode_key(&mut buf)?;
            match number {
                1 => key = Some(self.single(*key_ty, wire, &mut buf, depth)?),
                2 => value = Some(self.single(*value_ty, wire, &mut buf, depth)?),
                _ => skip_field(wire, number, &mut buf, DecodeContext::default())?,
            }
        }
        let value = match (value, value_default) {
            (Some(v), _) => v,
            (None, Some(d)) => Out::Lua(d.clone()),
            (None, None) => match value_ty {
                Ty::Message(sub) => self.message(*sub, &[], depth + 1)?,
                _ => unreachable!("only message values have no default"),
            },
        };
        match key {
            Some(Out::Lua(k)) => put(map, k, value)?,
            Some(Out::Str(k)) => put(map, k, value)?,
            Some(Out::Short(k)) => put(map, k.as_str(), value)?,
            None => put(map, key_default, value)?,
        }
        Ok(())
    }

    /// One value of type `ty` (not a repeated field's whole array).
    fn single<'b>(&self, ty: Ty, wire: WireType, buf: &mut &'b [u8], depth: u32) -> Res<Out<'b>> {
        Ok(match ty {
            Ty::Scalar(s) => Out::Lua(scalar(s, wire, buf)?),
            Ty::String => Out::Str(utf8(delimited(wire, buf)?)?),
            Ty::Bytes => Out::Lua(Lv::String(self.lua.create_string(delimited(wire, buf)?)?)),
            Ty::Enum(e) => {
                let mut n = 0i32;
                encoding::int32::merge(wire, &mut n, buf, DecodeContext::default())?;
                let names = &self.plans.enums[e].0;
                match names.binary_search_by_key(&n, |(k, _)| *k) {
                    Ok(j) => Out::Lua(Lv::String(names[j].1.clone())),
                    Err(_) => Out::Lua(Lv::Integer(i64::from(n))),
                }
            }
            Ty::Message(sub) => self.message(sub, delimited(wire, buf)?, depth + 1)?,
        })
    }

    fn new_array(&self, capacity: usize) -> mlua::Result<Table> {
        let t = self.lua.create_table_with_capacity(capacity, 0)?;
        t.set_metatable(Some(self.plans.array_mt.clone()))?;
        Ok(t)
    }

    /// An RFC 3339 string, as prost_types::Timestamp displays it.
    fn timestamp(&self, buf: &[u8]) -> Res<Out<'static>> {
        let ts = timestamp_of(buf)?;
        // Formatted on the stack; a time too long for it (a year beyond 9999) takes the heap.
        let short = super::rfc3339::format(&ts);
        Ok(if short.is_full() {
            Out::Lua(Lv::String(self.lua.create_string(ts.to_string())?))
        } else {
            Out::Short(short)
        })
    }

    /// `google.protobuf.Value`: the value of whichever member came last; null when none did.
    fn value<'b>(&self, m: &MsgPlan, mut buf: &'b [u8], depth: u32) -> Res<Out<'b>> {
        let mut out = Out::Lua(self.lua.null());
        while !buf.is_empty() {
            let (number, wire) = decode_key(&mut buf)?;
            let Some(i) = m.field(number) else {
                skip_field(wire, number, &mut buf, DecodeContext::default())?;
                continue;
            };
            let f = &m.fields[i];
            let v = self
                .single(f.ty, wire, &mut buf, depth)
                .map_err(|e| e.at(m, Some(f)))?;
            out = match (f.name.as_str(), v) {
                ("null_value", _) => Out::Lua(self.lua.null()),
                ("number_value", Out::Lua(Lv::Number(n))) => Out::Lua(convert::number_to_lua(n)),
                (_, v) => v,
            };
        }
        Ok(out)
    }

    /// `google.protobuf.Struct`: its `fields` map is the table.
    fn struct_<'b>(&self, m: &MsgPlan, mut buf: &'b [u8], depth: u32) -> Res<Out<'b>> {
        let t = self.lua.create_table()?;
        while !buf.is_empty() {
            let (number, wire) = decode_key(&mut buf)?;
            match m.field(number).map(|i| &m.fields[i]) {
                Some(f) if matches!(f.card, Card::Map { .. }) => {
                    let entry = delimited(wire, &mut buf)?;
                    self.map_entry(&f.card, &t, entry, depth)
                        .map_err(|e| e.at(m, Some(f)))?;
                }
                _ => skip_field(wire, number, &mut buf, DecodeContext::default())?,
            }
        }
        Ok(Out::Lua(Lv::Table(t)))
    }

    /// `google.protobuf.ListValue`: its `values` are the array.
    fn list<'b>(&self, m: &MsgPlan, mut buf: &'b [u8], depth: u32) -> Res<Out<'b>> {
        let t = self.new_array(0)?;
        let mut len = 0i64;
        while !buf.is_empty() {
            let (number, wire) = decode_key(&mut buf)?;
            match m.field(number).map(|i| &m.fields[i]) {
                Some(f) if matches!(f.card, Card::List) => {
                    let v = self
                        .single(f.ty, wire, &mut buf, depth)
                        .map_err(|e| e.at(m, Some(f)))?;
                    len += 1;
                    put(&t, len, v)?;
                }
                _ => skip_field(wire, number, &mut buf, DecodeContext::default())?,
            }
        }
        Ok(Out::Lua(Lv::Table(t)))
    }
}

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;
