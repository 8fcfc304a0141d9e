//! What an actor's host and contexts need from the registry that runs them, as a trait the
//! registry implements, so that no layer below the registry names it; and the identity the
//! contexts of one activation share.

use std::sync::{Arc, Mutex};

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

    /// A client that calls actors in this process; `chain` names the actors whose turns wait
    /// on its calls (`None` outside a turn). It does not keep the registry alive.
    fn client(&self, chain: Option<CallChain>) -> Client;

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

/// Who an actor is, and the runtime hosting this activation: shared by its contexts.
#[derive(Debug)]
pub(crate) struct ActorIdentity {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) key: ActorKey,
    /// The actor's id in storage.
    pub(crate) storage_id: i64,
    /// Held by every context of the activation, all of which end with it.
    runtime: Arc<dyn ActorRuntime>,
    /// The running workflow's history, once `RunCx::workflow` loaded it in this activation.
    workflow: Mutex<Option<Arc<Mutex<Engine>>>>,
}

impl std::fmt::Debug for dyn ActorRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ActorRuntime")
    }
}

impl ActorIdentity {
    pub(crate) fn new(record: &ActorRecord, runtime: Arc<dyn ActorRuntime>) -> Self {
        Self {
            id: record.id.clone(),
            name: record.name.clone(),
            key: record.key.clone(),
            storage_id: record.storage_id,
            runtime,
            workflow: Mutex::new(None),
        }
    }

    pub(crate) fn runtime(&self) -> &Arc<dyn ActorRuntime> {
        &self.runtime
    }

    /// The workflow engine of this activation, if its workflow started.
    pub(crate) fn workflow(&self) -> Option<Arc<Mutex<Engine>>> {
        crate::sync::lock(&self.workflow).clone()
    }

    pub(crate) fn set_workflow(&self, engine: Arc<Mutex<Engine>>) {
        *crate::sync::lock(&self.workflow) = Some(engine);
    }
}
