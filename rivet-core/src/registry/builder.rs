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
        let (lifecycle, _) = broadcast::channel(1024);
        let (closing, _) = tokio::sync::watch::channel(false);
        let actor_client = self.actor_client;
        let inner = Arc::new_cyclic(|me: &Weak<RegistryInner>| RegistryInner {
            clients: match actor_client {
                Some(client) => ClientMaker::new(move |_| client.clone()),
                None => LocalTransport::client_maker(me.clone()),
            },
            factories,
            storage,
            config: self.config,
            live: Mutex::new(Live::default()),
            next_generation: AtomicU64::new(1),
            shutting_down: AtomicBool::new(false),
            closing,
            lifecycle,
            #[cfg(feature = "engine")]
            lifecycle_sink: std::sync::OnceLock::new(),
            active: AtomicUsize::new(0),
            stopped: tokio::sync::Notify::new(),
            runtime,
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
        }
    }
}
