//! The turns of connections: actions that arrive through a connection (or with one that lasts
//! for the call), opening and closing connections, subscriptions, and raw HTTP requests and
//! WebSockets.

use std::borrow::Cow;

use bytes::Bytes;
use rivet_client::transport::{ConnMessage, ConnSender};
use rivet_client::{ActorError, codes};
use tokio::sync::oneshot;

use super::Host;
use super::turn::Work;
use crate::actor::{Actor, HookSet};
use crate::conn::ConnKind;
use crate::ids::new_id;
use crate::mailbox::{CallChain, ConnRef, RawSocketEnvelope, ReplyTo};
use crate::raw::{self, RawWebSocket, WebSocketEvent};
use crate::storage::Batch;

impl<A: Actor> Host<A> {
    /// Runs an action in the connection it names.
    pub(super) async fn action(
        &mut self,
        name: Cow<'static, str>,
        args: Bytes,
        conn: ConnRef,
        reply: ReplyTo,
        chain: Option<CallChain>,
    ) {
        // Calls this turn makes through `cx.client()` carry the chain on.
        self.cx.set_chain(chain);
        let timeout = self.action_timeout();
        let (work, ephemeral) = match conn {
            ConnRef::Id(id) => {
                // The actor closed it (a kick) or forgot it (a restart) before this call
                // arrived: the call must not run as some other caller.
                if !self.cx.connections().contains(&id) {
                    self.cx.set_chain(None);
                    reply.send(Err(codes::CONNECTION_CLOSED.error()));
                    return;
                }
                self.cx.connections_mut().set_current(Some(id));
                let work = Work::Action {
                    name: &name,
                    args: &args,
                };
                (work, None)
            }
            // A stateless call gets a connection for its length (as RivetKit's HTTP actions
            // do) when the actor can observe it; otherwise it skips that work.
            ConnRef::Ephemeral { params, request }
                if A::metadata().hooks.intersects(HookSet::CONNECTION_HOOKS) =>
            {
                let id = new_id();
                let work = Work::EphemeralAction {
                    id: id.clone(),
                    params,
                    request,
                    name: &name,
                    args: &args,
                };
                (work, Some(id))
            }
            ConnRef::Ephemeral { .. } => {
                let work = Work::Action {
                    name: &name,
                    args: &args,
                };
                (work, None)
            }
        };
        let ran = self.execute(work, timeout).await;
        self.cx.connections_mut().set_current(None);
        self.cx.set_chain(None);
        if let Some(id) = ephemeral {
            self.cx.connections_mut().remove(&id);
        }
        let batch = self.gate.batch();
        self.finish_turn(ran, batch, "action", move |r| reply.send(r));
    }

    /// Opens a connection; its id is the answer once the connect turn committed.
    pub(super) async fn connect(
        &mut self,
        params: Option<Bytes>,
        request: Option<Box<http::Request<()>>>,
        kind: ConnKind,
        sink: ConnSender,
        reply: oneshot::Sender<Result<String, ActorError>>,
    ) {
        let max = self.runtime.config().max_connections_per_actor;
        let open =
            self.cx.connections().iter().count() + self.cx.connections().raw_sockets().count();
        if open >= max {
            tracing::warn!(
                max_connections_per_actor = max,
                "refused a connection past the actor's limit (actor.too_many_connections)"
            );
            let error = codes::TOO_MANY_CONNECTIONS
                .with_message(format!("This actor has {max} open connections, its limit."));
            let _ = reply.send(Err(error));
            return;
        }
        let id = new_id();
        let timeout = self.runtime.config().hook_timeout;
        let work = Work::Connect {
            id: id.clone(),
            params,
            request,
            kind,
            sink,
        };
        let ran = self.execute(work, timeout).await;
        self.cx.connections_mut().set_current(None);
        if ran.dispatch.result.is_err() {
            self.cx.connections_mut().remove(&id);
        }
        let batch = self.gate.batch();
        self.finish_turn(ran, batch, "connect", move |r| {
            let _ = reply.send(r.map(|_| id));
        });
    }

    /// Closes a connection: `#[on_disconnect]` (with `cx.conn()` set), then removal. `reason`
    /// reaches the client when the actor closed it.
    pub(super) async fn disconnect(&mut self, id: String, reason: Option<ActorError>) {
        let Some(sink) = self.cx.connections().get(&id).map(|c| c.sink().clone()) else {
            return;
        };
        let timeout = self.runtime.config().hook_timeout;
        let ran = self
            .execute(Work::Disconnect { id: id.clone() }, timeout)
            .await;
        self.cx.connections_mut().set_current(None);
        self.cx.connections_mut().remove(&id);
        self.finish_turn(ran, Batch::default(), "on_disconnect", move |_| {
            let _ = sink.send(ConnMessage::Closed(reason));
        });
    }

    /// Closes the connections the last turn asked to close (`cx.disconnect`).
    pub(super) async fn run_pending_disconnects(&mut self) {
        while let Some((id, reason)) = self.pending_disconnects.pop() {
            self.disconnect(id, reason).await;
        }
    }

    /// A raw HTTP request to `#[on_request]`, answered once its turn committed.
    pub(super) async fn request(
        &mut self,
        request: raw::Request,
        reply: oneshot::Sender<Result<raw::Response, ActorError>>,
    ) {
        let timeout = self.action_timeout();
        self.trace_parent = crate::trace::TraceParent::from_headers(request.headers());
        let (tx, rx) = oneshot::channel();
        let work = Work::Request {
            request,
            response: tx,
        };
        let ran = self.execute(work, timeout).await;
        let response = rx.await.ok();
        self.finish_turn(ran, Batch::default(), "request", move |r| {
            let _ =
                reply.send(r.and_then(|_| response.ok_or_else(|| codes::INTERNAL_ERROR.error())));
        });
    }

    /// An event of a raw WebSocket, run by `#[on_websocket]`.
    pub(super) async fn raw_socket(&mut self, event: RawSocketEnvelope) {
        let conns = self.cx.connections_mut();
        let event = match event {
            RawSocketEnvelope::Open {
                id,
                request,
                commands,
            } => {
                let socket = RawWebSocket::new(id, commands);
                let max = self.runtime.config().max_connections_per_actor;
                if conns.iter().count() + conns.raw_sockets().count() >= max {
                    tracing::warn!(
                        max_connections_per_actor = max,
                        "refused a raw WebSocket past the actor's limit (actor.too_many_connections)"
                    );
                    socket.close(1013, codes::TOO_MANY_CONNECTIONS.error().full_code());
                    return;
                }
                conns.insert_raw(socket.clone());
                WebSocketEvent::Open {
                    socket,
                    request: *request,
                }
            }
            RawSocketEnvelope::Message { id, message } => match conns.raw(&id) {
                Some(socket) => WebSocketEvent::Message {
                    socket: socket.clone(),
                    message,
                },
                None => return,
            },
            RawSocketEnvelope::Close { id, code, reason } => match conns.remove_raw(&id) {
                Some(socket) => WebSocketEvent::Close {
                    socket,
                    code,
                    reason,
                },
                None => return,
            },
        };
        let timeout = self.action_timeout();
        let ran = self.execute(Work::WebSocket(event), timeout).await;
        self.finish_turn(ran, Batch::default(), "on_websocket", |_| {});
    }
}
