//! The seam between typed handles and the wire: in-process, HTTP or WebSocket.

use std::borrow::Cow;
use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::error::ActorError;
use crate::key::ActorKey;

/// A boxed, sendable future, the return type of transport methods.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An actor's address: its type name and key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ActorAddr {
    /// The registered name of the actor type, such as `counter`.
    pub name: String,
    /// The key within that type.
    pub key: ActorKey,
}

/// What a handle points at, and how it is resolved.
#[derive(Debug, Clone)]
pub enum ActorTarget {
    /// An existing actor; calls fail with `actor.not_found` when there is none.
    Get(ActorAddr),
    /// The actor at this address, created with `input` (CBOR) when it does not exist.
    GetOrCreate {
        /// The address.
        addr: ActorAddr,
        /// CBOR creation input, used only when the actor is created.
        input: Option<Bytes>,
    },
    /// One actor by id, whatever its key.
    Id {
        /// The registered name of the actor type.
        name: String,
        /// The actor id.
        id: String,
    },
}

impl ActorTarget {
    /// The actor type name.
    pub fn name(&self) -> &str {
        match self {
            Self::Get(addr) | Self::GetOrCreate { addr, .. } => &addr.name,
            Self::Id { name, .. } => name,
        }
    }
}

/// What a queue send came back with.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum QueueSendOutcome {
    /// The message is stored; nobody waited for it to be processed.
    Queued,
    /// A handler completed the message with this CBOR value (`None`: no value).
    Completed(Option<Bytes>),
    /// The wait timed out; the message stays queued.
    TimedOut,
}

/// What a connection receives from its actor.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ConnMessage {
    /// An event: its wire name and its arguments as a CBOR array.
    Event {
        /// The event's wire name.
        name: Arc<str>,
        /// The event's arguments, a CBOR array.
        args: Bytes,
    },
    /// The connection was closed by the actor or the transport, with the reason when it was an error.
    Closed(Option<ActorError>),
    /// The result of an action sent through the connection, for transports that carry replies
    /// in the same ordered stream as events (the WebSocket server).
    ActionResponse {
        /// The client's action id.
        id: u64,
        /// The CBOR output, or the error.
        result: Result<Bytes, ActorError>,
    },
}

impl ConnMessage {
    /// The bytes a message holds, counted against a bounded queue's byte limit.
    fn weight(&self) -> usize {
        match self {
            Self::Event { name, args } => name.len() + args.len(),
            Self::ActionResponse {
                result: Ok(output), ..
            } => output.len(),
            Self::ActionResponse {
                result: Err(error), ..
            } => error.message.len(),
            Self::Closed(_) => 0,
        }
    }
}

/// Where a transport delivers a connection's messages: the sending half of a queue made by
/// [`conn_channel`] (unbounded) or [`bounded_conn_channel`].
///
/// ```
/// use rivet_client::transport::{ConnMessage, bounded_conn_channel};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let (sink, mut messages) = bounded_conn_channel(1, 1024);
/// let event = || ConnMessage::Event { name: "tick".into(), args: vec![0x80].into() };
/// assert!(sink.send(event()).is_ok());
/// // A second message before the first was taken: the consumer is too slow.
/// assert!(sink.send(event()).is_err());
/// let ConnMessage::Closed(Some(error)) = messages.recv().await.unwrap() else { panic!() };
/// assert_eq!(error.full_code(), "ws.slow_consumer");
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ConnSender {
    tx: mpsc::UnboundedSender<ConnMessage>,
    backlog: Option<Arc<Backlog>>,
}

/// The receiving half of a connection's queue.
#[derive(Debug)]
pub struct ConnReceiver {
    rx: mpsc::UnboundedReceiver<ConnMessage>,
    backlog: Option<Arc<Backlog>>,
    told_overflow: bool,
}

/// What a bounded queue holds, and whether it overflowed.
#[derive(Debug)]
struct Backlog {
    messages: AtomicUsize,
    bytes: AtomicUsize,
    max_messages: usize,
    max_bytes: usize,
    overflowed: AtomicBool,
}

/// An unbounded connection queue, for consumers that keep up by construction (an in-process
/// client's dispatch task).
pub fn conn_channel() -> (ConnSender, ConnReceiver) {
    make_conn_channel(None)
}

/// A connection queue that holds at most `max_messages` messages and `max_bytes` bytes of
/// events and action responses. A message that would pass either bound is dropped and the
/// connection is closed: the receiver's next message is `Closed` with `ws.slow_consumer`,
/// since a consumer that falls this far behind would otherwise grow the sender's memory
/// without limit. `Closed` messages are never refused.
pub fn bounded_conn_channel(max_messages: usize, max_bytes: usize) -> (ConnSender, ConnReceiver) {
    make_conn_channel(Some(Arc::new(Backlog {
        messages: AtomicUsize::new(0),
        bytes: AtomicUsize::new(0),
        max_messages,
        max_bytes,
        overflowed: AtomicBool::new(false),
    })))
}

fn make_conn_channel(backlog: Option<Arc<Backlog>>) -> (ConnSender, ConnReceiver) {
    let (tx, rx) = mpsc::unbounded_channel();
    (
        ConnSender {
            tx,
            backlog: backlog.clone(),
        },
        ConnReceiver {
            rx,
            backlog,
            told_overflow: false,
        },
    )
}

impl ConnSender {
    /// Queues a message; gives it back when the receiver is gone or the queue is full (which
    /// closes the connection, see [`bounded_conn_channel`]).
    #[allow(clippy::result_large_err)]
    pub fn send(&self, message: ConnMessage) -> Result<(), ConnMessage> {
        let Some(backlog) = &self.backlog else {
            return self.tx.send(message).map_err(|e| e.0);
        };
        if matches!(message, ConnMessage::Closed(_)) {
            return self.tx.send(message).map_err(|e| e.0);
        }
        if backlog.overflowed.load(Ordering::Acquire) {
            return Err(message);
        }
        let weight = message.weight();
        let messages = backlog.messages.fetch_add(1, Ordering::AcqRel) + 1;
        let bytes = backlog.bytes.fetch_add(weight, Ordering::AcqRel) + weight;
        if messages > backlog.max_messages || bytes > backlog.max_bytes {
            backlog.messages.fetch_sub(1, Ordering::AcqRel);
            backlog.bytes.fetch_sub(weight, Ordering::AcqRel);
            if !backlog.overflowed.swap(true, Ordering::AcqRel) {
                tracing::warn!(
                    max_messages = backlog.max_messages,
                    max_bytes = backlog.max_bytes,
                    "a connection's client reads too slowly: its outgoing queue is full, closing \
                     it with ws.slow_consumer"
                );
                // Wakes a receiver that waits for a message.
                let _ = self.tx.send(ConnMessage::Closed(Some(slow_consumer())));
            }
            return Err(message);
        }
        self.tx.send(message).map_err(|e| {
            backlog.messages.fetch_sub(1, Ordering::AcqRel);
            backlog.bytes.fetch_sub(weight, Ordering::AcqRel);
            e.0
        })
    }

    /// Whether the receiver is gone.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

fn slow_consumer() -> ActorError {
    crate::codes::SLOW_CONSUMER.error()
}

impl ConnReceiver {
    /// The next message; `None` once every sender is gone. After an overflow the next message
    /// is the `Closed` that ends the connection, ahead of what was queued.
    pub async fn recv(&mut self) -> Option<ConnMessage> {
        if let Some(ended) = self.overflow() {
            return ended;
        }
        let message = self.rx.recv().await?;
        Some(self.taken(message))
    }

    /// The next message if one is waiting, as [`recv`](Self::recv) but without waiting.
    pub fn try_recv(&mut self) -> Result<ConnMessage, mpsc::error::TryRecvError> {
        if let Some(ended) = self.overflow() {
            return ended.ok_or(mpsc::error::TryRecvError::Disconnected);
        }
        let message = self.rx.try_recv()?;
        Ok(self.taken(message))
    }

    /// After an overflow: the `Closed` that ends the connection once, then the end (`None`).
    /// `None` (no answer) while the queue has not overflowed.
    fn overflow(&mut self) -> Option<Option<ConnMessage>> {
        let overflowed = self
            .backlog
            .as_ref()
            .is_some_and(|b| b.overflowed.load(Ordering::Acquire));
        if !overflowed {
            return None;
        }
        let first = !std::mem::replace(&mut self.told_overflow, true);
        Some(first.then(|| ConnMessage::Closed(Some(slow_consumer()))))
    }

    /// Frees a taken message's room in the queue.
    fn taken(&self, message: ConnMessage) -> ConnMessage {
        if let Some(backlog) = &self.backlog
            && !matches!(message, ConnMessage::Closed(_))
        {
            backlog.messages.fetch_sub(1, Ordering::AcqRel);
            backlog.bytes.fetch_sub(message.weight(), Ordering::AcqRel);
        }
        message
    }
}

/// A way to reach actors. The typed stubs that `#[actor]` generates call only this trait, so the
/// same `CounterClient` works in-process and over the network.
///
/// Payloads are CBOR: `args` is an array, outputs and queue bodies are single values.
pub trait Transport: Send + Sync + Debug + 'static {
    /// Runs an action and returns its CBOR output. Names are usually the `&'static str` wire
    /// names of generated stubs, which travel without a copy.
    fn action<'a>(
        &'a self,
        target: &'a ActorTarget,
        params: Option<&'a Bytes>,
        name: Cow<'static, str>,
        args: Bytes,
    ) -> BoxFuture<'a, Result<Bytes, ActorError>>;

    /// Sends a queue message; with `wait`, waits up to that long for its completion.
    fn queue_send<'a>(
        &'a self,
        target: &'a ActorTarget,
        name: &'a str,
        body: Bytes,
        wait: Option<Duration>,
    ) -> BoxFuture<'a, Result<QueueSendOutcome, ActorError>>;

    /// Resolves the target to an actor id (creating the actor for `GetOrCreate`).
    fn resolve<'a>(&'a self, target: &'a ActorTarget) -> BoxFuture<'a, Result<String, ActorError>>;

    /// Creates a new actor; fails with `actor.duplicate_key` when the key is taken.
    fn create<'a>(
        &'a self,
        addr: &'a ActorAddr,
        input: Option<Bytes>,
    ) -> BoxFuture<'a, Result<String, ActorError>>;

    /// Opens a connection; its events and closing are delivered to `sink`.
    fn connect<'a>(
        &'a self,
        target: &'a ActorTarget,
        params: Option<&'a Bytes>,
        sink: ConnSender,
    ) -> BoxFuture<'a, Result<Arc<dyn ConnectionTransport>, ActorError>>;
}

/// One open connection to an actor, as a transport provides it.
pub trait ConnectionTransport: Send + Sync + Debug + 'static {
    /// Runs an action through this connection.
    fn action<'a>(
        &'a self,
        name: Cow<'static, str>,
        args: Bytes,
    ) -> BoxFuture<'a, Result<Bytes, ActorError>>;
    /// Subscribes to (or unsubscribes from) an event by wire name.
    fn set_subscription(&self, event: &str, subscribe: bool);
    /// Closes the connection.
    fn close(&self);
    /// The id of the actor this connection is attached to.
    fn actor_id(&self) -> &str;
    /// The id the actor gave this connection (it changes when a connection reconnects).
    fn connection_id(&self) -> String;
}
