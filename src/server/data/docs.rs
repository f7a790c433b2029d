//! Conversions of stored captured data: method parameters (map<string, Any>) to and from their
//! stored JSON, and JSON to BSON for the SQL and MQL answers.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bson::{Bson, Document};

/// `map<string, google.protobuf.Any>` as stored: `{"k": {"type_url": "...", "value": "<base64>"}}`.
pub fn params_json(p: &HashMap<String, prost_types::Any>) -> String {
    let m: serde_json::Map<String, serde_json::Value> = p
        .iter()
        .map(|(k, a)| {
            (
                k.clone(),
                serde_json::json!({"type_url": a.type_url, "value": B64.encode(&a.value)}),
            )
        })
        .collect();
    serde_json::Value::Object(m).to_string()
}

pub fn params_from_json(text: &str) -> HashMap<String, prost_types::Any> {
    let Ok(serde_json::Value::Object(m)) = serde_json::from_str(text) else {
        return HashMap::new();
    };
    m.into_iter()
        .filter_map(|(k, v)| {
            let type_url = v.get("type_url")?.as_str()?.to_string();
            let value = B64.decode(v.get("value")?.as_str()?).ok()?;
            Some((k, prost_types::Any { type_url, value }))
        })
        .collect()
}

/// Method parameters as a Struct (ExportTabularData's form): each parameter that is a packed
/// google.protobuf.Value becomes that value; any other packed type is named by its type URL.
pub fn params_struct(text: &str) -> prost_types::Struct {
    use prost::Message;
    let fields = params_from_json(text)
        .into_iter()
        .map(|(k, a)| {
            let v = if a.type_url.ends_with("/google.protobuf.Value") {
                prost_types::Value::decode(a.value.as_slice()).unwrap_or_default()
            } else {
                prost_types::Value {
                    kind: Some(prost_types::value::Kind::StringValue(a.type_url)),
                }
            };
            (k, v)
        })
        .collect();
    prost_types::Struct { fields }
}

/// JSON as BSON: integers stay 64-bit integers, other numbers are doubles.
pub fn json_to_bson(v: serde_json::Value) -> Bson {
    use serde_json::Value as J;
    match v {
        J::Null => Bson::Null,
        J::Bool(b) => Bson::Boolean(b),
        J::Number(n) => match n.as_i64() {
            Some(i) => Bson::Int64(i),
            None => Bson::Double(n.as_f64().unwrap_or(f64::NAN)),
        },
        J::String(s) => Bson::String(s),
        J::Array(a) => Bson::Array(a.into_iter().map(json_to_bson).collect()),
        J::Object(m) => Bson::Document(m.into_iter().map(|(k, v)| (k, json_to_bson(v))).collect()),
    }
}

/// Stored JSON text as BSON; text that is not JSON stays a string.
pub fn json_text_to_bson(text: &str) -> Bson {
    serde_json::from_str(text).map_or_else(|_| Bson::String(text.into()), json_to_bson)
}

/// Unix nanoseconds as a BSON date (milliseconds).
pub fn date(nanos: i64) -> Bson {
    Bson::DateTime(bson::DateTime::from_millis(nanos.div_euclid(1_000_000)))
}

/// One document's bytes, as the raw_data of SQL and MQL answers carry them.
pub fn encode(doc: &Document) -> Vec<u8> {
    doc.to_vec().unwrap_or_default()
}

/// A reading as stored: JSON whose numbers stay doubles ("23.0"), as a Struct's are, so SQL and
/// MQL answer with doubles as upstream does (structs.rs prints whole numbers as integers).
/// Written straight from the Struct (keys in its order, a number that is not finite as null):
/// a `serde_json::Value` in between, built and printed per reading, was a tenth of an upload.
pub fn reading_json(s: &prost_types::Struct) -> String {
    serde_json::to_string(&StructJson(s)).unwrap_or_else(|_| "{}".into())
}

struct StructJson<'a>(&'a prost_types::Struct);
struct ValueJson<'a>(&'a prost_types::Value);

impl serde::Serialize for StructJson<'_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        ser.collect_map(self.0.fields.iter().map(|(k, v)| (k, ValueJson(v))))
    }
}

impl serde::Serialize for ValueJson<'_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use prost_types::value::Kind;
        match &self.0.kind {
            None | Some(Kind::NullValue(_)) => ser.serialize_unit(),
            Some(Kind::BoolValue(b)) => ser.serialize_bool(*b),
            Some(Kind::StringValue(s)) => ser.serialize_str(s),
            Some(Kind::NumberValue(n)) if n.is_finite() => ser.serialize_f64(*n),
            Some(Kind::NumberValue(_)) => ser.serialize_unit(),
            Some(Kind::StructValue(s)) => StructJson(s).serialize(ser),
            Some(Kind::ListValue(l)) => ser.collect_seq(l.values.iter().map(ValueJson)),
        }
    }
}

#[cfg(test)]
mod tests {
    use prost_types::value::Kind;
    use prost_types::{ListValue, Struct, Value};

    fn v(kind: Kind) -> Value {
        Value { kind: Some(kind) }
    }

    #[test]
    fn a_reading_is_stored_as_json_with_doubles_and_sorted_keys() {
        let inner = Struct {
            fields: [("t".to_string(), v(Kind::NumberValue(23.0)))].into(),
        };
        let s = Struct {
            fields: [
                ("z".to_string(), v(Kind::StructValue(inner))),
                ("a\"q".to_string(), v(Kind::StringValue("x\ny".into()))),
                ("n".to_string(), v(Kind::NumberValue(f64::NAN))),
                ("b".to_string(), v(Kind::BoolValue(true))),
                ("u".to_string(), Value { kind: None }),
                (
                    "l".to_string(),
                    v(Kind::ListValue(ListValue {
                        values: vec![v(Kind::NumberValue(-1.5)), v(Kind::NullValue(0))],
                    })),
                ),
            ]
            .into(),
        };
        assert_eq!(
            super::reading_json(&s),
            r#"{"a\"q":"x\ny","b":true,"l":[-1.5,null],"n":null,"u":null,"z":{"t":23.0}}"#
        );
    }
}
