//! A write that storage fails is reported to the caller as an error, never as success, and the
//! actor restarts from what storage holds: nothing it acknowledged is lost, nothing it did not
//! commit is shown. The storage underneath is the real in-memory backend; a wrapper fails
//! commits on demand.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rivet_core::storage::memory::MemoryStorage;
use rivet_core::storage::{Commit, Storage, StorageError};
use rivet_core::{Registry, codes};
use rivet_examples::counter::Counter;
use rivet_tests::{CommitPolicy, KvOutcome, KvStep, Store, TestStorage, Within};

/// Commits fail while `failing` is set, as on a full disk.
#[derive(Debug, Default)]
struct FailWhen {
    failing: AtomicBool,
}

impl CommitPolicy for FailWhen {
    fn commit(&self, inner: &MemoryStorage, commit: Commit) {
        if self.failing.load(Ordering::Acquire) {
            commit.poisoned.store(true, Ordering::Release);
            let full = std::io::Error::from(std::io::ErrorKind::StorageFull);
            (commit.done)(Err(StorageError::backend("commit", full)));
        } else {
            inner.commit(commit);
        }
    }
}

type FailingStorage = TestStorage<FailWhen>;

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
    assert_eq!(counter.increment(1).within().await.unwrap(), 1);

    storage.policy.failing.store(true, Ordering::Release);
    let err = counter.increment(5).within().await.unwrap_err();
    assert!(err.is(codes::INTERNAL_ERROR), "{err}");
    storage.policy.failing.store(false, Ordering::Release);

    // The actor restarted from storage: the acknowledged 1, not the failed 6.
    assert_eq!(counter.get_count().within().await.unwrap(), 1);
    assert_eq!(counter.increment(1).within().await.unwrap(), 2);
}

#[tokio::test]
async fn a_failed_commit_loses_no_acknowledged_kv_entry() {
    let storage = Arc::new(FailingStorage::default());
    let registry = registry(&storage);
    let store = registry.client().get_or_create::<Store>(["disk"]);
    store
        .script(vec![KvStep::Put("kept".into(), "1".into())], false)
        .within()
        .await
        .unwrap();

    storage.policy.failing.store(true, Ordering::Release);
    let err = store
        .script(vec![KvStep::Put("lost".into(), "2".into())], false)
        .within()
        .await
        .unwrap_err();
    assert!(err.is(codes::INTERNAL_ERROR), "{err}");
    storage.policy.failing.store(false, Ordering::Release);

    let got = store
        .script(
            vec![KvStep::Get("kept".into()), KvStep::Get("lost".into())],
            false,
        )
        .within()
        .await
        .unwrap();
    assert_eq!(
        got,
        [KvOutcome::Value(Some("1".into())), KvOutcome::Value(None)]
    );
}
