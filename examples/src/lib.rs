//! Example actors for Rivet for Rust: [`counter::Counter`], [`chat_room::ChatRoom`] and
//! [`worker::Worker`], and [`registry`], the registry that hosts all three.

pub mod chat_room;
pub mod counter;
pub mod worker;

use rivet_core::{Registry, RegistryBuilder};

/// A registry builder with the three example actors registered.
pub fn registry() -> RegistryBuilder {
    Registry::builder()
        .with::<counter::Counter>()
        .with::<chat_room::ChatRoom>()
        .with::<worker::Worker>()
}

/// The README's example, compiled and run as a doctest so it cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
mod readme {}
