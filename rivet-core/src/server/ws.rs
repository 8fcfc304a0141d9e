//! WebSocket routes: `/connect` (the client protocol) and `/websocket/*` (raw sockets).

use axum::extract::WebSocketUpgrade;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::response::Response;
use bytes::Bytes;
use http::HeaderMap;
use rivet_client::protocol::{Encoding, Frame, ToClient, ToServer};
use rivet_client::transport::{ConnMessage, ConnReceiver, ConnSender, bounded_conn_channel};
use rivet_client::{ActorError, ActorTarget, codes};
use tokio::sync::oneshot;
use tokio::time::{Instant, Interval, MissedTickBehavior};

use super::request::params_from_json;
use crate::config::ServerConfig;
use crate::conn::ConnKind;
use crate::mailbox::{ConnRef, Envelope, RawSocketEnvelope, ReplyTo};
use crate::raw::{RawCommand, RawMessage};
use crate::registry::Registry;
use crate::trace::TraceParent;
use crate::url::percent_decode;

/// A WebSocket as the routes drive it: axum's, or one the engine tunnels to an envoy (runner
/// mode), so both run the same connection code.
pub(crate) trait ServerSocket: Send + 'static {
    /// The next message; `None` once the socket is gone.
    fn recv(&mut self) -> impl Future<Output = Option<Result<Message, axum::Error>>> + Send;
    /// Sends one message.
    fn send(&mut self, message: Message) -> impl Future<Output = Result<(), axum::Error>> + Send;

    /// Whether the server checks this socket's liveness (pings, bounded sends): yes for its
    /// own sockets; a tunnelled socket's peer is the engine, which does that itself.
    fn checks_liveness(&self) -> bool {
        true
    }
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

pub(crate) fn subprotocols(headers: &HeaderMap) -> Vec<String> {
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
    /// The caller's trace: the connection's turns continue it.
    trace: Option<TraceParent>,
    /// The upgrade request, for the connection's hooks (`cx.request()`).
    request: Option<Box<http::Request<()>>>,
}

impl Handshake {
    /// The handshake with the upgrade request the connection's hooks see.
    pub(crate) fn with_request(mut self, request: Option<Box<http::Request<()>>>) -> Self {
        self.request = request;
        self
    }

    /// Whether the encoding and the parameters were understood.
    pub(crate) fn is_ok(&self) -> bool {
        self.encoding.is_ok() && self.params.is_ok()
    }
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
    Handshake {
        encoding,
        params,
        trace: TraceParent::from_headers(headers),
        request: None,
    }
}

/// `GET /connect`: a connection speaking the client protocol.
pub(crate) fn connect(
    registry: Registry,
    target: Result<ActorTarget, ActorError>,
    upgrade: WebSocketUpgrade,
    headers: &HeaderMap,
    request: Option<Box<http::Request<()>>>,
) -> Response {
    let handshake = handshake(headers).with_request(request);
    let limit = registry.server_config().max_incoming_message_size;
    limited(upgrade, limit)
        .protocols([PROTOCOL_RIVET])
        .on_upgrade(move |socket| run_connection(registry, target, socket, handshake))
}

/// Bounds what the WebSocket library assembles before the server sees a message: without it,
/// a peer could hold 64 MiB per socket in fragments that never end. The headroom over `limit`
/// lets a message a little too large reach the server's own check, which closes the socket
/// with `message.incoming_too_long`; a larger one ends it in the library.
fn limited(upgrade: WebSocketUpgrade, limit: usize) -> WebSocketUpgrade {
    let bound = limit.saturating_mul(2).saturating_add(1024);
    upgrade.max_message_size(bound).max_frame_size(bound)
}

/// Keeps a socket's peer honest: pings it three times per liveness timeout, and tells when
/// it has been silent (no message, no pong) for the whole timeout.
pub(crate) struct Liveness {
    timeout: std::time::Duration,
    ticks: Option<Interval>,
    heard: Instant,
}

impl Liveness {
    pub(crate) fn new(socket: &impl ServerSocket, timeout: std::time::Duration) -> Self {
        let ticks = socket.checks_liveness().then(|| {
            let period = (timeout / 3).max(std::time::Duration::from_millis(10));
            let mut ticks = tokio::time::interval_at(Instant::now() + period, period);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            ticks
        });
        Self {
            timeout,
            ticks,
            heard: Instant::now(),
        }
    }

    pub(crate) fn heard(&mut self) {
        self.heard = Instant::now();
    }

    /// The next ping time (never, for sockets the server does not check).
    pub(crate) async fn tick(&mut self) {
        match &mut self.ticks {
            Some(ticks) => {
                ticks.tick().await;
            }
            None => std::future::pending().await,
        }
    }

    /// At a tick: pings the peer, or closes the socket with `ws.timed_out` if it has been
    /// silent too long. Returns whether the socket stays open.
    pub(crate) async fn ping(&self, socket: &mut impl ServerSocket) -> bool {
        if self.heard.elapsed() >= self.timeout {
            tracing::warn!(
                timeout_ms = self.timeout.as_millis() as u64,
                "closing a WebSocket whose peer stopped responding (ws.timed_out)"
            );
            self.bounded(close(
                socket,
                1011,
                &codes::WS_TIMED_OUT.error().full_code(),
            ))
            .await;
            return false;
        }
        self.bounded(socket.send(Message::Ping(Bytes::new())))
            .await
            .is_some_and(|sent| sent.is_ok())
    }

    /// Runs a send, giving up after the liveness timeout: a peer that does not read would
    /// otherwise hold the socket's task forever once TCP's buffers are full.
    pub(crate) async fn bounded<T>(&self, send: impl Future<Output = T>) -> Option<T> {
        if self.ticks.is_none() {
            return Some(send.await);
        }
        let sent = tokio::time::timeout(self.timeout, send).await.ok();
        if sent.is_none() {
            tracing::warn!(
                timeout_ms = self.timeout.as_millis() as u64,
                "closing a WebSocket whose peer does not read (ws.timed_out)"
            );
        }
        sent
    }
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

/// How much of one connection's input the actor has yet to take: the server stops reading a
/// socket (TCP then holds the client back) while this is at its bound, so a client cannot pile
/// messages into the actor's mailbox faster than the actor takes them.
#[derive(Default)]
struct Inflow {
    /// Actions sent and not answered yet.
    actions: usize,
    /// Other messages (subscriptions) since the actor last confirmed it took them.
    unconfirmed: usize,
    /// A ping sent after `unconfirmed` messages: answered once the actor took them.
    ping: Option<oneshot::Receiver<Result<(), ActorError>>>,
}

impl Inflow {
    /// Actions one connection may have unanswered.
    const MAX_ACTIONS: usize = 256;
    /// Subscriptions between two confirmations.
    const CONFIRM_EVERY: usize = 64;

    fn open(&self) -> bool {
        self.ping.is_none() && self.actions < Self::MAX_ACTIONS
    }

    /// Resolves once the pending ping is answered (never, without one).
    async fn confirmed(&mut self) {
        match &mut self.ping {
            Some(ping) => {
                let _ = ping.await;
                self.ping = None;
                self.unconfirmed = 0;
            }
            None => std::future::pending().await,
        }
    }
}

/// Serves a `/connect` socket. A `target` that could not be resolved (a missing or destroyed
/// actor) is refused after the upgrade, as an open that failed: an `Error` frame, then close
/// 1011 with `group.code`, which the client reads (a stale handle resolves the actor again on
/// `actor.not_found`); a refused upgrade would tell it nothing.
pub(crate) async fn run_connection(
    registry: Registry,
    target: Result<ActorTarget, ActorError>,
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
    let config = registry.server_config();
    let (sink, events) =
        bounded_conn_channel(config.outgoing_queue_messages, config.outgoing_queue_bytes);
    let opened = match (target, handshake.params) {
        (Ok(target), Ok(params)) => {
            open_connection(&registry, &target, params, handshake.request, sink.clone())
                .await
                .map(|ids| (target, ids))
        }
        (Err(error), _) | (Ok(_), Err(error)) => Err(error),
    };
    let (target, (actor_id, conn_id)) = match opened {
        Ok(opened) => opened,
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
        trace: handshake.trace,
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
    // Only to the activation the connection belongs to: one that slept (which closed the
    // connection) is not woken to forget it.
    let disconnect = Envelope::Disconnect {
        conn: connection.conn_id,
    };
    connection
        .registry
        .inner()
        .deliver_if_awake(&connection.actor, disconnect);
}

/// Opens the actor's side of a connection; returns the actor's id and the connection's.
async fn open_connection(
    registry: &Registry,
    target: &ActorTarget,
    params: Option<Bytes>,
    request: Option<Box<http::Request<()>>>,
    sink: ConnSender,
) -> Result<(String, String), ActorError> {
    let (tx, rx) = oneshot::channel();
    let envelope = Envelope::Connect {
        params,
        request,
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
    trace: Option<TraceParent>,
    config: ServerConfig,
}

impl Connection {
    /// Relays until either side closes.
    async fn relay(&self, socket: &mut impl ServerSocket, mut events: ConnReceiver) {
        let mut liveness = Liveness::new(socket, self.config.ws_liveness_timeout);
        let mut inflow = Inflow::default();
        loop {
            tokio::select! {
                incoming = socket.recv(), if inflow.open() => {
                    liveness.heard();
                    let payload = match incoming {
                        Some(Ok(Message::Text(text))) => Bytes::from(text),
                        Some(Ok(Message::Binary(bytes))) => bytes,
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                        Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                    };
                    if !self.pass_on(socket, &payload, &mut inflow).await {
                        return;
                    }
                }
                () = inflow.confirmed() => {}
                outgoing = events.recv() => {
                    let Some(outgoing) = outgoing else { return };
                    if matches!(outgoing, ConnMessage::ActionResponse { .. }) {
                        inflow.actions = inflow.actions.saturating_sub(1);
                    }
                    let limit = self.config.max_outgoing_message_size;
                    let sent = liveness.bounded(deliver(socket, outgoing, self.encoding, limit));
                    if sent.await != Some(true) {
                        return;
                    }
                }
                () = liveness.tick() => {
                    // While the server holds the socket unread, its silence is not the peer's.
                    if !inflow.open() {
                        liveness.heard();
                    }
                    if !liveness.ping(socket).await {
                        return;
                    }
                }
            }
        }
    }

    /// Passes one client message to the actor; returns whether the socket stays open (an
    /// oversized or malformed message closes it).
    async fn pass_on(
        &self,
        socket: &mut impl ServerSocket,
        payload: &[u8],
        inflow: &mut Inflow,
    ) -> bool {
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
            ToServer::ActionRequest { id, name, args } => {
                inflow.actions += 1;
                Envelope::Action {
                    name: name.into(),
                    args,
                    conn: ConnRef::Id(self.conn_id.clone()),
                    reply: ReplyTo::Conn {
                        sink: self.sink.clone(),
                        id,
                    },
                    chain: None,
                    trace: self.trace,
                }
            }
            ToServer::SubscriptionRequest {
                event_name,
                subscribe,
            } => {
                inflow.unconfirmed += 1;
                Envelope::Subscribe {
                    conn: self.conn_id.clone(),
                    event: event_name,
                    subscribe,
                }
            }
        };
        let _ = self.registry.inner().deliver(&self.actor, envelope).await;
        if inflow.unconfirmed >= Inflow::CONFIRM_EVERY {
            let (reply, answered) = oneshot::channel();
            let ping = Envelope::Ping { reply };
            let _ = self.registry.inner().deliver(&self.actor, ping).await;
            inflow.ping = Some(answered);
        }
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
                    // A policy violation (RFC 6455), not a server error: the client fell behind.
                    let code = if error.is(codes::SLOW_CONSUMER) {
                        1008
                    } else {
                        1011
                    };
                    close(socket, code, &error.full_code()).await;
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
    let limit = registry.server_config().max_request_body_size;
    limited(upgrade, limit)
        .protocols([PROTOCOL_RIVET])
        .on_upgrade(move |socket| async move {
            run_raw(
                registry,
                target,
                socket,
                &parts.method,
                &parts.headers,
                &uri,
            )
            .await;
        })
}

/// Serves a raw socket: the actor's `#[on_websocket]` gets its upgrade request (`method`,
/// `uri` after the gateway prefix, `headers`) with `Open`.
pub(crate) async fn run_raw(
    registry: Registry,
    target: ActorTarget,
    mut socket: impl ServerSocket,
    method: &http::Method,
    headers: &HeaderMap,
    uri: &str,
) {
    let Some(request) = super::request::hook_request(method, uri, headers) else {
        close(&mut socket, 1011, "actor.invalid_request").await;
        return;
    };
    let id = crate::ids::new_id();
    let config = registry.server_config();
    let (commands_tx, mut commands) = crate::raw::raw_channel(config.outgoing_queue_messages);
    let mut liveness = Liveness::new(&socket, config.ws_liveness_timeout);
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
                liveness.heard();
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
            command = commands.recv() => {
                let message = match command {
                    Some(RawCommand::Send(RawMessage::Text(text))) => Message::Text(text.into()),
                    Some(RawCommand::Send(RawMessage::Binary(bytes))) => Message::Binary(bytes),
                    Some(RawCommand::Close(c, r)) => {
                        liveness.bounded(close(&mut socket, c, &r)).await;
                        code = Some(c);
                        reason = r;
                        break;
                    }
                    None => break,
                };
                if liveness.bounded(socket.send(message)).await.is_none_or(|sent| sent.is_err()) {
                    break;
                }
            }
            () = liveness.tick() => {
                if !liveness.ping(&mut socket).await {
                    break;
                }
            }
        }
    }
    let envelope = Envelope::RawSocket(RawSocketEnvelope::Close { id, code, reason });
    let _ = registry.inner().deliver(&actor, envelope).await;
}
