//! The actors of RivetKit's run.ts: `#[run]` loops that tick, consume a queue, exit early or
//! fail, and an actor without one.

use std::time::Duration;

use rivet_core::prelude::*;

use crate::js::now_ms;
use rivet_core::run::{Next, RunCx};

/// RivetKit's `RUN_SLEEP_TIMEOUT`.
const RUN_SLEEP_TIMEOUT: Duration = Duration::from_millis(1000);

/// Ticks every 50 ms until the actor stops.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunWithTicks {
    tick_count: u64,
    last_tick_at: f64,
    run_started: bool,
    run_exited: bool,
}

#[actor(name = "runWithTicks", options = ActorOptions::new().sleep_timeout(RUN_SLEEP_TIMEOUT))]
impl RunWithTicks {
    #[run]
    async fn run(cx: RunCx<Self>) -> Result<(), Error> {
        cx.turn(|state: &mut Self, _| {
            state.run_started = true;
            Ok(())
        })
        .await?;
        while !cx.is_aborted() {
            cx.turn(|state: &mut Self, _| {
                state.tick_count += 1;
                state.last_tick_at = now_ms();
                Ok(())
            })
            .await?;
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(50)) => {}
                () = cx.aborted() => {}
            }
        }
        cx.turn(|state: &mut Self, _| {
            state.run_exited = true;
            Ok(())
        })
        .await
    }

    #[action]
    fn get_state(&self) -> Self {
        self.clone()
    }
}

/// One message the loop took.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Received {
    name: String,
    body: serde_json::Value,
}

/// Takes the `messages` queue in its run loop.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunWithQueueConsumer {
    messages_received: Vec<Received>,
    run_started: bool,
    wake_count: u64,
}

#[actor(
    name = "runWithQueueConsumer",
    options = ActorOptions::new().sleep_timeout(RUN_SLEEP_TIMEOUT)
)]
impl RunWithQueueConsumer {
    #[on_wake]
    fn woke(&mut self) {
        self.wake_count += 1;
    }

    /// What the loop consumes.
    #[queue]
    fn messages(body: serde_json::Value);

    #[run]
    async fn run(cx: RunCx<Self>) -> Result<(), Error> {
        cx.turn(|state: &mut Self, _| {
            state.run_started = true;
            Ok(())
        })
        .await?;
        while let Some(message) = cx.queue().next(Next::new().names(["messages"])).await? {
            let body: serde_json::Value = message.decode()?;
            let name = message.name().to_owned();
            cx.turn(move |state: &mut Self, _| {
                state.messages_received.push(Received { name, body });
                Ok(())
            })
            .await?;
            message.ack().await?;
        }
        Ok(())
    }

    #[action]
    fn get_state(&self) -> Self {
        self.clone()
    }

    /// Sends `body` to the actor's own `messages` queue (RivetKit's fixture sends through its
    /// own handle; from inside a turn that send joins the turn, with `cx.enqueue`).
    #[action]
    fn send_message(&self, cx: &mut Cx<Self>, body: serde_json::Value) -> Result<bool, Error> {
        cx.enqueue("messages", &body)?;
        Ok(true)
    }
}

macro_rules! short_run_actor {
    ($ty:ident, $name:literal, $fails:literal) => {
        /// A run loop that ends after 200 ms (or fails then): the actor sleeps, it is not
        /// destroyed.
        #[derive(Debug, Clone, Default, Serialize, Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub struct $ty {
            run_started: bool,
            destroy_called: bool,
            sleep_count: u64,
            wake_count: u64,
        }

        #[actor(name = $name, options = ActorOptions::new().sleep_timeout(RUN_SLEEP_TIMEOUT))]
        impl $ty {
            #[on_wake]
            fn woke(&mut self) {
                self.wake_count += 1;
            }

            #[on_sleep]
            fn slept(&mut self) {
                self.sleep_count += 1;
            }

            #[on_destroy]
            fn destroyed(&mut self) {
                self.destroy_called = true;
            }

            #[run]
            async fn run(cx: RunCx<Self>) -> Result<(), Error> {
                cx.turn(|state: &mut Self, _| {
                    state.run_started = true;
                    Ok(())
                })
                .await?;
                tokio::time::sleep(Duration::from_millis(200)).await;
                if $fails {
                    return Err(Error::internal("intentional error in run handler"));
                }
                Ok(())
            }

            #[action]
            fn get_state(&self) -> Self {
                self.clone()
            }
        }
    };
}

short_run_actor!(RunWithEarlyExit, "runWithEarlyExit", false);
short_run_actor!(RunWithError, "runWithError", true);

/// No run loop.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunWithoutHandler {
    wake_count: u64,
}

#[actor(
    name = "runWithoutHandler",
    options = ActorOptions::new().sleep_timeout(RUN_SLEEP_TIMEOUT)
)]
impl RunWithoutHandler {
    #[on_wake]
    fn woke(&mut self) {
        self.wake_count += 1;
    }

    #[action]
    fn get_state(&self) -> Self {
        self.clone()
    }
}
