//! The registries of test actors that most tests start: in memory, and served on a free port.

use rivet_core::{Registry, RegistryBuilder};

use crate::actors::{
    Batcher, Drain, Kicker, Lobby, Pipeline, Poller, Probe, Relay, Renamer, Store, Timer, Turns,
};
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
        .with::<Batcher>()
        .with::<Poller>()
        .with::<Turns>()
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
    serve_on(&Backend::memory()).await
}

/// [`serve_memory`] on `backend`.
pub async fn serve_on(backend: &Backend) -> (Registry, String) {
    let registry = backend.build(rivet_examples::registry().with::<Probe>().with::<Lobby>());
    serve(registry).await
}
