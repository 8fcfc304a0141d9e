//! `sleeper`: a workflow with a durable `sleep_until` whose time the test chooses per wake.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

use rivet_core::prelude::*;

use crate::actors::ended::report_end;
use crate::support::log::record;
use crate::support::sync::entered;

/// Makes the `sleeper` actor of `key` call `sleep_until` with `time` from its next wake, as a
/// workflow that computes its deadline when it runs would (default: the epoch).
pub fn set_sleeper_time(key: &str, time: SystemTime) {
    sleeper_times()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(key.to_owned(), time);
}

fn sleeper_time(key: &str) -> SystemTime {
    sleeper_times()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(key)
        .copied()
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

fn sleeper_times() -> &'static Mutex<HashMap<String, SystemTime>> {
    static TIMES: OnceLock<Mutex<HashMap<String, SystemTime>>> = OnceLock::new();
    TIMES.get_or_init(Default::default)
}

/// An actor whose workflow runs step `before`, sleeps until [`set_sleeper_time`]'s time
/// (`until`), runs step `after` (which signals `entered("sleeper:{key}")`), then waits for a
/// `finish` message and completes it in step `done`. Steps log themselves with
/// [`hook_log`](crate::hook_log).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Sleeper;

#[actor(name = "sleeper")]
impl Sleeper {
    /// Ends the workflow; answered once it did.
    #[queue]
    fn finish(n: u32) -> u32;

    #[run]
    async fn run(cx: rivet_core::run::RunCx<Self>) -> Result<(), Error> {
        use rivet_core::run::Next;
        let key = cx.key().clone();
        let outer = key.clone();
        let name = key.parts().first().cloned().unwrap_or_default();
        let until = sleeper_time(&name);
        let result = cx
            .workflow(async move |wf| {
                let k = key.clone();
                wf.step("before", async move |_| {
                    record(&k, "before");
                    Ok(())
                })
                .await?;
                wf.sleep_until("until", until).await?;
                let (k, signal) = (key.clone(), name.clone());
                wf.step("after", async move |_| {
                    record(&k, "after");
                    entered(&format!("sleeper:{signal}")).add_permits(1);
                    Ok(())
                })
                .await?;
                let finish = wf
                    .queue()
                    .next("finish", Next::new().names(["finish"]))
                    .await?
                    .ok_or_else(|| Error::internal("no finish message"))?;
                let n: u32 = finish.decode()?;
                let k = key.clone();
                wf.step("done", async move |s| {
                    record(&k, "done");
                    s.complete(&finish, &n)?;
                    Ok(())
                })
                .await
            })
            .await;
        report_end(&outer, result)
    }

    /// The workflow's history.
    #[action]
    fn history(&self, cx: &mut Cx<Self>) -> Option<rivet_core::workflow::WorkflowHistory> {
        cx.workflow_history()
    }
}
