//! Ending an activation: the run loop stops, keep-awake work gets its grace period,
//! `#[on_sleep]` or `#[on_destroy]` runs, everything commits (a destroyed actor's data is
//! deleted), connections close, and the registry forgets the activation.

use std::sync::Arc;

use rivet_client::codes;

use super::{Host, Stop};
use crate::actor::{Actor, Hook};
use crate::lifecycle::LifecycleKind;
use crate::mailbox::{Leftovers, MailboxRx};
use crate::report::chain;

impl<A: Actor> Host<A> {
    pub(super) async fn stop(mut self: Box<Self>, stop: Stop, mut rx: MailboxRx) {
        // Whether the messages left are ones nobody takes, judged while the run loop still
        // waits (and only if none arrives while it stops).
        let settled = self.queue_settled().then(|| self.queue.next_id());
        self.stop_run_loop(&mut rx).await;
        if matches!(stop, Stop::Sleep | Stop::Shutdown) {
            self.wait_for_keep_awake().await;
        }
        let hook = match stop {
            Stop::Sleep | Stop::Shutdown => Some(Hook::Sleep),
            Stop::Destroy => Some(Hook::Destroy),
            Stop::Restart => None,
        };
        if let Some(hook) = hook
            && let Err(error) = self.run_hook(hook, false).await
        {
            tracing::error!(?hook, %error, "hook failed");
        }
        if matches!(stop, Stop::Sleep | Stop::Shutdown) {
            self.mark_dormant(settled);
        }
        if stop != Stop::Restart
            && let Err(error) = self.gate.flush().await
        {
            tracing::error!(error = %chain(&error), "final flush failed");
        }
        match stop {
            Stop::Destroy => self.runtime.clear_alarm(&self.record.id),
            // Wakes the actor again when its next schedule is due.
            Stop::Sleep | Stop::Restart => {
                if let Some(at) = self.cx.stores().schedules.next_due() {
                    self.runtime.set_alarm(self.record.clone(), at);
                }
            }
            Stop::Shutdown => {}
        }
        let destroyed = stop == Stop::Destroy && self.delete().await;
        self.close_everything(destroyed);
        let leftovers = if stop == Stop::Shutdown {
            Leftovers::Fail(codes::SHUT_DOWN.error())
        } else {
            Leftovers::Redeliver
        };
        Arc::clone(&self.runtime).deregister(&self.record, self.generation, &mut rx, leftovers);
        // This activation no longer counts.
        self.metrics.awake.dec();
        crate::metrics::track(&self.metrics.connections, &mut self.reported.connections, 0);
        crate::metrics::track(&self.metrics.queued, &mut self.reported.queued, 0);
        let kind = match stop {
            Stop::Destroy => LifecycleKind::Destroyed,
            Stop::Restart => LifecycleKind::Crashed,
            Stop::Sleep | Stop::Shutdown => LifecycleKind::Slept,
        };
        self.runtime.publish(&self.record, kind);
    }

    /// Stores whether start-up should leave the actor asleep although it has queued
    /// messages: it should if they are ones nobody takes (`settled` is the queue's next id
    /// when that was judged, and no message came since) and no handler waits.
    fn mark_dormant(&mut self, settled: Option<u64>) {
        let dormant = settled == Some(self.queue.next_id())
            && !self.queue.is_empty()
            && !self.queue.has_handled();
        let marker =
            dormant.then(|| super::queue::consumer_signature(A::metadata(), A::queue_has_handler));
        if let Some(batch) = self.queue.mark_dormant(marker) {
            self.gate.submit(batch, |_| {});
        }
    }

    /// Work in progress ([`keep_awake`](crate::Cx::keep_awake)) gets the grace period to finish.
    async fn wait_for_keep_awake(&self) {
        let awake = self.cx.awake();
        if awake.idle() {
            return;
        }
        let grace = self.sleep_grace_period();
        if tokio::time::timeout(grace, awake.until_idle())
            .await
            .is_err()
        {
            tracing::warn!(actor = %self.record.id, "keep-awake work still running after the grace period");
        }
    }

    /// Deletes the actor and its key space; returns whether it is gone.
    async fn delete(&self) -> bool {
        match self.runtime.storage().destroy(self.record.storage_id).await {
            Ok(()) => true,
            Err(error) => {
                tracing::error!(error = %chain(&error), "destroy failed");
                false
            }
        }
    }

    /// Closes connections and raw sockets, and answers whoever still waits on this activation.
    fn close_everything(&mut self, destroyed: bool) {
        // Clients reconnect on `ws.going_away`; on `actor.not_found` a get-or-create handle
        // makes a new actor.
        let reason = if destroyed {
            codes::ACTOR_NOT_FOUND.with_message("The actor was destroyed.")
        } else {
            codes::GOING_AWAY.error()
        };
        self.cx.connections().close_all(&reason);
        for waiter in self.destroy_waiters.drain(..) {
            let _ = waiter.send(if destroyed {
                Ok(())
            } else {
                Err(codes::INTERNAL_ERROR.error())
            });
        }
        self.queue.fail_waiters();
    }
}
