//! The server of the resource tests (`tests/server_resources.rs`): the example and test actors
//! with the default limits (the token from `$RIVET_TOKEN`, if set), in memory or on the data
//! directory given as the optional second argument, logging at `warn` to the file given as
//! the first, on a free loopback port that it prints.
#![allow(clippy::print_stdout)]

use std::io::Write as _;
use std::sync::Mutex;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let log = args
        .next()
        .ok_or("usage: limits_server <log file> [data dir]")?;
    let file = std::fs::File::create(log)?;
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
        .with_ansi(false)
        .with_writer(Mutex::new(file))
        .init();
    let actors = rivet_tests::test_actors()
        .with::<rivet_tests::Lobby>()
        .with::<rivet_tests::Sorter>();
    let registry = match args.next() {
        Some(dir) => actors.data_dir(dir),
        None => actors.in_memory(),
    }
    .build()?;
    let addr = registry.spawn_server("127.0.0.1:0").await?;
    println!("{addr}");
    std::io::stdout().flush()?;
    // Runs until killed: the test ends it with SIGKILL.
    std::future::pending::<()>().await;
    Ok(())
}
