//! Every fixture actor, registered under RivetKit's names.

use rivet_core::RegistryBuilder;

pub mod counter;

/// Adds every fixture actor to `builder`.
pub fn register(builder: RegistryBuilder) -> RegistryBuilder {
    builder.with::<counter::Counter>()
}
