//! The server's limits, each configured small and hit on purpose: header and idle timeouts, a
//! stalled body, the connection cap, WebSocket liveness, connections per actor, key and name
//! sizes, the creation rate, and raw routes that check the actor's hook before anything else.
//! (What they save in memory is measured in `server_resources.rs`.)

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::Method;
use rivet_core::{Registry, RegistryBuilder, codes};
use rivet_examples::counter::Counter;
use rivet_tests::{Within, open_socket, query_url, serve, within};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

async fn served(builder: RegistryBuilder) -> (Registry, String) {
    serve(builder.in_memory().build().expect("registry")).await
}

fn address(endpoint: &str) -> &str {
    endpoint.trim_start_matches("http://")
}

/// Reads from `stream` until the server closes it; returns everything it sent.
async fn until_closed(stream: &mut TcpStream) -> Vec<u8> {
    within(async {
        let mut received = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return received,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await
}

async fn request(method: Method, url: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = rivet_tests::support::net::http().request(method, url);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let response = request.send().within().await.expect("request");
    let status = response.status().as_u16();
    let body = response.bytes().within().await.expect("body");
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

fn code_of(reply: &(u16, Value)) -> String {
    format!(
        "{}.{}",
        reply.1["group"].as_str().unwrap_or(""),
        reply.1["code"].as_str().unwrap_or("")
    )
}

#[tokio::test]
async fn slow_headers_idle_connections_and_stalled_bodies_are_cut_off() {
    let (registry, endpoint) = served(
        rivet_examples::registry()
            .header_read_timeout(Duration::from_millis(300))
            .body_read_timeout(Duration::from_millis(300)),
    )
    .await;
    let addr = address(&endpoint);

    // Headers that never end.
    let mut trickle = TcpStream::connect(addr).within().await.expect("connect");
    trickle
        .write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .await
        .expect("write");
    until_closed(&mut trickle).await;

    // A kept-alive connection that sends no next request.
    let mut idle = TcpStream::connect(addr).within().await.expect("connect");
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .expect("write");
    let answered = until_closed(&mut idle).await;
    assert!(
        answered.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answered)
    );

    // A body that stops halfway.
    let url = query_url(
        &endpoint,
        "counter",
        "stalled",
        "getOrCreate",
        "/action/increment",
    );
    let path = url.trim_start_matches(&endpoint);
    let mut stalled = TcpStream::connect(addr).within().await.expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"args\":"
    );
    stalled.write_all(head.as_bytes()).await.expect("write");
    let answered = String::from_utf8_lossy(&until_closed(&mut stalled).await).into_owned();
    assert!(answered.starts_with("HTTP/1.1 408"), "{answered}");
    assert!(answered.contains("incoming_timed_out"), "{answered}");
    registry.shutdown().within().await;
}

#[tokio::test]
async fn bodies_wait_for_the_servers_budget_of_bodies_in_flight() {
    let (registry, endpoint) = served(
        rivet_examples::registry()
            .with::<rivet_tests::Lobby>()
            .max_bodies_in_flight(1000),
    )
    .await;
    // Sends a request head asking `100 Continue` first: the server sends it when it starts
    // reading the body, that is, once the body's reservation is made.
    let head = |path: &str, length: usize| {
        format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             Content-Length: {length}\r\nExpect: 100-continue\r\n\r\n"
        )
    };
    let connect = || TcpStream::connect(address(&endpoint)).within();

    // An upload that reserves 900 of the 1000 bytes, and sends nothing yet.
    let upload = query_url(&endpoint, "lobby", "budget", "getOrCreate", "/request/up");
    let mut first = connect().await.expect("connect");
    let path = upload.trim_start_matches(&endpoint).to_owned();
    first
        .write_all(head(&path, 900).as_bytes())
        .await
        .expect("write");
    let continued = String::from_utf8_lossy(&until_head(&mut first).await).into_owned();
    assert!(continued.starts_with("HTTP/1.1 100"), "{continued}");

    // An action whose 200 bytes do not fit in what is left: no `100 Continue` for it...
    let action = query_url(
        &endpoint,
        "counter",
        "budget",
        "getOrCreate",
        "/action/increment",
    );
    let mut second = connect().await.expect("connect");
    let path = action.trim_start_matches(&endpoint).to_owned();
    second
        .write_all(head(&path, 200).as_bytes())
        .await
        .expect("write");
    let health = format!("{endpoint}/health");
    for _ in 0..2 {
        assert_eq!(request(Method::GET, &health, None).await.0, 200);
    }
    let mut probe = [0u8; 64];
    assert!(
        matches!(second.try_read(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the action started reading its body past the budget"
    );
    // ...until the upload is read and answered.
    first.write_all(&[b'x'; 900]).await.expect("write");
    let answered = String::from_utf8_lossy(&until_head(&mut first).await).into_owned();
    assert!(answered.starts_with("HTTP/1.1 201"), "{answered}");
    let continued = String::from_utf8_lossy(&until_head(&mut second).await).into_owned();
    assert!(continued.starts_with("HTTP/1.1 100"), "{continued}");
    let body = format!("{{\"args\":[1]}}{}", " ".repeat(188));
    second.write_all(body.as_bytes()).await.expect("write");
    let answered = String::from_utf8_lossy(&until_head(&mut second).await).into_owned();
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
    registry.shutdown().within().await;
}

/// Reads until a whole response head arrived (or the server closed), a byte at a time so as
/// not to take what follows it.
async fn until_head(stream: &mut TcpStream) -> Vec<u8> {
    within(async {
        let mut received = Vec::new();
        let mut buffer = [0u8; 1];
        while !received.ends_with(b"\r\n\r\n") {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
        received
    })
    .await
}

#[tokio::test]
async fn connections_past_the_cap_are_refused_until_one_closes() {
    let (registry, endpoint) = served(rivet_examples::registry().max_connections(3)).await;
    let mut sockets = Vec::new();
    for i in 0..3 {
        let mut socket = open_socket(&endpoint, "counter", &format!("cap-{i}"), "rivet").await;
        let init = socket.next().within().await.expect("init").expect("ok");
        assert!(matches!(init, Message::Text(_)), "{init:?}");
        sockets.push(socket);
    }
    // The fourth is accepted and closed at once, before a byte of HTTP.
    let mut refused = TcpStream::connect(address(&endpoint))
        .within()
        .await
        .expect("connect");
    let _ = refused
        .write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await;
    assert!(until_closed(&mut refused).await.is_empty());
    // A closed socket gives its slot back (once the server has dropped its end).
    drop(sockets.pop());
    let health = format!("{endpoint}/health");
    within(async {
        while rivet_tests::support::net::http()
            .get(&health)
            .send()
            .await
            .is_err()
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    registry.shutdown().within().await;
}

#[tokio::test]
async fn websocket_peers_that_stop_answering_pings_are_closed() {
    let (registry, endpoint) =
        served(rivet_examples::registry().ws_liveness_timeout(Duration::from_millis(300))).await;
    let url = query_url(&endpoint, "counter", "silent", "getOrCreate", "/connect");
    let path = url.trim_start_matches(&endpoint);
    // A WebSocket client that completes the upgrade, then never answers (reading raw bytes
    // answers no ping).
    let mut stream = TcpStream::connect(address(&endpoint))
        .within()
        .await
        .expect("connect");
    let upgrade = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Protocol: rivet\r\n\r\n"
    );
    stream.write_all(upgrade.as_bytes()).await.expect("write");
    let received = until_closed(&mut stream).await;
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 101"), "{text}");
    // Pings (opcode 0x9) came first, then the close with its reason.
    assert!(received.contains(&0x89), "no ping in {received:?}");
    assert!(text.contains("ws.timed_out"), "{text}");
    registry.shutdown().within().await;
}

#[tokio::test]
async fn an_actor_keeps_at_most_its_connection_limit() {
    let (registry, endpoint) =
        served(rivet_examples::registry().max_connections_per_actor(2)).await;
    let client = rivet_core::Client::new(&endpoint);
    let counter = client.get_or_create::<Counter>(["crowded"]);
    let first = counter.connect().within().await.unwrap();
    let second = counter.connect().within().await.unwrap();
    let error = counter.connect().within().await.unwrap_err();
    assert!(error.is(codes::TOO_MANY_CONNECTIONS), "{error}");
    // The open ones work; once one closes, another may open.
    assert_eq!(first.increment(1).within().await.unwrap(), 1);
    drop(second);
    within(async {
        loop {
            match counter.connect().await {
                Ok(conn) => return conn,
                Err(error) => {
                    assert!(error.is(codes::TOO_MANY_CONNECTIONS), "{error}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    })
    .await;
    registry.shutdown().within().await;
}

#[tokio::test]
async fn keys_names_and_the_creation_rate_have_limits() {
    let (registry, endpoint) = served(
        rivet_examples::registry()
            .max_key_size(64, 4)
            .creation_rate(3, 0),
    )
    .await;
    let actors = format!("{endpoint}/actors");
    let put = |body: Value| request(Method::PUT, &actors, Some(body));
    let reply = put(json!({"name": "counter", "key": "k".repeat(100)})).await;
    assert_eq!(
        (reply.0, code_of(&reply)),
        (400, "actor.key_too_large".to_owned())
    );
    let reply = put(json!({"name": "counter", "key": "a/b/c/d/e"})).await;
    assert_eq!(
        (reply.0, code_of(&reply)),
        (400, "actor.key_too_large".to_owned())
    );
    let reply = put(json!({"name": "n".repeat(200), "key": "a"})).await;
    assert_eq!(
        (reply.0, code_of(&reply)),
        (400, "actor.name_too_long".to_owned())
    );
    // The gateway checks a key before looking it up.
    let long = query_url(
        &endpoint,
        "counter",
        &"k".repeat(100),
        "get",
        "/action/getCount",
    );
    let reply = request(Method::POST, &long, Some(json!({"args": []}))).await;
    assert_eq!(code_of(&reply), "actor.key_too_large");

    // Three creations, then the rate refuses (429); existing actors are found and served.
    for i in 0..3 {
        let reply = put(json!({"name": "counter", "key": format!("rate-{i}")})).await;
        assert_eq!(reply.1["created"], true, "{}", reply.1);
    }
    let reply = put(json!({"name": "counter", "key": "rate-3"})).await;
    assert_eq!(
        (reply.0, code_of(&reply)),
        (429, "actor.creation_limited".to_owned())
    );
    let reply = put(json!({"name": "counter", "key": "rate-0"})).await;
    assert_eq!(reply.1["created"], false, "{}", reply.1);
    let counter = rivet_core::Client::new(&endpoint).get_or_create::<Counter>(["rate-1"]);
    assert_eq!(counter.increment(5).within().await.unwrap(), 5);
    let error = rivet_core::Client::new(&endpoint)
        .get_or_create::<Counter>(["rate-4"])
        .increment(1)
        .within()
        .await
        .unwrap_err();
    assert!(error.is(codes::CREATION_LIMITED), "{error}");
    registry.shutdown().within().await;
}

#[tokio::test]
async fn raw_routes_check_the_hook_before_reading_or_creating() {
    let (registry, endpoint) = served(rivet_examples::registry()).await;
    let url = query_url(&endpoint, "counter", "no-hook", "getOrCreate", "/request/x");
    let reply = request(Method::POST, &url, Some(json!({"big": "body"}))).await;
    assert_eq!(
        (reply.0, code_of(&reply)),
        (404, "actor.not_found".to_owned())
    );
    let url = query_url(
        &endpoint,
        "counter",
        "no-hook",
        "getOrCreate",
        "/websocket/x",
    );
    let upgrade = rivet_tests::support::net::http()
        .get(&url)
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send()
        .within()
        .await
        .expect("request");
    assert_eq!(upgrade.status().as_u16(), 404);
    let url = query_url(&endpoint, "nobody", "x", "getOrCreate", "/request/x");
    let reply = request(Method::GET, &url, None).await;
    assert_eq!(code_of(&reply), "actor.not_registered");
    // Neither created the counter.
    let listed = request(
        Method::GET,
        &format!("{endpoint}/actors?name=counter&key=no-hook"),
        None,
    )
    .await;
    assert_eq!(listed.1["actors"], json!([]));
    registry.shutdown().within().await;
}
