//! Runner mode on the pinned Rivet Engine: the example `counter` served by our envoy
//! (`src/bin/envoy_server.rs`, pool `rust`) and by RivetKit 2.3.19 (TypeScript,
//! `interop/rivetkit-envoy.mjs`, pool `ts`) on the same engine, driven through the engine's
//! gateway by the same load generator (our network client) in one run, in alternating rounds.
//! Prints per-round figures and the ratio ours / RivetKit.
//!
//! `cargo bench -p rivet-tests --bench engine` (needs Node 20+ and npm; installs the pinned
//! engine and RivetKit itself).
#![allow(clippy::print_stdout)]

use std::io::BufRead as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use rivet_core::prelude::Client;
use rivet_examples::counter::{Counter, CounterClient};
use rivet_tests::support::engine::Engine;
use rivet_tests::support::node::{check_node, install};

/// Calls per sequential latency sample.
const SEQUENTIAL: usize = 300;
/// Concurrent callers, and calls each, for the throughput sample.
const CALLERS: usize = 16;
const CALLS_EACH: usize = 50;
const ROUNDS: usize = 3;

/// A child process whose output is drained (so its logging never blocks or breaks it), killed
/// when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `command` and waits for a line of its output for which `ready` holds.
fn spawn(mut command: Command, ready: impl Fn(&str) -> bool + Send + 'static) -> Process {
    let errors = tempfile::tempfile().expect("a file for its errors");
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(errors.try_clone().expect("clone"))
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if ready(&line)
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(());
            }
        }
    });
    if rx.recv_timeout(Duration::from_secs(60)).is_err() {
        let mut errors = errors;
        let mut text = String::new();
        let _ = std::io::Seek::rewind(&mut errors);
        let _ = std::io::Read::read_to_string(&mut errors, &mut text);
        panic!("{command:?} never said it was ready:\n{text}");
    }
    Process(child)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

#[derive(Debug, Clone, Copy)]
struct Figures {
    write_p50: Duration,
    write_p99: Duration,
    read_p50: Duration,
    /// Writes addressed by actor id (`/gateway/{id}/...`): no query resolution in the engine.
    direct_p50: Duration,
    ws_p50: Duration,
    throughput: f64,
}

async fn measure(client: &Client, key: &str) -> Figures {
    let counter: CounterClient = client.get_or_create::<Counter>([key.to_owned()]);
    for _ in 0..50 {
        counter.increment(1).await.expect("warm-up");
    }
    let mut writes = Vec::with_capacity(SEQUENTIAL);
    for _ in 0..SEQUENTIAL {
        let start = Instant::now();
        counter.increment(1).await.expect("increment");
        writes.push(start.elapsed());
    }
    let mut reads = Vec::with_capacity(SEQUENTIAL);
    for _ in 0..SEQUENTIAL {
        let start = Instant::now();
        counter.get_count().await.expect("getCount");
        reads.push(start.elapsed());
    }
    let id = counter.resolve().await.expect("resolve");
    let direct: CounterClient = client.get_for_id::<Counter>(id);
    let mut by_id = Vec::with_capacity(SEQUENTIAL);
    for _ in 0..SEQUENTIAL {
        let start = Instant::now();
        direct.increment(1).await.expect("increment by id");
        by_id.push(start.elapsed());
    }
    let conn = counter.connect().await.expect("connect");
    let mut ws = Vec::with_capacity(SEQUENTIAL);
    for _ in 0..SEQUENTIAL {
        let start = Instant::now();
        conn.increment(1).await.expect("increment over WebSocket");
        ws.push(start.elapsed());
    }
    drop(conn);
    let mut ids = Vec::with_capacity(CALLERS);
    for i in 0..CALLERS {
        let counter = client.get_or_create::<Counter>([format!("{key}-{i}")]);
        ids.push(counter.resolve().await.expect("resolve"));
    }
    let started = Instant::now();
    let callers = ids.into_iter().map(|id| {
        let counter = client.get_for_id::<Counter>(id);
        async move {
            for _ in 0..CALLS_EACH {
                counter.increment(1).await.expect("increment");
            }
        }
    });
    join_all(callers).await;
    let throughput = (CALLERS * CALLS_EACH) as f64 / started.elapsed().as_secs_f64();
    for samples in [&mut writes, &mut reads, &mut by_id, &mut ws] {
        samples.sort();
    }
    Figures {
        write_p50: percentile(&writes, 0.5),
        write_p99: percentile(&writes, 0.99),
        read_p50: percentile(&reads, 0.5),
        direct_p50: percentile(&by_id, 0.5),
        ws_p50: percentile(&ws, 0.5),
        throughput,
    }
}

fn us(duration: Duration) -> u128 {
    duration.as_micros()
}

fn row(label: &str, f: &Figures) {
    println!(
        "| {label} | {} | {} | {} | {} | {} | {:.0} |",
        us(f.write_p50),
        us(f.write_p99),
        us(f.read_p50),
        us(f.direct_p50),
        us(f.ws_p50),
        f.throughput
    );
}

#[tokio::main]
async fn main() {
    check_node().await;
    let interop = Path::new(env!("CARGO_MANIFEST_DIR")).join("interop");
    install(&interop).await;
    let engine = Engine::start().await;
    engine.register_pool("ts").await;

    let mut ours = Command::new(env!("CARGO_BIN_EXE_envoy_server"));
    ours.env("RIVET_ENDPOINT", &engine.endpoint)
        .env("RIVET_POOL", "rust");
    let _ours = spawn(ours, |line| line.starts_with("rivet-rust-"));
    let mut theirs = Command::new("node");
    theirs
        .arg("rivetkit-envoy.mjs")
        .current_dir(&interop)
        .env("RIVET_ENDPOINT", &engine.endpoint)
        .env("RIVET_POOL", "ts")
        // Its local "Services" (a binary of their own, started for a loopback engine) are not
        // part of serving actors, and are not installed here.
        .env("RIVET_RUN_SERVICES", "0");
    let _theirs = spawn(theirs, |line| line.trim() == "ready");

    let client = |pool: &str| {
        Client::builder(engine.endpoint.clone())
            .pool(pool)
            .build()
            .expect("client")
    };
    let (rust, ts) = (client("rust"), client("ts"));
    println!("Through the engine's gateway (HTTP actions unless noted), in microseconds:\n");
    println!(
        "| envoy, round | write p50 | write p99 | read p50 | write by id p50 | WS write p50 | writes/s by id, {CALLERS} callers |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    let mut totals = Vec::new();
    for round in 1..=ROUNDS {
        let a = measure(&rust, &format!("bench-{round}")).await;
        row(&format!("ours, {round}"), &a);
        let b = measure(&ts, &format!("bench-{round}")).await;
        row(&format!("RivetKit 2.3.19, {round}"), &b);
        totals.push((a, b));
    }
    let ratio = |f: fn(&Figures) -> f64| {
        let (ours, theirs): (f64, f64) = totals
            .iter()
            .fold((0.0, 0.0), |(x, y), (a, b)| (x + f(a), y + f(b)));
        ours / theirs
    };
    println!(
        "\nours / RivetKit (all rounds): write p50 {:.2}, write p99 {:.2}, read p50 {:.2}, write by id p50 {:.2}, WS write p50 {:.2}, throughput {:.2}",
        ratio(|f| f.write_p50.as_secs_f64()),
        ratio(|f| f.write_p99.as_secs_f64()),
        ratio(|f| f.read_p50.as_secs_f64()),
        ratio(|f| f.direct_p50.as_secs_f64()),
        ratio(|f| f.ws_p50.as_secs_f64()),
        ratio(|f| f.throughput),
    );
}
