//! The RivetKit client protocol: WebSocket messages and HTTP bodies in the json, cbor and bare
//! encodings, both directions, as the official JavaScript client speaks them (client protocol
//! v4; v3 over HTTP for rivetkit 2.2.x).
//!
//! Payloads (`args`, `output`, event arguments, queue bodies) are internal CBOR in the types
//! here; [`compat`] converts them at the boundary. Decoders never panic: anything malformed is a
//! [`ProtocolError`].

use bytes::Bytes;
use ciborium::Value;
use serde_json::{Map, Value as Json};

use crate::codec::{self, describe_de_error};
use crate::error::ActorError;

pub mod bare;
pub mod compat;

use bare::{Reader, Writer};

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

/// A malformed message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProtocolError(pub String);

impl From<bare::BareError> for ProtocolError {
    fn from(e: bare::BareError) -> Self {
        Self(e.0)
    }
}

impl From<compat::CompatError> for ProtocolError {
    fn from(e: compat::CompatError) -> Self {
        Self(e.0)
    }
}

fn perr(message: impl Into<String>) -> ProtocolError {
    ProtocolError(message.into())
}

/// A WebSocket message payload: JSON travels in text frames, CBOR and BARE in binary ones.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// A text frame.
    Text(String),
    /// A binary frame.
    Binary(Vec<u8>),
}

impl Frame {
    /// The payload size in bytes.
    pub fn len(&self) -> usize {
        match self {
            Self::Text(s) => s.len(),
            Self::Binary(b) => b.len(),
        }
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A message from an actor to a connected client.
#[derive(Debug, Clone, PartialEq)]
pub enum ToClient {
    /// First message of every connection.
    Init {
        /// The actor id.
        actor_id: String,
        /// The connection id.
        connection_id: String,
    },
    /// An error: of one action (`action_id`), or of the whole connection.
    Error {
        /// The error.
        error: ActorError,
        /// The action it answers, if any.
        action_id: Option<u64>,
    },
    /// The output (internal CBOR) of an action.
    ActionResponse {
        /// The action id the client chose.
        id: u64,
        /// The output.
        output: Bytes,
    },
    /// An event; `args` is an internal CBOR array.
    Event {
        /// The event's wire name.
        name: String,
        /// The arguments.
        args: Bytes,
    },
}

/// A message from a connected client to an actor.
#[derive(Debug, Clone, PartialEq)]
pub enum ToServer {
    /// Run an action; `args` is an internal CBOR array.
    ActionRequest {
        /// The id to answer with.
        id: u64,
        /// The action's wire name.
        name: String,
        /// The arguments.
        args: Bytes,
    },
    /// Subscribe to or unsubscribe from an event.
    SubscriptionRequest {
        /// The event's wire name.
        event_name: String,
        /// Subscribe (true) or unsubscribe.
        subscribe: bool,
    },
}

// ---------------------------------------------------------------------------------------------
// CBOR building blocks.

fn cbor_text(out: &mut Vec<u8>, s: &str) {
    codec::write_head(out, 3, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn cbor_map(out: &mut Vec<u8>, len: usize) {
    codec::write_head(out, 5, len as u64);
}

/// A uint as a 64-bit CBOR integer (`0x1b`), so cbor-x decodes it as a BigInt, as the client's
/// schemas require for ids.
fn cbor_u64_forced(out: &mut Vec<u8>, v: u64) {
    out.push(0x1b);
    out.extend_from_slice(&v.to_be_bytes());
}

/// Decodes CBOR into a `Value`, for navigating protocol messages.
fn cbor_value(bytes: &[u8]) -> Result<Value, ProtocolError> {
    codec::check_item(bytes).map_err(perr)?;
    codec::decode(bytes).map_err(|e| perr(describe_de_error(&e)))
}

fn encode_value(value: &Value) -> Result<Bytes, ProtocolError> {
    let mut out = Vec::new();
    codec::write(value, &mut out).map_err(|e| perr(e.to_string()))?;
    Ok(Bytes::from(out))
}

fn map_get<'a>(map: &'a [(Value, Value)], key: &str) -> Option<&'a Value> {
    map.iter()
        .find(|(k, _)| matches!(k, Value::Text(t) if t == key))
        .map(|(_, v)| v)
}

fn as_map<'a>(value: &'a Value, what: &str) -> Result<&'a [(Value, Value)], ProtocolError> {
    match value {
        Value::Map(m) => Ok(m),
        _ => Err(perr(format!("{what} must be a map"))),
    }
}

fn as_text<'a>(value: Option<&'a Value>, what: &str) -> Result<&'a str, ProtocolError> {
    match value {
        Some(Value::Text(t)) => Ok(t),
        _ => Err(perr(format!("{what} must be a string"))),
    }
}

fn as_uint(value: Option<&Value>, what: &str) -> Result<u64, ProtocolError> {
    match value {
        Some(Value::Integer(i)) => {
            u64::try_from(*i).map_err(|_| perr(format!("{what} must be a non-negative integer")))
        }
        Some(Value::Tag(2, inner)) => match &**inner {
            Value::Bytes(b) if b.len() <= 8 => {
                Ok(b.iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x)))
            }
            _ => Err(perr(format!("{what} is too large"))),
        },
        _ => Err(perr(format!("{what} must be an integer"))),
    }
}

// ---------------------------------------------------------------------------------------------
// JSON building blocks.

fn json_bigint(v: u64) -> Json {
    Json::Array(vec![
        Json::String("$BigInt".to_owned()),
        Json::String(v.to_string()),
    ])
}

fn json_uint(value: Option<&Json>, what: &str) -> Result<u64, ProtocolError> {
    match value {
        Some(Json::Array(items)) => match items.as_slice() {
            [Json::String(tag), Json::String(n)] if tag == "$BigInt" => n
                .parse()
                .map_err(|_| perr(format!("{what} must be a non-negative integer"))),
            _ => Err(perr(format!("{what} must be a BigInt"))),
        },
        Some(Json::Number(n)) => n
            .as_u64()
            .ok_or_else(|| perr(format!("{what} must be a non-negative integer"))),
        _ => Err(perr(format!("{what} must be an integer"))),
    }
}

fn json_str<'a>(value: Option<&'a Json>, what: &str) -> Result<&'a str, ProtocolError> {
    value
        .and_then(Json::as_str)
        .ok_or_else(|| perr(format!("{what} must be a string")))
}

fn parse_json(bytes: &[u8]) -> Result<Json, ProtocolError> {
    serde_json::from_slice(bytes).map_err(|e| perr(format!("invalid JSON: {e}")))
}

fn envelope(tag: &str, val: Json) -> Json {
    let mut body = Map::new();
    body.insert("tag".to_owned(), Json::String(tag.to_owned()));
    body.insert("val".to_owned(), val);
    let mut msg = Map::new();
    msg.insert("body".to_owned(), Json::Object(body));
    Json::Object(msg)
}

fn error_json(error: &ActorError) -> Map<String, Json> {
    let mut val = Map::new();
    val.insert("group".to_owned(), Json::String(error.group.clone()));
    val.insert("code".to_owned(), Json::String(error.code.clone()));
    val.insert("message".to_owned(), Json::String(error.message.clone()));
    if let Some(metadata) = &error.metadata {
        val.insert("metadata".to_owned(), metadata_to_wire_json(metadata));
    }
    val
}

/// Error metadata as the client's `jsonParseCompat` expects it.
fn metadata_to_wire_json(metadata: &Json) -> Json {
    compat::plain_json_to_cbor(metadata)
        .and_then(|c| compat::cbor_to_json(&c))
        .unwrap_or(Json::Null)
}

/// Error metadata as CBOR for the client's `decodeCborCompat`.
fn metadata_to_wire_cbor(metadata: &Json) -> Result<Vec<u8>, ProtocolError> {
    let plain = compat::plain_json_to_cbor(metadata)?;
    Ok(compat::escape_cbor(&plain)?.into_owned())
}

/// Error metadata received as compat CBOR, as plain JSON.
fn metadata_from_wire_cbor(bytes: &[u8]) -> Result<Json, ProtocolError> {
    Ok(compat::cbor_to_plain_json(&compat::revive_cbor(bytes)?)?)
}

/// Unwraps `{body: {tag, val}}` (JSON).
fn json_envelope(json: &Json) -> Result<(&str, &Map<String, Json>), ProtocolError> {
    let body = json
        .get("body")
        .and_then(Json::as_object)
        .ok_or_else(|| perr("message must have a `body` object"))?;
    let tag = json_str(body.get("tag"), "body.tag")?;
    let val = body
        .get("val")
        .and_then(Json::as_object)
        .ok_or_else(|| perr("body.val must be an object"))?;
    Ok((tag, val))
}

/// Unwraps `{body: {tag, val}}` (CBOR).
/// The entries of a CBOR map.
type CborMap = [(Value, Value)];

fn cbor_envelope(value: &Value) -> Result<(&str, &CborMap), ProtocolError> {
    let msg = as_map(value, "message")?;
    let body = as_map(
        map_get(msg, "body").ok_or_else(|| perr("message must have a `body`"))?,
        "body",
    )?;
    let tag = as_text(map_get(body, "tag"), "body.tag")?;
    let val = as_map(
        map_get(body, "val").ok_or_else(|| perr("body.val is missing"))?,
        "body.val",
    )?;
    Ok((tag, val))
}

fn json_to_internal(json: &Json) -> Result<Bytes, ProtocolError> {
    Ok(Bytes::from(compat::json_to_cbor(json)?))
}

/// A BARE payload received from a client of `version`: rivetkit 2.3 (v4) compat-encodes values
/// inside the CBOR, 2.2 (v3) sends plain CBOR.
fn bare_in(bytes: &[u8], version: u16) -> Result<Bytes, ProtocolError> {
    if version >= 4 {
        Ok(Bytes::from(compat::revive_cbor(bytes)?.into_owned()))
    } else {
        codec::check_item(bytes).map_err(perr)?;
        Ok(Bytes::copy_from_slice(bytes))
    }
}

/// A BARE payload for a client of `version` (see [`bare_in`]).
fn bare_out(bytes: &[u8], version: u16) -> Result<std::borrow::Cow<'_, [u8]>, ProtocolError> {
    if version >= 4 {
        escaped(bytes)
    } else {
        Ok(std::borrow::Cow::Borrowed(bytes))
    }
}

fn escaped(bytes: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>, ProtocolError> {
    Ok(compat::escape_cbor(bytes)?)
}

// ---------------------------------------------------------------------------------------------
// WebSocket: server side.

/// The BARE version of server WebSocket frames: v3, which rivetkit 2.2 requires and 2.3 accepts
/// (it lacks only the `actor` field of errors).
pub const WS_BARE_VERSION: u16 = 3;

impl ToClient {
    /// Encodes for a client using `encoding` (BARE: [`WS_BARE_VERSION`]).
    pub fn encode(&self, encoding: Encoding) -> Result<Frame, ProtocolError> {
        self.encode_versioned(encoding, WS_BARE_VERSION)
    }

    /// Encodes with an explicit BARE version (3 or 4).
    pub fn encode_versioned(
        &self,
        encoding: Encoding,
        version: u16,
    ) -> Result<Frame, ProtocolError> {
        match encoding {
            Encoding::Json => {
                let json = match self {
                    Self::Init {
                        actor_id,
                        connection_id,
                    } => {
                        let mut val = Map::new();
                        val.insert("actorId".to_owned(), Json::String(actor_id.clone()));
                        val.insert(
                            "connectionId".to_owned(),
                            Json::String(connection_id.clone()),
                        );
                        envelope("Init", Json::Object(val))
                    }
                    Self::Error { error, action_id } => {
                        let mut val = error_json(error);
                        val.insert(
                            "actionId".to_owned(),
                            action_id.map_or(Json::Null, json_bigint),
                        );
                        envelope("Error", Json::Object(val))
                    }
                    Self::ActionResponse { id, output } => {
                        let mut val = Map::new();
                        val.insert("id".to_owned(), json_bigint(*id));
                        val.insert("output".to_owned(), compat::cbor_to_json(output)?);
                        envelope("ActionResponse", Json::Object(val))
                    }
                    Self::Event { name, args } => {
                        let mut val = Map::new();
                        val.insert("name".to_owned(), Json::String(name.clone()));
                        val.insert("args".to_owned(), compat::cbor_to_json(args)?);
                        envelope("Event", Json::Object(val))
                    }
                };
                Ok(Frame::Text(json.to_string()))
            }
            Encoding::Cbor => {
                let mut out = Vec::with_capacity(64);
                cbor_map(&mut out, 1);
                cbor_text(&mut out, "body");
                cbor_map(&mut out, 2);
                cbor_text(&mut out, "tag");
                match self {
                    Self::Init {
                        actor_id,
                        connection_id,
                    } => {
                        cbor_text(&mut out, "Init");
                        cbor_text(&mut out, "val");
                        cbor_map(&mut out, 2);
                        cbor_text(&mut out, "actorId");
                        cbor_text(&mut out, actor_id);
                        cbor_text(&mut out, "connectionId");
                        cbor_text(&mut out, connection_id);
                    }
                    Self::Error { error, action_id } => {
                        cbor_text(&mut out, "Error");
                        cbor_text(&mut out, "val");
                        cbor_map(&mut out, 4 + usize::from(error.metadata.is_some()));
                        cbor_text(&mut out, "group");
                        cbor_text(&mut out, &error.group);
                        cbor_text(&mut out, "code");
                        cbor_text(&mut out, &error.code);
                        cbor_text(&mut out, "message");
                        cbor_text(&mut out, &error.message);
                        if let Some(metadata) = &error.metadata {
                            cbor_text(&mut out, "metadata");
                            out.extend_from_slice(&metadata_to_wire_cbor(metadata)?);
                        }
                        cbor_text(&mut out, "actionId");
                        match action_id {
                            Some(id) => cbor_u64_forced(&mut out, *id),
                            None => out.push(0xf6),
                        }
                    }
                    Self::ActionResponse { id, output } => {
                        cbor_text(&mut out, "ActionResponse");
                        cbor_text(&mut out, "val");
                        cbor_map(&mut out, 2);
                        cbor_text(&mut out, "id");
                        cbor_u64_forced(&mut out, *id);
                        cbor_text(&mut out, "output");
                        out.extend_from_slice(&escaped(output)?);
                    }
                    Self::Event { name, args } => {
                        cbor_text(&mut out, "Event");
                        cbor_text(&mut out, "val");
                        cbor_map(&mut out, 2);
                        cbor_text(&mut out, "name");
                        cbor_text(&mut out, name);
                        cbor_text(&mut out, "args");
                        out.extend_from_slice(&escaped(args)?);
                    }
                }
                Ok(Frame::Binary(out))
            }
            Encoding::Bare => {
                let mut w = Writer::versioned(version);
                match self {
                    Self::Init {
                        actor_id,
                        connection_id,
                    } => {
                        w.uint(0).str(actor_id).str(connection_id);
                    }
                    Self::Error { error, action_id } => {
                        let metadata = error
                            .metadata
                            .as_ref()
                            .map(metadata_to_wire_cbor)
                            .transpose()?;
                        w.uint(1)
                            .str(&error.group)
                            .str(&error.code)
                            .str(&error.message)
                            .optional(metadata.as_deref(), |w, m| {
                                w.data(m);
                            })
                            .optional(*action_id, |w, id| {
                                w.uint(id);
                            });
                        if version >= 4 {
                            w.optional(None::<()>, |_, ()| {});
                        }
                    }
                    Self::ActionResponse { id, output } => {
                        w.uint(2).uint(*id).data(&escaped(output)?);
                    }
                    Self::Event { name, args } => {
                        w.uint(3).str(name).data(&escaped(args)?);
                    }
                }
                Ok(Frame::Binary(w.finish()))
            }
        }
    }
}

impl ToServer {
    /// Decodes a message from a client.
    pub fn decode(payload: &[u8], encoding: Encoding) -> Result<Self, ProtocolError> {
        match encoding {
            Encoding::Json => {
                let json = parse_json(payload)?;
                let (tag, val) = json_envelope(&json)?;
                match tag {
                    "ActionRequest" => Ok(Self::ActionRequest {
                        id: json_uint(val.get("id"), "id")?,
                        name: json_str(val.get("name"), "name")?.to_owned(),
                        args: json_to_internal(val.get("args").unwrap_or(&Json::Null))?,
                    }),
                    "SubscriptionRequest" => Ok(Self::SubscriptionRequest {
                        event_name: json_str(val.get("eventName"), "eventName")?.to_owned(),
                        subscribe: val
                            .get("subscribe")
                            .and_then(Json::as_bool)
                            .ok_or_else(|| perr("subscribe must be a boolean"))?,
                    }),
                    other => Err(perr(format!("unknown message `{other}`"))),
                }
            }
            Encoding::Cbor => {
                let value = cbor_value(payload)?;
                let (tag, val) = cbor_envelope(&value)?;
                match tag {
                    "ActionRequest" => Ok(Self::ActionRequest {
                        id: as_uint(map_get(val, "id"), "id")?,
                        name: as_text(map_get(val, "name"), "name")?.to_owned(),
                        args: encode_value(map_get(val, "args").unwrap_or(&Value::Null))?,
                    }),
                    "SubscriptionRequest" => Ok(Self::SubscriptionRequest {
                        event_name: as_text(map_get(val, "eventName"), "eventName")?.to_owned(),
                        subscribe: match map_get(val, "subscribe") {
                            Some(Value::Bool(b)) => *b,
                            _ => return Err(perr("subscribe must be a boolean")),
                        },
                    }),
                    other => Err(perr(format!("unknown message `{other}`"))),
                }
            }
            Encoding::Bare => {
                let (version, mut r) = Reader::versioned(payload)?;
                check_version(version)?;
                let msg = match r.uint()? {
                    0 => {
                        let id = r.uint()?;
                        let name = r.str()?.to_owned();
                        let args = bare_in(r.data()?, version)?;
                        Self::ActionRequest { id, name, args }
                    }
                    1 => Self::SubscriptionRequest {
                        event_name: r.str()?.to_owned(),
                        subscribe: r.bool()?,
                    },
                    tag => return Err(perr(format!("unknown message tag {tag}"))),
                };
                r.end()?;
                Ok(msg)
            }
        }
    }

    /// Encodes for a server (the client side of the protocol).
    pub fn encode(&self, encoding: Encoding) -> Result<Frame, ProtocolError> {
        match encoding {
            Encoding::Json => {
                let json = match self {
                    Self::ActionRequest { id, name, args } => {
                        let mut val = Map::new();
                        val.insert("id".to_owned(), json_bigint(*id));
                        val.insert("name".to_owned(), Json::String(name.clone()));
                        val.insert("args".to_owned(), compat::cbor_to_json(args)?);
                        envelope("ActionRequest", Json::Object(val))
                    }
                    Self::SubscriptionRequest {
                        event_name,
                        subscribe,
                    } => {
                        let mut val = Map::new();
                        val.insert("eventName".to_owned(), Json::String(event_name.clone()));
                        val.insert("subscribe".to_owned(), Json::Bool(*subscribe));
                        envelope("SubscriptionRequest", Json::Object(val))
                    }
                };
                Ok(Frame::Text(json.to_string()))
            }
            Encoding::Cbor => {
                let mut out = Vec::with_capacity(64);
                cbor_map(&mut out, 1);
                cbor_text(&mut out, "body");
                cbor_map(&mut out, 2);
                cbor_text(&mut out, "tag");
                match self {
                    Self::ActionRequest { id, name, args } => {
                        cbor_text(&mut out, "ActionRequest");
                        cbor_text(&mut out, "val");
                        cbor_map(&mut out, 3);
                        cbor_text(&mut out, "id");
                        cbor_u64_forced(&mut out, *id);
                        cbor_text(&mut out, "name");
                        cbor_text(&mut out, name);
                        cbor_text(&mut out, "args");
                        out.extend_from_slice(args);
                    }
                    Self::SubscriptionRequest {
                        event_name,
                        subscribe,
                    } => {
                        cbor_text(&mut out, "SubscriptionRequest");
                        cbor_text(&mut out, "val");
                        cbor_map(&mut out, 2);
                        cbor_text(&mut out, "eventName");
                        cbor_text(&mut out, event_name);
                        cbor_text(&mut out, "subscribe");
                        out.push(if *subscribe { 0xf5 } else { 0xf4 });
                    }
                }
                Ok(Frame::Binary(out))
            }
            Encoding::Bare => {
                let mut w = Writer::versioned(PROTOCOL_VERSION);
                match self {
                    Self::ActionRequest { id, name, args } => {
                        w.uint(0).uint(*id).str(name).data(&escaped(args)?);
                    }
                    Self::SubscriptionRequest {
                        event_name,
                        subscribe,
                    } => {
                        w.uint(1).str(event_name).bool(*subscribe);
                    }
                }
                Ok(Frame::Binary(w.finish()))
            }
        }
    }
}

impl ToClient {
    /// Decodes a message from a server (the client side of the protocol).
    pub fn decode(payload: &[u8], encoding: Encoding) -> Result<Self, ProtocolError> {
        match encoding {
            Encoding::Json => {
                let json = parse_json(payload)?;
                let (tag, val) = json_envelope(&json)?;
                Ok(match tag {
                    "Init" => Self::Init {
                        actor_id: json_str(val.get("actorId"), "actorId")?.to_owned(),
                        connection_id: json_str(val.get("connectionId"), "connectionId")?
                            .to_owned(),
                    },
                    "Error" => Self::Error {
                        error: json_error(val)?,
                        action_id: match val.get("actionId") {
                            None | Some(Json::Null) => None,
                            other => Some(json_uint(other, "actionId")?),
                        },
                    },
                    "ActionResponse" => Self::ActionResponse {
                        id: json_uint(val.get("id"), "id")?,
                        output: json_to_internal(val.get("output").unwrap_or(&Json::Null))?,
                    },
                    "Event" => Self::Event {
                        name: json_str(val.get("name"), "name")?.to_owned(),
                        args: json_to_internal(val.get("args").unwrap_or(&Json::Null))?,
                    },
                    other => return Err(perr(format!("unknown message `{other}`"))),
                })
            }
            Encoding::Cbor => {
                let value = cbor_value(payload)?;
                let (tag, val) = cbor_envelope(&value)?;
                Ok(match tag {
                    "Init" => Self::Init {
                        actor_id: as_text(map_get(val, "actorId"), "actorId")?.to_owned(),
                        connection_id: as_text(map_get(val, "connectionId"), "connectionId")?
                            .to_owned(),
                    },
                    "Error" => Self::Error {
                        error: cbor_error(val)?,
                        action_id: match map_get(val, "actionId") {
                            None | Some(Value::Null) => None,
                            other => Some(as_uint(other, "actionId")?),
                        },
                    },
                    "ActionResponse" => Self::ActionResponse {
                        id: as_uint(map_get(val, "id"), "id")?,
                        output: revived_value(map_get(val, "output"))?,
                    },
                    "Event" => Self::Event {
                        name: as_text(map_get(val, "name"), "name")?.to_owned(),
                        args: revived_value(map_get(val, "args"))?,
                    },
                    other => return Err(perr(format!("unknown message `{other}`"))),
                })
            }
            Encoding::Bare => {
                let (version, mut r) = Reader::versioned(payload)?;
                check_version(version)?;
                let msg = match r.uint()? {
                    0 => Self::Init {
                        actor_id: r.str()?.to_owned(),
                        connection_id: r.str()?.to_owned(),
                    },
                    1 => {
                        let group = r.str()?.to_owned();
                        let code = r.str()?.to_owned();
                        let message = r.str()?.to_owned();
                        let metadata = r.optional(|r| r.data().map(<[u8]>::to_vec))?;
                        let action_id = r.optional(Reader::uint)?;
                        if version >= 4 {
                            r.optional(skip_actor_specifier)?;
                        }
                        let mut error = ActorError::new(group, code, message);
                        error.metadata =
                            metadata.map(|m| metadata_from_wire_cbor(&m)).transpose()?;
                        Self::Error { error, action_id }
                    }
                    // Servers escape compat markers whatever version they write (the official
                    // client revives them in every version it accepts).
                    2 => Self::ActionResponse {
                        id: r.uint()?,
                        output: bare_in(r.data()?, 4)?,
                    },
                    3 => Self::Event {
                        name: r.str()?.to_owned(),
                        args: bare_in(r.data()?, 4)?,
                    },
                    tag => return Err(perr(format!("unknown message tag {tag}"))),
                };
                r.end()?;
                Ok(msg)
            }
        }
    }
}

fn revived_value(value: Option<&Value>) -> Result<Bytes, ProtocolError> {
    let bytes = encode_value(value.unwrap_or(&Value::Null))?;
    Ok(Bytes::from(compat::revive_cbor(&bytes)?.into_owned()))
}

fn skip_actor_specifier(r: &mut Reader<'_>) -> Result<(), bare::BareError> {
    r.str()?;
    r.uint()?;
    r.optional(Reader::str)?;
    Ok(())
}

fn check_version(version: u16) -> Result<(), ProtocolError> {
    if (MIN_PROTOCOL_VERSION..=PROTOCOL_VERSION).contains(&version) {
        Ok(())
    } else {
        Err(perr(format!(
            "unsupported client protocol version {version}"
        )))
    }
}

fn json_error(val: &Map<String, Json>) -> Result<ActorError, ProtocolError> {
    let mut error = ActorError::new(
        json_str(val.get("group"), "group")?,
        json_str(val.get("code"), "code")?,
        json_str(val.get("message"), "message")?,
    );
    error.metadata = match val.get("metadata") {
        None | Some(Json::Null) => None,
        Some(m) => Some(compat::cbor_to_plain_json(&compat::json_to_cbor(m)?)?),
    };
    Ok(error)
}

fn cbor_error(val: &[(Value, Value)]) -> Result<ActorError, ProtocolError> {
    let mut error = ActorError::new(
        as_text(map_get(val, "group"), "group")?,
        as_text(map_get(val, "code"), "code")?,
        as_text(map_get(val, "message"), "message")?,
    );
    error.metadata = match map_get(val, "metadata") {
        None | Some(Value::Null) => None,
        Some(v) => Some(metadata_from_wire_cbor(&encode_value(v)?)?),
    };
    Ok(error)
}

// ---------------------------------------------------------------------------------------------
// HTTP bodies.

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
    /// Decodes a request body. JSON and CBOR `args` are normalized as RivetKit does: an array
    /// stays, `null` is no arguments, any other value is one argument.
    pub fn decode(body: &[u8], encoding: Encoding) -> Result<Self, ProtocolError> {
        match encoding {
            Encoding::Json => {
                let json = parse_json(body)?;
                let Json::Object(fields) = json else {
                    return Err(ProtocolError(
                        "the request body is not an object".to_owned(),
                    ));
                };
                let args = fields.get("args").cloned().unwrap_or(Json::Null);
                let args = match args {
                    Json::Array(items) => Json::Array(items),
                    Json::Null => Json::Array(Vec::new()),
                    other => Json::Array(vec![other]),
                };
                Ok(Self {
                    args: json_to_internal(&args)?,
                    version: PROTOCOL_VERSION,
                })
            }
            Encoding::Cbor => {
                let value = cbor_value(body)?;
                let map = as_map(&value, "request body")?;
                let args = match map_get(map, "args") {
                    Some(Value::Array(items)) => Value::Array(items.clone()),
                    None | Some(Value::Null) => Value::Array(Vec::new()),
                    Some(other) => Value::Array(vec![other.clone()]),
                };
                Ok(Self {
                    args: encode_value(&args)?,
                    version: PROTOCOL_VERSION,
                })
            }
            Encoding::Bare => {
                let (version, mut r) = Reader::versioned(body)?;
                check_version(version)?;
                let args = bare_in(r.data()?, version)?;
                r.end()?;
                Ok(Self { args, version })
            }
        }
    }

    /// Encodes a request body (client side).
    pub fn encode(args: &[u8], encoding: Encoding) -> Result<Vec<u8>, ProtocolError> {
        match encoding {
            Encoding::Json => {
                let mut map = Map::new();
                map.insert("args".to_owned(), compat::cbor_to_json(args)?);
                Ok(Json::Object(map).to_string().into_bytes())
            }
            Encoding::Cbor => {
                let mut out = Vec::with_capacity(args.len() + 8);
                cbor_map(&mut out, 1);
                cbor_text(&mut out, "args");
                out.extend_from_slice(args);
                Ok(out)
            }
            Encoding::Bare => {
                let mut w = Writer::versioned(PROTOCOL_VERSION);
                w.data(&escaped(args)?);
                Ok(w.finish())
            }
        }
    }
}

/// Encodes the response body of a successful action (server side).
pub fn encode_http_action_response(
    output: &[u8],
    encoding: Encoding,
    version: u16,
) -> Result<Vec<u8>, ProtocolError> {
    match encoding {
        Encoding::Json => {
            let mut map = Map::new();
            map.insert("output".to_owned(), compat::cbor_to_json(output)?);
            Ok(Json::Object(map).to_string().into_bytes())
        }
        Encoding::Cbor => {
            let mut out = Vec::with_capacity(output.len() + 10);
            cbor_map(&mut out, 1);
            cbor_text(&mut out, "output");
            out.extend_from_slice(&escaped(output)?);
            Ok(out)
        }
        Encoding::Bare => {
            let mut w = Writer::versioned(version);
            w.data(&bare_out(output, version)?);
            Ok(w.finish())
        }
    }
}

/// Decodes the response body of a successful action (client side) to internal CBOR.
pub fn decode_http_action_response(
    body: &[u8],
    encoding: Encoding,
) -> Result<Bytes, ProtocolError> {
    match encoding {
        Encoding::Json => {
            let json = parse_json(body)?;
            json_to_internal(json.get("output").unwrap_or(&Json::Null))
        }
        Encoding::Cbor => {
            let value = cbor_value(body)?;
            revived_value(map_get(as_map(&value, "response body")?, "output"))
        }
        Encoding::Bare => {
            let (version, mut r) = Reader::versioned(body)?;
            check_version(version)?;
            let output = bare_in(r.data()?, version)?;
            r.end()?;
            Ok(output)
        }
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
    /// Decodes a request body.
    pub fn decode(body: &[u8], encoding: Encoding) -> Result<Self, ProtocolError> {
        match encoding {
            Encoding::Json => {
                let json = parse_json(body)?;
                let obj = json
                    .as_object()
                    .ok_or_else(|| perr("request body must be an object"))?;
                Ok(Self {
                    body: json_to_internal(obj.get("body").unwrap_or(&Json::Null))?,
                    name: obj.get("name").and_then(Json::as_str).map(str::to_owned),
                    wait: obj.get("wait").and_then(Json::as_bool).unwrap_or(false),
                    timeout_ms: match obj.get("timeout") {
                        None | Some(Json::Null) => None,
                        Some(Json::Number(n)) => Some(
                            n.as_u64()
                                .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
                                .ok_or_else(|| perr("timeout must be a non-negative number"))?,
                        ),
                        Some(_) => return Err(perr("timeout must be a number")),
                    },
                    version: PROTOCOL_VERSION,
                })
            }
            Encoding::Cbor => {
                let value = cbor_value(body)?;
                let map = as_map(&value, "request body")?;
                Ok(Self {
                    body: encode_value(map_get(map, "body").unwrap_or(&Value::Null))?,
                    name: match map_get(map, "name") {
                        Some(Value::Text(t)) => Some(t.clone()),
                        _ => None,
                    },
                    wait: matches!(map_get(map, "wait"), Some(Value::Bool(true))),
                    timeout_ms: match map_get(map, "timeout") {
                        None | Some(Value::Null) => None,
                        Some(Value::Float(f)) if *f >= 0.0 => Some(*f as u64),
                        other => Some(as_uint(other, "timeout")?),
                    },
                    version: PROTOCOL_VERSION,
                })
            }
            Encoding::Bare => {
                let (version, mut r) = Reader::versioned(body)?;
                check_version(version)?;
                let body = bare_in(r.data()?, version)?;
                let name = r.optional(|r| r.str().map(str::to_owned))?;
                let wait = r.optional(Reader::bool)?.unwrap_or(false);
                let timeout_ms = r.optional(Reader::u64)?;
                r.end()?;
                Ok(Self {
                    body,
                    name,
                    wait,
                    timeout_ms,
                    version,
                })
            }
        }
    }

    /// Encodes a request body (client side).
    pub fn encode(&self, encoding: Encoding) -> Result<Vec<u8>, ProtocolError> {
        match encoding {
            Encoding::Json => {
                let mut map = Map::new();
                map.insert("body".to_owned(), compat::cbor_to_json(&self.body)?);
                if let Some(name) = &self.name {
                    map.insert("name".to_owned(), Json::String(name.clone()));
                }
                map.insert("wait".to_owned(), Json::Bool(self.wait));
                if let Some(t) = self.timeout_ms {
                    map.insert("timeout".to_owned(), Json::from(t));
                }
                Ok(Json::Object(map).to_string().into_bytes())
            }
            Encoding::Cbor => {
                let mut out = Vec::new();
                cbor_map(
                    &mut out,
                    2 + usize::from(self.name.is_some()) + usize::from(self.timeout_ms.is_some()),
                );
                cbor_text(&mut out, "body");
                out.extend_from_slice(&self.body);
                if let Some(name) = &self.name {
                    cbor_text(&mut out, "name");
                    cbor_text(&mut out, name);
                }
                cbor_text(&mut out, "wait");
                out.push(if self.wait { 0xf5 } else { 0xf4 });
                if let Some(t) = self.timeout_ms {
                    cbor_text(&mut out, "timeout");
                    codec::write_head(&mut out, 0, t);
                }
                Ok(out)
            }
            Encoding::Bare => {
                let mut w = Writer::versioned(PROTOCOL_VERSION);
                w.data(&escaped(&self.body)?)
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
    /// Encodes a response body (server side).
    pub fn encode(&self, encoding: Encoding, version: u16) -> Result<Vec<u8>, ProtocolError> {
        match encoding {
            Encoding::Json => {
                let mut map = Map::new();
                map.insert("status".to_owned(), Json::String(self.status.clone()));
                if let Some(response) = &self.response {
                    map.insert("response".to_owned(), compat::cbor_to_json(response)?);
                }
                Ok(Json::Object(map).to_string().into_bytes())
            }
            Encoding::Cbor => {
                let mut out = Vec::new();
                cbor_map(&mut out, 1 + usize::from(self.response.is_some()));
                cbor_text(&mut out, "status");
                cbor_text(&mut out, &self.status);
                if let Some(response) = &self.response {
                    cbor_text(&mut out, "response");
                    out.extend_from_slice(&escaped(response)?);
                }
                Ok(out)
            }
            Encoding::Bare => {
                let response = self
                    .response
                    .as_deref()
                    .map(|r| bare_out(r, version))
                    .transpose()?;
                let mut w = Writer::versioned(version);
                w.str(&self.status).optional(response.as_deref(), |w, r| {
                    w.data(r);
                });
                Ok(w.finish())
            }
        }
    }

    /// Decodes a response body (client side).
    pub fn decode(body: &[u8], encoding: Encoding) -> Result<Self, ProtocolError> {
        match encoding {
            Encoding::Json => {
                let json = parse_json(body)?;
                Ok(Self {
                    status: json_str(json.get("status"), "status")?.to_owned(),
                    response: json.get("response").map(json_to_internal).transpose()?,
                })
            }
            Encoding::Cbor => {
                let value = cbor_value(body)?;
                let map = as_map(&value, "response body")?;
                Ok(Self {
                    status: as_text(map_get(map, "status"), "status")?.to_owned(),
                    response: map_get(map, "response")
                        .map(|v| revived_value(Some(v)))
                        .transpose()?,
                })
            }
            Encoding::Bare => {
                let (version, mut r) = Reader::versioned(body)?;
                check_version(version)?;
                let status = r.str()?.to_owned();
                let response = r
                    .optional(|r| r.data().map(<[u8]>::to_vec))?
                    .map(|d| bare_in(&d, version))
                    .transpose()?;
                r.end()?;
                Ok(Self { status, response })
            }
        }
    }
}

/// Encodes an HTTP error body (server side). BARE v3 has no `actor` field; v4 has it (absent).
pub fn encode_http_error(error: &ActorError, encoding: Encoding, version: u16) -> Vec<u8> {
    match encoding {
        Encoding::Json => Json::Object(error_json(error)).to_string().into_bytes(),
        Encoding::Cbor => {
            let metadata = error
                .metadata
                .as_ref()
                .and_then(|m| metadata_to_wire_cbor(m).ok());
            let mut out = Vec::new();
            cbor_map(&mut out, 3 + usize::from(metadata.is_some()));
            cbor_text(&mut out, "group");
            cbor_text(&mut out, &error.group);
            cbor_text(&mut out, "code");
            cbor_text(&mut out, &error.code);
            cbor_text(&mut out, "message");
            cbor_text(&mut out, &error.message);
            if let Some(metadata) = metadata {
                cbor_text(&mut out, "metadata");
                out.extend_from_slice(&metadata);
            }
            out
        }
        Encoding::Bare => {
            let metadata = error
                .metadata
                .as_ref()
                .and_then(|m| metadata_to_wire_cbor(m).ok());
            let mut w = Writer::versioned(version.clamp(MIN_PROTOCOL_VERSION, PROTOCOL_VERSION));
            w.str(&error.group)
                .str(&error.code)
                .str(&error.message)
                .optional(metadata.as_deref(), |w, m| {
                    w.data(m);
                });
            if version >= 4 {
                w.optional(None::<()>, |_, ()| {});
            }
            w.finish()
        }
    }
}

/// Decodes an HTTP error body (client side).
pub fn decode_http_error(body: &[u8], encoding: Encoding) -> Result<ActorError, ProtocolError> {
    match encoding {
        Encoding::Json => {
            let json = parse_json(body)?;
            let obj = json
                .as_object()
                .ok_or_else(|| perr("error body must be an object"))?;
            json_error(obj)
        }
        Encoding::Cbor => {
            let value = cbor_value(body)?;
            cbor_error(as_map(&value, "error body")?)
        }
        Encoding::Bare => {
            let (version, mut r) = Reader::versioned(body)?;
            check_version(version)?;
            let mut error = ActorError::new(r.str()?, r.str()?, r.str()?);
            let metadata = r.optional(|r| r.data().map(<[u8]>::to_vec))?;
            error.metadata = metadata.map(|m| metadata_from_wire_cbor(&m)).transpose()?;
            if version >= 4 {
                r.optional(skip_actor_specifier)?;
            }
            r.end()?;
            Ok(error)
        }
    }
}

#[cfg(test)]
mod tests;
