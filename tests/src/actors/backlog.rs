//! `taskWorker` without its workflow, to fill the real worker's queue before it runs.

use rivet_core::prelude::*;
use rivet_examples::task_worker::{Task, TaskDone};

/// Stands in for [`TaskWorker`](rivet_examples::task_worker::TaskWorker): the same name, state
/// and `tasks` queue, but no `#[run]`, so sent tasks wait in the queue. The real worker, started
/// later on the same storage, finds them all there: a test gets a backlog whatever the speed of
/// the worker relative to the sender.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct TaskBacklog {
    // The worker's state, which the real worker decodes.
    processed: u64,
    total: u64,
}

#[actor(name = "taskWorker")]
impl TaskBacklog {
    /// The worker's queue; nothing takes from it here.
    #[queue]
    fn tasks(task: Task) -> TaskDone;
}
