//! `replayed`: a workflow of two steps that count how often each ran, then completes; what a
//! replay from the inspector runs again.

use rivet_core::prelude::*;
use rivet_core::run::RunCx;
use rivet_core::workflow::{Workflow, WorkflowStatus};

/// How often each step of the workflow ran.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Replayed {
    /// Runs of step `one`.
    pub one: u32,
    /// Runs of step `two`.
    pub two: u32,
}

#[actor(name = "replayed")]
impl Replayed {
    #[run]
    async fn run(cx: RunCx<Self>) -> Result<(), Error> {
        cx.workflow(async move |wf: Workflow<Replayed>| {
            wf.step("one", async move |s| {
                s.update(|state: &mut Replayed, _| {
                    state.one += 1;
                    Ok(())
                });
                Ok(())
            })
            .await?;
            wf.step("two", async move |s| {
                s.update(|state: &mut Replayed, _| {
                    state.two += 1;
                    Ok(())
                });
                Ok(())
            })
            .await?;
            Ok(())
        })
        .await
    }

    /// Runs of steps `one` and `two`.
    #[action]
    fn counts(&self) -> (u32, u32) {
        (self.one, self.two)
    }

    /// Whether the workflow completed (as this activation last saw it).
    #[action]
    fn completed(&self, cx: &mut Cx<Self>) -> bool {
        cx.workflow_history()
            .is_some_and(|h| matches!(h.status, WorkflowStatus::Completed))
    }
}
