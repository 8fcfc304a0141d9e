//! WebSocket routes: `/connect` (the client protocol) and `/websocket/*` (raw sockets).

use axum::extract::WebSocketUpgrade;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::response::Response;
use bytes::Bytes;
use http::HeaderMap;
use rivet_client::protocol::{Encoding, Frame, ToClient, ToServer};
use rivet_client::transport::{ConnMessage, ConnSender};
use rivet_client::{ActorError, ActorTarget, codes};
use tokio::sync::{mpsc, oneshot};

use super::request::params_from_json;
use crate::config::ServerConfig;
use crate::conn::ConnKind;
use crate::mailbox::{ConnRef, Envelope, RawSocketEnvelope, ReplyTo};
use crate::raw::{RawCommand, RawMessage};
use crate::registry::Registry;
use crate::url::percent_decode;

/// A WebSocket as the routes drive it: axum's, or one the engine tunnels to an envoy (runner
/// mode), so both run the same connection code.
pub(crate) trait ServerSocket: Send + 'static {
    /// The next message; `None` once the socket is gone.
    fn recv(&mut self) -> impl Future<Output = Option<Result<Message, axum::Error>>> + Send;
    /// Sends one message.
    fn send(&mut self, message: Message) -> impl Future<Output = Result<(), axum::Error>> + Send;
}

impl ServerSocket for WebSocket {
    fn recv(&mut self) -> impl Future<Output = Option<Result<Message, axum::Error>>> + Send {
        WebSocket::recv(self)
    }

    fn send(&mut self, message: Message) -> impl Future<Output = Result<(), axum::Error>> + Send {
        WebSocket::send(self, message)
    }
}

/// The subprotocol the server always answers with (the client requires one).
const PROTOCOL_RIVET: &str = "rivet";
const PROTOCOL_ENCODING: &str = "rivet_encoding.";
const PROTOCOL_CONN_PARAMS: &str = "rivet_conn_params.";

fn subprotocols(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(http::header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect()
}

/// What the handshake asked for.
pub(crate) struct Handshake {
    encoding: Result<Encoding, String>,
    params: Result<Option<Bytes>, ActorError>,
}

pub(crate) fn handshake(headers: &HeaderMap) -> Handshake {
    let protocols = subprotocols(headers);
    let encoding = match protocols
        .iter()
        .find_map(|p| p.strip_prefix(PROTOCOL_ENCODING))
    {
        None => Ok(Encoding::Json),
        Some(name) => Encoding::parse(name).ok_or_else(|| name.to_owned()),
    };
    let params = match protocols
        .iter()
        .find_map(|p| p.strip_prefix(PROTOCOL_CONN_PARAMS))
    {
        None => Ok(None),
        Some(encoded) => percent_decode(encoded)
            .ok_or_else(|| {
                codes::INVALID_REQUEST
                    .with_message("Connection parameters are not percent-encoded JSON.")
            })
            .and_then(|json| params_from_json(&json))
            .map(Some),
    };
    Handshake { encoding, params }
}

/// `GET /connect`: a connection speaking the client protocol.
pub(crate) fn connect(
    registry: Registry,
    target: ActorTarget,
    upgrade: WebSocketUpgrade,
    headers: &HeaderMap,
) -> Response {
    let handshake = handshake(headers);
    upgrade
        .protocols([PROTOCOL_RIVET])
        .on_upgrade(move |socket| run_connection(registry, target, socket, handshake))
}

pub(crate) async fn close(socket: &mut impl ServerSocket, code: u16, reason: &str) {
    // The close reason is limited to 123 bytes.
    let mut reason = reason.to_owned();
    while reason.len() > 123 {
        reason.pop();
    }
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        })))
        .await;
}

async fn send_frame(socket: &mut impl ServerSocket, frame: Frame) -> bool {
    let message = match frame {
        Frame::Text(text) => Message::Text(text.into()),
        Frame::Binary(bytes) => Message::Binary(bytes.into()),
    };
    socket.send(message).await.is_ok()
}

/// Encodes a message; `None` (after logging) if it cannot be.
fn encode(message: &ToClient, encoding: Encoding) -> Option<Frame> {
    match message.encode(encoding) {
        Ok(frame) => Some(frame),
        Err(error) => {
            tracing::error!(%error, "cannot encode a message for the client");
            None
        }
    }
}

pub(crate) async fn run_connection(
    registry: Registry,
    target: ActorTarget,
    mut socket: impl ServerSocket,
    handshake: Handshake,
) {
    let encoding = match handshake.encoding {
        Ok(encoding) => encoding,
        Err(name) => {
            tracing::debug!(encoding = %name, "unsupported WebSocket encoding");
            close(&mut socket, 1003, "actor.unsupported_websocket_encoding").await;
            return;
        }
    };
    let (sink, events) = mpsc::unbounded_channel();
    let opened = match handshake.params {
        Ok(params) => open_connection(&registry, &target, params, sink.clone()).await,
        Err(error) => Err(error),
    };
    let (actor_id, conn_id) = match opened {
        Ok(ids) => ids,
        Err(error) => {
            // The client rejects its open promise with this error, then sees the close.
            let message = ToClient::Error {
                error: error.clone(),
                action_id: None,
            };
            if let Some(frame) = encode(&message, encoding) {
                send_frame(&mut socket, frame).await;
            }
            close(&mut socket, 1011, &error.full_code()).await;
            return;
        }
    };
    let connection = Connection {
        actor: ActorTarget::Id {
            name: target.name().to_owned(),
            id: actor_id.clone(),
        },
        conn_id,
        sink,
        encoding,
        config: registry.server_config().clone(),
        registry,
    };
    let init = ToClient::Init {
        actor_id,
        connection_id: connection.conn_id.clone(),
    };
    if let Some(frame) = encode(&init, encoding)
        && send_frame(&mut socket, frame).await
    {
        connection.relay(&mut socket, events).await;
    }
    let disconnect = Envelope::Disconnect {
        conn: connection.conn_id,
    };
    let _ = connection
        .registry
        .inner()
        .deliver(&connection.actor, disconnect)
        .await;
}

/// Opens the actor's side of a connection; returns the actor's id and the connection's.
async fn open_connection(
    registry: &Registry,
    target: &ActorTarget,
    params: Option<Bytes>,
    sink: ConnSender,
) -> Result<(String, String), ActorError> {
    let (tx, rx) = oneshot::channel();
    let envelope = Envelope::Connect {
        params,
        kind: ConnKind::WebSocket,
        sink,
        reply: tx,
    };
    let actor_id = registry.inner().deliver(target, envelope).await.ok();
    let conn_id = rx
        .await
        .unwrap_or_else(|_| Err(codes::DROPPED_REPLY.error()))?;
    Ok((actor_id.map(|a| a.to_string()).unwrap_or_default(), conn_id))
}

/// An open client-protocol connection: relays the client's messages to the actor and the
/// actor's to the client.
struct Connection {
    registry: Registry,
    actor: ActorTarget,
    conn_id: String,
    sink: ConnSender,
    encoding: Encoding,
    config: ServerConfig,
}

impl Connection {
    /// Relays until either side closes.
    async fn relay(
        &self,
        socket: &mut impl ServerSocket,
        mut events: mpsc::UnboundedReceiver<ConnMessage>,
    ) {
        loop {
            tokio::select! {
                incoming = socket.recv() => {
                    let payload = match incoming {
                        Some(Ok(Message::Text(text))) => Bytes::from(text),
                        Some(Ok(Message::Binary(bytes))) => bytes,
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                        Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                    };
                    if !self.pass_on(socket, &payload).await {
                        return;
                    }
                }
                outgoing = events.recv() => {
                    let Some(outgoing) = outgoing else { return };
                    let limit = self.config.max_outgoing_message_size;
                    if !deliver(socket, outgoing, self.encoding, limit).await {
                        return;
                    }
                }
            }
        }
    }

    /// Passes one client message to the actor; returns whether the socket stays open (an
    /// oversized or malformed message closes it).
    async fn pass_on(&self, socket: &mut impl ServerSocket, payload: &[u8]) -> bool {
        if payload.len() > self.config.max_incoming_message_size {
            close(socket, 1011, "message.incoming_too_long").await;
            return false;
        }
        let message = match ToServer::decode(payload, self.encoding) {
            Ok(message) => message,
            Err(error) => {
                tracing::debug!(%error, "malformed client message");
                close(socket, 1011, "actor.invalid_request").await;
                return false;
            }
        };
        let envelope = match message {
            ToServer::ActionRequest { id, name, args } => Envelope::Action {
                name: name.into(),
                args,
                conn: ConnRef::Id(self.conn_id.clone()),
                reply: ReplyTo::Conn {
                    sink: self.sink.clone(),
                    id,
                },
                chain: None,
            },
            ToServer::SubscriptionRequest {
                event_name,
                subscribe,
            } => Envelope::Subscribe {
                conn: self.conn_id.clone(),
                event: event_name,
                subscribe,
            },
        };
        let _ = self.registry.inner().deliver(&self.actor, envelope).await;
        true
    }
}

/// Writes one message from the actor; returns whether the socket stays open.
async fn deliver(
    socket: &mut impl ServerSocket,
    message: ConnMessage,
    encoding: Encoding,
    limit: usize,
) -> bool {
    let (message, action_id) = match message {
        ConnMessage::Event { name, args } => (
            ToClient::Event {
                name: name.to_string(),
                args,
            },
            None,
        ),
        ConnMessage::ActionResponse {
            id,
            result: Ok(output),
        } => (ToClient::ActionResponse { id, output }, Some(id)),
        ConnMessage::ActionResponse {
            id,
            result: Err(error),
        } => (
            ToClient::Error {
                error,
                action_id: Some(id),
            },
            Some(id),
        ),
        ConnMessage::Closed(reason) => {
            match reason {
                Some(error) => {
                    let message = ToClient::Error {
                        error: error.clone(),
                        action_id: None,
                    };
                    if let Some(frame) = encode(&message, encoding) {
                        send_frame(socket, frame).await;
                    }
                    close(socket, 1011, &error.full_code()).await;
                }
                None => close(socket, 1000, "").await,
            }
            return false;
        }
        _ => return true,
    };
    let Some(frame) = encode(&message, encoding) else {
        return true;
    };
    if frame.len() > limit {
        return match action_id {
            // The action's caller gets the error instead of the output.
            Some(id) => {
                let error = ToClient::Error {
                    error: codes::OUTGOING_TOO_LONG.error(),
                    action_id: Some(id),
                };
                match encode(&error, encoding) {
                    Some(frame) => send_frame(socket, frame).await,
                    None => true,
                }
            }
            None => {
                close(socket, 1011, "message.outgoing_too_long").await;
                false
            }
        };
    }
    send_frame(socket, frame).await
}

/// `GET /websocket/*`: a raw socket handed to the actor's `#[on_websocket]`.
pub(crate) fn raw(
    registry: Registry,
    target: ActorTarget,
    upgrade: WebSocketUpgrade,
    parts: http::request::Parts,
    uri: String,
) -> Response {
    upgrade
        .protocols([PROTOCOL_RIVET])
        .on_upgrade(move |socket| run_raw(registry, target, socket, parts, uri))
}

pub(crate) async fn run_raw(
    registry: Registry,
    target: ActorTarget,
    mut socket: impl ServerSocket,
    parts: http::request::Parts,
    uri: String,
) {
    let mut builder = http::Request::builder().method(parts.method).uri(uri);
    for (name, value) in &parts.headers {
        builder = builder.header(name, value);
    }
    let Ok(request) = builder.body(()) else {
        close(&mut socket, 1011, "actor.invalid_request").await;
        return;
    };
    let id = crate::ids::new_id();
    let (commands_tx, mut commands) = mpsc::unbounded_channel();
    let open = Envelope::RawSocket(RawSocketEnvelope::Open {
        id: id.clone(),
        request,
        commands: commands_tx,
    });
    let Ok(actor_id) = registry.inner().deliver(&target, open).await else {
        close(&mut socket, 1011, "actor.not_found").await;
        return;
    };
    let actor = ActorTarget::Id {
        name: target.name().to_owned(),
        id: actor_id.to_string(),
    };
    let (mut code, mut reason) = (None, String::new());
    loop {
        tokio::select! {
            incoming = socket.recv() => {
                let message = match incoming {
                    Some(Ok(Message::Text(text))) => RawMessage::Text(text.to_string()),
                    Some(Ok(Message::Binary(bytes))) => RawMessage::Binary(bytes),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(frame))) => {
                        if let Some(frame) = frame {
                            code = Some(frame.code);
                            reason = frame.reason.to_string();
                        }
                        break;
                    }
                    Some(Err(_)) | None => break,
                };
                let envelope = Envelope::RawSocket(RawSocketEnvelope::Message { id: id.clone(), message });
                let _ = registry.inner().deliver(&actor, envelope).await;
            }
            command = commands.recv() => match command {
                Some(RawCommand::Send(RawMessage::Text(text))) => {
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                Some(RawCommand::Send(RawMessage::Binary(bytes))) => {
                    if socket.send(Message::Binary(bytes)).await.is_err() {
                        break;
                    }
                }
                Some(RawCommand::Close(c, r)) => {
                    close(&mut socket, c, &r).await;
                    code = Some(c);
                    reason = r;
                    break;
                }
                None => break,
            },
        }
    }
    let envelope = Envelope::RawSocket(RawSocketEnvelope::Close { id, code, reason });
    let _ = registry.inner().deliver(&actor, envelope).await;
}
