//! The requests a `#[run]` loop sends its host: queue requests (take, complete or release a
//! message) and turns. Turns are typed by the actor, so the host runs their closures on its
//! state without a downcast.

use std::sync::Arc;

use bytes::Bytes;
use rivet_client::ActorError;
use tokio::sync::{mpsc, oneshot};

use crate::actor::Actor;
use crate::context::Cx;
use crate::error::Error;
use crate::message::Message;

/// A run loop's request about the actor's queue.
#[derive(Debug)]
pub(crate) enum QueueRequest {
    /// Up to `count` messages (of `names`, if given); `wait`: until one comes.
    Next {
        names: Option<Vec<String>>,
        count: usize,
        wait: bool,
        reply: oneshot::Sender<Vec<Message>>,
    },
    /// The loop completed a message: delete it and answer its waiting sender.
    Complete {
        id: u64,
        response: Option<Bytes>,
        reply: oneshot::Sender<Result<(), ActorError>>,
    },
    /// The loop dropped a message without completing it: it goes back to its queue.
    Release { id: u64 },
}

/// A state change the run loop asks the host to run as a turn.
pub(crate) type TurnFn<A> = Box<dyn FnOnce(&mut A, &mut Cx<A>) -> Result<(), Error> + Send>;

/// Tells the run loop how its turn ended: accepted for commit, or refused with this error.
pub(crate) type TurnAnswer = Box<dyn FnOnce(Result<(), ActorError>) + Send>;

/// A request of actor `A`'s run loop to its host.
pub(crate) enum RunRequest<A: Actor> {
    Queue(QueueRequest),
    Turn { run: TurnFn<A>, answer: TurnAnswer },
}

impl<A: Actor> std::fmt::Debug for RunRequest<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Queue(request) => request.fmt(f),
            Self::Turn { .. } => f.write_str("Turn"),
        }
    }
}

/// Where a run loop sends its requests.
pub(crate) type RunSender<A> = mpsc::UnboundedSender<RunRequest<A>>;
/// Where the host receives them.
pub(crate) type RunReceiver<A> = mpsc::UnboundedReceiver<RunRequest<A>>;

/// The run loop's way to its host for queue requests, without the actor's type, so that the
/// messages it hands out ([`QueueMessage`](crate::run::QueueMessage)) need none. Cheap to clone.
#[derive(Clone)]
pub(crate) struct QueuePort(Arc<dyn Fn(QueueRequest) -> Result<(), ()> + Send + Sync>);

impl std::fmt::Debug for QueuePort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QueuePort")
    }
}

impl QueuePort {
    pub(crate) fn new<A: Actor>(run: RunSender<A>) -> Self {
        Self(Arc::new(move |request| {
            run.send(RunRequest::Queue(request)).map_err(|_| ())
        }))
    }

    /// Sends `request`; fails when the host is gone (the actor stopped).
    pub(crate) fn send(&self, request: QueueRequest) -> Result<(), ()> {
        (self.0)(request)
    }
}
