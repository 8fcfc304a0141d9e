//! The actor host: one task per awake actor, owning its state and running one turn at a time.
//!
//! A turn is an action, a queue message, a hook, or a state change of the `#[run]` loop. When it
//! succeeds, the state (if it changed) and the turn's other writes go to storage as one batch,
//! and the reply and events are released only once that batch is committed. When it fails,
//! times out or panics, the state is rolled back to the end of the previous turn and nothing
//! of the turn's own is written.
//!
//! The rooms: `start.rs` wakes an activation (state, vars, database, queue, schedules, hooks),
//! `event_loop.rs` takes its messages and decides when it sleeps, `turn.rs` runs a turn and
//! ends it, `gate.rs` commits batches in order and holds replies until they are durable,
//! `queue.rs` keeps the durable queue, `conns.rs` opens and closes connections and raw
//! sockets, `run_loop.rs` serves the `#[run]` loop, `inspect.rs` answers the inspector, and
//! `stop.rs` ends the activation.

use std::sync::Arc;

use rivet_client::ActorError;
use tokio::sync::oneshot;
use tracing::Instrument;

use crate::actor::Actor;
use crate::context::Cx;
use crate::lifecycle::LifecycleKind;
use crate::mailbox::{Envelope, Leftovers, MailboxRx};
use crate::runtime::ActorRuntime;
use crate::storage::ActorRecord;

mod conns;
mod event_loop;
mod gate;
mod inspect;
mod queue;
mod run_loop;
mod start;
mod stop;
mod turn;

use gate::OutputGate;
use queue::DurableQueue;
pub(crate) use queue::consumer_signature;
use run_loop::RunLoop;

/// Runs one activation of an actor until it sleeps, is destroyed, or the registry shuts down.
pub(crate) async fn run<A: Actor>(
    runtime: Arc<dyn ActorRuntime>,
    record: ActorRecord,
    generation: u64,
    mut rx: MailboxRx,
) {
    let span = tracing::info_span!(crate::trace::ACTIVATION_SPAN, name = %record.name, key = ?record.key, id = %record.id);
    async move {
        // Boxed so their state, needed once per activation, does not size the idle task.
        let host = match Box::pin(Host::<A>::start(&runtime, &record, generation)).await {
            Ok(host) => host,
            Err(error) => {
                let error = error.into_reply("actor start");
                Arc::clone(&runtime).deregister(
                    &record,
                    generation,
                    &mut rx,
                    Leftovers::Fail(error),
                );
                runtime.publish(&record, LifecycleKind::Crashed);
                return;
            }
        };
        // Boxed: a future keeps room for values moved out of it, so a `Host` held by value
        // here and in `run` would be counted twice in every idle actor.
        let mut host = Box::new(host);
        host.start_run_loop();
        host.run(rx).await;
    }
    .instrument(span)
    .await;
}

/// Why an activation ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// Idle, or the actor asked to sleep.
    Sleep,
    /// The actor asked to be destroyed, or the REST API did.
    Destroy,
    /// A write failed: start again from storage.
    Restart,
    /// The registry is shutting down.
    Shutdown,
}

/// One activation of actor `A`.
struct Host<A: Actor> {
    runtime: Arc<dyn ActorRuntime>,
    record: ActorRecord,
    generation: u64,
    state: A,
    cx: Cx<A>,
    /// The encoded state as of the end of the last successful turn; what a failed turn rolls
    /// back to.
    committed_state: Vec<u8>,
    gate: OutputGate,
    queue: DurableQueue,
    stop: Option<Stop>,
    /// Connections the actor asked to close (`cx.disconnect`), handled after the turn.
    pending_disconnects: Vec<(String, Option<ActorError>)>,
    /// Callers waiting for the actor to be destroyed.
    destroy_waiters: Vec<oneshot::Sender<Result<(), ActorError>>>,
    /// The `#[run]` loop, while it runs.
    run_loop: Option<RunLoop<A>>,
    /// Its actor type's metrics, and what this activation last added to the gauges.
    metrics: Arc<crate::metrics::ActorMetrics>,
    reported: Reported,
    /// The activation's recent spans.
    traces: crate::trace::Traces,
    /// The caller's trace for the next turn (set by the message that starts it).
    trace_parent: Option<crate::trace::TraceParent>,
    /// Inspector WebSockets watching this activation (`inspect.rs`).
    watchers: Option<tokio::sync::watch::Sender<crate::mailbox::Revisions>>,
}

impl<A: Actor> Host<A> {
    /// How long an action or queue handler may run: the actor type's own timeout
    /// (`#[actor(options = ..)]`), else the registry's.
    fn action_timeout(&self) -> std::time::Duration {
        A::metadata()
            .options
            .action_timeout
            .unwrap_or(self.runtime.config().action_timeout)
    }

    /// Idle time before sleeping: the actor type's own, else the registry's.
    fn sleep_timeout(&self) -> std::time::Duration {
        A::metadata()
            .options
            .sleep_timeout
            .unwrap_or(self.runtime.config().sleep_timeout)
    }

    /// How long sleeping waits for work in flight: the actor type's own, else the registry's.
    fn sleep_grace_period(&self) -> std::time::Duration {
        A::metadata()
            .options
            .sleep_grace_period
            .unwrap_or(self.runtime.config().sleep_grace_period)
    }
}

/// What an activation last added to its actor type's gauges.
#[derive(Debug, Default)]
struct Reported {
    connections: i64,
    queued: i64,
}

/// What the event loop hands to [`Host::handle`]: a mailbox message or a run-loop request.
enum Incoming<A: Actor> {
    Envelope(Box<Envelope>),
    Run(crate::run::request::RunRequest<A>),
}
