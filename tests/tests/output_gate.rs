//! The output gate: an action's reply and its events leave only after the turn's writes are
//! committed. A storage wrapper holds commits back to observe it (the storage underneath is the
//! real in-memory backend).
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use rivet_core::client::transport::BoxFuture;
use rivet_core::storage::memory::MemoryStorage;
use rivet_core::storage::{ActorRecord, Commit, Lookup, NewActor, Storage, StorageError};
use rivet_examples::counter::Counter;
use tokio::sync::{Notify, mpsc};

/// Memory storage whose commits wait until released.
#[derive(Debug, Default)]
struct HeldStorage {
    inner: MemoryStorage,
    held: Mutex<Vec<Commit>>,
    holding: Mutex<bool>,
    submitted: Notify,
}

impl HeldStorage {
    fn hold(&self) {
        *self.holding.lock().unwrap() = true;
    }

    fn release(&self) {
        *self.holding.lock().unwrap() = false;
        let held = std::mem::take(&mut *self.held.lock().unwrap());
        for commit in held {
            self.inner.commit(commit);
        }
    }

    fn held_count(&self) -> usize {
        self.held.lock().unwrap().len()
    }
}

impl Storage for HeldStorage {
    fn lookup<'a>(
        &'a self,
        lookup: Lookup<'a>,
    ) -> BoxFuture<'a, Result<Option<ActorRecord>, StorageError>> {
        self.inner.lookup(lookup)
    }
    fn create(&self, actor: NewActor) -> BoxFuture<'_, Result<(ActorRecord, bool), StorageError>> {
        self.inner.create(actor)
    }
    fn destroy(&self, storage_id: i64) -> BoxFuture<'_, Result<(), StorageError>> {
        self.inner.destroy(storage_id)
    }
    fn get<'a>(
        &'a self,
        storage_id: i64,
        key: &'a [u8],
    ) -> BoxFuture<'a, Result<Option<bytes::Bytes>, StorageError>> {
        self.inner.get(storage_id, key)
    }
    fn scan_range<'a>(
        &'a self,
        storage_id: i64,
        range: rivet_core::storage::KeyRange<'a>,
    ) -> BoxFuture<'a, Result<Vec<(bytes::Bytes, bytes::Bytes)>, StorageError>> {
        self.inner.scan_range(storage_id, range)
    }
    fn list_actors<'a>(
        &'a self,
        name: &'a str,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<ActorRecord>, StorageError>> {
        self.inner.list_actors(name, limit)
    }
    fn actors_with_prefix<'a>(
        &'a self,
        prefix: &'a [u8],
    ) -> BoxFuture<'a, Result<Vec<ActorRecord>, StorageError>> {
        self.inner.actors_with_prefix(prefix)
    }
    fn commit(&self, commit: Commit) {
        if *self.holding.lock().unwrap() {
            self.held.lock().unwrap().push(commit);
            self.submitted.notify_one();
        } else {
            self.inner.commit(commit);
        }
    }
    fn close(&self) -> BoxFuture<'_, Result<(), StorageError>> {
        self.inner.close()
    }
}

#[tokio::test]
async fn reply_and_events_wait_for_the_commit() {
    let storage = Arc::new(HeldStorage::default());
    let registry = rivet_examples::registry()
        .storage(storage.clone())
        .build()
        .unwrap();
    let counter = registry.client().get_or_create::<Counter>(["gated"]);
    counter.increment(1).await.unwrap();
    let conn = counter.connect().await.unwrap();
    let (tx, mut events) = mpsc::unbounded_channel();
    conn.on_new_count(move |n| {
        let _ = tx.send(n);
    });

    storage.hold();
    let call = tokio::spawn(async move { conn.increment(10).await.map(|n| (n, conn)) });
    storage.submitted.notified().await;
    // The turn ran and submitted its write; while that write is not committed, neither the
    // reply nor the event may have left.
    assert_eq!(storage.held_count(), 1);
    tokio::task::yield_now().await;
    assert!(!call.is_finished());
    assert!(events.try_recv().is_err());

    // A read-only call after it must not overtake it either: it saw the uncommitted value.
    let read = {
        let counter = counter.clone();
        tokio::spawn(async move { counter.get_count().await })
    };
    storage.submitted.notified().await;
    assert!(!read.is_finished());

    storage.release();
    let (n, _conn) = call.await.unwrap().unwrap();
    assert_eq!(n, 11);
    assert_eq!(read.await.unwrap().unwrap(), 11);
    assert_eq!(events.recv().await, Some(11));
}
