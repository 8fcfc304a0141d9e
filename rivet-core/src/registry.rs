//! The [`Registry`]: the actor types, their storage, the awake actors, and the clients that
//! reach them.
//!
//! The rooms: `builder.rs` configures and starts a registry, `live.rs` keeps the awake actors and
//! delivers messages to them (waking them as needed), `alarms.rs` wakes sleeping actors for their
//! schedules, `recovery.rs` resumes work left waiting at start-up, `actors.rs` finds, creates and
//! destroys actors for the server's REST API, `factory.rs` erases actor types, and
//! `transport.rs` is the in-process client transport.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
#[cfg(feature = "server")]
use std::time::Duration;

use rivet_client::{ActorError, Client, codes};
use tokio::sync::broadcast;

use crate::actor::ActorMetadata;
use crate::config::Config;
use crate::lifecycle::{LifecycleEvent, LifecycleKind};
use crate::mailbox::{Envelope, Leftovers, MailboxRx};
use crate::report::chain;
use crate::runtime::{ActorRuntime, ClientMaker};
use crate::storage::{ActorRecord, Storage, StorageError};

#[cfg(feature = "server")]
mod actors;
mod alarms;
mod builder;
mod factory;
mod limits;
mod live;
mod recovery;
mod transport;

use alarms::Alarms;
pub use builder::{DATA_DIR_ENV, DEFAULT_DATA_DIR, RegistryBuilder};
use factory::ActorFactory;
use live::Live;
use transport::LocalTransport;

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
    /// A client that calls actors in this process, with the same typed stubs as a network client.
    pub fn client(&self) -> Client {
        Client::from_transport(Arc::new(LocalTransport::for_user(Arc::clone(&self.guard))))
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
    #[cfg(feature = "engine")]
    pub(crate) fn stopped(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut closing = self.closing();
        async move {
            let _ = closing.wait_for(|closing| *closing).await;
        }
    }

    /// Turns true once shutdown has begun.
    #[cfg(feature = "server")]
    pub(crate) fn closing(&self) -> tokio::sync::watch::Receiver<bool> {
        self.guard.inner.closing.subscribe()
    }

    /// Starts an activation of an actor the engine placed here (runner mode).
    #[cfg(feature = "engine")]
    pub(crate) fn host_actor(&self, record: ActorRecord) -> Result<(), ActorError> {
        self.guard.inner.wake(record).map(|_| ())
    }

    /// Asks an actor's activation to sleep after the messages it already has; `false` if it is
    /// not awake (runner mode: the engine stops it).
    #[cfg(feature = "engine")]
    pub(crate) fn stop_actor(&self, id: &str) -> bool {
        let live = self.guard.inner.live();
        live.by_id
            .get(id)
            .is_some_and(|slot| slot.tx.send(Box::new(Envelope::Sleep)).is_ok())
    }

    /// Every lifecycle event from now on, none dropped (the runner mode's envoy); `None` if
    /// taken already.
    #[cfg(feature = "engine")]
    pub(crate) fn lifecycle_sink(
        &self,
    ) -> Option<tokio::sync::mpsc::UnboundedReceiver<LifecycleEvent>> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        self.guard.inner.lifecycle_sink.set(tx).ok()?;
        Some(rx)
    }

    /// Resolves once start-up recovery has run: the actors that had work waiting when the
    /// process last stopped (queued messages someone can take, unfinished workflows) were
    /// woken, and the alarms of sleeping actors with schedules are set. A readiness check
    /// can wait for it; so do tests that look at what start-up woke.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let registry = rivet_core::Registry::builder().in_memory().build()?;
    /// registry.recovered().await;
    /// assert_eq!(registry.awake_count(), 0);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn recovered(&self) {
        let mut recovered = self.guard.inner.recovered.subscribe();
        let _ = recovered.wait_for(|done| *done).await;
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
            tracing::error!(error = %chain(&error), "closing storage failed");
        }
    }
}

pub(crate) struct RegistryInner {
    /// Makes the in-process clients of actor code, which hold the registry weakly.
    clients: ClientMaker,
    factories: HashMap<&'static str, Arc<dyn ActorFactory>>,
    storage: Arc<dyn Storage>,
    config: Config,
    live: Mutex<Live>,
    next_generation: AtomicU64,
    shutting_down: AtomicBool,
    /// Tells servers to stop accepting connections.
    closing: tokio::sync::watch::Sender<bool>,
    /// Turns true once start-up recovery has run.
    recovered: tokio::sync::watch::Sender<bool>,
    /// What `GET /metrics` reports.
    pub(crate) metrics: crate::metrics::Metrics,
    lifecycle: broadcast::Sender<LifecycleEvent>,
    /// Every lifecycle event, without loss (runner mode: the envoy reports each actor's end
    /// to the engine, which the bounded broadcast could drop under a burst).
    #[cfg(feature = "engine")]
    lifecycle_sink: std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<LifecycleEvent>>,
    active: AtomicUsize,
    stopped: tokio::sync::Notify,
    runtime: tokio::runtime::Handle,
    /// The creation rate's token bucket.
    creations: limits::Creations,
    /// When sleeping actors must wake for their schedules.
    alarms: Mutex<Alarms>,
    alarms_changed: tokio::sync::Notify,
}

impl fmt::Debug for RegistryInner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryInner")
            .field("actors", &self.factories.keys().collect::<Vec<_>>())
            .field("storage", &self.storage)
            .finish_non_exhaustive()
    }
}

impl RegistryInner {
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
        let event = LifecycleEvent {
            actor_id: record.id.clone(),
            name: record.name.clone(),
            key: record.key.clone(),
            kind,
        };
        #[cfg(feature = "engine")]
        if let Some(sink) = self.lifecycle_sink.get() {
            let _ = sink.send(event.clone());
        }
        let _ = self.lifecycle.send(event);
    }
}

impl ActorRuntime for RegistryInner {
    fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    fn config(&self) -> &Config {
        &self.config
    }

    fn metrics(&self) -> &crate::metrics::Metrics {
        &self.metrics
    }

    fn clients(&self) -> &ClientMaker {
        &self.clients
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

fn internal(error: StorageError) -> ActorError {
    tracing::error!(error = %chain(&error), "storage failure");
    codes::INTERNAL_ERROR.error()
}
