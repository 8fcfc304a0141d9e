//! The [`Registry`]: actor types, the awake actors, storage, and the in-process client.

use std::borrow::Cow;
use std::collections::HashMap;

use rustc_hash::FxHashMap;
use std::fmt;
use std::marker::PhantomData;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use bytes::Bytes;
use rivet_client::transport::{
    BoxFuture, ConnSender, ConnectionTransport, QueueSendOutcome, Transport,
};
use rivet_client::{ActorAddr, ActorError, ActorTarget, Client, codes};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::actor::{Actor, ActorMetadata};
use crate::config::Config;
use crate::conn::ConnKind;
use crate::error::BuildError;
use crate::host;
use crate::ids::new_id;
use crate::lifecycle::{LifecycleEvent, LifecycleKind};
use crate::mailbox::{
    CallChain, ConnRef, Envelope, Leftovers, Mailbox, MailboxRx, ReplyTo, call_cycle,
};
use crate::runtime::ActorRuntime;
use crate::storage::{ActorRecord, Lookup, NewActor, Storage, StorageError, memory::MemoryStorage};
use crate::sync::lock;
use crate::time::now_ms;

/// The environment variable that sets the data directory.
pub const DATA_DIR_ENV: &str = "RIVET_DATA_DIR";
/// The data directory used when neither the builder nor the environment names one.
pub const DEFAULT_DATA_DIR: &str = "./.rivet";

enum StorageChoice {
    Default,
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    Dir(PathBuf),
    Memory,
    Custom(Arc<dyn Storage>),
}

/// Builds a [`Registry`]: which actor types it hosts, where they are stored, and its limits.
///
/// ```
/// # use rivet_core::prelude::*;
/// # #[derive(Default, Serialize, Deserialize)] struct Counter { count: i64 }
/// # #[actor] impl Counter { #[action] fn get(&self) -> i64 { self.count } }
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), rivet_core::error::BuildError> {
/// let registry = Registry::builder()
///     .with::<Counter>()
///     .in_memory()
///     .sleep_timeout(std::time::Duration::from_secs(10))
///     .build()?;
/// # Ok(()) }
/// ```
pub struct RegistryBuilder {
    factories: Vec<Arc<dyn ActorFactory>>,
    storage: StorageChoice,
    config: Config,
    #[cfg(feature = "sqlite")]
    sqlite: crate::storage::sqlite::SqliteOptions,
}

impl fmt::Debug for RegistryBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryBuilder")
            .field(
                "actors",
                &self
                    .factories
                    .iter()
                    .map(|f| f.metadata().name)
                    .collect::<Vec<_>>(),
            )
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl RegistryBuilder {
    /// Hosts the actor type `A`.
    #[must_use]
    pub fn with<A: Actor>(mut self) -> Self {
        self.factories.push(Arc::new(Factory::<A>(PhantomData)));
        self
    }

    /// Stores actors in SQLite under `dir` (default: `$RIVET_DATA_DIR`, else `./.rivet`).
    #[cfg(feature = "sqlite")]
    #[must_use]
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.storage = StorageChoice::Dir(dir.into());
        self
    }

    /// What a commit survives (default: power loss). See
    /// [`Durability`](crate::storage::sqlite::Durability).
    #[cfg(feature = "sqlite")]
    #[must_use]
    pub fn durability(mut self, durability: crate::storage::sqlite::Durability) -> Self {
        self.sqlite.durability = durability;
        self
    }

    /// Keeps actors in memory only: for tests and ephemeral actors.
    #[must_use]
    pub fn in_memory(mut self) -> Self {
        self.storage = StorageChoice::Memory;
        self
    }

    /// Uses the given storage backend.
    #[must_use]
    pub fn storage(mut self, storage: Arc<dyn Storage>) -> Self {
        self.storage = StorageChoice::Custom(storage);
        self
    }

    /// How long an actor with no connections and no work stays awake (default 30 s).
    #[must_use]
    pub fn sleep_timeout(mut self, timeout: Duration) -> Self {
        self.config.sleep_timeout = timeout;
        self
    }

    /// How long a sleeping or shutting-down actor waits for its
    /// [`keep_awake`](crate::Cx::keep_awake) work to finish before `#[on_sleep]` runs
    /// (default 15 s).
    #[must_use]
    pub fn sleep_grace_period(mut self, grace: Duration) -> Self {
        self.config.sleep_grace_period = grace;
        self
    }

    /// How long a lifecycle hook (`#[on_create]`, `#[on_wake]`, `#[on_sleep]`,
    /// `#[on_destroy]`, ...) may run before it is stopped and counted as failed (default 15 s).
    #[must_use]
    pub fn hook_timeout(mut self, timeout: Duration) -> Self {
        self.config.hook_timeout = timeout;
        self
    }

    /// How long an action or queue handler may run (default 60 s); then the caller gets
    /// `actor.action_timed_out` and the turn's changes are discarded.
    #[must_use]
    pub fn action_timeout(mut self, timeout: Duration) -> Self {
        self.config.action_timeout = timeout;
        self
    }

    /// The largest encoded state an actor may have (default 128 KiB).
    #[must_use]
    pub fn max_state_size(mut self, bytes: usize) -> Self {
        self.config.max_state_size = bytes;
        self
    }

    /// The most messages a queue holds (default 1000).
    #[must_use]
    pub fn max_queue_size(mut self, messages: usize) -> Self {
        self.config.max_queue_size = messages;
        self
    }

    /// The largest queue message (default 64 KiB).
    #[must_use]
    pub fn max_queue_message_size(mut self, bytes: usize) -> Self {
        self.config.max_queue_message_size = bytes;
        self
    }

    /// The largest WebSocket message or HTTP action/queue body the server accepts (default
    /// 64 KiB); larger ones get `message.incoming_too_long`.
    #[cfg(feature = "server")]
    #[must_use]
    pub fn max_incoming_message_size(mut self, bytes: usize) -> Self {
        self.config.server.max_incoming_message_size = bytes;
        self
    }

    /// The largest response or event the server sends (default 1 MiB); larger ones become
    /// `message.outgoing_too_long`.
    #[cfg(feature = "server")]
    #[must_use]
    pub fn max_outgoing_message_size(mut self, bytes: usize) -> Self {
        self.config.server.max_outgoing_message_size = bytes;
        self
    }

    /// The largest raw request body (`/request/*`) the server accepts (default 16 MiB).
    #[cfg(feature = "server")]
    #[must_use]
    pub fn max_request_body_size(mut self, bytes: usize) -> Self {
        self.config.server.max_request_body_size = bytes;
        self
    }

    /// Which browser origins may call the server (default: any, with credentials).
    #[cfg(feature = "server")]
    #[must_use]
    pub fn cors(mut self, cors: crate::config::Cors) -> Self {
        self.config.server.cors = cors;
        self
    }

    /// Opens the storage and starts the registry. Must be called inside a Tokio runtime.
    pub fn build(self) -> Result<Registry, BuildError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| BuildError::NoRuntime)?;
        let mut factories: HashMap<&'static str, Arc<dyn ActorFactory>> = HashMap::new();
        for factory in self.factories {
            let name = factory.metadata().name;
            if factories.insert(name, factory).is_some() {
                return Err(BuildError::DuplicateName(name));
            }
        }
        let storage: Arc<dyn Storage> = match self.storage {
            StorageChoice::Memory => Arc::new(MemoryStorage::new()),
            StorageChoice::Custom(storage) => storage,
            #[cfg(feature = "sqlite")]
            StorageChoice::Default => {
                let dir = std::env::var_os(DATA_DIR_ENV)
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
                Arc::new(crate::storage::sqlite::SqliteStorage::open(
                    dir,
                    self.sqlite,
                )?)
            }
            #[cfg(feature = "sqlite")]
            StorageChoice::Dir(dir) => Arc::new(crate::storage::sqlite::SqliteStorage::open(
                dir,
                self.sqlite,
            )?),
            #[cfg(not(feature = "sqlite"))]
            StorageChoice::Default | StorageChoice::Dir(_) => {
                tracing::warn!(
                    "built without the `sqlite` feature: actors are kept in memory only"
                );
                Arc::new(MemoryStorage::new())
            }
        };
        let (lifecycle, _) = broadcast::channel(1024);
        let (closing, _) = tokio::sync::watch::channel(false);
        let inner = Arc::new_cyclic(|me| RegistryInner {
            me: me.clone(),
            factories,
            storage,
            config: self.config,
            live: Mutex::new(Live::default()),
            next_generation: AtomicU64::new(1),
            shutting_down: AtomicBool::new(false),
            closing,
            lifecycle,
            active: AtomicUsize::new(0),
            stopped: tokio::sync::Notify::new(),
            runtime,
            alarms: Mutex::new(Alarms::default()),
            alarms_changed: tokio::sync::Notify::new(),
        });
        inner
            .runtime
            .spawn(RegistryInner::run_alarms(Arc::downgrade(&inner)));
        // Actors with queued messages resume their work without waiting for a request.
        let waker = Arc::clone(&inner);
        inner.runtime.spawn(async move {
            match waker
                .storage
                .actors_with_prefix(crate::storage::keys::QUEUE_PREFIX)
                .await
            {
                Ok(records) => {
                    for record in records {
                        if let Err(error) = waker.wake(record) {
                            tracing::warn!(%error, "cannot wake an actor with queued messages");
                        }
                    }
                }
                Err(error) => tracing::error!(%error, "cannot list actors with queued messages"),
            }
            // Actors whose workflow had not finished resume it.
            if let Err(error) = waker.wake_unfinished_workflows().await {
                tracing::error!(%error, "cannot list actors with unfinished workflows");
            }
            // Actors with schedules wake when the first one is due (at once for missed ones).
            if let Err(error) = waker.load_alarms().await {
                tracing::error!(%error, "cannot load the schedules of sleeping actors");
            }
        });
        Ok(Registry {
            guard: Arc::new(RegistryGuard { inner }),
        })
    }
}

/// A set of actor types with their storage: wakes actors on demand, puts idle ones to sleep, and
/// gives clients (in-process here, over the network with the server).
///
/// Cloning is cheap. The registry runs until [`shutdown`](Self::shutdown), or until it and every
/// client it gave out are dropped.
#[derive(Clone, Debug)]
pub struct Registry {
    guard: Arc<RegistryGuard>,
}

/// Starts shutdown when the last user-facing handle goes away; actor tasks only hold the inner
/// part, so they do not keep the registry alive.
#[derive(Debug)]
struct RegistryGuard {
    inner: Arc<RegistryInner>,
}

impl Drop for RegistryGuard {
    fn drop(&mut self) {
        self.inner.begin_shutdown();
    }
}

impl Registry {
    /// Starts building a registry.
    pub fn builder() -> RegistryBuilder {
        RegistryBuilder {
            factories: Vec::new(),
            storage: StorageChoice::Default,
            config: Config::default(),
            #[cfg(feature = "sqlite")]
            sqlite: crate::storage::sqlite::SqliteOptions::default(),
        }
    }

    /// A client that calls actors in this process, with the same typed stubs as a network client.
    pub fn client(&self) -> Client {
        Client::from_transport(Arc::new(LocalTransport {
            registry: RegistryRef::Strong(Arc::clone(&self.guard)),
            chain: None,
        }))
    }

    /// Metadata of every registered actor type.
    pub fn actors(&self) -> impl Iterator<Item = &'static ActorMetadata> + '_ {
        self.guard.inner.factories.values().map(|f| f.metadata())
    }

    /// How many actors are awake (or waking) now.
    pub fn awake_count(&self) -> usize {
        self.guard.inner.live().by_id.len()
    }

    #[cfg(feature = "server")]
    pub(crate) fn inner(&self) -> &Arc<RegistryInner> {
        &self.guard.inner
    }

    #[cfg(feature = "server")]
    pub(crate) fn server_config(&self) -> &crate::config::ServerConfig {
        &self.guard.inner.config.server
    }

    #[cfg(feature = "server")]
    pub(crate) fn action_timeout(&self) -> Duration {
        self.guard.inner.config.action_timeout
    }

    /// Resolves once shutdown has begun.
    #[cfg(feature = "server")]
    pub(crate) fn stopped(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut closing = self.guard.inner.closing.subscribe();
        async move {
            let _ = closing.wait_for(|closing| *closing).await;
        }
    }

    /// Lifecycle events (wake, sleep, destroy) of every actor, from now on.
    pub fn lifecycle_events(&self) -> broadcast::Receiver<LifecycleEvent> {
        self.guard.inner.lifecycle.subscribe()
    }

    /// Puts every actor to sleep (running `on_sleep` and committing everything), then closes the
    /// storage. Later calls fail with `registry.shut_down`.
    pub async fn shutdown(&self) {
        let inner = &self.guard.inner;
        inner.begin_shutdown();
        loop {
            let stopped = inner.stopped.notified();
            if inner.active.load(Ordering::Acquire) == 0 {
                break;
            }
            stopped.await;
        }
        if let Err(error) = inner.storage.close().await {
            tracing::error!(%error, "closing storage failed");
        }
    }
}

pub(crate) struct RegistryInner {
    /// Itself, for the in-process clients it gives to actor code (which must not keep it alive).
    me: Weak<RegistryInner>,
    factories: HashMap<&'static str, Arc<dyn ActorFactory>>,
    storage: Arc<dyn Storage>,
    config: Config,
    live: Mutex<Live>,
    next_generation: AtomicU64,
    shutting_down: AtomicBool,
    /// Tells servers to stop accepting connections.
    closing: tokio::sync::watch::Sender<bool>,
    lifecycle: broadcast::Sender<LifecycleEvent>,
    active: AtomicUsize,
    stopped: tokio::sync::Notify,
    runtime: tokio::runtime::Handle,
    /// When sleeping actors must wake for their schedules.
    alarms: Mutex<Alarms>,
    alarms_changed: tokio::sync::Notify,
}

/// Wake-up times of sleeping actors with schedules, one per actor.
#[derive(Default)]
struct Alarms {
    by_time: std::collections::BTreeSet<(i64, String)>,
    by_actor: HashMap<String, (i64, ActorRecord)>,
}

impl fmt::Debug for RegistryInner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryInner")
            .field("actors", &self.factories.keys().collect::<Vec<_>>())
            .field("storage", &self.storage)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Live {
    by_id: FxHashMap<Arc<str>, Slot>,
    /// The same activations by address, with their mailbox, so a call by address costs one
    /// lookup.
    by_addr: FxHashMap<ActorAddr, (Arc<str>, Mailbox)>,
}

struct Slot {
    tx: Mailbox,
    generation: u64,
    addr: ActorAddr,
}

impl Live {
    fn find(&self, target: &ActorTarget) -> Option<(Arc<str>, Mailbox)> {
        match target {
            // The address includes the name, so no name check is needed.
            ActorTarget::Get(addr) | ActorTarget::GetOrCreate { addr, .. } => {
                let (id, tx) = self.by_addr.get(addr)?;
                Some((Arc::clone(id), tx.clone()))
            }
            ActorTarget::Id { id, name } => {
                let (id, slot) = self.by_id.get_key_value(id.as_str())?;
                (&slot.addr.name == name).then(|| (Arc::clone(id), slot.tx.clone()))
            }
        }
    }
}

impl RegistryInner {
    fn live(&self) -> MutexGuard<'_, Live> {
        lock(&self.live)
    }

    fn alarms(&self) -> MutexGuard<'_, Alarms> {
        lock(&self.alarms)
    }

    fn begin_shutdown(&self) {
        // Under the lock, so no activation starts after the flag without getting the message.
        let live = self.live();
        if self.shutting_down.swap(true, Ordering::AcqRel) {
            return;
        }
        self.closing.send_replace(true);
        // The alarm task sees the flag and ends.
        self.alarms_changed.notify_one();
        for slot in live.by_id.values() {
            let _ = slot.tx.send(Box::new(Envelope::Shutdown));
        }
    }

    fn factory(&self, name: &str) -> Result<&Arc<dyn ActorFactory>, ActorError> {
        self.factories.get(name).ok_or_else(|| {
            codes::NOT_REGISTERED
                .with_message(format!("No actor type named `{name}` is registered."))
        })
    }

    pub(crate) fn publish(&self, record: &ActorRecord, kind: LifecycleKind) {
        let _ = self.lifecycle.send(LifecycleEvent {
            actor_id: record.id.clone(),
            name: record.name.clone(),
            key: record.key.clone(),
            kind,
        });
    }

    #[cfg(feature = "server")]
    /// The type name of the actor with this id, if it exists.
    pub(crate) async fn actor_name(&self, id: &str) -> Result<Option<String>, ActorError> {
        if let Some(slot) = self.live().by_id.get(id) {
            return Ok(Some(slot.addr.name.clone()));
        }
        Ok(self.lookup_id(id).await?.map(|r| r.name))
    }

    #[cfg(feature = "server")]
    /// The actor with this id, from storage.
    pub(crate) async fn lookup_id(&self, id: &str) -> Result<Option<ActorRecord>, ActorError> {
        self.storage.lookup(Lookup::Id(id)).await.map_err(internal)
    }

    #[cfg(feature = "server")]
    /// The actor at this address, from storage.
    pub(crate) async fn lookup_addr(
        &self,
        addr: &ActorAddr,
    ) -> Result<Option<ActorRecord>, ActorError> {
        self.storage
            .lookup(Lookup::Addr(&addr.name, &addr.key))
            .await
            .map_err(internal)
    }

    /// Up to `limit` actors of a type.
    #[cfg(feature = "server")]
    pub(crate) async fn list_actors(
        &self,
        name: &str,
        limit: usize,
    ) -> Result<Vec<ActorRecord>, ActorError> {
        self.storage
            .list_actors(name, limit)
            .await
            .map_err(internal)
    }

    #[cfg(feature = "server")]
    /// Gets or creates the actor at `addr`, starting it so that a failing `#[create]` is reported;
    /// the flag tells whether it was created.
    pub(crate) async fn get_or_create_record(
        self: &Arc<Self>,
        addr: &ActorAddr,
        input: Option<Bytes>,
    ) -> Result<(ActorRecord, bool), ActorError> {
        if let Some(record) = self.lookup_addr(addr).await? {
            return Ok((record, false));
        }
        let record = self.create_record(addr, input, false).await?;
        let target = ActorTarget::Id {
            name: record.name.clone(),
            id: record.id.clone(),
        };
        self.ping(&target).await?;
        Ok((record, true))
    }

    #[cfg(feature = "server")]
    /// Creates the actor at `addr` (`actor.duplicate_key` if it exists) and starts it.
    pub(crate) async fn create_started(
        self: &Arc<Self>,
        addr: &ActorAddr,
        input: Option<Bytes>,
    ) -> Result<ActorRecord, ActorError> {
        let record = self.create_record(addr, input, true).await?;
        let target = ActorTarget::Id {
            name: record.name.clone(),
            id: record.id.clone(),
        };
        self.ping(&target).await?;
        Ok(record)
    }

    #[cfg(feature = "server")]
    /// Wakes the target (creating it for get-or-create) and waits until it is ready.
    pub(crate) async fn ping(
        self: &Arc<Self>,
        target: &ActorTarget,
    ) -> Result<Arc<str>, ActorError> {
        let (tx, rx) = oneshot::channel();
        let id = self.deliver(target, Envelope::Ping { reply: tx }).await;
        rx.await
            .unwrap_or_else(|_| Err(codes::DROPPED_REPLY.error()))?;
        id.map_err(|()| codes::DROPPED_REPLY.error())
    }

    #[cfg(feature = "server")]
    /// Destroys the actor with this id, running its `#[on_destroy]`.
    pub(crate) async fn destroy_by_id(self: &Arc<Self>, id: &str) -> Result<(), ActorError> {
        let name = self.actor_name(id).await?.ok_or_else(|| {
            codes::ACTOR_NOT_FOUND.with_message(format!("No actor with id `{id}`."))
        })?;
        let target = ActorTarget::Id {
            name,
            id: id.to_owned(),
        };
        let (tx, rx) = oneshot::channel();
        let _ = self.deliver(&target, Envelope::Destroy { reply: tx }).await;
        rx.await
            .unwrap_or_else(|_| Err(codes::DROPPED_REPLY.error()))
    }

    /// Delivers an envelope to the actor `target` names, waking or creating it as needed.
    pub(crate) async fn deliver(
        self: &Arc<Self>,
        target: &ActorTarget,
        envelope: Envelope,
    ) -> Result<Arc<str>, ()> {
        let mut envelope = Box::new(envelope);
        loop {
            match self.mailbox(target).await {
                Ok((id, tx)) => {
                    // Checked before queuing: the target is blocked in the turn that waits for
                    // this call, so it would never get to the message.
                    if let Envelope::Action {
                        chain: Some(chain), ..
                    } = &*envelope
                        && chain.iter().any(|waiting| **waiting == *id)
                    {
                        let error = call_cycle(&id, chain);
                        (*envelope).fail(error);
                        return Err(());
                    }
                    match tx.send(envelope) {
                        Ok(()) => return Ok(id),
                        Err(mpsc::error::SendError(returned)) => {
                            // That activation stopped after we looked it up; look again.
                            envelope = returned;
                            self.forget_closed(&id);
                        }
                    }
                }
                Err(error) => {
                    envelope.fail(error);
                    return Err(());
                }
            }
        }
    }

    async fn mailbox(
        self: &Arc<Self>,
        target: &ActorTarget,
    ) -> Result<(Arc<str>, Mailbox), ActorError> {
        if self.shutting_down.load(Ordering::Acquire) {
            return Err(codes::SHUT_DOWN.error());
        }
        if let Some(found) = self.live().find(target) {
            return Ok(found);
        }
        let record = match target {
            ActorTarget::Get(addr) => self
                .storage
                .lookup(Lookup::Addr(&addr.name, &addr.key))
                .await
                .map_err(internal)?
                .ok_or_else(|| not_found_at(addr))?,
            ActorTarget::GetOrCreate { addr, input } => {
                match self
                    .storage
                    .lookup(Lookup::Addr(&addr.name, &addr.key))
                    .await
                    .map_err(internal)?
                {
                    Some(record) => record,
                    None => self.create_record(addr, input.clone(), false).await?,
                }
            }
            ActorTarget::Id { name, id } => self
                .storage
                .lookup(Lookup::Id(id))
                .await
                .map_err(internal)?
                .filter(|record| &record.name == name)
                .ok_or_else(|| {
                    codes::ACTOR_NOT_FOUND
                        .with_message(format!("No actor `{name}` with id `{id}`."))
                })?,
        };
        self.wake(record)
    }

    async fn create_record(
        &self,
        addr: &ActorAddr,
        input: Option<Bytes>,
        fail_if_exists: bool,
    ) -> Result<ActorRecord, ActorError> {
        let factory = self.factory(&addr.name)?;
        let input = factory.check_input(input)?;
        let (record, created) = self
            .storage
            .create(NewActor {
                id: new_id(),
                name: addr.name.clone(),
                key: addr.key.clone(),
                input,
                created_at_ms: now_ms(),
            })
            .await
            .map_err(internal)?;
        if fail_if_exists && !created {
            return Err(codes::DUPLICATE_KEY.with_message(format!(
                "An actor `{}` with key {:?} already exists.",
                addr.name, addr.key
            )));
        }
        Ok(record)
    }

    /// Wakes `record` at `at_ms` (ms since the epoch), replacing its earlier alarm.
    pub(crate) fn set_alarm(&self, record: ActorRecord, at_ms: i64) {
        let mut alarms = self.alarms();
        let id = record.id.clone();
        if let Some((old, _)) = alarms.by_actor.insert(id.clone(), (at_ms, record)) {
            alarms.by_time.remove(&(old, id.clone()));
        }
        alarms.by_time.insert((at_ms, id));
        drop(alarms);
        self.alarms_changed.notify_one();
    }

    /// Forgets the alarm of a destroyed actor.
    pub(crate) fn clear_alarm(&self, actor_id: &str) {
        let mut alarms = self.alarms();
        if let Some((at, _)) = alarms.by_actor.remove(actor_id) {
            alarms.by_time.remove(&(at, actor_id.to_owned()));
        }
    }

    /// At start-up: wakes every actor with workflow history but no recorded output.
    async fn wake_unfinished_workflows(self: &Arc<Self>) -> Result<(), StorageError> {
        use crate::storage::keys::WORKFLOW;
        // Two listings rather than a read per actor.
        let finished: std::collections::HashSet<i64> = self
            .storage
            .actors_with_prefix(crate::storage::keys::WORKFLOW_OUTPUT)
            .await?
            .iter()
            .map(|record| record.storage_id)
            .collect();
        for record in self.storage.actors_with_prefix(WORKFLOW).await? {
            if !finished.contains(&record.storage_id)
                && let Err(error) = self.wake(record)
            {
                tracing::warn!(%error, "cannot wake an actor with an unfinished workflow");
            }
        }
        Ok(())
    }

    /// At start-up: an alarm for every actor with schedules, at its earliest one.
    async fn load_alarms(&self) -> Result<(), StorageError> {
        use crate::storage::keys::SCHEDULES;
        for record in self.storage.actors_with_prefix(SCHEDULES).await? {
            let entries = self
                .storage
                .scan_prefix(record.storage_id, SCHEDULES)
                .await?;
            let mut earliest: Option<i64> = None;
            for (key, value) in &entries {
                match crate::schedule::Entry::decode(key, value) {
                    Ok(entry) => {
                        earliest = Some(earliest.map_or(entry.at_ms, |e| e.min(entry.at_ms)))
                    }
                    Err(error) => {
                        tracing::error!(actor = %record.id, %error, "unreadable schedule")
                    }
                }
            }
            if let Some(at) = earliest {
                self.set_alarm(record, at);
            }
        }
        Ok(())
    }

    /// Wakes sleeping actors when their alarms are due; ends when the registry shuts down
    /// (dropping the last `Registry` does that too).
    async fn run_alarms(registry: Weak<Self>) {
        loop {
            let Some(inner) = registry.upgrade() else {
                return;
            };
            if inner.shutting_down.load(Ordering::Acquire) {
                return;
            }
            // Registered before looking, so a change made meanwhile is not missed.
            let changed = inner.alarms_changed.notified();
            let next = inner.alarms().by_time.first().cloned();
            let now = now_ms();
            match next {
                Some((at, id)) if at <= now => {
                    let record = {
                        let mut alarms = inner.alarms();
                        alarms.by_time.remove(&(at, id.clone()));
                        alarms.by_actor.remove(&id).map(|(_, record)| record)
                    };
                    if let Some(record) = record {
                        inner.wake_for_alarm(record).await;
                    }
                }
                Some((at, _)) => {
                    tokio::select! {
                        () = tokio::time::sleep(crate::time::until_ms(at)) => {}
                        () = changed => {}
                    }
                }
                None => changed.await,
            }
        }
    }

    async fn wake_for_alarm(self: &Arc<Self>, record: ActorRecord) {
        // A destroyed actor keeps no alarm, but check: waking a missing actor would create it.
        match self.storage.lookup(Lookup::Id(&record.id)).await {
            Ok(Some(record)) => {
                if let Err(error) = self.wake(record) {
                    tracing::warn!(%error, "cannot wake an actor for its schedule");
                }
            }
            Ok(None) => {}
            Err(error) => tracing::error!(%error, "cannot look up an actor for its schedule"),
        }
    }

    /// Returns the mailbox of the actor's activation, starting one if there is none.
    fn wake(self: &Arc<Self>, record: ActorRecord) -> Result<(Arc<str>, Mailbox), ActorError> {
        let factory = Arc::clone(self.factory(&record.name)?);
        let mut live = self.live();
        if self.shutting_down.load(Ordering::Acquire) {
            return Err(codes::SHUT_DOWN.error());
        }
        if let Some((id, slot)) = live.by_id.get_key_value(record.id.as_str()) {
            return Ok((Arc::clone(id), slot.tx.clone()));
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let generation = self.next_generation.fetch_add(1, Ordering::Relaxed);
        let addr = ActorAddr {
            name: record.name.clone(),
            key: record.key.clone(),
        };
        let id: Arc<str> = Arc::from(record.id.as_str());
        live.by_addr
            .insert(addr.clone(), (Arc::clone(&id), tx.clone()));
        live.by_id.insert(
            Arc::clone(&id),
            Slot {
                tx: tx.clone(),
                generation,
                addr,
            },
        );
        drop(live);
        self.active.fetch_add(1, Ordering::AcqRel);
        let task = factory.run(
            Arc::clone(self) as Arc<dyn ActorRuntime>,
            record,
            generation,
            rx,
        );
        let inner = Arc::clone(self);
        self.runtime.spawn(async move {
            let _active = ActiveGuard(inner);
            task.await;
        });
        Ok((id, tx))
    }

    /// Removes an activation from the live map and closes its mailbox, then deals with whatever
    /// reached it in the meantime.
    pub(crate) fn deregister(
        self: &Arc<Self>,
        record: &ActorRecord,
        generation: u64,
        rx: &mut MailboxRx,
        leftovers: Leftovers,
    ) {
        {
            let mut live = self.live();
            if live
                .by_id
                .get(record.id.as_str())
                .is_some_and(|s| s.generation == generation)
                && let Some(slot) = live.by_id.remove(record.id.as_str())
            {
                live.by_addr.remove(&slot.addr);
                // After a crowd of actors went to sleep, give back the maps' memory.
                if live.by_id.capacity() > 1024 && live.by_id.len() < live.by_id.capacity() / 4 {
                    live.by_id.shrink_to_fit();
                    live.by_addr.shrink_to_fit();
                }
            }
            rx.close();
        }
        let mut pending = Vec::new();
        while let Ok(envelope) = rx.try_recv() {
            pending.push(*envelope);
        }
        if pending.is_empty() {
            return;
        }
        match leftovers {
            Leftovers::Fail(error) => {
                for envelope in pending {
                    envelope.fail(error.clone());
                }
            }
            Leftovers::Redeliver => {
                let target = ActorTarget::Id {
                    name: record.name.clone(),
                    id: record.id.clone(),
                };
                let inner = Arc::clone(self);
                self.runtime.spawn(async move {
                    for envelope in pending {
                        let _ = inner.deliver(&target, envelope).await;
                    }
                });
            }
        }
    }

    fn forget_closed(&self, id: &str) {
        let mut live = self.live();
        if live.by_id.get(id).is_some_and(|slot| slot.tx.is_closed())
            && let Some(slot) = live.by_id.remove(id)
        {
            live.by_addr.remove(&slot.addr);
        }
    }
}

impl ActorRuntime for RegistryInner {
    fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    fn config(&self) -> &Config {
        &self.config
    }

    fn client(&self, chain: Option<CallChain>) -> Client {
        Client::from_transport(Arc::new(LocalTransport::for_actor(self.me.clone(), chain)))
    }

    fn publish(&self, record: &ActorRecord, kind: LifecycleKind) {
        RegistryInner::publish(self, record, kind);
    }

    fn set_alarm(&self, record: ActorRecord, at_ms: i64) {
        RegistryInner::set_alarm(self, record, at_ms);
    }

    fn clear_alarm(&self, actor_id: &str) {
        RegistryInner::clear_alarm(self, actor_id);
    }

    fn deregister(
        self: Arc<Self>,
        record: &ActorRecord,
        generation: u64,
        rx: &mut MailboxRx,
        leftovers: Leftovers,
    ) {
        RegistryInner::deregister(&self, record, generation, rx, leftovers);
    }
}

struct ActiveGuard(Arc<RegistryInner>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        if self.0.active.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.stopped.notify_waiters();
        }
    }
}

/// An actor type, with its type erased.
trait ActorFactory: Send + Sync {
    fn metadata(&self) -> &'static ActorMetadata;
    fn check_input(&self, input: Option<Bytes>) -> Result<Option<Bytes>, ActorError>;
    fn run(
        &self,
        runtime: Arc<dyn ActorRuntime>,
        record: ActorRecord,
        generation: u64,
        rx: MailboxRx,
    ) -> BoxFuture<'static, ()>;
}

struct Factory<A>(PhantomData<fn() -> A>);

impl<A: Actor> ActorFactory for Factory<A> {
    fn metadata(&self) -> &'static ActorMetadata {
        A::metadata()
    }

    fn check_input(&self, input: Option<Bytes>) -> Result<Option<Bytes>, ActorError> {
        if !A::metadata().takes_input {
            // RivetKit ignores input given to an actor that takes none.
            return Ok(None);
        }
        crate::actor::decode_input::<A>(input.as_deref()).map_err(|e| e.to_actor_error())?;
        Ok(input)
    }

    fn run(
        &self,
        runtime: Arc<dyn ActorRuntime>,
        record: ActorRecord,
        generation: u64,
        rx: MailboxRx,
    ) -> BoxFuture<'static, ()> {
        Box::pin(host::run::<A>(runtime, record, generation, rx))
    }
}

fn internal(error: StorageError) -> ActorError {
    tracing::error!(%error, "storage failure");
    codes::INTERNAL_ERROR.error()
}

fn not_found_at(addr: &ActorAddr) -> ActorError {
    codes::ACTOR_NOT_FOUND
        .with_message(format!("No actor `{}` with key {:?}.", addr.name, addr.key))
}

enum RegistryRef {
    Strong(Arc<RegistryGuard>),
    Weak(Weak<RegistryInner>),
}

/// The in-process transport behind `registry.client()` and `cx.client()`.
pub(crate) struct LocalTransport {
    registry: RegistryRef,
    /// For clients made by actor code: the actors whose turns wait on its calls.
    chain: Option<CallChain>,
}

impl fmt::Debug for LocalTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LocalTransport")
    }
}

impl LocalTransport {
    /// The transport of a client made by actor code: calls from a turn carry the chain of
    /// waiting actors (a run loop's carry none: it is not a turn).
    fn for_actor(registry: Weak<RegistryInner>, chain: Option<CallChain>) -> Self {
        Self {
            registry: RegistryRef::Weak(registry),
            chain,
        }
    }

    fn inner(&self) -> Result<Arc<RegistryInner>, ActorError> {
        match &self.registry {
            RegistryRef::Strong(guard) => Ok(Arc::clone(&guard.inner)),
            RegistryRef::Weak(weak) => weak.upgrade().ok_or_else(|| codes::SHUT_DOWN.error()),
        }
    }

    /// Sends an envelope built around a reply channel and waits for the answer.
    async fn request<T>(
        &self,
        target: &ActorTarget,
        make: impl FnOnce(oneshot::Sender<Result<T, ActorError>>) -> Envelope,
    ) -> Result<(Arc<str>, T), ActorError> {
        let inner = self.inner()?;
        let (tx, rx) = oneshot::channel();
        let id = inner.deliver(target, make(tx)).await;
        let value = rx
            .await
            .unwrap_or_else(|_| Err(codes::DROPPED_REPLY.error()))?;
        // `deliver` fails only after failing the envelope, whose error was returned just above.
        let id = id.map_err(|()| codes::DROPPED_REPLY.error())?;
        Ok((id, value))
    }
}

impl Transport for LocalTransport {
    fn action<'a>(
        &'a self,
        target: &'a ActorTarget,
        params: Option<&'a Bytes>,
        name: Cow<'static, str>,
        args: Bytes,
    ) -> BoxFuture<'a, Result<Bytes, ActorError>> {
        Box::pin(async move {
            // A connection for the length of the call, as over HTTP.
            let conn = ConnRef::Ephemeral {
                params: params.cloned(),
            };
            let chain = self.chain.clone();
            self.request(target, |reply| Envelope::Action {
                name,
                args,
                conn,
                reply: ReplyTo::Oneshot(reply),
                chain,
            })
            .await
            .map(|(_, output)| output)
        })
    }

    fn queue_send<'a>(
        &'a self,
        target: &'a ActorTarget,
        name: &'a str,
        body: Bytes,
        wait: Option<Duration>,
    ) -> BoxFuture<'a, Result<QueueSendOutcome, ActorError>> {
        Box::pin(async move {
            let inner = self.inner()?;
            let (tx, rx) = oneshot::channel();
            let envelope = Envelope::Queue {
                name: name.to_owned(),
                body,
                wait: wait.is_some(),
                reply: tx,
            };
            // A failed delivery fails the envelope, so its error arrives through `rx`.
            let _ = inner.deliver(target, envelope).await;
            let reply = async {
                rx.await
                    .unwrap_or_else(|_| Err(codes::DROPPED_REPLY.error()))
            };

            match wait {
                None => reply.await,
                Some(timeout) => match tokio::time::timeout(timeout, reply).await {
                    Ok(outcome) => outcome,
                    Err(_) => Ok(QueueSendOutcome::TimedOut),
                },
            }
        })
    }

    fn resolve<'a>(&'a self, target: &'a ActorTarget) -> BoxFuture<'a, Result<String, ActorError>> {
        Box::pin(async move {
            self.request(target, |reply| Envelope::Ping { reply })
                .await
                .map(|(id, ())| id.to_string())
        })
    }

    fn create<'a>(
        &'a self,
        addr: &'a ActorAddr,
        input: Option<Bytes>,
    ) -> BoxFuture<'a, Result<String, ActorError>> {
        Box::pin(async move {
            let inner = self.inner()?;
            if inner.shutting_down.load(Ordering::Acquire) {
                return Err(codes::SHUT_DOWN.error());
            }
            let record = inner.create_record(addr, input, true).await?;
            // Start it now, so that a failing `#[create]` fails this call.
            let target = ActorTarget::Id {
                name: record.name.clone(),
                id: record.id.clone(),
            };
            self.request(&target, |reply| Envelope::Ping { reply })
                .await
                .map(|(id, ())| id.to_string())
        })
    }

    fn connect<'a>(
        &'a self,
        target: &'a ActorTarget,
        params: Option<&'a Bytes>,
        sink: ConnSender,
    ) -> BoxFuture<'a, Result<Arc<dyn ConnectionTransport>, ActorError>> {
        Box::pin(async move {
            let inner = self.inner()?;
            let (actor_id, conn_id) = self
                .request(target, |reply| Envelope::Connect {
                    kind: ConnKind::InProcess,
                    params: params.cloned(),
                    sink,
                    reply,
                })
                .await?;
            let conn: Arc<dyn ConnectionTransport> = Arc::new(LocalConnection {
                registry: Arc::downgrade(&inner),
                target: ActorTarget::Id {
                    name: target.name().to_owned(),
                    id: actor_id.to_string(),
                },
                actor_id: actor_id.to_string(),
                conn_id,
                closed: AtomicBool::new(false),
            });
            Ok(conn)
        })
    }
}

/// An in-process connection: actions and subscriptions go to the actor's mailbox by id.
struct LocalConnection {
    registry: Weak<RegistryInner>,
    target: ActorTarget,
    actor_id: String,
    conn_id: String,
    closed: AtomicBool,
}

impl fmt::Debug for LocalConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalConnection")
            .field("actor_id", &self.actor_id)
            .field("conn_id", &self.conn_id)
            .finish()
    }
}

impl LocalConnection {
    /// Fire-and-forget delivery to a live activation only: subscriptions and disconnects mean
    /// nothing to an actor that is not awake.
    fn notify(&self, envelope: Envelope) {
        let Some(inner) = self.registry.upgrade() else {
            return;
        };
        let tx = inner
            .live()
            .by_id
            .get(self.actor_id.as_str())
            .map(|slot| slot.tx.clone());
        if let Some(tx) = tx {
            let _ = tx.send(Box::new(envelope));
        }
    }
}

impl ConnectionTransport for LocalConnection {
    fn action<'a>(
        &'a self,
        name: Cow<'static, str>,
        args: Bytes,
    ) -> BoxFuture<'a, Result<Bytes, ActorError>> {
        Box::pin(async move {
            if self.closed.load(Ordering::Acquire) {
                return Err(codes::CONNECTION_CLOSED.error());
            }
            let inner = self
                .registry
                .upgrade()
                .ok_or_else(|| codes::SHUT_DOWN.error())?;
            let (tx, rx) = oneshot::channel();
            let envelope = Envelope::Action {
                name,
                args,
                conn: ConnRef::Id(self.conn_id.clone()),
                reply: ReplyTo::Oneshot(tx),
                chain: None,
            };
            let _ = inner.deliver(&self.target, envelope).await;
            rx.await
                .unwrap_or_else(|_| Err(codes::DROPPED_REPLY.error()))
        })
    }

    fn set_subscription(&self, event: &str, subscribe: bool) {
        self.notify(Envelope::Subscribe {
            conn: self.conn_id.clone(),
            event: event.to_owned(),
            subscribe,
        });
    }

    fn close(&self) {
        if !self.closed.swap(true, Ordering::AcqRel) {
            self.notify(Envelope::Disconnect {
                conn: self.conn_id.clone(),
            });
        }
    }

    fn actor_id(&self) -> &str {
        &self.actor_id
    }

    fn connection_id(&self) -> String {
        self.conn_id.clone()
    }
}
