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

use crate::codec::{self, CborError};

/// A value that cannot cross the boundary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CompatError {
    /// Malformed CBOR, or a value that cannot be encoded.
    #[error("{0}")]
    Cbor(#[from] CborError),
    /// A value nested deeper than the converters go.
    #[error("value nested too deeply")]
    TooDeep,
    /// A marker whose payload has the wrong type (`["$BigInt", 5]`).
    #[error("{marker} needs {expected}")]
    MarkerPayload {
        /// The marker, such as `$BigInt`.
        marker: String,
        /// What its payload must be.
        expected: &'static str,
    },
    /// A `$Uint8Array` or `$ArrayBuffer` whose payload is not base64.
    #[error("{marker}: invalid base64: {source}")]
    InvalidBase64 {
        /// The marker.
        marker: String,
        /// Why the payload did not decode.
        source: base64::DecodeError,
    },
    /// A `$BigInt` that is not a decimal integer of at most 128 bits.
    #[error("$BigInt `{text}` is not an integer that fits 128 bits")]
    BigIntOutOfRange {
        /// The payload.
        text: String,
    },
    /// A marker this layer does not know.
    #[error("unknown JSON encoding type `{marker}`")]
    UnknownMarker {
        /// The marker.
        marker: String,
    },
}

/// Encodes `value` as CBOR into a new vector of `capacity`.
fn encode<T: serde::Serialize + ?Sized>(
    value: &T,
    capacity: usize,
) -> Result<Vec<u8>, CompatError> {
    let mut out = Vec::with_capacity(capacity);
    codec::write(value, &mut out).map_err(CborError::from)?;
    Ok(out)
}

/// The largest integer a JavaScript number holds exactly.
const MAX_SAFE_INTEGER: i128 = (1 << 53) - 1;

/// JSON from a JavaScript client to internal CBOR, reviving compat markers.
pub fn json_to_cbor(json: &Json) -> Result<Vec<u8>, CompatError> {
    encode(&json_to_value(json, 0)?, 0)
}

/// Internal CBOR to JSON for a JavaScript client, adding compat markers.
pub fn cbor_to_json(bytes: &[u8]) -> Result<Json, CompatError> {
    Ok(value_to_json(&codec::from_cbor(bytes)?))
}

/// Plain JSON (such as error metadata) to internal CBOR, without interpreting markers.
pub fn plain_json_to_cbor(json: &Json) -> Result<Vec<u8>, CompatError> {
    encode(json, 0)
}

/// Internal CBOR to plain JSON for Rust code (see [`value_to_plain_json`]).
pub fn cbor_to_plain_json(bytes: &[u8]) -> Result<Json, CompatError> {
    Ok(value_to_plain_json(&codec::from_cbor(bytes)?))
}

/// Compat-marked CBOR from a JavaScript client (the BARE encoding) to internal CBOR.
pub fn revive_cbor(bytes: &[u8]) -> Result<Cow<'_, [u8]>, CompatError> {
    codec::check_item(bytes)?;
    if !codec::has_dollar_pair(bytes) {
        return Ok(Cow::Borrowed(bytes));
    }
    let revived = revive_value(codec::from_cbor(bytes)?, 0)?;
    Ok(Cow::Owned(encode(&revived, bytes.len())?))
}

/// Internal CBOR to what a JavaScript client decodes with `decodeCborCompat`: user arrays that
/// look like compat markers get their tag escaped.
pub fn escape_cbor(bytes: &[u8]) -> Result<Cow<'_, [u8]>, CompatError> {
    if !codec::has_dollar_pair(bytes) {
        return Ok(Cow::Borrowed(bytes));
    }
    let escaped = escape_value(codec::from_cbor(bytes)?);
    Ok(Cow::Owned(encode(&escaped, bytes.len() + 8)?))
}

/// Error metadata (plain JSON) as the client's `jsonParseCompat` expects it; `null` if it cannot
/// be converted (nested too deeply).
#[cfg(any(test, feature = "server"))]
pub(super) fn metadata_to_wire_json(metadata: &Json) -> Json {
    plain_json_to_cbor(metadata)
        .and_then(|c| cbor_to_json(&c))
        .unwrap_or(Json::Null)
}

/// Error metadata (plain JSON) as CBOR for the client's `decodeCborCompat`; `None` if it cannot
/// be converted (nested too deeply), so that the error still goes out, without it.
#[cfg(any(test, feature = "server"))]
pub(super) fn metadata_to_wire_cbor(metadata: &Json) -> Option<Vec<u8>> {
    let plain = plain_json_to_cbor(metadata).ok()?;
    let escaped = escape_cbor(&plain).ok()?.into_owned();
    Some(escaped)
}

/// Error metadata received as compat CBOR, as plain JSON.
pub(super) fn metadata_from_wire_cbor(bytes: &[u8]) -> Result<Json, CompatError> {
    cbor_to_plain_json(&revive_cbor(bytes)?)
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
        return Err(CompatError::TooDeep);
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
    let wrong_payload = |expected| CompatError::MarkerPayload {
        marker: tag.to_owned(),
        expected,
    };
    Ok(match tag {
        "$BigInt" => {
            let text = match &payload {
                Value::Text(t) => t.as_str(),
                _ => return Err(wrong_payload("a decimal string")),
            };
            bigint_value(text)?
        }
        "$Uint8Array" | "$ArrayBuffer" => {
            let text = match &payload {
                Value::Text(t) => t.as_str(),
                _ => return Err(wrong_payload("a base64 string")),
            };
            Value::Bytes(
                BASE64
                    .decode(text)
                    .map_err(|source| CompatError::InvalidBase64 {
                        marker: tag.to_owned(),
                        source,
                    })?,
            )
        }
        "$Undefined" => Value::Null,
        "$Set" => match payload {
            Value::Array(items) => revive_items(items, depth)?,
            _ => return Err(wrong_payload("an array")),
        },
        escaped if escaped.starts_with("$$") => {
            Value::Array(vec![Value::Text(escaped[1..].to_owned()), payload])
        }
        unknown => {
            return Err(CompatError::UnknownMarker {
                marker: unknown.to_owned(),
            });
        }
    })
}

/// A decimal integer of any size: a CBOR integer when it fits, else a bignum (tag 2 or 3).
fn bigint_value(text: &str) -> Result<Value, CompatError> {
    let parsed: i128 = text.parse().map_err(|_| CompatError::BigIntOutOfRange {
        text: text.to_owned(),
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
        return Err(CompatError::TooDeep);
    }
    Ok(match value {
        Value::Array(items) => match <[Value; 2]>::try_from(items) {
            Ok([Value::Text(tag), payload]) if tag.starts_with('$') => {
                let payload = revive_value(payload, depth + 1)?;
                revive_marker(&tag, payload, depth)?
            }
            Ok(pair) => revive_items(Vec::from(pair), depth)?,
            Err(items) => revive_items(items, depth)?,
        },
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

/// An array whose elements are revived.
fn revive_items(items: Vec<Value>, depth: usize) -> Result<Value, CompatError> {
    items
        .into_iter()
        .map(|item| revive_value(item, depth + 1))
        .collect::<Result<_, _>>()
        .map(Value::Array)
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

/// The longest object key made from a CBOR key that is not text.
const MAX_KEY_TEXT: usize = 256;

/// JSON object keys are strings: other CBOR keys are written as their JSON text, cut at
/// [`MAX_KEY_TEXT`] characters. Uncut, maps used as keys of maps used as keys would double in
/// size at each level (every quote escaped again): 800 bytes of CBOR held 2 GB (found by
/// fuzzing, `fuzz/corpus/ws_to_client/oom-*`).
fn json_key(key: &Value) -> String {
    match key {
        Value::Text(s) => s.clone(),
        other => value_to_json(other)
            .to_string()
            .chars()
            .take(MAX_KEY_TEXT)
            .collect(),
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
        assert_eq!(
            json_to_cbor(&json!(["$Nope", 1])),
            Err(CompatError::UnknownMarker {
                marker: "$Nope".into()
            })
        );
        let not_text = json_to_cbor(&json!(["$BigInt", 5])).unwrap_err();
        assert_eq!(not_text.to_string(), "$BigInt needs a decimal string");
        assert_eq!(
            json_to_cbor(&json!(["$BigInt", "1e5"])),
            Err(CompatError::BigIntOutOfRange { text: "1e5".into() })
        );
        assert!(matches!(
            json_to_cbor(&json!(["$Uint8Array", "!!"])),
            Err(CompatError::InvalidBase64 { marker, .. }) if marker == "$Uint8Array"
        ));
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
    fn maps_nested_as_keys_stay_small_as_json() {
        let mut key = Value::Text("\"".to_owned());
        for _ in 0..64 {
            key = Value::Map(vec![(key, Value::Null)]);
        }
        let json = value_to_plain_json(&Value::Map(vec![(key, Value::Null)]));
        assert!(json.to_string().len() < 4 * MAX_KEY_TEXT, "{json}");
    }

    #[test]
    fn revive_rejects_malformed_cbor() {
        assert_eq!(
            revive_cbor(&[0x82, 0x01]),
            Err(CompatError::Cbor(CborError::Truncated))
        );
        assert_eq!(
            revive_cbor(&[0x01, 0x01]),
            Err(CompatError::Cbor(CborError::TrailingBytes))
        );
    }
}
