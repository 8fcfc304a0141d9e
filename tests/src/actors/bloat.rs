//! `bloat`: a workflow whose step makes the state larger than the registry allows.

use std::time::Duration;

use rivet_core::prelude::*;

use crate::actors::ended::report_end;
use crate::support::log::record;

/// An actor whose workflow step makes the state larger than the registry allows: the step's
/// record must not count as done.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Bloat {
    /// Grows past the state size limit in the `grow` step.
    pub blob: String,
}

#[actor(name = "bloat")]
impl Bloat {
    #[run]
    async fn run(cx: rivet_core::run::RunCx<Self>) -> Result<(), Error> {
        let key = cx.key().clone();
        let outer = key.clone();
        let result: Result<(), Error> = cx
            .workflow(async move |wf| {
                let fast = Duration::from_millis(1);
                let grow = rivet_core::workflow::Step::named("grow")
                    .max_retries(1)
                    .backoff(fast, fast);
                wf.step_with(grow, async move |s| {
                    s.update(|state: &mut Bloat, _| {
                        state.blob = "x".repeat(200 * 1024);
                        Ok(())
                    });
                    Ok(())
                })
                .await?;
                let k = key.clone();
                wf.step("after", async move |_| {
                    record(&k, "after");
                    Ok(())
                })
                .await
            })
            .await;
        report_end(&outer, result)
    }

    /// The state's size.
    #[action]
    fn blob_len(&self) -> usize {
        self.blob.len()
    }

    /// The workflow's history.
    #[action]
    fn history(&self, cx: &mut Cx<Self>) -> Option<rivet_core::workflow::WorkflowHistory> {
        cx.workflow_history()
    }
}
