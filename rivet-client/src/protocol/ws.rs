//! WebSocket messages: [`ToClient`] (actor to client) and [`ToServer`] (client to actor), in
//! every encoding. The client's half is always compiled; the server's half (encoding
//! [`ToClient`], decoding [`ToServer`]) with the `server` feature.

use bytes::Bytes;

use super::bare::{Reader, Writer};
use super::error::ProtocolError;
use super::fields::{Field, Fields, Named, Object, Sender};
use super::{Encoding, PROTOCOL_VERSION, actor_error, bare_in, bare_out, read_bare};
use crate::error::ActorError;

#[cfg(any(test, feature = "server"))]
pub use server::WS_BARE_VERSION;

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

impl ToServer {
    /// Encodes for a server (the client side of the protocol).
    pub fn encode(&self, encoding: Encoding) -> Result<Frame, ProtocolError> {
        match Named::of(encoding) {
            Some(named) => self.with_fields(|tag, val| named.message(tag, val, Sender::Client)),
            None => self.to_bare().map(Frame::Binary),
        }
    }

    /// Calls `write` with the message's tag and fields.
    fn with_fields<R>(&self, write: impl FnOnce(&str, &Object<'_>) -> R) -> R {
        match self {
            Self::ActionRequest { id, name, args } => write(
                "ActionRequest",
                &[
                    ("id", Field::Id(*id)),
                    ("name", Field::Text(name)),
                    ("args", Field::Payload(args)),
                ],
            ),
            Self::SubscriptionRequest {
                event_name,
                subscribe,
            } => write(
                "SubscriptionRequest",
                &[
                    ("eventName", Field::Text(event_name)),
                    ("subscribe", Field::Bool(*subscribe)),
                ],
            ),
        }
    }

    fn to_bare(&self) -> Result<Vec<u8>, ProtocolError> {
        let mut w = Writer::versioned(PROTOCOL_VERSION);
        match self {
            Self::ActionRequest { id, name, args } => {
                w.uint(0)
                    .uint(*id)
                    .str(name)
                    .data(&bare_out(args, PROTOCOL_VERSION)?);
            }
            Self::SubscriptionRequest {
                event_name,
                subscribe,
            } => {
                w.uint(1).str(event_name).bool(*subscribe);
            }
        }
        Ok(w.finish())
    }
}

impl ToClient {
    /// Decodes a message from a server (the client side of the protocol).
    pub fn decode(payload: &[u8], encoding: Encoding) -> Result<Self, ProtocolError> {
        match Named::of(encoding) {
            Some(named) => named.read_message(payload, Sender::Server, Self::from_fields),
            None => Self::from_bare(payload),
        }
    }

    fn from_fields(tag: &str, val: &dyn Fields<'_>) -> Result<Self, ProtocolError> {
        Ok(match tag {
            "Init" => Self::Init {
                actor_id: val.text("actorId")?.to_owned(),
                connection_id: val.text("connectionId")?.to_owned(),
            },
            "Error" => Self::Error {
                error: actor_error::read(val)?,
                action_id: val.opt_uint("actionId")?,
            },
            "ActionResponse" => Self::ActionResponse {
                id: val.uint("id")?,
                output: val.payload("output")?,
            },
            "Event" => Self::Event {
                name: val.text("name")?.to_owned(),
                args: val.payload("args")?,
            },
            other => {
                return Err(ProtocolError::UnknownMessage {
                    tag: other.to_owned(),
                });
            }
        })
    }

    fn from_bare(payload: &[u8]) -> Result<Self, ProtocolError> {
        read_bare(payload, |r, version| {
            Ok(match r.uint()? {
                0 => Self::Init {
                    actor_id: r.str()?.to_owned(),
                    connection_id: r.str()?.to_owned(),
                },
                1 => {
                    let error = actor_error::read_bare(r)?;
                    let action_id = r.optional(Reader::uint)?;
                    actor_error::skip_bare_actor(r, version)?;
                    Self::Error { error, action_id }
                }
                // Servers escape compat markers whatever version they write (the official
                // client revives them in every version it accepts).
                2 => Self::ActionResponse {
                    id: r.uint()?,
                    output: bare_in(r.data()?, PROTOCOL_VERSION)?,
                },
                3 => Self::Event {
                    name: r.str()?.to_owned(),
                    args: bare_in(r.data()?, PROTOCOL_VERSION)?,
                },
                tag => return Err(ProtocolError::UnknownTag { tag }),
            })
        })
    }
}

/// The server's half: encoding [`ToClient`], decoding [`ToServer`].
#[cfg(any(test, feature = "server"))]
mod server {
    use super::super::bare::Writer;
    use super::super::{Encoding, actor_error, bare_in, compat, read_bare};
    use super::{Field, Fields, Frame, Named, Object, ProtocolError, Sender, ToClient, ToServer};

    /// The BARE version of server WebSocket frames: v3, which rivetkit 2.2 requires and 2.3
    /// accepts (it lacks only the `actor` field of errors).
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
            match Named::of(encoding) {
                Some(named) => self.with_fields(|tag, val| named.message(tag, val, Sender::Server)),
                None => self.to_bare(version).map(Frame::Binary),
            }
        }

        /// Calls `write` with the message's tag and fields.
        fn with_fields<R>(&self, write: impl FnOnce(&str, &Object<'_>) -> R) -> R {
            match self {
                Self::Init {
                    actor_id,
                    connection_id,
                } => write(
                    "Init",
                    &[
                        ("actorId", Field::Text(actor_id)),
                        ("connectionId", Field::Text(connection_id)),
                    ],
                ),
                Self::Error { error, action_id } => {
                    let [group, code, message, metadata] = actor_error::fields(error);
                    let action_id = ("actionId", action_id.map_or(Field::Null, Field::Id));
                    write("Error", &[group, code, message, metadata, action_id])
                }
                Self::ActionResponse { id, output } => write(
                    "ActionResponse",
                    &[("id", Field::Id(*id)), ("output", Field::Payload(output))],
                ),
                Self::Event { name, args } => write(
                    "Event",
                    &[("name", Field::Text(name)), ("args", Field::Payload(args))],
                ),
            }
        }

        fn to_bare(&self, version: u16) -> Result<Vec<u8>, ProtocolError> {
            let mut w = Writer::versioned(version);
            match self {
                Self::Init {
                    actor_id,
                    connection_id,
                } => {
                    w.uint(0).str(actor_id).str(connection_id);
                }
                Self::Error { error, action_id } => {
                    w.uint(1);
                    actor_error::write_bare(&mut w, error);
                    w.optional(*action_id, |w, id| {
                        w.uint(id);
                    });
                    actor_error::write_bare_actor(&mut w, version);
                }
                // Payloads are escaped whatever the version (see `ToClient::from_bare`).
                Self::ActionResponse { id, output } => {
                    w.uint(2).uint(*id).data(&compat::escape_cbor(output)?);
                }
                Self::Event { name, args } => {
                    w.uint(3).str(name).data(&compat::escape_cbor(args)?);
                }
            }
            Ok(w.finish())
        }
    }

    impl ToServer {
        /// Decodes a message from a client.
        pub fn decode(payload: &[u8], encoding: Encoding) -> Result<Self, ProtocolError> {
            match Named::of(encoding) {
                Some(named) => named.read_message(payload, Sender::Client, Self::from_fields),
                None => Self::from_bare(payload),
            }
        }

        fn from_fields(tag: &str, val: &dyn Fields<'_>) -> Result<Self, ProtocolError> {
            match tag {
                "ActionRequest" => Ok(Self::ActionRequest {
                    id: val.uint("id")?,
                    name: val.text("name")?.to_owned(),
                    args: val.payload("args")?,
                }),
                "SubscriptionRequest" => Ok(Self::SubscriptionRequest {
                    event_name: val.text("eventName")?.to_owned(),
                    subscribe: val.bool("subscribe")?,
                }),
                other => Err(ProtocolError::UnknownMessage {
                    tag: other.to_owned(),
                }),
            }
        }

        fn from_bare(payload: &[u8]) -> Result<Self, ProtocolError> {
            read_bare(payload, |r, version| {
                Ok(match r.uint()? {
                    0 => Self::ActionRequest {
                        id: r.uint()?,
                        name: r.str()?.to_owned(),
                        args: bare_in(r.data()?, version)?,
                    },
                    1 => Self::SubscriptionRequest {
                        event_name: r.str()?.to_owned(),
                        subscribe: r.bool()?,
                    },
                    tag => return Err(ProtocolError::UnknownTag { tag }),
                })
            })
        }
    }
}
