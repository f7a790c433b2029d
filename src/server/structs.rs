//! google.protobuf.Struct <-> JSON, for the `*_config_json` fields and `config_json` replies.

use prost_types::value::Kind;

use super::error::{ApiError, ApiResult};

/// JSON text of a Struct. Integral numbers print without a fraction ("5", not "5.0").
pub fn struct_to_json(s: &prost_types::Struct) -> serde_json::Value {
    serde_json::Value::Object(
        s.fields
            .iter()
            .map(|(k, v)| (k.clone(), value_to_json(v)))
            .collect(),
    )
}

fn value_to_json(v: &prost_types::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match &v.kind {
        None | Some(Kind::NullValue(_)) => J::Null,
        Some(Kind::BoolValue(b)) => J::Bool(*b),
        Some(Kind::StringValue(s)) => J::String(s.clone()),
        Some(Kind::NumberValue(n)) if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 => {
            J::from(*n as i64)
        }
        Some(Kind::NumberValue(n)) => serde_json::Number::from_f64(*n).map_or(J::Null, J::Number),
        Some(Kind::StructValue(s)) => struct_to_json(s),
        Some(Kind::ListValue(l)) => J::Array(l.values.iter().map(value_to_json).collect()),
    }
}

/// Parses JSON text that must be an object into a Struct; errors name `field`.
pub fn json_to_struct(field: &str, text: &str) -> ApiResult<prost_types::Struct> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(map)) => Ok(prost_types::Struct {
            fields: map
                .into_iter()
                .map(|(k, v)| (k, json_to_value(v)))
                .collect(),
        }),
        Ok(_) => Err(ApiError::invalid(field, "must be a JSON object")),
        Err(e) => Err(ApiError::invalid(field, format!("invalid JSON: {e}"))),
    }
}

pub(crate) fn json_to_value(v: serde_json::Value) -> prost_types::Value {
    use serde_json::Value as J;
    let kind = match v {
        J::Null => Kind::NullValue(0),
        J::Bool(b) => Kind::BoolValue(b),
        J::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or(0.0)),
        J::String(s) => Kind::StringValue(s),
        J::Array(a) => Kind::ListValue(prost_types::ListValue {
            values: a.into_iter().map(json_to_value).collect(),
        }),
        J::Object(m) => Kind::StructValue(prost_types::Struct {
            fields: m.into_iter().map(|(k, v)| (k, json_to_value(v))).collect(),
        }),
    };
    prost_types::Value { kind: Some(kind) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_objects_become_structs_and_other_json_is_refused() {
        let s = json_to_struct("f", r#"{"a": [1, "x", null, {"b": true}]}"#).unwrap();
        let prost_types::value::Kind::ListValue(l) = s.fields["a"].kind.clone().unwrap() else {
            panic!()
        };
        assert_eq!(l.values.len(), 4);
        for bad in ["[1]", "{", "3"] {
            let e = json_to_struct("fragment_config_json", bad).unwrap_err();
            assert_eq!(e.code(), tonic::Code::InvalidArgument);
            assert!(e.to_string().starts_with("fragment_config_json: "), "{e}");
        }
    }

    #[test]
    fn json_and_struct_convert_both_ways() {
        // Keys in sorted order: Struct keeps its fields in a sorted map.
        let text = r#"{"a":{"b":[1,2.5,true,null,"s"]},"e":{},"n":-3}"#;
        let s = json_to_struct("f", text).unwrap();
        assert_eq!(serde_json::to_string(&struct_to_json(&s)).unwrap(), text);
        assert_eq!(
            json_to_struct("f", "[1]").unwrap_err().code(),
            tonic::Code::InvalidArgument
        );
        assert!(
            json_to_struct("robot_config_json", "{")
                .unwrap_err()
                .to_string()
                .starts_with("robot_config_json:")
        );
    }
}
