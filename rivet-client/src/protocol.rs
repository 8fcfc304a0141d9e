//! The RivetKit client protocol: WebSocket messages and HTTP bodies in the json, cbor and bare
//! encodings, both directions, as the official JavaScript client speaks them (client protocol
//! v4; v3 over HTTP for rivetkit 2.2.x).
//!
//! Payloads (`args`, `output`, event arguments, queue bodies) are internal CBOR in the types
//! here; [`compat`] converts them at the boundary. Decoders never panic: anything malformed is a
//! [`ProtocolError`].
//!
//! A client needs half of the protocol: encoding [`ToServer`] and HTTP requests, decoding
//! [`ToClient`], HTTP responses and errors. The other half (encoding [`ToClient`], decoding
//! [`ToServer`] and HTTP requests, encoding HTTP responses and errors) is compiled with the
//! `server` feature.

use std::borrow::Cow;

use bytes::Bytes;

use crate::codec;

mod actor_error;
pub mod bare;
mod cbor;
pub mod compat;
mod error;
mod fields;
mod http;
mod json;
mod ws;

pub use error::{Expected, ProtocolError};
pub use http::{
    HttpActionRequest, HttpQueueRequest, HttpQueueResponse, decode_http_action_response,
    decode_http_error,
};
#[cfg(any(test, feature = "server"))]
pub use http::{encode_http_action_response, encode_http_error};
#[cfg(any(test, feature = "server"))]
pub use ws::WS_BARE_VERSION;
pub use ws::{Frame, ToClient, ToServer};

use bare::Reader;

/// The client protocol version this crate speaks.
pub const PROTOCOL_VERSION: u16 = 4;
/// The oldest version accepted over HTTP (rivetkit 2.1 and 2.2 clients).
pub const MIN_PROTOCOL_VERSION: u16 = 3;

/// How messages are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Encoding {
    /// JSON with RivetKit's compat markers (text WebSocket frames).
    #[default]
    Json,
    /// CBOR maps shaped like the JSON messages.
    Cbor,
    /// BARE with a version prefix and CBOR payloads.
    Bare,
}

impl Encoding {
    /// Parses `json`, `cbor` or `bare`.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "json" => Some(Self::Json),
            "cbor" => Some(Self::Cbor),
            "bare" => Some(Self::Bare),
            _ => None,
        }
    }

    /// The name used in headers and subprotocols.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Cbor => "cbor",
            Self::Bare => "bare",
        }
    }

    /// The HTTP content type of bodies in this encoding.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json",
            Self::Cbor | Self::Bare => "application/octet-stream",
        }
    }
}

/// Reads a versioned BARE message of a version this crate reads: `read` gets the reader after
/// the version prefix and the version, and must read the message to its end.
fn read_bare<T>(
    bytes: &[u8],
    read: impl FnOnce(&mut Reader<'_>, u16) -> Result<T, ProtocolError>,
) -> Result<T, ProtocolError> {
    let (version, mut r) = Reader::versioned(bytes)?;
    if !(MIN_PROTOCOL_VERSION..=PROTOCOL_VERSION).contains(&version) {
        return Err(ProtocolError::UnsupportedVersion { version });
    }
    let value = read(&mut r, version)?;
    r.end()?;
    Ok(value)
}

/// A BARE payload received in a message of `version`: rivetkit 2.3 (v4) compat-encodes values
/// inside the CBOR, 2.2 (v3) sends plain CBOR.
fn bare_in(bytes: &[u8], version: u16) -> Result<Bytes, ProtocolError> {
    if version >= 4 {
        Ok(Bytes::from(compat::revive_cbor(bytes)?.into_owned()))
    } else {
        codec::check_item(bytes)?;
        Ok(Bytes::copy_from_slice(bytes))
    }
}

/// A BARE payload for a message of `version` (see [`bare_in`]).
fn bare_out(bytes: &[u8], version: u16) -> Result<Cow<'_, [u8]>, ProtocolError> {
    if version >= 4 {
        Ok(compat::escape_cbor(bytes)?)
    } else {
        Ok(Cow::Borrowed(bytes))
    }
}

#[cfg(test)]
mod tests;
