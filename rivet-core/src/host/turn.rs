//! One turn: a piece of actor code run with a timeout and caught panics, then ended — committed
//! with its writes behind the output gate, or refused and rolled back.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use rivet_client::transport::{ConnSender, QueueSendOutcome};
use rivet_client::{ActorError, codes};
use tokio::sync::oneshot;
use tracing::Instrument;

use super::{Host, Stop};
use crate::actor::{Actor, Dispatch, Hook, HookSet};
use crate::conn::{Conn, ConnKind};
use crate::context::Cx;
use crate::error::Error;
use crate::raw::{self, WebSocketEvent};
use crate::report::chain;
use crate::run::request::{TurnAnswer, TurnFn};
use crate::storage::{Batch, StorageError, keys};
use crate::time::now_ms;
use crate::trace::TurnSpan;
use crate::writes::Prepared;

/// The actor code a turn runs.
pub(super) enum Work<'a> {
    Action {
        name: &'a str,
        args: &'a [u8],
    },
    Queue {
        name: &'a str,
        body: &'a [u8],
    },
    Hook(Hook),
    /// Opens a connection: `#[on_before_connect]`, `#[conn_state]`, `#[on_connect]`.
    Connect {
        id: String,
        params: Option<Bytes>,
        request: Option<Box<http::Request<()>>>,
        kind: ConnKind,
        sink: ConnSender,
    },
    /// An action with a connection that lasts for the call.
    EphemeralAction {
        id: String,
        params: Option<Bytes>,
        request: Option<Box<http::Request<()>>>,
        name: &'a str,
        args: &'a [u8],
    },
    Disconnect {
        id: String,
    },
    Request {
        request: raw::Request,
        response: oneshot::Sender<raw::Response>,
    },
    WebSocket(WebSocketEvent),
}

impl Work<'_> {
    /// What the turn's span calls this work: its kind, and a name within the kind, from the
    /// actor's metadata (so that the span holds no copy; a name the actor does not declare is
    /// left empty, and its turn is refused anyway).
    fn label<A: Actor>(&self) -> (&'static str, &'static str) {
        fn declared(mut names: impl Iterator<Item = &'static str>, name: &str) -> &'static str {
            names.find(|n| *n == name).unwrap_or("")
        }
        let meta = A::metadata();
        match self {
            Work::Action { name, .. } | Work::EphemeralAction { name, .. } => (
                "action",
                declared(meta.actions.iter().map(|a| a.name), name),
            ),
            Work::Queue { name, .. } => ("queue", declared(meta.queues.iter().copied(), name)),
            Work::Hook(hook) => ("hook", hook_name(*hook)),
            Work::Connect { .. } => ("connect", ""),
            Work::Disconnect { .. } => ("disconnect", ""),
            Work::Request { .. } => ("request", ""),
            Work::WebSocket(_) => ("websocket", ""),
        }
    }

    /// Runs the work on the actor's state.
    async fn run<A: Actor>(self, state: &mut A, cx: &mut Cx<A>) -> Dispatch {
        match self {
            Work::Action { name, args } => state.dispatch(cx, name, args).await,
            Work::Queue { name, body } => state.dispatch_queue(cx, name, body).await,
            Work::Hook(hook) => mutated(state.hook(cx, hook).await),
            // Boxed: these hold more across their awaits (a connection being set up, hooks in a
            // row); inline, they would size every action's future by theirs, and each action
            // would copy that much into its allocation.
            connection_or_raw => Box::pin(connection_or_raw.run_connection_or_raw(state, cx)).await,
        }
    }

    /// [`run`](Self::run) for the work that involves a connection or raw HTTP or WebSocket.
    async fn run_connection_or_raw<A: Actor>(self, state: &mut A, cx: &mut Cx<A>) -> Dispatch {
        let hooks = A::metadata().hooks;
        match self {
            Work::Action { name, args } => state.dispatch(cx, name, args).await,
            Work::Queue { name, body } => state.dispatch_queue(cx, name, body).await,
            Work::Hook(hook) => mutated(state.hook(cx, hook).await),
            Work::Connect {
                id,
                params,
                request,
                kind,
                sink,
            } => Dispatch {
                result: open_conn(state, cx, id, params, request, kind, sink)
                    .await
                    .map(|()| Bytes::new()),
                mutates: hooks.intersects(HookSet::CONNECTION_SETUP.with(HookSet::CONNECT)),
            },
            Work::EphemeralAction {
                id,
                params,
                request,
                name,
                args,
            } => {
                let (tx, _closed) = rivet_client::transport::conn_channel();
                if let Err(error) =
                    open_conn(state, cx, id, params, request, ConnKind::Http, tx).await
                {
                    return mutated(Err(error));
                }
                let mut dispatch = state.dispatch(cx, name, args).await;
                if hooks.contains(HookSet::DISCONNECT)
                    && let Err(error) = state.hook(cx, Hook::Disconnect).await
                {
                    tracing::error!(%error, "on_disconnect failed");
                }
                dispatch.mutates |= hooks.intersects(HookSet::CONNECTION_HOOKS);
                dispatch
            }
            Work::Disconnect { id } => {
                if !hooks.contains(HookSet::DISCONNECT) {
                    return Dispatch {
                        result: Ok(Bytes::new()),
                        mutates: false,
                    };
                }
                cx.connections_mut().set_current(Some(id));
                mutated(state.hook(cx, Hook::Disconnect).await)
            }
            Work::Request { request, response } => {
                mutated(match state.on_request(cx, request).await {
                    Some(Ok(r)) => {
                        let _ = response.send(r);
                        Ok(())
                    }
                    Some(Err(e)) => Err(e),
                    None => Err(Error::public(codes::ACTOR_NOT_FOUND.with_message(
                        "This actor does not handle raw HTTP requests (no #[on_request]).",
                    ))),
                })
            }
            Work::WebSocket(event) => {
                let socket = match &event {
                    WebSocketEvent::Open { socket, .. } => Some(socket.clone()),
                    _ => None,
                };
                mutated(match state.on_websocket(cx, event).await {
                    Some(result) => result,
                    None => {
                        if let Some(socket) = socket {
                            socket.close(1011, "actor.not_found");
                        }
                        Ok(())
                    }
                })
            }
        }
    }
}

/// A turn that ran: its code's outcome and, when it ran through [`Host::execute`], its span
/// (which [`Host::finish_turn`] ends). Carried from one to the other rather than kept in the
/// host, which every awake actor holds.
pub(super) struct Ran {
    pub(super) dispatch: Dispatch,
    span: Option<TurnSpan>,
}

impl From<Dispatch> for Ran {
    /// A turn that ran no user code (the inspector's): its span starts when it ends.
    fn from(dispatch: Dispatch) -> Self {
        Self {
            dispatch,
            span: None,
        }
    }
}

/// A hook's attribute name.
fn hook_name(hook: Hook) -> &'static str {
    match hook {
        Hook::Create => "on_create",
        Hook::Wake => "on_wake",
        Hook::Sleep => "on_sleep",
        Hook::Destroy => "on_destroy",
        Hook::Connect => "on_connect",
        Hook::Disconnect => "on_disconnect",
    }
}

/// The outcome of code that took `&mut self`.
fn mutated(result: Result<(), Error>) -> Dispatch {
    Dispatch {
        result: result.map(|()| Bytes::new()),
        mutates: true,
    }
}

/// Runs `#[on_before_connect]` and `#[conn_state]`, adds the connection, then `#[on_connect]`.
async fn open_conn<A: Actor>(
    state: &mut A,
    cx: &mut Cx<A>,
    id: String,
    params: Option<Bytes>,
    request: Option<Box<http::Request<()>>>,
    kind: ConnKind,
    sink: ConnSender,
) -> Result<(), Error> {
    // `cx.request()` for the hooks of this opening only.
    cx.set_request(request);
    let opened = open_conn_hooks(state, cx, id, params, kind, sink).await;
    cx.set_request(None);
    opened
}

async fn open_conn_hooks<A: Actor>(
    state: &mut A,
    cx: &mut Cx<A>,
    id: String,
    params: Option<Bytes>,
    kind: ConnKind,
    sink: ConnSender,
) -> Result<(), Error> {
    let hooks = A::metadata().hooks;
    if hooks.contains(HookSet::CONNECTION_SETUP) {
        state.on_before_connect(cx, params.as_deref()).await?;
    }
    let conn_state = state.create_conn_state(cx, params.as_deref()).await?;
    cx.connections_mut()
        .insert(Conn::new(id, params, conn_state, kind, sink));
    if hooks.contains(HookSet::CONNECT) {
        state.hook(cx, Hook::Connect).await?;
    }
    Ok(())
}

/// The attributes that name an actor in its spans.
pub(super) fn actor_attributes(
    record: &crate::storage::ActorRecord,
) -> crate::trace::ActorAttributes {
    [
        ("actor.name", record.name.clone()),
        ("actor.key", record.key.serialize()),
        ("actor.id", record.id.clone()),
    ]
}

impl<A: Actor> Host<A> {
    /// Runs one piece of user code with a timeout, catching panics, in the turn's span (which
    /// [`finish_turn`](Self::finish_turn) ends).
    pub(super) async fn execute(&mut self, work: Work<'_>, timeout: Duration) -> Ran {
        let (kind, name) = work.label::<A>();
        let span = TurnSpan::start(kind, name, self.trace_parent.take(), || {
            actor_attributes(&self.record)
        });
        let started = std::time::Instant::now();
        let dispatch = self.execute_timed(work, timeout, span.span().clone()).await;
        // Also when the hooks of an opening connection timed out or panicked, which skips
        // their own clearing: no later turn may see that request.
        self.cx.set_request(None);
        self.metrics
            .turn_seconds
            .observe(started.elapsed().as_secs_f64());
        Ran {
            dispatch,
            span: Some(span),
        }
    }

    async fn execute_timed(
        &mut self,
        work: Work<'_>,
        timeout: Duration,
        span: tracing::Span,
    ) -> Dispatch {
        let future = work.run(&mut self.state, &mut self.cx).instrument(span);
        // Most turns finish on their first poll; only a turn that has to wait gets a timer, which
        // keeps the timer wheel out of the fast path.
        // Pinned here, not boxed: every caller runs in a future the event loop boxes per
        // message, so user code's future does not size the idle actor's task either way, and
        // here it costs no allocation of its own.
        let mut future = std::pin::pin!(catch_unwind(future));
        let first = std::future::poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx))).await;
        let outcome = match first {
            Poll::Ready(outcome) => Ok(outcome),
            Poll::Pending => tokio::time::timeout(timeout, future.as_mut()).await,
        };
        match outcome {
            Ok(Ok(dispatch)) => dispatch,
            Ok(Err(message)) => mutated(Err(Error::internal(format!(
                "actor code panicked: {message}"
            )))),
            Err(_) => mutated(Err(Error::public(codes::ACTION_TIMED_OUT.with_message(
                format!("Action timed out after {} ms.", timeout.as_millis()),
            )))),
        }
    }

    /// Runs a hook as a turn and waits for its commit. `force_persist` writes the state even if
    /// unchanged (a new actor's first state).
    pub(super) async fn run_hook(&mut self, hook: Hook, force_persist: bool) -> Result<(), Error> {
        self.run_hook_with(hook, force_persist, Batch::default())
            .await
    }

    /// [`run_hook`](Self::run_hook), with `batch`'s writes committed in the hook's turn.
    pub(super) async fn run_hook_with(
        &mut self,
        hook: Hook,
        force_persist: bool,
        batch: Batch,
    ) -> Result<(), Error> {
        if force_persist {
            // An empty committed state never equals an encoded one, so the state is written.
            self.committed_state.clear();
        }
        let timeout = self.runtime.config().hook_timeout;
        let ran = self.execute(Work::Hook(hook), timeout).await;
        let (tx, rx) = oneshot::channel();
        self.finish_turn(ran, batch, "hook", move |r| {
            let _ = tx.send(r);
        });
        match rx.await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(Error::public(e)),
            Err(_) => Err(Error::internal("hook reply dropped")),
        }
    }

    /// Runs the earliest due schedule as a turn; its removal commits with the turn.
    pub(super) async fn fire_schedule(&mut self) {
        let mut batch = self.gate.batch();
        let Some(entry) = self
            .cx
            .stores_mut()
            .schedules
            .take_due(now_ms(), &mut batch)
        else {
            self.gate.reuse(batch);
            return;
        };
        if entry.is_wake() {
            // It only had to wake the actor (a workflow's durable sleep); removing it is all.
            self.gate.submit(batch, |_| {});
            return;
        }
        let timeout = self.action_timeout();
        let work = Work::Action {
            name: &entry.action,
            args: &entry.args,
        };
        let ran = self.execute(work, timeout).await;
        let (action, id) = (entry.action, entry.id);
        self.finish_turn(ran, batch, "scheduled action", move |result| {
            if let Err(error) = result {
                tracing::warn!(%action, schedule = %id, %error, "scheduled action failed");
            }
        });
    }

    /// Runs a run-loop turn: the closure on the state, committed like any turn. The loop gets
    /// the answer as soon as the turn ran: like code in a turn, it sees the state before it is
    /// committed; replies and events the turn caused still wait for the commit, and the
    /// actor's writes commit in order.
    pub(super) fn run_turn(&mut self, run: TurnFn<A>, answer: TurnAnswer) {
        let (state, cx) = (&mut self.state, &mut self.cx);
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| run(state, cx)))
            .unwrap_or_else(|_| Err(Error::internal("run-loop turn panicked")));
        let dispatch = Dispatch {
            result: result.map(|()| Bytes::new()),
            mutates: true,
        };
        let batch = self.gate.batch();
        // Refused: the closure failed, or what it did cannot be committed (a state too large).
        let refused = self.finish_turn(dispatch, batch, "run-loop turn", |_| {});
        answer(match refused {
            None => Ok(()),
            Some(error) => Err(error),
        });
    }

    /// Ends a turn: on success, persists the state (if changed) with `batch` and releases the
    /// reply and events after the commit; on failure, rolls the state back and writes only
    /// `batch` (the writes that stand regardless, such as removing a failed queue message).
    /// Returns the error the turn was refused with, if it ran but could not be committed.
    pub(super) fn finish_turn<R>(
        &mut self,
        ran: impl Into<Ran>,
        mut batch: Batch,
        what: &'static str,
        reply: R,
    ) -> Option<ActorError>
    where
        R: FnOnce(Result<Bytes, ActorError>) + Send + 'static,
    {
        let Ran { dispatch, span } = ran.into();
        // Turns that ran no user code (a run-loop turn, the inspector's) start theirs here.
        let span = match span {
            Some(span) => span,
            None => TurnSpan::start(what, "", self.trace_parent.take(), || {
                actor_attributes(&self.record)
            }),
        };
        let output = match dispatch.result {
            Ok(output) => output,
            Err(error) => {
                let error = error.into_reply(what);
                return self.refuse_turn(dispatch.mutates, batch, error, span, reply);
            }
        };
        let prepared = match self.prepare_turn(dispatch.mutates, &mut batch) {
            Ok(prepared) => prepared,
            Err(error) => {
                return self.refuse_turn(true, batch, error.into_reply(what), span, reply);
            }
        };
        let mut effects = self.cx.take_effects();
        // Messages the turn sent to its own queue join its batch: all of them, or the turn fails.
        if !effects.enqueued.is_empty()
            && let Err(error) = self.enqueue_own(std::mem::take(&mut effects.enqueued), &mut batch)
        {
            return self.refuse_turn(true, batch, error.into_reply(what), span, reply);
        }
        self.metrics.turns_ok.inc();
        let mut answers = Vec::new();
        // The turn will commit: the workflow engine takes in its records now.
        let workflow = effects
            .workflow
            .map(|apply| apply(&mut self.cx.stores_mut().schedules));
        if let Some(workflow) = workflow {
            // A recorded message must leave the queue in the same commit, or it would be
            // delivered again. Cannot happen (the workflow holds it while recording it); if it
            // did, the engine already counts the record, so the activation restarts from storage.
            if let Some(id) = workflow.takes.iter().find(|id| !self.queue.holds(**id)) {
                let error = codes::INTERNAL_ERROR.with_message(format!(
                    "Queue message {id} is not held by the run loop; its record is refused."
                ));
                tracing::error!(%error, "restarting the actor");
                self.gate.poison();
                return self.refuse_turn(true, batch, error, span, reply);
            }
            let mut writes = workflow.writes;
            batch.ops.append(&mut writes.ops);
            for id in workflow.takes {
                self.queue.record_taken(id, &mut batch);
            }
            self.queue.give_back(workflow.returns, &mut batch);
            answers = workflow.answers;
        }
        let kv_committed = self.cx.stores_mut().commit(prepared, &mut batch);
        if effects.destroy {
            self.stop = Some(Stop::Destroy);
        } else if effects.sleep && self.stop.is_none() {
            self.stop = Some(Stop::Sleep);
        }
        self.pending_disconnects.extend(effects.disconnects);
        let answers: Vec<_> = answers
            .into_iter()
            .filter_map(|(id, response)| self.queue.waiter(id).map(|w| (w, response)))
            .collect();
        let deliveries = self.cx.connections().route(effects.events, effects.direct);
        let committing = span.commit(batch.ops.len());
        let traces = self.traces.clone();
        self.gate.submit(batch, move |result| {
            // Written or lost, the KV writes are no longer pending: on failure the actor
            // restarts from storage.
            if let Some(committed) = kv_committed {
                committed();
            }
            match result {
                Ok(()) => {
                    // Events first: a client sees what an action broadcast before its result.
                    for (sink, message) in deliveries {
                        let _ = sink.send(message);
                    }
                    for (waiter, response) in answers {
                        let _ = waiter.send(Ok(QueueSendOutcome::Completed(response)));
                    }
                    // Kept before the reply: a caller that then reads the traces finds it.
                    committing.end(&traces, Ok(()));
                    reply(Ok(output));
                }
                Err(error) => {
                    let error = storage_failure(&error);
                    committing.end(&traces, Err(&error.full_code()));
                    reply(Err(error));
                }
            }
        });
        None
    }

    /// The checks of a turn that ran: the database's changes, and the state (if the turn could
    /// have changed it) added to `batch`, running `#[on_state_change]` if it changed. An error
    /// refuses the turn.
    fn prepare_turn(&mut self, mutates: bool, batch: &mut Batch) -> Result<Prepared, Error> {
        let prepared = self.cx.stores_mut().prepare()?;
        // A new actor's first state is its creation, not a change (as in RivetKit).
        let first = self.committed_state.is_empty();
        if mutates
            && self.persist_state(batch)?
            && !first
            && let Err(error) = self.state.on_state_change(&mut self.cx)
        {
            tracing::error!(%error, "on_state_change failed");
        }
        Ok(prepared)
    }

    /// Ends a turn that cannot commit: forgets its writes (and its state change, if it could
    /// have made one), and answers `error` once `batch` (the writes that stand regardless)
    /// commits; returns the error.
    fn refuse_turn<R>(
        &mut self,
        state_changed: bool,
        batch: Batch,
        error: ActorError,
        span: TurnSpan,
        reply: R,
    ) -> Option<ActorError>
    where
        R: FnOnce(Result<Bytes, ActorError>) + Send + 'static,
    {
        self.metrics.refused(error.full_code());
        if state_changed {
            self.rollback();
        }
        drop(self.cx.take_effects());
        if let Err(error) = self.cx.stores_mut().discard() {
            tracing::error!(%error, "cannot restore the actor's stores; restarting the actor");
            self.gate.poison();
        }
        let refused = error.clone();
        let committing = span.commit(batch.ops.len());
        let traces = self.traces.clone();
        self.gate.submit(batch, move |_| {
            committing.end(&traces, Err(&error.full_code()));
            reply(Err(error));
        });
        Some(refused)
    }

    /// Adds the state to `batch` if it changed; returns whether it did.
    fn persist_state(&mut self, batch: &mut Batch) -> Result<bool, Error> {
        let limit = self.runtime.config().max_state_size;
        let encoded = rivet_client::codec::with_buffer(|buf| {
            rivet_client::codec::write(&self.state, buf)
                .map_err(|e| Error::internal(format!("cannot encode state: {e}")))?;
            if buf[..] == self.committed_state[..] {
                return Ok(None);
            }
            if buf.len() > limit {
                return Err(Error::public(codes::STATE_TOO_LARGE.with_message(format!(
                    "Actor state would be {} bytes; the limit is {limit}. The change was not applied.",
                    buf.len()
                ))));
            }
            // Reuse the allocation of the previous snapshot.
            self.committed_state.clear();
            self.committed_state.extend_from_slice(buf);
            Ok(Some(Bytes::copy_from_slice(buf)))
        })?;
        let Some(encoded) = encoded else {
            return Ok(false);
        };
        batch.put(keys::STATE, encoded);
        Ok(true)
    }

    /// Restores the state as of the last committed turn.
    fn rollback(&mut self) {
        if self.committed_state.is_empty() {
            return;
        }
        match decode_state::<A>(&self.committed_state) {
            Ok(state) => self.state = state,
            Err(error) => {
                tracing::error!(%error, "cannot restore state; restarting actor");
                self.gate.poison();
            }
        }
    }
}

/// Polls `future`, turning a panic into an error message.
pub(super) async fn catch_unwind<F: Future>(future: F) -> Result<F::Output, String> {
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(move |cx| {
        match std::panic::catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(panic) => Poll::Ready(Err(panic_message(&*panic))),
        }
    })
    .await
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_owned()
    }
}

/// Decodes a stored state.
pub(super) fn decode_state<A: Actor>(bytes: &[u8]) -> Result<A, Error> {
    rivet_client::codec::decode(bytes)
        .map_err(|e| Error::internal(StorageError::corrupt_because("the stored state", e)))
}

/// What a caller learns of a failed commit (the detail goes to the log).
pub(super) fn storage_failure(error: &StorageError) -> ActorError {
    tracing::error!(error = %chain(error), "storage commit failed");
    codes::INTERNAL_ERROR.error()
}
