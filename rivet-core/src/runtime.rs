//! What an actor's host and contexts need from the registry that runs them, as a trait the
//! registry implements, so that no layer below the registry names it; and the identity the
//! contexts of one activation share.

use std::sync::{Arc, Mutex, Weak};

use rivet_client::{ActorKey, Client};

use crate::config::Config;
use crate::lifecycle::LifecycleKind;
use crate::mailbox::{CallChain, Leftovers, MailboxRx};
use crate::storage::{ActorRecord, Storage};
use crate::workflow::engine::Engine;

/// The registry as an activation sees it.
pub(crate) trait ActorRuntime: Send + Sync + 'static {
    /// Where actors are stored.
    fn storage(&self) -> &Arc<dyn Storage>;

    /// Limits and timeouts.
    fn config(&self) -> &Config;

    /// The registry's metrics.
    fn metrics(&self) -> &crate::metrics::Metrics;

    /// What makes the in-process clients of actor code.
    fn clients(&self) -> &ClientMaker;

    /// Reports what happened to an actor.
    fn publish(&self, record: &ActorRecord, kind: LifecycleKind);

    /// Wakes the sleeping actor `record` at `at_ms` (ms since the epoch).
    fn set_alarm(&self, record: ActorRecord, at_ms: i64);

    /// Forgets the alarm of a destroyed actor.
    fn clear_alarm(&self, actor_id: &str);

    /// Removes an activation that stopped and deals with the messages that reached it.
    fn deregister(
        self: Arc<Self>,
        record: &ActorRecord,
        generation: u64,
        rx: &mut MailboxRx,
        leftovers: Leftovers,
    );
}

/// Makes in-process clients for actor code. It holds the registry weakly, so a client kept
/// by actor code (even in a task of its own) never keeps the registry alive: once the registry
/// is gone, its calls fail with `registry.shut_down`. Cheap to clone.
#[derive(Clone)]
pub(crate) struct ClientMaker(Arc<dyn Fn(Option<CallChain>) -> Client + Send + Sync>);

impl ClientMaker {
    pub(crate) fn new(make: impl Fn(Option<CallChain>) -> Client + Send + Sync + 'static) -> Self {
        Self(Arc::new(make))
    }

    /// A client whose calls carry `chain`, the actors whose turns wait on them (`None` outside
    /// a turn).
    pub(crate) fn client(&self, chain: Option<CallChain>) -> Client {
        (self.0)(chain)
    }
}

impl std::fmt::Debug for ClientMaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientMaker")
    }
}

/// Who an actor is, and the runtime hosting this activation: shared by its contexts.
#[derive(Debug)]
pub(crate) struct ActorIdentity {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) key: ActorKey,
    /// The actor's id in storage.
    pub(crate) storage_id: i64,
    /// Held weakly: contexts can outlive the activation (actor code may move a `RunCx` or a
    /// workflow step's context into a task of its own), and must not keep the registry, and
    /// its storage, alive.
    runtime: Weak<dyn ActorRuntime>,
    clients: ClientMaker,
    /// The running workflow's history, once `RunCx::workflow` loaded it in this activation.
    workflow: Mutex<Option<Arc<Mutex<Engine>>>>,
}

impl std::fmt::Debug for dyn ActorRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ActorRuntime")
    }
}

impl ActorIdentity {
    pub(crate) fn new(record: &ActorRecord, runtime: &Arc<dyn ActorRuntime>) -> Self {
        Self {
            id: record.id.clone(),
            name: record.name.clone(),
            key: record.key.clone(),
            storage_id: record.storage_id,
            runtime: Arc::downgrade(runtime),
            clients: runtime.clients().clone(),
            workflow: Mutex::new(None),
        }
    }

    /// The runtime, unless the registry is gone.
    pub(crate) fn runtime(&self) -> Option<Arc<dyn ActorRuntime>> {
        self.runtime.upgrade()
    }

    /// An in-process client for actor code (see [`ClientMaker`]).
    pub(crate) fn client(&self, chain: Option<CallChain>) -> Client {
        self.clients.client(chain)
    }

    /// The workflow engine of this activation, if its workflow started.
    pub(crate) fn workflow(&self) -> Option<Arc<Mutex<Engine>>> {
        crate::sync::lock(&self.workflow).clone()
    }

    pub(crate) fn set_workflow(&self, engine: Arc<Mutex<Engine>>) {
        *crate::sync::lock(&self.workflow) = Some(engine);
    }
}
