//! The contexts actor code receives: [`Cx`] in actions, queue handlers and hooks, [`CreateCx`]
//! while the state and vars are built.

use std::collections::{HashMap, HashSet};
use std::marker::PhantomData;
use std::sync::{Arc, Weak};

use bytes::Bytes;
use rivet_client::transport::ConnSender;
use rivet_client::{ActorError, ActorKey, Client};
use serde::de::DeserializeOwned;

use crate::actor::{Actor, EventSet};
use crate::kv::Kv;
use crate::registry::{LocalTransport, RegistryInner};
use crate::schedule::{Schedule, Schedules};

/// Who an actor is: shared by its contexts.
#[derive(Debug)]
pub(crate) struct ActorIdentity {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) key: ActorKey,
    pub(crate) registry: Weak<RegistryInner>,
    /// The actor's id in storage.
    pub(crate) storage_id: i64,
    /// The running workflow's history, once `RunCx::workflow` loaded it in this activation.
    pub(crate) workflow: std::sync::Mutex<Option<Arc<std::sync::Mutex<crate::workflow::Engine>>>>,
}

/// The context of `#[create]` and `#[vars]`: who the actor is, before its state exists.
#[derive(Debug)]
pub struct CreateCx {
    identity: Arc<ActorIdentity>,
}

impl CreateCx {
    pub(crate) fn new(identity: Arc<ActorIdentity>) -> Self {
        Self { identity }
    }

    /// The actor's id.
    pub fn actor_id(&self) -> &str {
        &self.identity.id
    }

    /// The actor type's registered name.
    pub fn name(&self) -> &str {
        &self.identity.name
    }

    /// The actor's key.
    pub fn key(&self) -> &ActorKey {
        &self.identity.key
    }
}

/// The context of actions, queue handlers and hooks of actor `A`.
///
/// It gives the actor's identity, its ephemeral vars, events ([`broadcast`](Self::broadcast)),
/// connections, lifecycle requests ([`sleep`](Self::sleep), [`destroy`](Self::destroy)) and an
/// in-process [`Client`] for calling other actors.
pub struct Cx<A: Actor> {
    identity: Arc<ActorIdentity>,
    vars: A::Vars,
    pub(crate) turn: TurnEffects,
    pub(crate) conns: HashMap<String, Conn<A::ConnState>>,
    pub(crate) current_conn: Option<String>,
    /// Open raw WebSockets; like connections, they keep the actor awake.
    pub(crate) raw_sockets: HashMap<String, crate::raw::RawWebSocket>,
    pub(crate) kv: Kv,
    pub(crate) schedules: Schedules,
    pub(crate) awake: Arc<AwakeHolds>,
    #[cfg(feature = "sqlite")]
    pub(crate) db: Option<crate::db::Db>,
    /// The actors whose turns wait on the call running now (see [`client`](Self::client)).
    pub(crate) chain: Option<crate::host::CallChain>,
    _actor: PhantomData<fn() -> A>,
}

/// What a turn asked for besides its state change; applied only if the turn succeeds.
#[derive(Default)]
pub(crate) struct TurnEffects {
    /// Broadcasts: to every subscribed connection.
    pub(crate) events: Vec<(&'static str, Bytes)>,
    /// Events for one connection each (`cx.send`), subscribed or not.
    pub(crate) direct: Vec<(String, &'static str, Bytes)>,
    /// Connections to close, with the reason.
    pub(crate) disconnects: Vec<(String, Option<ActorError>)>,
    pub(crate) sleep: bool,
    pub(crate) destroy: bool,
    /// Raw writes of the workflow engine (its history), committed with the turn.
    pub(crate) raw_writes: crate::storage::Batch,
    /// Run-loop messages the turn takes out of the queue for good (a workflow recorded them);
    /// a waiting sender keeps waiting for an answer.
    pub(crate) queue_takes: Vec<u64>,
    /// Answers to waiting senders of taken messages, sent once the turn commits.
    pub(crate) queue_answers: Vec<(u64, Option<Bytes>)>,
    /// Messages a workflow took and gives back (a decided race's losing branch had received
    /// them): stored and queued again in id order; a waiting sender keeps waiting.
    pub(crate) queue_returns: Vec<crate::run::Message>,
    /// The workflow engine's part of the turn, run once the turn's state change is accepted
    /// for commit: it updates the engine and adds its writes, takes, answers and wake-ups.
    pub(crate) workflow: Option<WorkflowApply>,
}

/// See [`TurnEffects::workflow`].
pub(crate) type WorkflowApply = Box<dyn FnOnce(&mut TurnEffects, &mut Schedules) + Send + Sync>;

impl<A: Actor> Cx<A> {
    pub(crate) fn new(identity: Arc<ActorIdentity>, vars: A::Vars, kv: Kv) -> Self {
        Self {
            identity,
            vars,
            turn: TurnEffects::default(),
            conns: HashMap::new(),
            current_conn: None,
            raw_sockets: HashMap::new(),
            kv,
            schedules: Schedules::default(),
            awake: Arc::new(AwakeHolds::default()),
            #[cfg(feature = "sqlite")]
            db: None,
            chain: None,
            _actor: PhantomData,
        }
    }

    /// The actor's own SQLite database (see [`Db`](crate::db::Db)); `db.not_configured` unless
    /// the actor declares `#[actor(migrations = ...)]`.
    #[cfg(feature = "sqlite")]
    pub fn db(&mut self) -> Result<&mut crate::db::Db, crate::Error> {
        self.db
            .as_mut()
            .ok_or_else(|| crate::Error::public(crate::db::codes::NOT_CONFIGURED.error()))
    }

    /// Schedules calls of this actor's own actions (see [`Schedule`]); build them with the
    /// generated `{Actor}Call`.
    pub fn schedule(&mut self) -> Schedule<'_, A> {
        Schedule::new(&mut self.schedules)
    }

    /// The actor's key-value store: binary keys and values, as many as needed, written with the
    /// turn (see [`Kv`]).
    pub fn kv(&mut self) -> &mut Kv {
        &mut self.kv
    }

    /// The history of the actor's [workflow](crate::workflow) as data (for an inspector or a
    /// status action): `None` until the `#[run]` loop started its workflow in this activation.
    pub fn workflow_history(&self) -> Option<crate::workflow::WorkflowHistory> {
        let engine = self
            .identity
            .workflow
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        engine.map(|engine| crate::workflow::history_of(&engine))
    }

    /// The actor's id.
    pub fn actor_id(&self) -> &str {
        &self.identity.id
    }

    /// The actor type's registered name.
    pub fn name(&self) -> &str {
        &self.identity.name
    }

    /// The actor's key.
    pub fn key(&self) -> &ActorKey {
        &self.identity.key
    }

    pub(crate) fn identity(&self) -> &Arc<ActorIdentity> {
        &self.identity
    }

    /// The ephemeral vars: lost on sleep and rebuilt by `#[vars]` on wake.
    pub fn vars(&self) -> &A::Vars {
        &self.vars
    }

    /// The ephemeral vars, mutably.
    pub fn vars_mut(&mut self) -> &mut A::Vars {
        &mut self.vars
    }

    /// Sends an event to every connection subscribed to it.
    ///
    /// Events leave after the turn's state change is committed, and not at all if the turn
    /// fails, so no client ever sees an event about a change that was lost.
    pub fn broadcast(&mut self, event: A::Event) {
        let name = event.name();
        if !self.conns.values().any(|c| c.subscriptions.contains(name)) {
            // Nobody listens: skip the encoding.
            return;
        }
        match event.encode_args() {
            Ok(args) => self.turn.events.push((event.name(), args)),
            Err(error) => {
                tracing::error!(event = event.name(), %error, "cannot encode event; not sent")
            }
        }
    }

    /// Asks the actor to sleep once this turn is done. It wakes again on the next request.
    /// Work holding a [`keep_awake`](Self::keep_awake) guard gets the grace period to finish.
    pub fn sleep(&mut self) {
        self.turn.sleep = true;
    }

    /// Keeps the actor awake while the returned guard lives, for work in progress outside a
    /// turn (RivetKit's `keepAwake`): the idle timeout does not put it to sleep, and a sleep or
    /// shutdown waits for the guard up to the grace period
    /// ([`RegistryBuilder::sleep_grace_period`](crate::RegistryBuilder::sleep_grace_period)).
    ///
    /// ```
    /// use rivet_core::prelude::*;
    ///
    /// #[derive(Default, Serialize, Deserialize)]
    /// pub struct Uploader;
    ///
    /// #[actor(name = "uploader")]
    /// impl Uploader {
    ///     #[action]
    ///     fn start_upload(&self, cx: &mut Cx<Self>, url: String) {
    ///         let awake = cx.keep_awake();
    ///         tokio::spawn(async move {
    ///             let _ = url; // ... the upload ...
    ///             drop(awake);
    ///         });
    ///     }
    /// }
    /// ```
    pub fn keep_awake(&self) -> KeepAwake {
        KeepAwake::new(&self.awake)
    }

    /// Destroys the actor once this turn is done: `#[on_destroy]` runs, then its state and data are
    /// deleted and every later request for it fails with `actor.not_found`.
    pub fn destroy(&mut self) {
        self.turn.destroy = true;
    }

    /// Sends an event to one connection, whether or not it subscribed (RivetKit's
    /// `conn.send`). Like broadcasts, it leaves after the turn commits.
    pub fn send(&mut self, conn_id: &str, event: A::Event) {
        if !self.conns.contains_key(conn_id) {
            return;
        }
        match event.encode_args() {
            Ok(args) => self
                .turn
                .direct
                .push((conn_id.to_owned(), event.name(), args)),
            Err(error) => {
                tracing::error!(event = event.name(), %error, "cannot encode event; not sent")
            }
        }
    }

    /// Closes a connection after this turn (RivetKit's `conn.disconnect(reason)`); the client
    /// receives the reason as an error if one is given.
    pub fn disconnect(&mut self, conn_id: &str, reason: Option<ActorError>) {
        self.turn.disconnects.push((conn_id.to_owned(), reason));
    }

    /// The connection this action came through, if it came through one (HTTP actions get a
    /// connection that lasts for the call).
    pub fn conn(&self) -> Option<&Conn<A::ConnState>> {
        self.current_conn.as_ref().and_then(|id| self.conns.get(id))
    }

    /// The connection this action came through, mutably (to change its state).
    pub fn conn_mut(&mut self) -> Option<&mut Conn<A::ConnState>> {
        self.current_conn
            .as_ref()
            .and_then(|id| self.conns.get_mut(id))
    }

    /// Every open connection.
    pub fn conns(&self) -> impl Iterator<Item = &Conn<A::ConnState>> {
        self.conns.values()
    }

    /// Every open connection, mutably.
    pub fn conns_mut(&mut self) -> impl Iterator<Item = &mut Conn<A::ConnState>> {
        self.conns.values_mut()
    }

    /// The open raw WebSockets (see [`raw`](crate::raw)).
    pub fn raw_sockets(&self) -> impl Iterator<Item = &crate::raw::RawWebSocket> {
        self.raw_sockets.values()
    }

    /// A client for calling other actors in-process, with their typed `{Actor}Client`s.
    ///
    /// While this turn awaits such a call the actor takes no other message, so the call must
    /// not come back to it: when A calls B and B (directly or through others) calls A, the call
    /// back fails at once with `actor.call_cycle` instead of waiting out the action timeout.
    /// To let B answer A later, have B send to A's queue, or schedule the work.
    pub fn client(&self) -> Client {
        let mut chain: Vec<Arc<str>> = self
            .chain
            .as_deref()
            .map(<[Arc<str>]>::to_vec)
            .unwrap_or_default();
        chain.push(Arc::from(self.identity.id.as_str()));
        Client::from_transport(Arc::new(LocalTransport::for_actor(
            self.identity.registry.clone(),
            chain.into(),
        )))
    }
}

impl<A: Actor> std::fmt::Debug for Cx<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cx")
            .field("actor_id", &self.identity.id)
            .field("name", &self.identity.name)
            .field("key", &self.identity.key)
            .field("conns", &self.conns.len())
            .finish_non_exhaustive()
    }
}

/// How a connection reaches the actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnKind {
    /// A WebSocket (`/connect`).
    WebSocket,
    /// A stateless call, over HTTP or from an in-process handle: the connection lasts for the
    /// call.
    Http,
    /// An in-process connection (`registry.client()` or `cx.client()`).
    InProcess,
}

/// A client connection to this actor, with its state `S` (from `#[conn_state]`).
#[derive(Debug)]
pub struct Conn<S> {
    id: String,
    params: Option<Bytes>,
    state: S,
    kind: ConnKind,
    pub(crate) subscriptions: HashSet<String>,
    pub(crate) sink: ConnSender,
}

impl<S> Conn<S> {
    pub(crate) fn new(
        id: String,
        params: Option<Bytes>,
        state: S,
        kind: ConnKind,
        sink: ConnSender,
    ) -> Self {
        Self {
            id,
            params,
            state,
            kind,
            subscriptions: HashSet::new(),
            sink,
        }
    }

    /// The connection id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// How the connection reaches the actor.
    pub fn kind(&self) -> ConnKind {
        self.kind
    }

    /// The connection's state.
    pub fn state(&self) -> &S {
        &self.state
    }

    /// The connection's state, mutably.
    pub fn state_mut(&mut self) -> &mut S {
        &mut self.state
    }

    /// The connection parameters the client gave, decoded as `T` (`None` if it gave none).
    pub fn params<T: DeserializeOwned>(&self) -> Result<Option<T>, crate::Error> {
        self.params
            .as_deref()
            .map(|p| {
                rivet_client::codec::from_cbor(p).map_err(|e| {
                    crate::Error::public(
                        rivet_client::codes::VALIDATION_ERROR
                            .with_message(format!("invalid connection parameters: {e}")),
                    )
                })
            })
            .transpose()
    }

    /// Whether the connection subscribed to the event with this wire name.
    pub fn is_subscribed(&self, event: &str) -> bool {
        self.subscriptions.contains(event)
    }
}

/// The [`KeepAwake`] guards alive for one actor.
#[derive(Debug, Default)]
pub(crate) struct AwakeHolds {
    count: std::sync::atomic::AtomicUsize,
    released: tokio::sync::Notify,
}

impl AwakeHolds {
    /// Whether no guard is alive.
    pub(crate) fn idle(&self) -> bool {
        self.count.load(std::sync::atomic::Ordering::Acquire) == 0
    }

    /// Waits until no guard is alive.
    pub(crate) async fn until_idle(&self) {
        loop {
            let released = self.released.notified();
            if self.idle() {
                return;
            }
            released.await;
        }
    }
}

/// Keeps its actor awake while it lives; see [`Cx::keep_awake`].
#[derive(Debug)]
#[must_use = "the actor may sleep as soon as the guard is dropped"]
pub struct KeepAwake {
    holds: Arc<AwakeHolds>,
}

impl KeepAwake {
    pub(crate) fn new(holds: &Arc<AwakeHolds>) -> Self {
        holds
            .count
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        Self {
            holds: Arc::clone(holds),
        }
    }
}

impl Drop for KeepAwake {
    fn drop(&mut self) {
        if self
            .holds
            .count
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel)
            == 1
        {
            self.holds.released.notify_waiters();
        }
    }
}
