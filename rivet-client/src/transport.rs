//! The seam between typed handles and the wire: in-process, HTTP or WebSocket.

use std::borrow::Cow;
use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
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

/// Where a transport delivers a connection's messages.
pub type ConnSender = mpsc::UnboundedSender<ConnMessage>;

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
