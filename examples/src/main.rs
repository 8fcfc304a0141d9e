//! The example actors (`counter`, `chatRoom`, `worker`, ...) behind a RivetKit-compatible
//! server, in one of two modes:
//!
//! - embedded (the default): storage under `./.rivet` (or `$RIVET_DATA_DIR`), listening on
//!   127.0.0.1:6420 (the official client's default endpoint) or `$RIVET_ADDR`;
//! - on a Rivet Engine, when `$RIVET_ENDPOINT` names one (with `$RIVET_NAMESPACE`,
//!   `$RIVET_TOKEN`, `$RIVET_POOL`): the process is an envoy of the engine, which keeps the
//!   actors' storage and serves clients from its own endpoint.
//!
//! Ctrl-C or SIGTERM stops it gracefully (on an engine, the actors move to other envoys first).
#![allow(clippy::print_stdout)]

use rivet_core::envoy::Envoy;
use rivet_core::envoy::connect::EngineEndpoint;
use rivet_core::server::{DEFAULT_ADDR, shutdown_signal};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Logs (`RUST_LOG`), and spans to a collector when `OTEL_EXPORTER_OTLP_ENDPOINT` is set;
    // dropped last, so the last turns' spans are sent before the process exits.
    let _telemetry = rivet_core::telemetry::init()?;

    if let Some(engine) = EngineEndpoint::from_env()? {
        let endpoint = engine.endpoint().to_owned();
        let envoy = Envoy::start(rivet_examples::registry(), engine).await?;
        println!("Serving the example actors on the Rivet Engine at {endpoint}");
        println!("  (envoy {}); clients connect to {endpoint}", envoy.key());
        shutdown_signal().await?;
        println!("shutting down: the engine moves the actors away");
        envoy.shutdown().await;
        return Ok(());
    }

    let registry = rivet_examples::registry().build()?;
    let addr = std::env::var("RIVET_ADDR").unwrap_or_else(|_| DEFAULT_ADDR.to_owned());
    let local = registry.spawn_server(addr).await?;
    println!("Rivet server listening on http://{local}");
    println!("actors: counter, chatRoom, worker — try:");
    println!(
        "  curl -X POST 'http://{local}/gateway/counter/action/increment?rvt-namespace=default&rvt-method=getOrCreate&rvt-runner=default&rvt-key=demo' -H 'content-type: application/json' -d '{{\"args\":[1]}}'"
    );
    shutdown_signal().await?;
    println!("shutting down");
    registry.shutdown().await;
    Ok(())
}
