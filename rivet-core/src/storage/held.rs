//! Test storage: memory storage whose commits wait until the test releases them, as SQLite's
//! group commit waits for its fsync, so tests can look at everything in flight.

use std::sync::Mutex;

use bytes::Bytes;
use rivet_client::transport::BoxFuture;

use super::memory::MemoryStorage;
use super::{ActorRecord, Commit, KeyRange, Lookup, NewActor, Storage, StorageError};

/// Memory storage whose commits wait until the test releases them, as SQLite's group
/// commit does until its fsync.
#[derive(Debug, Default)]
pub(crate) struct Held {
    pub(crate) inner: MemoryStorage,
    held: Mutex<Vec<Commit>>,
}

impl Held {
    /// Commits every held batch, in order.
    pub(crate) fn release_all(&self) {
        let held = std::mem::take(&mut *crate::sync::lock(&self.held));
        for commit in held {
            self.inner.commit(commit);
        }
    }
}

impl Storage for Held {
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
    ) -> BoxFuture<'a, Result<Option<Bytes>, StorageError>> {
        self.inner.get(storage_id, key)
    }
    fn scan_range<'a>(
        &'a self,
        storage_id: i64,
        range: KeyRange<'a>,
    ) -> BoxFuture<'a, Result<Vec<(Bytes, Bytes)>, StorageError>> {
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
        crate::sync::lock(&self.held).push(commit);
    }
    fn close(&self) -> BoxFuture<'_, Result<(), StorageError>> {
        self.inner.close()
    }
}
