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
