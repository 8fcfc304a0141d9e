//! `drain`: a `#[run]` loop that consumes its queue as a stream.

use rivet_core::prelude::*;

/// A run loop that consumes its queue as a stream.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Drain {
    /// Sum of the numbers taken.
    pub sum: u64,
}

#[actor(name = "drain")]
impl Drain {
    /// Numbers to add.
    #[queue]
    fn numbers(n: u64) -> u64;

    #[run]
    async fn run(cx: rivet_core::run::RunCx<Self>) -> Result<(), Error> {
        use futures_util::StreamExt;
        let mut messages = std::pin::pin!(cx.queue().iter());
        while let Some(message) = messages.next().await {
            let message = message?;
            let n: u64 = message.decode()?;
            let sum = cx.turn(move |state: &mut Self, _| {
                state.sum += n;
                Ok(state.sum)
            });
            message.complete(&sum.await?).await?;
        }
        Ok(())
    }

    /// The sum so far.
    #[action]
    fn sum(&self) -> u64 {
        self.sum
    }
}
