//! Storage and lifecycle figures: durable actions per second on one actor and across 100 (against
//! the same calls on in-memory storage), KV puts and gets per second (against a plain action),
//! wake latency from disk (against a call to an awake actor), and the memory and file handles of
//! awake and sleeping actors from 1,000 to 100,000, counted by a global allocator.
//!
//! Run: `cargo bench -p rivet-examples --bench storage` (add `-- --quick` for a short run, and
//! `actions`, `kv`, `queues`, `workflows`, `wake` or `memory` to run only that part).
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]
// The one unsafe item: a counting global allocator that forwards to the system allocator.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use rivet_core::prelude::*;
use rivet_examples::counter::Counter;

/// Counts live heap bytes.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

fn open_files() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// The actor of the KV figures.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct KvBench;

#[actor(name = "kvBench")]
impl KvBench {
    #[action]
    fn put(&self, cx: &mut Cx<Self>, key: u32) -> Result<(), Error> {
        cx.kv().put(key.to_be_bytes().to_vec(), vec![7u8; 100])
    }

    #[action]
    fn put_many(&self, cx: &mut Cx<Self>, start: u32, n: u32) -> Result<(), Error> {
        cx.kv()
            .put_batch((start..start + n).map(|k| (k.to_be_bytes().to_vec(), vec![7u8; 100])))
    }

    #[action]
    async fn get(&self, cx: &mut Cx<Self>, key: u32) -> Result<bool, Error> {
        Ok(cx.kv().get(key.to_be_bytes()).await?.is_some())
    }

    #[action]
    fn nothing(&self) {}
}

/// The actor of the memory figures: a counter that can be told to sleep.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Sleeper {
    count: i64,
}

#[actor(name = "sleeper")]
impl Sleeper {
    #[action]
    fn touch(&mut self) -> i64 {
        self.count += 1;
        self.count
    }

    #[action]
    fn nap(&self, cx: &mut Cx<Self>) {
        cx.sleep();
    }
}

/// The run-loop side of the queue figures.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Looper {
    total: i64,
}

#[actor(name = "looper")]
impl Looper {
    #[queue]
    fn jobs(n: i64) -> i64;

    #[run]
    async fn run(cx: rivet_core::run::RunCx<Self>) -> Result<(), Error> {
        while let Some(message) = cx.queue().next(rivet_core::run::Next::new()).await? {
            let n: i64 = message.decode()?;
            let total = cx
                .turn(move |state: &mut Self, _| {
                    state.total += n;
                    Ok(state.total)
                })
                .await?;
            message.complete(&total).await?;
        }
        Ok(())
    }
}

/// The workflow side of the queue figures: `loop -> queue.next -> step` (the `taskWorker`
/// example without its simulated millisecond of work).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct FlowWorker {
    total: i64,
}

#[actor(name = "flowWorker")]
impl FlowWorker {
    #[queue]
    fn jobs(n: i64) -> i64;

    #[run]
    async fn run(cx: rivet_core::run::RunCx<Self>) -> Result<(), Error> {
        use rivet_core::workflow::Loop;
        cx.workflow(async move |wf| {
            wf.repeat("jobs", (), async move |wf, ()| {
                let next = rivet_core::run::Next::new();
                let Some(message) = wf.queue().next("job", next).await? else {
                    return Ok(Loop::Continue(()));
                };
                let n: i64 = message.decode()?;
                wf.step("apply", async move |s| {
                    s.update(move |state: &mut FlowWorker, _| {
                        state.total += n;
                        Ok(())
                    });
                    s.complete(&message, &n)?;
                    Ok(())
                })
                .await?;
                Ok(Loop::<(), ()>::Continue(()))
            })
            .await
        })
        .await
    }
}

/// Workflow steps per second: `go(n)` runs `n` recorded steps, ten to a loop iteration, each
/// adding one to the state; answered with `n`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Stepper {
    steps: u64,
}

const STEP_NAMES: [&str; 10] = ["s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9"];

#[actor(name = "stepper")]
impl Stepper {
    #[queue]
    fn go(n: u64) -> u64;

    #[run]
    async fn run(cx: rivet_core::run::RunCx<Self>) -> Result<(), Error> {
        use rivet_core::workflow::Loop;
        cx.workflow(async move |wf| {
            wf.repeat("requests", (), async move |wf, ()| {
                let next = rivet_core::run::Next::new();
                let Some(message) = wf.queue().next("go", next).await? else {
                    return Ok(Loop::Continue(()));
                };
                let n: u64 = message.decode()?;
                wf.repeat("steps", 0u64, async move |wf, done| {
                    if done >= n {
                        return Ok(Loop::Break(()));
                    }
                    for name in STEP_NAMES {
                        wf.step(name, async move |s| {
                            s.update(|state: &mut Stepper, _| {
                                state.steps += 1;
                                Ok(())
                            });
                            Ok(())
                        })
                        .await?;
                    }
                    Ok(Loop::Continue(done + 10))
                })
                .await?;
                wf.step("answer", async move |s| s.complete(&message, &n))
                    .await?;
                Ok(Loop::<(), ()>::Continue(()))
            })
            .await
        })
        .await
    }
}

/// The baseline of the steps figure: a plain `#[run]` loop making the same number of state
/// changes with `RunCx::turn`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Turner {
    steps: u64,
}

#[actor(name = "turner")]
impl Turner {
    #[queue]
    fn go(n: u64) -> u64;

    #[run]
    async fn run(cx: rivet_core::run::RunCx<Self>) -> Result<(), Error> {
        while let Some(message) = cx.queue().next(rivet_core::run::Next::new()).await? {
            let n: u64 = message.decode()?;
            for _ in 0..n {
                cx.turn(|state: &mut Self, _| {
                    state.steps += 1;
                    Ok(())
                })
                .await?;
            }
            message.complete(&n).await?;
        }
        Ok(())
    }
}

fn registry(dir: Option<&std::path::Path>) -> Registry {
    let builder = rivet_examples::registry()
        .with::<KvBench>()
        .with::<Looper>()
        .with::<FlowWorker>()
        .with::<Stepper>()
        .with::<Turner>();
    match dir {
        Some(dir) => builder.data_dir(dir),
        None => builder.in_memory(),
    }
    .build()
    .unwrap()
}

/// Calls per second of `tasks` loops of `per_task` calls each.
async fn rate<F, Fut>(tasks: usize, per_task: usize, call: F) -> f64
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send,
{
    let call = Arc::new(call);
    let start = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let call = Arc::clone(&call);
            tokio::spawn(async move {
                for i in 0..per_task {
                    call(t, i).await;
                }
            })
        })
        .collect();
    for h in handles {
        h.await.unwrap();
    }
    (tasks * per_task) as f64 / start.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The median of the per-round ratios `values[i] / base[i]`: each round measures both
/// back to back, so a slow moment of the machine moves both sides of its ratio.
fn ratio(values: &[f64], base: &[f64]) -> f64 {
    median(values.iter().zip(base).map(|(v, b)| v / b).collect())
}

async fn actions(rounds: usize, scale: usize) {
    let dir = tempfile::tempdir().unwrap();
    let durable = registry(Some(dir.path()));
    let memory = registry(None);
    // (name, in-memory baseline, durable)
    let mut rows: Vec<(&str, Vec<f64>, Vec<f64>)> = vec![
        ("1 actor, 1 call in flight", vec![], vec![]),
        ("1 actor, 16 calls in flight", vec![], vec![]),
        ("100 actors, 4 calls in flight each", vec![], vec![]),
    ];
    for reg in [&durable, &memory] {
        for a in 0..100 {
            reg.client()
                .get_or_create::<Counter>([format!("a{a}")])
                .increment(0)
                .await
                .unwrap();
        }
    }
    for _ in 0..rounds {
        for (i, reg) in [&memory, &durable].into_iter().enumerate() {
            let c = reg.client();
            let one = c.get::<Counter>(["a0"]);
            let seq_calls = if i == 0 { 20 * scale } else { scale };
            let r1 = rate(1, seq_calls, move |_, _| {
                let one = one.clone();
                async move {
                    one.increment(1).await.unwrap();
                }
            })
            .await;
            let one = c.get::<Counter>(["a0"]);
            let r16 = rate(16, scale, move |_, _| {
                let one = one.clone();
                async move {
                    one.increment(1).await.unwrap();
                }
            })
            .await;
            let handles: Arc<Vec<_>> = Arc::new(
                (0..100)
                    .map(|a| c.get::<Counter>([format!("a{a}")]))
                    .collect(),
            );
            let r100 = rate(400, scale / 4 + 1, move |t, _| {
                let h = Arc::clone(&handles);
                async move {
                    h[t % 100].increment(1).await.unwrap();
                }
            })
            .await;
            for (row, r) in rows.iter_mut().zip([r1, r16, r100]) {
                if i == 0 { row.1.push(r) } else { row.2.push(r) }
            }
        }
    }
    println!(
        "increments per second ({rounds} rounds): durable (SQLite, synchronous=FULL) against in-memory"
    );
    for (name, base, dur) in rows {
        let r = ratio(&dur, &base);
        let (b, d) = (median(base), median(dur));
        println!("  {name:<36} durable {d:>9.0}/s   in-memory {b:>9.0}/s   ratio {r:.3}x");
    }
    durable.shutdown().await;
    memory.shutdown().await;
}

async fn kv(rounds: usize, scale: usize) {
    let dir = tempfile::tempdir().unwrap();
    let reg = registry(Some(dir.path()));
    let c = reg.client();
    let store = c.get_or_create::<KvBench>(["kv"]);
    store.put_many(0, 100).await.unwrap();
    let mut cols: Vec<(&str, Vec<f64>)> = vec![
        ("plain action (baseline)", vec![]),
        ("put, one per call", vec![]),
        ("put, 100 per call", vec![]),
        ("get", vec![]),
    ];
    let mut next = 1_000u32;
    for _ in 0..rounds {
        let s = store.clone();
        let base = rate(16, scale, move |_, _| {
            let s = s.clone();
            async move { s.nothing().await.unwrap() }
        })
        .await;
        let s = store.clone();
        let start = next;
        let puts = rate(16, scale, move |t, i| {
            let s = s.clone();
            async move { s.put(start + (t * 100_000 + i) as u32).await.unwrap() }
        })
        .await;
        next += 2_000_000;
        let s = store.clone();
        let start = next;
        let batched = 100.0
            * rate(16, (scale / 10).max(5), move |t, i| {
                let s = s.clone();
                async move {
                    s.put_many(start + ((t * 10_000 + i) * 100) as u32, 100)
                        .await
                        .unwrap()
                }
            })
            .await;
        next += 20_000_000;
        let s = store.clone();
        let gets = rate(16, scale, move |_, i| {
            let s = s.clone();
            async move { assert!(s.get((i % 100) as u32).await.unwrap()) }
        })
        .await;
        for (col, r) in cols.iter_mut().zip([base, puts, batched, gets]) {
            col.1.push(r);
        }
    }
    println!("KV on one durable actor, 16 calls in flight, 100-byte values ({rounds} rounds)");
    let base = cols[0].1.clone();
    for (name, values) in cols {
        let r = ratio(&values, &base);
        let m = median(values);
        println!("  {name:<28} {m:>10.0} ops/s   ratio to the plain action {r:.2}x");
    }
    reg.shutdown().await;
}

async fn queues(rounds: usize, scale: usize) {
    use rivet_examples::worker::{Job, Worker};
    let dir = tempfile::tempdir().unwrap();
    let reg = registry(Some(dir.path()));
    let c = reg.client();
    let worker = c.get_or_create::<Worker>(["q"]);
    let looper = c.get_or_create::<Looper>(["q"]);
    let flow = c.get_or_create::<FlowWorker>(["q"]);
    let wait = Duration::from_secs(60);
    let (mut base, mut handler, mut run_loop, mut workflow) = (vec![], vec![], vec![], vec![]);
    for _ in 0..rounds {
        let w = worker.clone();
        base.push(
            rate(16, scale, move |_, _| {
                let w = w.clone();
                async move {
                    w.get_total().await.unwrap();
                }
            })
            .await,
        );
        // 16 senders, each waiting for its message to be processed before sending the next.
        let w = worker.clone();
        handler.push(
            rate(16, scale, move |_, _| {
                let w = w.clone();
                async move {
                    w.send_jobs(Job { n: 1 }).wait(wait).await.unwrap();
                }
            })
            .await,
        );
        let l = looper.clone();
        run_loop.push(
            rate(16, scale, move |_, _| {
                let l = l.clone();
                async move {
                    l.send_jobs(1).wait(wait).await.unwrap();
                }
            })
            .await,
        );
        let f = flow.clone();
        workflow.push(
            rate(16, scale, move |_, _| {
                let f = f.clone();
                async move {
                    f.send_jobs(1).wait(wait).await.unwrap();
                }
            })
            .await,
        );
    }
    println!(
        "durable queue messages per second on one actor, 16 senders each waiting for its message to be processed ({rounds} rounds)"
    );
    println!(
        "  plain read action (baseline)        {:>9.0}/s",
        median(base.clone())
    );
    for (name, values) in [
        ("#[queue] handler", handler),
        ("#[run] loop (next, turn, complete)", run_loop),
        ("workflow (loop, queue.next, step)", workflow),
    ] {
        let r = ratio(&values, &base);
        let m = median(values);
        println!("  {name:<36}{m:>9.0}/s   ratio {r:.3}x");
    }
    reg.shutdown().await;
}

async fn workflows(rounds: usize, scale: usize) {
    let dir = tempfile::tempdir().unwrap();
    let reg = registry(Some(dir.path()));
    let c = reg.client();
    let stepper = c.get_or_create::<Stepper>(["w"]);
    let turner = c.get_or_create::<Turner>(["w"]);
    let n = (scale * 10) as u64;
    let wait = Duration::from_secs(120);
    let (mut base, mut steps) = (vec![], vec![]);
    for _ in 0..rounds {
        let t = Instant::now();
        assert_eq!(turner.send_go(n).wait(wait).await.unwrap(), n);
        base.push(n as f64 / t.elapsed().as_secs_f64());
        let t = Instant::now();
        assert_eq!(stepper.send_go(n).wait(wait).await.unwrap(), n);
        steps.push(n as f64 / t.elapsed().as_secs_f64());
    }
    let r = ratio(&steps, &base);
    let (b, s) = (median(base), median(steps));
    println!(
        "durable workflow steps per second on one actor, {n} in a row, ten per loop iteration ({rounds} rounds)"
    );
    println!("  #[run] loop, RunCx::turn (baseline)  {b:>9.0}/s");
    println!("  workflow step (recorded, replayable) {s:>9.0}/s   ratio {r:.3}x");
    reg.shutdown().await;
}

async fn wake(count: usize) {
    let dir = tempfile::tempdir().unwrap();
    {
        let reg = registry(Some(dir.path()));
        let c = reg.client();
        let handles: Vec<_> = (0..count)
            .map(|i| {
                let h = c.get_or_create::<Counter>([format!("w{i}")]);
                tokio::spawn(async move { h.increment(i as i64).await.unwrap() })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
        reg.shutdown().await;
    }
    let reg = registry(Some(dir.path()));
    let c = reg.client();
    let (mut cold, mut warm) = (Vec::with_capacity(count), Vec::with_capacity(count));
    for i in 0..count {
        let h = c.get::<Counter>([format!("w{i}")]);
        let t = Instant::now();
        assert_eq!(h.get_count().await.unwrap(), i as i64);
        cold.push(t.elapsed());
        let t = Instant::now();
        h.get_count().await.unwrap();
        warm.push(t.elapsed());
    }
    cold.sort();
    warm.sort();
    let pct = |v: &[Duration], p: f64| v[((v.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e6;
    println!(
        "wake from disk: the first call to each of {count} sleeping actors (SQLite), against a second call to the awake actor"
    );
    println!(
        "  first call (wakes)   p50 {:>7.1} us  p99 {:>7.1} us",
        pct(&cold, 0.5),
        pct(&cold, 0.99)
    );
    println!(
        "  awake (baseline)     p50 {:>7.1} us  p99 {:>7.1} us   p99 ratio {:.1}x",
        pct(&warm, 0.5),
        pct(&warm, 0.99),
        pct(&cold, 0.99) / pct(&warm, 0.99)
    );
    reg.shutdown().await;
}

/// Runs `call` on actors `0..n` with 256 calls in flight.
async fn on_each<F, Fut>(n: usize, call: F)
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    for base in (0..n).step_by(256) {
        let calls: Vec<_> = (base..(base + 256).min(n))
            .map(|i| tokio::spawn(call(i)))
            .collect();
        for c in calls {
            c.await.unwrap();
        }
    }
}

async fn memory(sizes: &[usize]) {
    println!(
        "memory (live heap, counted by the allocator) and open files, by number of actors (`sleeper`: an i64 of state)"
    );
    for &n in sizes {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::builder()
            .with::<Sleeper>()
            .data_dir(dir.path())
            .sleep_timeout(Duration::from_secs(3600))
            // Created as fast as they can be: the default limit (a burst of 1,000, then 200 a
            // second) guards a server against clients, not this count.
            .creation_rate(u32::MAX, u32::MAX)
            .build()
            .unwrap();
        let c = reg.client();
        // Warm the registry and storage first, so their fixed costs are not counted.
        c.get_or_create::<Sleeper>(["warm"]).touch().await.unwrap();
        let (heap0, files0) = (live(), open_files());
        let start = Instant::now();
        let cc = c.clone();
        on_each(n, move |i| {
            let h = cc.get_or_create::<Sleeper>([format!("m{i}")]);
            async move {
                h.touch().await.unwrap();
            }
        })
        .await;
        let created = start.elapsed();
        let awake_now = reg.awake_count();
        let (heap_awake, files_awake) = (live(), open_files());
        let start = Instant::now();
        let cc = c.clone();
        on_each(n, move |i| {
            let h = cc.get::<Sleeper>([format!("m{i}")]);
            async move {
                h.nap().await.unwrap();
            }
        })
        .await;
        let deadline = Instant::now() + Duration::from_secs(120);
        while reg.awake_count() > 1 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let slept = start.elapsed();
        let (heap_asleep, files_asleep) = (live(), open_files());
        println!(
            "  {n:>7} actors: created and awake in {:>5.1} s ({:>6.0}/s), {} awake: {:>5.0} B each; asleep after {:>4.1} s: {:>5.1} B each; open files {} -> {} awake -> {} asleep",
            created.as_secs_f64(),
            n as f64 / created.as_secs_f64(),
            awake_now - 1,
            (heap_awake - heap0) as f64 / n as f64,
            slept.as_secs_f64(),
            (heap_asleep - heap0) as f64 / n as f64,
            files0,
            files_awake,
            files_asleep
        );
        reg.shutdown().await;
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (rounds, scale) = if quick { (3, 200) } else { (7, 1000) };
        let parts = ["actions", "kv", "queues", "workflows", "wake", "memory"];
        let chosen: Vec<String> = std::env::args()
            .filter(|a| parts.contains(&a.as_str()))
            .collect();
        let run = |part: &str| chosen.is_empty() || chosen.iter().any(|c| c == part);
        if run("actions") {
            actions(rounds, scale).await;
        }
        if run("kv") {
            kv(rounds, scale).await;
        }
        if run("queues") {
            queues(rounds, scale).await;
        }
        if run("workflows") {
            workflows(rounds, scale).await;
        }
        if run("wake") {
            wake(if quick { 500 } else { 2000 }).await;
        }
        if run("memory") {
            let sizes: &[usize] = if quick {
                &[1_000, 10_000]
            } else {
                &[1_000, 10_000, 100_000]
            };
            memory(sizes).await;
        }
    });
}
