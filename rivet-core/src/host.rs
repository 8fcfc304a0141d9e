//! The actor host: one task per awake actor, owning its state and running one turn at a time.
//!
//! A turn is an action, a queue message, or a hook. When it succeeds, the state (if it changed)
//! and the turn's other writes go to storage as one batch, and the reply and events are released
//! only once that batch is committed. When it fails, times out or panics, the state is rolled back
//! to the end of the previous turn and nothing is written.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use rivet_client::ActorError;
use rivet_client::codes;
use rivet_client::transport::{ConnMessage, ConnSender, QueueSendOutcome};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::Instrument;

use crate::actor::{Actor, Dispatch, Hook, HookSet};
use crate::context::{ActorIdentity, Conn, ConnKind, CreateCx, Cx};
use crate::error::Error;
use crate::ids::new_id;
use crate::kv::Kv;
use crate::lifecycle::LifecycleKind;
use crate::message::Message;
use crate::raw::{self, RawCommand, RawMessage, RawWebSocket, WebSocketEvent};
use crate::registry::RegistryInner;
use crate::schedule::{Entry, Schedules};
use crate::storage::{ActorRecord, Batch, Commit, StorageError, keys};
use crate::time::now_ms;

/// An actor's mailbox. Messages are boxed: a tokio channel allocates its slots 32 at a time,
/// so a small element keeps an idle actor's mailbox small.
pub(crate) type Mailbox = mpsc::UnboundedSender<Box<Envelope>>;
/// The receiving end of a [`Mailbox`].
pub(crate) type MailboxRx = mpsc::UnboundedReceiver<Box<Envelope>>;

/// Ids of the actors whose turns are waiting, one on the next, for a call.
pub(crate) type CallChain = Arc<[Arc<str>]>;

/// The error of a call to `target`, an actor in `chain`: it is busy with the turn that waits
/// for this call, so the call could only time out.
pub(crate) fn call_cycle(target: &str, chain: &[Arc<str>]) -> ActorError {
    let path: Vec<&str> = chain.iter().map(|id| &**id).collect();
    codes::CALL_CYCLE.with_message(format!(
        "Actor `{target}` is waiting for this call (call path: {} -> {target}); an actor cannot be called back while its turn waits on the call.",
        path.join(" -> ")
    ))
}

/// Where an action's result goes.
#[derive(Debug)]
#[cfg_attr(not(feature = "server"), allow(dead_code))]
pub(crate) enum ReplyTo {
    /// A waiting caller.
    Oneshot(oneshot::Sender<Result<Bytes, ActorError>>),
    /// A connection's stream, after the turn's events, so a client sees them in order.
    Conn { sink: ConnSender, id: u64 },
}

impl ReplyTo {
    fn send(self, result: Result<Bytes, ActorError>) {
        match self {
            Self::Oneshot(tx) => {
                let _ = tx.send(result);
            }
            Self::Conn { sink, id } => {
                let _ = sink.send(ConnMessage::ActionResponse { id, result });
            }
        }
    }
}

/// Which connection an action runs in.
#[derive(Debug)]
pub(crate) enum ConnRef {
    /// No connection: what a stateless call becomes here when the actor has no connection
    /// hooks (senders always send `Ephemeral`).
    None,
    /// An open connection.
    Id(String),
    /// A connection for the length of one call (stateless HTTP actions).
    Ephemeral { params: Option<Bytes> },
}

/// An event on a raw WebSocket, as the server hands it to the actor.
#[derive(Debug)]
#[cfg_attr(not(feature = "server"), allow(dead_code))]
pub(crate) enum RawSocketEnvelope {
    Open {
        id: String,
        request: http::Request<()>,
        commands: mpsc::UnboundedSender<RawCommand>,
    },
    Message {
        id: String,
        message: RawMessage,
    },
    Close {
        id: String,
        code: Option<u16>,
        reason: String,
    },
}

/// A message to an actor's mailbox.
#[derive(Debug)]
#[cfg_attr(not(feature = "server"), allow(dead_code))]
pub(crate) enum Envelope {
    Action {
        name: Cow<'static, str>,
        args: Bytes,
        conn: ConnRef,
        reply: ReplyTo,
        /// The actors whose turns wait for this call, when it comes from actor code.
        chain: Option<CallChain>,
    },
    Queue {
        name: String,
        body: Bytes,
        wait: bool,
        reply: oneshot::Sender<Result<QueueSendOutcome, ActorError>>,
    },
    Connect {
        params: Option<Bytes>,
        kind: ConnKind,
        sink: ConnSender,
        reply: oneshot::Sender<Result<String, ActorError>>,
    },
    Subscribe {
        conn: String,
        event: String,
        subscribe: bool,
    },
    Disconnect {
        conn: String,
    },
    Request {
        request: raw::Request,
        reply: oneshot::Sender<Result<raw::Response, ActorError>>,
    },
    RawSocket(RawSocketEnvelope),
    Ping {
        reply: oneshot::Sender<Result<(), ActorError>>,
    },
    /// Destroy the actor (the REST API's `DELETE /actors/{id}`); answered once it is gone.
    Destroy {
        reply: oneshot::Sender<Result<(), ActorError>>,
    },
    /// The registry is shutting down: sleep after the messages before this one.
    Shutdown,
    /// The run loop asks for queue messages (`wait`: until one comes).
    QueueNext {
        names: Option<Vec<String>>,
        count: usize,
        wait: bool,
        reply: oneshot::Sender<Vec<Message>>,
    },
    /// The run loop completed a message: delete it and answer its waiting sender.
    QueueComplete {
        id: u64,
        response: Option<Bytes>,
        reply: oneshot::Sender<Result<(), ActorError>>,
    },
    /// The run loop dropped a message without completing it: it goes back to its queue.
    QueueRelease {
        id: u64,
    },
    /// The run loop asks for a turn (a boxed `run::TurnFn<A>`).
    RunTurn {
        f: Box<dyn std::any::Any + Send>,
        reply: oneshot::Sender<Result<Box<dyn std::any::Any + Send>, Error>>,
    },
}

impl Envelope {
    /// Answers the sender with `error` instead of running.
    /// Messages of an activation's own run loop: meaningless to another activation.
    pub(crate) fn is_run_loop_request(&self) -> bool {
        matches!(
            self,
            Self::QueueNext { .. }
                | Self::QueueComplete { .. }
                | Self::QueueRelease { .. }
                | Self::RunTurn { .. }
        )
    }

    pub(crate) fn fail(self, error: ActorError) {
        match self {
            Self::Action { reply, .. } => reply.send(Err(error)),
            Self::Queue { reply, .. } => {
                let _ = reply.send(Err(error));
            }
            Self::Connect { reply, .. } => {
                let _ = reply.send(Err(error));
            }
            Self::Request { reply, .. } => {
                let _ = reply.send(Err(error));
            }
            Self::RawSocket(RawSocketEnvelope::Open { commands, .. }) => {
                let _ = commands.send(RawCommand::Close(1011, error.full_code()));
            }
            Self::Ping { reply } => {
                let _ = reply.send(Err(error));
            }
            Self::Destroy { reply } => {
                let _ = reply.send(Err(error));
            }
            Self::QueueComplete { reply, .. } => {
                let _ = reply.send(Err(error));
            }
            Self::RunTurn { reply, .. } => {
                let _ = reply.send(Err(Error::public(error)));
            }
            // The run loop sees an empty answer (or nothing) and checks whether it must stop.
            Self::QueueNext { .. }
            | Self::QueueRelease { .. }
            | Self::Subscribe { .. }
            | Self::Disconnect { .. }
            | Self::RawSocket(_)
            | Self::Shutdown => {}
        }
    }
}

/// Runs one activation of an actor until it sleeps, is destroyed, or the registry shuts down.
pub(crate) async fn run<A: Actor>(
    registry: Arc<RegistryInner>,
    record: ActorRecord,
    generation: u64,
    mailbox: mpsc::WeakUnboundedSender<Box<Envelope>>,
    mut rx: MailboxRx,
) {
    let span =
        tracing::info_span!("actor", name = %record.name, key = ?record.key, id = %record.id);
    async move {
        // Boxed so their state, needed once per activation, does not size the idle task.
        let host = match Box::pin(Host::<A>::start(&registry, &record, generation)).await {
            Ok(host) => host,
            Err(error) => {
                let error = error.into_reply("actor start");
                registry.deregister(&record, generation, &mut rx, Leftovers::Fail(error));
                registry.publish(&record, LifecycleKind::Crashed);
                return;
            }
        };
        // Boxed: a future keeps room for values moved out of it, so a `Host` held by value
        // here and in `run` would be counted twice in every idle actor.
        let mut host = Box::new(host);
        host.start_run_loop(&mailbox);
        host.run(rx).await;
    }
    .instrument(span)
    .await;
}

/// How many idle-timer ticks (each a quarter of the sleep timeout) without a message put an
/// actor to sleep.
const IDLE_TICKS: u32 = 4;

/// How many mailbox messages may run in a row while queue messages wait.
const MAILBOX_STREAK: usize = 32;

/// What happens to messages that reach an activation after it stopped.
pub(crate) enum Leftovers {
    /// Deliver them again, waking a new activation if needed.
    Redeliver,
    /// Fail them with this error.
    Fail(ActorError),
}

enum Stop {
    Sleep,
    Destroy,
    Restart,
    Shutdown,
}

struct Host<A: Actor> {
    registry: Arc<RegistryInner>,
    record: ActorRecord,
    generation: u64,
    state: A,
    cx: Cx<A>,
    /// The encoded state as of the end of the last successful turn; what a failed turn rolls
    /// back to.
    committed_state: Vec<u8>,
    poisoned: Arc<AtomicBool>,
    inflight: Arc<AtomicUsize>,
    queue: VecDeque<Message>,
    next_queue_id: u64,
    waiters: HashMap<u64, oneshot::Sender<Result<QueueSendOutcome, ActorError>>>,
    stop: Option<Stop>,
    /// An empty batch whose allocation the next turn reuses.
    spare: Batch,
    /// Connections the actor asked to close (`cx.disconnect`), handled after the turn.
    pending_disconnects: Vec<(String, Option<ActorError>)>,
    /// Callers waiting for the actor to be destroyed.
    destroy_waiters: Vec<oneshot::Sender<Result<(), ActorError>>>,
    /// Queue messages whose queue has a handler, among `queue`.
    handled_queued: usize,
    /// Messages handed to the run loop and not completed yet.
    taken: HashMap<u64, Message>,
    /// Messages a workflow took out of the queue and recorded in this activation (their
    /// senders may still be waiting for an answer).
    recorded_messages: std::collections::HashSet<u64>,
    /// Run-loop requests waiting for messages.
    next_waiters: VecDeque<NextWaiter>,
    /// The run loop, while it runs.
    run_task: Option<RunTask>,
}

struct NextWaiter {
    names: Option<Vec<String>>,
    count: usize,
    reply: oneshot::Sender<Vec<Message>>,
}

struct RunTask {
    handle: tokio::task::JoinHandle<()>,
    abort: tokio::sync::watch::Sender<bool>,
}

impl<A: Actor> Host<A> {
    async fn start(
        registry: &Arc<RegistryInner>,
        record: &ActorRecord,
        generation: u64,
    ) -> Result<Self, Error> {
        let storage = registry.storage();
        let identity = Arc::new(ActorIdentity {
            id: record.id.clone(),
            name: record.name.clone(),
            key: record.key.clone(),
            registry: Arc::downgrade(registry),
            storage_id: record.storage_id,
            workflow: std::sync::Mutex::new(None),
        });
        let create_cx = CreateCx::new(Arc::clone(&identity));
        let stored = storage.get(record.storage_id, keys::STATE).await?;
        let vars = A::create_vars(&create_cx).await?;
        let (state, fresh) = match &stored {
            Some(bytes) => (decode_state::<A>(bytes)?, false),
            None => {
                let input = crate::actor::decode_input::<A>(record.input.as_deref())?;
                match A::create(&create_cx, input).await {
                    Ok(state) => (state, true),
                    Err(error) => {
                        // Never initialized: forget the actor so that a later create can retry.
                        storage.destroy(record.storage_id).await?;
                        return Err(error);
                    }
                }
            }
        };
        let mut host = Self {
            registry: Arc::clone(registry),
            record: record.clone(),
            generation,
            state,
            cx: Cx::new(
                identity,
                vars,
                Kv::new(Arc::clone(storage), record.storage_id),
            ),
            committed_state: stored.map(|b| b.to_vec()).unwrap_or_default(),
            poisoned: Arc::new(AtomicBool::new(false)),
            inflight: Arc::new(AtomicUsize::new(0)),
            queue: VecDeque::new(),
            next_queue_id: 1,
            waiters: HashMap::new(),
            stop: None,
            spare: Batch::default(),
            pending_disconnects: Vec::new(),
            destroy_waiters: Vec::new(),
            handled_queued: 0,
            taken: HashMap::new(),
            recorded_messages: std::collections::HashSet::new(),
            next_waiters: VecDeque::new(),
            run_task: None,
        };
        // Before `on_create`, which may use the database.
        if let Err(error) = host.open_db().await {
            if fresh {
                storage.destroy(record.storage_id).await?;
            }
            return Err(error);
        }
        if fresh {
            if let Err(error) = host.run_hook(Hook::Create, true).await {
                storage.destroy(record.storage_id).await?;
                return Err(error);
            }
        } else {
            host.load_queue().await?;
            host.load_schedules().await?;
        }
        host.run_hook(Hook::Wake, false).await?;
        registry.publish(record, LifecycleKind::Woke);
        Ok(host)
    }

    /// Opens the actor's database and runs pending migrations; their pages commit with the
    /// wake turn.
    async fn open_db(&mut self) -> Result<(), Error> {
        let migrations = A::migrations();
        if migrations.is_empty() {
            return Ok(());
        }
        #[cfg(feature = "sqlite")]
        {
            let storage = Arc::clone(self.registry.storage());
            let db = crate::db::Db::open(&*storage, self.record.storage_id, migrations).await?;
            self.cx.db = Some(db);
            Ok(())
        }
        #[cfg(not(feature = "sqlite"))]
        Err(Error::internal(
            "this actor declares database migrations; build rivet-core with the `sqlite` feature",
        ))
    }

    async fn load_schedules(&mut self) -> Result<(), Error> {
        let stored = self
            .registry
            .storage()
            .scan_prefix(self.record.storage_id, keys::SCHEDULES)
            .await?;
        let mut entries = Vec::with_capacity(stored.len());
        for (key, value) in &stored {
            entries.push(Entry::decode(key, value)?);
        }
        self.cx.schedules = Schedules::load(entries);
        Ok(())
    }

    /// Runs the earliest due schedule as a turn; its removal commits with the turn.
    async fn fire_schedule(&mut self) {
        let mut batch = std::mem::take(&mut self.spare);
        let Some(entry) = self.cx.schedules.take_due(now_ms(), &mut batch) else {
            self.spare = batch;
            return;
        };
        if entry.is_wake() {
            // It only had to wake the actor (a workflow's durable sleep); removing it is all.
            self.submit(batch, |_| {});
            return;
        }
        let timeout = self.registry.config().action_timeout;
        let dispatch = self
            .execute(
                Work::Action {
                    name: &entry.action,
                    args: &entry.args,
                },
                timeout,
            )
            .await;
        let (action, id) = (entry.action, entry.id);
        self.finish_turn(dispatch, batch, "scheduled action", move |result| {
            if let Err(error) = result {
                tracing::warn!(%action, schedule = %id, %error, "scheduled action failed");
            }
        });
    }

    async fn load_queue(&mut self) -> Result<(), Error> {
        let storage = self.registry.storage();
        if let Some(meta) = storage
            .get(self.record.storage_id, keys::QUEUE_META)
            .await?
        {
            self.next_queue_id = decode_u64(&meta)?;
        }
        for (key, value) in storage
            .scan_prefix(self.record.storage_id, keys::QUEUE_PREFIX)
            .await?
        {
            let id = keys::queue_message_id(&key).ok_or_else(|| {
                StorageError::corrupt(format!("a queue message key {:?}", &key[..]))
            })?;
            let message = Message::decode_record(id, &value)?;
            if A::queue_has_handler(&message.name) {
                self.handled_queued += 1;
            }
            self.queue.push_back(message);
        }
        Ok(())
    }

    /// Runs a hook as a turn and waits for its commit. `force_persist` writes the state even if
    /// unchanged (a new actor's first state).
    async fn run_hook(&mut self, hook: Hook, force_persist: bool) -> Result<(), Error> {
        if force_persist {
            // An empty committed state never equals an encoded one, so the state is written.
            self.committed_state.clear();
        }
        let timeout = self.registry.config().hook_timeout;
        let dispatch = self.execute(Work::Hook(hook), timeout).await;
        let (tx, rx) = oneshot::channel();
        self.finish_turn(dispatch, Batch::default(), "hook", move |r| {
            let _ = tx.send(r);
        });
        match rx.await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(Error::public(e)),
            Err(_) => Err(Error::internal("hook reply dropped")),
        }
    }

    async fn run(mut self: Box<Self>, mut rx: MailboxRx) {
        // Idle detection without touching the clock or the timer wheel per message: a timer ticks
        // every quarter of the sleep timeout, and the actor sleeps after IDLE_TICKS ticks in a row
        // without activity, that is between 1 and 1.25 sleep timeouts after its last message.
        let tick =
            (self.registry.config().sleep_timeout / IDLE_TICKS).max(Duration::from_millis(1));
        let idle = tokio::time::sleep(tick);
        tokio::pin!(idle);
        let mut activity: u64 = 0;
        let mut seen: u64 = 0;
        let mut quiet_ticks = 0;
        // Mailbox messages taken in a row while queue messages wait.
        let mut streak = 0;
        // The timer of the earliest schedule (boxed, made only for actors with schedules), and
        // the due time it is set for.
        let mut alarm: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
        let mut armed: Option<i64> = None;
        let stop = loop {
            if self.poisoned.load(Ordering::Acquire) {
                break Stop::Restart;
            }
            if let Some(stop) = self.stop.take() {
                break stop;
            }
            let due = self.cx.schedules.next_due();
            if let Some(at) = due {
                let now = now_ms();
                if at <= now {
                    Box::pin(self.fire_schedule()).await;
                    activity += 1;
                    continue;
                }
                if armed != due {
                    // One millisecond late rather than early: the clock counts whole ones.
                    let wait = Duration::from_millis(u64::try_from(at - now).unwrap_or(0) + 1);
                    let deadline = Instant::now() + wait;
                    match alarm.as_mut() {
                        Some(timer) => timer.as_mut().reset(deadline),
                        None => alarm = Some(Box::pin(tokio::time::sleep_until(deadline))),
                    }
                }
            }
            armed = due;
            // Queue messages run between other turns: whenever the mailbox is empty, and at
            // least once every MAILBOX_STREAK messages, so a burst of sends is accepted (and
            // acknowledged) before it is processed, and a busy mailbox cannot starve the queue.
            if self.handled_queued > 0 && streak >= MAILBOX_STREAK {
                streak = 0;
                Box::pin(self.process_queue_message()).await;
                activity += 1;
                continue;
            }
            let envelope = if self.handled_queued == 0 {
                tokio::select! {
                    biased;
                    envelope = rx.recv() => envelope,
                    () = async {
                        match alarm.as_mut() {
                            Some(timer) => timer.as_mut().await,
                            None => std::future::pending().await,
                        }
                    }, if armed.is_some() => {
                        // Due now: the top of the loop runs it.
                        armed = None;
                        continue;
                    }
                    () = &mut idle => {
                        if activity == seen {
                            quiet_ticks += 1;
                        } else {
                            seen = activity;
                            quiet_ticks = 0;
                        }
                        if quiet_ticks >= IDLE_TICKS && self.can_sleep() {
                            break Stop::Sleep;
                        }
                        idle.as_mut().reset(Instant::now() + tick);
                        continue;
                    }
                }
            } else {
                match rx.try_recv() {
                    Ok(envelope) => Some(envelope),
                    Err(mpsc::error::TryRecvError::Empty) => {
                        streak = MAILBOX_STREAK;
                        continue;
                    }
                    Err(mpsc::error::TryRecvError::Disconnected) => None,
                }
            };
            let Some(envelope) = envelope else {
                break Stop::Shutdown;
            };
            Box::pin(self.handle(envelope)).await;
            streak += 1;
            activity += 1;
        };
        Box::pin(self.stop(stop, rx)).await;
    }

    fn can_sleep(&mut self) -> bool {
        self.cx.conns.retain(|_, conn| !conn.sink.is_closed());
        self.cx.raw_sockets.retain(|_, socket| !socket.is_closed());
        self.cx.conns.is_empty()
            && self.cx.raw_sockets.is_empty()
            && self.handled_queued == 0
            // Messages for the run loop keep the actor awake while a run loop can take them.
            && (self.queue.is_empty() || self.run_task.as_ref().is_none_or(|t| t.handle.is_finished()))
            && self.cx.awake.idle()
    }

    async fn handle(&mut self, envelope: Box<Envelope>) {
        match *envelope {
            Envelope::Action {
                name,
                args,
                conn,
                reply,
                chain,
            } => {
                // Calls this turn makes through `cx.client()` carry the chain on.
                self.cx.chain = chain;
                let timeout = self.registry.config().action_timeout;
                // A stateless call gets a connection for its length (as RivetKit's HTTP actions
                // do) when the actor can observe it; otherwise it skips that work.
                let conn = match conn {
                    ConnRef::Ephemeral { .. }
                        if !A::metadata().hooks.intersects(HookSet::CONNECTION_HOOKS) =>
                    {
                        ConnRef::None
                    }
                    conn => conn,
                };
                let (work, ephemeral) = match conn {
                    ConnRef::None => (
                        Work::Action {
                            name: &name,
                            args: &args,
                        },
                        None,
                    ),
                    ConnRef::Id(id) => {
                        // The actor closed it (a kick) or forgot it (a restart) before this
                        // call arrived: the call must not run as some other caller.
                        if !self.cx.conns.contains_key(&id) {
                            reply.send(Err(codes::CONNECTION_CLOSED.error()));
                            return;
                        }
                        self.cx.current_conn = Some(id);
                        (
                            Work::Action {
                                name: &name,
                                args: &args,
                            },
                            None,
                        )
                    }
                    ConnRef::Ephemeral { params } => {
                        let id = new_id();
                        (
                            Work::EphemeralAction {
                                id: id.clone(),
                                params,
                                name: &name,
                                args: &args,
                            },
                            Some(id),
                        )
                    }
                };
                let dispatch = self.execute(work, timeout).await;
                self.cx.current_conn = None;
                self.cx.chain = None;
                if let Some(id) = ephemeral {
                    self.cx.conns.remove(&id);
                }
                let batch = std::mem::take(&mut self.spare);
                self.finish_turn(dispatch, batch, "action", move |r| reply.send(r));
            }
            Envelope::Queue {
                name,
                body,
                wait,
                reply,
            } => self.enqueue(name, body, wait, reply),
            Envelope::Connect {
                params,
                kind,
                sink,
                reply,
            } => {
                let id = new_id();
                let timeout = self.registry.config().hook_timeout;
                let work = Work::Connect {
                    id: id.clone(),
                    params,
                    kind,
                    sink,
                };
                let dispatch = self.execute(work, timeout).await;
                self.cx.current_conn = None;
                if dispatch.result.is_err() {
                    self.cx.conns.remove(&id);
                }
                let batch = std::mem::take(&mut self.spare);
                self.finish_turn(dispatch, batch, "connect", move |r| {
                    let _ = reply.send(r.map(|_| id));
                });
            }
            Envelope::Subscribe {
                conn,
                event,
                subscribe,
            } => {
                if let Some(conn) = self.cx.conns.get_mut(&conn) {
                    if subscribe {
                        conn.subscriptions.insert(event);
                    } else {
                        conn.subscriptions.remove(&event);
                    }
                }
            }
            Envelope::Disconnect { conn } => self.disconnect(conn, None).await,
            Envelope::Request { request, reply } => {
                let timeout = self.registry.config().action_timeout;
                let (tx, rx) = oneshot::channel();
                let dispatch = self
                    .execute(
                        Work::Request {
                            request,
                            response: tx,
                        },
                        timeout,
                    )
                    .await;
                let response = rx.await.ok();
                self.finish_turn(dispatch, Batch::default(), "request", move |r| {
                    let _ = reply.send(
                        r.and_then(|_| response.ok_or_else(|| codes::INTERNAL_ERROR.error())),
                    );
                });
            }
            Envelope::RawSocket(event) => self.raw_socket(event).await,
            Envelope::Ping { reply } => {
                let _ = reply.send(Ok(()));
            }
            Envelope::Destroy { reply } => {
                self.destroy_waiters.push(reply);
                self.stop = Some(Stop::Destroy);
            }
            Envelope::Shutdown => self.stop = Some(Stop::Shutdown),
            Envelope::QueueNext {
                names,
                count,
                wait,
                reply,
            } => {
                let taken = self.take_for_run(names.as_deref(), count);
                if taken.is_empty() && wait {
                    self.next_waiters.push_back(NextWaiter {
                        names,
                        count,
                        reply,
                    });
                } else {
                    self.hand_over(taken, reply);
                }
            }
            Envelope::QueueComplete {
                id,
                response,
                reply,
            } => self.complete_taken(id, response, reply),
            Envelope::QueueRelease { id } => {
                if let Some(message) = self.taken.remove(&id) {
                    self.queue.push_front(message);
                    self.serve_next_waiters();
                }
            }
            Envelope::RunTurn { f, reply } => self.run_turn(f, reply),
        }
        self.run_pending_disconnects().await;
    }

    /// Starts the `#[run]` loop, if the actor has one.
    fn start_run_loop(&mut self, mailbox: &mpsc::WeakUnboundedSender<Box<Envelope>>) {
        let Some(mailbox) = mailbox.upgrade() else {
            return;
        };
        let (abort, aborted) = tokio::sync::watch::channel(false);
        let cx = crate::run::RunCx::<A>::new(
            Arc::clone(self.cx.identity()),
            mailbox,
            aborted,
            Arc::clone(&self.cx.awake),
        );
        let Some(future) = A::run(cx) else {
            return;
        };
        let actor = self.record.id.clone();
        let handle = tokio::spawn(async move {
            match catch_unwind(future).await {
                Ok(Ok(())) => {}
                // Its requests failed because the actor is stopping: not a failure of the loop.
                Ok(Err(error)) if error.is(codes::SHUT_DOWN) => {
                    tracing::debug!(%actor, "run loop stopped with the actor");
                }
                Ok(Err(error)) => {
                    tracing::error!(%actor, %error, "run loop failed; it restarts on the next wake");
                }
                Err(panic) => {
                    tracing::error!(%actor, %panic, "run loop panicked; it restarts on the next wake");
                }
            }
        });
        self.run_task = Some(RunTask { handle, abort });
    }

    /// Takes up to `count` messages of run-loop queues (of `names`, if given) for the run loop.
    fn take_for_run(&mut self, names: Option<&[String]>, count: usize) -> Vec<Message> {
        let mut taken = Vec::new();
        let mut index = 0;
        while index < self.queue.len() && taken.len() < count {
            let message = &self.queue[index];
            let wanted = !A::queue_has_handler(&message.name)
                && names.is_none_or(|names| names.contains(&message.name));
            if !wanted {
                index += 1;
                continue;
            }
            let Some(message) = self.queue.remove(index) else {
                break;
            };
            taken.push(message.clone());
            self.taken.insert(message.id, message);
        }
        taken
    }

    /// Sends messages to a run-loop request; if it stopped waiting, they go back.
    fn hand_over(&mut self, taken: Vec<Message>, reply: oneshot::Sender<Vec<Message>>) {
        if let Err(unsent) = reply.send(taken) {
            for message in unsent.into_iter().rev() {
                if let Some(message) = self.taken.remove(&message.id) {
                    self.queue.push_front(message);
                }
            }
        }
    }

    /// Gives newly queued messages to run-loop requests waiting for them, in order.
    fn serve_next_waiters(&mut self) {
        while let Some(waiter) = self.next_waiters.pop_front() {
            if waiter.reply.is_closed() {
                continue;
            }
            let taken = self.take_for_run(waiter.names.as_deref(), waiter.count);
            if taken.is_empty() {
                self.next_waiters.push_front(waiter);
                return;
            }
            self.hand_over(taken, waiter.reply);
        }
    }

    /// Deletes a completed run-loop message and answers its waiting sender after the commit.
    fn complete_taken(
        &mut self,
        id: u64,
        response: Option<Bytes>,
        reply: oneshot::Sender<Result<(), ActorError>>,
    ) {
        if self.taken.remove(&id).is_none() {
            let _ = reply.send(Err(codes::INVALID_REQUEST.with_message(format!(
                "Queue message {id} is not held by the run loop (already completed?)."
            ))));
            return;
        }
        let mut batch = Batch::default();
        batch.delete(keys::queue_message(id));
        let waiter = self.waiters.remove(&id);
        // The loop goes on at once; the sender hears only after the commit. (If the commit
        // fails, the actor restarts and the message comes back.)
        let _ = reply.send(Ok(()));
        self.submit(batch, move |result| {
            if let (Ok(()), Some(waiter)) = (result, waiter) {
                let _ = waiter.send(Ok(QueueSendOutcome::Completed(response)));
            }
        });
    }

    /// Runs a run-loop turn: the closure on the state, committed like any turn.
    fn run_turn(
        &mut self,
        f: Box<dyn std::any::Any + Send>,
        reply: oneshot::Sender<Result<Box<dyn std::any::Any + Send>, Error>>,
    ) {
        let Ok(f) = f.downcast::<crate::run::TurnFn<A>>() else {
            let _ = reply.send(Err(Error::internal("run-loop turn of another actor type")));
            return;
        };
        let state = &mut self.state;
        let cx = &mut self.cx;
        let mut output = None;
        let dispatch =
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (*f)(state, cx))) {
                Ok(Ok(value)) => {
                    output = Some(value);
                    Dispatch {
                        result: Ok(Bytes::new()),
                        mutates: true,
                    }
                }
                Ok(Err(error)) => Dispatch {
                    result: Err(error),
                    mutates: true,
                },
                Err(_) => Dispatch {
                    result: Err(Error::internal("run-loop turn panicked")),
                    mutates: true,
                },
            };
        // The loop gets the result as soon as the turn ran: like code in a turn, it sees the
        // state before it is committed; replies and events the turn caused still wait for the
        // commit, and the actor's writes commit in order.
        let batch = std::mem::take(&mut self.spare);
        // Refused: the closure failed, or what it did cannot be committed (a state too large).
        let refused = self.finish_turn(dispatch, batch, "run-loop turn", |_| {});
        let _ = reply.send(match (refused, output) {
            (None, Some(value)) => Ok(value),
            (None, None) => Err(Error::internal("run-loop turn lost its result")),
            (Some(error), _) => Err(Error::public(error)),
        });
    }

    /// Closes a connection: `#[on_disconnect]` (with `cx.conn()` set), then removal. `reason`
    /// reaches the client when the actor closed it.
    async fn disconnect(&mut self, id: String, reason: Option<ActorError>) {
        let Some(sink) = self.cx.conns.get(&id).map(|c| c.sink.clone()) else {
            return;
        };
        let timeout = self.registry.config().hook_timeout;
        let dispatch = self
            .execute(Work::Disconnect { id: id.clone() }, timeout)
            .await;
        self.cx.current_conn = None;
        self.cx.conns.remove(&id);
        self.finish_turn(dispatch, Batch::default(), "on_disconnect", move |_| {
            let _ = sink.send(ConnMessage::Closed(reason));
        });
    }

    async fn run_pending_disconnects(&mut self) {
        while let Some((id, reason)) = self.pending_disconnects.pop() {
            self.disconnect(id, reason).await;
        }
    }

    async fn raw_socket(&mut self, event: RawSocketEnvelope) {
        let event = match event {
            RawSocketEnvelope::Open {
                id,
                request,
                commands,
            } => {
                let socket = RawWebSocket::new(id.clone(), commands);
                self.cx.raw_sockets.insert(id, socket.clone());
                WebSocketEvent::Open { socket, request }
            }
            RawSocketEnvelope::Message { id, message } => match self.cx.raw_sockets.get(&id) {
                Some(socket) => WebSocketEvent::Message {
                    socket: socket.clone(),
                    message,
                },
                None => return,
            },
            RawSocketEnvelope::Close { id, code, reason } => {
                match self.cx.raw_sockets.remove(&id) {
                    Some(socket) => WebSocketEvent::Close {
                        socket,
                        code,
                        reason,
                    },
                    None => return,
                }
            }
        };
        let timeout = self.registry.config().action_timeout;
        let dispatch = self.execute(Work::WebSocket(event), timeout).await;
        self.finish_turn(dispatch, Batch::default(), "on_websocket", |_| {});
    }

    fn enqueue(
        &mut self,
        name: String,
        body: Bytes,
        wait: bool,
        reply: oneshot::Sender<Result<QueueSendOutcome, ActorError>>,
    ) {
        let config = self.registry.config();
        let checked = if !A::metadata().queues.contains(&name.as_str()) {
            Err(crate::message::queue_not_found(&name))
        } else if body.len() > config.max_queue_message_size {
            Err(Error::public(codes::QUEUE_MESSAGE_TOO_LARGE.with_message(
                format!(
                    "Queue message is {} bytes; the limit is {}.",
                    body.len(),
                    config.max_queue_message_size
                ),
            )))
        } else if self.queue.len() + self.taken.len() >= config.max_queue_size {
            Err(Error::public(codes::QUEUE_FULL.with_message(format!(
                "Queue holds its maximum of {} messages.",
                config.max_queue_size
            ))))
        } else {
            A::check_queue_message(&name, &body)
        };
        if let Err(error) = checked {
            let _ = reply.send(Err(error.into_reply("queue send")));
            return;
        }
        let id = self.next_queue_id;
        self.next_queue_id += 1;
        let message = Message { id, name, body };
        let record = match message.encode_record() {
            Ok(record) => record,
            Err(error) => {
                let _ = reply.send(Err(error.into_reply("queue send")));
                return;
            }
        };
        let mut batch = Batch::default();
        batch.put(keys::queue_message(id), record);
        batch.put(
            keys::QUEUE_META,
            Bytes::copy_from_slice(&self.next_queue_id.to_be_bytes()),
        );
        if A::queue_has_handler(&message.name) {
            self.handled_queued += 1;
        }
        self.queue.push_back(message);
        self.serve_next_waiters();
        if wait {
            // Answered when a handler completes the message.
            self.waiters.insert(id, reply);
            self.submit(batch, |_| {});
        } else {
            self.submit(batch, move |result| {
                let _ = reply.send(match result {
                    Ok(()) => Ok(QueueSendOutcome::Queued),
                    Err(e) => Err(storage_failure(&e)),
                });
            });
        }
    }

    async fn process_queue_message(&mut self) {
        let Some(position) = self
            .queue
            .iter()
            .position(|m| A::queue_has_handler(&m.name))
        else {
            return;
        };
        let Some(message) = self.queue.remove(position) else {
            return;
        };
        self.handled_queued -= 1;
        let timeout = self.registry.config().action_timeout;
        let dispatch = self
            .execute(
                Work::Queue {
                    name: &message.name,
                    body: &message.body,
                },
                timeout,
            )
            .await;
        if let Err(error) = &dispatch.result {
            // A failed message is dropped rather than retried, so one bad message cannot block
            // the queue forever; its waiter gets the error.
            tracing::warn!(queue = %message.name, id = message.id, %error, "queue handler failed; message dropped");
        }
        let mut always = Batch::default();
        always.delete(keys::queue_message(message.id));
        let waiter = self.waiters.remove(&message.id);
        self.finish_turn(
            dispatch,
            always,
            "queue handler",
            move |result: Result<Bytes, ActorError>| {
                if let Some(waiter) = waiter {
                    let _ = waiter.send(result.map(|v| QueueSendOutcome::Completed(Some(v))));
                }
            },
        );
    }

    /// Runs one piece of user code with a timeout, catching panics.
    async fn execute(&mut self, work: Work<'_>, timeout: Duration) -> Dispatch {
        let state = &mut self.state;
        let cx = &mut self.cx;
        let future = async move {
            match work {
                Work::Action { name, args } => state.dispatch(cx, name, args).await,
                Work::Queue { name, body } => state.dispatch_queue(cx, name, body).await,
                Work::Hook(hook) => Dispatch {
                    result: state.hook(cx, hook).await.map(|()| Bytes::new()),
                    mutates: true,
                },
                Work::Connect {
                    id,
                    params,
                    kind,
                    sink,
                } => {
                    let hooks = A::metadata().hooks;
                    let result = open_conn(state, cx, id, params, kind, sink).await;
                    Dispatch {
                        result: result.map(|()| Bytes::new()),
                        mutates: hooks.contains(HookSet::CONNECTION_SETUP)
                            || hooks.contains(HookSet::CONNECT),
                    }
                }
                Work::EphemeralAction {
                    id,
                    params,
                    name,
                    args,
                } => {
                    let hooks = A::metadata().hooks;
                    let (tx, _closed) = mpsc::unbounded_channel();
                    if let Err(error) = open_conn(state, cx, id, params, ConnKind::Http, tx).await {
                        return Dispatch {
                            result: Err(error),
                            mutates: true,
                        };
                    }
                    let mut dispatch = state.dispatch(cx, name, args).await;
                    if hooks.contains(HookSet::DISCONNECT)
                        && let Err(error) = state.hook(cx, Hook::Disconnect).await
                    {
                        tracing::error!(%error, "on_disconnect failed");
                    }
                    dispatch.mutates |= hooks.contains(HookSet::CONNECTION_SETUP)
                        || hooks.contains(HookSet::CONNECT)
                        || hooks.contains(HookSet::DISCONNECT);
                    dispatch
                }
                Work::Disconnect { id } => {
                    let hooks = A::metadata().hooks;
                    if !hooks.contains(HookSet::DISCONNECT) {
                        return Dispatch {
                            result: Ok(Bytes::new()),
                            mutates: false,
                        };
                    }
                    cx.current_conn = Some(id);
                    Dispatch {
                        result: state
                            .hook(cx, Hook::Disconnect)
                            .await
                            .map(|()| Bytes::new()),
                        mutates: true,
                    }
                }
                Work::Request { request, response } => {
                    let result = match state.on_request(cx, request).await {
                        Some(Ok(r)) => {
                            let _ = response.send(r);
                            Ok(Bytes::new())
                        }
                        Some(Err(e)) => Err(e),
                        None => Err(Error::public(codes::ACTOR_NOT_FOUND.with_message(
                            "This actor does not handle raw HTTP requests (no #[on_request]).",
                        ))),
                    };
                    Dispatch {
                        result,
                        mutates: true,
                    }
                }
                Work::WebSocket(event) => {
                    let socket = match &event {
                        WebSocketEvent::Open { socket, .. } => Some(socket.clone()),
                        _ => None,
                    };
                    let result = match state.on_websocket(cx, event).await {
                        Some(r) => r.map(|()| Bytes::new()),
                        None => {
                            if let Some(socket) = socket {
                                socket.close(1011, "actor.not_found");
                            }
                            Ok(Bytes::new())
                        }
                    };
                    Dispatch {
                        result,
                        mutates: true,
                    }
                }
            }
        };
        // Most turns finish on their first poll; only a turn that has to wait gets a timer, which
        // keeps the timer wheel out of the fast path.
        // Boxed: user code's futures can be large, and inline they would size every idle actor's
        // task by the largest of them; one allocation per turn is the cheaper side.
        let mut future = Box::pin(catch_unwind(future));
        let first = std::future::poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx))).await;
        let outcome = match first {
            Poll::Ready(outcome) => Ok(outcome),
            Poll::Pending => tokio::time::timeout(timeout, future).await,
        };
        match outcome {
            Ok(Ok(dispatch)) => dispatch,
            Ok(Err(message)) => Dispatch {
                result: Err(Error::internal(format!("actor code panicked: {message}"))),
                mutates: true,
            },
            Err(_) => Dispatch {
                result: Err(Error::public(codes::ACTION_TIMED_OUT.with_message(
                    format!("Timed out after {} ms.", timeout.as_millis()),
                ))),
                mutates: true,
            },
        }
    }

    /// Ends a turn: on success, persists the state (if changed) with `always` and releases the
    /// reply and events after the commit; on failure, rolls the state back and writes only
    /// `always`.
    /// Returns the error the turn was refused with, if it ran but could not be committed.
    fn finish_turn<R>(
        &mut self,
        dispatch: Dispatch,
        mut batch: Batch,
        what: &'static str,
        reply: R,
    ) -> Option<ActorError>
    where
        R: FnOnce(Result<Bytes, ActorError>) + Send + 'static,
    {
        let mut effects = std::mem::take(&mut self.cx.turn);
        let output = match dispatch.result {
            Ok(output) => output,
            Err(error) => {
                return self.refuse_turn(dispatch.mutates, batch, error.into_reply(what), reply);
            }
        };
        // The database's changed pages, kept apart until the state is persisted too.
        #[cfg(feature = "sqlite")]
        let mut db_pages = Batch::default();
        #[cfg(feature = "sqlite")]
        let db_image = match self.cx.db.as_mut().map(|db| db.prepare_turn(&mut db_pages)) {
            Some(Err(error)) => {
                return self.refuse_turn(true, batch, error.into_reply(what), reply);
            }
            Some(Ok(image)) => image,
            None => None,
        };
        let mut events = std::mem::take(&mut effects.events);
        let mut direct = std::mem::take(&mut effects.direct);
        if dispatch.mutates {
            match self.persist_state(&mut batch) {
                Ok(changed) => {
                    if changed {
                        if let Err(error) = self.state.on_state_change(&mut self.cx) {
                            tracing::error!(%error, "on_state_change failed");
                        }
                        events.append(&mut self.cx.turn.events);
                        direct.append(&mut self.cx.turn.direct);
                    }
                }
                Err(error) => {
                    return self.refuse_turn(true, batch, error.into_reply(what), reply);
                }
            }
        }
        // The turn will commit: the workflow engine takes in its records now.
        if let Some(apply) = effects.workflow.take() {
            apply(&mut effects, &mut self.cx.schedules);
            // A recorded message must leave the queue in the same commit, or it would be
            // delivered again. Cannot happen (the workflow holds it while recording it); if it
            // did, the engine already counts the record, so the activation restarts from storage.
            if let Some(id) = effects
                .queue_takes
                .iter()
                .find(|id| !self.taken.contains_key(id))
            {
                let error = codes::INTERNAL_ERROR.with_message(format!(
                    "Queue message {id} is not held by the run loop; its record is refused."
                ));
                tracing::error!(%error, "restarting the actor");
                self.poisoned.store(true, Ordering::Release);
                return self.refuse_turn(true, batch, error, reply);
            }
        }
        #[cfg(feature = "sqlite")]
        if let (Some(db), Some(image)) = (self.cx.db.as_mut(), db_image) {
            batch.ops.append(&mut db_pages.ops);
            db.adopt(image);
        }
        let kv_committed = self.cx.kv.finish_turn(&mut batch);
        self.cx.schedules.finish_turn(&mut batch);
        if effects.destroy {
            self.stop = Some(Stop::Destroy);
        } else if effects.sleep && self.stop.is_none() {
            self.stop = Some(Stop::Sleep);
        }
        self.pending_disconnects.extend(effects.disconnects);
        let mut raw_writes = effects.raw_writes;
        batch.ops.append(&mut raw_writes.ops);
        for id in effects.queue_takes {
            if self.taken.remove(&id).is_some() {
                batch.delete(keys::queue_message(id));
                self.recorded_messages.insert(id);
            }
        }
        let returned = !effects.queue_returns.is_empty();
        for message in std::mem::take(&mut effects.queue_returns) {
            self.recorded_messages.remove(&message.id);
            match message.encode_record() {
                Ok(value) => batch.put(keys::queue_message(message.id), value),
                Err(error) => tracing::error!(%error, "cannot store a returned queue message"),
            }
            let at = self
                .queue
                .iter()
                .position(|m| m.id > message.id)
                .unwrap_or(self.queue.len());
            self.queue.insert(at, message);
        }
        if returned {
            self.serve_next_waiters();
        }
        let answers: Vec<_> = effects
            .queue_answers
            .into_iter()
            .filter_map(|(id, response)| self.waiters.remove(&id).map(|w| (w, response)))
            .collect();
        let deliveries = self.route_events(events, direct);
        self.submit(batch, move |result| {
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
                    reply(Ok(output));
                }
                Err(error) => reply(Err(storage_failure(&error))),
            }
        });
        None
    }

    /// Ends a turn that cannot commit: forgets its writes (and its state change, if it could
    /// have made one), and answers `error` once `batch` (the writes that stand regardless)
    /// commits; returns the error.
    fn refuse_turn<R>(
        &mut self,
        state_changed: bool,
        batch: Batch,
        error: ActorError,
        reply: R,
    ) -> Option<ActorError>
    where
        R: FnOnce(Result<Bytes, ActorError>) + Send + 'static,
    {
        self.discard_turn_writes(state_changed);
        let refused = error.clone();
        self.submit(batch, move |_| reply(Err(error)));
        Some(refused)
    }

    /// Forgets everything a failed turn wrote: state (when it could have changed it), KV,
    /// schedules, database and requested effects.
    fn discard_turn_writes(&mut self, state_changed: bool) {
        if state_changed {
            self.rollback();
        }
        self.cx.turn = Default::default();
        self.cx.kv.discard_turn();
        self.cx.schedules.discard_turn();
        #[cfg(feature = "sqlite")]
        if let Some(db) = self.cx.db.as_mut()
            && let Err(error) = db.discard_turn()
        {
            tracing::error!(%error, "cannot reload the actor database; restarting the actor");
            self.poisoned.store(true, Ordering::Release);
        }
    }

    /// Adds the state to `batch` if it changed; returns whether it did.
    fn persist_state(&mut self, batch: &mut Batch) -> Result<bool, Error> {
        let limit = self.registry.config().max_state_size;
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

    fn rollback(&mut self) {
        if self.committed_state.is_empty() {
            return;
        }
        match decode_state::<A>(&self.committed_state) {
            Ok(state) => self.state = state,
            Err(error) => {
                tracing::error!(%error, "cannot restore state; restarting actor");
                self.poisoned.store(true, Ordering::Release);
            }
        }
    }

    fn route_events(
        &self,
        events: Vec<(&'static str, Bytes)>,
        direct: Vec<(String, &'static str, Bytes)>,
    ) -> Vec<(ConnSender, ConnMessage)> {
        let mut deliveries = Vec::new();
        for (name, args) in events {
            let mut shared: Option<Arc<str>> = None;
            for conn in self.cx.conns.values() {
                if conn.subscriptions.contains(name) {
                    let name = shared.get_or_insert_with(|| Arc::from(name));
                    deliveries.push((
                        conn.sink.clone(),
                        ConnMessage::Event {
                            name: Arc::clone(name),
                            args: args.clone(),
                        },
                    ));
                }
            }
        }
        for (conn_id, name, args) in direct {
            if let Some(conn) = self.cx.conns.get(&conn_id) {
                deliveries.push((
                    conn.sink.clone(),
                    ConnMessage::Event {
                        name: Arc::from(name),
                        args,
                    },
                ));
            }
        }
        deliveries
    }

    /// Sends a batch to storage; `done` runs once it and every earlier batch are committed.
    fn submit<F>(&mut self, mut batch: Batch, done: F)
    where
        F: FnOnce(Result<(), StorageError>) + Send + 'static,
    {
        if self.inflight.load(Ordering::Acquire) == 0 {
            if batch.is_empty() {
                done(Ok(()));
                self.spare = batch;
                return;
            }
            let storage = self.registry.storage();
            if let Some(result) =
                storage.commit_now(self.record.storage_id, &mut batch, &self.poisoned)
            {
                if result.is_err() {
                    self.poisoned.store(true, Ordering::Release);
                }
                done(result);
                // Keep the emptied batch's allocation for the next turn.
                self.spare = batch;
                return;
            }
        }
        self.inflight.fetch_add(1, Ordering::AcqRel);
        let inflight = Arc::clone(&self.inflight);
        self.registry.storage().commit(Commit {
            actor: self.record.storage_id,
            batch,
            poisoned: Arc::clone(&self.poisoned),
            done: Box::new(move |result| {
                done(result);
                // Only after `done`: a later turn that sees zero in flight may release its reply
                // at once, and must not overtake this one.
                inflight.fetch_sub(1, Ordering::AcqRel);
            }),
        });
    }

    /// Waits until everything submitted so far is committed.
    async fn flush(&mut self) -> Result<(), StorageError> {
        let (tx, rx) = oneshot::channel();
        self.submit(Batch::default(), move |r| {
            let _ = tx.send(r);
        });
        rx.await.unwrap_or(Err(StorageError::Closed))
    }

    /// Tells the run loop to stop and waits for it, up to the grace period, still serving the
    /// mailbox so that its last turns and completions go through; a loop that does not return
    /// in time is cancelled.
    async fn stop_run_loop(&mut self, rx: &mut MailboxRx) {
        let Some(mut task) = self.run_task.take() else {
            return;
        };
        task.abort.send_replace(true);
        for waiter in self.next_waiters.drain(..) {
            let _ = waiter.reply.send(Vec::new());
        }
        let grace = tokio::time::sleep(self.registry.config().sleep_grace_period);
        tokio::pin!(grace);
        loop {
            tokio::select! {
                biased;
                _ = &mut task.handle => break,
                envelope = rx.recv() => match envelope {
                    Some(envelope) => match *envelope {
                        // A stopping loop takes no new messages.
                        Envelope::QueueNext { reply, .. } => {
                            let _ = reply.send(Vec::new());
                        }
                        _ => Box::pin(self.handle(envelope)).await,
                    },
                    None => break,
                },
                () = &mut grace => {
                    tracing::warn!(actor = %self.record.id, "run loop did not return within the grace period; cancelled");
                    task.handle.abort();
                    break;
                }
            }
        }
        // Messages it held and did not complete stay stored: the next activation loads them.
        self.taken.clear();
    }

    async fn stop(mut self: Box<Self>, stop: Stop, mut rx: MailboxRx) {
        self.stop_run_loop(&mut rx).await;
        let hook = match stop {
            Stop::Sleep | Stop::Shutdown => Some(Hook::Sleep),
            Stop::Destroy => Some(Hook::Destroy),
            Stop::Restart => None,
        };
        if matches!(stop, Stop::Sleep | Stop::Shutdown) && !self.cx.awake.idle() {
            // Work in progress gets the grace period to finish.
            let grace = self.registry.config().sleep_grace_period;
            if tokio::time::timeout(grace, self.cx.awake.until_idle())
                .await
                .is_err()
            {
                tracing::warn!(actor = %self.record.id, "keep-awake work still running after the grace period");
            }
        }
        if let Some(hook) = hook
            && let Err(error) = self.run_hook(hook, false).await
        {
            tracing::error!(?hook, %error, "hook failed");
        }
        if !matches!(stop, Stop::Restart)
            && let Err(error) = self.flush().await
        {
            tracing::error!(%error, "final flush failed");
        }
        match stop {
            Stop::Destroy => self.registry.clear_alarm(&self.record.id),
            // Wakes the actor again when its next schedule is due.
            Stop::Sleep | Stop::Restart => {
                if let Some(at) = self.cx.schedules.next_due() {
                    self.registry.set_alarm(self.record.clone(), at);
                }
            }
            Stop::Shutdown => {}
        }
        let mut destroyed = false;
        if matches!(stop, Stop::Destroy) {
            match self
                .registry
                .storage()
                .destroy(self.record.storage_id)
                .await
            {
                Ok(()) => destroyed = true,
                Err(error) => tracing::error!(%error, "destroy failed"),
            }
        }
        // Clients reconnect on `ws.going_away`; on `actor.not_found` a get-or-create handle
        // makes a new actor.
        let close_reason = if destroyed {
            codes::ACTOR_NOT_FOUND.with_message("The actor was destroyed.")
        } else {
            codes::GOING_AWAY.error()
        };
        for conn in self.cx.conns.values() {
            let _ = conn
                .sink
                .send(ConnMessage::Closed(Some(close_reason.clone())));
        }
        for socket in self.cx.raw_sockets.values() {
            socket.close(1001, close_reason.full_code());
        }
        for waiter in self.destroy_waiters.drain(..) {
            let _ = waiter.send(if destroyed {
                Ok(())
            } else {
                Err(codes::INTERNAL_ERROR.error())
            });
        }
        for (id, waiter) in self.waiters.drain() {
            let message = if self.recorded_messages.contains(&id) {
                "The actor stopped before answering; its workflow received the message and goes on with it when the actor wakes."
            } else {
                "The actor stopped before the message was processed; it stays queued."
            };
            let _ = waiter.send(Err(codes::DROPPED_REPLY.with_message(message)));
        }
        let leftovers = if matches!(stop, Stop::Shutdown) {
            Leftovers::Fail(codes::SHUT_DOWN.error())
        } else {
            Leftovers::Redeliver
        };
        self.registry
            .deregister(&self.record, self.generation, &mut rx, leftovers);
        let kind = match stop {
            Stop::Destroy => LifecycleKind::Destroyed,
            Stop::Restart => LifecycleKind::Crashed,
            Stop::Sleep | Stop::Shutdown => LifecycleKind::Slept,
        };
        self.registry.publish(&self.record, kind);
    }
}

enum Work<'a> {
    Action {
        name: &'a str,
        args: &'a [u8],
    },
    Queue {
        name: &'a str,
        body: &'a [u8],
    },
    Hook(Hook),
    Connect {
        id: String,
        params: Option<Bytes>,
        kind: ConnKind,
        sink: ConnSender,
    },
    EphemeralAction {
        id: String,
        params: Option<Bytes>,
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

/// Runs `#[on_before_connect]` and `#[conn_state]`, adds the connection, then `#[on_connect]`.
async fn open_conn<A: Actor>(
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
    cx.conns.insert(
        id.clone(),
        Conn::new(id.clone(), params, conn_state, kind, sink),
    );
    cx.current_conn = Some(id);
    if hooks.contains(HookSet::CONNECT) {
        state.hook(cx, Hook::Connect).await?;
    }
    Ok(())
}

/// Polls `future`, turning a panic into an error message.
async fn catch_unwind<F: Future>(future: F) -> Result<F::Output, String> {
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

fn decode_state<A: Actor>(bytes: &[u8]) -> Result<A, Error> {
    rivet_client::codec::decode(bytes)
        .map_err(|e| Error::internal(StorageError::corrupt_because("the stored state", e)))
}

fn decode_u64(bytes: &[u8]) -> Result<u64, Error> {
    let array: [u8; 8] = bytes
        .try_into()
        .map_err(|_| Error::internal(StorageError::corrupt("the queue's next message id")))?;
    Ok(u64::from_be_bytes(array))
}

fn storage_failure(error: &StorageError) -> ActorError {
    tracing::error!(%error, "storage commit failed");
    codes::INTERNAL_ERROR.error()
}
