//! The `const _` scope that ties the state type to the runtime: the `METADATA` static,
//! `From<ActorHandle>` for the client, `ActorDescriptor` (name, input, client) and the `Actor`
//! impl, assembled from the functions the sibling modules generate.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::Generator;

impl Generator<'_> {
    /// The `const _` scope; it is the only place that imports `__private` as `__rivet`.
    pub(super) fn actor_impl(&self) -> TokenStream {
        let self_ty = &self.def.self_ty;
        let client_ty = &self.client_ty;
        let name = &self.def.name;
        let metadata = self.metadata();
        let input_ty = self.input_type();
        let actor_trait = self.actor_trait_impl();
        let gate = self.implementation_gate();
        quote! {
            const _: () = {
                use ::rivet_core::__private as __rivet;

                #gate
                static METADATA: __rivet::ActorMetadata = #metadata;

                impl ::core::convert::From<__rivet::ActorHandle> for #client_ty {
                    fn from(handle: __rivet::ActorHandle) -> Self {
                        Self { handle }
                    }
                }

                impl __rivet::ActorDescriptor for #self_ty {
                    const NAME: &'static str = #name;
                    type Input = #input_ty;
                    type Client = #client_ty;
                }

                #gate
                #actor_trait
            };
        }
    }

    /// `impl Actor for State`, in the trait's order: types, metadata and migrations, building
    /// (create, vars), actions, queues and the run loop, hooks.
    fn actor_trait_impl(&self) -> TokenStream {
        let self_ty = &self.def.self_ty;
        let input_ty = self.input_type();
        let vars_ty = self.vars_type();
        let event_ty = &self.event_ty;
        let conn_state_ty = self.conn_state_type();
        let items = [
            self.migrations_fn(),
            self.create_fn(),
            self.create_vars_fn(),
            self.dispatch_fn(),
            self.queue_has_handler_fn(),
            self.run_fn(),
            self.check_queue_message_fn(),
            self.dispatch_queue_fn(),
            self.hook_fn(),
            self.state_change_fn(),
            self.before_connect_fn(),
            self.conn_state_fn(),
            self.request_fn(),
            self.websocket_fn(),
        ];
        quote! {
            impl __rivet::Actor for #self_ty {
                type Input = #input_ty;
                type Vars = #vars_ty;
                type Event = #event_ty;
                type ConnState = #conn_state_ty;

                fn metadata() -> &'static __rivet::ActorMetadata {
                    &METADATA
                }

                #(#items)*
            }
        }
    }

    /// `fn migrations`, from `#[actor(migrations = EXPR)]`, spanned on the expression so a
    /// wrong type is reported there; nothing (the trait's default) without it.
    fn migrations_fn(&self) -> TokenStream {
        let Some(expr) = &self.def.migrations else {
            return quote! {};
        };
        let value = quote_spanned!(expr.span()=> #expr);
        quote! {
            fn migrations() -> &'static [&'static str] {
                #value
            }
        }
    }
}
