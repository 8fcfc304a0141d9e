//! A write that storage fails is reported to the caller as an error, never as success, and the
//! actor restarts from what storage holds: nothing it acknowledged is lost, nothing it did not
//! commit is shown. The storage underneath is the real in-memory backend; a wrapper fails
//! commits on demand.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rivet_core::client::transport::BoxFuture;
use rivet_core::storage::memory::MemoryStorage;
use rivet_core::storage::{ActorRecord, Commit, KeyRange, Lookup, NewActor, Storage, StorageError};
use rivet_core::{Registry, codes};
use rivet_examples::counter::Counter;
use rivet_tests::{KvOutcome, KvStep, Store};

/// Memory storage whose commits fail while `failing` is set, as a full disk would.
#[derive(Debug, Default)]
struct FailingStorage {
    inner: MemoryStorage,
    failing: AtomicBool,
}

impl Storage for FailingStorage {
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
        if self.failing.load(Ordering::Acquire) {
            commit.poisoned.store(true, Ordering::Release);
            (commit.done)(Err(StorageError::Backend("No space left on device".into())));
        } else {
            self.inner.commit(commit);
        }
    }
    fn close(&self) -> BoxFuture<'_, Result<(), StorageError>> {
        self.inner.close()
    }
}

fn registry(storage: &Arc<FailingStorage>) -> Registry {
    rivet_examples::registry()
        .with::<Store>()
        .storage(Arc::clone(storage) as Arc<dyn Storage>)
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_failed_commit_is_an_error_and_nothing_uncommitted_is_shown() {
    let storage = Arc::new(FailingStorage::default());
    let registry = registry(&storage);
    let counter = registry.client().get_or_create::<Counter>(["disk"]);
    assert_eq!(counter.increment(1).await.unwrap(), 1);

    storage.failing.store(true, Ordering::Release);
    let err = counter.increment(5).await.unwrap_err();
    assert!(err.is(codes::INTERNAL_ERROR), "{err}");
    storage.failing.store(false, Ordering::Release);

    // The actor restarted from storage: the acknowledged 1, not the failed 6.
    assert_eq!(counter.get_count().await.unwrap(), 1);
    assert_eq!(counter.increment(1).await.unwrap(), 2);
}

#[tokio::test]
async fn a_failed_commit_loses_no_acknowledged_kv_entry() {
    let storage = Arc::new(FailingStorage::default());
    let registry = registry(&storage);
    let store = registry.client().get_or_create::<Store>(["disk"]);
    store
        .script(vec![KvStep::Put("kept".into(), "1".into())], false)
        .await
        .unwrap();

    storage.failing.store(true, Ordering::Release);
    let err = store
        .script(vec![KvStep::Put("lost".into(), "2".into())], false)
        .await
        .unwrap_err();
    assert!(err.is(codes::INTERNAL_ERROR), "{err}");
    storage.failing.store(false, Ordering::Release);

    let got = store
        .script(
            vec![KvStep::Get("kept".into()), KvStep::Get("lost".into())],
            false,
        )
        .await
        .unwrap();
    assert_eq!(
        got,
        [KvOutcome::Value(Some("1".into())), KvOutcome::Value(None)]
    );
}
