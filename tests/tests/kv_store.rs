//! `cx.kv()`: reads see the turn's own writes and earlier turns' writes still being committed;
//! writes commit with the turn or not at all; listings merge all of it correctly with limits
//! and in reverse; limits give clear errors; everything survives a restart.

use std::collections::BTreeMap;

use futures_util::future::join_all;
use std::sync::Arc;

use rivet_core::storage::sqlite::{SqliteOptions, SqliteStorage};
use rivet_core::storage::{KeyRange, Lookup, Storage};
use rivet_core::{LifecycleKind, Registry};
use rivet_tests::{
    Backend, KvOutcome, KvStep, Store, StoreClient, Within, on_each_backend, test_actors, wait_for,
};

fn sqlite_registry(dir: &std::path::Path) -> Registry {
    test_actors().data_dir(dir).build().expect("registry")
}

/// What the steps should return, applied to a model of the store.
fn expected(model: &mut BTreeMap<String, String>, steps: &[KvStep]) -> Vec<KvOutcome> {
    steps
        .iter()
        .map(|step| match step {
            KvStep::Put(k, v) => {
                model.insert(k.clone(), v.clone());
                KvOutcome::Done
            }
            KvStep::Delete(k) => {
                model.remove(k);
                KvOutcome::Done
            }
            KvStep::Get(k) => KvOutcome::Value(model.get(k).cloned()),
            KvStep::List(prefix, limit, reverse) => listed(
                model.iter().filter(|(k, _)| k.starts_with(prefix.as_str())),
                *limit,
                *reverse,
            ),
            KvStep::ListRange(start, end, limit, reverse) => {
                listed(model.range(start.clone()..end.clone()), *limit, *reverse)
            }
            KvStep::GetBatch(keys) => {
                KvOutcome::Values(keys.iter().map(|k| model.get(k).cloned()).collect())
            }
            KvStep::DeleteBatch(keys) => {
                for k in keys {
                    model.remove(k);
                }
                KvOutcome::Done
            }
            KvStep::DeleteRange(start, end) => {
                let doomed: Vec<String> = model
                    .range(start.clone()..end.clone())
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in &doomed {
                    model.remove(k);
                }
                KvOutcome::Removed(doomed.len())
            }
        })
        .collect()
}

/// A listing of the model: `limit` entries at most, highest keys first when `reverse`.
fn listed<'a>(
    matching: impl DoubleEndedIterator<Item = (&'a String, &'a String)>,
    limit: Option<usize>,
    reverse: bool,
) -> KvOutcome {
    let matching: Box<dyn Iterator<Item = (&String, &String)>> = if reverse {
        Box::new(matching.rev())
    } else {
        Box::new(matching)
    };
    KvOutcome::Entries(
        matching
            .take(limit.unwrap_or(usize::MAX))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )
}

/// A small deterministic generator (no dependency, reproducible from the seed).
struct Rng(u64);

impl Rng {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }

    fn key(&mut self) -> String {
        format!(
            "{}/{}",
            ["a", "b", "c"][self.next(3) as usize],
            self.next(12)
        )
    }

    fn keys(&mut self, most: u64) -> Vec<String> {
        (0..self.next(most) + 1).map(|_| self.key()).collect()
    }

    fn limit(&mut self) -> Option<usize> {
        [None, Some(1), Some(3), Some(5)][self.next(4) as usize]
    }

    fn step(&mut self) -> KvStep {
        match self.next(13) {
            0..=3 => KvStep::Put(self.key(), format!("v{}", self.next(1000))),
            4 => KvStep::Delete(self.key()),
            5 | 6 => KvStep::Get(self.key()),
            7 | 8 => {
                let prefix = ["", "a/", "b/1", "c/"][self.next(4) as usize].to_owned();
                let limit = self.limit();
                KvStep::List(prefix, limit, self.next(2) == 1)
            }
            9 => {
                let (a, b) = (self.key(), self.key());
                KvStep::DeleteRange(a.clone().min(b.clone()), a.max(b))
            }
            10 => KvStep::GetBatch(self.keys(4)),
            11 => KvStep::DeleteBatch(self.keys(3)),
            _ => {
                let (a, b) = (self.key(), self.key());
                let limit = self.limit();
                KvStep::ListRange(a.clone().min(b.clone()), a.max(b), limit, self.next(2) == 1)
            }
        }
    }
}

/// Runs rounds of pipelined scripts (so later turns read writes still being committed), some
/// failing, and checks every outcome against the model.
async fn against_the_model(store: &StoreClient, seed: u64) -> BTreeMap<String, String> {
    let mut rng = Rng(seed);
    let mut model = BTreeMap::new();
    // Calls that race to wake an actor are not ordered among themselves; calls to an awake
    // actor enter its mailbox in the order they are made.
    store.turns().within().await.expect("wake");
    for round in 0..40 {
        let scripts: Vec<(Vec<KvStep>, bool)> = (0..4)
            .map(|_| {
                (
                    (0..rng.next(6) + 1).map(|_| rng.step()).collect(),
                    rng.next(5) == 0,
                )
            })
            .collect();
        let calls = scripts
            .iter()
            .map(|(steps, fail)| store.script(steps.clone(), *fail));
        let results = join_all(calls).within().await;
        for ((steps, fail), result) in scripts.iter().zip(results) {
            if *fail {
                let err = result.expect_err("the script fails");
                assert_eq!(err.code, "failed");
                // Nothing of a failed turn sticks: the model stays as it was.
            } else {
                let want = expected(&mut model, steps);
                assert_eq!(
                    result.expect("script"),
                    want,
                    "round {round}, steps {steps:?}"
                );
            }
        }
    }
    model
}

#[tokio::test]
async fn kv_matches_a_model_in_memory() {
    let registry = rivet_tests::memory_registry();
    let store = registry.client().get_or_create::<Store>(["model"]);
    against_the_model(&store, 7).await;
}

#[tokio::test]
async fn kv_matches_a_model_on_sqlite_and_survives_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let model = {
        let registry = sqlite_registry(dir.path());
        let store = registry.client().get_or_create::<Store>(["model"]);
        let model = against_the_model(&store, 11).await;
        registry.shutdown().within().await;
        model
    };
    let registry = sqlite_registry(dir.path());
    let store = registry.client().get_or_create::<Store>(["model"]);
    let listed = store
        .script(vec![KvStep::List(String::new(), None, false)], false)
        .within()
        .await
        .unwrap();
    let want: Vec<(String, String)> = model.into_iter().collect();
    assert_eq!(listed, [KvOutcome::Entries(want)]);
    assert!(store.turns().within().await.unwrap() > 100);
    registry.shutdown().within().await;
}

#[tokio::test]
async fn limits_give_clear_errors_and_write_nothing() {
    use rivet_core::kv::{MAX_BATCH_KEYS, MAX_KEY_SIZE, MAX_VALUE_SIZE};
    let registry = rivet_tests::memory_registry();
    let store = registry.client().get_or_create::<Store>(["limits"]);
    store
        .put_sized(MAX_KEY_SIZE, MAX_VALUE_SIZE)
        .within()
        .await
        .unwrap();
    let err = store
        .put_sized(MAX_KEY_SIZE + 1, 1)
        .within()
        .await
        .unwrap_err();
    assert_eq!(
        (err.group.as_str(), err.code.as_str()),
        ("kv", "key_too_large"),
        "{err}"
    );
    let err = store
        .put_sized(1, MAX_VALUE_SIZE + 1)
        .within()
        .await
        .unwrap_err();
    assert_eq!(
        (err.group.as_str(), err.code.as_str()),
        ("kv", "value_too_large"),
        "{err}"
    );
    store.put_many(MAX_BATCH_KEYS).within().await.unwrap();
    let err = store
        .put_many(MAX_BATCH_KEYS + 1)
        .within()
        .await
        .unwrap_err();
    assert_eq!(
        (err.group.as_str(), err.code.as_str()),
        ("kv", "batch_too_large"),
        "{err}"
    );
    let listed = store
        .script(vec![KvStep::List("many/".into(), None, false)], false)
        .within()
        .await
        .unwrap();
    let KvOutcome::Entries(entries) = &listed[0] else {
        panic!("{listed:?}")
    };
    assert_eq!(entries.len(), MAX_BATCH_KEYS);
    // Typed values round-trip as CBOR.
    assert_eq!(
        store
            .typed("t".into(), vec![1, 2, 3])
            .within()
            .await
            .unwrap(),
        Some(vec![1, 2, 3])
    );
    // Typed listing decodes each value; one that is not a `T` is an error, not a panic.
    let listed = store
        .typed_list("tl/".into(), vec![vec![1], vec![2, 3]])
        .within()
        .await
        .unwrap();
    assert_eq!(
        listed,
        [
            ("tl/0".to_owned(), vec![1]),
            ("tl/1".to_owned(), vec![2, 3])
        ]
    );
    let raw = vec![KvStep::Put("tl/raw".into(), "not cbor".into())];
    store.script(raw, false).within().await.unwrap();
    let error = store
        .typed_list("tl/".into(), Vec::new())
        .within()
        .await
        .unwrap_err();
    assert_eq!(error.full_code(), "kv.invalid_value", "{error}");
}

/// The storage `backend` names, opened by the test so that it can read an actor's key space
/// after the runtime is done with it.
fn open_storage(backend: &Backend) -> Arc<dyn Storage> {
    match backend {
        Backend::Memory(storage) => Arc::clone(storage) as _,
        Backend::Sqlite(dir) => {
            Arc::new(SqliteStorage::open(dir.path(), SqliteOptions::default()).expect("open"))
        }
    }
}

/// Destroy empties the actor's whole key space (state, KV entries), not only its record: a
/// fresh actor under the same key gets a new key space, so only the storage itself can show
/// that the old one is gone.
async fn destroy_empties_the_key_space(backend: Backend) {
    let storage = open_storage(&backend);
    let registry = test_actors()
        .storage(storage.clone())
        .build()
        .expect("registry");
    let mut events = registry.lifecycle_events();
    let store = registry.client().get_or_create::<Store>(["gone"]);
    let puts = (0..20).map(|i| KvStep::Put(format!("k/{i}"), "v".into()));
    store.script(puts.collect(), false).within().await.unwrap();
    let id = store.resolve().within().await.unwrap();
    let record = storage
        .lookup(Lookup::Id(&id))
        .within()
        .await
        .expect("lookup")
        .expect("the actor exists");
    let everything = KeyRange {
        start: &[],
        end: None,
        limit: None,
        reverse: false,
    };
    let before = storage
        .scan_range(record.storage_id, everything)
        .within()
        .await;
    assert!(before.expect("scan").len() > 20, "state and 20 KV entries");
    store.destroy_me().within().await.unwrap();
    wait_for(&mut events, &id, LifecycleKind::Destroyed).await;
    let after = storage
        .scan_range(record.storage_id, everything)
        .within()
        .await;
    let after = after.expect("scan");
    assert!(after.is_empty(), "left behind: {after:?}");
    let gone = storage
        .lookup(Lookup::Id(&id))
        .within()
        .await
        .expect("lookup");
    assert!(gone.is_none(), "{gone:?}");
    registry.shutdown().within().await;
}

on_each_backend!(destroy_empties_the_key_space);
