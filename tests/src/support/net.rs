//! Network helpers: a client per encoding, the gateway's query form, a registry served on a
//! free port, and a raw WebSocket that speaks the client protocol by hand.

use futures_util::{SinkExt, StreamExt};
use rivet_core::client::Encoding;
use rivet_core::client::protocol::{Frame, ToClient, ToServer};
use rivet_core::{Client, Registry};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::support::sync::{Within, within};

/// A raw client WebSocket.
pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A reqwest client of the tests' own requests. The `tls` feature builds reqwest with rustls
/// but no crypto provider of its own: `ready` installs ring's first, as rivet's own clients do.
pub fn http() -> reqwest::Client {
    rivet_core::client::tls::ready();
    reqwest::Client::new()
}

/// Sends an HTTP request with `headers` and `body`; returns the status and the body as JSON
/// (`null` when it is not JSON).
pub async fn http_json(
    method: reqwest::Method,
    url: &str,
    headers: &[(&str, &str)],
    body: impl Into<reqwest::Body>,
) -> (u16, serde_json::Value) {
    let mut request = http().request(method, url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.body(body).send().within().await.expect("request");
    let status = response.status().as_u16();
    let body = response.bytes().within().await.expect("body");
    (
        status,
        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    )
}

/// The value of the sample `name{labels}` in a Prometheus scrape (`/metrics`), if present.
pub fn sample(scrape: &str, name_and_labels: &str) -> Option<f64> {
    scrape.lines().find_map(|line| {
        let value = line.strip_prefix(name_and_labels)?.strip_prefix(' ')?;
        value.split(' ').next()?.parse().ok()
    })
}

/// Every encoding of the client protocol.
pub const ENCODINGS: [Encoding; 3] = [Encoding::Json, Encoding::Cbor, Encoding::Bare];

/// A network client of `endpoint` speaking `encoding`.
pub fn network_client(endpoint: &str, encoding: Encoding) -> Client {
    Client::builder(endpoint)
        .encoding(encoding)
        .build()
        .expect("client")
}

/// The query form of the gateway, as the official client builds it: actor `name`, key `key`
/// (one part), `method` `get` or `getOrCreate`, then the actor route `path`.
pub fn query_url(endpoint: &str, name: &str, key: &str, method: &str, path: &str) -> String {
    let runner = if method == "getOrCreate" {
        "&rvt-runner=default"
    } else {
        ""
    };
    format!(
        "{endpoint}/gateway/{name}{path}?rvt-namespace=default&rvt-method={method}{runner}&rvt-key={key}"
    )
}

/// Serves `registry` on a free loopback port; returns it with its endpoint.
pub async fn serve(registry: Registry) -> (Registry, String) {
    let addr = within(registry.spawn_server("127.0.0.1:0"))
        .await
        .expect("bind");
    (registry, format!("http://{addr}"))
}

/// Serves an axum `app` (a registry's router nested in an app, a test's collector) on a free
/// loopback port until the test ends; returns its address.
pub async fn serve_router(app: axum::Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .within()
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// Opens a raw `/connect` socket to actor `name` with key `key` (get-or-create), offering the
/// subprotocols `protocols` (such as `rivet, rivet_encoding.json`).
pub async fn open_socket(endpoint: &str, name: &str, key: &str, protocols: &str) -> Socket {
    let url = query_url(endpoint, name, key, "getOrCreate", "/connect").replace("http://", "ws://");
    let mut request = url.into_client_request().expect("request");
    request
        .headers_mut()
        .insert("sec-websocket-protocol", protocols.parse().expect("header"));
    tokio_tungstenite::connect_async(request)
        .within()
        .await
        .expect("upgrade")
        .0
}

/// The next message the server sent on `socket`, decoded; fails the test on anything else
/// (a close, a frame that does not decode).
pub async fn read_message(socket: &mut Socket, encoding: Encoding) -> ToClient {
    let frame = socket.next().within().await;
    let payload = match frame.expect("a frame").expect("a frame") {
        Message::Text(text) => text.as_bytes().to_vec(),
        Message::Binary(bytes) => bytes.to_vec(),
        other => panic!("expected a protocol message, got {other:?}"),
    };
    ToClient::decode(&payload, encoding).expect("decodes")
}

/// Reads the `Init` message that opens every connection.
pub async fn init(socket: &mut Socket, encoding: Encoding) {
    let message = read_message(socket, encoding).await;
    assert!(matches!(message, ToClient::Init { .. }), "{message:?}");
}

/// Sends `message` on `socket`.
pub async fn send_message(socket: &mut Socket, message: &ToServer, encoding: Encoding) {
    let frame = match message.encode(encoding).expect("encodes") {
        Frame::Text(text) => Message::text(text),
        Frame::Binary(bytes) => Message::binary(bytes),
    };
    socket.send(frame).within().await.expect("send");
}

/// Talks to the `lobby` actor's `#[on_websocket]` over `socket`: its greeting (`welcome`, then
/// the path the actor saw), a text and a binary message echoed back (the text upper-cased),
/// then `bye`, which the actor answers by closing with 4000 `bye`.
pub async fn check_lobby_socket(socket: &mut Socket, path: &str) {
    let text = |m: Option<Result<Message, _>>| match m {
        Some(Ok(Message::Text(t))) => t.to_string(),
        other => panic!("expected text, got {other:?}"),
    };
    assert_eq!(
        text(socket.next().within().await),
        format!("welcome {path}")
    );
    socket
        .send(Message::text("hey"))
        .within()
        .await
        .expect("send");
    assert_eq!(text(socket.next().within().await), "HEY");
    socket
        .send(Message::binary(vec![1u8, 2, 3]))
        .within()
        .await
        .expect("send");
    match socket.next().within().await {
        Some(Ok(Message::Binary(b))) => assert_eq!(&b[..], [1, 2, 3]),
        other => panic!("expected binary, got {other:?}"),
    }
    socket
        .send(Message::text("bye"))
        .within()
        .await
        .expect("send");
    match socket.next().within().await {
        Some(Ok(Message::Close(Some(frame)))) => {
            assert_eq!(
                (u16::from(frame.code), frame.reason.as_str()),
                (4000, "bye")
            );
        }
        other => panic!("expected a close, got {other:?}"),
    }
}
