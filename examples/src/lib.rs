//! Example actors for Rivet for Rust: [`counter::Counter`], [`chat_room::ChatRoom`], the queue
//! [`worker::Worker`], the workflow [`task_worker::TaskWorker`], the [`order::Order`] workflow
//! with its [`order::Inventory`], and [`registry`], the registry that hosts them all.

pub mod chat_room;
pub mod counter;
pub mod order;
pub mod task_worker;
pub mod worker;

use rivet_core::{Registry, RegistryBuilder};

/// A registry builder with the example actors registered.
pub fn registry() -> RegistryBuilder {
    Registry::builder()
        .with::<counter::Counter>()
        .with::<chat_room::ChatRoom>()
        .with::<worker::Worker>()
        .with::<task_worker::TaskWorker>()
        .with::<order::Inventory>()
        .with::<order::Order>()
}

/// The README's example, compiled and run as a doctest so it cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
mod readme {}
