//! The `{Actor}Event` enum (one variant per `#[event]`) and its `EventSet` impl, which gives
//! each variant's wire name and encodes its payload for `cx.broadcast(...)`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::Ident;
use syn::spanned::Spanned;

use super::Generator;
use crate::actor::ir::Event;

impl Generator<'_> {
    /// `pub enum {Actor}Event` and, in a `const _` scope, its `EventSet` impl.
    pub(super) fn event_enum(&self) -> TokenStream {
        let events = &self.def.events;
        let event_ty = &self.event_ty;
        let ident = &self.def.ident;
        let doc = format!("The events of the [`{ident}`] actor, for `cx.broadcast(...)`.");
        let variants = events.iter().map(event_variant);
        let (name_body, encode_body) = if events.is_empty() {
            (quote! { match *self {} }, quote! { match *self {} })
        } else {
            let name_arms = events.iter().map(name_arm);
            let encode_arms = events.iter().map(encode_arm);
            (
                quote! { match self { #(#name_arms)* } },
                quote! { match self { #(#encode_arms)* } },
            )
        };
        quote! {
            #[doc = #doc]
            #[allow(private_interfaces)]
            pub enum #event_ty {
                #(#variants,)*
            }

            const _: () = {
                use ::rivet_core::__private as __rivet;

                impl __rivet::EventSet for #event_ty {
                    fn name(&self) -> &'static str {
                        #name_body
                    }

                    fn encode_args(&self) -> ::core::result::Result<__rivet::bytes::Bytes, __rivet::ActorError> {
                        #encode_body
                    }
                }
            };
        }
    }
}

/// A variant: a unit for no payload, a tuple of one, named fields for several.
fn event_variant(e: &Event) -> TokenStream {
    let variant = &e.variant;
    let docs = &e.docs;
    let wire_doc = format!("Wire name `{}`.", e.wire);
    let body = match e.params.len() {
        0 => quote! {},
        1 => {
            let ty = &e.params[0].ty;
            quote! { (#ty) }
        }
        _ => {
            let fields = e.params.iter().map(|p| {
                let name = &p.name;
                let ty = &p.ty;
                quote! { #[allow(missing_docs)] #name: #ty }
            });
            quote! { { #(#fields),* } }
        }
    };
    quote! {
        #(#docs)*
        #[doc = #wire_doc]
        #variant #body
    }
}

/// `Self::Variant { .. } => "wireName",`
fn name_arm(e: &Event) -> TokenStream {
    let variant = &e.variant;
    let wire = &e.wire;
    quote! { Self::#variant { .. } => #wire, }
}

/// Encodes a variant's payload as a CBOR array, each element spanned on its declared type.
fn encode_arm(e: &Event) -> TokenStream {
    let variant = &e.variant;
    let (pattern, values) = event_pattern(e);
    let len = e.params.len();
    let pushes = e.params.iter().zip(&values).map(|(p, value)| {
        let ty = &p.ty;
        quote_spanned!(ty.span()=> __enc.push::<#ty>(#value)?;)
    });
    quote! {
        Self::#variant #pattern => __rivet::encode_array(#len, |__enc| {
            #(#pushes)*
            ::core::result::Result::Ok(())
        }),
    }
}

/// The pattern binding an event variant's fields, and the bound names in order.
fn event_pattern(e: &Event) -> (TokenStream, Vec<Ident>) {
    match e.params.len() {
        0 => (quote! {}, Vec::new()),
        1 => {
            let name = format_ident!("__a0");
            (quote! { (#name) }, vec![name])
        }
        _ => {
            let names: Vec<Ident> = e.params.iter().map(|p| p.name.clone()).collect();
            (quote! { { #(#names),* } }, names)
        }
    }
}
