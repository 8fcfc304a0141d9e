//! The server of the crash tests (`tests/crash_safety.rs`): the example actors and `Store` on
//! the data directory given as the only argument, on a free loopback port that it prints.
#![allow(clippy::print_stdout)]

use std::io::Write as _;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .ok_or("usage: crash_server <data dir>")?;
    let registry = rivet_examples::registry()
        .with::<rivet_tests::Store>()
        .with::<rivet_tests::Ledger>()
        .data_dir(dir)
        .build()?;
    let addr = registry.spawn_server("127.0.0.1:0").await?;
    println!("{addr}");
    std::io::stdout().flush()?;
    // Runs until killed: the test ends it with SIGKILL.
    std::future::pending::<()>().await;
    Ok(())
}
