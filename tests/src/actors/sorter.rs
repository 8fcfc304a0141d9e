//! `sorter`: three queues, each taken its own way: `letters` by a `#[queue]` handler,
//! `parcels` by the `#[run]` loop once the test opens its gate, and `later` by nobody until a
//! parcel asks for it. `SorterBacklog` is the sorter without its handler and run loop, to fill
//! a queue before the real sorter runs on the same storage.

use rivet_core::prelude::*;
use rivet_core::run::{Next, RunCx};

use crate::support::sync::opened_or_aborted;

/// What the sorter took from each queue, in the order it took it.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sorted {
    /// Texts of `letters`, as the handler ran them.
    pub letters: Vec<String>,
    /// Texts of `parcels`, as the run loop took them.
    pub parcels: Vec<String>,
    /// Texts of `later`, taken when a `later` parcel came.
    pub later: Vec<String>,
}

/// Sorts its three queues.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Sorter {
    sorted: Sorted,
}

#[actor(name = "sorter")]
impl Sorter {
    /// Recorded as they run.
    #[queue]
    fn letters(&mut self, text: String) {
        self.sorted.letters.push(text);
    }

    /// For the run loop.
    #[queue]
    fn parcels(text: String);

    /// Nobody takes these, until a parcel `"later"` comes.
    #[queue]
    fn later(text: String);

    /// Once a permit of `gate("sorter:{key}")` comes (the key's first part), takes parcels in
    /// batches of up to 7 and records them; a parcel `"later"` also takes and records every
    /// waiting `later` message.
    #[run]
    async fn run(cx: RunCx<Self>) -> Result<(), Error> {
        let key = cx.key().parts().first().cloned().unwrap_or_default();
        if !opened_or_aborted(&format!("sorter:{key}"), cx.aborted()).await {
            return Ok(());
        }
        loop {
            let batch = cx
                .queue()
                .next_batch(Next::new().names(["parcels"]), 7)
                .await?;
            if batch.is_empty() {
                return Ok(());
            }
            for parcel in batch {
                let text: String = parcel.decode()?;
                let mut later = Vec::new();
                if text == "later" {
                    while let Some(message) =
                        cx.queue().try_next(Some(vec!["later".to_owned()])).await?
                    {
                        later.push(message.decode::<String>()?);
                        message.ack().await?;
                    }
                }
                cx.turn(move |state: &mut Self, _| {
                    state.sorted.parcels.push(text);
                    state.sorted.later.extend(later);
                    Ok(())
                })
                .await?;
                parcel.ack().await?;
            }
        }
    }

    /// What it took so far.
    #[action]
    fn sorted(&self) -> Sorted {
        self.sorted.clone()
    }
}

/// The sorter's name, state and queues, with nothing that takes from them.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SorterBacklog {
    sorted: Sorted,
}

#[actor(name = "sorter")]
impl SorterBacklog {
    /// Waits here for the real sorter's handler.
    #[queue]
    fn letters(text: String);

    /// Waits here for the real sorter's run loop.
    #[queue]
    fn parcels(text: String);

    /// As in the sorter.
    #[queue]
    fn later(text: String);
}
