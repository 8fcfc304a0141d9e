//! Client traffic the engine's gateway tunnels through the envoy connection: an HTTP request for
//! an actor runs through the same routes as the embedded server (`Registry::router`, under
//! `/gateway/{actor id}`), and its response goes back as one tunnel message. Bodies the engine
//! streams in chunks are gathered first.

use std::collections::HashMap;

use axum::Router;
use bytes::{Bytes, BytesMut};
use rivet_envoy_protocol as p;
use tower::ServiceExt;

use super::link::Link;
use super::protocol::ToRivet;

/// Requests whose body is still arriving, by gateway and request id.
#[derive(Debug, Default)]
pub(crate) struct Tunnel {
    pending: HashMap<([u8; 4], [u8; 4]), (p::ToEnvoyRequestStart, BytesMut)>,
}

impl Tunnel {
    /// Handles one tunnel message from the engine.
    pub(crate) fn handle(
        &mut self,
        message: p::ToEnvoyTunnelMessage,
        router: &Router,
        link: &Link,
        max_body: usize,
    ) {
        let id = message.message_id;
        let request_key = (id.gateway_id, id.request_id);
        match message.message_kind {
            p::ToEnvoyTunnelMessageKind::ToEnvoyRequestStart(start) => {
                if start.stream {
                    let body = BytesMut::from(start.body.as_deref().unwrap_or_default());
                    self.pending.insert(request_key, (start, body));
                } else {
                    let body = start.body.clone().unwrap_or_default();
                    spawn_request(router, link, id, start, body, max_body);
                }
            }
            p::ToEnvoyTunnelMessageKind::ToEnvoyRequestChunk(chunk) => {
                let Some((_, body)) = self.pending.get_mut(&request_key) else {
                    return;
                };
                body.extend_from_slice(&chunk.body);
                if chunk.finish
                    && let Some((start, body)) = self.pending.remove(&request_key)
                {
                    spawn_request(router, link, id, start, body.freeze(), max_body);
                }
            }
            p::ToEnvoyTunnelMessageKind::ToEnvoyRequestAbort(_)
            | p::ToEnvoyTunnelMessageKind::ToEnvoyRequestBodyCancel => {
                self.pending.remove(&request_key);
            }
            p::ToEnvoyTunnelMessageKind::ToEnvoyResponseBodyWindowUpdate(_) => {}
            p::ToEnvoyTunnelMessageKind::ToEnvoyWebSocketOpen(open) => {
                tracing::warn!(actor = %open.actor_id, path = %open.path, "WebSockets through the engine are not served yet");
                send(
                    link,
                    id,
                    p::ToRivetTunnelMessageKind::ToRivetWebSocketClose(p::ToRivetWebSocketClose {
                        code: Some(1011),
                        reason: Some("rivet.websocket_unsupported".into()),
                        hibernate: false,
                    }),
                );
            }
            p::ToEnvoyTunnelMessageKind::ToEnvoyWebSocketMessage(_)
            | p::ToEnvoyTunnelMessageKind::ToEnvoyWebSocketClose(_) => {}
        }
    }
}

fn send(link: &Link, id: p::MessageId, kind: p::ToRivetTunnelMessageKind) {
    link.send(ToRivet::ToRivetTunnelMessage(p::ToRivetTunnelMessage {
        message_id: id,
        message_kind: kind,
    }));
}

fn spawn_request(
    router: &Router,
    link: &Link,
    id: p::MessageId,
    start: p::ToEnvoyRequestStart,
    body: Bytes,
    max_body: usize,
) {
    let router = router.clone();
    let link = link.clone();
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
