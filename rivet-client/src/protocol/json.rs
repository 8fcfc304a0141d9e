//! JSON messages: named fields rendered as JSON with compat markers, and read back from JSON
//! objects.

use bytes::Bytes;
use serde_json::{Map, Value as Json};

use super::compat;
use super::error::{Expected, ProtocolError, invalid};
use super::fields::{Field, Fields, Object, key};

/// Parses a JSON message or body.
pub(super) fn parse(bytes: &[u8]) -> Result<Json, ProtocolError> {
    serde_json::from_slice(bytes).map_err(|e| ProtocolError::InvalidJson {
        reason: e.to_string(),
    })
}

/// The JSON object of `fields`.
pub(super) fn object(fields: &Object<'_>) -> Result<Json, ProtocolError> {
    let mut map = Map::new();
    for (name, field) in fields {
        let value = match *field {
            Field::Absent => continue,
            #[cfg(any(test, feature = "server"))]
            Field::Null => Json::Null,
            Field::Text(text) => Json::String(text.to_owned()),
            Field::Bool(b) => Json::Bool(b),
            Field::Id(id) => Json::Array(vec![
                Json::String("$BigInt".to_owned()),
                Json::String(id.to_string()),
            ]),
            Field::Uint(n) => Json::from(n),
            Field::Payload(bytes) => compat::cbor_to_json(bytes)?,
            #[cfg(any(test, feature = "server"))]
            Field::Metadata(metadata) => compat::metadata_to_wire_json(metadata),
            Field::Object(nested) => object(nested)?,
        };
        map.insert((*name).to_owned(), value);
    }
    Ok(Json::Object(map))
}

/// A value from a JavaScript client or server, as internal CBOR.
fn internal(json: &Json) -> Result<Bytes, ProtocolError> {
    Ok(Bytes::from(compat::json_to_cbor(json)?))
}

/// The fields of a JSON object.
#[derive(Debug, Clone, Copy)]
pub(super) struct JsonFields<'a>(&'a Map<String, Json>);

impl<'a> JsonFields<'a> {
    /// The fields of a message or body, which must be an object (`what` names it in errors).
    pub(super) fn root(json: &'a Json, what: &'static str) -> Result<Self, ProtocolError> {
        json.as_object()
            .map(Self)
            .ok_or_else(|| invalid(what, Expected::Object))
    }

    fn get(&self, field: &'static str) -> Option<&'a Json> {
        self.0.get(key(field))
    }

    /// The field, treating `null` as absent.
    fn get_non_null(&self, field: &'static str) -> Option<&'a Json> {
        self.get(field).filter(|v| !v.is_null())
    }
}

impl<'a> Fields<'a> for JsonFields<'a> {
    fn object(&self, field: &'static str) -> Result<Self, ProtocolError> {
        self.get(field)
            .and_then(Json::as_object)
            .map(Self)
            .ok_or_else(|| invalid(field, Expected::Object))
    }

    fn text(&self, field: &'static str) -> Result<&'a str, ProtocolError> {
        self.get(field)
            .and_then(Json::as_str)
            .ok_or_else(|| invalid(field, Expected::String))
    }

    fn uint(&self, field: &'static str) -> Result<u64, ProtocolError> {
        match self.get(field) {
            Some(Json::Array(items)) => match items.as_slice() {
                [Json::String(tag), Json::String(n)] if tag == "$BigInt" => n
                    .parse()
                    .map_err(|_| invalid(field, Expected::NonNegativeInteger)),
                _ => Err(invalid(field, Expected::BigInt)),
            },
            Some(Json::Number(n)) => n
                .as_u64()
                .ok_or_else(|| invalid(field, Expected::NonNegativeInteger)),
            _ => Err(invalid(field, Expected::Integer)),
        }
    }

    fn opt_uint(&self, field: &'static str) -> Result<Option<u64>, ProtocolError> {
        self.get_non_null(field)
            .map(|_| self.uint(field))
            .transpose()
    }

    #[cfg(any(test, feature = "server"))]
    fn bool(&self, field: &'static str) -> Result<bool, ProtocolError> {
        self.get(field)
            .and_then(Json::as_bool)
            .ok_or_else(|| invalid(field, Expected::Boolean))
    }

    fn payload(&self, field: &'static str) -> Result<Bytes, ProtocolError> {
        internal(self.get(field).unwrap_or(&Json::Null))
    }

    fn opt_payload(&self, field: &'static str) -> Result<Option<Bytes>, ProtocolError> {
        self.get(field).map(internal).transpose()
    }

    fn metadata(&self, field: &'static str) -> Result<Option<Json>, ProtocolError> {
        self.get_non_null(field)
            .map(|m| Ok(compat::cbor_to_plain_json(&compat::json_to_cbor(m)?)?))
            .transpose()
    }

    #[cfg(any(test, feature = "server"))]
    fn args(&self, field: &'static str) -> Result<Bytes, ProtocolError> {
        match self.get(field) {
            Some(array @ Json::Array(_)) => internal(array),
            None | Some(Json::Null) => internal(&Json::Array(Vec::new())),
            Some(other) => internal(&Json::Array(vec![other.clone()])),
        }
    }

    #[cfg(any(test, feature = "server"))]
    fn opt_text(&self, field: &'static str) -> Option<&'a str> {
        self.get(field).and_then(Json::as_str)
    }

    #[cfg(any(test, feature = "server"))]
    fn flag(&self, field: &'static str) -> bool {
        self.get(field).and_then(Json::as_bool).unwrap_or(false)
    }

    #[cfg(any(test, feature = "server"))]
    fn opt_count(&self, field: &'static str) -> Result<Option<u64>, ProtocolError> {
        match self.get_non_null(field) {
            None => Ok(None),
            Some(Json::Number(n)) => n
                .as_u64()
                .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
                .map(Some)
                .ok_or_else(|| invalid(field, Expected::NonNegativeNumber)),
            Some(_) => Err(invalid(field, Expected::Number)),
        }
    }
}
