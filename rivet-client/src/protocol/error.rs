//! [`ProtocolError`]: why a message or body could not be decoded or encoded.

use std::fmt;

use super::bare::BareError;
use super::compat::CompatError;
use crate::codec::CborError;

/// A malformed message, or one this side cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A JSON message or body that does not parse.
    #[error("invalid JSON: {reason}")]
    InvalidJson {
        /// What the JSON parser reported.
        reason: String,
    },
    /// A required field that is absent.
    #[error("{field} is missing")]
    MissingField {
        /// The field's path, such as `body.val`.
        field: &'static str,
    },
    /// A field (or the message itself) of the wrong type or out of range.
    #[error("{field} must be {expected}")]
    InvalidField {
        /// The field's path, such as `id` or `request body`.
        field: &'static str,
        /// What it must be.
        expected: Expected,
    },
    /// A JSON or CBOR message whose `body.tag` names no message this side reads.
    #[error("unknown message `{tag}`")]
    UnknownMessage {
        /// The tag.
        tag: String,
    },
    /// A BARE message whose union tag names no message this side reads.
    #[error("unknown message tag {tag}")]
    UnknownTag {
        /// The tag.
        tag: u64,
    },
    /// A BARE message of a protocol version outside
    /// [`MIN_PROTOCOL_VERSION`](super::MIN_PROTOCOL_VERSION)..=[`PROTOCOL_VERSION`](super::PROTOCOL_VERSION).
    #[error("unsupported client protocol version {version}")]
    UnsupportedVersion {
        /// The version the message carries.
        version: u16,
    },
    /// A BARE message that does not decode.
    #[error("{0}")]
    Bare(#[from] BareError),
    /// A payload that cannot cross the JSON-compat boundary.
    #[error("{0}")]
    Compat(#[from] CompatError),
    /// Malformed CBOR, or a value that cannot be encoded as CBOR.
    #[error("{0}")]
    Cbor(#[from] CborError),
}

/// What a field must be, in a [`ProtocolError::InvalidField`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Expected {
    /// A JSON object.
    Object,
    /// A CBOR map.
    Map,
    /// A string.
    String,
    /// A boolean.
    Boolean,
    /// An integer.
    Integer,
    /// An integer that is not negative.
    NonNegativeInteger,
    /// An unsigned integer of at most 64 bits.
    U64,
    /// A `["$BigInt", "..."]` marker.
    BigInt,
    /// A number.
    Number,
    /// A number that is not negative.
    NonNegativeNumber,
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Object => "an object",
            Self::Map => "a map",
            Self::String => "a string",
            Self::Boolean => "a boolean",
            Self::Integer => "an integer",
            Self::NonNegativeInteger => "a non-negative integer",
            Self::U64 => "an integer of at most 64 bits",
            Self::BigInt => "a BigInt",
            Self::Number => "a number",
            Self::NonNegativeNumber => "a non-negative number",
        })
    }
}

/// The error for `field`, which is not what it must be.
pub(super) fn invalid(field: &'static str, expected: Expected) -> ProtocolError {
    ProtocolError::InvalidField { field, expected }
}
