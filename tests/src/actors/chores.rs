//! `chores`: a workflow with retries, a step timeout, a join, a race, a timed queue wait, a
//! durable sleep and a step that fails for good.

use std::time::Duration;

use rivet_core::prelude::*;

use crate::actors::ended::report_end;
use crate::support::log::record;

/// An actor whose workflow shows retries, a step timeout, a join, a race, a timed queue wait, a
/// durable sleep and a step that fails for good. Step bodies log each attempt with
/// [`hook_log`](crate::hook_log). The workflow keeps the actor awake except in its two long
/// waits, so an idle timeout shorter than [`CHORES_REST`] puts it to sleep in each of them and
/// nowhere else, however slow the machine.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Chores {
    /// What the recorded steps wrote.
    pub log: Vec<String>,
}

/// How long the `chores` workflow's timed `quiet` queue wait and durable `rest` sleep last;
/// many times the sleep timeout of the registry in the test, so the actor sleeps in the middle
/// of each.
pub const CHORES_REST: Duration = Duration::from_millis(1500);

#[actor(name = "chores")]
impl Chores {
    /// Pokes for the race.
    #[queue]
    fn pokes(n: u32);

    #[run]
    async fn run(cx: rivet_core::run::RunCx<Self>) -> Result<(), Error> {
        use rivet_core::run::Next;
        use rivet_core::workflow::{Branch, Step};
        let key = cx.key().clone();
        let outer = key.clone();
        let fast = Duration::from_millis(1);
        let result: Result<u32, Error> = cx
            .workflow(async move |wf| {
                let awake = wf.run_cx().keep_awake();
                let k = key.clone();
                let flaky = wf
                    .step_with(Step::named("flaky").backoff(fast, fast), async move |s| {
                        record(&k, &format!("flaky:{}", s.attempt()));
                        if s.attempt() < 3 {
                            return Err(UserError::new("flaky", "not yet").into());
                        }
                        Ok(s.attempt())
                    })
                    .await?;
                let k = key.clone();
                let slow = wf
                    .step_with(
                        Step::named("slow")
                            .timeout(Some(Duration::from_millis(50)))
                            .backoff(fast, fast),
                        async move |s| {
                            record(&k, &format!("slow:{}", s.attempt()));
                            if s.attempt() == 1 {
                                std::future::pending::<()>().await;
                            }
                            Ok(s.attempt())
                        },
                    )
                    .await?;
                let (k1, k2) = (key.clone(), key.clone());
                let both = wf
                    .join(
                        "both",
                        vec![
                            Branch::new("left", |wf| async move {
                                wf.step("l", async move |_| {
                                    record(&k1, "l");
                                    Ok(1u32)
                                })
                                .await
                            }),
                            Branch::new("right", |wf| async move {
                                wf.step("r", async move |_| {
                                    record(&k2, "r");
                                    Ok(2u32)
                                })
                                .await
                            }),
                        ],
                    )
                    .await?;
                let (_, poke) = wf
                    .race(
                        "first",
                        vec![
                            Branch::new("message", |wf| async move {
                                let next = Next::new().names(["pokes"]);
                                match wf.queue().next("poke", next).await? {
                                    Some(message) => message.decode::<u32>(),
                                    None => Ok(0),
                                }
                            }),
                            Branch::new("timer", |wf| async move {
                                wf.sleep("never", Duration::from_secs(3600)).await?;
                                Ok(0)
                            }),
                        ],
                    )
                    .await?;
                // A wait that times out, longer than the idle timeout: the actor sleeps in the
                // middle, the recorded deadline wakes it, and the timeout is recorded.
                drop(awake);
                let quiet = Next::new().names(["nothing"]).timeout(CHORES_REST);
                let quiet = wf.queue().next("quiet", quiet).await?.is_none();
                let awake = wf.run_cx().keep_awake();
                let k = key.clone();
                let line = format!("{flaky} {slow} {both:?} {poke} {quiet}");
                wf.step("before-rest", async move |s| {
                    record(&k, "before-rest");
                    // The body may run again, so the update takes a copy.
                    let line = line.clone();
                    s.update(move |state: &mut Chores, _| {
                        state.log.push(line);
                        Ok(())
                    });
                    Ok(())
                })
                .await?;
                drop(awake);
                wf.sleep("rest", CHORES_REST).await?;
                let _awake = wf.run_cx().keep_awake();
                let k = key.clone();
                wf.step_with(
                    Step::named("doomed").max_retries(1).backoff(fast, fast),
                    async move |s| {
                        record(&k, &format!("doomed:{}", s.attempt()));
                        Err::<u32, Error>(UserError::new("nope", "never works").into())
                    },
                )
                .await
            })
            .await;
        report_end(&outer, result)
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
