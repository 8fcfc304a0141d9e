//! [`RegistryBuilder`]: which actor types a registry hosts, where it stores them, and its
//! limits; `build` opens the storage and starts the registry.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::broadcast;

use super::alarms::Alarms;
use super::factory::{ActorFactory, Factory};
use super::live::Live;
use super::transport::LocalTransport;
use super::{Registry, RegistryGuard, RegistryInner};
use crate::actor::Actor;
use crate::config::Config;
use crate::error::BuildError;
use crate::runtime::ClientMaker;
use crate::storage::Storage;
use crate::storage::memory::MemoryStorage;

/// The environment variable that sets the data directory.
pub const DATA_DIR_ENV: &str = "RIVET_DATA_DIR";
/// The data directory used when neither the builder nor the environment names one.
pub const DEFAULT_DATA_DIR: &str = "./.rivet";

pub(super) enum StorageChoice {
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
    /// The client actor code gets, when not the in-process one (runner mode: through the
    /// engine, which may have placed the called actor on another envoy).
    actor_client: Option<rivet_client::Client>,
    /// Runner mode: the storage's counter of reads answered from the engine's preload.
    #[cfg(feature = "engine")]
    preloaded_reads: Option<prometheus_client::metrics::counter::Counter>,
    /// The server's token, when set on the builder (else `$RIVET_TOKEN`).
    #[cfg(feature = "server")]
    token: Option<String>,
    /// The inspector's token, when set on the builder (else `$RIVET_INSPECTOR_TOKEN`).
    #[cfg(feature = "server")]
    inspector_token: Option<String>,
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
        self.factories.push(Arc::new(Factory::<A>::new()));
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

    /// How many bytes of queue messages stay in memory: `per_actor` for one awake actor
    /// (default 1 MiB) and `total` across the registry (default 64 MiB). Messages beyond
    /// either stay in storage and are read, a page at a time, when a handler or the `#[run]`
    /// loop takes them, so a full queue costs memory for its index only (a few dozen bytes
    /// per message).
    #[must_use]
    pub fn queue_memory(mut self, per_actor: usize, total: usize) -> Self {
        self.config.queue_memory = crate::config::QueueMemory::new(per_actor, total);
        self
    }

    /// How many recent turns (each with its commit's span) each awake actor keeps for the
    /// inspector's `traces` route (default 256; 0 keeps none). They live in memory, 128 bytes
    /// a turn, and go when the actor sleeps; for longer history, export them to an
    /// OpenTelemetry collector (`rivet_core::telemetry`, feature `otlp`).
    #[must_use]
    pub fn trace_spans(mut self, spans: usize) -> Self {
        self.config.trace_spans = spans;
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

    /// Which browser origins may call the server (default: [`Cors::Disabled`], same-origin
    /// pages only). See [`Cors`] and SECURITY.md.
    ///
    /// [`Cors`]: crate::server::Cors
    /// [`Cors::Disabled`]: crate::server::Cors::Disabled
    #[cfg(feature = "server")]
    #[must_use]
    pub fn cors(mut self, cors: crate::config::Cors) -> Self {
        self.config.server.cors = cors;
        self
    }

    /// A token every request to the server must carry (default: `$RIVET_TOKEN`, else none).
    /// Clients pass it with their `token` option; it is compared in constant time and never
    /// logged. `/`, `/health`, `/metadata` and the engine's `/start` stay open. An empty
    /// token means none.
    ///
    /// ```
    /// # use rivet_core::prelude::*;
    /// # #[derive(Default, Serialize, Deserialize)] struct Counter { count: i64 }
    /// # #[actor] impl Counter { #[action] fn get(&self) -> i64 { self.count } }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let registry = Registry::builder().with::<Counter>().in_memory().token("s3cret").build()?;
    /// let addr = registry.spawn_server("127.0.0.1:0").await?;
    /// let client = rivet_core::Client::builder(format!("http://{addr}")).token("s3cret").build()?;
    /// assert_eq!(client.get_or_create::<Counter>(["a"]).get().await?, 0);
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "server")]
    #[must_use]
    pub fn token(mut self, token: impl AsRef<str>) -> Self {
        self.token = Some(token.as_ref().to_owned());
        self
    }

    /// The token of the inspector API (`/gateway/{actor}/inspector/...`), sent as
    /// `Authorization: Bearer <token>`; without one, `RIVET_INSPECTOR_TOKEN`. The server's
    /// token ([`token`](Self::token)) is accepted too. With neither, the inspector answers
    /// only while the server listens on loopback alone (it logs so at start-up), and
    /// `inspector.unauthorized` (401) otherwise.
    #[cfg(feature = "server")]
    #[must_use]
    pub fn inspector_token(mut self, token: impl AsRef<str>) -> Self {
        self.inspector_token = Some(token.as_ref().to_owned());
        self
    }

    /// The `Host` names the server answers to (compared without the port). By default a
    /// server bound to a loopback address answers only to `localhost`, `*.localhost` and
    /// loopback addresses, which defeats DNS rebinding; one bound elsewhere answers to any.
    #[cfg(feature = "server")]
    #[must_use]
    pub fn allowed_hosts<S: Into<String>>(mut self, hosts: impl IntoIterator<Item = S>) -> Self {
        self.config.server.allowed_hosts = Some(hosts.into_iter().map(Into::into).collect());
        self
    }

    /// How far a WebSocket client may fall behind: the messages and bytes (events and action
    /// responses) waiting for it (default 1024 messages, 8 MiB). Past either, the connection
    /// is closed with `ws.slow_consumer` (close code 1008), and the client may reconnect.
    #[cfg(feature = "server")]
    #[must_use]
    pub fn outgoing_queue_limit(mut self, messages: usize, bytes: usize) -> Self {
        self.config.server.outgoing_queue_messages = messages;
        self.config.server.outgoing_queue_bytes = bytes;
        self
    }

    /// How many bytes of request bodies the server reads at once, across all requests
    /// (default 256 MiB). A request reserves its `Content-Length` (or the body limit, without
    /// one) before reading, and waits while the budget is spent: many large uploads at once
    /// cannot exhaust memory. Keep it at least `max_request_body_size`.
    #[cfg(feature = "server")]
    #[must_use]
    pub fn max_bodies_in_flight(mut self, bytes: usize) -> Self {
        let bytes = bytes.clamp(1, tokio::sync::Semaphore::MAX_PERMITS);
        self.config.server.bodies_in_flight =
            std::sync::Arc::new(tokio::sync::Semaphore::new(bytes));
        self.config.server.bodies_in_flight_max = bytes;
        self
    }

    /// The most TCP connections the server keeps open, WebSockets included (default
    /// 10,000). Past it, new connections are closed at once and a warning is logged.
    #[cfg(feature = "server")]
    #[must_use]
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.config.server.max_connections = connections;
        self
    }

    /// How long a client may take to send a request's headers, and how long a kept-alive
    /// connection may wait for its next request (default 30 s).
    #[cfg(feature = "server")]
    #[must_use]
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.config.server.header_read_timeout = timeout;
        self
    }

    /// The longest wait for the next part of a request body (default 30 s); a stalled upload
    /// is cut off.
    #[cfg(feature = "server")]
    #[must_use]
    pub fn body_read_timeout(mut self, timeout: Duration) -> Self {
        self.config.server.body_read_timeout = timeout;
        self
    }

    /// How long a WebSocket may stay silent (default 60 s): the server pings it three times
    /// in that span and closes it (`ws.timed_out`) if nothing, not even a pong, came back.
    /// Also the longest a single send to it may take.
    #[cfg(feature = "server")]
    #[must_use]
    pub fn ws_liveness_timeout(mut self, timeout: Duration) -> Self {
        self.config.server.ws_liveness_timeout = timeout;
        self
    }

    /// The most connections one actor keeps open (default 1000); more get
    /// `actor.too_many_connections`.
    #[must_use]
    pub fn max_connections_per_actor(mut self, connections: usize) -> Self {
        self.config.max_connections_per_actor = connections;
        self
    }

    /// The largest actor key, in bytes of its serialized form and in parts (default 1024
    /// bytes, 32 parts); larger ones get `actor.key_too_large`.
    #[must_use]
    pub fn max_key_size(mut self, bytes: usize, parts: usize) -> Self {
        self.config.max_key_size = bytes;
        self.config.max_key_parts = parts;
        self
    }

    /// How fast actors may be created: `burst` at once, then `per_second` (default 1000,
    /// then 200 a second). Past it, creations get `actor.creation_limited` (HTTP 429) while
    /// existing actors keep serving.
    #[must_use]
    pub fn creation_rate(mut self, burst: u32, per_second: u32) -> Self {
        self.config.creation_rate = crate::config::CreationRate { burst, per_second };
        self
    }

    /// Counts, in the registry's metrics, the reads the runner-mode storage answers from the
    /// engine's preload.
    #[cfg(feature = "engine")]
    pub(crate) fn preloaded_reads(
        mut self,
        counter: prometheus_client::metrics::counter::Counter,
    ) -> Self {
        self.preloaded_reads = Some(counter);
        self
    }

    /// Gives actor code `client` instead of the in-process one (runner mode).
    #[cfg(feature = "engine")]
    pub(crate) fn actor_client(mut self, client: rivet_client::Client) -> Self {
        self.actor_client = Some(client);
        self
    }

    /// Serves a Rivet Engine's `POST /start` with `handler` (runner mode, serverless pools).
    #[cfg(feature = "engine")]
    pub(crate) fn serverless_start(mut self, handler: crate::config::StartHandler) -> Self {
        self.config.server.serverless = Some(handler);
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
        #[cfg_attr(not(feature = "server"), allow(unused_mut))]
        let mut config = self.config;
        #[cfg(feature = "server")]
        {
            let token = self
                .token
                .or_else(|| std::env::var(crate::config::TOKEN_ENV).ok());
            config.server.token = token.as_deref().and_then(crate::config::Token::new);
            let inspector = self
                .inspector_token
                .or_else(|| std::env::var(crate::config::INSPECTOR_TOKEN_ENV).ok());
            config.server.inspector_token =
                inspector.as_deref().and_then(crate::config::Token::new);
        }
        let creations = super::limits::Creations::new(config.creation_rate);
        let (lifecycle, _) = broadcast::channel(1024);
        let (closing, _) = tokio::sync::watch::channel(false);
        let (recovered, _) = tokio::sync::watch::channel(false);
        let actor_client = self.actor_client;
        #[cfg(feature = "engine")]
        let metrics = crate::metrics::Metrics::new(self.preloaded_reads.unwrap_or_default());
        #[cfg(not(feature = "engine"))]
        let metrics = crate::metrics::Metrics::default();
        let inner = Arc::new_cyclic(|me: &Weak<RegistryInner>| RegistryInner {
            clients: match actor_client {
                Some(client) => ClientMaker::new(move |_| client.clone()),
                None => LocalTransport::client_maker(me.clone()),
            },
            factories,
            storage,
            config,
            live: Mutex::new(Live::default()),
            next_generation: AtomicU64::new(1),
            shutting_down: AtomicBool::new(false),
            closing,
            recovered,
            metrics,
            lifecycle,
            #[cfg(feature = "engine")]
            lifecycle_sink: std::sync::OnceLock::new(),
            active: AtomicUsize::new(0),
            stopped: tokio::sync::Notify::new(),
            runtime,
            creations,
            alarms: Mutex::new(Alarms::default()),
            alarms_changed: tokio::sync::Notify::new(),
        });
        inner
            .runtime
            .spawn(RegistryInner::run_alarms(Arc::downgrade(&inner)));
        // Actors with work waiting resume it without waiting for a request.
        inner.runtime.spawn(Arc::clone(&inner).recover());
        Ok(Registry {
            guard: Arc::new(RegistryGuard { inner }),
        })
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
            actor_client: None,
            #[cfg(feature = "engine")]
            preloaded_reads: None,
            #[cfg(feature = "server")]
            token: None,
            #[cfg(feature = "server")]
            inspector_token: None,
        }
    }
}
