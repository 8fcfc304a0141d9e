//! What a client's request carries besides its body: the encoding of its HTTP bodies
//! (`x-rivet-encoding`), its connection parameters (the `x-rivet-conn-params` header, or a
//! WebSocket subprotocol), its bearer token, and the request a connection's hooks see.

use bytes::Bytes;
use http::HeaderMap;
use rivet_client::protocol::{self, Encoding};
use rivet_client::{ActorError, codes};

/// The header that chooses the encoding of HTTP bodies (json when absent).
const HEADER_ENCODING: &str = "x-rivet-encoding";

/// The header with connection parameters (a JSON string) for HTTP actions.
pub(super) const HEADER_CONN_PARAMS: &str = "x-rivet-conn-params";

/// The request an actor's hooks see: as `cx.request()` in a connection's hooks, and with a raw
/// WebSocket's `Open`. Its method, its URI (the path after the actor's gateway prefix, with the
/// query) and its headers, without the body.
pub(super) fn hook_request(
    method: &http::Method,
    uri: &str,
    headers: &HeaderMap,
) -> Option<Box<http::Request<()>>> {
    let mut request = http::Request::builder()
        .method(method.clone())
        .uri(uri)
        .body(())
        .ok()?;
    *request.headers_mut() = headers.clone();
    Some(Box::new(request))
}

/// The token of `Authorization: Bearer <token>`, if the request has one.
pub(super) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// The encoding of an HTTP request (json when absent).
pub(super) fn request_encoding(headers: &HeaderMap) -> Result<Encoding, ActorError> {
    match headers
        .get(HEADER_ENCODING)
        .map(|v| v.to_str().unwrap_or(""))
    {
        None => Ok(Encoding::Json),
        Some(value) => Encoding::parse(value).ok_or_else(|| {
            codes::UNSUPPORTED_ENCODING.with_message(format!(
                "Unsupported encoding `{value}`; expected json, cbor or bare."
            ))
        }),
    }
}

/// Connection parameters given as a JSON string (header or subprotocol), as CBOR.
pub(crate) fn params_from_json(text: &str) -> Result<Bytes, ActorError> {
    let json: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        codes::INVALID_REQUEST
            .with_message(format!("Connection parameters are not valid JSON: {e}"))
    })?;
    protocol::compat::plain_json_to_cbor(&json)
        .map(Bytes::from)
        .map_err(|e| {
            codes::INVALID_REQUEST.with_message(format!("Invalid connection parameters: {e}"))
        })
}
