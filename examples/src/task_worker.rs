//! `taskWorker`: RivetKit's workflow worker (`loop -> queue.next -> step`) as a durable
//! workflow. Each task is taken from the `tasks` queue and processed in a step whose state
//! change commits with the step's record, so a task is counted exactly once even when the
//! process is killed in the middle; a crash replays the loop's current iteration.

use rivet_core::prelude::*;
use rivet_core::run::{Next, RunCx};
use rivet_core::workflow::{Loop, WorkflowHistory};

/// A task: `amount` to add, under a caller-chosen `id`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Task {
    /// The caller's id for the task; the completion echoes it.
    pub id: u64,
    /// What processing it adds to the total.
    pub amount: u64,
}

/// What a waiting sender of a task gets back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskDone {
    /// The task's id.
    pub id: u64,
}

/// The worker's persisted state.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct TaskWorker {
    processed: u64,
    total: u64,
}

/// Stands for the task's real work (an HTTP call, a computation), taking a millisecond: it
/// may run more than once if the process dies before the step is recorded, so real work
/// should be idempotent.
async fn process(task: &Task) -> Result<(), Error> {
    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    tracing::debug!(id = task.id, "processed");
    Ok(())
}

#[actor(name = "taskWorker", icon = "list-check")]
impl TaskWorker {
    /// Tasks for the workflow; a waiting sender is answered once its task's step is recorded.
    #[queue]
    pub fn tasks(task: Task) -> TaskDone;

    /// The workflow: forever, wait for a task, then process it in a step.
    #[run]
    pub async fn run(cx: RunCx<Self>) -> Result<(), Error> {
        cx.workflow(async move |wf| {
            wf.repeat("task-loop", (), async move |wf, ()| {
                let next = Next::new().names(["tasks"]);
                let Some(message) = wf.queue().next("wait-task", next).await? else {
                    return Ok(Loop::Continue(()));
                };
                let task: Task = message.decode()?;
                wf.step("process-task", async move |s| {
                    process(&task).await?;
                    let amount = task.amount;
                    s.update(move |state: &mut TaskWorker, _| {
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
    pub fn get_processed(&self) -> u64 {
        self.processed
    }

    /// The sum of the processed tasks' amounts.
    #[action]
    pub fn get_total(&self) -> u64 {
        self.total
    }

    /// The workflow's history (the loop and its current iteration).
    #[action]
    pub fn history(&self, cx: &mut Cx<Self>) -> Option<WorkflowHistory> {
        cx.workflow_history()
    }
}
