//! CBOR messages: named fields written as CBOR maps (payloads spliced in as they are encoded),
//! and read back from decoded maps.

use bytes::Bytes;
use ciborium::Value;
use serde_json::Value as Json;

use super::compat;
use super::error::{Expected, ProtocolError, invalid};
use super::fields::{Field, Fields, Object, Sender, key};
use crate::codec;

/// Decodes a CBOR message or body, checking its structure first.
pub(super) fn parse(bytes: &[u8]) -> Result<Value, ProtocolError> {
    codec::check_item(bytes)?;
    Ok(codec::from_cbor(bytes)?)
}

/// The CBOR map of `fields`; payloads are escaped when a server sends them.
pub(super) fn object(fields: &Object<'_>, sender: Sender) -> Result<Vec<u8>, ProtocolError> {
    let mut out = Vec::with_capacity(64);
    write_object(&mut out, fields, sender)?;
    Ok(out)
}

fn write_object(
    out: &mut Vec<u8>,
    fields: &Object<'_>,
    sender: Sender,
) -> Result<(), ProtocolError> {
    let present = fields
        .iter()
        .filter(|(_, f)| !matches!(f, Field::Absent))
        .count();
    codec::write_head(out, 5, present as u64);
    for (name, field) in fields {
        if matches!(field, Field::Absent) {
            continue;
        }
        write_text(out, name);
        match *field {
            Field::Absent => {}
            #[cfg(any(test, feature = "server"))]
            Field::Null => out.push(0xf6),
            Field::Text(text) => write_text(out, text),
            Field::Bool(b) => out.push(if b { 0xf5 } else { 0xf4 }),
            Field::Id(id) => {
                out.push(0x1b);
                out.extend_from_slice(&id.to_be_bytes());
            }
            Field::Uint(n) => codec::write_head(out, 0, n),
            Field::Payload(bytes) if sender == Sender::Server => {
                out.extend_from_slice(&compat::escape_cbor(bytes)?);
            }
            Field::Payload(bytes) => out.extend_from_slice(bytes),
            #[cfg(any(test, feature = "server"))]
            Field::Metadata(metadata) => match compat::metadata_to_wire_cbor(metadata) {
                Some(bytes) => out.extend_from_slice(&bytes),
                None => out.push(0xf6),
            },
            Field::Object(nested) => write_object(out, nested, sender)?,
        }
    }
    Ok(())
}

fn write_text(out: &mut Vec<u8>, s: &str) {
    codec::write_head(out, 3, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn encode_value(value: &Value) -> Result<Bytes, ProtocolError> {
    Ok(codec::encode(value).map_err(codec::CborError::from)?)
}

/// The entries of a CBOR map.
type CborMap = [(Value, Value)];

/// The fields of a CBOR map, with who sent it (a server's payloads are compat-escaped).
#[derive(Debug, Clone, Copy)]
pub(super) struct CborFields<'a> {
    map: &'a CborMap,
    sender: Sender,
}

impl<'a> CborFields<'a> {
    /// The fields of a message or body, which must be a map (`what` names it in errors).
    pub(super) fn root(
        value: &'a Value,
        what: &'static str,
        sender: Sender,
    ) -> Result<Self, ProtocolError> {
        match value {
            Value::Map(map) => Ok(Self { map, sender }),
            _ => Err(invalid(what, Expected::Map)),
        }
    }

    fn get(&self, field: &'static str) -> Option<&'a Value> {
        let key = key(field);
        self.map
            .iter()
            .find(|(k, _)| matches!(k, Value::Text(t) if t == key))
            .map(|(_, v)| v)
    }

    /// The field, treating `null` as absent.
    fn get_non_null(&self, field: &'static str) -> Option<&'a Value> {
        self.get(field).filter(|v| !v.is_null())
    }

    /// A value as internal CBOR, revived if a server sent it.
    fn internal(&self, value: &Value) -> Result<Bytes, ProtocolError> {
        let bytes = encode_value(value)?;
        match self.sender {
            Sender::Client => Ok(bytes),
            Sender::Server => Ok(Bytes::from(compat::revive_cbor(&bytes)?.into_owned())),
        }
    }
}

impl<'a> Fields<'a> for CborFields<'a> {
    fn object(&self, field: &'static str) -> Result<Self, ProtocolError> {
        match self.get(field) {
            Some(Value::Map(map)) => Ok(Self {
                map,
                sender: self.sender,
            }),
            Some(_) => Err(invalid(field, Expected::Map)),
            None => Err(ProtocolError::MissingField { field }),
        }
    }

    fn text(&self, field: &'static str) -> Result<&'a str, ProtocolError> {
        match self.get(field) {
            Some(Value::Text(t)) => Ok(t),
            _ => Err(invalid(field, Expected::String)),
        }
    }

    fn uint(&self, field: &'static str) -> Result<u64, ProtocolError> {
        match self.get(field) {
            Some(Value::Integer(i)) => {
                u64::try_from(*i).map_err(|_| invalid(field, Expected::NonNegativeInteger))
            }
            // cbor-x writes BigInts beyond 64 bits as bignums; one of up to 8 bytes still fits.
            Some(Value::Tag(2, inner)) => match &**inner {
                Value::Bytes(b) if b.len() <= 8 => {
                    Ok(b.iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x)))
                }
                _ => Err(invalid(field, Expected::U64)),
            },
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
        match self.get(field) {
            Some(Value::Bool(b)) => Ok(*b),
            _ => Err(invalid(field, Expected::Boolean)),
        }
    }

    fn payload(&self, field: &'static str) -> Result<Bytes, ProtocolError> {
        self.internal(self.get(field).unwrap_or(&Value::Null))
    }

    fn opt_payload(&self, field: &'static str) -> Result<Option<Bytes>, ProtocolError> {
        self.get(field).map(|v| self.internal(v)).transpose()
    }

    fn metadata(&self, field: &'static str) -> Result<Option<Json>, ProtocolError> {
        self.get_non_null(field)
            .map(|v| Ok(compat::metadata_from_wire_cbor(&encode_value(v)?)?))
            .transpose()
    }

    #[cfg(any(test, feature = "server"))]
    fn args(&self, field: &'static str) -> Result<Bytes, ProtocolError> {
        match self.get(field) {
            Some(array @ Value::Array(_)) => self.internal(array),
            None | Some(Value::Null) => self.internal(&Value::Array(Vec::new())),
            Some(other) => self.internal(&Value::Array(vec![other.clone()])),
        }
    }

    #[cfg(any(test, feature = "server"))]
    fn opt_text(&self, field: &'static str) -> Option<&'a str> {
        match self.get(field) {
            Some(Value::Text(t)) => Some(t),
            _ => None,
        }
    }

    #[cfg(any(test, feature = "server"))]
    fn flag(&self, field: &'static str) -> bool {
        matches!(self.get(field), Some(Value::Bool(true)))
    }

    #[cfg(any(test, feature = "server"))]
    fn opt_count(&self, field: &'static str) -> Result<Option<u64>, ProtocolError> {
        match self.get_non_null(field) {
            None => Ok(None),
            Some(Value::Float(f)) if *f >= 0.0 => Ok(Some(*f as u64)),
            Some(Value::Float(_)) => Err(invalid(field, Expected::NonNegativeNumber)),
            Some(_) => self.uint(field).map(Some),
        }
    }
}
