//! Raw HTTP and WebSocket access to an actor (RivetKit's `onRequest` and `onWebSocket`), for
//! custom protocols. Requests reach `/gateway/{actor}/request/...` and sockets
//! `/gateway/{actor}/websocket/...`; the prefix is stripped, so the actor sees `/...`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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

/// The actor's end of a raw socket's outgoing queue, which holds a bounded number of
/// messages: past it the peer reads too slowly, and the socket is closed (`ws.slow_consumer`).
#[derive(Debug, Clone)]
pub(crate) struct RawOutbox {
    tx: mpsc::Sender<RawCommand>,
    overflowed: Arc<AtomicBool>,
}

/// The socket task's end of the queue.
#[derive(Debug)]
#[cfg_attr(not(feature = "server"), allow(dead_code))]
pub(crate) struct RawInbox {
    rx: mpsc::Receiver<RawCommand>,
    overflowed: Arc<AtomicBool>,
}

/// A raw socket's outgoing queue of `capacity` messages.
#[cfg_attr(not(feature = "server"), allow(dead_code))]
pub(crate) fn raw_channel(capacity: usize) -> (RawOutbox, RawInbox) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    let overflowed = Arc::new(AtomicBool::new(false));
    (
        RawOutbox {
            tx,
            overflowed: Arc::clone(&overflowed),
        },
        RawInbox { rx, overflowed },
    )
}

impl RawOutbox {
    fn send(&self, command: RawCommand) -> bool {
        match self.tx.try_send(command) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Closed(_)) => false,
            Err(mpsc::error::TrySendError::Full(_)) => {
                if !self.overflowed.swap(true, Ordering::AcqRel) {
                    tracing::warn!(
                        capacity = self.tx.max_capacity(),
                        "a raw WebSocket's peer reads too slowly: its outgoing queue is full, \
                         closing it with ws.slow_consumer"
                    );
                }
                false
            }
        }
    }
}

#[cfg_attr(not(feature = "server"), allow(dead_code))]
impl RawInbox {
    /// The next command; a `Close` with `ws.slow_consumer` once the queue overflowed.
    pub(crate) async fn recv(&mut self) -> Option<RawCommand> {
        if self.overflowed.load(Ordering::Acquire) {
            self.rx.close();
            return Some(RawCommand::Close(
                1008,
                rivet_client::codes::SLOW_CONSUMER.error().full_code(),
            ));
        }
        self.rx.recv().await
    }
}

/// A raw WebSocket held by an actor. Cheap to clone; sending never blocks.
#[derive(Debug, Clone)]
pub struct RawWebSocket {
    id: String,
    tx: RawOutbox,
}

impl RawWebSocket {
    pub(crate) fn new(id: String, tx: RawOutbox) -> Self {
        Self { id, tx }
    }

    /// The socket's id, unique within the actor.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Sends a text message. Returns `false` if the socket is closed, or closing because its
    /// peer fell too far behind (see `RegistryBuilder::outgoing_queue_limit`).
    pub fn send_text(&self, text: impl Into<String>) -> bool {
        self.tx
            .send(RawCommand::Send(RawMessage::Text(text.into())))
    }

    /// Sends a binary message. Returns `false` as [`send_text`](Self::send_text) does.
    pub fn send_binary(&self, data: impl Into<Bytes>) -> bool {
        self.tx
            .send(RawCommand::Send(RawMessage::Binary(data.into())))
    }

    /// Closes the socket with a code and reason.
    pub fn close(&self, code: u16, reason: impl Into<String>) {
        let _ = self.tx.send(RawCommand::Close(code, reason.into()));
    }

    /// Whether the socket is closed.
    pub fn is_closed(&self) -> bool {
        self.tx.tx.is_closed()
    }
}
