//! The activation's loop: it takes one message at a time (from the mailbox, the `#[run]` loop,
//! the queue and the schedules), runs it, and decides when the actor sleeps.

use std::pin::Pin;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{Instant, Sleep};

use super::{Host, Incoming, Stop};
use crate::actor::Actor;
use crate::mailbox::{Envelope, MailboxRx};
use crate::time::now_ms;

/// How many idle-timer ticks (each an eighth of the sleep timeout) without a message put an
/// actor to sleep: it sleeps at most an eighth late (RivetKit sleeps on the dot; its tests
/// allow a quarter).
const IDLE_TICKS: u32 = 8;

/// How many mailbox messages may run in a row while queue messages wait.
const MAILBOX_STREAK: usize = 32;

/// Idle detection without touching the clock or the timer wheel per message: a timer ticks
/// every eighth of the sleep timeout, and the actor sleeps after [`IDLE_TICKS`] ticks in a row
/// without activity, that is between 1 and 1.125 sleep timeouts after its last message.
struct Idle {
    tick: Duration,
    timer: Pin<Box<Sleep>>,
    activity: u64,
    seen: u64,
    quiet_ticks: u32,
}

impl Idle {
    fn new(sleep_timeout: Duration) -> Self {
        let tick = (sleep_timeout / IDLE_TICKS).max(Duration::from_millis(1));
        Self {
            tick,
            timer: Box::pin(tokio::time::sleep(tick)),
            activity: 0,
            seen: 0,
            quiet_ticks: 0,
        }
    }

    fn active(&mut self) {
        self.activity += 1;
    }

    /// A tick passed; returns whether the actor has been quiet long enough to sleep.
    fn ticked(&mut self) -> bool {
        if self.activity == self.seen {
            self.quiet_ticks += 1;
        } else {
            self.seen = self.activity;
            self.quiet_ticks = 0;
        }
        self.timer.as_mut().reset(Instant::now() + self.tick);
        self.quiet_ticks >= IDLE_TICKS
    }
}

/// The timer of the earliest schedule (made only for actors with schedules), and the due time
/// it is set for.
#[derive(Default)]
struct Alarm {
    timer: Option<Pin<Box<Sleep>>>,
    armed: Option<i64>,
}

impl Alarm {
    /// Sets the timer for `due` (ms since the epoch) if it is not set for it already.
    fn arm(&mut self, due: Option<i64>, now: i64) {
        if let Some(at) = due
            && self.armed != due
        {
            // One millisecond late rather than early: the clock counts whole ones.
            let wait = Duration::from_millis(u64::try_from(at - now).unwrap_or(0) + 1);
            let deadline = Instant::now() + wait;
            match self.timer.as_mut() {
                Some(timer) => timer.as_mut().reset(deadline),
                None => self.timer = Some(Box::pin(tokio::time::sleep_until(deadline))),
            }
        }
        self.armed = due;
    }

    async fn rings(&mut self) {
        match self.timer.as_mut() {
            Some(timer) if self.armed.is_some() => timer.as_mut().await,
            _ => std::future::pending().await,
        }
    }
}

/// What the loop does next.
enum Next<A: Actor> {
    Handle(Incoming<A>),
    Again,
    Stop(Stop),
}

impl<A: Actor> Host<A> {
    pub(super) async fn run(mut self: Box<Self>, mut rx: MailboxRx) {
        let mut idle = Idle::new(self.sleep_timeout());
        let mut alarm = Alarm::default();
        // Mailbox messages taken in a row while queue messages wait.
        let mut streak = 0;
        // Which of the run loop's requests and the mailbox goes first when both have one.
        let mut run_first = true;
        let stop = loop {
            if self.gate.is_poisoned() {
                break Stop::Restart;
            }
            if let Some(stop) = self.stop.take() {
                break stop;
            }
            // Messages a turn gave the run loop (a send, a release, a workflow giving one
            // back) go out before anything else runs. (Checked first: the boxed future would
            // cost an allocation per message.)
            if self.queue.has_handovers() {
                Box::pin(self.hand_over()).await;
            }
            self.report_gauges();
            self.report_revisions();
            let due = self.cx.stores().schedules.next_due();
            let now = now_ms();
            if due.is_some_and(|at| at <= now) {
                Box::pin(self.fire_schedule()).await;
                idle.active();
                continue;
            }
            alarm.arm(due, now);
            // Queue messages run between other turns: whenever the mailbox is empty, and at
            // least once every MAILBOX_STREAK messages, so a burst of sends is accepted (and
            // acknowledged) before it is processed, and a busy mailbox cannot starve the queue.
            if self.queue.has_handled() && streak >= MAILBOX_STREAK {
                streak = 0;
                Box::pin(self.process_queue_message()).await;
                idle.active();
                continue;
            }
            let next = match self.ready(&mut rx, &mut run_first) {
                Ok(Some(incoming)) => Next::Handle(incoming),
                Err(stop) => Next::Stop(stop),
                // Nothing there: the queue's turn, or wait.
                Ok(None) if self.queue.has_handled() => {
                    streak = MAILBOX_STREAK;
                    Next::Again
                }
                Ok(None) => self.wait_next(&mut rx, &mut idle, &mut alarm).await,
            };
            match next {
                Next::Handle(incoming) => {
                    Box::pin(self.handle(incoming)).await;
                    streak += 1;
                    idle.active();
                }
                Next::Again => {}
                Next::Stop(stop) => break stop,
            }
        };
        Box::pin(self.stop(stop, rx)).await;
    }

    /// A message that is there now. The run loop's requests and the mailbox take turns when
    /// both have one, as they did when they shared one queue.
    fn ready(
        &mut self,
        rx: &mut MailboxRx,
        run_first: &mut bool,
    ) -> Result<Option<Incoming<A>>, Stop> {
        if *run_first && let Some(request) = self.try_run_request() {
            *run_first = false;
            return Ok(Some(Incoming::Run(request)));
        }
        match rx.try_recv() {
            Ok(envelope) => {
                *run_first = true;
                Ok(Some(Incoming::Envelope(envelope)))
            }
            Err(mpsc::error::TryRecvError::Disconnected) => Err(Stop::Shutdown),
            Err(mpsc::error::TryRecvError::Empty) => Ok(self.try_run_request().map(|request| {
                *run_first = false;
                Incoming::Run(request)
            })),
        }
    }

    fn try_run_request(&mut self) -> Option<crate::run::request::RunRequest<A>> {
        self.run_loop.as_mut()?.requests.try_recv().ok()
    }

    /// Waits for the next message, a due schedule, or an idle tick.
    async fn wait_next(
        &mut self,
        rx: &mut MailboxRx,
        idle: &mut Idle,
        alarm: &mut Alarm,
    ) -> Next<A> {
        enum Woken<A: Actor> {
            Incoming(Incoming<A>),
            Closed,
            Alarm,
            Tick,
        }
        let run = self.run_loop.as_mut().map(|run| &mut run.requests);
        let run_open = run.is_some();
        // Nothing was there (see `ready`): whichever comes first.
        let woken = tokio::select! {
            biased;
            Some(request) = async {
                match run {
                    Some(requests) => requests.recv().await,
                    None => None,
                }
            }, if run_open => Woken::Incoming(Incoming::Run(request)),
            envelope = rx.recv() => match envelope {
                Some(envelope) => Woken::Incoming(Incoming::Envelope(envelope)),
                None => Woken::Closed,
            },
            () = alarm.rings() => Woken::Alarm,
            () = idle.timer.as_mut() => Woken::Tick,
        };
        match woken {
            Woken::Incoming(incoming) => Next::Handle(incoming),
            Woken::Closed => Next::Stop(Stop::Shutdown),
            // Due now: the top of the loop runs it.
            Woken::Alarm => {
                alarm.armed = None;
                Next::Again
            }
            Woken::Tick => {
                if idle.ticked() && !A::metadata().options.no_sleep && self.can_sleep() {
                    Next::Stop(Stop::Sleep)
                } else {
                    Next::Again
                }
            }
        }
    }

    /// Brings the actor type's connection and queue gauges up to date with this activation.
    pub(super) fn report_gauges(&mut self) {
        let connections = self.cx.connections().len();
        crate::metrics::track(
            &self.metrics.connections,
            &mut self.reported.connections,
            connections,
        );
        let queued = self.queue.len();
        crate::metrics::track(&self.metrics.queued, &mut self.reported.queued, queued);
    }

    fn can_sleep(&mut self) -> bool {
        self.cx.connections_mut().prune_closed()
            // Messages keep the actor awake only while a handler or the run loop can take them.
            && self.queue_settled()
            && self.cx.awake().idle()
            && !self.watched()
    }

    /// Runs one message.
    pub(super) async fn handle(&mut self, incoming: Incoming<A>) {
        let envelope = match incoming {
            Incoming::Run(request) => {
                self.run_request(request);
                // A run-loop turn may have asked to close connections, as any turn.
                self.run_pending_disconnects().await;
                return;
            }
            Incoming::Envelope(envelope) => envelope,
        };
        match *envelope {
            Envelope::Action {
                name,
                args,
                conn,
                reply,
                chain,
                trace,
            } => {
                self.trace_parent = trace;
                self.action(name, args, conn, reply, chain).await;
                // Not left for a later turn when the action was refused before it ran.
                self.trace_parent = None;
            }
            Envelope::Queue {
                name,
                body,
                wait,
                reply,
            } => self.enqueue(name, body, wait, reply),
            Envelope::Connect {
                params,
                request,
                kind,
                sink,
                reply,
            } => self.connect(params, request, kind, sink, reply).await,
            Envelope::Subscribe {
                conn,
                event,
                subscribe,
            } => {
                // Only declared events can ever be sent: a subscription to any other name is
                // dropped rather than kept (a client could otherwise grow it without limit).
                if A::metadata().events.contains(&event.as_str()) {
                    self.cx
                        .connections_mut()
                        .set_subscription(&conn, event, subscribe);
                } else {
                    tracing::debug!(
                        event = event.chars().take(64).collect::<String>(),
                        "ignored a subscription to an event the actor does not declare"
                    );
                }
            }
            Envelope::Disconnect { conn } => self.disconnect(conn, None).await,
            Envelope::Request { request, reply } => self.request(request, reply).await,
            Envelope::RawSocket(event) => self.raw_socket(event).await,
            Envelope::Ping { reply } => {
                let _ = reply.send(Ok(()));
            }
            Envelope::Inspect { request, reply } => self.inspect(request, reply).await,
            Envelope::Watch { reply } => self.watch(reply),
            Envelope::Destroy { reply } => {
                self.destroy_waiters.push(reply);
                self.stop = Some(Stop::Destroy);
            }
            Envelope::Shutdown => self.stop = Some(Stop::Shutdown),
            Envelope::Sleep => self.stop = Some(Stop::Sleep),
        }
        self.run_pending_disconnects().await;
    }
}
