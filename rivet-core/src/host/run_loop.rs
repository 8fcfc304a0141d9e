//! The `#[run]` loop's side of the host: starting the loop on wake, serving its requests
//! (queue messages and turns), and stopping it — serving its last requests up to the grace
//! period, then cancelling it.

use std::sync::Arc;

use rivet_client::codes;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::{Host, Incoming};
use crate::actor::Actor;
use crate::mailbox::MailboxRx;
use crate::run::RunCx;
use crate::run::request::{QueueRequest, RunReceiver, RunRequest};

/// A running `#[run]` loop.
pub(super) struct RunLoop<A: Actor> {
    task: JoinHandle<()>,
    abort: watch::Sender<bool>,
    /// Its requests. The loop's context holds the sending side, so this ends with the loop.
    pub(super) requests: RunReceiver<A>,
}

impl<A: Actor> RunLoop<A> {
    pub(super) fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Waits up to `within` for a loop that has nothing left to ask of the host to end;
    /// returns whether it ended.
    pub(super) async fn ended_within(&mut self, within: std::time::Duration) -> bool {
        tokio::time::timeout(within, &mut self.task).await.is_ok()
    }
}

impl<A: Actor> Host<A> {
    /// Starts the `#[run]` loop, if the actor has one.
    pub(super) fn start_run_loop(&mut self) {
        let (abort, aborted) = watch::channel(false);
        let (tx, requests) = mpsc::unbounded_channel();
        let cx = RunCx::<A>::new(
            Arc::clone(self.cx.identity()),
            tx,
            aborted,
            Arc::clone(self.cx.awake()),
        );
        let Some(future) = A::run(cx) else {
            return;
        };
        let actor = self.record.id.clone();
        let task = tokio::spawn(async move {
            match super::turn::catch_unwind(future).await {
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
        self.run_loop = Some(RunLoop {
            task,
            abort,
            requests,
        });
    }

    /// Serves a request of the run loop.
    pub(super) fn run_request(&mut self, request: RunRequest<A>) {
        match request {
            RunRequest::Queue(QueueRequest::Next {
                names,
                count,
                wait,
                reply,
            }) => self.queue.next(names, count, wait, reply),
            RunRequest::Queue(QueueRequest::Complete {
                id,
                response,
                reply,
            }) => match self.queue.complete(id) {
                Err(error) => {
                    let _ = reply.send(Err(error));
                }
                Ok((batch, waiter)) => {
                    // The loop goes on at once; the sender hears only after the commit. (If
                    // the commit fails, the actor restarts and the message comes back.)
                    let _ = reply.send(Ok(()));
                    self.gate.submit(batch, move |result| {
                        if let (Ok(()), Some(waiter)) = (result, waiter) {
                            let _ = waiter.send(Ok(
                                rivet_client::transport::QueueSendOutcome::Completed(response),
                            ));
                        }
                    });
                }
            },
            RunRequest::Queue(QueueRequest::Release { id }) => self.queue.release(id),
            RunRequest::Turn { run, answer } => self.run_turn(run, answer),
        }
    }

    /// Tells the run loop to stop and waits for it, up to the grace period, still serving its
    /// requests and the mailbox so that its last turns and completions go through; a loop that
    /// does not return in time is cancelled.
    pub(super) async fn stop_run_loop(&mut self, rx: &mut MailboxRx) {
        let Some(mut run) = self.run_loop.take() else {
            return;
        };
        run.abort.send_replace(true);
        self.queue.refuse_waiting();
        let grace = tokio::time::sleep(self.sleep_grace_period());
        tokio::pin!(grace);
        loop {
            let incoming = tokio::select! {
                biased;
                _ = &mut run.task => break,
                Some(request) = run.requests.recv() => Incoming::Run(request),
                envelope = rx.recv() => match envelope {
                    Some(envelope) => Incoming::Envelope(envelope),
                    None => break,
                },
                () = &mut grace => {
                    tracing::warn!(actor = %self.record.id, "run loop did not return within the grace period; cancelled");
                    run.task.abort();
                    break;
                }
            };
            match incoming {
                // A stopping loop takes no new messages.
                Incoming::Run(RunRequest::Queue(QueueRequest::Next { reply, .. })) => {
                    let _ = reply.send(Vec::new());
                }
                incoming => Box::pin(self.handle(incoming)).await,
            }
        }
        // Messages it held and did not complete stay stored: the next activation loads them.
        self.queue.forget_taken();
    }
}
