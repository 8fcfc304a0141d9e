//! Durable workflows (RivetKit's `rivetkit/workflow`): a `#[run]` loop written as straight-line
//! code whose progress survives crashes, sleeps and restarts.
//!
//! [`RunCx::workflow`] runs a body that calls named entries on a [`Workflow`]:
//! [`step`](Workflow::step)s, [`repeat`](Workflow::repeat) loops, durable
//! [`sleep`](Workflow::sleep)s, [`queue`](Workflow::queue) waits, [`join`](Workflow::join)s and
//! [`race`](Workflow::race)s. Each entry's result is recorded in the actor's storage, in the
//! same commit as the state changes it made. When the actor wakes again (after a crash, a sleep
//! or a restart) the body runs from the top: recorded entries return their recorded results at
//! once without running again, and the workflow goes on at the first unfinished one.
//!
//! **Rules for replay.**
//! - Code outside entries runs again on every replay, so it must decide the same way each time:
//!   anything that reads the clock, the network or the state belongs in a step.
//! - A step's body runs at least once: a crash after it ran but before its record committed runs
//!   it again. Its state changes ([`StepCx::update`]) commit atomically with its record, so they
//!   happen exactly once; outside effects (another actor, a payment API) should be idempotent,
//!   for example keyed by the workflow's own ids.
//! - Entries are matched to the history by their name and position in their scope (the
//!   workflow, a loop iteration, a branch). Renaming, reordering or removing a recorded entry
//!   fails with `workflow.history_diverged` instead of returning results that belong to another
//!   entry. To remove one, put [`Workflow::removed`] with its name where it was: a recorded entry
//!   is skipped, and a workflow that never got there records a placeholder.
//! - A loop keeps only its current iteration: when one ends, its entries are deleted in the same
//!   commit that records the next iteration's carried state, so history stays small however
//!   long the loop runs.
//!
//! The history is readable as data with [`Cx::workflow_history`](crate::Cx::workflow_history).
//!
//! ```
//! use rivet_core::prelude::*;
//! use rivet_core::run::{Next, RunCx};
//! use rivet_core::workflow::Loop;
//!
//! #[derive(Debug, Clone, Serialize, Deserialize)]
//! pub struct Task {
//!     pub url: String,
//! }
//!
//! #[derive(Default, Serialize, Deserialize)]
//! pub struct Worker {
//!     processed: u64,
//! }
//!
//! #[actor(name = "worker")]
//! impl Worker {
//!     #[queue]
//!     fn tasks(task: Task);
//!
//!     #[run]
//!     async fn run(cx: RunCx<Self>) -> Result<(), Error> {
//!         cx.workflow(async move |wf| {
//!             wf.repeat("task-loop", (), async move |wf, ()| {
//!                 let Some(message) = wf.queue().next("wait-task", Next::new()).await? else {
//!                     return Ok(Loop::Continue(()));
//!                 };
//!                 let task: Task = message.decode()?;
//!                 wf.step("process-task", async move |s| {
//!                     // ... fetch task.url ...
//!                     let _ = &task.url;
//!                     s.update(|state: &mut Worker, _cx| {
//!                         state.processed += 1;
//!                         Ok(())
//!                     });
//!                     Ok(())
//!                 })
//!                 .await?;
//!                 Ok(Loop::<(), ()>::Continue(()))
//!             })
//!             .await
//!         })
//!         .await
//!     }
//! }
//! ```

mod api;
pub use rivet_client::codes::workflow as codes;
pub(crate) mod engine;
mod entries;
pub(crate) mod history;
mod record;

pub use api::{Loop, Step, StepCx, Workflow, WorkflowMessage};
pub use entries::{Branch, WorkflowQueue};
pub use history::{EntryKind, HistoryEntry, WorkflowHistory, WorkflowStatus};
pub use record::MAX_RECORD_SIZE;
