//! `racer`: a workflow race won by a step after the other branch received a message.

use rivet_core::prelude::*;

use crate::actors::ended::report_end;
use crate::support::sync::entered;

/// An actor whose race is won by a step after the other branch received a queue message and did
/// nothing more: the message goes back to the queue, and a later wait gets it.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Racer {
    /// What the later wait received.
    pub got: Vec<u32>,
}

#[actor(name = "racer")]
impl Racer {
    /// Numbers; each is answered with twice itself.
    #[queue]
    fn numbers(n: u32) -> u32;

    #[run]
    async fn run(cx: rivet_core::run::RunCx<Self>) -> Result<(), Error> {
        use rivet_core::run::Next;
        use rivet_core::workflow::Branch;
        let key = cx.key().clone();
        let outer = key.clone();
        let name = key.parts().first().cloned().unwrap_or_default();
        let result = cx
            .workflow(async move |wf| {
                let (signal, wait_for) = (name.clone(), name.clone());
                let (winner, ()) = wf
                    .race(
                        "race",
                        vec![
                            Branch::new("listen", move |wf| async move {
                                wf.queue()
                                    .next("number", Next::new().names(["numbers"]))
                                    .await?;
                                // Recorded; this branch does nothing more.
                                entered(&format!("racer:{signal}")).add_permits(1);
                                std::future::pending::<()>().await;
                                Ok(())
                            }),
                            Branch::new("work", move |wf| async move {
                                wf.step("work", async move |_| {
                                    let heard = entered(&format!("racer:{wait_for}"));
                                    if let Ok(permit) = heard.acquire().await {
                                        permit.forget();
                                    }
                                    Ok(())
                                })
                                .await
                            }),
                        ],
                    )
                    .await?;
                let again = Next::new().names(["numbers"]);
                let message = wf
                    .queue()
                    .next("again", again)
                    .await?
                    .ok_or_else(|| Error::internal("no message"))?;
                let n: u32 = message.decode()?;
                wf.step("answer", async move |s| {
                    s.complete(&message, &(n * 2))?;
                    s.update(move |state: &mut Racer, _| {
                        state.got.push(n);
                        Ok(())
                    });
                    Ok(())
                })
                .await?;
                Ok(winner)
            })
            .await;
        report_end(&outer, result)
    }

    /// What the later wait received.
    #[action]
    fn got(&self) -> Vec<u32> {
        self.got.clone()
    }
}
