//! HTTP bodies: action requests and responses, queue sends and their outcomes, error bodies.
//! The client's half (encoding requests, decoding responses and errors) is always compiled; the
//! server's half with the `server` feature.

use bytes::Bytes;

use super::bare::{Reader, Writer};
use super::error::ProtocolError;
use super::fields::{Field, Named, Sender};
use super::{Encoding, PROTOCOL_VERSION, actor_error, bare_in, bare_out, read_bare};
use crate::error::ActorError;

#[cfg(any(test, feature = "server"))]
pub use server::{encode_http_action_response, encode_http_error};

/// The request body of `POST /action/{name}`, decoded: internal CBOR args and the protocol
/// version to answer in (BARE only; JSON and CBOR carry none).
#[derive(Debug, Clone, PartialEq)]
pub struct HttpActionRequest {
    /// The arguments, an internal CBOR array.
    pub args: Bytes,
    /// The client protocol version of the request.
    pub version: u16,
}

impl HttpActionRequest {
    /// Encodes a request body (client side).
    pub fn encode(args: &[u8], encoding: Encoding) -> Result<Vec<u8>, ProtocolError> {
        match Named::of(encoding) {
            Some(named) => named.body(&[("args", Field::Payload(args))], Sender::Client),
            None => {
                let mut w = Writer::versioned(PROTOCOL_VERSION);
                w.data(&bare_out(args, PROTOCOL_VERSION)?);
                Ok(w.finish())
            }
        }
    }
}

/// Decodes the response body of a successful action (client side) to internal CBOR.
pub fn decode_http_action_response(
    body: &[u8],
    encoding: Encoding,
) -> Result<Bytes, ProtocolError> {
    match Named::of(encoding) {
        Some(named) => named.read(body, "response body", Sender::Server, |f| {
            f.payload("output")
        }),
        None => read_bare(body, |r, version| bare_in(r.data()?, version)),
    }
}

/// The request body of `POST /queue/{name}`.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpQueueRequest {
    /// The message body, internal CBOR.
    pub body: Bytes,
    /// The queue name, when given in the body (rivetkit 2.2 `POST /queue`).
    pub name: Option<String>,
    /// Whether to wait for the message's completion.
    pub wait: bool,
    /// How long to wait, in milliseconds.
    pub timeout_ms: Option<u64>,
    /// The client protocol version of the request.
    pub version: u16,
}

impl HttpQueueRequest {
    /// Encodes a request body (client side).
    pub fn encode(&self, encoding: Encoding) -> Result<Vec<u8>, ProtocolError> {
        match Named::of(encoding) {
            Some(named) => named.body(
                &[
                    ("body", Field::Payload(&self.body)),
                    (
                        "name",
                        self.name.as_deref().map_or(Field::Absent, Field::Text),
                    ),
                    ("wait", Field::Bool(self.wait)),
                    (
                        "timeout",
                        self.timeout_ms.map_or(Field::Absent, Field::Uint),
                    ),
                ],
                Sender::Client,
            ),
            None => {
                let mut w = Writer::versioned(PROTOCOL_VERSION);
                w.data(&bare_out(&self.body, PROTOCOL_VERSION)?)
                    .optional(self.name.as_deref(), |w, n| {
                        w.str(n);
                    })
                    .optional(Some(self.wait), |w, b| {
                        w.bool(b);
                    })
                    .optional(self.timeout_ms, |w, t| {
                        w.u64(t);
                    });
                Ok(w.finish())
            }
        }
    }
}

/// The outcome of a queue send over HTTP.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpQueueResponse {
    /// `completed` or `timedOut`.
    pub status: String,
    /// The completion value, internal CBOR.
    pub response: Option<Bytes>,
}

impl HttpQueueResponse {
    /// Decodes a response body (client side).
    pub fn decode(body: &[u8], encoding: Encoding) -> Result<Self, ProtocolError> {
        match Named::of(encoding) {
            Some(named) => named.read(body, "response body", Sender::Server, |f| {
                Ok(Self {
                    status: f.text("status")?.to_owned(),
                    response: f.opt_payload("response")?,
                })
            }),
            None => read_bare(body, |r, version| {
                Ok(Self {
                    status: r.str()?.to_owned(),
                    response: r
                        .optional(Reader::data)?
                        .map(|d| bare_in(d, version))
                        .transpose()?,
                })
            }),
        }
    }
}

/// Decodes an HTTP error body (client side).
pub fn decode_http_error(body: &[u8], encoding: Encoding) -> Result<ActorError, ProtocolError> {
    match Named::of(encoding) {
        Some(named) => named.read(body, "error body", Sender::Server, actor_error::read),
        None => read_bare(body, |r, version| {
            let error = actor_error::read_bare(r)?;
            actor_error::skip_bare_actor(r, version)?;
            Ok(error)
        }),
    }
}

/// The server's half: decoding requests, encoding responses and errors.
#[cfg(any(test, feature = "server"))]
mod server {
    use super::super::{MIN_PROTOCOL_VERSION, PROTOCOL_VERSION};
    use super::{
        ActorError, Encoding, Field, HttpActionRequest, HttpQueueRequest, HttpQueueResponse, Named,
        ProtocolError, Reader, Sender, Writer, actor_error, bare_in, bare_out, read_bare,
    };

    impl HttpActionRequest {
        /// Decodes a request body. JSON and CBOR `args` are normalized as RivetKit does: an
        /// array stays, `null` is no arguments, any other value is one argument.
        pub fn decode(body: &[u8], encoding: Encoding) -> Result<Self, ProtocolError> {
            match Named::of(encoding) {
                Some(named) => named.read(body, "request body", Sender::Client, |f| {
                    Ok(Self {
                        args: f.args("args")?,
                        version: PROTOCOL_VERSION,
                    })
                }),
                None => read_bare(body, |r, version| {
                    Ok(Self {
                        args: bare_in(r.data()?, version)?,
                        version,
                    })
                }),
            }
        }
    }

    /// Encodes the response body of a successful action (server side).
    pub fn encode_http_action_response(
        output: &[u8],
        encoding: Encoding,
        version: u16,
    ) -> Result<Vec<u8>, ProtocolError> {
        match Named::of(encoding) {
            Some(named) => named.body(&[("output", Field::Payload(output))], Sender::Server),
            None => {
                let mut w = Writer::versioned(version);
                w.data(&bare_out(output, version)?);
                Ok(w.finish())
            }
        }
    }

    impl HttpQueueRequest {
        /// Decodes a request body.
        pub fn decode(body: &[u8], encoding: Encoding) -> Result<Self, ProtocolError> {
            match Named::of(encoding) {
                Some(named) => named.read(body, "request body", Sender::Client, |f| {
                    Ok(Self {
                        body: f.payload("body")?,
                        name: f.opt_text("name").map(str::to_owned),
                        wait: f.flag("wait"),
                        timeout_ms: f.opt_count("timeout")?,
                        version: PROTOCOL_VERSION,
                    })
                }),
                None => read_bare(body, |r, version| {
                    Ok(Self {
                        body: bare_in(r.data()?, version)?,
                        name: r.optional(|r| r.str().map(str::to_owned))?,
                        wait: r.optional(Reader::bool)?.unwrap_or(false),
                        timeout_ms: r.optional(Reader::u64)?,
                        version,
                    })
                }),
            }
        }
    }

    impl HttpQueueResponse {
        /// Encodes a response body (server side).
        pub fn encode(&self, encoding: Encoding, version: u16) -> Result<Vec<u8>, ProtocolError> {
            let response = self.response.as_deref();
            match Named::of(encoding) {
                Some(named) => named.body(
                    &[
                        ("status", Field::Text(&self.status)),
                        ("response", response.map_or(Field::Absent, Field::Payload)),
                    ],
                    Sender::Server,
                ),
                None => {
                    let response = response.map(|r| bare_out(r, version)).transpose()?;
                    let mut w = Writer::versioned(version);
                    w.str(&self.status).optional(response.as_deref(), |w, r| {
                        w.data(r);
                    });
                    Ok(w.finish())
                }
            }
        }
    }

    /// Encodes an HTTP error body (server side). BARE v3 has no `actor` field; v4 has it
    /// (absent).
    pub fn encode_http_error(error: &ActorError, encoding: Encoding, version: u16) -> Vec<u8> {
        match Named::of(encoding) {
            // An error's fields hold no payload, the only kind of field that can fail to
            // render, so the body is never empty.
            Some(named) => named
                .body(&actor_error::fields(error), Sender::Server)
                .unwrap_or_default(),
            None => {
                let version = version.clamp(MIN_PROTOCOL_VERSION, PROTOCOL_VERSION);
                let mut w = Writer::versioned(version);
                actor_error::write_bare(&mut w, error);
                actor_error::write_bare_actor(&mut w, version);
                w.finish()
            }
        }
    }
}
