//! The `#[run]` loop: an actor's background task (RivetKit's `run`), started when the actor
//! wakes and told to stop when it sleeps, is destroyed or the registry shuts down.
//!
//! It runs beside the actor's turns, so it does not hold the state: it takes messages from the
//! actor's durable queue with [`RunCx::queue`] and changes the state in turns of its own with
//! [`RunCx::turn`], which commit (and release their effects) like any other turn. A message
//! leaves the queue only when it is [completed](QueueMessage::complete): a loop stopped in the
//! middle of one (a crash, a sleep) gets it again on the next wake.
//!
//! ```
//! use std::time::Duration;
//! use rivet_core::prelude::*;
//! use rivet_core::run::{Next, RunCx};
//!
//! #[derive(Debug, Clone, Serialize, Deserialize)]
//! pub struct Task {
//!     pub id: u32,
//! }
//!
//! #[derive(Default, Serialize, Deserialize)]
//! pub struct Worker {
//!     done: Vec<u32>,
//! }
//!
//! #[actor(name = "worker")]
//! impl Worker {
//!     /// Tasks for the run loop; completing one answers a waiting sender with the count.
//!     #[queue]
//!     fn tasks(task: Task) -> usize;
//!
//!     #[run]
//!     async fn run(cx: RunCx<Self>) -> Result<(), Error> {
//!         while let Some(message) = cx.queue().next(Next::new()).await? {
//!             let task: Task = message.decode()?;
//!             let done = cx.turn(move |state: &mut Self, _cx| {
//!                 state.done.push(task.id);
//!                 Ok(state.done.len())
//!             }).await?;
//!             message.complete(&done).await?;
//!         }
//!         Ok(()) // the actor is stopping
//!     }
//! }
//! ```

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::{oneshot, watch};

use crate::actor::Actor;
use crate::awake::{AwakeHolds, KeepAwake};
use crate::context::Cx;
use crate::error::Error;
pub use crate::message::Message;
use crate::runtime::ActorIdentity;
use rivet_client::{ActorKey, codes};

pub(crate) mod request;

use request::{QueuePort, QueueRequest, RunRequest, RunSender, TurnAnswer, TurnFn};

/// The context of the `#[run]` loop of actor `A`; see the [module docs](self).
pub struct RunCx<A: Actor> {
    identity: Arc<ActorIdentity>,
    run: RunSender<A>,
    queue: QueuePort,
    abort: watch::Receiver<bool>,
    awake: Arc<AwakeHolds>,
    _actor: PhantomData<fn() -> A>,
}

impl<A: Actor> std::fmt::Debug for RunCx<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunCx")
            .field("actor_id", &self.identity.id)
            .field("aborted", &self.is_aborted())
            .finish_non_exhaustive()
    }
}

/// The error of a run-loop request the actor can no longer answer (it is stopping).
pub(crate) fn stopping() -> Error {
    Error::public(
        codes::SHUT_DOWN.with_message("The actor is stopping; the run loop should return."),
    )
}

impl<A: Actor> RunCx<A> {
    pub(crate) fn new(
        identity: Arc<ActorIdentity>,
        run: RunSender<A>,
        abort: watch::Receiver<bool>,
        awake: Arc<AwakeHolds>,
    ) -> Self {
        Self {
            identity,
            queue: QueuePort::new(run.clone()),
            run,
            abort,
            awake,
            _actor: PhantomData,
        }
    }

    pub(crate) fn identity(&self) -> &ActorIdentity {
        &self.identity
    }

    /// The actor's id.
    pub fn actor_id(&self) -> &str {
        &self.identity.id
    }

    /// The actor's key.
    pub fn key(&self) -> &ActorKey {
        &self.identity.key
    }

    /// Whether the actor is stopping (RivetKit's `c.aborted`): the loop should return soon.
    pub fn is_aborted(&self) -> bool {
        *self.abort.borrow()
    }

    /// Resolves when the actor starts stopping (RivetKit's `abortSignal`); use it in
    /// `tokio::select!` around long waits.
    pub async fn aborted(&self) {
        let mut abort = self.abort.clone();
        // An error means the actor is gone: stopped as well.
        let _ = abort.wait_for(|stopping| *stopping).await;
    }

    /// Keeps the actor awake while the guard lives (see [`Cx::keep_awake`]).
    pub fn keep_awake(&self) -> KeepAwake {
        KeepAwake::new(&self.awake)
    }

    /// The actor's queue, as the run loop takes it.
    pub fn queue(&self) -> RunQueue<'_, A> {
        RunQueue { cx: self }
    }

    /// A client for calling other actors. The run loop is not a turn, so calls from it may come
    /// back to this actor.
    pub fn client(&self) -> rivet_client::Client {
        self.identity.client(None)
    }

    /// Runs `f` on the state as a turn of its own, between the actor's other turns, and returns
    /// its result as soon as it ran. If `f` fails, its changes are rolled back. Its writes commit
    /// in order with the actor's others, and whatever they cause outside (replies, events, a
    /// waiting sender's answer) waits for that commit, so a crash never shows a lost change.
    pub async fn turn<R, F>(&self, f: F) -> Result<R, Error>
    where
        R: Send + 'static,
        F: FnOnce(&mut A, &mut Cx<A>) -> Result<R, Error> + Send + 'static,
    {
        let _awake = self.keep_awake();
        let (value_tx, mut value_rx) = oneshot::channel::<R>();
        let (tx, rx) = oneshot::channel::<Result<R, Error>>();
        let run: TurnFn<A> = Box::new(move |state, cx| {
            let _ = value_tx.send(f(state, cx)?);
            Ok(())
        });
        let answer: TurnAnswer = Box::new(move |outcome| {
            let result = match outcome {
                Ok(()) => value_rx
                    .try_recv()
                    .map_err(|_| Error::internal("run-loop turn lost its result")),
                Err(refused) => Err(Error::public(refused)),
            };
            let _ = tx.send(result);
        });
        self.run
            .send(RunRequest::Turn { run, answer })
            .map_err(|_| stopping())?;
        rx.await.map_err(|_| stopping())?
    }
}

/// What [`RunQueue::next`] waits for.
#[derive(Debug, Clone, Default)]
pub struct Next {
    pub(crate) names: Option<Vec<String>>,
    pub(crate) timeout: Option<Duration>,
}

impl Next {
    /// The next message of any declared queue, waiting as long as it takes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only messages of these queues (by wire name).
    #[must_use]
    pub fn names<I: IntoIterator<Item = S>, S: Into<String>>(mut self, names: I) -> Self {
        self.names = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// Gives up after `timeout`, returning nothing.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

/// The actor's queue as the run loop sees it: messages of queues declared without a handler
/// (`#[queue] fn jobs(job: Job);`), oldest first.
#[derive(Debug)]
pub struct RunQueue<'a, A: Actor> {
    cx: &'a RunCx<A>,
}

impl<'a, A: Actor> RunQueue<'a, A> {
    /// The next message, waiting for one; `None` when the wait timed out or the actor is
    /// stopping.
    pub async fn next(&self, next: Next) -> Result<Option<QueueMessage>, Error> {
        let mut batch = self.next_batch(next, 1).await?;
        Ok(batch.pop())
    }

    /// Up to `count` messages, waiting for at least one; empty when the wait timed out or the
    /// actor is stopping.
    pub async fn next_batch(&self, next: Next, count: usize) -> Result<Vec<QueueMessage>, Error> {
        if self.cx.is_aborted() {
            return Ok(Vec::new());
        }
        let mut pending = self.request(next.names, count.max(1), true)?;
        let wait = async {
            tokio::select! {
                taken = &mut pending.rx => taken.ok(),
                () = self.cx.aborted() => None,
            }
        };
        let taken = match next.timeout {
            Some(timeout) => tokio::time::timeout(timeout, wait).await.ok().flatten(),
            None => wait.await,
        };
        // Messages the host handed over just as the wait ended are returned all the same.
        let taken = taken.or_else(|| pending.close());
        Ok(taken
            .unwrap_or_default()
            .into_iter()
            .map(|m| self.wrap(m))
            .collect())
    }

    /// The messages as a stream (RivetKit's `c.queue.iter()`): each as it comes, ending when the
    /// actor stops.
    ///
    /// ```
    /// # use rivet_core::prelude::*;
    /// # use rivet_core::run::RunCx;
    /// use futures_util::StreamExt;
    /// # #[derive(Default, Serialize, Deserialize)]
    /// # pub struct W;
    /// # #[actor(name = "w")]
    /// # impl W {
    /// #     #[queue]
    /// #     fn jobs(n: u32);
    /// #[run]
    /// async fn run(cx: RunCx<Self>) -> Result<(), Error> {
    ///     let mut messages = std::pin::pin!(cx.queue().iter());
    ///     while let Some(message) = messages.next().await {
    ///         message?.ack().await?;
    ///     }
    ///     Ok(())
    /// }
    /// # }
    /// ```
    pub fn iter(
        &self,
    ) -> impl futures_util::Stream<Item = Result<QueueMessage, Error>> + use<'a, A> {
        let cx: &'a RunCx<A> = self.cx;
        futures_util::stream::unfold(cx, |cx| async move {
            match cx.queue().next(Next::new()).await {
                Ok(Some(message)) => Some((Ok(message), cx)),
                Ok(None) => None,
                Err(error) => Some((Err(error), cx)),
            }
        })
    }

    /// The next message if one is waiting now.
    pub async fn try_next(
        &self,
        names: Option<Vec<String>>,
    ) -> Result<Option<QueueMessage>, Error> {
        let mut pending = self.request(names, 1, false)?;
        let taken = (&mut pending.rx).await.unwrap_or_default();
        Ok(taken.into_iter().next().map(|m| self.wrap(m)))
    }

    /// Asks the host for up to `count` messages (`wait`: until one comes); the answer arrives
    /// through the returned handover.
    fn request(
        &self,
        names: Option<Vec<String>>,
        count: usize,
        wait: bool,
    ) -> Result<Handover, Error> {
        let (reply, rx) = oneshot::channel();
        let request = QueueRequest::Next {
            names,
            count,
            wait,
            reply,
        };
        self.cx.queue.send(request).map_err(|()| stopping())?;
        Ok(Handover {
            rx,
            port: self.cx.queue.clone(),
        })
    }

    fn wrap(&self, taken: Message) -> QueueMessage {
        QueueMessage {
            message: taken,
            port: self.cx.queue.clone(),
            done: false,
            _awake: self.cx.keep_awake(),
        }
    }
}

/// The answer to a `QueueNext` request while it is awaited. Messages the host handed over but
/// nobody read (the waiting future was dropped) go back to the queue.
struct Handover {
    rx: oneshot::Receiver<Vec<Message>>,
    port: QueuePort,
}

impl Handover {
    /// Stops the host from handing anything over; returns what it already did.
    fn close(&mut self) -> Option<Vec<Message>> {
        self.rx.close();
        self.rx.try_recv().ok()
    }
}

impl Drop for Handover {
    fn drop(&mut self) {
        // Each goes back to the front of the queue: the last first, so they keep their order.
        for message in self.close().unwrap_or_default().into_iter().rev() {
            let _ = self.port.send(QueueRequest::Release { id: message.id });
        }
    }
}

/// A queue message taken by the run loop. It stays stored until
/// [`complete`](Self::complete)d; dropped without that, it goes back to the front of its queue.
/// While it is held, the actor stays awake.
#[derive(Debug)]
pub struct QueueMessage {
    message: Message,
    port: QueuePort,
    done: bool,
    _awake: KeepAwake,
}

/// The message's id, name and body.
impl std::ops::Deref for QueueMessage {
    type Target = Message;

    fn deref(&self) -> &Message {
        &self.message
    }
}

impl QueueMessage {
    /// Removes the message from the queue and answers a sender waiting on it with `response`,
    /// both once the removal is committed; returns as soon as the actor took the request.
    pub async fn complete<T: Serialize + ?Sized>(mut self, response: &T) -> Result<(), Error> {
        let response = rivet_client::codec::to_cbor(response).map_err(Error::public)?;
        self.finish(Some(response)).await
    }

    /// Removes the message from the queue without a response (a waiting sender gets `null`).
    pub async fn ack(mut self) -> Result<(), Error> {
        self.finish(None).await
    }

    /// Drops the message without sending it back to the queue: a turn took it for good.
    pub(crate) fn forget(mut self) {
        self.done = true;
    }

    async fn finish(&mut self, response: Option<Bytes>) -> Result<(), Error> {
        self.done = true;
        let (reply, rx) = oneshot::channel();
        let request = QueueRequest::Complete {
            id: self.message.id,
            response,
            reply,
        };
        self.port.send(request).map_err(|()| stopping())?;
        rx.await.map_err(|_| stopping())?.map_err(Error::public)
    }
}

impl Drop for QueueMessage {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.port.send(QueueRequest::Release {
                id: self.message.id,
            });
        }
    }
}
