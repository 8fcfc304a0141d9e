//! `{Actor}Connection`: a connection's actions (the client's, through the connection) and one
//! typed `on_{event}` subscription per event, with a hidden decoder per event.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, Type};

use super::Generator;
use super::client::{client_action, helper_ident};
use crate::actor::ir::Event;

impl Generator<'_> {
    /// `pub struct {Actor}Connection`.
    pub(super) fn connection_struct(&self) -> TokenStream {
        let conn_ty = &self.conn_ty;
        let ident = &self.def.ident;
        let name = &self.def.name;
        let doc = format!(
            "A connection to a [`{ident}`] actor (`{name}`): its actions, plus one `on_*` subscription per event."
        );
        quote! {
            #[doc = #doc]
            #[derive(Debug)]
            pub struct #conn_ty {
                conn: ::rivet_core::__private::ActorConnection,
            }
        }
    }

    /// `impl {Actor}Connection`: the fixed methods, the actions and the subscriptions.
    pub(super) fn connection_impl(&self) -> TokenStream {
        let conn_ty = &self.conn_ty;
        let methods = self
            .def
            .actions
            .iter()
            .map(|a| client_action(a, &self.client_ty, quote!(conn)));
        let event_methods = self.def.events.iter().map(conn_event);
        quote! {
            #[allow(private_interfaces, private_bounds, clippy::too_many_arguments)]
            impl #conn_ty {
                /// The untyped connection underneath.
                pub fn connection(&self) -> &::rivet_core::__private::ActorConnection {
                    &self.conn
                }

                /// Closes the connection.
                pub fn disconnect(self) {
                    self.conn.disconnect()
                }

                #(#methods)*
                #(#event_methods)*
            }
        }
    }
}

/// A hidden decoder for an event's arguments, spanned on each declared type, and the typed
/// `on_{event}` subscription that uses it.
fn conn_event(event: &Event) -> TokenStream {
    let method = format_ident!("on_{}", event.ident);
    let decode_fn = helper_ident("event", &event.ident);
    let wire = &event.wire;
    let docs = &event.docs;
    let doc = format!("Calls `callback` with the payload of every `{wire}` event.");
    let tys: Vec<&Type> = event.params.iter().map(|p| &p.ty).collect();
    let locals: Vec<Ident> = (0..tys.len()).map(|i| format_ident!("__a{}", i)).collect();
    let takes = tys.iter().zip(&locals).map(|(ty, local)| {
        let take = quote_spanned!(ty.span()=> __dec.next_or_null::<#ty>()?);
        quote! { let #local = #take; }
    });
    quote! {
        #[doc(hidden)]
        pub fn #decode_fn(args: &[u8]) -> ::core::result::Result<(#(#tys,)*), ::std::string::String> {
            let mut __dec = ::rivet_core::__private::ArrayDecoder::new(args)?;
            let _ = &mut __dec;
            #(#takes)*
            ::core::result::Result::Ok((#(#locals,)*))
        }

        #(#docs)*
        #[doc = ""]
        #[doc = #doc]
        pub fn #method<F>(&self, callback: F) -> ::rivet_core::__private::Subscription
        where
            F: Fn(#(#tys),*) + ::core::marker::Send + ::core::marker::Sync + 'static,
        {
            self.conn.on_raw(#wire, move |args| match Self::#decode_fn(args) {
                ::core::result::Result::Ok((#(#locals,)*)) => callback(#(#locals),*),
                ::core::result::Result::Err(error) => ::rivet_core::__private::bad_event(#wire, &error),
            })
        }
    }
}
