//! [`ActorConnection`]: a live connection to an actor, for events and connection-bound actions.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, oneshot, watch};

use crate::codec::{decode_output, from_cbor, to_cbor};
use crate::error::ActorError;
use crate::handle::ActorHandle;
use crate::transport::{ConnMessage, ConnReceiver, ConnectionTransport, conn_channel};

type Callback = Arc<dyn Fn(&Bytes) + Send + Sync>;

/// A connection to an actor. Events the actor broadcasts reach the callbacks registered with
/// [`on`](Self::on) (the generated `{Actor}Connection` has one typed `on_{event}` per event).
///
/// Dropping the connection closes it.
#[derive(Debug)]
pub struct ActorConnection {
    inner: Arc<ConnInner>,
}

struct ConnInner {
    transport: Arc<dyn ConnectionTransport>,
    callbacks: Mutex<HashMap<String, Vec<(u64, Callback)>>>,
    next_id: AtomicU64,
    /// `Some(reason)` once closed; `reason` is `None` for a normal close.
    closed: watch::Sender<Option<Option<ActorError>>>,
    /// Asks the dispatch task to answer once it has delivered every message queued so far.
    flush: mpsc::UnboundedSender<oneshot::Sender<()>>,
}

impl std::fmt::Debug for ConnInner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnInner")
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

impl ActorConnection {
    pub(crate) async fn open(handle: &ActorHandle) -> Result<Self, ActorError> {
        let (tx, rx) = conn_channel();
        let transport = handle
            .transport()
            .connect(handle.target(), handle.params(), tx)
            .await?;
        let (flush, flushes) = mpsc::unbounded_channel();
        let inner = Arc::new(ConnInner {
            transport,
            callbacks: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            closed: watch::Sender::new(None),
            flush,
        });
        tokio::spawn(dispatch(Arc::downgrade(&inner), rx, flushes));
        Ok(Self { inner })
    }

    /// Waits until the callbacks have seen every event that arrived before now. An action's
    /// reply comes after the events its turn sent (the actor sends them in that order, and a
    /// WebSocket keeps it), but the callbacks run on the dispatch task: without this wait, a
    /// caller could see the reply before its own action's events.
    async fn delivered(&self) {
        let (done, delivered) = oneshot::channel();
        if self.inner.flush.send(done).is_ok() {
            // An error: the dispatch task ended (the connection closed); nothing more comes.
            let _ = delivered.await;
        }
    }

    /// The id of the connected actor.
    pub fn actor_id(&self) -> &str {
        self.inner.transport.actor_id()
    }

    /// The id the actor gave this connection (it changes when the connection reconnects).
    pub fn connection_id(&self) -> String {
        self.inner.transport.connection_id()
    }

    /// Calls an action through this connection (the actor sees it as `cx.conn()`). It returns
    /// once the event callbacks ran for every event that arrived before the reply (those the
    /// action's own turn sent among them), so a callback that blocks holds it up too.
    pub async fn action<A, R>(
        &self,
        name: impl Into<Cow<'static, str>>,
        args: &A,
    ) -> Result<R, ActorError>
    where
        A: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        let output = self.action_raw(name, to_cbor(args)?).await?;
        decode_output(&output)
    }

    /// Calls an action with CBOR arguments through this connection and returns its CBOR output.
    pub async fn action_raw(
        &self,
        name: impl Into<Cow<'static, str>>,
        args: Bytes,
    ) -> Result<Bytes, ActorError> {
        let output = self.inner.transport.action(name.into(), args).await;
        self.delivered().await;
        output
    }

    /// Calls `callback` with the arguments of every `event`, decoded as the tuple `T`.
    ///
    /// The first callback for an event subscribes the connection to it. Arguments that do not
    /// decode as `T` are logged and skipped.
    pub fn on<T, F>(&self, event: &str, callback: F) -> Subscription
    where
        T: DeserializeOwned,
        F: Fn(T) + Send + Sync + 'static,
    {
        let name = event.to_owned();
        self.on_raw(event, move |args| match from_cbor::<T>(args) {
            Ok(value) => callback(value),
            Err(error) => tracing::warn!(event = %name, %error, "event arguments do not match the declared types"),
        })
    }

    /// Calls `callback` with the raw CBOR array of arguments of every `event`.
    pub fn on_raw<F>(&self, event: &str, callback: F) -> Subscription
    where
        F: Fn(&Bytes) + Send + Sync + 'static,
    {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let first = {
            let mut callbacks = lock(&self.inner.callbacks);
            let list = callbacks.entry(event.to_owned()).or_default();
            list.push((id, Arc::new(callback)));
            list.len() == 1
        };
        if first {
            self.inner.transport.set_subscription(event, true);
        }
        Subscription {
            conn: Arc::downgrade(&self.inner),
            event: event.to_owned(),
            id,
        }
    }

    /// Why the connection closed, once it has: `Some(None)` for a normal close.
    pub fn closed_reason(&self) -> Option<Option<ActorError>> {
        self.inner.closed.borrow().clone()
    }

    /// Waits until the connection closes for good (after any reconnection attempts) and returns
    /// why: `None` for a normal close, or the error the actor or the network gave, such as the
    /// reason an actor passed to `cx.disconnect`.
    pub async fn closed(&self) -> Option<ActorError> {
        let mut rx = self.inner.closed.subscribe();
        match rx.wait_for(Option::is_some).await {
            Ok(reason) => reason.clone().flatten(),
            // The sender lives in `inner`, which `self` keeps alive.
            Err(_) => None,
        }
    }

    /// Closes the connection.
    pub fn disconnect(self) {
        self.inner.transport.close();
    }
}

impl Drop for ActorConnection {
    fn drop(&mut self) {
        self.inner.transport.close();
    }
}

/// One registered event callback; [`unsubscribe`](Self::unsubscribe) removes it. Dropping it keeps
/// the callback registered for the life of the connection.
#[derive(Debug)]
pub struct Subscription {
    conn: Weak<ConnInner>,
    event: String,
    id: u64,
}

impl Subscription {
    /// Removes the callback; the last one for an event unsubscribes the connection from it.
    pub fn unsubscribe(self) {
        let Some(inner) = self.conn.upgrade() else {
            return;
        };
        let now_empty = {
            let mut callbacks = lock(&inner.callbacks);
            match callbacks.get_mut(&self.event) {
                Some(list) => {
                    list.retain(|(id, _)| *id != self.id);
                    let empty = list.is_empty();
                    if empty {
                        callbacks.remove(&self.event);
                    }
                    empty
                }
                None => false,
            }
        };
        if now_empty {
            inner.transport.set_subscription(&self.event, false);
        }
    }
}

async fn dispatch(
    inner: Weak<ConnInner>,
    mut rx: ConnReceiver,
    mut flushes: mpsc::UnboundedReceiver<oneshot::Sender<()>>,
) {
    loop {
        // Messages first: a flush is answered only when none is waiting, so every message
        // queued before the flush was asked for has been delivered.
        let message = tokio::select! {
            biased;
            message = rx.recv() => message,
            Some(done) = flushes.recv() => {
                let _ = done.send(());
                continue;
            }
        };
        let Some(message) = message else {
            break;
        };
        let Some(conn) = inner.upgrade() else {
            return;
        };
        match message {
            ConnMessage::Event { name, args } => {
                let targets: Vec<Callback> = lock(&conn.callbacks)
                    .get(&*name)
                    .map(|list| list.iter().map(|(_, cb)| Arc::clone(cb)).collect())
                    .unwrap_or_default();
                for callback in targets {
                    callback(&args);
                }
            }
            ConnMessage::Closed(reason) => {
                conn.closed.send_replace(Some(reason));
                return;
            }
            // Transports answer actions through their own channels.
            ConnMessage::ActionResponse { .. } => {}
        }
    }
    if let Some(conn) = inner.upgrade() {
        conn.closed.send_if_modified(|closed| {
            let first = closed.is_none();
            closed.get_or_insert(None);
            first
        });
    }
}

/// Locks a mutex, recovering the data if a callback panicked while holding it.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
