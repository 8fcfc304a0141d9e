//! An actor's mailbox: the messages the registry, the in-process transport and the server send
//! to an awake actor's host, and where their answers go.

use std::borrow::Cow;
use std::sync::Arc;

use bytes::Bytes;
use rivet_client::transport::{ConnMessage, ConnSender, QueueSendOutcome};
use rivet_client::{ActorError, codes};
use tokio::sync::{mpsc, oneshot};

use crate::conn::ConnKind;
use crate::raw::{self, RawMessage, RawWebSocket};
use crate::trace::TraceParent;

/// An actor's mailbox. Messages are boxed: a tokio channel allocates its slots 32 at a time,
/// so a small element keeps an idle actor's mailbox small.
pub(crate) type Mailbox = mpsc::UnboundedSender<Box<Envelope>>;
/// The receiving end of a [`Mailbox`].
pub(crate) type MailboxRx = mpsc::UnboundedReceiver<Box<Envelope>>;

/// Ids of the actors whose turns are waiting, one on the next, for a call.
pub(crate) type CallChain = Arc<[Arc<str>]>;

/// The error of a call to `target`, an actor in `chain`: it is busy with the turn that waits
/// for this call, so the call could only time out.
pub(crate) fn call_cycle(target: &str, chain: &[Arc<str>]) -> ActorError {
    let path: Vec<&str> = chain.iter().map(|id| &**id).collect();
    codes::CALL_CYCLE.with_message(format!(
        "Actor `{target}` is waiting for this call (call path: {} -> {target}); an actor cannot be called back while its turn waits on the call.",
        path.join(" -> ")
    ))
}

/// Where an action's result goes.
#[derive(Debug)]
#[cfg_attr(not(feature = "server"), allow(dead_code))]
pub(crate) enum ReplyTo {
    /// A waiting caller.
    Oneshot(oneshot::Sender<Result<Bytes, ActorError>>),
    /// A connection's stream, after the turn's events, so a client sees them in order.
    Conn { sink: ConnSender, id: u64 },
}

impl ReplyTo {
    pub(crate) fn send(self, result: Result<Bytes, ActorError>) {
        match self {
            Self::Oneshot(tx) => {
                let _ = tx.send(result);
            }
            Self::Conn { sink, id } => {
                let _ = sink.send(ConnMessage::ActionResponse { id, result });
            }
        }
    }
}

/// Which connection an action runs in.
#[derive(Debug)]
pub(crate) enum ConnRef {
    /// An open connection.
    Id(String),
    /// A connection for the length of one call (stateless calls); the host skips it when the
    /// actor has no connection hooks to observe it.
    Ephemeral {
        params: Option<Bytes>,
        /// The HTTP request that carries the call, when it came over HTTP.
        request: Option<Box<http::Request<()>>>,
    },
}

/// An event on a raw WebSocket, as the server hands it to the actor.
#[derive(Debug)]
#[cfg_attr(not(feature = "server"), allow(dead_code))]
pub(crate) enum RawSocketEnvelope {
    Open {
        id: String,
        request: Box<http::Request<()>>,
        commands: raw::RawOutbox,
    },
    Message {
        id: String,
        message: RawMessage,
    },
    Close {
        id: String,
        code: Option<u16>,
        reason: String,
    },
}

/// A message to an actor's mailbox.
#[derive(Debug)]
#[cfg_attr(not(feature = "server"), allow(dead_code))]
pub(crate) enum Envelope {
    Action {
        name: Cow<'static, str>,
        args: Bytes,
        conn: ConnRef,
        reply: ReplyTo,
        /// The actors whose turns wait for this call, when it comes from actor code.
        chain: Option<CallChain>,
        /// The caller's trace (`traceparent`), which the turn continues.
        trace: Option<TraceParent>,
    },
    Queue {
        name: String,
        body: Bytes,
        wait: bool,
        reply: oneshot::Sender<Result<QueueSendOutcome, ActorError>>,
    },
    Connect {
        params: Option<Bytes>,
        /// The request that opened it (the WebSocket upgrade), when it came over the network.
        request: Option<Box<http::Request<()>>>,
        kind: ConnKind,
        sink: ConnSender,
        reply: oneshot::Sender<Result<String, ActorError>>,
    },
    Subscribe {
        conn: String,
        event: String,
        subscribe: bool,
    },
    Disconnect {
        conn: String,
    },
    Request {
        request: raw::Request,
        reply: oneshot::Sender<Result<raw::Response, ActorError>>,
    },
    RawSocket(RawSocketEnvelope),
    Ping {
        reply: oneshot::Sender<Result<(), ActorError>>,
    },
    /// An inspector request (`/gateway/{actor}/inspector/...`), answered with its JSON.
    Inspect {
        request: Inspect,
        reply: oneshot::Sender<Result<serde_json::Value, ActorError>>,
    },
    /// The inspector's live view (its WebSocket): answered with a receiver of the actor's
    /// [`Revisions`], which changes after each turn that changed what it covers. The actor
    /// stays awake while one is held.
    Watch {
        reply: oneshot::Sender<Result<tokio::sync::watch::Receiver<Revisions>, ActorError>>,
    },
    /// Destroy the actor (the REST API's `DELETE /actors/{id}`); answered once it is gone.
    Destroy {
        reply: oneshot::Sender<Result<(), ActorError>>,
    },
    /// The registry is shutting down: sleep after the messages before this one.
    Shutdown,
    /// Sleep after the messages before this one, as an idle actor does (runner mode: the engine
    /// stops the actor here, to start it again later or elsewhere).
    #[cfg_attr(not(feature = "engine"), allow(dead_code))]
    Sleep,
}

impl Envelope {
    /// Answers the sender with `error` instead of running.
    pub(crate) fn fail(self, error: ActorError) {
        match self {
            Self::Action { reply, .. } => reply.send(Err(error)),
            Self::Queue { reply, .. } => {
                let _ = reply.send(Err(error));
            }
            Self::Connect { reply, .. } => {
                let _ = reply.send(Err(error));
            }
            Self::Request { reply, .. } => {
                let _ = reply.send(Err(error));
            }
            Self::RawSocket(RawSocketEnvelope::Open { commands, .. }) => {
                RawWebSocket::new(String::new(), commands).close(1011, error.full_code());
            }
            Self::Ping { reply } | Self::Destroy { reply } => {
                let _ = reply.send(Err(error));
            }
            Self::Inspect { reply, .. } => {
                let _ = reply.send(Err(error));
            }
            Self::Watch { reply } => {
                let _ = reply.send(Err(error));
            }
            Self::Subscribe { .. }
            | Self::Disconnect { .. }
            | Self::RawSocket(_)
            | Self::Shutdown
            | Self::Sleep => {}
        }
    }
}

/// What the inspector asks an awake actor.
#[derive(Debug)]
#[cfg_attr(not(feature = "server"), allow(dead_code))]
pub(crate) enum Inspect {
    /// State, connections, actions and queue size at once.
    Summary,
    /// The state as JSON.
    State,
    /// Replace the state (CBOR), committed like a turn.
    SetState(Bytes),
    /// The open connections.
    Connections,
    /// The queue: its size, and up to `limit` of its messages, oldest first.
    Queue { limit: usize },
    /// Send a message to queue `name` (CBOR `body`), answered once stored.
    Enqueue { name: String, body: Bytes },
    /// Remove every waiting message.
    Purge,
    /// The database's tables, their columns, foreign keys and row counts.
    DbSchema,
    /// Rows of `table`, from `offset`, at most `limit`.
    DbRows {
        table: String,
        limit: usize,
        offset: usize,
    },
    /// One SQL statement with its arguments (a JSON array), run as a turn.
    DbExecute {
        sql: String,
        args: serde_json::Value,
    },
    /// The workflow's history, in RivetKit's shape.
    WorkflowHistory,
    /// Run a finished workflow again from step `entry_id` (from its start without one): the
    /// entries from there on are deleted and the run loop starts again; answered with the
    /// history that is left.
    WorkflowReplay { entry_id: Option<String> },
    /// The actor's recent spans in the window, as OTLP JSON.
    Traces(crate::trace::TraceQuery),
    /// The scheduled calls, earliest first.
    Schedules,
    /// Cancel a scheduled call, committed like a turn; answers whether it existed.
    CancelSchedule(String),
}

/// Fingerprints of what the inspector shows of an awake actor: one changes when that part
/// changes (a collision would only skip one live update).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Revisions {
    pub(crate) state: u64,
    pub(crate) connections: u64,
    pub(crate) queue: u64,
    pub(crate) workflow: u64,
    pub(crate) schedules: u64,
}

/// What happens to messages that reach an activation after it stopped.
#[derive(Debug)]
pub(crate) enum Leftovers {
    /// Deliver them again, waking a new activation if needed.
    Redeliver,
    /// Fail them with this error.
    Fail(ActorError),
}
