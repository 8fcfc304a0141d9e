//! The `#[actor]` attribute of Rivet for Rust. Use it through `rivet_core::actor` (or the
//! `rivet_core::prelude`); the generated code refers only to `::rivet_core`.
//!
//! This crate is a thin shell: parsing, validation and code generation live in ordinary modules
//! under [`actor`] (the IR, one parser per concern, the cross-item checks, and the `expand`
//! generator) that work on `proc_macro2` tokens and are unit-tested without a compiler round
//! trip.

use proc_macro::TokenStream;

mod actor;
mod ctxt;

/// Turns an `impl` block of a serde state type into a durable actor.
///
/// Inside the block, methods marked `#[action]`, `#[queue]`, `#[event]`, `#[create]`, `#[vars]`
/// and the lifecycle hooks (`#[on_create]`, `#[on_wake]`, `#[on_sleep]`, `#[on_destroy]`,
/// `#[on_state_change]`) become the actor's interface; other methods are left alone.
///
/// It generates the dispatch table (`impl rivet_core::Actor`), the `{Actor}Event` enum,
/// and the typed `{Actor}Client` and `{Actor}Connection`. See the `rivet_core` crate docs.
#[proc_macro_attribute]
pub fn actor(attr: TokenStream, item: TokenStream) -> TokenStream {
    actor::expand(attr.into(), item.into()).into()
}
