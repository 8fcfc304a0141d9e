//! The output gate: an activation's batches go to storage in order, and what a turn releases
//! (its reply, its events, answers to queue senders) waits for the commit of its batch and of
//! every batch before it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::sync::oneshot;

use crate::metrics::CommitMetrics;
use crate::storage::{Batch, Commit, Storage, StorageError};

/// The commit path of one activation.
pub(super) struct OutputGate {
    storage: Arc<dyn Storage>,
    actor: i64,
    /// Set when a batch of this activation failed: storage refuses the later ones, and the
    /// activation restarts from storage.
    poisoned: Arc<AtomicBool>,
    /// Batches submitted and not committed yet.
    inflight: Arc<AtomicUsize>,
    /// An empty batch whose allocation the next turn reuses.
    spare: Batch,
    metrics: CommitMetrics,
}

impl OutputGate {
    pub(super) fn new(storage: Arc<dyn Storage>, actor: i64, metrics: CommitMetrics) -> Self {
        Self {
            storage,
            actor,
            poisoned: Arc::new(AtomicBool::new(false)),
            inflight: Arc::new(AtomicUsize::new(0)),
            spare: Batch::default(),
            metrics,
        }
    }

    /// Whether a write of this activation failed (it must restart from storage).
    pub(super) fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::Acquire)
    }

    /// Marks the activation as unable to go on (its in-memory state no longer matches storage).
    pub(super) fn poison(&self) {
        self.poisoned.store(true, Ordering::Release);
    }

    /// An empty batch for the next turn, reusing the last one's allocation.
    pub(super) fn batch(&mut self) -> Batch {
        std::mem::take(&mut self.spare)
    }

    /// Keeps an unused (empty) batch's allocation for the next turn.
    pub(super) fn reuse(&mut self, batch: Batch) {
        debug_assert!(batch.is_empty());
        self.spare = batch;
    }

    /// Sends a batch to storage; `done` runs once it and every earlier batch are committed.
    pub(super) fn submit<F>(&mut self, mut batch: Batch, done: F)
    where
        F: FnOnce(Result<(), StorageError>) + Send + 'static,
    {
        let operations = batch.ops.len();
        let submitted = std::time::Instant::now();
        if self.inflight.load(Ordering::Acquire) == 0 {
            if batch.is_empty() {
                done(Ok(()));
                self.spare = batch;
                return;
            }
            if let Some(result) = self
                .storage
                .commit_now(self.actor, &mut batch, &self.poisoned)
            {
                if result.is_err() {
                    self.poison();
                } else {
                    self.metrics.committed(operations, submitted.elapsed());
                }
                done(result);
                // Keep the emptied batch's allocation for the next turn.
                self.spare = batch;
                return;
            }
        }
        self.inflight.fetch_add(1, Ordering::AcqRel);
        let inflight = Arc::clone(&self.inflight);
        // Empty batches only wait for the ones before them: not commits of their own.
        let metrics = (operations > 0).then(|| self.metrics.clone());
        self.storage.commit(Commit {
            actor: self.actor,
            batch,
            poisoned: Arc::clone(&self.poisoned),
            done: Box::new(move |result| {
                if let (Some(metrics), Ok(())) = (&metrics, &result) {
                    metrics.committed(operations, submitted.elapsed());
                }
                done(result);
                // Only after `done`: a later turn that sees zero in flight may release its reply
                // at once, and must not overtake this one.
                inflight.fetch_sub(1, Ordering::AcqRel);
            }),
        });
    }

    /// Waits until everything submitted so far is committed.
    pub(super) async fn flush(&mut self) -> Result<(), StorageError> {
        let (tx, rx) = oneshot::channel();
        self.submit(Batch::default(), move |r| {
            let _ = tx.send(r);
        });
        rx.await.unwrap_or(Err(StorageError::Closed))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use bytes::Bytes;

    use super::*;
    use crate::storage::held::Held;
    use crate::storage::memory::MemoryStorage;

    fn put(key: &'static [u8]) -> Batch {
        let mut batch = Batch::default();
        batch.put(Bytes::from_static(key), Bytes::from_static(b"v"));
        batch
    }

    #[test]
    fn nothing_is_released_before_its_batch_and_every_earlier_one_commit() {
        let storage = Arc::new(Held::default());
        let mut gate = OutputGate::new(
            Arc::clone(&storage) as Arc<dyn Storage>,
            1,
            CommitMetrics::default(),
        );
        let released = Arc::new(Mutex::new(Vec::new()));
        let log = |name: &'static str| {
            let released = Arc::clone(&released);
            move |result: Result<(), StorageError>| {
                assert!(result.is_ok());
                crate::sync::lock(&released).push(name);
            }
        };
        gate.submit(put(b"a"), log("a"));
        // An empty batch behind a batch in flight (a read-only turn) waits for it too.
        gate.submit(Batch::default(), log("read"));
        gate.submit(put(b"b"), log("b"));
        assert!(
            crate::sync::lock(&released).is_empty(),
            "released before commit"
        );
        storage.release_all();
        assert_eq!(*crate::sync::lock(&released), ["a", "read", "b"]);
        // Nothing in flight: an empty batch is released at once.
        gate.submit(Batch::default(), log("idle read"));
        assert_eq!(crate::sync::lock(&released).len(), 4);
    }

    #[test]
    fn a_synchronous_backend_commits_at_once_and_a_failure_poisons() {
        let storage = Arc::new(MemoryStorage::new());
        let mut gate = OutputGate::new(
            Arc::clone(&storage) as Arc<dyn Storage>,
            1,
            CommitMetrics::default(),
        );
        let committed = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&committed);
        gate.submit(put(b"a"), move |r| flag.store(r.is_ok(), Ordering::Release));
        assert!(
            committed.load(Ordering::Acquire),
            "memory commits synchronously"
        );
        assert!(!gate.is_poisoned());
        gate.poison();
        let refused = Arc::new(Mutex::new(None));
        let slot = Arc::clone(&refused);
        gate.submit(put(b"b"), move |r| *crate::sync::lock(&slot) = Some(r));
        let refused = crate::sync::lock(&refused).take().expect("answered");
        assert!(
            matches!(refused, Err(StorageError::Poisoned)),
            "{refused:?}"
        );
    }
}
