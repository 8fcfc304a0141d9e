//! The server of the crash tests (`tests/crash_safety.rs`): the example actors and `Store` on
//! the data directory given as the first argument, with the durability named by the optional
//! second (`power-loss`, the default, or `process-crash`), on a free loopback port that it
//! prints; SIGTERM stops it gracefully (`Registry::serve_on`). Logs and spans go where `rivet_core::telemetry::init` sends them (span export to a
//! collector when `OTEL_EXPORTER_OTLP_ENDPOINT` is set: `tests/telemetry_otlp.rs`).
#![allow(clippy::print_stdout)]

use std::io::Write as _;

use rivet_core::storage::sqlite::Durability;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let _telemetry = rivet_core::telemetry::init()?;
    let mut args = std::env::args().skip(1);
    let usage = "usage: crash_server <data dir> [power-loss|process-crash]";
    let dir = args.next().ok_or(usage)?;
    let durability = match args.next().as_deref() {
        None | Some("power-loss") => Durability::PowerLoss,
        Some("process-crash") => Durability::ProcessCrash,
        Some(_) => return Err(usage.into()),
    };
    let registry = rivet_examples::registry()
        .with::<rivet_tests::Store>()
        .with::<rivet_tests::Ledger>()
        .data_dir(dir)
        .durability(durability)
        .build()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    // Runs until killed (the crash tests send SIGKILL), or stops gracefully on SIGTERM.
    registry.serve_on(listener).await?;
    Ok(())
}
