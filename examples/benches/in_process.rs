//! In-process call round trips against a plain tokio mpsc + oneshot round trip (the baseline),
//! with in-memory and durable storage, and durable throughput across 100 actors.
//!
//! This machine is a small shared VM whose speed drifts by several times between minutes, so
//! figures from benchmarks run one after another are not comparable. Instead every round runs a
//! block of each variant back to back, and the report gives the median over rounds of each
//! variant and of its ratio to the baseline of the same round.
//!
//! Run: `cargo bench -p rivet-examples --bench in_process` (add `-- --quick` for a short run).
#![allow(missing_docs, clippy::unwrap_used, clippy::print_stdout)]

use std::future::Future;
use std::time::{Duration, Instant};

use rivet_core::Registry;
use rivet_examples::counter::Counter;
use tokio::runtime::Runtime;
use tokio::sync::{mpsc, oneshot};

type Baseline = mpsc::UnboundedSender<(i64, oneshot::Sender<i64>)>;

/// The baseline: a task that owns a counter and answers over a oneshot.
fn spawn_channel_actor(rt: &Runtime) -> Baseline {
    let (tx, mut rx) = mpsc::unbounded_channel::<(i64, oneshot::Sender<i64>)>();
    rt.spawn(async move {
        let mut count = 0i64;
        while let Some((amount, reply)) = rx.recv().await {
            count += amount;
            let _ = reply.send(count);
        }
    });
    tx
}

async fn baseline_call(tx: &Baseline) -> i64 {
    let (reply, rx) = oneshot::channel();
    tx.send((1, reply)).unwrap();
    rx.await.unwrap()
}

/// Mean nanoseconds per call of `ops` sequential calls.
async fn time_block<F, Fut>(ops: usize, mut call: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: Future,
{
    let start = Instant::now();
    for _ in 0..ops {
        std::hint::black_box(call().await);
    }
    start.elapsed().as_nanos() as f64 / ops as f64
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn report(name: &str, samples: &mut [f64], ratios: Option<&mut [f64]>) {
    let p10 = {
        let mut v = samples.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 10]
    };
    let p90 = {
        let mut v = samples.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() * 9 / 10]
    };
    let med = median(samples);
    match ratios {
        Some(ratios) => println!(
            "  {name:<28} {:>9.2} us/op  (p10 {:.2}, p90 {:.2})  ratio to baseline {:.2}x",
            med / 1000.0,
            p10 / 1000.0,
            p90 / 1000.0,
            median(ratios)
        ),
        None => println!(
            "  {name:<28} {:>9.2} us/op  (p10 {:.2}, p90 {:.2})",
            med / 1000.0,
            p10 / 1000.0,
            p90 / 1000.0
        ),
    }
}

fn roundtrips(rt: &Runtime, label: &str, rounds: usize, ops: usize) {
    println!("round trips, {label} runtime ({rounds} rounds of {ops} calls per variant)");
    let baseline = spawn_channel_actor(rt);
    let dir = tempfile::tempdir().unwrap();
    let (memory, durable) = rt.block_on(async {
        (
            rivet_examples::registry().in_memory().build().unwrap(),
            rivet_examples::registry()
                .data_dir(dir.path())
                .build()
                .unwrap(),
        )
    });
    let mem = memory.client().get_or_create::<Counter>(["bench"]);
    let disk = durable.client().get_or_create::<Counter>(["bench"]);
    let durable_ops = (ops / 20).max(10);
    let mut base = Vec::new();
    let mut columns: Vec<(&str, Vec<f64>, Vec<f64>)> = vec![
        ("in-memory increment", vec![], vec![]),
        ("in-memory getCount", vec![], vec![]),
        ("durable getCount", vec![], vec![]),
        ("durable increment", vec![], vec![]),
    ];
    rt.block_on(async {
        // Warm up: wake the actors and fill caches.
        for _ in 0..200 {
            baseline_call(&baseline).await;
            mem.increment(1).await.unwrap();
            disk.get_count().await.unwrap();
        }
        disk.increment(1).await.unwrap();
        for _ in 0..rounds {
            let b = time_block(ops, || baseline_call(&baseline)).await;
            let samples = [
                time_block(ops, || async { mem.increment(1).await.unwrap() }).await,
                time_block(ops, || async { mem.get_count().await.unwrap() }).await,
                time_block(ops, || async { disk.get_count().await.unwrap() }).await,
                time_block(durable_ops, || async { disk.increment(1).await.unwrap() }).await,
            ];
            base.push(b);
            for ((_, values, ratios), sample) in columns.iter_mut().zip(samples) {
                values.push(sample);
                ratios.push(sample / b);
            }
        }
        memory.shutdown().await;
        durable.shutdown().await;
    });
    report("tokio mpsc+oneshot baseline", &mut base, None);
    for (name, values, ratios) in &mut columns {
        report(name, values, Some(ratios));
    }
}

/// Runs `per_actor` increments on each of `actors` actors with `depth` calls in flight per actor;
/// returns actions per second.
async fn spread(registry: &Registry, actors: usize, depth: usize, per_actor: usize) -> f64 {
    let client = registry.client();
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(actors * depth);
    for a in 0..actors {
        for _ in 0..depth {
            let counter = client.get::<Counter>([format!("spread-{a}")]);
            tasks.push(tokio::spawn(async move {
                for _ in 0..per_actor / depth {
                    counter.increment(1).await.unwrap();
                }
            }));
        }
    }
    for task in tasks {
        task.await.unwrap();
    }
    (actors * per_actor) as f64 / start.elapsed().as_secs_f64()
}

fn throughput(rt: &Runtime, rounds: usize) {
    const ACTORS: usize = 100;
    const PER_ACTOR: usize = 200;
    println!(
        "durable throughput, {ACTORS} actors, {PER_ACTOR} increments each, power-loss durability (synchronous=FULL), {rounds} rounds"
    );
    let dir = tempfile::tempdir().unwrap();
    let registry = rt.block_on(async {
        rivet_examples::registry()
            .data_dir(dir.path())
            .build()
            .unwrap()
    });
    rt.block_on(async {
        for a in 0..ACTORS {
            registry
                .client()
                .get_or_create::<Counter>([format!("spread-{a}")])
                .increment(0)
                .await
                .unwrap();
        }
        for depth in [1usize, 4] {
            let mut rates = Vec::new();
            for _ in 0..rounds {
                rates.push(spread(&registry, ACTORS, depth, PER_ACTOR).await);
            }
            rates.sort_by(f64::total_cmp);
            println!(
                "  {depth} in flight per actor: median {:>9.0} actions/s  (min {:.0}, max {:.0})",
                rates[rates.len() / 2],
                rates[0],
                rates[rates.len() - 1]
            );
        }
        registry.shutdown().await;
    });
}

/// `--profile`: only in-memory increments on a current-thread runtime, for a profiler.
fn profile() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let registry = rivet_examples::registry().in_memory().build().unwrap();
        let counter = registry.client().get_or_create::<Counter>(["profile"]);
        let ops = std::env::var("PROFILE_OPS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(2_000_000);
        let ns = time_block(ops, || async { counter.increment(1).await.unwrap() }).await;
        println!("in-memory increment: {ns:.0} ns/op");
    });
}

fn main() {
    if std::env::args().any(|a| a == "--profile") {
        return profile();
    }
    if std::env::args().any(|a| a == "--profile-baseline") {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let tx = spawn_channel_actor(&rt);
        let ns = rt.block_on(time_block(5_000_000, || baseline_call(&tx)));
        println!("baseline: {ns:.0} ns/op");
        return;
    }
    let quick = std::env::args().any(|a| a == "--quick");
    let (rounds, ops) = if quick { (5, 500) } else { (31, 2000) };
    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    roundtrips(&multi, "multi-thread (2 workers)", rounds, ops);
    drop(multi);
    let single = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    roundtrips(&single, "current-thread", rounds, ops);
    drop(single);
    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    throughput(&multi, if quick { 3 } else { 9 });
    let _ = Duration::ZERO;
}
