//! Lua table -> protobuf (src/lua/convert.rs). The input bytes drive a small generator that
//! builds a Lua value for the request type of one RPC (keys mostly real field names, so deep
//! paths are reached; values of every Lua type, functions included). Properties: conversion
//! never panics; what converts survives proto -> Lua -> proto unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mlua::{Lua, LuaSerdeExt, Table, Value};
use prost_reflect::{Kind, MessageDescriptor};

use fleetsh::lua::convert::{from_message, to_message};
use fleetsh::proto::POOL;

struct Gen<'a> {
    data: &'a [u8],
}

impl Gen<'_> {
    fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let n = n.min(self.data.len());
        let (a, b) = self.data.split_at(n);
        self.data = b;
        a.to_vec()
    }

    fn string(&mut self) -> Vec<u8> {
        let n = self.byte() as usize % 24;
        self.bytes(n)
    }

    /// A value for a field of `kind` (None: a key that is not a field).
    fn value(&mut self, lua: &Lua, kind: Option<&Kind>, depth: u32) -> mlua::Result<Value> {
        let sub = match kind {
            Some(Kind::Message(m)) => Some(m.clone()),
            _ => None,
        };
        Ok(match self.byte() % 12 {
            0 => Value::Nil,
            1 => Value::Boolean(self.byte() & 1 == 1),
            2 => Value::Integer(i64::from_le_bytes(
                self.bytes(8).try_into().unwrap_or([0; 8]),
            )),
            3 => Value::Number(f64::from_le_bytes(
                self.bytes(8).try_into().unwrap_or([0; 8]),
            )),
            4 | 5 => Value::String(lua.create_string(self.string())?),
            6 => Value::String(lua.create_string("2024-01-02T03:04:05.123Z")?),
            7 => Value::Function(lua.create_function(|_, ()| Ok(()))?),
            8 => Value::Integer(self.byte() as i64 - 128),
            // Tables: a message (by its fields), an array, or anything.
            _ if depth < 5 => Value::Table(self.table(lua, sub.as_ref(), depth + 1)?),
            _ => Value::Nil,
        })
    }

    fn table(
        &mut self,
        lua: &Lua,
        desc: Option<&MessageDescriptor>,
        depth: u32,
    ) -> mlua::Result<Table> {
        let t = lua.create_table()?;
        let n = self.byte() % 6;
        for i in 0..n {
            let field = desc.and_then(|d| {
                let fields: Vec<_> = d.fields().collect();
                (!fields.is_empty()).then(|| fields[self.byte() as usize % fields.len()].clone())
            });
            match (self.byte() % 4, &field) {
                (0, _) => {
                    let v = self.value(lua, None, depth)?;
                    t.raw_set(i as i64 + 1, v)?
                }
                (1, _) => {
                    let k = lua.create_string(self.string())?;
                    let v = self.value(lua, None, depth)?;
                    t.raw_set(k, v)?
                }
                (_, Some(f)) => {
                    let kind = f.kind();
                    let v = if f.is_list() && self.byte() & 1 == 0 {
                        let items = lua.create_table()?;
                        for j in 0..(self.byte() % 4) {
                            items.raw_set(j as i64 + 1, self.value(lua, Some(&kind), depth)?)?;
                        }
                        Value::Table(items)
                    } else {
                        self.value(lua, Some(&kind), depth)?
                    };
                    t.raw_set(f.name(), v)?
                }
                (_, None) => {}
            }
        }
        Ok(t)
    }
}

fuzz_target!(|data: &[u8]| {
    let inputs: Vec<MessageDescriptor> = POOL
        .services()
        .flat_map(|s| s.methods().map(|m| m.input()).collect::<Vec<_>>())
        .collect();
    let mut g = Gen { data };
    let desc = &inputs[g.byte() as usize % inputs.len()];
    let lua = Lua::new();
    // As fleetsh::lua::new_state does, so decoded arrays are recognised.
    lua.array_metatable()
        .raw_set("__fleetsh_array", true)
        .unwrap();
    let table = g.table(&lua, Some(desc), 0).unwrap();
    if let Ok(msg) = to_message(desc, &table) {
        let back = from_message(&lua, &msg).expect("a converted message converts back to Lua");
        let Value::Table(back) = back else {
            panic!("a message became a non-table")
        };
        let again = to_message(desc, &back)
            .unwrap_or_else(|e| panic!("{} does not round-trip: {e}", desc.name()));
        // Compared as on the wire, where an explicit "" and an unset string are the same.
        let wire = |m: &prost_reflect::DynamicMessage| {
            prost_reflect::DynamicMessage::decode(
                desc.clone(),
                prost::Message::encode_to_vec(m).as_slice(),
            )
            .expect("a message decodes from its own encoding")
        };
        let (msg, again) = (wire(&msg), wire(&again));
        // NaN is never equal to itself; its presence is the one allowed difference.
        if msg != again && !format!("{msg:?}").contains("NaN") {
            panic!(
                "{} changed in the round trip:\n{msg:?}\n{again:?}",
                desc.name()
            );
        }
    }
});
