//! `pipeline`: a `#[run]` loop over a declared queue, next to a queue with a handler.

use rivet_core::prelude::*;

use crate::support::log::record;
use crate::support::sync::{entered, gate};

/// An actor with a `#[run]` loop over a declared queue, next to a queue with a handler.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Pipeline {
    /// Tasks the run loop finished, in order.
    pub done: Vec<u32>,
    /// Notes the `notes` handler took.
    pub handled: Vec<u32>,
}

#[actor(name = "pipeline")]
impl Pipeline {
    /// Tasks for the run loop; completing one answers how many are done.
    #[queue]
    fn tasks(task: u32) -> usize;

    /// Notes, taken by this handler rather than the run loop.
    #[queue]
    fn notes(&mut self, note: u32) -> usize {
        self.handled.push(note);
        self.handled.len()
    }

    /// Takes tasks one by one. The gates and signals below are named after the actor's key
    /// (its first part), so tests on both backends do not share them. Task 500 signals
    /// `entered("pipeline-500:{key}")` once the loop holds it, then waits for
    /// `gate("pipeline-500:{key}")`, ignoring the request to stop, so a test can cut the loop off
    /// in the middle of a message; task 501 signals `entered("pipeline-501:{key}")` and finishes
    /// only once the loop is told to stop, so a test can see the loop's last turn and completion
    /// go through while the actor stops.
    #[run]
    async fn run(cx: rivet_core::run::RunCx<Self>) -> Result<(), Error> {
        record(cx.key(), "run:start");
        let key = cx.key().parts().first().cloned().unwrap_or_default();
        while let Some(message) = cx.queue().next(rivet_core::run::Next::new()).await? {
            let task: u32 = message.decode()?;
            if task == 500 {
                entered(&format!("pipeline-500:{key}")).add_permits(1);
                if let Ok(permit) = gate(&format!("pipeline-500:{key}")).acquire().await {
                    permit.forget();
                }
            }
            if task == 501 {
                entered(&format!("pipeline-501:{key}")).add_permits(1);
                cx.aborted().await;
            }
            let count = cx
                .turn(move |state: &mut Self, _cx| {
                    state.done.push(task);
                    Ok(state.done.len())
                })
                .await?;
            message.complete(&count).await?;
        }
        record(cx.key(), "run:stop");
        Ok(())
    }

    /// Tasks done.
    #[action]
    fn done(&self) -> Vec<u32> {
        self.done.clone()
    }

    /// Notes handled.
    #[action]
    fn handled(&self) -> Vec<u32> {
        self.handled.clone()
    }

    /// Sleeps after this turn.
    #[action]
    fn nap(&self, cx: &mut Cx<Self>) {
        cx.sleep();
    }
}
