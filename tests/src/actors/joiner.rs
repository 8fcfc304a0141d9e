//! `joiner`: a workflow join whose one branch fails while the other is blocked in a step.

use rivet_core::prelude::*;

use crate::actors::ended::report_end;
use crate::support::log::record;
use crate::support::sync::{entered, gate};

/// An actor whose workflow joins two branches: `slow` runs step `blocked`, which logs
/// `blocked:start`, signals `entered("joiner:{key}")` and waits for `gate("joiner:{key}")`
/// before logging `blocked:done`; `broken` waits until `slow` is inside that step (it takes the
/// `entered` permit), logs `broken` and fails with the user error `branch_broke`. Runs when
/// the actor wakes.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Joiner {
    /// What the `blocked` step wrote.
    pub log: Vec<String>,
}

#[actor(name = "joiner")]
impl Joiner {
    #[run]
    async fn run(cx: rivet_core::run::RunCx<Self>) -> Result<(), Error> {
        use rivet_core::workflow::Branch;
        let key = cx.key().clone();
        let outer = key.clone();
        let name = key.parts().first().cloned().unwrap_or_default();
        let result = cx
            .workflow(async move |wf| {
                let (k1, k2) = (key.clone(), key.clone());
                let (n1, n2) = (name.clone(), name.clone());
                wf.join(
                    "both",
                    vec![
                        Branch::new("slow", move |wf| async move {
                            wf.step("blocked", async move |s| {
                                record(&k1, "blocked:start");
                                entered(&format!("joiner:{n1}")).add_permits(1);
                                if let Ok(permit) = gate(&format!("joiner:{n1}")).acquire().await {
                                    permit.forget();
                                }
                                record(&k1, "blocked:done");
                                s.update(|state: &mut Joiner, _| {
                                    state.log.push("blocked".into());
                                    Ok(())
                                });
                                Ok(1u32)
                            })
                            .await
                        }),
                        Branch::new("broken", move |_wf| async move {
                            if let Ok(permit) = entered(&format!("joiner:{n2}")).acquire().await {
                                permit.forget();
                            }
                            record(&k2, "broken");
                            Err(UserError::new("branch_broke", "the broken branch failed").into())
                        }),
                    ],
                )
                .await
            })
            .await;
        report_end(&outer, result)
    }

    /// What the `blocked` step wrote.
    #[action]
    fn log(&self) -> Vec<String> {
        self.log.clone()
    }

    /// The workflow's history.
    #[action]
    fn history(&self, cx: &mut Cx<Self>) -> Option<rivet_core::workflow::WorkflowHistory> {
        cx.workflow_history()
    }
}
