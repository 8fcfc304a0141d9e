//! The registries of test actors that most tests start: in memory, and served on a free port.

use rivet_core::{Registry, RegistryBuilder};

use crate::actors::{Drain, Kicker, Lobby, Pipeline, Probe, Relay, Renamer, Store, Timer};
use crate::support::backend::Backend;
use crate::support::net::serve;

/// The examples and the test actors that most tests use, with the default limits and timeouts,
/// not yet pointed at a storage.
pub fn test_actors() -> RegistryBuilder {
    rivet_examples::registry()
        .with::<Probe>()
        .with::<Store>()
        .with::<Timer>()
        .with::<Relay>()
        .with::<Pipeline>()
        .with::<Drain>()
        .with::<Kicker>()
        .with::<Renamer>()
}

/// [`test_actors`] in memory.
pub fn memory_registry() -> Registry {
    registry_on(&Backend::memory())
}

/// [`test_actors`] on `backend`.
pub fn registry_on(backend: &Backend) -> Registry {
    backend.build(test_actors())
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
