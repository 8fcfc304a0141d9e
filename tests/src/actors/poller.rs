//! `poller`: a `#[run]` loop that polls its queue with `try_next`, one poll per signal from the
//! test, so a test sees what a poll returns on an empty queue and on a full one.

use rivet_core::prelude::*;
use rivet_core::run::RunCx;

use crate::support::sync::{entered, opened_or_aborted};

/// Polls its queue when told to and records what each poll returned.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Poller {
    /// What each poll returned: the message's number, or `None` for no message.
    pub polls: Vec<Option<u32>>,
}

#[actor(name = "poller")]
impl Poller {
    /// Numbers for the run loop.
    #[queue]
    fn items(n: u32);

    /// For each permit of `gate("poller:{key}")` (the key's first part): one `try_next`, whose
    /// message (if any) it acks; records the result in a turn, then signals
    /// `entered("poller:{key}")`.
    #[run]
    async fn run(cx: RunCx<Self>) -> Result<(), Error> {
        let key = cx.key().parts().first().cloned().unwrap_or_default();
        loop {
            if !opened_or_aborted(&format!("poller:{key}"), cx.aborted()).await {
                return Ok(());
            }
            let polled = match cx.queue().try_next(None).await? {
                Some(message) => {
                    let n: u32 = message.decode()?;
                    message.ack().await?;
                    Some(n)
                }
                None => None,
            };
            cx.turn(move |state: &mut Self, _cx| {
                state.polls.push(polled);
                Ok(())
            })
            .await?;
            entered(&format!("poller:{key}")).add_permits(1);
        }
    }

    /// What the polls returned so far.
    #[action]
    fn polls(&self) -> Vec<Option<u32>> {
        self.polls.clone()
    }
}
