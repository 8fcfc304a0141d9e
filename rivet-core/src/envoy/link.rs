//! The way from the envoy's parts (actor storage, tunnelled responses, events) to the one task
//! that owns the engine connection: messages to send, and KV requests whose answers come back
//! by request id. Every KV request carries the connection epoch its actor was started in; the
//! connection task refuses one from an earlier connection, so an envoy that lost its connection
//! never writes for an actor the engine may have started elsewhere since (the engine's KV
//! requests carry no generation to fence them on the engine's side).

use std::sync::atomic::{AtomicU64, Ordering};

use rivet_envoy_protocol as p;
use tokio::sync::{mpsc, oneshot};

use super::protocol::ToRivet;

/// Something for the connection task.
#[derive(Debug)]
pub(crate) enum Outgoing {
    /// A message to send as it is (dropped if the connection is down: tunnelled responses die
    /// with their connection, events are kept by the ledger).
    Message(ToRivet),
    /// A message from the engine that reached the app another way (a serverless pool's
    /// `POST /start`), to handle as if it came over the connection.
    Inject(super::protocol::ToEnvoy),
    /// A KV request of an actor started in connection `epoch`.
    Kv {
        epoch: u64,
        actor_id: String,
        data: p::KvRequestData,
        reply: oneshot::Sender<Result<p::KvResponseData, KvFailure>>,
    },
}

/// Why a KV request got no answer.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum KvFailure {
    /// The connection it was meant for is gone (or was never up): the actor was fenced.
    #[error("the engine connection this actor was started on is gone")]
    Fenced,
    /// The envoy stopped.
    #[error("the envoy stopped")]
    Stopped,
}

/// Cheap to clone; shared by the storage, the tunnel and the connection task.
#[derive(Debug, Clone)]
pub(crate) struct Link {
    tx: mpsc::UnboundedSender<Outgoing>,
    epoch: std::sync::Arc<AtomicU64>,
}

impl Link {
    /// A link and the receiving end the connection task reads.
    pub(crate) fn new() -> (Self, mpsc::UnboundedReceiver<Outgoing>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Self {
                tx,
                epoch: std::sync::Arc::new(AtomicU64::new(0)),
            },
            rx,
        )
    }

    /// Starts a new epoch, for a new connection; returns it.
    pub(crate) fn next_epoch(&self) -> u64 {
        self.epoch.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// Sends a message if the connection task still runs.
    pub(crate) fn send(&self, message: ToRivet) {
        let _ = self.tx.send(Outgoing::Message(message));
    }

    /// Hands a message from the engine to the connection task, as if it came over the
    /// connection; `false` if the task is gone.
    pub(crate) fn inject(&self, message: super::protocol::ToEnvoy) -> bool {
        self.tx.send(Outgoing::Inject(message)).is_ok()
    }

    /// One KV request for `actor_id`, started in connection `epoch`; its answer.
    pub(crate) async fn kv(
        &self,
        epoch: u64,
        actor_id: &str,
        data: p::KvRequestData,
    ) -> Result<p::KvResponseData, KvFailure> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Outgoing::Kv {
                epoch,
                actor_id: actor_id.to_owned(),
                data,
                reply,
            })
            .map_err(|_| KvFailure::Stopped)?;
        answer.await.map_err(|_| KvFailure::Stopped)?
    }
}
