//! Load generator over loopback: HTTP actions, WebSocket actions (latency percentiles and
//! throughput) and event fan-out, against a bare axum server on the same stack (the baseline):
//! an HTTP echo, a WebSocket echo and a WebSocket broadcast.
//!
//! The server runs on durable storage (SQLite, `synchronous=FULL`: a write is fsynced before its
//! reply) in this process; the clients are `rivet-client` (bare encoding, as the official client
//! defaults to) and share the machine's cores with the server. Every round runs each variant
//! after its baseline, so ratios compare figures taken minutes apart on a VM whose speed drifts.
//!
//! Run: `cargo bench -p rivet-examples --bench network` (add `-- --quick` for a short run, and
//! `latency`, `throughput` or `fanout` to run only that part).
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::extract::ws::{Message as AxumMessage, WebSocket, WebSocketUpgrade};
use axum::routing::{any, post};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use rivet_core::storage::sqlite::Durability;
use rivet_core::{Client, Registry};
use rivet_examples::counter::{Counter, CounterConnection};
use tokio::sync::{Notify, broadcast};
use tokio_tungstenite::tungstenite::Message;

/// Sorted per-operation latencies, in nanoseconds.
struct Latencies(Vec<u64>);

impl Latencies {
    fn new(mut samples: Vec<u64>) -> Self {
        samples.sort_unstable();
        Self(samples)
    }

    fn pct(&self, p: f64) -> f64 {
        let i = ((self.0.len() as f64 - 1.0) * p).round() as usize;
        self.0[i] as f64 / 1000.0
    }
}

async fn sequential<F, Fut>(ops: usize, mut call: F) -> Latencies
where
    F: FnMut() -> Fut,
    Fut: Future,
{
    let mut samples = Vec::with_capacity(ops);
    for _ in 0..ops {
        let start = Instant::now();
        std::hint::black_box(call().await);
        samples.push(start.elapsed().as_nanos() as u64);
    }
    Latencies::new(samples)
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

// ---- the baseline: a bare axum server on the same stack ------------------------------------

#[derive(Clone)]
struct Bare {
    fanout: broadcast::Sender<Bytes>,
}

async fn bare_echo(body: Bytes) -> Bytes {
    body
}

async fn bare_ws(State(bare): State<Bare>, upgrade: WebSocketUpgrade) -> axum::response::Response {
    upgrade.on_upgrade(move |socket| bare_socket(socket, bare))
}

/// Echoes every message; a message `b` is instead sent to every socket (the fan-out baseline).
async fn bare_socket(mut socket: WebSocket, bare: Bare) {
    let mut fanout = bare.fanout.subscribe();
    loop {
        tokio::select! {
            incoming = socket.recv() => match incoming {
                Some(Ok(AxumMessage::Binary(b))) if &b[..] == b"b" => {
                    let _ = bare.fanout.send(Bytes::from_static(b"event"));
                }
                Some(Ok(AxumMessage::Binary(b))) => {
                    if socket.send(AxumMessage::Binary(b)).await.is_err() {
                        return;
                    }
                }
                Some(Ok(_)) => {}
                _ => return,
            },
            out = fanout.recv() => match out {
                Ok(b) => {
                    if socket.send(AxumMessage::Binary(b)).await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => return,
            },
        }
    }
}

async fn spawn_bare() -> SocketAddr {
    let (fanout, _) = broadcast::channel(1024);
    let app = axum::Router::new()
        .route("/echo", post(bare_echo))
        .route("/ws", any(bare_ws))
        .with_state(Bare { fanout });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn bare_socket_client(addr: SocketAddr) -> Socket {
    let url = format!("ws://{addr}/ws");
    tokio_tungstenite::connect_async_with_config(url, None, true)
        .await
        .unwrap()
        .0
}

/// Keeps `window` echoes in flight on `socket` until `deadline`; returns the socket and the
/// number of echoes.
async fn bare_pipelined(socket: Socket, window: usize, deadline: Instant) -> (Socket, usize) {
    let (mut sink, mut stream) = socket.split();
    for _ in 0..window {
        sink.send(Message::binary(vec![1u8; 16])).await.unwrap();
    }
    let (mut outstanding, mut done) = (window, 0);
    while outstanding > 0 {
        stream.next().await.unwrap().unwrap();
        outstanding -= 1;
        done += 1;
        if Instant::now() < deadline {
            sink.send(Message::binary(vec![1u8; 16])).await.unwrap();
            outstanding += 1;
        }
    }
    (sink.reunite(stream).unwrap(), done)
}

async fn bare_http_call(http: &reqwest::Client, url: &str) -> Bytes {
    let response = http.post(url).body(vec![1u8; 16]).send().await.unwrap();
    response.bytes().await.unwrap()
}

async fn bare_ws_call(socket: &mut Socket) {
    socket.send(Message::binary(vec![1u8; 16])).await.unwrap();
    socket.next().await.unwrap().unwrap();
}

// ---- variants ------------------------------------------------------------------------------

/// Latency of one call at a time. `relaxed` serves the same actors with process-crash
/// durability (no fsync per commit).
async fn latency(rounds: usize, ops: usize, bare: SocketAddr, client: &Client, relaxed: &Client) {
    rivet_core::client::tls::ready();
    let http = reqwest::Client::builder()
        .tcp_nodelay(true)
        .build()
        .unwrap();
    let counter = client.get_or_create::<Counter>(["latency"]);
    let conn = counter.connect().await.unwrap();
    let relaxed_conn = relaxed
        .get_or_create::<Counter>(["latency"])
        .connect()
        .await
        .unwrap();
    let mut socket = bare_socket_client(bare).await;
    let echo = format!("http://{bare}/echo");
    // Warm up: wake the actor, open pooled HTTP connections.
    for _ in 0..200 {
        counter.get_count().await.unwrap();
        conn.get_count().await.unwrap();
        relaxed_conn.increment(1).await.unwrap();
        bare_ws_call(&mut socket).await;
        bare_http_call(&http, &echo).await;
    }
    let durable_ops = (ops / 4).max(50);
    let names = [
        "WebSocket echo (baseline)",
        "WS action getCount (read)",
        "WS action increment (durable)",
        "WS action increment (process-crash)",
        "HTTP echo (baseline)",
        "HTTP action getCount (read)",
        "HTTP action increment (durable)",
    ];
    // Per variant: p50s, p99s, and ratios of the p50 to its baseline's.
    let mut p50 = vec![Vec::new(); names.len()];
    let mut p99 = vec![Vec::new(); names.len()];
    let mut ratio = vec![Vec::new(); names.len()];
    for _ in 0..rounds {
        let ws_base = {
            let mut samples = Vec::with_capacity(ops);
            for _ in 0..ops {
                let start = Instant::now();
                bare_ws_call(&mut socket).await;
                samples.push(start.elapsed().as_nanos() as u64);
            }
            Latencies::new(samples)
        };
        let ws_read = sequential(ops, || async { conn.get_count().await.unwrap() }).await;
        let ws_write = sequential(durable_ops, || async { conn.increment(1).await.unwrap() }).await;
        let ws_relaxed =
            sequential(ops, || async { relaxed_conn.increment(1).await.unwrap() }).await;
        let http_base = sequential(ops / 2, || async { bare_http_call(&http, &echo).await }).await;
        let http_read = sequential(ops / 2, || async { counter.get_count().await.unwrap() }).await;
        let http_write = sequential(durable_ops / 2, || async {
            counter.increment(1).await.unwrap()
        })
        .await;
        let all = [
            ws_base, ws_read, ws_write, ws_relaxed, http_base, http_read, http_write,
        ];
        for (i, l) in all.iter().enumerate() {
            let base = if i < 4 { &all[0] } else { &all[4] };
            p50[i].push(l.pct(0.5));
            p99[i].push(l.pct(0.99));
            ratio[i].push(l.pct(0.5) / base.pct(0.5));
        }
    }
    println!(
        "latency, one call at a time ({rounds} rounds of {ops} calls; durable writes {durable_ops})"
    );
    for (i, name) in names.iter().enumerate() {
        println!(
            "  {name:<34} p50 {:>8.1} us  p99 {:>8.1} us  p50 ratio to baseline {:.2}x",
            median(&p50[i]),
            median(&p99[i]),
            median(&ratio[i])
        );
    }
}

/// Operations per second of `tasks` loops of `call` running for `duration`.
async fn rate<F, Fut>(tasks: usize, duration: Duration, call: F) -> f64
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send,
{
    let call = Arc::new(call);
    let done = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + duration;
    let start = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let call = Arc::clone(&call);
            let done = Arc::clone(&done);
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    call(t).await;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for h in handles {
        h.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

/// Durable increments per second with many calls in flight, over WebSockets and over HTTP.
async fn throughput(rounds: usize, duration: Duration, bare: SocketAddr, client: &Client) {
    const ACTORS: usize = 32;
    const IN_FLIGHT: usize = 8;
    let mut conns = Vec::new();
    for a in 0..ACTORS {
        let conn = client
            .get_or_create::<Counter>([format!("tp-{a}")])
            .connect()
            .await
            .unwrap();
        conn.increment(0).await.unwrap();
        conns.push(conn);
    }
    let conns: Arc<Vec<CounterConnection>> = Arc::new(conns);
    let mut sockets = Vec::new();
    for _ in 0..ACTORS {
        sockets.push(bare_socket_client(bare).await);
    }
    rivet_core::client::tls::ready();
    let http = reqwest::Client::builder()
        .tcp_nodelay(true)
        .build()
        .unwrap();
    let echo = format!("http://{bare}/echo");
    let handles: Arc<Vec<_>> = Arc::new(
        (0..ACTORS)
            .map(|a| client.get::<Counter>([format!("tp-{a}")]))
            .collect(),
    );
    let names = [
        "WebSocket echo (baseline)",
        "WS increment (durable)",
        "HTTP echo (baseline)",
        "HTTP increment (durable)",
    ];
    let mut rates = vec![Vec::new(); names.len()];
    let mut ratios = vec![Vec::new(); names.len()];
    for _ in 0..rounds {
        let start = Instant::now();
        let deadline = start + duration;
        let tasks: Vec<_> = sockets
            .drain(..)
            .map(|s| tokio::spawn(bare_pipelined(s, IN_FLIGHT, deadline)))
            .collect();
        let mut echoes = 0;
        for task in tasks {
            let (socket, n) = task.await.unwrap();
            sockets.push(socket);
            echoes += n;
        }
        let ws_base = echoes as f64 / start.elapsed().as_secs_f64();
        let c = Arc::clone(&conns);
        let ws = rate(ACTORS * IN_FLIGHT, duration, move |t| {
            let c = Arc::clone(&c);
            async move {
                c[t % ACTORS].increment(1).await.unwrap();
            }
        })
        .await;
        let (h, e) = (http.clone(), echo.clone());
        let http_base = rate(ACTORS * 2, duration, move |_| {
            let (h, e) = (h.clone(), e.clone());
            async move {
                bare_http_call(&h, &e).await;
            }
        })
        .await;
        let hs = Arc::clone(&handles);
        let http_rate = rate(ACTORS * 2, duration, move |t| {
            let hs = Arc::clone(&hs);
            async move {
                hs[t % ACTORS].increment(1).await.unwrap();
            }
        })
        .await;
        for (i, r) in [ws_base, ws, http_base, http_rate].into_iter().enumerate() {
            rates[i].push(r);
            ratios[i].push(r / if i < 2 { ws_base } else { http_base });
        }
    }
    println!(
        "throughput, {ACTORS} actors, WS: {IN_FLIGHT} calls in flight per connection, HTTP: {} concurrent callers ({rounds} rounds of {:?})",
        ACTORS * 2,
        duration
    );
    for (i, name) in names.iter().enumerate() {
        println!(
            "  {name:<34} {:>9.0} ops/s  ratio to baseline {:.2}x",
            median(&rates[i]),
            median(&ratios[i])
        );
    }
}

/// Counts deliveries and wakes the waiter when a target is reached.
#[derive(Default)]
struct Tally {
    count: AtomicUsize,
    target: AtomicUsize,
    reached: Notify,
}

impl Tally {
    fn hit(&self) {
        let n = self.count.fetch_add(1, Ordering::AcqRel) + 1;
        if n == self.target.load(Ordering::Acquire) {
            self.reached.notify_one();
        }
    }

    /// Expects `more` deliveries from now on; call before triggering them.
    fn arm(&self, more: usize) {
        let target = self.count.load(Ordering::Acquire) + more;
        self.target.store(target, Ordering::Release);
    }

    async fn wait(&self) {
        let target = self.target.load(Ordering::Acquire);
        // `notify_one` keeps a permit when nobody waits, so a hit between the check and the
        // await is not lost; a stale permit only costs one more check.
        while self.count.load(Ordering::Acquire) < target {
            self.reached.notified().await;
        }
    }
}

/// Time from a broadcast until every subscribed connection has it.
async fn fanout(rounds: usize, events: usize, conns_n: usize, bare: SocketAddr, client: &Client) {
    let counter = client.get_or_create::<Counter>(["fanout"]);
    let tally = Arc::new(Tally::default());
    let mut conns = Vec::new();
    for _ in 0..conns_n {
        let conn = counter.connect().await.unwrap();
        let t = Arc::clone(&tally);
        conn.on_new_count(move |_| t.hit());
        conn.get_count().await.unwrap();
        conns.push(conn);
    }
    let bare_tally = Arc::new(Tally::default());
    let mut trigger = bare_socket_client(bare).await;
    for _ in 0..conns_n {
        let mut socket = bare_socket_client(bare).await;
        let t = Arc::clone(&bare_tally);
        tokio::spawn(async move {
            while let Some(Ok(m)) = socket.next().await {
                if matches!(m, Message::Binary(_)) {
                    t.hit();
                }
            }
        });
    }
    let (mut base_p50, mut p50, mut p99, mut ratio, mut per_s) =
        (vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..rounds {
        let mut base = Vec::new();
        for _ in 0..events {
            bare_tally.arm(conns_n);
            let start = Instant::now();
            trigger.send(Message::binary(b"b".to_vec())).await.unwrap();
            bare_tally.wait().await;
            base.push(start.elapsed().as_nanos() as u64);
        }
        let mut ours = Vec::new();
        let round_start = Instant::now();
        for _ in 0..events {
            tally.arm(conns_n);
            let start = Instant::now();
            let c = counter.clone();
            let call = tokio::spawn(async move { c.increment(1).await.unwrap() });
            tally.wait().await;
            ours.push(start.elapsed().as_nanos() as u64);
            call.await.unwrap();
        }
        per_s.push((events * conns_n) as f64 / round_start.elapsed().as_secs_f64());
        let (base, ours) = (Latencies::new(base), Latencies::new(ours));
        base_p50.push(base.pct(0.5));
        p50.push(ours.pct(0.5));
        p99.push(ours.pct(0.99));
        ratio.push(ours.pct(0.5) / base.pct(0.5));
    }
    println!(
        "event fan-out to {conns_n} connections ({rounds} rounds of {events} events; time until the last connection has it)"
    );
    println!(
        "  bare WebSocket broadcast (baseline)  p50 {:>8.0} us",
        median(&base_p50)
    );
    println!(
        "  durable increment + newCount event   p50 {:>8.0} us  p99 {:>8.0} us  p50 ratio to baseline {:.2}x  {:.0} deliveries/s",
        median(&p50),
        median(&p99),
        median(&ratio),
        median(&per_s)
    );
    drop(conns);
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (rounds, ops, duration, events) = if quick {
        (3, 500, Duration::from_millis(500), 10)
    } else {
        (9, 2000, Duration::from_secs(2), 30)
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let relaxed_dir = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let registry: Registry = rivet_examples::registry()
            .data_dir(dir.path())
            .build()
            .unwrap();
        let addr = registry.spawn_server("127.0.0.1:0").await.unwrap();
        let relaxed_registry: Registry = rivet_examples::registry()
            .data_dir(relaxed_dir.path())
            .durability(Durability::ProcessCrash)
            .build()
            .unwrap();
        let relaxed_addr = relaxed_registry.spawn_server("127.0.0.1:0").await.unwrap();
        let relaxed = Client::new(format!("http://{relaxed_addr}"));
        let bare = spawn_bare().await;
        let client = Client::new(format!("http://{addr}"));
        let parts = ["latency", "throughput", "fanout"];
        let chosen: Vec<String> = std::env::args()
            .filter(|a| parts.contains(&a.as_str()))
            .collect();
        let run = |part: &str| chosen.is_empty() || chosen.iter().any(|c| c == part);
        if run("latency") {
            latency(rounds, ops, bare, &client, &relaxed).await;
        }
        if run("throughput") {
            throughput(rounds, duration, bare, &client).await;
        }
        if run("fanout") {
            fanout(rounds, events, 1000, bare, &client).await;
        }
        registry.shutdown().await;
        relaxed_registry.shutdown().await;
    });
}
