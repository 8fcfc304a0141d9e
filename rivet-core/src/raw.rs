//! Raw HTTP and WebSocket access to an actor (RivetKit's `onRequest` and `onWebSocket`), for
//! custom protocols. Requests reach `/gateway/{actor}/request/...` and sockets
//! `/gateway/{actor}/websocket/...`; the prefix is stripped, so the actor sees `/...`.

use bytes::Bytes;
use tokio::sync::mpsc;

/// An HTTP request to an actor's `#[on_request]` hook.
pub type Request = http::Request<Bytes>;
/// The response an `#[on_request]` hook returns.
pub type Response = http::Response<Bytes>;

/// Something that happened on a raw WebSocket, delivered to `#[on_websocket]` one at a time,
/// like every other turn of the actor.
#[derive(Debug)]
#[non_exhaustive]
pub enum WebSocketEvent {
    /// A socket opened. Keep the [`RawWebSocket`] (for example in the vars) to send on it.
    Open {
        /// The socket.
        socket: RawWebSocket,
        /// The upgrade request (path after `/websocket`, query, headers).
        request: http::Request<()>,
    },
    /// A message arrived.
    Message {
        /// The socket it arrived on.
        socket: RawWebSocket,
        /// The message.
        message: RawMessage,
    },
    /// The socket closed.
    Close {
        /// The socket.
        socket: RawWebSocket,
        /// The close code the peer sent, if any.
        code: Option<u16>,
        /// The close reason.
        reason: String,
    },
}

/// A WebSocket message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawMessage {
    /// A text frame.
    Text(String),
    /// A binary frame.
    Binary(Bytes),
}

/// What an actor asks of a raw socket.
#[derive(Debug)]
#[cfg_attr(not(feature = "server"), allow(dead_code))]
pub(crate) enum RawCommand {
    Send(RawMessage),
    Close(u16, String),
}

/// A raw WebSocket held by an actor. Cheap to clone; sending never blocks.
#[derive(Debug, Clone)]
pub struct RawWebSocket {
    id: String,
    tx: mpsc::UnboundedSender<RawCommand>,
}

impl RawWebSocket {
    pub(crate) fn new(id: String, tx: mpsc::UnboundedSender<RawCommand>) -> Self {
        Self { id, tx }
    }

    /// The socket's id, unique within the actor.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Sends a text message. Returns `false` if the socket is closed.
    pub fn send_text(&self, text: impl Into<String>) -> bool {
        self.tx
            .send(RawCommand::Send(RawMessage::Text(text.into())))
            .is_ok()
    }

    /// Sends a binary message. Returns `false` if the socket is closed.
    pub fn send_binary(&self, data: impl Into<Bytes>) -> bool {
        self.tx
            .send(RawCommand::Send(RawMessage::Binary(data.into())))
            .is_ok()
    }

    /// Closes the socket with a code and reason.
    pub fn close(&self, code: u16, reason: impl Into<String>) {
        let _ = self.tx.send(RawCommand::Close(code, reason.into()));
    }

    /// Whether the socket is closed.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}
