//! Messages as named fields. JSON and CBOR carry the same objects, so each message is described
//! once, as the fields it writes ([`Field`]) and reads ([`Fields`]); `json.rs` and `cbor.rs`
//! render and parse them. (BARE messages are positional and written by hand.)

use bytes::Bytes;
use serde_json::Value as Json;

use super::cbor::{self, CborFields};
use super::error::ProtocolError;
use super::json::{self, JsonFields};
use super::{Encoding, Frame};

/// Who sends a message. A server compat-escapes the CBOR payloads it sends (the official client
/// revives them); a client sends CBOR payloads as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sender {
    /// A client: payloads as they are.
    Client,
    /// A server: payloads compat-escaped.
    Server,
}

/// The value of a field to write.
#[derive(Debug, Clone, Copy)]
pub(super) enum Field<'a> {
    /// Left out of the object.
    Absent,
    /// `null`.
    #[cfg(any(test, feature = "server"))]
    Null,
    /// A string.
    Text(&'a str),
    /// A boolean.
    Bool(bool),
    /// An id: a `$BigInt` in JSON and a 64-bit integer in CBOR, which cbor-x decodes as a
    /// BigInt, as the client's schemas require.
    Id(u64),
    /// A plain unsigned number.
    Uint(u64),
    /// A value, as internal CBOR.
    Payload(&'a [u8]),
    /// Error metadata; metadata that cannot be converted is written as `null`.
    #[cfg(any(test, feature = "server"))]
    Metadata(&'a Json),
    /// A nested object.
    Object(&'a Object<'a>),
}

/// The fields of an object, by name.
pub(super) type Object<'a> = [(&'static str, Field<'a>)];

/// Reads the fields of a JSON object or a CBOR map.
///
/// `field` is the field's path from the message root, such as `body.val`: its last segment is
/// the key, and errors name the whole path.
pub(super) trait Fields<'a> {
    /// A nested object.
    fn object(&self, field: &'static str) -> Result<Self, ProtocolError>
    where
        Self: Sized;
    /// A string.
    fn text(&self, field: &'static str) -> Result<&'a str, ProtocolError>;
    /// An unsigned integer (ids: `$BigInt` in JSON, any integer in CBOR).
    fn uint(&self, field: &'static str) -> Result<u64, ProtocolError>;
    /// An unsigned integer, or `None` when absent or `null`.
    fn opt_uint(&self, field: &'static str) -> Result<Option<u64>, ProtocolError>;
    /// A boolean.
    #[cfg(any(test, feature = "server"))]
    fn bool(&self, field: &'static str) -> Result<bool, ProtocolError>;
    /// A value as internal CBOR; absent is `null`.
    fn payload(&self, field: &'static str) -> Result<Bytes, ProtocolError>;
    /// A value as internal CBOR, or `None` when absent.
    fn opt_payload(&self, field: &'static str) -> Result<Option<Bytes>, ProtocolError>;
    /// Error metadata as plain JSON, or `None` when absent or `null`.
    fn metadata(&self, field: &'static str) -> Result<Option<Json>, ProtocolError>;
    /// Action arguments as an internal CBOR array, normalized as RivetKit does: an array stays,
    /// `null` (or nothing) is no arguments, any other value is one argument.
    #[cfg(any(test, feature = "server"))]
    fn args(&self, field: &'static str) -> Result<Bytes, ProtocolError>;
    /// A string, or `None` when absent or of another type.
    #[cfg(any(test, feature = "server"))]
    fn opt_text(&self, field: &'static str) -> Option<&'a str>;
    /// Whether the field is `true` (absent or another type is `false`).
    #[cfg(any(test, feature = "server"))]
    fn flag(&self, field: &'static str) -> bool;
    /// A non-negative number, fractions dropped, or `None` when absent or `null`.
    #[cfg(any(test, feature = "server"))]
    fn opt_count(&self, field: &'static str) -> Result<Option<u64>, ProtocolError>;
}

/// The key of a field path (its last segment).
pub(super) fn key(field: &'static str) -> &'static str {
    field.rsplit('.').next().unwrap_or(field)
}

/// The encodings whose messages are objects of named fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Named {
    /// JSON objects.
    Json,
    /// CBOR maps.
    Cbor,
}

impl Named {
    /// The named-field form of `encoding`; `None` for BARE, whose fields are positional.
    pub(super) fn of(encoding: Encoding) -> Option<Self> {
        match encoding {
            Encoding::Json => Some(Self::Json),
            Encoding::Cbor => Some(Self::Cbor),
            Encoding::Bare => None,
        }
    }

    /// An HTTP body: the object `fields`.
    pub(super) fn body(
        self,
        fields: &Object<'_>,
        sender: Sender,
    ) -> Result<Vec<u8>, ProtocolError> {
        match self {
            Self::Json => Ok(json::object(fields)?.to_string().into_bytes()),
            Self::Cbor => cbor::object(fields, sender),
        }
    }

    /// A WebSocket message: `{body: {tag, val}}`, JSON in a text frame, CBOR in a binary one.
    pub(super) fn message(
        self,
        tag: &str,
        val: &Object<'_>,
        sender: Sender,
    ) -> Result<Frame, ProtocolError> {
        let body = [("tag", Field::Text(tag)), ("val", Field::Object(val))];
        let message = [("body", Field::Object(&body))];
        match self {
            Self::Json => Ok(Frame::Text(json::object(&message)?.to_string())),
            Self::Cbor => Ok(Frame::Binary(cbor::object(&message, sender)?)),
        }
    }

    /// Reads an HTTP body, which must be an object (`what` names it in errors).
    pub(super) fn read<T>(
        self,
        bytes: &[u8],
        what: &'static str,
        sender: Sender,
        read: impl FnOnce(&dyn Fields<'_>) -> Result<T, ProtocolError>,
    ) -> Result<T, ProtocolError> {
        match self {
            Self::Json => read(&JsonFields::root(&json::parse(bytes)?, what)?),
            Self::Cbor => read(&CborFields::root(&cbor::parse(bytes)?, what, sender)?),
        }
    }

    /// Reads a WebSocket message: hands its `body.tag` and `body.val` to `read`.
    pub(super) fn read_message<T>(
        self,
        bytes: &[u8],
        sender: Sender,
        read: impl FnOnce(&str, &dyn Fields<'_>) -> Result<T, ProtocolError>,
    ) -> Result<T, ProtocolError> {
        match self {
            Self::Json => {
                let json = json::parse(bytes)?;
                let (tag, val) = envelope(&JsonFields::root(&json, "message")?)?;
                read(tag, &val)
            }
            Self::Cbor => {
                let value = cbor::parse(bytes)?;
                let (tag, val) = envelope(&CborFields::root(&value, "message", sender)?)?;
                read(tag, &val)
            }
        }
    }
}

/// The tag and the fields of a `{body: {tag, val}}` message.
fn envelope<'a, F: Fields<'a>>(message: &F) -> Result<(&'a str, F), ProtocolError> {
    let body = message.object("body")?;
    Ok((body.text("body.tag")?, body.object("body.val")?))
}
