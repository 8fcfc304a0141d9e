//! An envoy of the runner-mode tests (`tests/engine_failover.rs`): the example actors, `Store`
//! and `Ledger` served on the Rivet Engine named by `RIVET_ENDPOINT` (with argument `backlog`,
//! `TaskBacklog` in place of the example `taskWorker`, to fill its queue; with `held`,
//! `TaskHeld`, which stops partway). Prints its envoy key
//! once the engine greeted it; on SIGTERM it stops gracefully (the engine moves its actors away)
//! and exits with success.
#![allow(clippy::print_stdout)]

use std::io::Write as _;

use rivet_core::envoy::Envoy;
use rivet_core::envoy::connect::EngineEndpoint;
use tokio::signal::unix::{SignalKind, signal};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let engine = EngineEndpoint::from_env()?.ok_or("RIVET_ENDPOINT is not set")?;
    let mut term = signal(SignalKind::terminate())?;
    let builder = match std::env::args().nth(1).as_deref() {
        Some("backlog") => rivet_core::Registry::builder().with::<rivet_tests::TaskBacklog>(),
        Some("held") => rivet_core::Registry::builder().with::<rivet_tests::TaskHeld>(),
        _ => rivet_examples::registry()
            .with::<rivet_tests::Store>()
            .with::<rivet_tests::Ledger>(),
    };
    // The atomicity test sends turns of over a megabyte, more than one engine request carries,
    // and reads them back.
    let builder = builder
        .max_incoming_message_size(8 << 20)
        .max_outgoing_message_size(8 << 20);
    let envoy = Envoy::start(builder, engine).await?;
    println!("{}", envoy.key());
    std::io::stdout().flush()?;
    term.recv().await;
    envoy.shutdown().await;
    Ok(())
}
