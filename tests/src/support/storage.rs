//! Test storage: the real in-memory backend with its commits handed to a policy that can hold
//! or fail them.

use rivet_core::client::transport::BoxFuture;
use rivet_core::storage::memory::MemoryStorage;
use rivet_core::storage::{ActorRecord, Commit, KeyRange, Lookup, NewActor, Storage, StorageError};

/// What a [`TestStorage`] does with each commit: pass it to the real in-memory backend
/// underneath, hold it, fail it...
pub trait CommitPolicy: Send + Sync + std::fmt::Debug + 'static {
    /// Handles one commit; `inner` is the backend that applies it.
    fn commit(&self, inner: &MemoryStorage, commit: Commit);
}

/// The real in-memory storage with its commits handed to a [`CommitPolicy`], for tests that
/// need to watch or break the write path. Everything else goes straight to the backend.
#[derive(Debug, Default)]
pub struct TestStorage<P> {
    /// The backend underneath.
    pub inner: MemoryStorage,
    /// What happens to commits.
    pub policy: P,
}

impl<P: CommitPolicy> Storage for TestStorage<P> {
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
        range: KeyRange<'a>,
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
        self.policy.commit(&self.inner, commit);
    }
    fn close(&self) -> BoxFuture<'_, Result<(), StorageError>> {
        self.inner.close()
    }
}
