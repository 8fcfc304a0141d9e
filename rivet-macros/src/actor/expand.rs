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
    /// A generator for `def`, naming the generated types after its state type.
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

impl Generator<'_> {
    /// `#[cfg(PREDICATE)]` on the items of the implementation, when the actor has
    /// `implementation(PREDICATE)`; nothing otherwise.
    fn implementation_gate(&self) -> proc_macro2::TokenStream {
        match &self.def.implementation_cfg {
            Some(predicate) => quote::quote!(#[cfg(#predicate)]),
            None => proc_macro2::TokenStream::new(),
        }
    }
}

impl ToTokens for Generator<'_> {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        // The user's block first, then the public types, then their impls.
        self.implementation_gate().to_tokens(tokens);
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

#[cfg(test)]
mod tests {
    use syn::parse_quote;

    use super::*;
    use crate::actor::parse::parse_ok;

    fn counter() -> ActorDef {
        parse_ok(
            quote::quote!(name = "counter", icon = "calculator"),
            parse_quote! {
                impl Counter {
                    #[action] fn increment(&mut self, cx: &mut Cx<Self>, amount: i64) -> i64 { 0 }
                    #[action] fn get_count(&self) -> i64 { 0 }
                    #[event] fn new_count(count: i64);
                }
            },
        )
    }

    #[test]
    fn generates_client_dispatch_and_events() {
        let def = counter();
        let out = Generator::new(&def).to_token_stream().to_string();
        assert!(out.contains("pub struct CounterClient"), "{out}");
        assert!(out.contains("pub struct CounterConnection"), "{out}");
        assert!(out.contains("pub enum CounterEvent"), "{out}");
        assert!(out.contains("\"getCount\""), "{out}");
        assert!(out.contains("fn on_new_count"), "{out}");
        assert!(!out.contains("compile_error"), "{out}");
    }

    #[test]
    fn the_user_block_then_the_types_then_their_impls() {
        let def = counter();
        let file: syn::File =
            syn::parse2(Generator::new(&def).to_token_stream()).expect("generated items parse");
        let items: Vec<String> = file
            .items
            .iter()
            .map(|item| match item {
                syn::Item::Impl(i) => format!("impl {}", i.self_ty.to_token_stream()),
                syn::Item::Struct(s) => format!("struct {}", s.ident),
                syn::Item::Enum(e) => format!("enum {}", e.ident),
                syn::Item::Const(_) => "const _".to_owned(),
                other => panic!("unexpected item {}", other.to_token_stream()),
            })
            .collect();
        assert_eq!(
            items,
            [
                "impl Counter",
                "enum CounterEvent",
                "const _",
                "struct CounterClient",
                "struct CounterConnection",
                "struct CounterCall",
                "impl CounterCall",
                "impl CounterClient",
                "impl CounterConnection",
                "const _",
            ]
        );
    }
}
