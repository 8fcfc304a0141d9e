//! Code generation from the actor IR: a [`Generator`] with one method per emitted item, composed
//! by its `ToTokens`. Everything refers to the runtime through `::rivet_core::__private`, so users
//! need one dependency and renamed imports never break it.
//!
//! Where each item is generated:
//! - `events.rs`: the `{Actor}Event` enum and its `EventSet` impl;
//! - `client.rs`: `{Actor}Client`, with the hidden helpers encoding each action's arguments and
//!   decoding its output, which the connection and the calls share;
//! - `connection.rs`: `{Actor}Connection` and its `on_{event}` subscriptions;
//! - `calls.rs`: `{Actor}Call`, typed action calls for schedules;
//! - `actor_impl.rs`: the `const _` scope holding `METADATA`, `ActorDescriptor` and the `Actor`
//!   impl, whose functions come from `metadata.rs`, `lifecycle.rs` (create, vars, run),
//!   `dispatch.rs` (actions and queues) and `hooks.rs` (lifecycle, connection and raw hooks);
//! - `invoke.rs`: how generated code calls a user method and converts its result.

use proc_macro2::TokenStream;
use quote::{ToTokens, format_ident};
use syn::Ident;

use super::ir::ActorDef;

mod actor_impl;
mod calls;
mod client;
mod connection;
mod dispatch;
mod events;
mod hooks;
mod invoke;
mod lifecycle;
mod metadata;

/// Generates everything an actor needs from its IR.
pub(crate) struct Generator<'a> {
    def: &'a ActorDef,
    /// `{Actor}Event`.
    event_ty: Ident,
    /// `{Actor}Client`.
    client_ty: Ident,
    /// `{Actor}Connection`.
    conn_ty: Ident,
    /// `{Actor}Call`.
    call_ty: Ident,
}

impl<'a> Generator<'a> {
    pub(crate) fn new(def: &'a ActorDef) -> Self {
        let ident = &def.ident;
        Self {
            def,
            event_ty: format_ident!("{}Event", ident),
            client_ty: format_ident!("{}Client", ident),
            conn_ty: format_ident!("{}Connection", ident),
            call_ty: format_ident!("{}Call", ident),
        }
    }
}

impl ToTokens for Generator<'_> {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        // The user's block first, then the public types, then their impls.
        self.def.cleaned.to_tokens(tokens);
        tokens.extend([
            self.event_enum(),
            self.client_struct(),
            self.connection_struct(),
            self.call_struct(),
            self.call_impl(),
            self.client_impl(),
            self.connection_impl(),
            self.actor_impl(),
        ]);
    }
}
