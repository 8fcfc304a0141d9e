//! The server's memory stays bounded under the attacks a client can make, each measured on a
//! server process of its own (`src/bin/limits_server.rs`, default limits) by its resident
//! memory before the attack and at its peak (Linux `/proc`): readers that never read while an
//! actor broadcasts, WebSocket messages fragmented without end, large raw request bodies to
//! actors without `#[on_request]`, subscriptions to events no actor declares, and queues
//! filled with messages nobody takes (awake, and after a restart on the same data). Each attack
//! is a fixed amount of work (no delay decides anything); each bound is a fraction of what the
//! attack would cost an unbounded server. The server logs each limit it enforced, and never a
//! token.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt, stream};
use rivet_core::Client;
use rivet_core::client::protocol::{Encoding, Frame, ToServer};
use rivet_tests::{Memory, Probe, ServerProcess, Socket, Within, open_socket, query_url, within};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame as WsFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

const MIB: u64 = 1024;

/// A test server with its log file (kept in a directory that lives as long as it).
struct Server {
    process: ServerProcess,
    endpoint: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start(token: Option<&str>) -> Self {
        Self::start_on(token, None).await
    }

    /// A server on data directory `data` (in memory without one).
    async fn start_on(token: Option<&str>, data: Option<&std::path::Path>) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("server.log");
        let mut command = Command::new(env!("CARGO_BIN_EXE_limits_server"));
        command.arg(&log).env_remove("RIVET_TOKEN");
        if let Some(data) = data {
            command.arg(data);
        }
        if let Some(token) = token {
            command.env("RIVET_TOKEN", token);
        }
        let (process, endpoint) = ServerProcess::spawn(command).await;
        Self {
            process,
            endpoint,
            log,
            _dir: dir,
        }
    }

    fn memory(&self) -> Memory {
        self.process.memory()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).expect("the server's log")
    }

    /// How far its peak memory rose above `before`, in KiB.
    fn growth_since(&self, before: Memory) -> u64 {
        self.memory().peak_kib.saturating_sub(before.rss_kib)
    }
}

/// Sends one client-protocol message (json) on a raw socket.
async fn send_json(socket: &mut Socket, message: &ToServer) {
    let Frame::Text(text) = message.encode(Encoding::Json).expect("encode") else {
        panic!("json is text");
    };
    socket
        .send(Message::text(text))
        .within()
        .await
        .expect("send");
}

/// Subscribes a raw socket to `event` and waits until the subscription is in place: the actor
/// takes a socket's messages in order, so once an action sent after it is answered, it is.
async fn subscribe(socket: &mut Socket, event: &str) {
    let subscribe = ToServer::SubscriptionRequest {
        event_name: event.to_owned(),
        subscribe: true,
    };
    send_json(socket, &subscribe).await;
    until_answered(socket, 1).await;
}

/// Sends `answers` `whoami` calls and reads until each is answered.
async fn until_answered(socket: &mut Socket, answers: usize) {
    for id in 0..answers {
        let call = ToServer::ActionRequest {
            id: id as u64,
            name: "whoami".to_owned(),
            args: Bytes::from_static(&[0x80]),
        };
        send_json(socket, &call).await;
    }
    // One bound for the whole wait: the server's pings would renew a bound per message.
    within(async {
        let mut answered = 0;
        while answered < answers {
            match socket.next().await {
                Some(Ok(Message::Text(text))) if text.contains("\"ActionResponse\"") => {
                    answered += 1
                }
                Some(Ok(_)) => {}
                other => panic!("the socket ended before the answer: {other:?}"),
            }
        }
    })
    .await;
}

/// Reads until the server closes; returns the close code and reason.
async fn close_of(socket: &mut Socket) -> (u16, String) {
    while let Some(message) = socket.next().within().await {
        match message {
            Ok(Message::Close(frame)) => {
                return frame.map_or((1005, String::new()), |f| {
                    (f.code.into(), f.reason.to_string())
                });
            }
            Ok(_) => {}
            Err(error) => panic!("the socket failed before its close frame: {error}"),
        }
    }
    panic!("the socket ended without a close frame");
}

#[tokio::test]
async fn readers_that_never_read_are_closed_and_memory_stays_bounded() {
    const READERS: usize = 20;
    const MESSAGES: usize = 10_000;
    const LABEL: usize = 8000;
    let server = Server::start(None).await;
    let client = Client::builder(&server.endpoint)
        .encoding(Encoding::Cbor)
        .build()
        .unwrap();
    let emitter = client
        .get_or_create::<Probe>(["slow-readers"])
        .connect()
        .within()
        .await
        .unwrap();
    let mut readers = Vec::new();
    for _ in 0..READERS {
        let mut socket = open_socket(
            &server.endpoint,
            "probe",
            "slow-readers",
            "rivet, rivet_encoding.json",
        )
        .await;
        subscribe(&mut socket, "pair").await;
        readers.push(socket);
    }
    let before = server.memory();

    // Each 8 KB event reaches 20 readers that no longer read: a server that queued
    // everything would hold every event, and a queue entry per reader for each.
    let label = "x".repeat(LABEL);
    let emitted = stream::iter(0..MESSAGES)
        .map(|_| emitter.emit(label.clone()))
        .buffer_unordered(32)
        .filter(|result| std::future::ready(result.is_ok()))
        .count()
        .within()
        .await;
    assert_eq!(emitted, MESSAGES, "every event was emitted");
    let growth = server.growth_since(before);
    let unbounded = (MESSAGES * LABEL) as u64 / 1024;
    eprintln!("slow readers: peak growth {growth} KiB (the events alone: {unbounded} KiB)");
    assert!(
        growth < unbounded / 3,
        "peak growth {growth} KiB with readers that never read (the events alone: {unbounded} KiB)"
    );

    // Each reader finds, after what was buffered, the close that ended it.
    for socket in &mut readers {
        assert_eq!(
            close_of(socket).await,
            (1008, "ws.slow_consumer".to_owned())
        );
    }
    // The actor carries on for a connection that keeps up.
    emitter
        .emit("still here".to_owned())
        .within()
        .await
        .unwrap();
    assert!(
        server.log().contains("ws.slow_consumer"),
        "{}",
        server.log()
    );
}

#[tokio::test]
async fn messages_fragmented_without_end_are_cut_off() {
    const SOCKETS: usize = 5;
    const FRAGMENT: usize = 64 * 1024;
    let server = Server::start(None).await;
    let mut sockets = Vec::new();
    for i in 0..SOCKETS {
        let key = format!("fragments-{i}");
        sockets.push(
            open_socket(
                &server.endpoint,
                "counter",
                &key,
                "rivet, rivet_encoding.json",
            )
            .await,
        );
    }
    let before = server.memory();
    // Each socket sends up to 59 MiB of one binary message and never its final frame; a
    // server that assembled it all would hold ~300 MB.
    let fragment = Bytes::from(vec![7u8; FRAGMENT]);
    let mut sent_before_cut = Vec::new();
    for socket in &mut sockets {
        let mut sent = 0usize;
        let mut opcode = OpCode::Data(Data::Binary);
        while sent < 59 * 1024 * 1024 {
            let frame = WsFrame::message(fragment.clone(), opcode, false);
            if socket.send(Message::Frame(frame)).within().await.is_err() {
                break;
            }
            opcode = OpCode::Data(Data::Continue);
            sent += FRAGMENT;
        }
        sent_before_cut.push(sent);
    }
    for sent in &sent_before_cut {
        // What the kernel's buffers took before the reset reached the sender.
        assert!(
            *sent < 32 * 1024 * 1024,
            "a socket sent {sent} bytes of one message before the server cut it off"
        );
    }
    let growth = server.growth_since(before);
    eprintln!("fragments: peak growth {growth} KiB; sent before the cut: {sent_before_cut:?}");
    assert!(
        growth < 40 * MIB,
        "peak growth {growth} KiB under unfinished messages"
    );
    // The server still serves.
    let client = Client::new(&server.endpoint);
    let counter = client.get_or_create::<rivet_examples::counter::Counter>(["after-fragments"]);
    assert_eq!(counter.increment(1).within().await.unwrap(), 1);
}

#[tokio::test]
async fn raw_requests_to_actors_without_on_request_read_nothing_and_create_nothing() {
    const REQUESTS: usize = 40;
    let server = Server::start(None).await;
    let http = rivet_tests::support::net::http();
    // Warm up the HTTP path once.
    let health = http
        .get(format!("{}/health", server.endpoint))
        .send()
        .within()
        .await;
    assert!(health.unwrap().status().is_success());
    let before = server.memory();
    let body = Bytes::from(vec![1u8; 16 * 1024 * 1024]);
    let replies = futures_util::future::join_all((0..REQUESTS).map(|i| {
        let url = query_url(
            &server.endpoint,
            "counter",
            &format!("raw-{i}"),
            "getOrCreate",
            "/request/upload",
        );
        http.post(url).body(body.clone()).send()
    }))
    .within()
    .await;
    // The server answers before the body is sent, or closes on the unread body: either way,
    // no 16 MiB reached it.
    for reply in replies.into_iter().flatten() {
        assert_eq!(reply.status().as_u16(), 404);
        let body = reply.bytes().within().await.unwrap();
        let error: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(error["code"], "not_found", "{error}");
    }
    let growth = server.growth_since(before);
    eprintln!("raw uploads: peak growth {growth} KiB");
    assert!(
        growth < 40 * MIB,
        "peak growth {growth} KiB under 40 raw uploads of 16 MiB"
    );
    // And no counter was created for them.
    for i in 0..REQUESTS {
        let url = format!("{}/actors?name=counter&key=raw-{i}", server.endpoint);
        let listed = http.get(url).send().within().await.unwrap();
        let listed: serde_json::Value =
            serde_json::from_slice(&listed.bytes().within().await.unwrap()).unwrap();
        assert_eq!(listed["actors"], serde_json::json!([]), "raw-{i}");
    }
}

#[tokio::test]
async fn subscriptions_to_undeclared_events_are_not_kept() {
    const NAMES: usize = 50_000;
    let server = Server::start(None).await;
    let mut socket = open_socket(
        &server.endpoint,
        "probe",
        "subscriptions",
        "rivet, rivet_encoding.json",
    )
    .await;
    until_answered(&mut socket, 1).await;
    let before = server.memory();
    for i in 0..NAMES {
        let subscribe = ToServer::SubscriptionRequest {
            event_name: format!("not-an-event-{i:08}-{}", "y".repeat(400)),
            subscribe: true,
        };
        send_json(&mut socket, &subscribe).await;
    }
    // Once a call sent after them is answered, every subscription was handled.
    until_answered(&mut socket, 1).await;
    let growth = server.growth_since(before);
    eprintln!("undeclared subscriptions: peak growth {growth} KiB");
    assert!(
        growth < 8 * MIB,
        "peak growth {growth} KiB after {NAMES} undeclared subscriptions"
    );
}

#[tokio::test]
async fn queued_messages_wait_in_storage_while_awake_and_after_a_restart() {
    const ACTORS: usize = 4;
    const MESSAGES: usize = 500;
    let data = tempfile::tempdir().expect("temp dir");
    let server = Server::start_on(None, Some(data.path())).await;
    let client = Client::new(&server.endpoint);
    let sorters: Vec<_> = (0..ACTORS)
        .map(|i| client.get_or_create::<rivet_tests::Sorter>([format!("backlog-{i}")]))
        .collect();
    // Awake, their run loops held at a gate nobody opens: nothing takes from their queues.
    for sorter in &sorters {
        sorter
            .send_later("first".to_owned())
            .within()
            .await
            .unwrap();
    }
    let before = server.memory();
    let text = "q".repeat(60_000);
    futures_util::future::join_all(sorters.iter().map(|sorter| async {
        for _ in 0..MESSAGES {
            sorter.send_later(text.clone()).within().await.unwrap();
        }
    }))
    .await;
    let queued_kib = (ACTORS * MESSAGES * text.len() / 1024) as u64;
    let growth = server.growth_since(before);
    eprintln!("queues of {queued_kib} KiB: peak growth {growth} KiB");
    assert!(
        growth < queued_kib / 4,
        "peak growth {growth} KiB while queues hold {queued_kib} KiB"
    );

    // After a crash, start-up wakes each (their messages are ones a run loop may take) and
    // loads its queue's index a page at a time.
    drop(server);
    let server = Server::start_on(None, Some(data.path())).await;
    let client = Client::new(&server.endpoint);
    for i in 0..ACTORS {
        let sorter = client.get_or_create::<rivet_tests::Sorter>([format!("backlog-{i}")]);
        let sorted = sorter.sorted().within().await.unwrap();
        assert!(sorted.later.is_empty(), "nothing took the messages");
    }
    let peak = server.memory().peak_kib;
    eprintln!(
        "after a restart: peak {peak} KiB, against {} KiB before the messages",
        before.rss_kib
    );
    assert!(
        peak.saturating_sub(before.rss_kib) < queued_kib / 4,
        "peak {peak} KiB after a restart with {queued_kib} KiB queued (before: {} KiB)",
        before.rss_kib
    );
}

#[tokio::test]
async fn the_token_is_required_and_never_logged() {
    const TOKEN: &str = "tok-8f3a1c9e-never-logged";
    let server = Server::start(Some(TOKEN)).await;
    let http = rivet_tests::support::net::http();
    let list = format!("{}/actors?name=counter", server.endpoint);
    let refused = http.get(&list).send().within().await.unwrap();
    assert_eq!(refused.status().as_u16(), 401);
    let wrong = http
        .get(&list)
        .bearer_auth("tok-wrong")
        .send()
        .within()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    let body = wrong.text().within().await.unwrap();
    assert!(
        body.contains("unauthorized") && !body.contains("tok-wrong"),
        "{body}"
    );
    let allowed = http
        .get(&list)
        .bearer_auth(TOKEN)
        .send()
        .within()
        .await
        .unwrap();
    assert_eq!(allowed.status().as_u16(), 200);
    let client = Client::builder(&server.endpoint)
        .token(TOKEN)
        .build()
        .unwrap();
    let counter = client.get_or_create::<rivet_examples::counter::Counter>(["token"]);
    assert_eq!(counter.increment(2).within().await.unwrap(), 2);
    let conn = counter.connect().within().await.unwrap();
    assert_eq!(conn.increment(3).within().await.unwrap(), 5);
    // The inspector takes the server's token too, and refuses any other.
    let id = counter.resolve().within().await.unwrap();
    let state = format!("{}/gateway/{id}/inspector/state", server.endpoint);
    for (token, status) in [("tok-wrong", 401), (TOKEN, 200)] {
        let reply = http
            .get(&state)
            .bearer_auth(token)
            .send()
            .within()
            .await
            .unwrap();
        assert_eq!(reply.status().as_u16(), status, "inspector with {token}");
    }
    let log = server.log();
    assert!(log.contains("auth.unauthorized"), "{log}");
    assert!(log.contains("inspector.unauthorized"), "{log}");
    assert!(!log.contains(TOKEN) && !log.contains("tok-wrong"), "{log}");
}
