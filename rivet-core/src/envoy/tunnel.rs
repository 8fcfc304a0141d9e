//! Client traffic the engine's gateway tunnels through the envoy connection: an HTTP request for
//! an actor runs through the same routes as the embedded server (`Registry::router`, under
//! `/gateway/{actor id}`), and its response goes back as one tunnel message (bodies the engine
//! streams in chunks are gathered first); a WebSocket runs through the same socket code as the
//! embedded server's `/connect` and `/websocket/*`, its frames carried as tunnel messages.

use std::collections::HashMap;

use axum::Router;
use axum::extract::ws::{CloseFrame, Message};
use bytes::{Bytes, BytesMut};
use rivet_envoy_protocol as p;
use tokio::sync::mpsc;
use tower::ServiceExt;

use super::link::Link;
use super::protocol::ToRivet;
use crate::registry::Registry;
use crate::server::{ServerSocket, tunnelled_socket};
use rivet_client::codes;

/// What tunnelled traffic runs against.
pub(crate) struct Target<'a> {
    pub(crate) router: &'a Router,
    pub(crate) registry: &'a Registry,
    pub(crate) link: &'a Link,
    /// The largest response body the engine takes.
    pub(crate) max_body: usize,
}

type RequestKey = ([u8; 4], [u8; 4]);

/// Requests whose body is still arriving, and the open WebSockets, by gateway and request id.
#[derive(Debug, Default)]
pub(crate) struct Tunnel {
    pending: HashMap<RequestKey, (p::ToEnvoyRequestStart, BytesMut)>,
    sockets: HashMap<RequestKey, mpsc::UnboundedSender<Message>>,
}

impl Tunnel {
    /// Handles one tunnel message from the engine. `hosted` tells whether an actor runs here:
    /// traffic for another is refused with the error the gateway retries on.
    pub(crate) fn handle(
        &mut self,
        message: p::ToEnvoyTunnelMessage,
        target: &Target<'_>,
        hosted: impl Fn(&str) -> bool,
    ) {
        let id = message.message_id;
        let key = (id.gateway_id, id.request_id);
        match message.message_kind {
            p::ToEnvoyTunnelMessageKind::ToEnvoyRequestStart(start) => {
                if !hosted(&start.actor_id) {
                    send(target.link, id, not_here());
                } else if start.stream {
                    let body = BytesMut::from(start.body.as_deref().unwrap_or_default());
                    self.pending.insert(key, (start, body));
                } else {
                    let body = start.body.clone().unwrap_or_default();
                    spawn_request(target, id, start, body);
                }
            }
            p::ToEnvoyTunnelMessageKind::ToEnvoyRequestChunk(chunk) => {
                let Some((_, body)) = self.pending.get_mut(&key) else {
                    return;
                };
                body.extend_from_slice(&chunk.body);
                if chunk.finish
                    && let Some((start, body)) = self.pending.remove(&key)
                {
                    spawn_request(target, id, start, body.freeze());
                }
            }
            p::ToEnvoyTunnelMessageKind::ToEnvoyRequestAbort(_)
            | p::ToEnvoyTunnelMessageKind::ToEnvoyRequestBodyCancel => {
                self.pending.remove(&key);
            }
            p::ToEnvoyTunnelMessageKind::ToEnvoyResponseBodyWindowUpdate(_) => {}
            p::ToEnvoyTunnelMessageKind::ToEnvoyWebSocketOpen(open) => {
                if hosted(&open.actor_id) {
                    self.open_socket(target, id, open);
                } else {
                    let reason = codes::engine::ENVOY_ACTOR_NOT_FOUND.error().full_code();
                    send(target.link, id, close(1011, &reason));
                }
            }
            p::ToEnvoyTunnelMessageKind::ToEnvoyWebSocketMessage(message) => {
                if let Some(socket) = self.sockets.get(&key) {
                    let message = if message.binary {
                        Message::Binary(message.data)
                    } else {
                        match String::from_utf8(message.data.to_vec()) {
                            Ok(text) => Message::Text(text.into()),
                            Err(_) => Message::Binary(message.data),
                        }
                    };
                    let _ = socket.send(message);
                }
            }
            p::ToEnvoyTunnelMessageKind::ToEnvoyWebSocketClose(closed) => {
                if let Some(socket) = self.sockets.remove(&key) {
                    let frame = closed.code.map(|code| CloseFrame {
                        code,
                        reason: closed.reason.as_deref().unwrap_or_default().into(),
                    });
                    let _ = socket.send(Message::Close(frame));
                }
            }
        }
    }

    /// Accepts a WebSocket and runs it through the server's socket routes.
    fn open_socket(
        &mut self,
        target: &Target<'_>,
        id: p::MessageId,
        open: p::ToEnvoyWebSocketOpen,
    ) {
        let (tx, rx) = mpsc::unbounded_channel();
        self.sockets.insert((id.gateway_id, id.request_id), tx);
        let opened = p::ToRivetWebSocketOpen {
            can_hibernate: false,
        };
        send(
            target.link,
            id.clone(),
            p::ToRivetTunnelMessageKind::ToRivetWebSocketOpen(opened),
        );
        let socket = TunnelSocket {
            incoming: rx,
            link: target.link.clone(),
            id,
            closed: false,
        };
        let mut headers = http::HeaderMap::new();
        for (name, value) in &open.headers {
            if let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                http::HeaderValue::from_str(value),
            ) {
                headers.append(name, value);
            }
        }
        let registry = target.registry.clone();
        tokio::spawn(async move {
            tunnelled_socket(registry, &open.actor_id, &open.path, headers, socket).await;
        });
    }
}

/// A WebSocket whose frames travel as tunnel messages. Its messages to the engine are numbered
/// from 1 (the open was 0).
struct TunnelSocket {
    incoming: mpsc::UnboundedReceiver<Message>,
    link: Link,
    id: p::MessageId,
    closed: bool,
}

impl TunnelSocket {
    fn next_id(&mut self) -> p::MessageId {
        self.id.message_index = self.id.message_index.wrapping_add(1);
        self.id.clone()
    }
}

impl Drop for TunnelSocket {
    fn drop(&mut self) {
        if !self.closed {
            let id = self.next_id();
            send(&self.link, id, close(1000, ""));
        }
    }
}

impl ServerSocket for TunnelSocket {
    fn checks_liveness(&self) -> bool {
        false
    }

    async fn recv(&mut self) -> Option<Result<Message, axum::Error>> {
        self.incoming.recv().await.map(Ok)
    }

    fn send(&mut self, message: Message) -> impl Future<Output = Result<(), axum::Error>> + Send {
        let kind = match message {
            Message::Text(text) => Some(p::ToRivetTunnelMessageKind::ToRivetWebSocketMessage(
                p::ToRivetWebSocketMessage {
                    data: Bytes::from(text),
                    binary: false,
                },
            )),
            Message::Binary(data) => Some(p::ToRivetTunnelMessageKind::ToRivetWebSocketMessage(
                p::ToRivetWebSocketMessage { data, binary: true },
            )),
            Message::Close(frame) => {
                self.closed = true;
                Some(match frame {
                    Some(frame) => close(frame.code, frame.reason.as_str()),
                    None => close(1000, ""),
                })
            }
            Message::Ping(_) | Message::Pong(_) => None,
        };
        if let Some(kind) = kind {
            let id = self.next_id();
            send(&self.link, id, kind);
        }
        std::future::ready(Ok(()))
    }
}

fn close(code: u16, reason: &str) -> p::ToRivetTunnelMessageKind {
    p::ToRivetTunnelMessageKind::ToRivetWebSocketClose(p::ToRivetWebSocketClose {
        code: Some(code),
        reason: Some(reason.to_owned().into()),
        hibernate: false,
    })
}

/// The answer for an actor that is not on this envoy (any more): the gateway retries it.
fn not_here() -> p::ToRivetTunnelMessageKind {
    let error = codes::engine::ENVOY_ACTOR_NOT_FOUND;
    let body = serde_json::json!({
        "group": error.group,
        "code": error.code,
        "message": error.default_message,
    })
    .to_string();
    let headers = [
        ("x-rivet-error", error.error().full_code()),
        ("content-type", "application/json".to_owned()),
        ("content-length", body.len().to_string()),
    ]
    .into_iter()
    .map(|(name, value)| (name.into(), value.into()))
    .collect();
    p::ToRivetTunnelMessageKind::ToRivetResponseStart(p::ToRivetResponseStart {
        status: 503,
        headers,
        body: Some(body.into()),
        stream: false,
    })
}

fn send(link: &Link, id: p::MessageId, kind: p::ToRivetTunnelMessageKind) {
    link.send(ToRivet::ToRivetTunnelMessage(p::ToRivetTunnelMessage {
        message_id: id,
        message_kind: kind,
    }));
}

fn spawn_request(
    target: &Target<'_>,
    id: p::MessageId,
    start: p::ToEnvoyRequestStart,
    body: Bytes,
) {
    let router = target.router.clone();
    let link = target.link.clone();
    let max_body = target.max_body;
    tokio::spawn(async move {
        let kind = match respond(router, start, body, max_body).await {
            Ok(response) => p::ToRivetTunnelMessageKind::ToRivetResponseStart(response),
            Err(detail) => {
                tracing::warn!(%detail, "a tunnelled request failed");
                p::ToRivetTunnelMessageKind::ToRivetResponseAbort(p::ToRivetResponseAbort {
                    reason: p::HttpStreamAbortReason {
                        kind: p::HttpStreamAbortReasonKind::InternalError,
                        detail: Some(detail.into()),
                    },
                })
            }
        };
        send(&link, id, kind);
    });
}

/// Runs one request through the routes and returns its whole response.
async fn respond(
    router: Router,
    start: p::ToEnvoyRequestStart,
    body: Bytes,
    max_body: usize,
) -> Result<p::ToRivetResponseStart, String> {
    let path = if start.path.starts_with('/') {
        start.path.to_string()
    } else {
        format!("/{}", start.path)
    };
    let uri = format!("/gateway/{}{path}", start.actor_id);
    let mut request = http::Request::builder()
        .method(start.method.as_str())
        .uri(uri);
    for (name, value) in &start.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let request = request
        .body(axum::body::Body::from(body))
        .map_err(|error| format!("the engine's request is not valid HTTP: {error}"))?;
    let Ok(response) = router.oneshot(request).await;
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, max_body)
        .await
        .map_err(|error| format!("the response body could not be read: {error}"))?;
    let headers = parts
        .headers
        .iter()
        .filter_map(|(name, value)| {
            let value = value.to_str().ok()?.to_owned();
            Some((name.as_str().to_owned().into(), value.into()))
        })
        .collect();
    Ok(p::ToRivetResponseStart {
        status: parts.status.as_u16(),
        headers,
        body: Some(body),
        stream: false,
    })
}
