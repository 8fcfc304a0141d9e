//! `kicker`: a `#[run]` loop that closes connections, so a test can see a run-loop turn's
//! `cx.disconnect` reach the client.

use rivet_core::UserError;
use rivet_core::prelude::*;
use rivet_core::run::{Next, RunCx};

/// Closes the connections whose ids reach its `kicks` queue, from its run loop.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Kicker;

#[actor(name = "kicker")]
impl Kicker {
    /// Ids of connections to close.
    #[queue]
    fn kicks(conn: String);

    /// Closes each connection in a turn of its own, with a reason for the client.
    #[run]
    async fn run(cx: RunCx<Self>) -> Result<(), Error> {
        while let Some(message) = cx.queue().next(Next::new()).await? {
            let conn: String = message.decode()?;
            cx.turn(move |_state: &mut Self, cx| {
                let reason = UserError::new("kicked", "Closed by the run loop.");
                cx.disconnect(&conn, Some(reason.into()));
                Ok(())
            })
            .await?;
            message.ack().await?;
        }
        Ok(())
    }
}
