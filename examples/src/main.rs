//! The example actors (`counter`, `chatRoom`, `worker`) behind a RivetKit-compatible server, on
//! embedded storage (`./.rivet`, or `$RIVET_DATA_DIR`). Listens on 127.0.0.1:6420 (the official
//! client's default endpoint), or `$RIVET_ADDR`.
#![allow(clippy::print_stdout)]

use rivet_core::server::DEFAULT_ADDR;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();

    let registry = rivet_examples::registry().build()?;
    let addr = std::env::var("RIVET_ADDR").unwrap_or_else(|_| DEFAULT_ADDR.to_owned());
    let local = registry.spawn_server(addr).await?;
    println!("Rivet server listening on http://{local}");
    println!("actors: counter, chatRoom, worker — try:");
    println!(
        "  curl -X POST 'http://{local}/gateway/counter/action/increment?rvt-namespace=default&rvt-method=getOrCreate&rvt-runner=default&rvt-key=demo' -H 'content-type: application/json' -d '{{\"args\":[1]}}'"
    );
    tokio::signal::ctrl_c().await?;
    println!("shutting down");
    registry.shutdown().await;
    Ok(())
}
