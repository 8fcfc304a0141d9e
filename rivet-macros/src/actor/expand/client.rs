//! `{Actor}Client`: the typed client, one async method per action and one `send_*` per queue,
//! plus the hidden per-action helpers (encode the arguments, decode the output) that the
//! connection and the calls reuse, so each conversion is generated in one place.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::Ident;
use syn::spanned::Spanned;

use super::Generator;
use crate::actor::ir::{Action, Output, Queue};

impl Generator<'_> {
    /// `pub struct {Actor}Client`.
    pub(super) fn client_struct(&self) -> TokenStream {
        let client_ty = &self.client_ty;
        let ident = &self.def.ident;
        let name = &self.def.name;
        let doc = format!(
            "The typed client of the [`{ident}`] actor (`{name}`): one async method per action and one `send_*` per queue."
        );
        quote! {
            #[doc = #doc]
            #[derive(Clone, Debug)]
            pub struct #client_ty {
                handle: ::rivet_core::__private::ActorHandle,
            }
        }
    }

    /// `impl {Actor}Client`: the fixed methods, the actions, the queues and the helpers.
    pub(super) fn client_impl(&self) -> TokenStream {
        let client_ty = &self.client_ty;
        let conn_ty = &self.conn_ty;
        let actions = &self.def.actions;
        let methods = actions
            .iter()
            .map(|a| client_action(a, client_ty, quote!(handle)));
        let queue_methods = self.def.queues.iter().map(client_queue);
        let helpers = actions.iter().map(client_action_helpers);
        quote! {
            #[allow(private_interfaces, private_bounds, clippy::too_many_arguments)]
            impl #client_ty {
                /// The untyped handle underneath.
                pub fn handle(&self) -> &::rivet_core::__private::ActorHandle {
                    &self.handle
                }

                /// This handle with connection parameters: the actor's `#[on_before_connect]` and
                /// `#[conn_state]` hooks receive them for every call and connection made from it.
                pub fn with_params<P: ::rivet_core::__private::serde::Serialize + ?::core::marker::Sized>(
                    self,
                    params: &P,
                ) -> ::core::result::Result<Self, ::rivet_core::__private::ActorError> {
                    ::core::result::Result::Ok(Self { handle: self.handle.with_params(params)? })
                }

                /// Opens a connection, for events and connection-bound actions.
                pub async fn connect(&self) -> ::core::result::Result<#conn_ty, ::rivet_core::__private::ActorError> {
                    ::core::result::Result::Ok(#conn_ty { conn: self.handle.connect().await? })
                }

                /// Resolves the actor's id, creating the actor first for get-or-create handles.
                pub async fn resolve(&self) -> ::core::result::Result<::std::string::String, ::rivet_core::__private::ActorError> {
                    self.handle.resolve().await
                }

                #(#methods)*
                #(#queue_methods)*
                #(#helpers)*
            }
        }
    }
}

/// The name of a generated helper for an item: `__rivet_{what}_{ident}` (raw identifiers lose
/// their `r#`).
pub(super) fn helper_ident(what: &str, ident: &Ident) -> Ident {
    let base = ident.to_string();
    format_ident!("__rivet_{}_{}", what, base.trim_start_matches("r#"))
}

/// An action's typed method, calling through `self.{via}` (the client's handle or the
/// connection).
pub(super) fn client_action(action: &Action, client_ty: &Ident, via: TokenStream) -> TokenStream {
    let ident = &action.ident;
    let wire = &action.wire;
    let docs = &action.docs;
    let call_doc = format!("Calls the `{wire}` action.");
    let args_fn = helper_ident("args", &action.ident);
    let output_fn = helper_ident("output", &action.ident);
    let params = action.params.iter().map(|p| {
        let name = &p.name;
        let ty = &p.ty;
        quote! { #name: #ty }
    });
    let names = action.params.iter().map(|p| &p.name);
    let out = action.output.ok_type();
    quote! {
        #(#docs)*
        #[doc = ""]
        #[doc = #call_doc]
        pub async fn #ident(&self, #(#params),*) -> ::core::result::Result<#out, ::rivet_core::__private::ActorError> {
            let args = #client_ty::#args_fn(#(&#names),*)?;
            #client_ty::#output_fn(&self.#via.action_raw(#wire, args).await?)
        }
    }
}

/// Hidden helpers on the client that encode an action's arguments and decode its output: one
/// place each, spanned on the user's types, shared by the client and the connection.
fn client_action_helpers(action: &Action) -> TokenStream {
    let args_fn = helper_ident("args", &action.ident);
    let output_fn = helper_ident("output", &action.ident);
    let len = action.params.len();
    let params = action.params.iter().map(|p| {
        let name = &p.name;
        let ty = &p.ty;
        quote! { #name: &#ty }
    });
    let pushes = action.params.iter().map(|p| {
        let name = &p.name;
        let ty = &p.ty;
        quote_spanned!(ty.span()=> __enc.push::<#ty>(#name)?;)
    });
    let out = action.output.ok_type();
    let decode = match &action.output {
        Output::Unit => quote! { ::rivet_core::__private::decode_output::<()>(output) },
        Output::Value(ty) | Output::Result(ty, _) => {
            quote_spanned!(ty.span()=> ::rivet_core::__private::decode_output::<#ty>(output))
        }
    };
    quote! {
        #[doc(hidden)]
        pub fn #args_fn(#(#params),*) -> ::core::result::Result<::rivet_core::__private::bytes::Bytes, ::rivet_core::__private::ActorError> {
            ::rivet_core::__private::encode_array(#len, |__enc| {
                #(#pushes)*
                ::core::result::Result::Ok(())
            })
        }

        #[doc(hidden)]
        pub fn #output_fn(output: &[u8]) -> ::core::result::Result<#out, ::rivet_core::__private::ActorError> {
            #decode
        }
    }
}

/// `send_{queue}(message)`, spanned on the message type.
fn client_queue(queue: &Queue) -> TokenStream {
    let method = format_ident!("send_{}", queue.ident);
    let wire = &queue.wire;
    let docs = &queue.docs;
    let ty = &queue.message.ty;
    let out = queue.output.ok_type();
    let doc = format!(
        "Sends a message to the `{wire}` queue. `.await` enqueues it durably; `.wait(timeout).await` also waits for the handler's result."
    );
    let send = quote_spanned!(ty.span()=> self.handle.queue_send::<#out, #ty>(#wire, &message));
    quote! {
        #(#docs)*
        #[doc = ""]
        #[doc = #doc]
        pub fn #method(&self, message: #ty) -> ::rivet_core::__private::QueueSend<'_, #out> {
            #send
        }
    }
}
