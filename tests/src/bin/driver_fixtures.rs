//! The fixture server RivetKit's driver test suite runs against (tests/driver-suite): the
//! fixture actors of tests/driver-fixtures on embedded storage in `$RIVET_DATA_DIR`, listening
//! on `$RIVET_ADDR` (`127.0.0.1:0` picks a free port). It prints `listening http://<addr>` once
//! it accepts connections, which is what the harness waits for, and stops on SIGTERM.
#![allow(clippy::print_stdout)]

use rivet_core::server::shutdown_signal;

// One thread, as RivetKit's Node server has: what a turn sends goes out in the order it was
// sent, across sockets too (a message to one connection before the reply on another), which
// a few of the suite's tests take for granted. On several worker threads each socket's writer
// races the others.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let _telemetry = rivet_core::telemetry::init()?;
    let registry = rivet_driver_fixtures::registry().build()?;
    let addr = std::env::var("RIVET_ADDR").unwrap_or_else(|_| "127.0.0.1:0".to_owned());
    let local = registry.spawn_server(addr).await?;
    println!("listening http://{local}");
    shutdown_signal().await?;
    registry.shutdown().await;
    Ok(())
}
