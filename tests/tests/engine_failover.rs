//! Runner mode when envoys die or leave, against the real Rivet Engine (pinned in
//! `tests/engine`): envoy processes (`src/bin/envoy_server.rs`) serve the actors, a client
//! writes through the engine's gateway, and one envoy is killed (SIGKILL) or stopped (SIGTERM)
//! while the writes go on. The actor continues on the other envoy from the engine's KV, with
//! every acknowledged write there; a queue left half worked off by a killed envoy is finished
//! on the other, each message processed once.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use rivet_core::prelude::Client;
use rivet_examples::task_worker::{Task, TaskWorker};
use rivet_tests::support::engine::Engine;
use rivet_tests::support::node::check_node;
use rivet_tests::{KvOutcome, KvStep, Ledger, ServerProcess, Store, Within, eventually};
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
    let listed = store
        .script(vec![KvStep::List("k/".into(), None, false)], false)
        .within()
        .await
        .expect("list");
    let [KvOutcome::Entries(entries)] = &listed[..] else {
        panic!("{listed:?}");
    };
    let stored: BTreeSet<u64> = entries
        .iter()
        .filter_map(|(k, v)| {
            let n: u64 = k.strip_prefix("k/")?.parse().ok()?;
            (v == &format!("v{n}")).then_some(n)
        })
        .collect();
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

/// Tasks queued for the worker of the queue test.
const TASKS: u64 = 600;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_envoys_queue_is_worked_off_elsewhere_each_message_once() {
    check_node().await;
    let engine = Engine::start().await;
    let client = Client::new(engine.endpoint.clone());
    let worker = client.get_or_create::<TaskWorker>(["failover-queue"]);
    // The queue is filled by an envoy whose `taskWorker` has no workflow, so it waits there
    // whatever the speed of the worker; every send is acknowledged, so stored.
    let mut filler = envoy_with(&engine, Some("backlog")).await;
    let sends = (1..=TASKS).map(|id| worker.send_tasks(Task { id, amount: id }).into_future());
    for sent in join_all(sends).within().await {
        sent.expect("queued");
    }
    assert!(filler.terminate().await, "the filler stops cleanly");
    // The real worker wakes on the first envoy, the only one, and starts on the backlog.
    let mut first = envoy(&engine).await;
    eventually(|| {
        let call = worker.get_processed();
        async move { call.await.ok().filter(|n| *n > 0) }
    })
    .await;
    let _second = envoy(&engine).await;
    let before = worker.get_processed().within().await.expect("processed");
    first.kill();
    assert!(
        before < TASKS,
        "the queue was worked off before the kill, so the test proved nothing"
    );
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
