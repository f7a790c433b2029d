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
pub fn reading_json(s: &prost_types::Struct) -> serde_json::Value {
    serde_json::Value::Object(
        s.fields
            .iter()
            .map(|(k, v)| (k.clone(), value_json(v)))
            .collect(),
    )
}

fn value_json(v: &prost_types::Value) -> serde_json::Value {
    use prost_types::value::Kind;
    use serde_json::Value as J;
    match &v.kind {
        None | Some(Kind::NullValue(_)) => J::Null,
        Some(Kind::BoolValue(b)) => J::Bool(*b),
        Some(Kind::StringValue(s)) => J::String(s.clone()),
        Some(Kind::NumberValue(n)) => serde_json::Number::from_f64(*n).map_or(J::Null, J::Number),
        Some(Kind::StructValue(s)) => reading_json(s),
        Some(Kind::ListValue(l)) => J::Array(l.values.iter().map(value_json).collect()),
    }
}
