//! The actors of RivetKit 2.2.1's driver test suite (`fixtures/driver-test-suite` in the RivetKit
//! repository, compiled into the npm package's `dist/tsup/serve-test-suite`), written as Rust
//! actors with the names, actions, events, queues and options the suite's assertions need.
//! One module per fixture file of RivetKit's, named after it.

use rivet_core::RegistryBuilder;

pub mod actors;
pub mod js;

/// A registry builder with every fixture actor, the fixed inspector token the suite uses
/// (`token`); data goes to `$RIVET_DATA_DIR` as in any registry.
pub fn registry() -> RegistryBuilder {
    actors::register(rivet_core::Registry::builder().inspector_token("token"))
}
