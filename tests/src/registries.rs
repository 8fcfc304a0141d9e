//! The registries of test actors that most tests start: in memory, and served on a free port.

use rivet_core::Registry;

use crate::actors::{Drain, Kicker, Lobby, Pipeline, Probe, Relay, Store, Timer};
use crate::support::net::serve;

/// A registry with the examples and the in-memory test actors, in memory, with the default
/// limits and timeouts.
pub fn memory_registry() -> Registry {
    rivet_examples::registry()
        .with::<Probe>()
        .with::<Store>()
        .with::<Timer>()
        .with::<Relay>()
        .with::<Pipeline>()
        .with::<Drain>()
        .with::<Kicker>()
        .in_memory()
        .build()
        .expect("registry")
}

/// A registry with the examples, the probe and the lobby, in memory, serving on a free loopback
/// port; returns the registry and its endpoint.
pub async fn serve_memory() -> (Registry, String) {
    let registry = rivet_examples::registry()
        .with::<Probe>()
        .with::<Lobby>()
        .in_memory()
        .build()
        .expect("registry");
    serve(registry).await
}
