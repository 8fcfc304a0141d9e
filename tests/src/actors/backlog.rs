//! `taskWorker` without its workflow, to fill the real worker's queue before it runs, and with
//! a workflow that stops partway, to be killed with work left.

use std::sync::atomic::{AtomicU64, Ordering};

use rivet_core::prelude::*;
use rivet_core::run::{Next, RunCx};
use rivet_core::workflow::{Loop, Step};
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

/// How many tasks [`TaskHeld`] finishes in one process before it holds.
pub const HELD_AFTER: u64 = 100;

/// Tasks whose step [`TaskHeld`] started in this process.
static STARTED: AtomicU64 = AtomicU64::new(0);

/// Stands in for [`TaskWorker`](rivet_examples::task_worker::TaskWorker) on an envoy that is to
/// be killed in the middle of the work: the same name, state, queue and workflow entries, but
/// the step of its task number [`HELD_AFTER`] + 1 in this process never ends. A test that waits
/// for [`HELD_AFTER`] processed tasks and then kills the process knows that work was left, and
/// that a taken task was in its step, whatever the speed of the machine; the real worker
/// elsewhere replays that step.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct TaskHeld {
    processed: u64,
    total: u64,
}

#[actor(name = "taskWorker")]
impl TaskHeld {
    /// The worker's queue.
    #[queue]
    fn tasks(task: Task) -> TaskDone;

    /// The example's workflow, holding from task [`HELD_AFTER`] + 1 on.
    #[run]
    async fn run(cx: RunCx<Self>) -> Result<(), Error> {
        cx.workflow(async move |wf| {
            wf.repeat("task-loop", (), async move |wf, ()| {
                let next = Next::new().names(["tasks"]);
                let Some(message) = wf.queue().next("wait-task", next).await? else {
                    return Ok(Loop::Continue(()));
                };
                let task: Task = message.decode()?;
                // No timeout: a held attempt must not end and be retried.
                let step = Step::named("process-task").timeout(None);
                wf.step_with(step, async move |s| {
                    if STARTED.fetch_add(1, Ordering::Relaxed) >= HELD_AFTER {
                        std::future::pending::<()>().await;
                    }
                    let amount = task.amount;
                    s.update(move |state: &mut TaskHeld, _| {
                        state.processed += 1;
                        state.total += amount;
                        Ok(())
                    });
                    s.complete(&message, &TaskDone { id: task.id })?;
                    Ok(())
                })
                .await?;
                Ok(Loop::<(), ()>::Continue(()))
            })
            .await
        })
        .await
    }

    /// How many tasks were processed.
    #[action]
    fn get_processed(&self) -> u64 {
        self.processed
    }
}
