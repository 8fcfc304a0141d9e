//! The in-process transport behind `registry.client()` and `cx.client()`: the typed clients'
//! calls become envelopes in the actors' mailboxes.

use std::borrow::Cow;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use rivet_client::transport::{
    BoxFuture, ConnSender, ConnectionTransport, QueueSendOutcome, Transport,
};
use rivet_client::{ActorAddr, ActorError, ActorTarget, Client, codes};
use tokio::sync::oneshot;

use super::{RegistryGuard, RegistryInner};
use crate::conn::ConnKind;
use crate::mailbox::{CallChain, ConnRef, Envelope, ReplyTo};
use crate::runtime::ClientMaker;

/// How a transport holds its registry: the user's client keeps it alive, actor code's does not.
enum RegistryRef {
    Strong(Arc<RegistryGuard>),
    Weak(Weak<RegistryInner>),
}

/// The in-process transport behind `registry.client()` and `cx.client()`.
pub(super) struct LocalTransport {
    registry: RegistryRef,
    /// For clients made by actor code: the actors whose turns wait on its calls.
    chain: Option<CallChain>,
}

impl fmt::Debug for LocalTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LocalTransport")
    }
}

impl LocalTransport {
    /// The transport of a client made by actor code: calls from a turn carry the chain of
    /// waiting actors (a run loop's carry none: it is not a turn).
    /// The transport of `registry.client()`: it keeps the registry running.
    pub(super) fn for_user(guard: Arc<RegistryGuard>) -> Self {
        Self {
            registry: RegistryRef::Strong(guard),
            chain: None,
        }
    }

    /// What makes the clients of actor code: they hold the registry weakly.
    pub(super) fn client_maker(registry: Weak<RegistryInner>) -> ClientMaker {
        ClientMaker::new(move |chain| {
            Client::from_transport(Arc::new(Self::for_actor(registry.clone(), chain)))
        })
    }

    fn for_actor(registry: Weak<RegistryInner>, chain: Option<CallChain>) -> Self {
        Self {
            registry: RegistryRef::Weak(registry),
            chain,
        }
    }

    fn inner(&self) -> Result<Arc<RegistryInner>, ActorError> {
        match &self.registry {
            RegistryRef::Strong(guard) => Ok(Arc::clone(&guard.inner)),
            RegistryRef::Weak(weak) => weak.upgrade().ok_or_else(|| codes::SHUT_DOWN.error()),
        }
    }

    /// Sends an envelope built around a reply channel and waits for the answer.
    async fn request<T>(
        &self,
        target: &ActorTarget,
        make: impl FnOnce(oneshot::Sender<Result<T, ActorError>>) -> Envelope,
    ) -> Result<(Arc<str>, T), ActorError> {
        self.inner()?.request(target, make).await
    }
}

impl Transport for LocalTransport {
    fn action<'a>(
        &'a self,
        target: &'a ActorTarget,
        params: Option<&'a Bytes>,
        name: Cow<'static, str>,
        args: Bytes,
    ) -> BoxFuture<'a, Result<Bytes, ActorError>> {
        Box::pin(async move {
            // A connection for the length of the call, as over HTTP.
            let conn = ConnRef::Ephemeral {
                params: params.cloned(),
                request: None,
            };
            let chain = self.chain.clone();
            self.request(target, |reply| Envelope::Action {
                name,
                args,
                conn,
                reply: ReplyTo::Oneshot(reply),
                chain,
                trace: None,
            })
            .await
            .map(|(_, output)| output)
        })
    }

    fn queue_send<'a>(
        &'a self,
        target: &'a ActorTarget,
        name: &'a str,
        body: Bytes,
        wait: Option<Duration>,
    ) -> BoxFuture<'a, Result<QueueSendOutcome, ActorError>> {
        Box::pin(async move {
            let inner = self.inner()?;
            let (tx, rx) = oneshot::channel();
            let envelope = Envelope::Queue {
                name: name.to_owned(),
                body,
                wait: wait.is_some(),
                reply: tx,
            };
            // A failed delivery fails the envelope, so its error arrives through `rx`.
            let _ = inner.deliver(target, envelope).await;
            let reply = async {
                rx.await
                    .unwrap_or_else(|_| Err(codes::DROPPED_REPLY.error()))
            };

            match wait {
                None => reply.await,
                Some(timeout) => match tokio::time::timeout(timeout, reply).await {
                    Ok(outcome) => outcome,
                    Err(_) => Ok(QueueSendOutcome::TimedOut),
                },
            }
        })
    }

    fn resolve<'a>(&'a self, target: &'a ActorTarget) -> BoxFuture<'a, Result<String, ActorError>> {
        Box::pin(async move {
            self.request(target, |reply| Envelope::Ping { reply })
                .await
                .map(|(id, ())| id.to_string())
        })
    }

    fn create<'a>(
        &'a self,
        addr: &'a ActorAddr,
        input: Option<Bytes>,
    ) -> BoxFuture<'a, Result<String, ActorError>> {
        Box::pin(async move {
            let inner = self.inner()?;
            if inner.shutting_down.load(Ordering::Acquire) {
                return Err(codes::SHUT_DOWN.error());
            }
            let record = inner.create_record(addr, input, true).await?;
            // Start it now, so that a failing `#[create]` fails this call.
            let target = ActorTarget::Id {
                name: record.name.clone(),
                id: record.id.clone(),
            };
            self.request(&target, |reply| Envelope::Ping { reply })
                .await
                .map(|(id, ())| id.to_string())
        })
    }

    fn connect<'a>(
        &'a self,
        target: &'a ActorTarget,
        params: Option<&'a Bytes>,
        sink: ConnSender,
    ) -> BoxFuture<'a, Result<Arc<dyn ConnectionTransport>, ActorError>> {
        Box::pin(async move {
            let inner = self.inner()?;
            let (actor_id, conn_id) = self
                .request(target, |reply| Envelope::Connect {
                    kind: ConnKind::InProcess,
                    params: params.cloned(),
                    request: None,
                    sink,
                    reply,
                })
                .await?;
            let conn: Arc<dyn ConnectionTransport> = Arc::new(LocalConnection {
                registry: Arc::downgrade(&inner),
                target: ActorTarget::Id {
                    name: target.name().to_owned(),
                    id: actor_id.to_string(),
                },
                actor_id: actor_id.to_string(),
                conn_id,
                closed: AtomicBool::new(false),
            });
            Ok(conn)
        })
    }
}

/// An in-process connection: actions and subscriptions go to the actor's mailbox by id.
pub(super) struct LocalConnection {
    registry: Weak<RegistryInner>,
    target: ActorTarget,
    actor_id: String,
    conn_id: String,
    closed: AtomicBool,
}

impl fmt::Debug for LocalConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalConnection")
            .field("actor_id", &self.actor_id)
            .field("conn_id", &self.conn_id)
            .finish()
    }
}

impl LocalConnection {
    /// Fire-and-forget delivery to a live activation only: subscriptions and disconnects mean
    /// nothing to an actor that is not awake.
    fn notify(&self, envelope: Envelope) {
        if let Some(inner) = self.registry.upgrade() {
            inner.deliver_if_awake(&self.target, envelope);
        }
    }
}

impl ConnectionTransport for LocalConnection {
    fn action<'a>(
        &'a self,
        name: Cow<'static, str>,
        args: Bytes,
    ) -> BoxFuture<'a, Result<Bytes, ActorError>> {
        Box::pin(async move {
            if self.closed.load(Ordering::Acquire) {
                return Err(codes::CONNECTION_CLOSED.error());
            }
            let inner = self
                .registry
                .upgrade()
                .ok_or_else(|| codes::SHUT_DOWN.error())?;
            let (tx, rx) = oneshot::channel();
            let envelope = Envelope::Action {
                name,
                args,
                conn: ConnRef::Id(self.conn_id.clone()),
                reply: ReplyTo::Oneshot(tx),
                chain: None,
                trace: None,
            };
            let _ = inner.deliver(&self.target, envelope).await;
            rx.await
                .unwrap_or_else(|_| Err(codes::DROPPED_REPLY.error()))
        })
    }

    fn set_subscription(&self, event: &str, subscribe: bool) {
        self.notify(Envelope::Subscribe {
            conn: self.conn_id.clone(),
            event: event.to_owned(),
            subscribe,
        });
    }

    fn close(&self) {
        if !self.closed.swap(true, Ordering::AcqRel) {
            self.notify(Envelope::Disconnect {
                conn: self.conn_id.clone(),
            });
        }
    }

    fn actor_id(&self) -> &str {
        &self.actor_id
    }

    fn connection_id(&self) -> String {
        self.conn_id.clone()
    }
}
