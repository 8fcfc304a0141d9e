//! The registry's Prometheus metrics (`GET /metrics`): actors awake and woken, turns by actor
//! type and outcome, turn, wake and commit latencies, commit batch sizes, connections, queue
//! depths and errors by code, kept and encoded (OpenMetrics text) by `prometheus-client`.
//!
//! An activation looks up its actor type's metrics once ([`Metrics::actor`]), so a turn only
//! touches atomics and one histogram.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Label sets: `actor` (the type name), `outcome`, `code`.
type Labels = Vec<(&'static str, String)>;

/// Latency buckets: 25 µs to about 6.5 s.
fn latency() -> Histogram {
    Histogram::new(exponential_buckets(0.000_025, 2.0, 19))
}

/// Batch sizes, in operations: 1 to 4096.
fn sizes() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, 13))
}

/// Every metric of one registry.
pub(crate) struct Metrics {
    registry: Registry,
    awake: Family<Labels, Gauge>,
    asleep: Family<Labels, Gauge>,
    wake_seconds: Family<Labels, Histogram>,
    turns: Family<Labels, Counter>,
    turn_seconds: Family<Labels, Histogram>,
    connections: Family<Labels, Gauge>,
    queued: Family<Labels, Gauge>,
    errors: Family<Labels, Counter>,
    commit_seconds: Histogram,
    batch_ops: Histogram,
    /// Runner mode: KV reads answered from the engine's preload (0 elsewhere).
    preloaded_reads: Counter,
    /// Each actor type's handles, made on its first wake.
    by_actor: Mutex<HashMap<String, Arc<ActorMetrics>>>,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new(Counter::default())
    }
}

impl Metrics {
    /// The metrics, with the runner-mode storage's counter of preloaded reads.
    pub(crate) fn new(preloaded_reads: Counter) -> Self {
        let metrics = Self {
            registry: Registry::with_prefix("rivet"),
            awake: Family::default(),
            asleep: Family::default(),
            wake_seconds: Family::new_with_constructor(latency),
            turns: Family::default(),
            turn_seconds: Family::new_with_constructor(latency),
            connections: Family::default(),
            queued: Family::default(),
            errors: Family::default(),
            commit_seconds: latency(),
            batch_ops: sizes(),
            preloaded_reads,
            by_actor: Mutex::default(),
        };
        metrics.registered()
    }

    fn registered(mut self) -> Self {
        let r = &mut self.registry;
        r.register("actors_awake", "Actors awake now", self.awake.clone());
        r.register(
            "actors_asleep",
            "Actors stored and not awake, counted when scraped (not on an engine, which keeps that itself)",
            self.asleep.clone(),
        );
        r.register(
            "actor_wake_seconds",
            "Time to wake an actor: load its state and queue, run on_wake",
            self.wake_seconds.clone(),
        );
        r.register("turns", "Turns run, by outcome", self.turns.clone());
        r.register(
            "turn_seconds",
            "Time actor code ran in a turn",
            self.turn_seconds.clone(),
        );
        r.register(
            "connections",
            "Open connections to awake actors",
            self.connections.clone(),
        );
        r.register(
            "queue_messages",
            "Queued messages of awake actors",
            self.queued.clone(),
        );
        r.register(
            "turn_errors",
            "Turns refused, by error code",
            self.errors.clone(),
        );
        r.register(
            "commit_seconds",
            "Time from a batch's submission to its commit",
            self.commit_seconds.clone(),
        );
        r.register(
            "commit_batch_operations",
            "Writes in a committed batch",
            self.batch_ops.clone(),
        );
        r.register(
            "engine_kv_preloaded_reads",
            "Runner mode: storage reads answered from the KV the engine preloaded into an actor's start",
            self.preloaded_reads.clone(),
        );
        self
    }

    /// The metrics of actor type `name`.
    pub(crate) fn actor(&self, name: &str) -> Arc<ActorMetrics> {
        let mut by_actor = crate::sync::lock(&self.by_actor);
        if let Some(found) = by_actor.get(name) {
            return Arc::clone(found);
        }
        let made = Arc::new(self.make_actor(name));
        by_actor.insert(name.to_owned(), Arc::clone(&made));
        made
    }

    fn make_actor(&self, name: &str) -> ActorMetrics {
        let actor = || vec![("actor", name.to_owned())];
        let outcome =
            |outcome: &str| vec![("actor", name.to_owned()), ("outcome", outcome.to_owned())];
        // One statement each: `get_or_create` returns a read guard of the family, and a second
        // call for a new label set in the same statement would wait for its write lock forever.
        let awake = self.awake.get_or_create(&actor()).clone();
        let wake_seconds = self.wake_seconds.get_or_create(&actor()).clone();
        let turns_ok = self.turns.get_or_create(&outcome("ok")).clone();
        let turns_refused = self.turns.get_or_create(&outcome("refused")).clone();
        let turn_seconds = self.turn_seconds.get_or_create(&actor()).clone();
        let connections = self.connections.get_or_create(&actor()).clone();
        let queued = self.queued.get_or_create(&actor()).clone();
        ActorMetrics {
            awake,
            wake_seconds,
            turns_ok,
            turns_refused,
            turn_seconds,
            connections,
            queued,
            errors: self.errors.clone(),
            commits: CommitMetrics {
                seconds: self.commit_seconds.clone(),
                operations: self.batch_ops.clone(),
            },
        }
    }

    /// Sets the sleeping actors of each type from `stored`, how many actors of each type the
    /// storage holds: those not awake.
    #[cfg_attr(not(feature = "server"), allow(dead_code))]
    pub(crate) fn set_asleep(&self, stored: &[(String, u64)]) {
        for (name, count) in stored {
            let labels = vec![("actor", name.clone())];
            let awake = self.awake.get_or_create(&labels).get();
            let count = i64::try_from(*count).unwrap_or(i64::MAX);
            self.asleep
                .get_or_create(&labels)
                .set(count.saturating_sub(awake).max(0));
        }
    }

    /// Everything, in the OpenMetrics text format.
    #[cfg_attr(not(feature = "server"), allow(dead_code))]
    pub(crate) fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(error) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(%error, "cannot encode the metrics");
        }
        out
    }
}

/// The metrics of one actor type, as an activation updates them.
#[derive(Clone)]
pub(crate) struct ActorMetrics {
    pub(crate) awake: Gauge,
    pub(crate) wake_seconds: Histogram,
    pub(crate) turns_ok: Counter,
    pub(crate) turns_refused: Counter,
    pub(crate) turn_seconds: Histogram,
    pub(crate) connections: Gauge,
    pub(crate) queued: Gauge,
    errors: Family<Labels, Counter>,
    pub(crate) commits: CommitMetrics,
}

impl fmt::Debug for ActorMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActorMetrics").finish_non_exhaustive()
    }
}

impl ActorMetrics {
    /// A turn refused with error `code` (`group.code`).
    pub(crate) fn refused(&self, code: String) {
        self.turns_refused.inc();
        self.errors.get_or_create(&vec![("code", code)]).inc();
    }
}

/// The commit metrics an activation's output gate updates.
#[derive(Clone)]
pub(crate) struct CommitMetrics {
    seconds: Histogram,
    operations: Histogram,
}

impl Default for CommitMetrics {
    /// Metrics no registry reports (for a gate outside a registry, in tests).
    fn default() -> Self {
        Self {
            seconds: latency(),
            operations: sizes(),
        }
    }
}

impl fmt::Debug for CommitMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommitMetrics").finish_non_exhaustive()
    }
}

impl CommitMetrics {
    /// A batch of `operations` writes committed in `took`.
    pub(crate) fn committed(&self, operations: usize, took: Duration) {
        #[allow(clippy::cast_precision_loss)]
        self.operations.observe(operations as f64);
        self.seconds.observe(took.as_secs_f64());
    }
}

/// Adjusts `gauge` by the change from `reported` to `now`, and remembers `now`.
pub(crate) fn track(gauge: &Gauge, reported: &mut i64, now: usize) {
    let now = i64::try_from(now).unwrap_or(i64::MAX);
    if now != *reported {
        gauge.inc_by(now - *reported);
        *reported = now;
    }
}
