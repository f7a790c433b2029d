//! BSON <-> Lua for the data API (issue 12): SQL and MQL answers arrive as BSON documents and
//! become plain tables (dates as RFC 3339 strings, ObjectIds as hex strings, 64-bit integers as
//! integers, null as `json.null`); an MQL stage written as a Lua table becomes a document.
//!
//! Key order: a Lua table has none, so a document made from one has its keys sorted. Order
//! matters only where MongoDB reads it, which in the supported stages is `$sort`: its argument
//! may also be written as an array of {field, direction} pairs, kept in that order
//! (`{["$sort"] = {{"time_received", -1}, {"component_name", 1}}}`).

use bson::{Bson, Document};
use std::ffi::c_int;

use mlua::{Lua, LuaSerdeExt, Table, Value as Lv, ffi};

/// `cloud._bson_decode(bytes)` and `cloud._bson_encode(table)`.
pub fn register(lua: &Lua, cloud: &Table) -> mlua::Result<()> {
    cloud.set(
        "_bson_decode",
        lua.create_function(|lua, bytes: mlua::LuaString| {
            let doc = Document::from_reader(&*bytes.as_bytes())
                .map_err(|e| mlua::Error::runtime(format!("malformed BSON document: {e}")))?;
            document_to_lua(lua, &doc)
        })?,
    )?;
    cloud.set(
        "_bson_rows",
        lua.create_function(|lua, docs: Table| rows(lua, Docs::Table(&docs)))?,
    )?;
    cloud.set(
        "_bson_reply_rows",
        lua.create_function(|lua, reply: mlua::LuaString| {
            let bytes = reply.as_bytes();
            let docs = raw_data(&bytes)
                .map_err(|e| mlua::Error::runtime(format!("malformed reply: {e}")))?;
            rows(lua, Docs::Reply(&reply, &docs))
        })?,
    )?;
    cloud.set(
        "_bson_encode",
        lua.create_function(|lua, v: Lv| {
            let Lv::Table(t) = v else {
                return Err(mlua::Error::runtime(format!(
                    "an MQL stage is a table, got {}",
                    v.type_name()
                )));
            };
            let doc = table_to_document(&t, None)?;
            let bytes = doc
                .to_vec()
                .map_err(|e| mlua::Error::runtime(format!("cannot encode the stage: {e}")))?;
            lua.create_string(bytes)
        })?,
    )
}

/// The field number of `raw_data` in TabularDataBySQLResponse and TabularDataByMQLResponse
/// (a test holds both to it).
const RAW_DATA: u32 = 2;

/// The documents of an encoded SQL or MQL reply (its `raw_data`), in place; other fields are
/// skipped as any decoder skips fields it does not know.
fn raw_data(mut buf: &[u8]) -> Result<Vec<&[u8]>, String> {
    use prost::encoding::{DecodeContext, WireType, decode_key, decode_varint, skip_field};
    let mut out = Vec::new();
    while !buf.is_empty() {
        let (tag, wire) = decode_key(&mut buf).map_err(|e| e.to_string())?;
        if tag != RAW_DATA || wire != WireType::LengthDelimited {
            skip_field(wire, tag, &mut buf, DecodeContext::default()).map_err(|e| e.to_string())?;
            continue;
        }
        let len = decode_varint(&mut buf).map_err(|e| e.to_string())?;
        let Some(doc) = usize::try_from(len).ok().and_then(|n| buf.get(..n)) else {
            return Err(format!("raw_data {}: buffer underflow", out.len() + 1));
        };
        buf = &buf[doc.len()..];
        out.push(doc);
    }
    Ok(out)
}

/// Where a `rows` session finds its documents: an array of Lua strings, or slices of a reply
/// (kept alive by its Lua string).
enum Docs<'a> {
    Table(&'a Table),
    Reply(&'a mlua::LuaString, &'a [&'a [u8]]),
}

/// `cloud._bson_rows(docs)`: an array of BSON documents (an SQL or MQL answer's raw_data) as
/// an array of tables, the same tables `_bson_decode` makes, in one call;
/// `cloud._bson_reply_rows(reply)` the same of an encoded reply (`_call`'s `reply_bytes`),
/// without a Lua string per document first. Each document is
/// read in place (no `Document` built and dropped per row), and the whole answer is built in
/// one raw session on the Lua stack (`Lua::exec_raw`, as decode_raw.rs does for replies):
/// through mlua, each field's `raw_set` (locking, a checked stack, pushing handles, dropping
/// values) was ~600 instructions, a third of decoding 100,000 rows.
///
/// Safety: in the session only the C API's raw operations run (`lua_createtable`,
/// `lua_pushlstring`, `lua_rawset`, `lua_rawgeti`, `lua_setmetatable` with a metatable that has
/// no `__gc`); their only error is running out of memory, which mlua's allocator turns into an
/// abort (no memory limit is set), so nothing unwinds over the Rust frames. The stack is grown
/// (`lua_checkstack`) before each table's pushes.
fn rows(lua: &Lua, docs: Docs<'_>) -> mlua::Result<Table> {
    let n = match docs {
        Docs::Table(t) => {
            super::lazy::force(t)?;
            t.raw_len()
        }
        Docs::Reply(_, slices) => slices.len(),
    };
    if n > c_int::MAX as usize {
        return Err(mlua::Error::runtime("too many documents"));
    }
    // Everything made here stays reachable from the answer, so a collection while it grows
    // finds nothing to free; the incremental collector's steps over the growing answer were
    // a sixteenth of decoding it. Paused (unless the script paused it itself) until the
    // answer is built, error or not.
    let _paused = GcPause::new(lua);
    let mut session = Session::default();
    let (first, slices) = match docs {
        Docs::Table(t) => (Lv::Table(t.clone()), None),
        Docs::Reply(s, slices) => (Lv::String(s.clone()), Some(slices)),
    };
    // SAFETY: see above; the closure leaves exactly one value on the stack.
    let answer: Lv = unsafe {
        lua.exec_raw((first, lua.array_metatable()), |st| {
            if let Err(e) = session.rows(st, n as c_int, slices) {
                session.error = Some(e);
                ffi::lua_pushnil(st);
            }
            ffi::lua_replace(st, 1);
            ffi::lua_settop(st, 1);
        })?
    };
    match (session.error, answer) {
        (Some(e), _) => Err(mlua::Error::runtime(e)),
        (None, Lv::Table(t)) => Ok(t),
        (None, other) => Err(mlua::Error::runtime(format!(
            "decoded rows: {}",
            other.type_name()
        ))),
    }
}

/// Where the session finds its arguments, and the table of key strings it keeps.
const DOCS: c_int = 1;
const ARRAY_MT: c_int = 2;
const KEYS: c_int = 3;
/// Nesting deeper than this is refused rather than risking the native stack.
const MAX_DEPTH: u32 = 100;
/// Keys kept (rows of one answer share their few keys; documents with ever new keys would
/// make the search the cost).
const MAX_KEYS: usize = 64;

/// One `_bson_rows` session: the keys seen so far (their Lua strings are `KEYS[i]`, made once
/// per answer), the size of the last document (each table is made that size: growing each one
/// key by key was a tenth of the decoding), and the first error.
#[derive(Default)]
struct Session {
    keys: Vec<Box<[u8]>>,
    size: c_int,
    error: Option<String>,
}

fn malformed(e: impl std::fmt::Display) -> String {
    format!("malformed BSON document: {e}")
}

unsafe fn push_bytes(st: *mut ffi::lua_State, b: &[u8]) {
    unsafe { ffi::lua_pushlstring(st, b.as_ptr().cast(), b.len()) };
}

unsafe fn grow(st: *mut ffi::lua_State, depth: u32) -> Result<(), String> {
    // A table, a key and a value, plus a nested table.
    if depth > MAX_DEPTH || unsafe { ffi::lua_checkstack(st, 4) } == 0 {
        return Err(malformed(format!("nested deeper than {MAX_DEPTH}")));
    }
    Ok(())
}

impl Session {
    /// Pushes the array of the `n` documents in `slices`, or else in the table at `DOCS`.
    unsafe fn rows(
        &mut self,
        st: *mut ffi::lua_State,
        n: c_int,
        slices: Option<&[&[u8]]>,
    ) -> Result<(), String> {
        unsafe {
            grow(st, 0)?;
            ffi::lua_createtable(st, 0, MAX_KEYS as c_int);
            ffi::lua_createtable(st, n, 0);
            let out = ffi::lua_gettop(st);
            if let Some(slices) = slices {
                for (i, bytes) in (1..).zip(slices) {
                    let doc = bson::RawDocument::from_bytes(bytes).map_err(malformed)?;
                    self.document(st, doc, 0)?;
                    ffi::lua_rawseti(st, out, i);
                }
                return Ok(());
            }
            for i in 1..=ffi::lua_Integer::from(n) {
                if ffi::lua_rawgeti(st, DOCS, i) != ffi::LUA_TSTRING {
                    let kind = std::ffi::CStr::from_ptr(ffi::luaL_typename(st, -1));
                    return Err(format!(
                        "document {i} is a {}, not a string",
                        kind.to_string_lossy()
                    ));
                }
                let mut len = 0;
                let at = ffi::lua_tolstring(st, -1, &mut len);
                // The string stays on the stack (and so alive) until the row is set.
                let bytes = std::slice::from_raw_parts(at.cast::<u8>(), len);
                let doc = bson::RawDocument::from_bytes(bytes).map_err(malformed)?;
                self.document(st, doc, 0)?;
                ffi::lua_rawseti(st, out, i);
                ffi::lua_pop(st, 1);
            }
        }
        Ok(())
    }

    /// Pushes key `k`'s string.
    unsafe fn key(&mut self, st: *mut ffi::lua_State, k: &str) {
        unsafe {
            if let Some(i) = self.keys.iter().position(|s| **s == *k.as_bytes()) {
                ffi::lua_rawgeti(st, KEYS, i as ffi::lua_Integer + 1);
                return;
            }
            push_bytes(st, k.as_bytes());
            if self.keys.len() < MAX_KEYS {
                self.keys.push(k.as_bytes().into());
                ffi::lua_pushvalue(st, -1);
                ffi::lua_rawseti(st, KEYS, self.keys.len() as ffi::lua_Integer);
            }
        }
    }

    unsafe fn document(
        &mut self,
        st: *mut ffi::lua_State,
        d: &bson::RawDocument,
        depth: u32,
    ) -> Result<(), String> {
        unsafe {
            grow(st, depth)?;
            ffi::lua_createtable(st, 0, self.size);
            let t = ffi::lua_gettop(st);
            let mut n = 0;
            for item in d.iter() {
                let (k, v) = item.map_err(malformed)?;
                self.key(st, k.as_str());
                self.value(st, v, depth)?;
                ffi::lua_rawset(st, t);
                n += 1;
            }
            self.size = n;
        }
        Ok(())
    }

    /// Pushes one value: dates as RFC 3339 strings, ObjectIds as hex, null as `json.null`,
    /// arrays with the array metatable, the rarer kinds as `Bson`'s text.
    unsafe fn value(
        &mut self,
        st: *mut ffi::lua_State,
        v: bson::RawBsonRef<'_>,
        depth: u32,
    ) -> Result<(), String> {
        use bson::RawBsonRef as R;
        unsafe {
            match v {
                R::Null | R::Undefined => ffi::lua_pushlightuserdata(st, std::ptr::null_mut()),
                R::Boolean(b) => ffi::lua_pushboolean(st, c_int::from(b)),
                R::Int32(i) => ffi::lua_pushinteger(st, i64::from(i)),
                R::Int64(i) => ffi::lua_pushinteger(st, i),
                R::Double(f) => ffi::lua_pushnumber(st, f),
                R::String(s) | R::Symbol(s) | R::JavaScriptCode(s) => push_bytes(st, s.as_bytes()),
                R::DateTime(d) => with_date_text(d, |t| push_bytes(st, t.as_bytes())),
                R::ObjectId(o) => push_bytes(st, o.to_hex().as_bytes()),
                R::Binary(b) => push_bytes(st, b.bytes),
                R::Document(d) => self.document(st, d, depth + 1)?,
                R::Array(a) => {
                    grow(st, depth + 1)?;
                    ffi::lua_createtable(st, 0, 0);
                    let t = ffi::lua_gettop(st);
                    let mut i = 0;
                    for x in a {
                        self.value(st, x.map_err(malformed)?, depth + 1)?;
                        i += 1;
                        ffi::lua_rawseti(st, t, i);
                    }
                    ffi::lua_pushvalue(st, ARRAY_MT);
                    ffi::lua_setmetatable(st, t);
                }
                other => {
                    let b = Bson::try_from(other).map_err(malformed)?;
                    push_bytes(st, b.to_string().as_bytes());
                }
            }
        }
        Ok(())
    }
}

/// The collector stopped while it lives, if it was running.
struct GcPause<'a>(Option<&'a Lua>);

impl<'a> GcPause<'a> {
    fn new(lua: &'a Lua) -> Self {
        let running = lua.gc_is_running();
        if running {
            lua.gc_stop();
        }
        GcPause(running.then_some(lua))
    }
}

impl Drop for GcPause<'_> {
    fn drop(&mut self) {
        if let Some(lua) = self.0 {
            lua.gc_restart();
        }
    }
}

/// `f` of a date as `Bson::DateTime`'s RFC 3339 text (the `time` crate's: the fraction's
/// trailing zeros cut), by digits into a stack buffer for years 1970-9999.
fn with_date_text<R>(d: bson::DateTime, f: impl FnOnce(&str) -> R) -> R {
    const LAST: i64 = 253_402_300_799_999;
    let ms = d.timestamp_millis();
    if !(0..=LAST).contains(&ms) {
        return f(&d.try_to_rfc3339_string().unwrap_or_else(|_| ms.to_string()));
    }
    let ts = prost_types::Timestamp {
        seconds: ms / 1000,
        nanos: (ms % 1000) as i32 * 1_000_000,
    };
    let mut text = super::rfc3339::format(&ts);
    if ts.nanos != 0 && text.ends_with('Z') {
        text.pop();
        while text.ends_with('0') {
            text.pop();
        }
        text.push('Z');
    }
    f(&text)
}

pub fn document_to_lua(lua: &Lua, d: &Document) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(0, d.len())?;
    for (k, v) in d {
        t.raw_set(k.as_str(), to_lua(lua, v)?)?;
    }
    Ok(t)
}

fn to_lua(lua: &Lua, v: &Bson) -> mlua::Result<Lv> {
    Ok(match v {
        Bson::Null | Bson::Undefined => lua.null(),
        Bson::Boolean(b) => Lv::Boolean(*b),
        Bson::Int32(i) => Lv::Integer(i64::from(*i)),
        Bson::Int64(i) => Lv::Integer(*i),
        Bson::Double(f) => Lv::Number(*f),
        Bson::String(s) | Bson::Symbol(s) | Bson::JavaScriptCode(s) => {
            Lv::String(lua.create_string(s)?)
        }
        Bson::DateTime(d) => Lv::String(
            lua.create_string(
                d.try_to_rfc3339_string()
                    .unwrap_or_else(|_| d.timestamp_millis().to_string()),
            )?,
        ),
        Bson::ObjectId(o) => Lv::String(lua.create_string(o.to_hex())?),
        Bson::Binary(b) => Lv::String(lua.create_string(&b.bytes)?),
        Bson::Document(d) => Lv::Table(document_to_lua(lua, d)?),
        Bson::Array(a) => {
            let t = lua.create_table_with_capacity(a.len(), 0)?;
            for x in a {
                t.raw_push(to_lua(lua, x)?)?;
            }
            t.set_metatable(Some(lua.array_metatable()))?;
            Lv::Table(t)
        }
        other => Lv::String(lua.create_string(other.to_string())?),
    })
}

/// A sequence 1..n with no other keys (an empty table is a document, as `{}` stages need).
fn as_sequence(t: &Table) -> mlua::Result<Option<Vec<Lv>>> {
    super::lazy::force(t)?;
    let n = t.raw_len();
    if n == 0 {
        return Ok(None);
    }
    let mut count = 0;
    for pair in t.pairs::<Lv, Lv>() {
        pair?;
        count += 1;
    }
    if count != n {
        return Ok(None);
    }
    Ok(Some(
        t.sequence_values::<Lv>().collect::<mlua::Result<_>>()?,
    ))
}

/// `{{"a", 1}, {"b", -1}}`: an ordered document.
fn pairs_document(items: &[Lv]) -> mlua::Result<Option<Document>> {
    let mut d = Document::new();
    for it in items {
        let Lv::Table(p) = it else { return Ok(None) };
        let (Ok(Lv::String(k)), Ok(v), 2) = (p.raw_get::<Lv>(1), p.raw_get::<Lv>(2), p.raw_len())
        else {
            return Ok(None);
        };
        d.insert(k.to_str()?.to_string(), from_lua(&v, None)?);
    }
    Ok(Some(d))
}

fn table_to_document(t: &Table, _parent: Option<&str>) -> mlua::Result<Document> {
    let mut entries: Vec<(String, Lv)> = Vec::new();
    for pair in t.pairs::<Lv, Lv>() {
        let (k, v) = pair?;
        let key = match k {
            Lv::String(s) => s.to_str()?.to_string(),
            Lv::Integer(i) => i.to_string(),
            other => {
                return Err(mlua::Error::runtime(format!(
                    "a document key must be a string, got {}",
                    other.type_name()
                )));
            }
        };
        entries.push((key, v));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let mut d = Document::new();
    for (k, v) in entries {
        let b = from_lua(&v, Some(&k))?;
        d.insert(k, b);
    }
    Ok(d)
}

fn from_lua(v: &Lv, key: Option<&str>) -> mlua::Result<Bson> {
    Ok(match v {
        Lv::Nil => Bson::Null,
        Lv::LightUserData(u) if u.0.is_null() => Bson::Null,
        Lv::Boolean(b) => Bson::Boolean(*b),
        Lv::Integer(i) => Bson::Int64(*i),
        Lv::Number(f) => Bson::Double(*f),
        Lv::String(s) => Bson::String(s.to_str()?.to_string()),
        Lv::Table(t) => match as_sequence(t)? {
            Some(items) => {
                if key == Some("$sort") {
                    if let Some(d) = pairs_document(&items)? {
                        return Ok(Bson::Document(d));
                    }
                }
                Bson::Array(
                    items
                        .iter()
                        .map(|x| from_lua(x, None))
                        .collect::<mlua::Result<_>>()?,
                )
            }
            None => Bson::Document(table_to_document(t, key)?),
        },
        other => {
            return Err(mlua::Error::runtime(format!(
                "{} cannot be a BSON value",
                other.type_name()
            )));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    /// A Lua state whose `cloud` holds this file's functions only.
    fn with_cloud() -> Lua {
        let lua = Lua::new();
        let cloud = lua.create_table().unwrap();
        register(&lua, &cloud).unwrap();
        lua.globals().set("cloud", cloud).unwrap();
        lua
    }

    #[test]
    fn stages_round_trip_and_sort_pairs_keep_their_order() {
        let lua = with_cloud();
        let bytes: mlua::LuaString = lua
            .load(r#"return cloud._bson_encode({["$sort"] = {{"b", -1}, {"a", 1}}})"#)
            .eval()
            .unwrap();
        let d = Document::from_reader(&*bytes.as_bytes()).unwrap();
        assert_eq!(d, doc! {"$sort": {"b": -1_i64, "a": 1_i64}});
        let keys: Vec<_> = d.get_document("$sort").unwrap().keys().cloned().collect();
        assert_eq!(keys, ["b", "a"], "the pairs' order is kept");
        let bytes: mlua::LuaString = lua
            .load(r#"return cloud._bson_encode({["$match"] = {tags = {["$in"] = {"x", "y"}}, n = 2.5}})"#)
            .eval()
            .unwrap();
        let d = Document::from_reader(&*bytes.as_bytes()).unwrap();
        assert_eq!(d, doc! {"$match": {"n": 2.5, "tags": {"$in": ["x", "y"]}}});
    }

    #[test]
    fn rows_decode_as_bson_decode_does() {
        let lua = with_cloud();
        let oid = bson::oid::ObjectId::parse_str("65a1b2c3d4e5f60718293a4b").unwrap();
        let docs: Vec<Vec<u8>> = [
            doc! {"n": 1_i64 << 40, "i": 7_i32, "t": bson::DateTime::from_millis(1_700_000_000_120),
            "whole": bson::DateTime::from_millis(1_700_000_000_000),
            "old": bson::DateTime::from_millis(-86_400_001), "id": oid, "x": 1.5,
            "tags": ["a", {"b": null}], "d": {"e": true}, "none": null},
            doc! {"t": bson::DateTime::from_millis(1_700_000_000_007), "x": 2.5,
            "ts": bson::Timestamp { time: 5, increment: 1 }},
        ]
        .iter()
        .map(|d| d.to_vec().unwrap())
        .collect();
        let list = lua
            .create_sequence_from(docs.iter().map(|d| lua.create_string(d).unwrap()))
            .unwrap();
        lua.globals().set("docs", list).unwrap();
        // Both ways, rendered as JSON with sorted keys: the same tables.
        let same: bool = lua
            .load(
                r#"
                local function show(v)
                  if type(v) ~= "table" then return tostring(v) end
                  local ks = {}
                  for k in pairs(v) do ks[#ks + 1] = tostring(k) end
                  table.sort(ks)
                  local out = {}
                  for _, k in ipairs(ks) do
                    out[#out + 1] = k .. "=" .. show(v[k] ~= nil and v[k] or v[tonumber(k)])
                  end
                  return (getmetatable(v) and "[" or "{") .. table.concat(out, ",") .. "}"
                end
                local fast = cloud._bson_rows(docs)
                assert(#fast == #docs)
                for i, d in ipairs(docs) do
                  local a, b = show(fast[i]), show(cloud._bson_decode(d))
                  if a ~= b then error(a .. " ~= " .. b) end
                end
                return fast[1].t == "2023-11-14T22:13:20.12Z" and fast[1].whole == "2023-11-14T22:13:20Z"
                  and fast[2].t == "2023-11-14T22:13:20.007Z"
                "#,
            )
            .eval()
            .unwrap();
        assert!(same, "dates as the time crate writes them");
    }

    #[test]
    fn reply_rows_are_the_rows_of_the_replys_raw_data() {
        use crate::proto::viam::app::data::v1::{
            TabularDataByMqlResponse, TabularDataBySqlResponse,
        };
        use prost::Message;
        for rpc in ["TabularDataBySQL", "TabularDataByMQL"] {
            let m = crate::proto::method(&format!("viam.app.data.v1.DataService/{rpc}")).unwrap();
            let f = m.output().get_field_by_name("raw_data").unwrap();
            assert_eq!(f.number(), RAW_DATA, "{rpc}");
            assert!(
                f.is_list() && f.kind() == prost_reflect::Kind::Bytes,
                "{rpc}"
            );
        }
        let lua = with_cloud();
        let docs: Vec<Vec<u8>> = (0..70_i64)
            .map(|i| {
                doc! {"i": i, "t": bson::DateTime::from_millis(1_700_000_000_000 + i), "d": {"x": [1.5, "y"]}}
                    .to_vec()
                    .unwrap()
            })
            .collect();
        let sql = TabularDataBySqlResponse {
            raw_data: docs.clone(),
        }
        .encode_to_vec();
        let mql = TabularDataByMqlResponse {
            raw_data: docs.clone(),
        }
        .encode_to_vec();
        assert_eq!(sql, mql);
        // An unknown field before the documents is skipped, as a decoder skips it.
        let mut reply = vec![0x08, 0x2a];
        reply.extend(&sql);
        let list = lua
            .create_sequence_from(docs.iter().map(|d| lua.create_string(d).unwrap()))
            .unwrap();
        lua.globals().set("docs", list).unwrap();
        lua.globals()
            .set("reply", lua.create_string(&reply).unwrap())
            .unwrap();
        lua.globals()
            .set("empty", lua.create_string(b"").unwrap())
            .unwrap();
        lua.load(
            r#"
            local a, b = cloud._bson_reply_rows(reply), cloud._bson_rows(docs)
            assert(#a == 70 and #b == 70)
            for i = 1, 70 do
              assert(a[i].i == b[i].i and a[i].t == b[i].t and a[i].d.x[2] == "y", i)
              assert(getmetatable(a[i].d.x) == getmetatable(b[i].d.x))
            end
            assert(#cloud._bson_reply_rows(empty) == 0)
            "#,
        )
        .exec()
        .unwrap();
        // A document cut short, a length beyond the reply, a document that is no BSON.
        for (bad, want) in [
            (&sql[..sql.len() - 3], "buffer underflow"),
            (&[0x12, 0x7f, 0x05][..], "buffer underflow"),
            (&[0x12, 0x04, 0x05, 0, 0, 0][..], "malformed BSON document"),
        ] {
            lua.globals()
                .set("bad", lua.create_string(bad).unwrap())
                .unwrap();
            let e = lua
                .load("cloud._bson_reply_rows(bad)")
                .exec()
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{e}");
        }
    }

    #[test]
    fn rows_refuse_what_is_no_document_and_keep_the_collector_as_it_was() {
        let lua = with_cloud();
        let good = doc! {"a": 1_i64}.to_vec().unwrap();
        let mut deep = doc! {"x": 1_i64};
        for _ in 0..150 {
            deep = doc! {"d": deep};
        }
        lua.globals()
            .set("good", lua.create_string(&good).unwrap())
            .unwrap();
        lua.globals()
            .set("deep", lua.create_string(deep.to_vec().unwrap()).unwrap())
            .unwrap();
        let err = |code: &str| {
            lua.load(code)
                .exec()
                .expect_err(code)
                .to_string()
                .lines()
                .next()
                .unwrap()
                .to_string()
        };
        assert!(
            err(r#"cloud._bson_rows({good, "\5\0\0\0"})"#).contains("malformed BSON document"),
            "a truncated document"
        );
        assert!(
            err("cloud._bson_rows({good, 5})").contains("document 2 is a number, not a string"),
            "a number"
        );
        assert!(
            err("cloud._bson_rows({deep})").contains("nested deeper than 100"),
            "deep nesting"
        );
        let running: bool = lua
            .load(r#"local r = cloud._bson_rows({good, good}); assert(r[2].a == 1); return collectgarbage("isrunning")"#)
            .eval()
            .unwrap();
        assert!(running, "the collector runs again after an answer");
        let stopped: bool = lua
            .load(r#"collectgarbage("stop"); pcall(cloud._bson_rows, {good, 5}); return collectgarbage("isrunning")"#)
            .eval()
            .unwrap();
        assert!(!stopped, "a collector the script stopped stays stopped");
    }

    #[test]
    fn answers_become_plain_tables() {
        let lua = Lua::new();
        let when = bson::DateTime::from_millis(1_700_000_000_123);
        let oid = bson::oid::ObjectId::parse_str("65a1b2c3d4e5f60718293a4b").unwrap();
        let d =
            doc! {"n": 1_i64 << 40, "t": when, "id": oid, "x": 1.5, "tags": ["a"], "none": null};
        let t = document_to_lua(&lua, &d).unwrap();
        assert_eq!(t.get::<i64>("n").unwrap(), 1 << 40);
        assert_eq!(t.get::<String>("t").unwrap(), "2023-11-14T22:13:20.123Z");
        assert_eq!(t.get::<String>("id").unwrap(), "65a1b2c3d4e5f60718293a4b");
        assert_eq!(t.get::<f64>("x").unwrap(), 1.5);
        assert_eq!(
            t.get::<Table>("tags").unwrap().get::<String>(1).unwrap(),
            "a"
        );
        assert!(matches!(t.get::<Lv>("none").unwrap(), Lv::LightUserData(_)));
    }
}
