//! `cx.kv()`: reads see the turn's own writes and earlier turns' writes still being committed;
//! writes commit with the turn or not at all; listings merge all of it correctly with limits
//! and in reverse; limits give clear errors; everything survives a restart.

use std::collections::BTreeMap;

use futures_util::future::join_all;
use rivet_core::Registry;
use rivet_tests::{KvOutcome, KvStep, Store, StoreClient, Within};

fn sqlite_registry(dir: &std::path::Path) -> Registry {
    rivet_examples::registry()
        .with::<Store>()
        .data_dir(dir)
        .build()
        .expect("registry")
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
            KvStep::List(prefix, limit, reverse) => {
                let matching = model.iter().filter(|(k, _)| k.starts_with(prefix.as_str()));
                let entries: Vec<(String, String)> = if *reverse {
                    matching
                        .rev()
                        .take(limit.unwrap_or(usize::MAX))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                } else {
                    matching
                        .take(limit.unwrap_or(usize::MAX))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                };
                KvOutcome::Entries(entries)
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

    fn step(&mut self) -> KvStep {
        match self.next(10) {
            0..=3 => KvStep::Put(self.key(), format!("v{}", self.next(1000))),
            4 => KvStep::Delete(self.key()),
            5 | 6 => KvStep::Get(self.key()),
            7 | 8 => {
                let prefix = ["", "a/", "b/1", "c/"][self.next(4) as usize].to_owned();
                let limit = [None, Some(1), Some(3), Some(5)][self.next(4) as usize];
                KvStep::List(prefix, limit, self.next(2) == 1)
            }
            _ => {
                let (a, b) = (self.key(), self.key());
                KvStep::DeleteRange(a.clone().min(b.clone()), a.max(b))
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
}

#[tokio::test]
async fn destroy_removes_the_kv_entries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let registry = sqlite_registry(dir.path());
    let mut events = registry.lifecycle_events();
    let client = registry.client();
    let store = client.get_or_create::<Store>(["gone"]);
    store
        .script(vec![KvStep::Put("k".into(), "v".into())], false)
        .within()
        .await
        .unwrap();
    let id = store.resolve().within().await.unwrap();
    store.destroy_me().within().await.unwrap();
    rivet_tests::wait_for(&mut events, &id, rivet_core::LifecycleKind::Destroyed).await;
    let fresh = client.get_or_create::<Store>(["gone"]);
    let got = fresh
        .script(vec![KvStep::Get("k".into())], false)
        .within()
        .await
        .unwrap();
    assert_eq!(got, [KvOutcome::Value(None)]);
}
