//! `flow`: a durable workflow with a message, steps, a gated step, a loop with carried state
//! and a last step that answers the message; its code can be "changed" between wakes.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use rivet_core::prelude::*;

use crate::actors::ended::report_end;
use crate::support::log::record;
use crate::support::sync::{entered, gate};

/// Which version of the [`Flow`] workflow runs: the original, one that renamed its `prepare`
/// step (history divergence), or one that removed it properly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowVersion {
    /// `start`, `prepare`, `gated`, loop `sum`, `finish`.
    Original,
    /// `prepare` renamed to `setup`.
    Renamed,
    /// `prepare` removed with `removed("prepare")`.
    Removed,
}

/// Makes the `flow` actor of `key` run `version` of its workflow from its next wake, as if its
/// code had changed.
pub fn set_flow_version(key: &str, version: FlowVersion) {
    flow_versions()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(key.to_owned(), version);
}

fn flow_version(key: &str) -> FlowVersion {
    flow_versions()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(key)
        .copied()
        .unwrap_or(FlowVersion::Original)
}

fn flow_versions() -> &'static Mutex<HashMap<String, FlowVersion>> {
    static VERSIONS: OnceLock<Mutex<HashMap<String, FlowVersion>>> = OnceLock::new();
    VERSIONS.get_or_init(Default::default)
}

/// The workflow of the `flow` actors. Each step body logs itself with [`hook_log`](crate::hook_log) (so a test
/// counts how often it ran), and changes the state only through `update` (so a test sees that
/// each change happened once). `gated` waits for `gate("flow:{key}")` after signalling
/// `entered("flow:{key}")`, so a test can stop the process inside it.
async fn flow_workflow(cx: rivet_core::run::RunCx<Flow>) -> Result<(), Error> {
    use rivet_core::run::Next;
    use rivet_core::workflow::{Loop, Workflow};
    let key = cx.key().parts().first().cloned().unwrap_or_default();
    let version = flow_version(&key);
    let log = cx.key().clone();
    let outer = cx.key().clone();
    let result = cx
        .workflow(async move |wf: Workflow<Flow>| {
            let start = wf
                .queue()
                .next("start", Next::new().names(["start"]))
                .await?
                .ok_or_else(|| Error::internal("no start message"))?;
            let n: u32 = start.decode()?;
            let base = match version {
                FlowVersion::Original | FlowVersion::Renamed => {
                    let name = if version == FlowVersion::Original {
                        "prepare"
                    } else {
                        "setup"
                    };
                    let log = log.clone();
                    wf.step(name, async move |s| {
                        record(&log, "prepare");
                        s.update(|state: &mut Flow, _| {
                            state.log.push("prepare".into());
                            Ok(())
                        });
                        Ok(n * 10)
                    })
                    .await?
                }
                FlowVersion::Removed => {
                    wf.removed("prepare").await?;
                    n * 10
                }
            };
            let (gate_key, log2) = (key.clone(), log.clone());
            wf.step("gated", async move |s| {
                record(&log2, "gated");
                entered(&format!("flow:{gate_key}")).add_permits(1);
                if let Ok(permit) = gate(&format!("flow:{gate_key}")).acquire().await {
                    permit.forget();
                }
                s.update(|state: &mut Flow, _| {
                    state.log.push("gated".into());
                    Ok(())
                });
                Ok(())
            })
            .await?;
            let log3 = log.clone();
            let total = wf
                .repeat(
                    "sum",
                    (0u32, base),
                    async move |wf, (i, total): (u32, u32)| {
                        if i == 3 {
                            return Ok(Loop::Break(total));
                        }
                        let log = log3.clone();
                        let added = wf
                            .step("add", async move |s| {
                                record(&log, &format!("add:{i}"));
                                s.update(move |state: &mut Flow, _| {
                                    state.log.push(format!("add:{i}"));
                                    Ok(())
                                });
                                Ok(total + i + 1)
                            })
                            .await?;
                        Ok(Loop::Continue((i + 1, added)))
                    },
                )
                .await?;
            wf.step("finish", async move |s| {
                s.complete(&start, &total)?;
                s.update(move |state: &mut Flow, _| {
                    state.log.push(format!("finish:{total}"));
                    Ok(())
                });
                Ok(total)
            })
            .await
        })
        .await;
    report_end(&outer, result)
}

/// An actor whose `#[run]` is a durable workflow: a message, steps, a gated step, a loop with
/// carried state, and a last step that answers the message (see `flow_workflow`).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Flow {
    /// What the steps' state changes wrote, in order.
    pub log: Vec<String>,
}

#[actor(name = "flow")]
impl Flow {
    /// Starts the workflow with `n`; answered with its total once it finishes.
    #[queue]
    fn start(n: u32) -> u32;

    #[run]
    async fn run(cx: rivet_core::run::RunCx<Self>) -> Result<(), Error> {
        flow_workflow(cx).await
    }

    /// What the steps wrote.
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
