//! `batcher`: a `#[run]` loop that takes its queue in batches with `next_batch`, one batch per
//! signal from the test, so a test sees exactly which messages each call took.

use rivet_core::prelude::*;
use rivet_core::run::{Next, RunCx};

use crate::support::sync::{entered, gate, opened_or_aborted};

/// Takes up to three messages at a time and records each batch.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Batcher {
    /// The batches taken, in order.
    pub batches: Vec<Vec<u32>>,
}

#[actor(name = "batcher")]
impl Batcher {
    /// Numbers for the run loop.
    #[queue]
    fn items(n: u32);

    /// For each permit of `gate("batcher:{key}")` (the key's first part): takes up to three
    /// messages with `next_batch`, records them in a turn, acks each, then signals
    /// `entered("batcher:{key}")`. A batch holding 0 is not acked at once: the loop signals
    /// `entered("batcher-hold:{key}")` and waits for `gate("batcher-hold:{key}")`, ignoring the
    /// request to stop, so a test can cut the loop off while it holds messages it took.
    #[run]
    async fn run(cx: RunCx<Self>) -> Result<(), Error> {
        let key = cx.key().parts().first().cloned().unwrap_or_default();
        loop {
            if !opened_or_aborted(&format!("batcher:{key}"), cx.aborted()).await {
                return Ok(());
            }
            let batch = cx.queue().next_batch(Next::new(), 3).await?;
            if batch.is_empty() {
                return Ok(());
            }
            let items = batch
                .iter()
                .map(|message| message.decode::<u32>())
                .collect::<Result<Vec<_>, _>>()?;
            let hold = items.contains(&0);
            cx.turn(move |state: &mut Self, _cx| {
                state.batches.push(items);
                Ok(())
            })
            .await?;
            if hold {
                entered(&format!("batcher-hold:{key}")).add_permits(1);
                if let Ok(permit) = gate(&format!("batcher-hold:{key}")).acquire().await {
                    permit.forget();
                }
            }
            for message in batch {
                message.ack().await?;
            }
            entered(&format!("batcher:{key}")).add_permits(1);
        }
    }

    /// The batches taken so far.
    #[action]
    fn batches(&self) -> Vec<Vec<u32>> {
        self.batches.clone()
    }
}
