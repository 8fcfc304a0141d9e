//! An actor's connections: client connections with their parameters, state and subscriptions,
//! and raw WebSockets; and the routing of a turn's events to them.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use bytes::Bytes;
use rivet_client::ActorError;
use rivet_client::transport::{ConnMessage, ConnSender};
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::raw::RawWebSocket;

/// How a connection reaches the actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnKind {
    /// A WebSocket (`/connect`).
    WebSocket,
    /// A stateless call, over HTTP or from an in-process handle: the connection lasts for the
    /// call.
    Http,
    /// An in-process connection (`registry.client()` or `cx.client()`).
    InProcess,
}

/// A client connection to this actor, with its state `S` (from `#[conn_state]`).
#[derive(Debug)]
pub struct Conn<S> {
    id: String,
    params: Option<Bytes>,
    state: S,
    kind: ConnKind,
    subscriptions: HashSet<String>,
    sink: ConnSender,
}

impl<S> Conn<S> {
    pub(crate) fn new(
        id: String,
        params: Option<Bytes>,
        state: S,
        kind: ConnKind,
        sink: ConnSender,
    ) -> Self {
        Self {
            id,
            params,
            state,
            kind,
            subscriptions: HashSet::new(),
            sink,
        }
    }

    /// The connection id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The parameters as the client sent them (CBOR).
    pub(crate) fn raw_params(&self) -> Option<&Bytes> {
        self.params.as_ref()
    }

    /// How many events it is subscribed to.
    pub(crate) fn subscription_count(&self) -> usize {
        self.subscriptions.len()
    }

    /// How the connection reaches the actor.
    pub fn kind(&self) -> ConnKind {
        self.kind
    }

    /// The connection's state.
    pub fn state(&self) -> &S {
        &self.state
    }

    /// The connection's state, mutably.
    pub fn state_mut(&mut self) -> &mut S {
        &mut self.state
    }

    /// The connection parameters the client gave, decoded as `T` (`None` if it gave none).
    pub fn params<T: DeserializeOwned>(&self) -> Result<Option<T>, Error> {
        self.params
            .as_deref()
            .map(|p| {
                rivet_client::codec::from_cbor(p).map_err(|e| {
                    Error::public(
                        rivet_client::codes::VALIDATION_ERROR
                            .with_message(format!("invalid connection parameters: {e}")),
                    )
                })
            })
            .transpose()
    }

    /// Whether the connection subscribed to the event with this wire name.
    pub fn is_subscribed(&self, event: &str) -> bool {
        self.subscriptions.contains(event)
    }

    /// Where the actor's messages to this connection go.
    pub(crate) fn sink(&self) -> &ConnSender {
        &self.sink
    }
}

/// An actor's open connections and raw WebSockets, and the connection the running turn came
/// through. Both kinds keep the actor awake.
#[derive(Debug)]
pub(crate) struct Conns<S> {
    open: HashMap<String, Conn<S>>,
    current: Option<String>,
    raw: HashMap<String, RawWebSocket>,
}

impl<S> Default for Conns<S> {
    fn default() -> Self {
        Self {
            open: HashMap::new(),
            current: None,
            raw: HashMap::new(),
        }
    }
}

impl<S> Conns<S> {
    pub(crate) fn get(&self, id: &str) -> Option<&Conn<S>> {
        self.open.get(id)
    }

    /// How many connections (and raw WebSockets) are open.
    pub(crate) fn len(&self) -> usize {
        self.open.len() + self.raw.len()
    }

    pub(crate) fn contains(&self, id: &str) -> bool {
        self.open.contains_key(id)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Conn<S>> {
        self.open.values()
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut Conn<S>> {
        self.open.values_mut()
    }

    /// Adds a connection; it becomes the current one (its hooks run next).
    pub(crate) fn insert(&mut self, conn: Conn<S>) {
        self.current = Some(conn.id.clone());
        self.open.insert(conn.id.clone(), conn);
    }

    pub(crate) fn remove(&mut self, id: &str) -> Option<Conn<S>> {
        self.open.remove(id)
    }

    /// The connection the running turn came through.
    pub(crate) fn current(&self) -> Option<&Conn<S>> {
        self.current.as_ref().and_then(|id| self.open.get(id))
    }

    pub(crate) fn current_mut(&mut self) -> Option<&mut Conn<S>> {
        self.current.as_ref().and_then(|id| self.open.get_mut(id))
    }

    pub(crate) fn set_current(&mut self, id: Option<String>) {
        self.current = id;
    }

    pub(crate) fn set_subscription(&mut self, id: &str, event: String, subscribe: bool) {
        if let Some(conn) = self.open.get_mut(id) {
            if subscribe {
                conn.subscriptions.insert(event);
            } else {
                conn.subscriptions.remove(&event);
            }
        }
    }

    /// Whether any connection listens to `event`.
    pub(crate) fn any_subscribed(&self, event: &str) -> bool {
        self.open.values().any(|c| c.subscriptions.contains(event))
    }

    /// Forgets connections and sockets whose other end is gone; returns whether none is left.
    pub(crate) fn prune_closed(&mut self) -> bool {
        self.open.retain(|_, conn| !conn.sink.is_closed());
        self.raw.retain(|_, socket| !socket.is_closed());
        self.open.is_empty() && self.raw.is_empty()
    }

    /// The deliveries of a turn's broadcasts (to subscribed connections) and direct events.
    pub(crate) fn route(
        &self,
        events: Vec<(&'static str, Bytes)>,
        direct: Vec<(String, &'static str, Bytes)>,
    ) -> Vec<(ConnSender, ConnMessage)> {
        let mut deliveries = Vec::new();
        for (name, args) in events {
            let mut shared: Option<Arc<str>> = None;
            for conn in self.open.values() {
                if conn.subscriptions.contains(name) {
                    let name = shared.get_or_insert_with(|| Arc::from(name));
                    deliveries.push((
                        conn.sink.clone(),
                        ConnMessage::Event {
                            name: Arc::clone(name),
                            args: args.clone(),
                        },
                    ));
                }
            }
        }
        for (conn_id, name, args) in direct {
            if let Some(conn) = self.open.get(&conn_id) {
                deliveries.push((
                    conn.sink.clone(),
                    ConnMessage::Event {
                        name: Arc::from(name),
                        args,
                    },
                ));
            }
        }
        deliveries
    }

    /// Closes every connection and raw socket with `reason` (the actor is stopping).
    pub(crate) fn close_all(&self, reason: &ActorError) {
        for conn in self.open.values() {
            let _ = conn.sink.send(ConnMessage::Closed(Some(reason.clone())));
        }
        for socket in self.raw.values() {
            socket.close(1001, reason.full_code());
        }
    }

    pub(crate) fn raw(&self, id: &str) -> Option<&RawWebSocket> {
        self.raw.get(id)
    }

    pub(crate) fn raw_sockets(&self) -> impl Iterator<Item = &RawWebSocket> {
        self.raw.values()
    }

    pub(crate) fn insert_raw(&mut self, socket: RawWebSocket) {
        self.raw.insert(socket.id().to_owned(), socket);
    }

    pub(crate) fn remove_raw(&mut self, id: &str) -> Option<RawWebSocket> {
        self.raw.remove(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rivet_client::transport::{ConnReceiver, conn_channel};

    fn conn(conns: &mut Conns<()>, id: &str) -> ConnReceiver {
        let (tx, rx) = conn_channel();
        conns.insert(Conn::new(id.to_owned(), None, (), ConnKind::WebSocket, tx));
        rx
    }

    #[test]
    fn broadcasts_reach_subscribers_only_and_direct_events_reach_their_connection() {
        let mut conns = Conns::default();
        let mut a = conn(&mut conns, "a");
        let mut b = conn(&mut conns, "b");
        assert_eq!(conns.current().map(Conn::id), Some("b"));
        conns.set_subscription("a", "tick".to_owned(), true);
        conns.set_subscription("b", "tick".to_owned(), true);
        conns.set_subscription("b", "tick".to_owned(), false);
        assert!(conns.any_subscribed("tick"));
        let deliveries = conns.route(
            vec![("tick", Bytes::from_static(b"1"))],
            vec![("b".to_owned(), "hi", Bytes::from_static(b"2"))],
        );
        for (sink, message) in deliveries {
            sink.send(message).expect("open");
        }
        let name = |m: ConnMessage| match m {
            ConnMessage::Event { name, .. } => name.to_string(),
            other => format!("{other:?}"),
        };
        assert_eq!(name(a.try_recv().expect("a gets tick")), "tick");
        assert!(a.try_recv().is_err(), "a gets nothing else");
        assert_eq!(name(b.try_recv().expect("b gets its direct event")), "hi");
        assert!(b.try_recv().is_err(), "b unsubscribed from tick");
    }

    #[test]
    fn closed_connections_are_pruned() {
        let mut conns = Conns::default();
        let a = conn(&mut conns, "a");
        let _b = conn(&mut conns, "b");
        drop(a);
        assert!(!conns.prune_closed());
        assert!(!conns.contains("a") && conns.contains("b"));
    }
}
