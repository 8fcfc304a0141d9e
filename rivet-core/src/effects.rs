//! What a turn asks for besides its state change — events, closing connections, sleeping or
//! being destroyed, and the workflow engine's records — collected in the turn and applied only
//! if the turn commits.

use bytes::Bytes;
use rivet_client::ActorError;

use crate::schedule::Schedules;
use crate::workflow::engine::WorkflowWrites;

/// The workflow engine's part of a turn: run once the turn's state change is accepted for
/// commit, it updates the engine (and the actor's schedules) and returns what the turn writes.
pub(crate) type WorkflowApply = Box<dyn FnOnce(&mut Schedules) -> WorkflowWrites + Send + Sync>;

/// What a turn asked for besides its state change; applied only if the turn succeeds.
#[derive(Default)]
pub(crate) struct TurnEffects {
    /// Broadcasts: to every subscribed connection.
    pub(crate) events: Vec<(&'static str, Bytes)>,
    /// Events for one connection each (`cx.send`), subscribed or not.
    pub(crate) direct: Vec<(String, &'static str, Bytes)>,
    /// Connections to close, with the reason.
    pub(crate) disconnects: Vec<(String, Option<ActorError>)>,
    pub(crate) sleep: bool,
    pub(crate) destroy: bool,
    /// The workflow engine's records of this turn (see [`WorkflowApply`]).
    pub(crate) workflow: Option<WorkflowApply>,
    /// Messages to the actor's own queue (`cx.enqueue`): queue name and CBOR body.
    pub(crate) enqueued: Vec<(String, Bytes)>,
}

impl std::fmt::Debug for TurnEffects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnEffects")
            .field("events", &self.events.len())
            .field("direct", &self.direct.len())
            .field("disconnects", &self.disconnects.len())
            .field("sleep", &self.sleep)
            .field("destroy", &self.destroy)
            .field("workflow", &self.workflow.is_some())
            .field("enqueued", &self.enqueued.len())
            .finish()
    }
}
