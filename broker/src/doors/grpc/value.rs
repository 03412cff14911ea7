//! Values between protobuf and the core, losslessly: the proto's `Value`
//! has one kind per kind of [`protocol::Value`] (an int64 stays an integer,
//! a double a float, a map its entries in order), so nothing is guessed.

use std::borrow::Cow;

use protocol::{Body, Value};

use crate::proto::{self, value::Kind};

/// A published value, checked as every door's values are (finite floats,
/// characters XML can carry, at most [`protocol::value::MAX_DEPTH`]
/// levels), as the JSON text the router keeps.
///
/// # Errors
/// Why the value is refused.
pub(super) fn to_body(value: Option<proto::Value>) -> Result<Body<'static>, String> {
    let value = value.map_or(Ok(Value::Null), from_proto)?;
    value.validate().map_err(|e| format!("value: {e}"))?;
    Ok(Body::Json {
        text: Cow::Owned(value.to_string()),
        xml_len: None,
    })
}

/// The core's value of a protobuf one; a `Value` with no kind is null.
fn from_proto(value: proto::Value) -> Result<Value, String> {
    Ok(match value.kind {
        None => Value::Null,
        Some(Kind::NullValue(0)) => Value::Null,
        Some(Kind::NullValue(n)) => return Err(format!("unknown Null value {n}")),
        Some(Kind::BoolValue(b)) => Value::Bool(b),
        Some(Kind::IntValue(n)) => Value::Int(n),
        Some(Kind::DoubleValue(f)) => Value::Float(f),
        Some(Kind::StringValue(s)) => Value::Str(s),
        Some(Kind::ListValue(list)) => Value::List(
            list.items
                .into_iter()
                .map(from_proto)
                .collect::<Result<_, _>>()?,
        ),
        Some(Kind::MapValue(map)) => Value::Dict(
            map.entries
                .into_iter()
                .map(|e| Ok((e.key, e.value.map_or(Ok(Value::Null), from_proto)?)))
                .collect::<Result<_, String>>()?,
        ),
    })
}

/// The protobuf value of a message body.
pub(super) fn of_body(body: &Body<'_>) -> proto::Value {
    to_proto(body.to_value())
}

/// The protobuf value of a core one.
pub(super) fn to_proto(value: Value) -> proto::Value {
    let kind = match value {
        Value::Null => Kind::NullValue(proto::Null::Value.into()),
        Value::Bool(b) => Kind::BoolValue(b),
        Value::Int(n) => Kind::IntValue(n),
        Value::Float(f) => Kind::DoubleValue(f),
        Value::Str(s) => Kind::StringValue(s),
        Value::List(items) => Kind::ListValue(proto::ValueList {
            items: items.into_iter().map(to_proto).collect(),
        }),
        Value::Dict(entries) => Kind::MapValue(proto::ValueMap {
            entries: entries
                .into_iter()
                .map(|(key, v)| proto::ValueEntry {
                    key,
                    value: Some(to_proto(v)),
                })
                .collect(),
        }),
    };
    proto::Value { kind: Some(kind) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(value: Value) -> Value {
        let body = to_body(Some(to_proto(value))).expect("valid");
        body.to_value()
    }

    #[test]
    fn every_kind_survives_both_ways() {
        let value = Value::Dict(vec![
            ("big".into(), Value::Int(i64::MAX)),
            ("neg".into(), Value::Int(i64::MIN)),
            ("f".into(), Value::Float(2.0)),
            ("s".into(), Value::Str("é \"q\"".into())),
            ("n".into(), Value::Null),
            ("b".into(), Value::Bool(false)),
            (
                "l".into(),
                Value::List(vec![Value::Int(1), Value::Float(1.5)]),
            ),
            ("dup".into(), Value::Int(1)),
            ("dup".into(), Value::Int(2)),
        ]);
        assert_eq!(round_trip(value.clone()), value);
    }

    #[test]
    fn refuses_what_no_door_can_carry() {
        let nan = proto::Value {
            kind: Some(Kind::DoubleValue(f64::NAN)),
        };
        assert!(to_body(Some(nan)).is_err());
        let control = proto::Value {
            kind: Some(Kind::StringValue("a\u{1}b".into())),
        };
        assert!(to_body(Some(control)).is_err());
        let unknown_null = proto::Value {
            kind: Some(Kind::NullValue(7)),
        };
        assert!(to_body(Some(unknown_null)).unwrap_err().contains("unknown"));
        let mut deep = Value::Null;
        for _ in 0..100 {
            deep = Value::List(vec![deep]);
        }
        assert!(to_body(Some(to_proto(deep))).is_err());
        assert_eq!(to_body(None).expect("null").to_value(), Value::Null);
    }
}
