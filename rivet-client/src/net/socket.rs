//! A connection's WebSocket: dialing, the task that relays actions, subscriptions and events,
//! and reconnecting (250 ms doubling to 30 s, then subscribing again) after a retryable close.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::{encode_error, lock, transport_error};
use crate::codes;
use crate::error::ActorError;
use crate::protocol::{Encoding, Frame, ToClient, ToServer};
use crate::transport::{BoxFuture, ConnMessage, ConnSender, ConnectionTransport};

/// How to open (and reopen) a connection's socket.
#[derive(Debug, Clone)]
pub(super) struct Dial {
    pub(super) url: String,
    pub(super) protocols: String,
    pub(super) token: Option<String>,
    /// TLS settings other than tungstenite's defaults (extra root certificates).
    #[cfg(feature = "tls")]
    pub(super) tls: Option<crate::tls::WebSocketTls>,
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

type Reply = oneshot::Sender<Result<Bytes, ActorError>>;

impl Dial {
    async fn connect(&self) -> Result<Socket, ActorError> {
        let mut request = self
            .url
            .as_str()
            .into_client_request()
            .map_err(transport_error)?;
        let headers = request.headers_mut();
        headers.insert(
            "sec-websocket-protocol",
            self.protocols.parse().map_err(transport_error)?,
        );
        if let Some(token) = &self.token
            && let Ok(value) = format!("Bearer {token}").parse()
        {
            headers.insert("authorization", value);
        }
        // Nagle off: actions are small messages that wait for their answers.
        #[cfg(feature = "tls")]
        let dialed = tokio_tungstenite::connect_async_tls_with_config(
            request,
            None,
            true,
            self.tls.clone().map(|tls| tls.0),
        );
        #[cfg(not(feature = "tls"))]
        let dialed = tokio_tungstenite::connect_async_with_config(request, None, true);
        let (socket, _) = dialed.await.map_err(transport_error)?;
        Ok(socket)
    }
}

/// Opens a connection: dials, waits for `Init`, and starts the socket task.
pub(super) async fn open(
    dial: Dial,
    encoding: Encoding,
    sink: ConnSender,
) -> Result<Arc<dyn ConnectionTransport>, ActorError> {
    let mut socket = dial.connect().await?;
    let (actor_id, connection_id) = wait_for_init(&mut socket, encoding).await?;
    let (commands, rx) = mpsc::unbounded_channel();
    let conn = Arc::new(NetConnection {
        commands,
        actor_id,
        connection_id: Mutex::new(connection_id),
        closed: AtomicBool::new(false),
    });
    let task = SocketTask {
        dial,
        encoding,
        commands: rx,
        sink,
        conn: Arc::downgrade(&conn),
        next_id: 0,
        pending: HashMap::new(),
        subscriptions: HashSet::new(),
    };
    tokio::spawn(task.run(socket));
    Ok(conn)
}

/// Commands from the connection handle to its socket task.
#[derive(Debug)]
enum Command {
    Action {
        name: String,
        args: Bytes,
        reply: Reply,
    },
    Subscribe(String, bool),
    Close,
}

/// A WebSocket connection that reconnects and resubscribes.
struct NetConnection {
    commands: mpsc::UnboundedSender<Command>,
    actor_id: String,
    connection_id: Mutex<String>,
    closed: AtomicBool,
}

impl fmt::Debug for NetConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NetConnection")
            .field("actor_id", &self.actor_id)
            .finish_non_exhaustive()
    }
}

impl ConnectionTransport for NetConnection {
    fn action<'a>(
        &'a self,
        name: Cow<'static, str>,
        args: Bytes,
    ) -> BoxFuture<'a, Result<Bytes, ActorError>> {
        Box::pin(async move {
            let (reply, rx) = oneshot::channel();
            self.commands
                .send(Command::Action {
                    name: name.into_owned(),
                    args,
                    reply,
                })
                .map_err(|_| codes::CONNECTION_CLOSED.error())?;
            rx.await
                .unwrap_or_else(|_| Err(codes::CONNECTION_CLOSED.error()))
        })
    }

    fn set_subscription(&self, event: &str, subscribe: bool) {
        let _ = self
            .commands
            .send(Command::Subscribe(event.to_owned(), subscribe));
    }

    fn close(&self) {
        if !self.closed.swap(true, Ordering::AcqRel) {
            let _ = self.commands.send(Command::Close);
        }
    }

    fn actor_id(&self) -> &str {
        &self.actor_id
    }

    fn connection_id(&self) -> String {
        lock(&self.connection_id).clone()
    }
}

/// What a WebSocket message from the server is to the protocol.
enum Incoming {
    /// A protocol message.
    Payload(Bytes),
    /// The server closed the socket.
    Close(Option<CloseFrame>),
    /// A ping or pong.
    Other,
}

fn incoming(message: Message) -> Incoming {
    match message {
        Message::Text(text) => Incoming::Payload(Bytes::copy_from_slice(text.as_bytes())),
        Message::Binary(bytes) => Incoming::Payload(bytes),
        Message::Close(frame) => Incoming::Close(frame),
        _ => Incoming::Other,
    }
}

/// Reads until `Init`; an `Error` before it refuses the connection.
async fn wait_for_init(
    socket: &mut Socket,
    encoding: Encoding,
) -> Result<(String, String), ActorError> {
    while let Some(message) = socket.next().await {
        let payload = match incoming(message.map_err(transport_error)?) {
            Incoming::Payload(payload) => payload,
            Incoming::Close(frame) => return Err(close_error(frame.as_ref())),
            Incoming::Other => continue,
        };
        match ToClient::decode(&payload, encoding) {
            Ok(ToClient::Init {
                actor_id,
                connection_id,
            }) => return Ok((actor_id, connection_id)),
            Ok(ToClient::Error { error, .. }) => return Err(error),
            Ok(_) => continue,
            Err(e) => {
                return Err(codes::CLIENT_CODEC.with_message(format!("malformed message: {e}")));
            }
        }
    }
    Err(codes::CONNECTION_CLOSED
        .with_message("the server closed the connection before it was ready"))
}

/// The error a close frame's reason (`group.code[#rayId]`) stands for.
fn close_error(frame: Option<&CloseFrame>) -> ActorError {
    let reason = frame.map(|f| f.reason.to_string()).unwrap_or_default();
    let main = reason.split('#').next().unwrap_or("");
    match main.split_once('.') {
        Some((group, code)) if !group.is_empty() && !code.is_empty() => {
            ActorError::new(group, code, format!("Connection closed: {reason}"))
        }
        _ => codes::CONNECTION_CLOSED.error(),
    }
}

fn to_message(frame: Frame) -> Message {
    match frame {
        Frame::Text(text) => Message::Text(text.into()),
        Frame::Binary(bytes) => Message::Binary(bytes.into()),
    }
}

/// Whether a close is worth reconnecting after: not when the actor is gone or refused us.
fn retryable(error: &ActorError) -> bool {
    !(error.is(codes::ACTOR_NOT_FOUND) || error.is_user() || error.group == "auth")
}

/// Why serving one socket stopped.
enum Stop {
    /// The server or the network closed it.
    Closed(ActorError),
    /// The handle closed the connection, or every handle is gone.
    Disposed,
}

/// A connection's socket task: what lives across its sockets.
struct SocketTask {
    dial: Dial,
    encoding: Encoding,
    commands: mpsc::UnboundedReceiver<Command>,
    sink: ConnSender,
    conn: Weak<NetConnection>,
    next_id: u64,
    /// Actions sent and not answered, by id.
    pending: HashMap<u64, Reply>,
    /// The events subscribed to, sent again after a reconnect.
    subscriptions: HashSet<String>,
}

impl SocketTask {
    /// Serves sockets until the connection ends, reconnecting after retryable closes.
    async fn run(mut self, mut socket: Socket) {
        loop {
            let stop = self.serve(&mut socket).await;
            // In-flight actions fail, as in the official client; the caller may retry.
            let failure = match &stop {
                Stop::Closed(error) => error.clone(),
                Stop::Disposed => codes::CONNECTION_CLOSED.error(),
            };
            for (_, reply) in self.pending.drain() {
                let _ = reply.send(Err(failure.clone()));
            }
            match stop {
                Stop::Disposed => return self.end(None),
                Stop::Closed(error) if !retryable(&error) || self.disposed() => {
                    return self.end(Some(error));
                }
                Stop::Closed(_) => {}
            }
            let Some(next) = self.reconnect().await else {
                return;
            };
            socket = next;
            self.resubscribe(&mut socket).await;
        }
    }

    /// Relays between `socket` and the handle until one of them stops.
    async fn serve(&mut self, socket: &mut Socket) -> Stop {
        // An `Error` frame without an action id carries the full reason for the close after it
        // (message and metadata, where the close frame has only `group.code`).
        let mut fatal: Option<ActorError> = None;
        loop {
            let flow = tokio::select! {
                message = socket.next() => self.on_message(message, &mut fatal),
                command = self.commands.recv() => self.on_command(command, socket).await,
            };
            if let ControlFlow::Break(stop) = flow {
                return stop;
            }
        }
    }

    fn on_message(
        &mut self,
        message: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
        fatal: &mut Option<ActorError>,
    ) -> ControlFlow<Stop> {
        let payload = match message.map(|m| m.map(incoming)) {
            Some(Ok(Incoming::Payload(payload))) => payload,
            Some(Ok(Incoming::Close(frame))) => {
                let error = fatal.take().unwrap_or_else(|| close_error(frame.as_ref()));
                return ControlFlow::Break(Stop::Closed(error));
            }
            Some(Ok(Incoming::Other)) => return ControlFlow::Continue(()),
            Some(Err(e)) => return ControlFlow::Break(Stop::Closed(transport_error(e))),
            None => return ControlFlow::Break(Stop::Closed(codes::CONNECTION_CLOSED.error())),
        };
        match ToClient::decode(&payload, self.encoding) {
            Ok(ToClient::ActionResponse { id, output }) => self.answer(id, Ok(output)),
            Ok(ToClient::Error {
                error,
                action_id: Some(id),
            }) => self.answer(id, Err(error)),
            Ok(ToClient::Error {
                error,
                action_id: None,
            }) => {
                for (_, reply) in self.pending.drain() {
                    let _ = reply.send(Err(error.clone()));
                }
                *fatal = Some(error);
            }
            Ok(ToClient::Event { name, args }) => {
                let name = Arc::from(name.as_str());
                let _ = self.sink.send(ConnMessage::Event { name, args });
            }
            Ok(ToClient::Init { connection_id, .. }) => self.set_connection_id(connection_id),
            Err(error) => tracing::warn!(%error, "malformed message from the server"),
        }
        ControlFlow::Continue(())
    }

    fn answer(&mut self, id: u64, result: Result<Bytes, ActorError>) {
        if let Some(reply) = self.pending.remove(&id) {
            let _ = reply.send(result);
        }
    }

    async fn on_command(
        &mut self,
        command: Option<Command>,
        socket: &mut Socket,
    ) -> ControlFlow<Stop> {
        let message = match command {
            Some(Command::Action { name, args, reply }) => {
                let id = self.next_id;
                self.next_id += 1;
                match (ToServer::ActionRequest { id, name, args }).encode(self.encoding) {
                    Ok(frame) => {
                        self.pending.insert(id, reply);
                        frame
                    }
                    Err(e) => {
                        let _ = reply.send(Err(encode_error(e)));
                        return ControlFlow::Continue(());
                    }
                }
            }
            Some(Command::Subscribe(event, subscribe)) => {
                if subscribe {
                    self.subscriptions.insert(event.clone());
                } else {
                    self.subscriptions.remove(&event);
                }
                let request = ToServer::SubscriptionRequest {
                    event_name: event,
                    subscribe,
                };
                match request.encode(self.encoding) {
                    Ok(frame) => frame,
                    Err(_) => return ControlFlow::Continue(()),
                }
            }
            Some(Command::Close) | None => {
                let close = CloseFrame {
                    code: CloseCode::Normal,
                    reason: "Disposed".into(),
                };
                let _ = socket.send(Message::Close(Some(close))).await;
                return ControlFlow::Break(Stop::Disposed);
            }
        };
        match socket.send(to_message(message)).await {
            Ok(()) => ControlFlow::Continue(()),
            Err(_) => ControlFlow::Break(Stop::Closed(codes::CONNECTION_CLOSED.error())),
        }
    }

    /// Dials again with backoff until a socket is ready; `None` when the connection ended
    /// meanwhile (the handle has been told).
    async fn reconnect(&mut self) -> Option<Socket> {
        let mut delay = Duration::from_millis(250);
        loop {
            tokio::time::sleep(delay).await;
            if self.disposed() {
                self.end(None);
                return None;
            }
            match self.dial.connect().await {
                Ok(mut socket) => match wait_for_init(&mut socket, self.encoding).await {
                    Ok((_, connection_id)) => {
                        self.set_connection_id(connection_id);
                        return Some(socket);
                    }
                    Err(error) if !retryable(&error) => {
                        self.end(Some(error));
                        return None;
                    }
                    Err(_) => {}
                },
                Err(error) => tracing::debug!(%error, "reconnect failed"),
            }
            delay = (delay * 2).min(Duration::from_secs(30));
        }
    }

    async fn resubscribe(&self, socket: &mut Socket) {
        for event in &self.subscriptions {
            let message = ToServer::SubscriptionRequest {
                event_name: event.clone(),
                subscribe: true,
            };
            if let Ok(frame) = message.encode(self.encoding) {
                let _ = socket.send(to_message(frame)).await;
            }
        }
    }

    /// Whether the handle closed the connection or is gone.
    fn disposed(&self) -> bool {
        self.conn
            .upgrade()
            .is_none_or(|c| c.closed.load(Ordering::Acquire))
    }

    fn set_connection_id(&self, connection_id: String) {
        if let Some(conn) = self.conn.upgrade() {
            *lock(&conn.connection_id) = connection_id;
        }
    }

    /// Tells the handle the connection ended, with the error that ended it.
    fn end(&self, error: Option<ActorError>) {
        let _ = self.sink.send(ConnMessage::Closed(error));
    }
}
