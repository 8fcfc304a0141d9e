//! The contexts actor code receives: [`Cx`] in actions, queue handlers and hooks, [`CreateCx`]
//! while the state and vars are built.

use std::marker::PhantomData;
use std::sync::Arc;

use rivet_client::{ActorError, ActorKey, Client};

use crate::actor::{Actor, EventSet};
use crate::awake::AwakeHolds;
pub use crate::awake::KeepAwake;
use crate::conn::Conns;
pub use crate::conn::{Conn, ConnKind};
use crate::effects::TurnEffects;
use crate::kv::Kv;
use crate::mailbox::CallChain;
use crate::runtime::ActorIdentity;
use crate::schedule::Schedule;
use crate::writes::Stores;

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
    /// What the running turn asked for.
    effects: TurnEffects,
    conns: Conns<A::ConnState>,
    stores: Stores,
    awake: Arc<AwakeHolds>,
    /// The actors whose turns wait on the call running now (see [`client`](Self::client)).
    chain: Option<CallChain>,
    /// The request that is opening a connection, while its hooks run.
    request: Option<Box<http::Request<()>>>,
    _actor: PhantomData<fn() -> A>,
}

/// What the host that runs the actor's turns uses: the parts of the context a turn fills, and
/// the connections it opens and closes.
impl<A: Actor> Cx<A> {
    pub(crate) fn new(identity: Arc<ActorIdentity>, vars: A::Vars, stores: Stores) -> Self {
        Self {
            identity,
            vars,
            effects: TurnEffects::default(),
            conns: Conns::default(),
            stores,
            awake: Arc::new(AwakeHolds::default()),
            chain: None,
            request: None,
            _actor: PhantomData,
        }
    }

    pub(crate) fn identity(&self) -> &Arc<ActorIdentity> {
        &self.identity
    }

    pub(crate) fn awake(&self) -> &Arc<AwakeHolds> {
        &self.awake
    }

    /// Takes what the turn asked for, leaving nothing for the next one.
    pub(crate) fn take_effects(&mut self) -> TurnEffects {
        std::mem::take(&mut self.effects)
    }

    pub(crate) fn effects_mut(&mut self) -> &mut TurnEffects {
        &mut self.effects
    }

    pub(crate) fn connections(&self) -> &Conns<A::ConnState> {
        &self.conns
    }

    pub(crate) fn connections_mut(&mut self) -> &mut Conns<A::ConnState> {
        &mut self.conns
    }

    pub(crate) fn stores(&self) -> &Stores {
        &self.stores
    }

    pub(crate) fn stores_mut(&mut self) -> &mut Stores {
        &mut self.stores
    }

    /// Sets the chain of waiting actors that calls made by the running turn carry on.
    pub(crate) fn set_chain(&mut self, chain: Option<CallChain>) {
        self.chain = chain;
    }

    /// Sets the request of the connection being opened (`None` once its hooks ran).
    pub(crate) fn set_request(&mut self, request: Option<Box<http::Request<()>>>) {
        self.request = request;
    }
}

/// The context as actor code uses it.
impl<A: Actor> Cx<A> {
    /// The actor's own SQLite database (see [`Db`](crate::db::Db)); `db.not_configured` unless
    /// the actor declares `#[actor(migrations = ...)]`.
    #[cfg(feature = "sqlite")]
    pub fn db(&mut self) -> Result<&mut crate::db::Db, crate::error::Error> {
        self.stores
            .db
            .as_mut()
            .ok_or_else(|| crate::error::Error::public(crate::db::codes::NOT_CONFIGURED.error()))
    }

    /// Schedules calls of this actor's own actions (see [`Schedule`]); build them with the
    /// generated `{Actor}Call`.
    pub fn schedule(&mut self) -> Schedule<'_, A> {
        Schedule::new(&mut self.stores.schedules)
    }

    /// The actor's key-value store: binary keys and values, as many as needed, written with the
    /// turn (see [`Kv`]).
    pub fn kv(&mut self) -> &mut Kv {
        &mut self.stores.kv
    }

    /// The history of the actor's [workflow](crate::workflow) as data (for an inspector or a
    /// status action): `None` until the `#[run]` loop started its workflow in this activation.
    pub fn workflow_history(&self) -> Option<crate::workflow::history::WorkflowHistory> {
        let engine = self.identity.workflow()?;
        Some(crate::sync::lock(&engine).history())
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
        if !self.conns.any_subscribed(name) {
            // Nobody listens: skip the encoding.
            return;
        }
        match event.encode_args() {
            Ok(args) => self.effects.events.push((event.name(), args)),
            Err(error) => {
                tracing::error!(event = event.name(), %error, "cannot encode event; not sent")
            }
        }
    }

    /// Sends `message` to this actor's own queue `queue`, committed with the turn (or not at
    /// all if the turn fails): the way actor code adds work for its `#[queue]` handler or its
    /// `#[run]` loop (RivetKit's send to the actor's own handle, which here, from inside a
    /// turn, would wait for the turn to end). The message is checked as any send is (declared
    /// queue, size, a full queue), the name now and the rest when the turn ends; a failed check
    /// fails the turn.
    ///
    /// ```
    /// use rivet_core::prelude::*;
    ///
    /// #[derive(Default, Serialize, Deserialize)]
    /// pub struct Mailer {
    ///     sent: u32,
    /// }
    ///
    /// #[actor]
    /// impl Mailer {
    ///     /// Queues one email per address; the handler sends them one turn each.
    ///     #[action]
    ///     fn send_all(&self, cx: &mut Cx<Self>, to: Vec<String>) -> Result<(), Error> {
    ///         for address in &to {
    ///             cx.enqueue("outbox", address)?;
    ///         }
    ///         Ok(())
    ///     }
    ///
    ///     #[queue]
    ///     fn outbox(&mut self, _address: String) {
    ///         self.sent += 1;
    ///     }
    /// }
    /// ```
    ///
    /// # Errors
    ///
    /// `queue.not_found` when the actor declares no queue `queue`; `message.invalid` (or the
    /// codec's error) when `message` does not encode.
    pub fn enqueue<T: serde::Serialize + ?Sized>(
        &mut self,
        queue: &str,
        message: &T,
    ) -> Result<(), crate::error::Error> {
        if !A::metadata().queues.contains(&queue) {
            return Err(crate::message::queue_not_found(queue));
        }
        let body = rivet_client::codec::to_cbor(message).map_err(crate::error::Error::public)?;
        self.effects.enqueued.push((queue.to_owned(), body));
        Ok(())
    }

    /// Asks the actor to sleep once this turn is done. It wakes again on the next request.
    /// Work holding a [`keep_awake`](Self::keep_awake) guard gets the grace period to finish.
    pub fn sleep(&mut self) {
        self.effects.sleep = true;
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
        self.effects.destroy = true;
    }

    /// Sends an event to one connection, whether or not it subscribed (RivetKit's
    /// `conn.send`). Like broadcasts, it leaves after the turn commits.
    pub fn send(&mut self, conn_id: &str, event: A::Event) {
        if !self.conns.contains(conn_id) {
            return;
        }
        match event.encode_args() {
            Ok(args) => self
                .effects
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
        self.effects.disconnects.push((conn_id.to_owned(), reason));
    }

    /// The HTTP request opening the connection, in `#[on_before_connect]`, `#[conn_state]` and
    /// `#[on_connect]` (RivetKit's `c.request`): the WebSocket upgrade of a connection, or the
    /// request of an HTTP action (which gets a connection for the call). Its method, URI
    /// (path after the actor's gateway prefix, and query) and headers; `None` in other hooks
    /// and for in-process clients.
    ///
    /// ```
    /// use rivet_core::prelude::*;
    ///
    /// #[derive(Default, Serialize, Deserialize)]
    /// pub struct Door;
    ///
    /// #[actor]
    /// impl Door {
    ///     /// Lets in only requests that carry an API key.
    ///     #[on_before_connect]
    ///     fn check(&self, cx: &Cx<Self>) -> Result<(), UserError> {
    ///         match cx.request() {
    ///             Some(r) if !r.headers().contains_key("x-api-key") => {
    ///                 Err(UserError::new("no_key", "send x-api-key"))
    ///             }
    ///             _ => Ok(()),
    ///         }
    ///     }
    /// }
    /// ```
    pub fn request(&self) -> Option<&http::Request<()>> {
        self.request.as_deref()
    }

    /// The connection this action came through, if it came through one (HTTP actions get a
    /// connection that lasts for the call).
    pub fn conn(&self) -> Option<&Conn<A::ConnState>> {
        self.conns.current()
    }

    /// The connection this action came through, mutably (to change its state).
    pub fn conn_mut(&mut self) -> Option<&mut Conn<A::ConnState>> {
        self.conns.current_mut()
    }

    /// Every open connection.
    pub fn conns(&self) -> impl Iterator<Item = &Conn<A::ConnState>> {
        self.conns.iter()
    }

    /// Every open connection, mutably.
    pub fn conns_mut(&mut self) -> impl Iterator<Item = &mut Conn<A::ConnState>> {
        self.conns.iter_mut()
    }

    /// The open raw WebSockets (see [`raw`](crate::raw)).
    pub fn raw_sockets(&self) -> impl Iterator<Item = &crate::raw::RawWebSocket> {
        self.conns.raw_sockets()
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
        self.identity.client(Some(chain.into()))
    }
}

impl<A: Actor> std::fmt::Debug for Cx<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cx")
            .field("actor_id", &self.identity.id)
            .field("name", &self.identity.name)
            .field("key", &self.identity.key)
            .field("conns", &self.conns.iter().count())
            .finish_non_exhaustive()
    }
}
