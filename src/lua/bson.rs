//! BSON <-> Lua for the data API (issue 12): SQL and MQL answers arrive as BSON documents and
//! become plain tables (dates as RFC 3339 strings, ObjectIds as hex strings, 64-bit integers as
//! integers, null as `json.null`); an MQL stage written as a Lua table becomes a document.
//!
//! Key order: a Lua table has none, so a document made from one has its keys sorted. Order
//! matters only where MongoDB reads it, which in the supported stages is `$sort`: its argument
//! may also be written as an array of {field, direction} pairs, kept in that order
//! (`{["$sort"] = {{"time_received", -1}, {"component_name", 1}}}`).

use bson::{Bson, Document};
use mlua::{Lua, LuaSerdeExt, Table, Value as Lv};

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
        lua.create_function(|lua, docs: Table| rows(lua, &docs))?,
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

/// `cloud._bson_rows(docs)`: an array of BSON documents (an SQL or MQL answer's raw_data) as
/// an array of tables, the same tables `_bson_decode` makes, in one call. Each document is
/// read in place (no `Document` built and dropped per row) and its keys' Lua strings are made
/// once per answer: decoding 100,000 rows was most of the client's time for an SQL query.
fn rows(lua: &Lua, docs: &Table) -> mlua::Result<Table> {
    super::lazy::force(docs)?;
    let n = docs.raw_len();
    let out = lua.create_table_with_capacity(n, 0)?;
    let mut keys = Keys::default();
    for i in 1..=n {
        let bytes: mlua::LuaString = docs.raw_get(i)?;
        let bytes = bytes.as_bytes();
        let doc = bson::RawDocument::from_bytes(&*bytes)
            .map_err(|e| mlua::Error::runtime(format!("malformed BSON document: {e}")))?;
        out.raw_set(i, raw_document_to_lua(lua, doc, &mut keys)?)?;
    }
    Ok(out)
}

/// The Lua strings of the keys seen so far (rows of one answer share their few keys), and
/// the last document's size: its table is made that size (growing each table key by key was
/// a tenth of the decoding).
#[derive(Default)]
struct Keys(Vec<(Box<[u8]>, mlua::LuaString)>, usize);

impl Keys {
    fn get(&mut self, lua: &Lua, key: &str) -> mlua::Result<mlua::LuaString> {
        if let Some((_, s)) = self.0.iter().find(|(k, _)| **k == *key.as_bytes()) {
            return Ok(s.clone());
        }
        let s = lua.create_string(key)?;
        // Bounded: documents with ever new keys would make the search the cost.
        if self.0.len() < 64 {
            self.0.push((key.as_bytes().into(), s.clone()));
        }
        Ok(s)
    }
}

fn malformed(e: impl std::fmt::Display) -> mlua::Error {
    mlua::Error::runtime(format!("malformed BSON document: {e}"))
}

fn raw_document_to_lua(lua: &Lua, d: &bson::RawDocument, keys: &mut Keys) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(0, keys.1)?;
    let mut n = 0;
    for item in d.iter() {
        let (k, v) = item.map_err(malformed)?;
        t.raw_set(keys.get(lua, k.as_str())?, raw_to_lua(lua, v, keys)?)?;
        n += 1;
    }
    keys.1 = n;
    Ok(t)
}

/// A date as `Bson::DateTime`'s RFC 3339 text (the `time` crate's: the fraction's trailing
/// zeros cut), by digits for years 1970-9999.
fn date_text(d: bson::DateTime) -> String {
    const LAST: i64 = 253_402_300_799_999;
    let ms = d.timestamp_millis();
    if !(0..=LAST).contains(&ms) {
        return d.try_to_rfc3339_string().unwrap_or_else(|_| ms.to_string());
    }
    let ts = prost_types::Timestamp {
        seconds: ms / 1000,
        nanos: (ms % 1000) as i32 * 1_000_000,
    };
    let text = super::rfc3339::format(&ts);
    match text.strip_suffix('Z').filter(|_| ts.nanos != 0) {
        Some(body) => format!("{}Z", body.trim_end_matches('0')),
        None => text.to_string(),
    }
}

fn raw_to_lua(lua: &Lua, v: bson::RawBsonRef<'_>, keys: &mut Keys) -> mlua::Result<Lv> {
    use bson::RawBsonRef as R;
    Ok(match v {
        R::Null | R::Undefined => lua.null(),
        R::Boolean(b) => Lv::Boolean(b),
        R::Int32(i) => Lv::Integer(i64::from(i)),
        R::Int64(i) => Lv::Integer(i),
        R::Double(f) => Lv::Number(f),
        R::String(s) | R::Symbol(s) | R::JavaScriptCode(s) => Lv::String(lua.create_string(s)?),
        R::DateTime(d) => Lv::String(lua.create_string(date_text(d))?),
        R::ObjectId(o) => Lv::String(lua.create_string(o.to_hex())?),
        R::Binary(b) => Lv::String(lua.create_string(b.bytes)?),
        R::Document(d) => Lv::Table(raw_document_to_lua(lua, d, keys)?),
        R::Array(a) => {
            let t = lua.create_table()?;
            for x in a {
                t.raw_push(raw_to_lua(lua, x.map_err(malformed)?, keys)?)?;
            }
            t.set_metatable(Some(lua.array_metatable()))?;
            Lv::Table(t)
        }
        other => to_lua(lua, &Bson::try_from(other).map_err(malformed)?)?,
    })
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

    #[test]
    fn stages_round_trip_and_sort_pairs_keep_their_order() {
        let lua = Lua::new();
        let cloud = lua.create_table().unwrap();
        register(&lua, &cloud).unwrap();
        lua.globals().set("cloud", cloud).unwrap();
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
        let lua = Lua::new();
        let cloud = lua.create_table().unwrap();
        register(&lua, &cloud).unwrap();
        lua.globals().set("cloud", cloud).unwrap();
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
