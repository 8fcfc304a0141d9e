//! RivetKit's JSON-compat value layer, at the wire boundary.
//!
//! Inside the process, values are plain CBOR as serde writes it. JavaScript clients mark values
//! JSON cannot carry with two-element arrays: `["$BigInt", "123"]`, `["$Uint8Array", base64]`,
//! `["$ArrayBuffer", base64]`, `["$Undefined", 0]`, `["$Set", [...]]`; a user array that happens
//! to look like one has its tag escaped with another `$` (`["$x", 1]` travels as `["$$x", 1]`).
//! The JSON encoding uses these markers throughout; the BARE encoding uses them inside its CBOR
//! payloads (the client applies `encodeCborCompat`); the CBOR encoding sends raw values but
//! revives markers in everything it receives. So:
//!
//! | direction | json | cbor | bare |
//! | --- | --- | --- | --- |
//! | client to server | [`json_to_cbor`] | as is | [`revive_cbor`] |
//! | server to client | [`cbor_to_json`] | [`escape_cbor`] | [`escape_cbor`] |

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ciborium::Value;
use serde_json::Value as Json;

use crate::codec;

/// A value that cannot cross the boundary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CompatError(pub String);

fn error(message: impl Into<String>) -> CompatError {
    CompatError(message.into())
}

/// The largest integer a JavaScript number holds exactly.
const MAX_SAFE_INTEGER: i128 = (1 << 53) - 1;

/// JSON from a JavaScript client to internal CBOR, reviving compat markers.
pub fn json_to_cbor(json: &Json) -> Result<Vec<u8>, CompatError> {
    let value = json_to_value(json, 0)?;
    let mut out = Vec::new();
    codec::write(&value, &mut out).map_err(|e| error(e.to_string()))?;
    Ok(out)
}

/// Internal CBOR to JSON for a JavaScript client, adding compat markers.
pub fn cbor_to_json(bytes: &[u8]) -> Result<Json, CompatError> {
    let value: Value = codec::decode(bytes).map_err(|e| error(codec::describe_de_error(&e)))?;
    Ok(value_to_json(&value))
}

/// Plain JSON (such as error metadata) to internal CBOR, without interpreting markers.
pub fn plain_json_to_cbor(json: &Json) -> Result<Vec<u8>, CompatError> {
    let mut out = Vec::new();
    codec::write(json, &mut out).map_err(|e| error(e.to_string()))?;
    Ok(out)
}

/// Internal CBOR to plain JSON for Rust code (see [`value_to_plain_json`]).
pub fn cbor_to_plain_json(bytes: &[u8]) -> Result<Json, CompatError> {
    let value: Value = codec::decode(bytes).map_err(|e| error(codec::describe_de_error(&e)))?;
    Ok(value_to_plain_json(&value))
}

/// Compat-marked CBOR from a JavaScript client (the BARE encoding) to internal CBOR.
pub fn revive_cbor(bytes: &[u8]) -> Result<Cow<'_, [u8]>, CompatError> {
    codec::check_item(bytes).map_err(error)?;
    if !codec::has_dollar_pair(bytes) {
        return Ok(Cow::Borrowed(bytes));
    }
    let value: Value = codec::decode(bytes).map_err(|e| error(codec::describe_de_error(&e)))?;
    let revived = revive_value(value, 0)?;
    let mut out = Vec::with_capacity(bytes.len());
    codec::write(&revived, &mut out).map_err(|e| error(e.to_string()))?;
    Ok(Cow::Owned(out))
}

/// Internal CBOR to what a JavaScript client decodes with `decodeCborCompat`: user arrays that
/// look like compat markers get their tag escaped.
pub fn escape_cbor(bytes: &[u8]) -> Result<Cow<'_, [u8]>, CompatError> {
    if !codec::has_dollar_pair(bytes) {
        return Ok(Cow::Borrowed(bytes));
    }
    let value: Value = codec::decode(bytes).map_err(|e| error(codec::describe_de_error(&e)))?;
    let escaped = escape_value(value);
    let mut out = Vec::with_capacity(bytes.len() + 8);
    codec::write(&escaped, &mut out).map_err(|e| error(e.to_string()))?;
    Ok(Cow::Owned(out))
}

const MAX_DEPTH: usize = 256;

/// The compat tag of a two-element array, if it is one.
fn marker(items: &[Value]) -> Option<&str> {
    match items {
        [Value::Text(tag), _] if tag.starts_with('$') => Some(tag),
        _ => None,
    }
}

fn json_marker(items: &[Json]) -> Option<&str> {
    match items {
        [Json::String(tag), _] if tag.starts_with('$') => Some(tag),
        _ => None,
    }
}

fn json_to_value(json: &Json, depth: usize) -> Result<Value, CompatError> {
    if depth > MAX_DEPTH {
        return Err(error("value nested too deeply"));
    }
    Ok(match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Integer(i.into())
            } else if let Some(u) = n.as_u64() {
                Value::Integer(u.into())
            } else {
                Value::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Json::String(s) => Value::Text(s.clone()),
        Json::Array(items) => match json_marker(items) {
            Some(tag) => {
                let payload = json_to_value(&items[1], depth + 1)?;
                revive_marker(tag, payload, depth)?
            }
            None => Value::Array(
                items
                    .iter()
                    .map(|item| json_to_value(item, depth + 1))
                    .collect::<Result<_, _>>()?,
            ),
        },
        Json::Object(map) => Value::Map(
            map.iter()
                .map(|(k, v)| Ok((Value::Text(k.clone()), json_to_value(v, depth + 1)?)))
                .collect::<Result<_, CompatError>>()?,
        ),
    })
}

/// Turns a compat marker with its (already converted) payload into the value it stands for.
fn revive_marker(tag: &str, payload: Value, depth: usize) -> Result<Value, CompatError> {
    Ok(match tag {
        "$BigInt" => {
            let text = match &payload {
                Value::Text(t) => t.as_str(),
                _ => return Err(error("$BigInt needs a decimal string")),
            };
            bigint_value(text)?
        }
        "$Uint8Array" | "$ArrayBuffer" => {
            let text = match &payload {
                Value::Text(t) => t.as_str(),
                _ => return Err(error(format!("{tag} needs a base64 string"))),
            };
            Value::Bytes(
                BASE64
                    .decode(text)
                    .map_err(|e| error(format!("{tag}: invalid base64: {e}")))?,
            )
        }
        "$Undefined" => Value::Null,
        "$Set" => match payload {
            Value::Array(items) => Value::Array(
                items
                    .into_iter()
                    .map(|item| revive_value(item, depth + 1))
                    .collect::<Result<_, _>>()?,
            ),
            _ => return Err(error("$Set needs an array")),
        },
        escaped if escaped.starts_with("$$") => {
            Value::Array(vec![Value::Text(escaped[1..].to_owned()), payload])
        }
        unknown => return Err(error(format!("unknown JSON encoding type `{unknown}`"))),
    })
}

/// A decimal integer of any size: a CBOR integer when it fits, else a bignum (tag 2 or 3).
fn bigint_value(text: &str) -> Result<Value, CompatError> {
    let parsed: i128 = text.parse().map_err(|_| {
        error(format!(
            "$BigInt `{text}` is not an integer that fits 128 bits"
        ))
    })?;
    if let Ok(int) = ciborium::value::Integer::try_from(parsed) {
        return Ok(Value::Integer(int));
    }
    let (tag, magnitude) = if parsed < 0 {
        (3, (-1 - parsed) as u128)
    } else {
        (2, parsed as u128)
    };
    let bytes = magnitude.to_be_bytes();
    let first = bytes
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(bytes.len() - 1);
    Ok(Value::Tag(
        tag,
        Box::new(Value::Bytes(bytes[first..].to_vec())),
    ))
}

fn revive_value(value: Value, depth: usize) -> Result<Value, CompatError> {
    if depth > MAX_DEPTH {
        return Err(error("value nested too deeply"));
    }
    Ok(match value {
        Value::Array(items) => {
            if marker(&items).is_some() {
                let mut items = items.into_iter();
                let (Some(Value::Text(tag)), Some(payload)) = (items.next(), items.next()) else {
                    return Err(error("malformed compat marker"));
                };
                let payload = revive_value(payload, depth + 1)?;
                revive_marker(&tag, payload, depth)?
            } else {
                Value::Array(
                    items
                        .into_iter()
                        .map(|item| revive_value(item, depth + 1))
                        .collect::<Result<_, _>>()?,
                )
            }
        }
        Value::Map(entries) => Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| Ok((revive_value(k, depth + 1)?, revive_value(v, depth + 1)?)))
                .collect::<Result<_, CompatError>>()?,
        ),
        Value::Tag(tag, inner) => Value::Tag(tag, Box::new(revive_value(*inner, depth + 1)?)),
        other => other,
    })
}

fn escape_value(value: Value) -> Value {
    match value {
        Value::Array(items) => {
            let escape = marker(&items).is_some();
            let mut items: Vec<Value> = items.into_iter().map(escape_value).collect();
            if escape && let Some(Value::Text(tag)) = items.first_mut() {
                tag.insert(0, '$');
            }
            Value::Array(items)
        }
        Value::Map(entries) => Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (escape_value(k), escape_value(v)))
                .collect(),
        ),
        Value::Tag(tag, inner) => Value::Tag(tag, Box::new(escape_value(*inner))),
        other => other,
    }
}

/// A CBOR value as JSON with compat markers, the way `jsonStringifyCompat` writes it.
pub fn value_to_json(value: &Value) -> Json {
    to_json(value, true)
}

/// A CBOR value as plain JSON for Rust code: no escaping of `$` arrays (bytes and huge integers
/// still use their markers, having no other JSON form).
pub fn value_to_plain_json(value: &Value) -> Json {
    to_json(value, false)
}

fn to_json(value: &Value, escape: bool) -> Json {
    let value_to_json = |v: &Value| to_json(v, escape);
    match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Integer(i) => integer_json(i128::from(*i)),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Value::Text(s) => Json::String(s.clone()),
        Value::Bytes(b) => Json::Array(vec![
            Json::String("$Uint8Array".to_owned()),
            Json::String(BASE64.encode(b)),
        ]),
        Value::Array(items) => {
            let mut out: Vec<Json> = items.iter().map(value_to_json).collect();
            if escape
                && marker(items).is_some()
                && let Some(Json::String(tag)) = out.first_mut()
            {
                tag.insert(0, '$');
            }
            Json::Array(out)
        }
        Value::Map(entries) => Json::Object(
            entries
                .iter()
                .map(|(k, v)| (json_key(k), to_json(v, escape)))
                .collect(),
        ),
        Value::Tag(tag @ (2 | 3), inner) => match &**inner {
            Value::Bytes(bytes) if bytes.len() <= 16 => {
                let mut magnitude = 0u128;
                for b in bytes {
                    magnitude = (magnitude << 8) | u128::from(*b);
                }
                let text = if *tag == 2 {
                    magnitude.to_string()
                } else {
                    // -1 - magnitude, without overflowing i128.
                    format!("-{}", magnitude.saturating_add(1))
                };
                Json::Array(vec![Json::String("$BigInt".to_owned()), Json::String(text)])
            }
            other => to_json(other, escape),
        },
        Value::Tag(_, inner) => to_json(inner, escape),
        _ => Json::Null,
    }
}

fn integer_json(i: i128) -> Json {
    if (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&i) {
        // Within ±2^53 both conversions succeed.
        if let Ok(v) = i64::try_from(i) {
            return Json::from(v);
        }
    }
    Json::Array(vec![
        Json::String("$BigInt".to_owned()),
        Json::String(i.to_string()),
    ])
}

/// JSON object keys are strings: other CBOR keys are written as their JSON text.
fn json_key(key: &Value) -> String {
    match key {
        Value::Text(s) => s.clone(),
        other => value_to_json(other).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn cbor<T: serde::Serialize>(v: &T) -> Vec<u8> {
        let mut out = Vec::new();
        codec::write(v, &mut out).unwrap();
        out
    }

    #[test]
    fn json_markers_are_revived() {
        let json = json!([["$BigInt", "12345678901234567890"], ["$Uint8Array", "AAH/"], ["$$x", 1], ["$Set", [1, 2]], ["$Undefined", 0], {"k": [1.5, "s"]}]);
        let bytes = json_to_cbor(&json).unwrap();
        let value: Value = codec::decode(&bytes).unwrap();
        let Value::Array(items) = value else {
            panic!("array")
        };
        assert_eq!(items[0], Value::Integer(12345678901234567890u64.into()));
        assert_eq!(items[1], Value::Bytes(vec![0, 1, 255]));
        assert_eq!(
            items[2],
            Value::Array(vec![Value::Text("$x".into()), Value::Integer(1.into())])
        );
        assert_eq!(
            items[3],
            Value::Array(vec![Value::Integer(1.into()), Value::Integer(2.into())])
        );
        assert_eq!(items[4], Value::Null);
    }

    #[test]
    fn unknown_markers_and_bad_payloads_are_errors() {
        assert!(json_to_cbor(&json!(["$Nope", 1])).is_err());
        assert!(json_to_cbor(&json!(["$BigInt", 5])).is_err());
        assert!(json_to_cbor(&json!(["$BigInt", "1e5"])).is_err());
        assert!(json_to_cbor(&json!(["$Uint8Array", "!!"])).is_err());
    }

    #[test]
    fn huge_bigints_become_bignums_and_come_back() {
        let json = json!(["$BigInt", "-1267650600228229401496703205376"]);
        let bytes = json_to_cbor(&json).unwrap();
        assert_eq!(cbor_to_json(&bytes).unwrap(), json);
        let json = json!(["$BigInt", "99999999999999999999999"]);
        assert_eq!(cbor_to_json(&json_to_cbor(&json).unwrap()).unwrap(), json);
    }

    #[test]
    fn outgoing_json_marks_what_json_cannot_carry() {
        let bytes = cbor(&(
            u64::MAX,
            5u8,
            -3i64,
            serde_bytes_like(),
            ("$tag", 1),
            ("plain", 2),
        ));
        assert_eq!(
            cbor_to_json(&bytes).unwrap(),
            json!([
                ["$BigInt", "18446744073709551615"],
                5,
                -3,
                ["$Uint8Array", "AQI="],
                ["$$tag", 1],
                ["plain", 2]
            ])
        );
    }

    fn serde_bytes_like() -> Value {
        Value::Bytes(vec![1, 2])
    }

    #[test]
    fn cbor_escape_and_revive_are_inverse() {
        let original = cbor(&(("$a", 1), vec![("$$b", 2)], ("c", 3)));
        let escaped = escape_cbor(&original).unwrap();
        assert_ne!(&escaped[..], &original[..]);
        assert_eq!(&revive_cbor(&escaped).unwrap()[..], &original[..]);
        // Nothing to escape: no copy.
        let plain = cbor(&(1, "x", vec![2, 3]));
        assert!(matches!(escape_cbor(&plain).unwrap(), Cow::Borrowed(_)));
        assert!(matches!(revive_cbor(&plain).unwrap(), Cow::Borrowed(_)));
    }

    #[test]
    fn revive_rejects_malformed_cbor() {
        assert!(revive_cbor(&[0x82, 0x01]).is_err());
        assert!(revive_cbor(&[0x01, 0x01]).is_err());
    }
}
