//! Bad input over the network, in every encoding: malformed HTTP bodies and WebSocket frames,
//! unknown actions, wrong arguments, oversized messages, unsupported encodings and bad connection
//! parameters each get the documented error; a connection closes where the protocol says so; the
//! server and the other actors carry on.

use futures_util::{SinkExt, StreamExt};
use rivet_core::client::protocol::{HttpActionRequest, ToClient};
use rivet_core::client::{Encoding, ErrorCode, codec};
use rivet_core::{Client, Registry, codes};
use rivet_examples::counter::Counter;
use rivet_tests::{
    ENCODINGS, Probe, Socket, Within, http_json, init, network_client, open_socket, query_url,
    recv, serve, serve_memory, within,
};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// The query form of the gateway with `getOrCreate`.
fn gateway(endpoint: &str, name: &str, key: &str, path: &str) -> String {
    query_url(endpoint, name, key, "getOrCreate", path)
}

/// Posts `body` with the `x-rivet-encoding` header; returns the status and the JSON error body.
async fn post(url: &str, encoding: &str, body: Vec<u8>) -> (u16, Value) {
    let headers = [("x-rivet-encoding", encoding)];
    http_json(reqwest::Method::POST, url, &headers, body).await
}

fn assert_code(reply: &(u16, Value), status: u16, code: ErrorCode, context: &str) {
    assert_eq!(reply.0, status, "{context}: {}", reply.1);
    assert_eq!(reply.1["group"], code.group, "{context}: {}", reply.1);
    assert_eq!(reply.1["code"], code.code, "{context}: {}", reply.1);
}

/// Reads until the server closes; returns the close code and reason and the messages before it.
async fn until_close(socket: &mut Socket) -> (u16, String, Vec<Message>) {
    within(async {
        let mut before = Vec::new();
        while let Some(message) = socket.next().within().await {
            match message.expect("frame") {
                Message::Close(frame) => {
                    let (code, reason) = frame.map_or((1005, String::new()), |f| {
                        (f.code.into(), f.reason.to_string())
                    });
                    return (code, reason, before);
                }
                other => before.push(other),
            }
        }
        panic!("the socket ended without a close frame");
    })
    .await
}

#[tokio::test]
async fn malformed_http_bodies_get_invalid_request_in_every_encoding() {
    let (registry, endpoint) = serve_memory().await;
    let url = gateway(&endpoint, "counter", "http-bad", "/action/increment");
    let garbage: [(Encoding, &[&[u8]]); 3] = [
        (Encoding::Json, &[b"{", b"[]", b"5", b""]),
        (Encoding::Cbor, &[&[0xff], &[0xa1, 0x64], &[0x80], &[]]),
        (
            Encoding::Bare,
            &[
                &[],
                &[0x04],
                &[0x04, 0x00, 0xff, 0xff, 0xff, 0xff, 0x0f],
                &[0x09, 0x00, 0x00],
            ],
        ),
    ];
    for (encoding, bodies) in garbage {
        for body in bodies {
            let reply = post(&url, encoding.as_str(), body.to_vec()).await;
            assert_code(
                &reply,
                400,
                codes::INVALID_REQUEST,
                &format!("{encoding:?} {body:?}"),
            );
        }
        // Well-formed bodies with the wrong arguments, or for an unknown action.
        let wrong = HttpActionRequest::encode(&codec::to_cbor(&("five",)).expect("cbor"), encoding)
            .expect("body");
        let reply = post(&url, encoding.as_str(), wrong.clone()).await;
        assert_code(&reply, 400, codes::VALIDATION_ERROR, encoding.as_str());
        let unknown = gateway(&endpoint, "counter", "http-bad", "/action/nothing");
        assert_code(
            &post(&unknown, encoding.as_str(), wrong).await,
            404,
            codes::ACTION_NOT_FOUND,
            "unknown",
        );
    }
    let reply = post(&url, "xml", b"{}".to_vec()).await;
    assert_code(&reply, 400, codes::UNSUPPORTED_ENCODING, "xml");
    let bad_params = rivet_tests::support::net::http()
        .post(&url)
        .header("x-rivet-conn-params", "{not json")
        .body(r#"{"args":[1]}"#)
        .send()
        .within()
        .await
        .expect("request");
    assert_eq!(bad_params.status().as_u16(), 400);
    // Nothing ran and nothing broke.
    let counter = Client::new(endpoint.clone()).get_or_create::<Counter>(["http-bad"]);
    assert_eq!(counter.increment(1).within().await.unwrap(), 1);
    registry.shutdown().within().await;
}

#[tokio::test]
async fn oversized_http_bodies_are_refused_at_the_default_limit() {
    let (registry, endpoint) = serve_memory().await;
    let url = gateway(&endpoint, "counter", "http-big", "/action/increment");
    let big = format!(r#"{{"args":["{}"]}}"#, "x".repeat(65 * 1024));
    let reply = post(&url, "json", big.clone().into_bytes()).await;
    assert_code(&reply, 400, codes::INCOMING_TOO_LONG, "action");
    let queue = gateway(&endpoint, "worker", "http-big", "/queue/jobs");
    let reply = post(&queue, "json", big.into_bytes()).await;
    assert_code(&reply, 400, codes::INCOMING_TOO_LONG, "queue");
    let counter = Client::new(endpoint.clone()).get_or_create::<Counter>(["http-big"]);
    assert_eq!(counter.increment(1).within().await.unwrap(), 1);
    registry.shutdown().within().await;
}

#[tokio::test]
async fn malformed_frames_close_only_their_connection() {
    let (registry, endpoint) = serve_memory().await;
    let client = Client::new(endpoint.clone());
    let healthy = client
        .get_or_create::<Counter>(["frames"])
        .connect()
        .within()
        .await
        .unwrap();
    let (tx, mut counts) = mpsc::unbounded_channel();
    healthy.on_new_count(move |n| {
        let _ = tx.send(n);
    });
    let garbage: [(Encoding, Message); 5] = [
        (Encoding::Json, Message::text("{")),
        (
            Encoding::Json,
            Message::text(r#"{"body":{"tag":"Nope","val":{}}}"#),
        ),
        (Encoding::Cbor, Message::binary(vec![0xff])),
        (Encoding::Bare, Message::binary(vec![0x03, 0x00, 0x09])),
        (Encoding::Bare, Message::binary(vec![0x03])),
    ];
    for (encoding, frame) in garbage {
        let context = format!("{encoding:?} {frame:?}");
        let mut socket = open_socket(
            &endpoint,
            "counter",
            "frames",
            &format!("rivet, rivet_encoding.{}", encoding.as_str()),
        )
        .await;
        init(&mut socket, encoding).await;
        socket.send(frame).within().await.expect("send");
        let (code, reason, _) = until_close(&mut socket).await;
        assert_eq!(
            (code, reason.as_str()),
            (1011, "actor.invalid_request"),
            "{context}"
        );
    }
    // The other connection on the same actor never noticed.
    assert_eq!(healthy.increment(2).within().await.unwrap(), 2);
    assert_eq!(recv(&mut counts).await, 2);
    registry.shutdown().within().await;
}

#[tokio::test]
async fn unsupported_encodings_and_bad_params_are_refused_on_connect() {
    let (registry, endpoint) = serve_memory().await;
    let mut socket = open_socket(
        &endpoint,
        "counter",
        "handshake",
        "rivet, rivet_encoding.xml",
    )
    .await;
    let (code, reason, before) = until_close(&mut socket).await;
    assert_eq!(
        (code, reason.as_str()),
        (1003, "actor.unsupported_websocket_encoding")
    );
    assert!(before.is_empty(), "no Init before the close: {before:?}");

    // `{` percent-encoded: not JSON. The client gets an Error frame, then the close.
    let mut socket = open_socket(
        &endpoint,
        "counter",
        "handshake",
        "rivet, rivet_encoding.json, rivet_conn_params.%7B",
    )
    .await;
    let (code, reason, before) = until_close(&mut socket).await;
    assert_eq!((code, reason.as_str()), (1011, "actor.invalid_request"));
    let [Message::Text(error)] = &before[..] else {
        panic!("expected one Error frame, got {before:?}");
    };
    match ToClient::decode(error.as_bytes(), Encoding::Json).expect("decodes") {
        ToClient::Error { error, action_id } => {
            assert!(error.is(codes::INVALID_REQUEST), "{error}");
            assert_eq!(action_id, None);
        }
        other => panic!("expected an Error, got {other:?}"),
    }
    registry.shutdown().within().await;
}

/// A registry with small limits, to show they are configurable and enforced both ways.
async fn small_limits() -> (Registry, String) {
    let registry = rivet_examples::registry()
        .with::<Probe>()
        .in_memory()
        .max_incoming_message_size(1024)
        .max_outgoing_message_size(4096)
        .build()
        .expect("registry");
    serve(registry).await
}

#[tokio::test]
async fn configured_limits_apply_to_http_and_websocket_messages() {
    let (registry, endpoint) = small_limits().await;
    for encoding in ENCODINGS {
        let client = network_client(&endpoint, encoding);
        let probe = client.get_or_create::<Probe>(["limits", encoding.as_str()]);
        // Outgoing over HTTP: the caller gets the error instead of the output.
        let err = probe.blob(5000).within().await.unwrap_err();
        assert!(err.is(codes::OUTGOING_TOO_LONG), "{encoding:?}: {err}");
        assert_eq!(probe.blob(100).within().await.unwrap().len(), 100);
        // Incoming over HTTP.
        let err = probe
            .handle()
            .action::<_, ()>("emit", &("y".repeat(2000),))
            .within()
            .await
            .unwrap_err();
        assert!(err.is(codes::INCOMING_TOO_LONG), "{encoding:?}: {err}");

        let conn = probe.connect().within().await.unwrap();
        // Outgoing over a socket: that action fails, the connection stays.
        let err = conn.blob(5000).within().await.unwrap_err();
        assert!(err.is(codes::OUTGOING_TOO_LONG), "{encoding:?}: {err}");
        assert_eq!(conn.blob(10).within().await.unwrap().len(), 10);
        // Incoming over a socket: the server closes it with the reason; the action fails with it.
        let err = conn
            .connection()
            .action::<_, ()>("emit", &("y".repeat(2000),))
            .within()
            .await
            .unwrap_err();
        assert!(err.is(codes::INCOMING_TOO_LONG), "{encoding:?}: {err}");
        // The actor is fine.
        assert_eq!(probe.blob(1).within().await.unwrap(), "x");
    }
    registry.shutdown().within().await;
}
