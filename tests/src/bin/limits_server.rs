//! The server of the resource tests (`tests/server_resources.rs`): the example and test actors
//! in memory, with the default limits (the token from `$RIVET_TOKEN`, if set), logging at
//! `warn` to the file given as the first argument, on a free loopback port that it prints.
#![allow(clippy::print_stdout)]

use std::io::Write as _;
use std::sync::Mutex;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let log = std::env::args()
        .nth(1)
        .ok_or("usage: limits_server <log file>")?;
    let file = std::fs::File::create(log)?;
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
        .with_ansi(false)
        .with_writer(Mutex::new(file))
        .init();
    let registry = rivet_tests::test_actors()
        .with::<rivet_tests::Lobby>()
        .in_memory()
        .build()?;
    let addr = registry.spawn_server("127.0.0.1:0").await?;
    println!("{addr}");
    std::io::stdout().flush()?;
    // Runs until killed: the test ends it with SIGKILL.
    std::future::pending::<()>().await;
    Ok(())
}
