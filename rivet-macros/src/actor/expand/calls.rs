//! `{Actor}Call`: one function per action returning a typed `Call` (wire name and encoded
//! arguments), for `cx.schedule()`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Ident, Type};

use super::Generator;
use super::client::helper_ident;
use crate::actor::ir::Action;

impl Generator<'_> {
    /// `pub struct {Actor}Call`.
    pub(super) fn call_struct(&self) -> TokenStream {
        let call_ty = &self.call_ty;
        let ident = &self.def.ident;
        let doc = format!(
            "Calls of the [`{ident}`] actor's actions, to schedule with `cx.schedule()`: one function per action, taking its arguments."
        );
        quote! {
            #[doc = #doc]
            #[derive(Debug, Clone, Copy)]
            pub struct #call_ty;
        }
    }

    /// `impl {Actor}Call`: one function per action.
    pub(super) fn call_impl(&self) -> TokenStream {
        let call_ty = &self.call_ty;
        let methods = self
            .def
            .actions
            .iter()
            .map(|a| call_action(a, &self.client_ty, &self.def.self_ty));
        quote! {
            #[allow(private_interfaces, private_bounds, clippy::too_many_arguments)]
            impl #call_ty {
                #(#methods)*
            }
        }
    }
}

/// `{Actor}Call::{action}(args...)`: the action's wire name and encoded arguments, typed like
/// the action, for schedules.
fn call_action(action: &Action, client_ty: &Ident, self_ty: &Type) -> TokenStream {
    let ident = &action.ident;
    let wire = &action.wire;
    let doc = format!("A call of the `{wire}` action.");
    let args_fn = helper_ident("args", &action.ident);
    let params = action.params.iter().map(|p| {
        let name = &p.name;
        let ty = &p.ty;
        quote! { #name: #ty }
    });
    let names = action.params.iter().map(|p| &p.name);
    quote! {
        #[doc = #doc]
        pub fn #ident(#(#params),*) -> ::rivet_core::__private::Call<#self_ty> {
            ::rivet_core::__private::Call::new(#wire, #client_ty::#args_fn(#(&#names),*))
        }
    }
}
