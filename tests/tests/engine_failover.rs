//! Runner mode when envoys die or leave, against the real Rivet Engine (pinned in
//! `tests/engine`): envoy processes (`src/bin/envoy_server.rs`) serve the actors, a client
//! writes through the engine's gateway, and one envoy is killed (SIGKILL) or stopped (SIGTERM)
//! while the writes go on. The actor continues on the other envoy from the engine's KV, with
//! every acknowledged write there; a queue left partly worked off by a killed envoy (in the
//! middle of a task) is finished on the other, each message processed once.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use rivet_core::prelude::Client;
use rivet_examples::task_worker::{Task, TaskWorker};
use rivet_tests::support::engine::Engine;
use rivet_tests::support::node::check_node;
use rivet_tests::{
    HELD_AFTER, KvOutcome, KvStep, Ledger, ServerProcess, Store, StoreClient, Within, eventually,
    numbered_keys, within_for,
};
use tokio::sync::Semaphore;

/// How long one write may wait while its actor moves: the engine notices a killed envoy after
/// its lost threshold (15 s), then starts the actor elsewhere. A guard, not a synchronisation.
const FAILOVER_GUARD: Duration = Duration::from_secs(90);

async fn envoy(engine: &Engine) -> ServerProcess {
    envoy_with(engine, None).await
}

/// An envoy process, started with `arg` if given.
async fn envoy_with(engine: &Engine, arg: Option<&str>) -> ServerProcess {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_envoy_server"));
    command.env("RIVET_ENDPOINT", &engine.endpoint).args(arg);
    let (process, key) = ServerProcess::spawn_announced(command).await;
    assert!(key.starts_with("rivet-rust-"), "{key}");
    process
}

/// What the writer got acknowledged.
#[derive(Debug, Default)]
struct Acked {
    keys: BTreeSet<u64>,
    rows: BTreeSet<i64>,
}

/// Writes key `k/n` and a ledger row per step, each retried until acknowledged, until `stop`;
/// adds a permit to `acks` per acknowledged step.
async fn write(client: Client, stop: Arc<AtomicBool>, acks: Arc<Semaphore>) -> Acked {
    let store = client.get_or_create::<Store>(["failover"]);
    let ledger = client.get_or_create::<Ledger>(["failover"]);
    let mut acked = Acked::default();
    let started = Instant::now();
    for n in 0u64.. {
        if stop.load(Ordering::Acquire) {
            break;
        }
        loop {
            assert!(
                started.elapsed() < FAILOVER_GUARD * 3,
                "the writes never resumed"
            );
            let put = vec![KvStep::Put(format!("k/{n}"), format!("v{n}"))];
            // An attempt that failed may or may not have been stored: retry the same put.
            if let Ok(Ok(_)) = tokio::time::timeout(FAILOVER_GUARD, store.script(put, false)).await
            {
                break;
            }
        }
        acked.keys.insert(n);
        loop {
            let add = ledger.add(format!("row {n}"), 1);
            if let Ok(Ok(id)) = tokio::time::timeout(FAILOVER_GUARD, add).await {
                acked.rows.insert(id);
                break;
            }
        }
        acks.add_permits(1);
    }
    acked
}

async fn verify(client: &Client, acked: &Acked) {
    let store = client.get_or_create::<Store>(["failover"]);
    let stored = numbered_keys(&store).await;
    let lost: Vec<_> = acked.keys.difference(&stored).collect();
    assert!(lost.is_empty(), "acknowledged keys lost: {lost:?}");
    let ledger = client.get_or_create::<Ledger>(["failover"]);
    let rows: BTreeSet<i64> = ledger
        .entries()
        .within()
        .await
        .expect("rows")
        .iter()
        .map(|e| e.id)
        .collect();
    let lost: Vec<_> = acked.rows.difference(&rows).collect();
    assert!(lost.is_empty(), "acknowledged rows lost: {lost:?}");
    let (total, sum) = ledger.totals().within().await.expect("totals");
    assert_eq!(total, sum, "the state and the database disagree");
}

/// Runs the writer on an actor hosted by a first envoy, starts a second, ends the first with
/// `end` after some acknowledged writes, and checks that the writes go on (on the second) and
/// that none acknowledged was lost. Returns how long the writes paused.
async fn fail_over(end: impl AsyncFnOnce(&mut ServerProcess)) -> Duration {
    check_node().await;
    let engine = Engine::start().await;
    let mut first = envoy(&engine).await;
    let client = Client::new(engine.endpoint.clone());
    let stop = Arc::new(AtomicBool::new(false));
    let acks = Arc::new(Semaphore::new(0));
    let writer = tokio::spawn(write(client.clone(), Arc::clone(&stop), Arc::clone(&acks)));
    // The actors start on the only envoy there is.
    acks.acquire_many(10).within().await.expect("open").forget();
    let _second = envoy(&engine).await;
    acks.acquire_many(5).within().await.expect("open").forget();
    let ended = Instant::now();
    end(&mut first).await;
    // Writes acknowledged after the end went to the second envoy: the first is gone.
    tokio::time::timeout(FAILOVER_GUARD, acks.acquire_many(1))
        .await
        .expect("the writes resumed")
        .expect("open")
        .forget();
    let paused = ended.elapsed();
    acks.acquire_many(10).within().await.expect("open").forget();
    stop.store(true, Ordering::Release);
    let acked = writer.within().await.expect("writer");
    verify(&client, &acked).await;
    paused
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_envoys_actors_continue_on_another_without_losing_acknowledged_writes() {
    let paused = fail_over(async |envoy: &mut ServerProcess| envoy.kill()).await;
    eprintln!("writes resumed {paused:?} after the kill");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_envoy_hands_its_actors_over_without_losing_acknowledged_writes() {
    let paused = fail_over(async |envoy: &mut ServerProcess| {
        assert!(
            envoy.terminate().await,
            "the envoy exits cleanly on SIGTERM"
        );
    })
    .await;
    eprintln!("writes resumed {paused:?} after SIGTERM");
}

/// Tasks queued for the worker of the queue test; the first envoy finishes
/// [`HELD_AFTER`] of them.
const TASKS: u64 = 300;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_envoys_queue_is_worked_off_elsewhere_each_message_once() {
    check_node().await;
    let engine = Engine::start().await;
    let client = Client::new(engine.endpoint.clone());
    let worker = client.get_or_create::<TaskWorker>(["failover-queue"]);
    // The queue is filled by an envoy whose `taskWorker` has no workflow, so it waits there
    // whatever the speed of the worker; every send is acknowledged, so stored.
    let mut filler = envoy_with(&engine, Some("backlog")).await;
    // Created first: 600 concurrent creations of one key race in the engine (see
    // `codes::engine::DESTROYED_DURING_CREATION`).
    worker.resolve().within().await.expect("created");
    // 600 sends through the engine, 16 at a time (all at once overload a 2-core machine's engine
    // into `pegboard.route_subscribe_timeout`, and a failed send may or may not be queued); they
    // take seconds, more when the other failover tests share the machine: a longer guard than
    // `within`'s.
    let sends = futures_util::stream::iter(1..=TASKS)
        .map(|id| worker.send_tasks(Task { id, amount: id }).into_future())
        .buffer_unordered(16)
        .collect::<Vec<_>>();
    for sent in within_for(FAILOVER_GUARD, sends).await {
        sent.expect("queued");
    }
    assert!(filler.terminate().await, "the filler stops cleanly");
    // The worker wakes on the first envoy, the only one, works off `HELD_AFTER` tasks and
    // holds in the step of the next (see `TaskHeld`): the kill leaves work, and a taken task in
    // its step, on a machine of any speed.
    let mut first = envoy_with(&engine, Some("held")).await;
    eventually(|| {
        let call = worker.get_processed();
        async move { call.await.ok().filter(|n| *n == HELD_AFTER) }
    })
    .await;
    let _second = envoy(&engine).await;
    let before = worker.get_processed().within().await.expect("processed");
    first.kill();
    assert_eq!(before, HELD_AFTER, "the held worker went on");
    // The worker continues on the second envoy from the engine's KV: every task processed,
    // none twice (the total would be off).
    let started = Instant::now();
    let processed = loop {
        assert!(
            started.elapsed() < FAILOVER_GUARD * 2,
            "the queue was never worked off"
        );
        match tokio::time::timeout(FAILOVER_GUARD, worker.get_processed()).await {
            Ok(Ok(n)) if n >= TASKS => break n,
            Ok(Ok(_)) => tokio::task::yield_now().await,
            Ok(Err(_)) | Err(_) => {}
        }
    };
    assert_eq!(processed, TASKS);
    let total = worker.get_total().within().await.expect("total");
    assert_eq!(
        total,
        TASKS * (TASKS + 1) / 2,
        "a task was processed twice or lost"
    );
    eprintln!("killed after {before} of {TASKS} tasks; all processed once on the other envoy");
}

/// Keys written by each batch of the atomicity test, and the size of each value: together more
/// than one engine request carries, with a delete, so each batch goes through the journal.
const BATCH_KEYS: usize = 120;
const BATCH_VALUE: usize = 24 * 1024;

/// Batch `n`: every `big/i` set to a value naming `n`, `mark/{n - 1}` deleted, `mark/n` set.
fn batch(n: u64) -> Vec<KvStep> {
    let mut steps: Vec<KvStep> = (0..BATCH_KEYS)
        .map(|i| {
            KvStep::Put(
                format!("big/{i:03}"),
                format!("{n}:{}", "x".repeat(BATCH_VALUE)),
            )
        })
        .collect();
    if n > 0 {
        steps.push(KvStep::Delete(format!("mark/{}", n - 1)));
    }
    steps.push(KvStep::Put(format!("mark/{n}"), n.to_string()));
    steps
}

/// The atomicity test's keys as the engine stores them, read without the actor.
struct RawState {
    /// The batch numbers found in the `big/` keys.
    versions: BTreeSet<String>,
    /// Whether a committed journal (its head) is there.
    journal_head: bool,
}

/// One key of an actor's KV as the engine stores it, read through the engine's API without the
/// actor.
async fn raw_get(
    http: &reqwest::Client,
    engine: &Engine,
    actor_id: &str,
    key: &[u8],
) -> Option<String> {
    use base64::Engine as _;
    let key = base64::engine::general_purpose::STANDARD.encode(key);
    let url = format!(
        "{}/actors/{actor_id}/kv/keys/{}?namespace=default",
        engine.endpoint,
        key.replace('/', "%2F")
            .replace('+', "%2B")
            .replace('=', "%3D")
    );
    let response = http.get(url).send().within().await.expect("kv get");
    let status = response.status();
    let body = response.bytes().within().await.expect("body");
    // A missing key: 400 `actor.kv_key_not_found` (engine 2.3.19).
    if status == 404 || (status == 400 && body.windows(16).any(|w| w == b"kv_key_not_found")) {
        return None;
    }
    assert!(
        status.is_success(),
        "{status}: {}",
        String::from_utf8_lossy(&body)
    );
    let body: serde_json::Value = serde_json::from_slice(&body).expect("json");
    let value = base64::engine::general_purpose::STANDARD
        .decode(body["value"].as_str()?)
        .expect("base64");
    Some(String::from_utf8_lossy(&value).into_owned())
}

/// The stored key of `cx.kv()` key `big/{i}` (user keys are stored under the prefix 4,
/// rivet-core/src/storage/keys.rs).
fn big_key(i: usize) -> Vec<u8> {
    [&[4u8][..], format!("big/{i:03}").as_bytes()].concat()
}

/// The batch number a stored `big/` value names.
fn version_of(value: Option<String>) -> Option<String> {
    value.map(|v| v.split(':').next().unwrap_or_default().to_owned())
}

async fn raw_state(engine: &Engine, actor_id: &str) -> RawState {
    let http = rivet_tests::support::net::http();
    let mut versions = BTreeSet::new();
    for i in 0..BATCH_KEYS {
        if let Some(version) = version_of(raw_get(&http, engine, actor_id, &big_key(i)).await) {
            versions.insert(version);
        }
    }
    // The journal's head (rivet-core/src/envoy/journal.rs).
    let journal_head = raw_get(&http, engine, actor_id, &[0xf0, 0]).await.is_some();
    RawState {
        versions,
        journal_head,
    }
}

/// Reads the atomicity test's keys through the actor (once it is back) and checks that they
/// hold one whole batch, one between the last acknowledged and the last attempted.
async fn assert_one_batch(store: &StoreClient, acked: u64, attempted: u64) {
    let reads = vec![
        KvStep::List("big/".into(), None, false),
        KvStep::List("mark/".into(), None, false),
    ];
    let started = Instant::now();
    let read = loop {
        assert!(
            started.elapsed() < FAILOVER_GUARD * 2,
            "the actor never came back"
        );
        if let Ok(Ok(read)) =
            tokio::time::timeout(FAILOVER_GUARD, store.script(reads.clone(), false)).await
        {
            break read;
        }
    };
    let [KvOutcome::Entries(big), KvOutcome::Entries(marks)] = &read[..] else {
        panic!("{read:?}");
    };
    assert_eq!(big.len(), BATCH_KEYS, "a batch's keys are missing");
    let versions: BTreeSet<&str> = big
        .iter()
        .map(|(_, v)| v.split(':').next().unwrap_or_default())
        .collect();
    assert_eq!(versions.len(), 1, "keys of different batches: {versions:?}");
    let version: u64 = versions
        .first()
        .and_then(|v| v.parse().ok())
        .expect("a version");
    assert_eq!(
        marks,
        &[(format!("mark/{version}"), version.to_string())],
        "the marks disagree with the keys"
    );
    assert!(
        (acked..=attempted).contains(&version),
        "batch {version} stored; last acknowledged {acked}, last attempted {attempted}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_larger_than_one_engine_request_is_whole_or_absent_after_a_kill() {
    check_node().await;
    let engine = Engine::start().await;
    let mut first = envoy(&engine).await;
    let client = Client::new(engine.endpoint.clone());
    let store = client.get_or_create::<Store>(["atomic"]);
    // Placed on the first envoy, the only one yet.
    store.turns().within().await.expect("turns");
    let id = store.resolve().within().await.expect("id");
    let stop = Arc::new(AtomicBool::new(false));
    let acks = Arc::new(Semaphore::new(0));
    // Batches back to back, each retried until acknowledged, until the kill: one is always in
    // flight, most of the time in the middle of its engine requests.
    let writer = {
        let (store, stop, acks) = (store.clone(), Arc::clone(&stop), Arc::clone(&acks));
        tokio::spawn(async move {
            let mut acked = None;
            let mut n = 0;
            while !stop.load(Ordering::Acquire) {
                if store.script(batch(n), false).await.is_ok() {
                    acked = Some(n);
                    n += 1;
                    acks.add_permits(1);
                }
            }
            (acked, n)
        })
    };
    let _second = envoy(&engine).await;
    // Megabyte turns are slow when the other failover tests share the machine: the failover
    // bound, not `within`'s.
    within_for(FAILOVER_GUARD, acks.acquire_many(2))
        .await
        .expect("open")
        .forget();
    // Kill the envoy once a batch is seen in the middle of being applied: its first key holds
    // the new batch, its last one the old (progress, not a delay; each look is two requests).
    let http = rivet_tests::support::net::http();
    within_for(FAILOVER_GUARD, async {
        loop {
            let first = version_of(raw_get(&http, &engine, &id, &big_key(0)).await);
            let last = version_of(raw_get(&http, &engine, &id, &big_key(BATCH_KEYS - 1)).await);
            if first != last {
                break;
            }
        }
    })
    .await;
    stop.store(true, Ordering::Release);
    first.kill();
    // Before the engine notices (its lost threshold is 15 s), read what the killed envoy left in
    // the actor's KV, through the engine's API: a batch half applied must be covered by a
    // committed journal (its head), which the next wake replays.
    let raw = raw_state(&engine, &id).await;
    eprintln!(
        "left by the kill: batches {:?} in the keys, journal head {}",
        raw.versions, raw.journal_head
    );
    assert!(
        raw.versions.len() <= 1 || raw.journal_head,
        "a batch half written without a committed journal: {:?}",
        raw.versions
    );
    let (acked, attempted) = tokio::time::timeout(FAILOVER_GUARD * 2, writer)
        .await
        .expect("the writer ended")
        .expect("writer");
    let acked = acked.expect("acknowledged batches");
    assert_one_batch(&store, acked, attempted).await;
}
