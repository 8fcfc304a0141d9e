//! Runner mode: the registry's actors served by a Rivet Engine, to which this process connects
//! as an "envoy" (feature `engine`). The engine creates the actors, places them on envoys, keeps
//! their storage in its KV and routes client traffic from its gateway through the envoy's
//! connection; the actor code is the same as embedded.
//!
//! ```no_run
//! # use rivet_core::prelude::*;
//! # #[derive(Default, Serialize, Deserialize)] struct Counter { count: i64 }
//! # #[actor] impl Counter { #[action] fn get(&self) -> i64 { self.count } }
//! use rivet_core::envoy::{Envoy, connect::EngineEndpoint};
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let engine = EngineEndpoint::new("http://127.0.0.1:6420").pool("default");
//! let envoy = Envoy::start(Registry::builder().with::<Counter>(), engine).await?;
//! // Clients reach the actors through the engine: `Client::new("http://127.0.0.1:6420")`.
//! tokio::signal::ctrl_c().await?;
//! envoy.shutdown().await; // the engine moves the actors away first
//! # Ok(()) }
//! ```
//!
//! The rooms: `connect.rs` (the engine check, the runner config, the socket), `protocol.rs`
//! (the wire format), `ledger.rs` (acks), `session.rs` (the connection loop and commands),
//! `link.rs` (the way to the connection, and fencing), `storage.rs` and `journal.rs` (actor
//! storage on the engine's KV, atomic turns), `tunnel.rs` (client traffic).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::registry::{Registry, RegistryBuilder};

pub mod connect;
pub(crate) mod journal;
pub mod ledger;
pub(crate) mod link;
pub mod protocol;
mod serverless;
mod session;
pub(crate) mod storage;
mod tunnel;

use connect::{EngineEndpoint, EnvoyError, check_engine, register_pool};
use link::Link;
pub use serverless::SERVERLESS_PATH;
use storage::EngineStorage;

/// How long an engine that is starting may take to create its namespace.
const NAMESPACE_WAIT: Duration = Duration::from_secs(30);

/// A registry serving its actors as an envoy of a Rivet Engine. See the module docs.
#[derive(Debug)]
pub struct Envoy {
    registry: Registry,
    engine: EngineEndpoint,
    key: String,
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Envoy {
    /// Builds the registry with its storage on the engine, checks the engine (an engine that
    /// speaks another envoy protocol is refused by name), registers the pool's runner config,
    /// and connects. Returns once the engine has greeted the envoy; from then on the envoy
    /// reconnects by itself until [`shutdown`](Self::shutdown).
    pub async fn start(
        builder: RegistryBuilder,
        engine: EngineEndpoint,
    ) -> Result<Self, EnvoyError> {
        if engine.endpoint().starts_with("https://") && !rivet_client::tls::ENABLED {
            return Err(EnvoyError::InvalidEndpoint(format!(
                "{} is an https:// endpoint, and this build has no TLS: turn on rivet-core's \
                 `tls` feature",
                engine.endpoint()
            )));
        }
        rivet_client::tls::ready();
        let http = reqwest::Client::new();
        let release = check_engine(&http, &engine).await?;
        register_with_retry(&http, &engine).await?;
        let (link, outgoing) = Link::new();
        let storage = Arc::new(EngineStorage::new(link.clone()));
        // Actor code calls other actors through the engine, which may have placed them on
        // another envoy (or creates them).
        let registry = builder
            .storage(Arc::clone(&storage) as _)
            .preloaded_reads(storage.preloaded_reads())
            .actor_client(engine.client()?)
            .build()?;
        let (key, stop, task) =
            session::connect(&registry, storage, link, outgoing, &engine).await?;
        tracing::info!(engine = %engine.endpoint(), %release, envoy = %key, "connected to the Rivet Engine");
        Ok(Self {
            registry,
            engine,
            key,
            stop,
            task: Mutex::new(Some(task)),
        })
    }

    /// A client of every actor of the engine's namespace, through its gateway (the registry's
    /// own in-process client reaches only the actors running on this envoy).
    pub fn client(&self) -> Result<rivet_client::Client, EnvoyError> {
        self.engine.client()
    }

    /// The registry, for in-process clients of the actors this envoy hosts.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The envoy key this process connects under.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Tells the engine this envoy is stopping (it stops the actors here, to start them
    /// elsewhere), waits until they stopped, within the engine's stop threshold, then shuts the
    /// registry down.
    pub async fn shutdown(&self) {
        self.stop.send_replace(true);
        let task = crate::sync::lock(&self.task).take();
        if let Some(task) = task {
            let _ = task.await;
        }
        self.registry.shutdown().await;
    }
}

/// Registers the runner config; an engine that is starting answers `namespace.not_found` for a
/// moment before it created its namespace, and may fail a call with a 5xx while its services
/// come up: both are retried for a while.
async fn register_with_retry(
    http: &reqwest::Client,
    engine: &EngineEndpoint,
) -> Result<(), EnvoyError> {
    let deadline = tokio::time::Instant::now() + NAMESPACE_WAIT;
    let mut delay = Duration::from_millis(100);
    loop {
        match register_pool(http, engine).await {
            Err(EnvoyError::Refused { body, status, .. })
                if (body.contains("not_found") || status >= 500)
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
            other => return other,
        }
    }
}
