//! Keep-awake guards: work in progress outside a turn that holds off an actor's sleep
//! ([`Cx::keep_awake`](crate::Cx::keep_awake), RivetKit's `keepAwake`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

/// The [`KeepAwake`] guards alive for one actor.
#[derive(Debug, Default)]
pub(crate) struct AwakeHolds {
    count: AtomicUsize,
    released: Notify,
}

impl AwakeHolds {
    /// Whether no guard is alive.
    pub(crate) fn idle(&self) -> bool {
        self.count.load(Ordering::Acquire) == 0
    }

    /// Waits until no guard is alive.
    pub(crate) async fn until_idle(&self) {
        loop {
            let released = self.released.notified();
            if self.idle() {
                return;
            }
            released.await;
        }
    }
}

/// Keeps its actor awake while it lives; see [`Cx::keep_awake`](crate::Cx::keep_awake).
#[derive(Debug)]
#[must_use = "the actor may sleep as soon as the guard is dropped"]
pub struct KeepAwake {
    holds: Arc<AwakeHolds>,
}

impl KeepAwake {
    pub(crate) fn new(holds: &Arc<AwakeHolds>) -> Self {
        holds.count.fetch_add(1, Ordering::AcqRel);
        Self {
            holds: Arc::clone(holds),
        }
    }
}

impl Drop for KeepAwake {
    fn drop(&mut self) {
        if self.holds.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.holds.released.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn until_idle_waits_for_the_last_guard() {
        let holds = Arc::new(AwakeHolds::default());
        assert!(holds.idle());
        let a = KeepAwake::new(&holds);
        let b = KeepAwake::new(&holds);
        let waiting = tokio::spawn({
            let holds = Arc::clone(&holds);
            async move { holds.until_idle().await }
        });
        drop(a);
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished() && !holds.idle());
        drop(b);
        tokio::time::timeout(std::time::Duration::from_secs(10), waiting)
            .await
            .expect("released")
            .expect("task");
        assert!(holds.idle());
    }
}
