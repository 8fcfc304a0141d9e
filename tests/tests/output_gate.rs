//! The output gate: an action's reply and its events leave only after the turn's writes are
//! committed. A storage wrapper holds commits back to observe it (the storage underneath is the
//! real in-memory backend).
//!
//! Memory only, on purpose: the test must stop commits at the storage to see what waits for
//! them, and [`TestStorage`] wraps the in-memory storage; SQLite's commits cannot be held from
//! a test. (SQLite's in-flight commits are exercised by the behaviour tests that run on both
//! backends, and its held commits by `storage_sqlite`.)
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use rivet_core::storage::memory::MemoryStorage;
use rivet_core::storage::{Commit, Storage};
use rivet_examples::counter::Counter;
use rivet_tests::{CommitPolicy, TestStorage, Within};
use tokio::sync::{Notify, mpsc};

/// Commits wait until released.
#[derive(Debug, Default)]
struct Hold {
    held: Mutex<Vec<Commit>>,
    holding: Mutex<bool>,
    submitted: Notify,
}

impl Hold {
    fn hold(&self) {
        *self.holding.lock().unwrap() = true;
    }

    fn release(&self, inner: &MemoryStorage) {
        *self.holding.lock().unwrap() = false;
        let held = std::mem::take(&mut *self.held.lock().unwrap());
        for commit in held {
            inner.commit(commit);
        }
    }

    fn held_count(&self) -> usize {
        self.held.lock().unwrap().len()
    }
}

impl CommitPolicy for Hold {
    fn commit(&self, inner: &MemoryStorage, commit: Commit) {
        if *self.holding.lock().unwrap() {
            self.held.lock().unwrap().push(commit);
            self.submitted.notify_one();
        } else {
            inner.commit(commit);
        }
    }
}

#[tokio::test]
async fn reply_and_events_wait_for_the_commit() {
    let storage = Arc::new(TestStorage::<Hold>::default());
    let registry = rivet_examples::registry()
        .storage(storage.clone())
        .build()
        .unwrap();
    let counter = registry.client().get_or_create::<Counter>(["gated"]);
    counter.increment(1).within().await.unwrap();
    let conn = counter.connect().within().await.unwrap();
    let (tx, mut events) = mpsc::unbounded_channel();
    conn.on_new_count(move |n| {
        let _ = tx.send(n);
    });

    storage.policy.hold();
    let call = tokio::spawn(async move { conn.increment(10).within().await.map(|n| (n, conn)) });
    storage.policy.submitted.notified().within().await;
    // The turn ran and submitted its write; while that write is not committed, neither the
    // reply nor the event may have left.
    assert_eq!(storage.policy.held_count(), 1);
    tokio::task::yield_now().within().await;
    assert!(!call.is_finished());
    assert!(events.try_recv().is_err());

    // A read-only call after it must not overtake it either: it saw the uncommitted value.
    let read = {
        let counter = counter.clone();
        tokio::spawn(async move { counter.get_count().within().await })
    };
    storage.policy.submitted.notified().within().await;
    assert!(!read.is_finished());

    storage.policy.release(&storage.inner);
    let (n, _conn) = call.within().await.unwrap().unwrap();
    assert_eq!(n, 11);
    assert_eq!(read.within().await.unwrap().unwrap(), 11);
    assert_eq!(events.recv().within().await, Some(11));
}
