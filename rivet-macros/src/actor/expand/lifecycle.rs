//! The `Actor` functions that build an actor: `create` (the `#[create]` constructor, or
//! `Default`), `create_vars` (`#[vars]`) and `run` (the `#[run]` loop), with the `Input` and
//! `Vars` types they fix.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::Generator;
use super::invoke::{awaited, convert_result, unit_result};

impl Generator<'_> {
    /// `type Input`: the `#[create]` input, or `()`.
    pub(super) fn input_type(&self) -> TokenStream {
        match self.def.create.as_ref().and_then(|c| c.input.as_ref()) {
            Some(ty) => quote! { #ty },
            None => quote! { () },
        }
    }

    /// `type Vars`: what `#[vars]` returns, or `()`.
    pub(super) fn vars_type(&self) -> TokenStream {
        match &self.def.vars {
            Some(v) => v.output.ok_type(),
            None => quote! { () },
        }
    }

    /// `fn create`: calls `#[create]`, or `Default::default()` without one.
    pub(super) fn create_fn(&self) -> TokenStream {
        let body = self.create_body();
        quote! {
            fn create(
                cx: &__rivet::CreateCx,
                input: Self::Input,
            ) -> impl ::core::future::Future<Output = ::core::result::Result<Self, __rivet::Error>> + ::core::marker::Send {
                #body
            }
        }
    }

    fn create_body(&self) -> TokenStream {
        let self_ty = &self.def.self_ty;
        let Some(create) = &self.def.create else {
            // Spanned on the state type, so a missing `Default` is reported there, with
            // `DefaultState`'s message naming `#[create]` as the other way.
            let default = quote_spanned! {self_ty.span()=>
                <#self_ty as __rivet::DefaultState>::default_state()
            };
            return quote! {
                let _ = (cx, input);
                async move { ::core::result::Result::Ok(#default) }
            };
        };
        let ident = &create.ident;
        let mut args = Vec::new();
        if create.has_cx {
            args.push(quote!(cx));
        }
        if create.input.is_some() {
            args.push(quote!(input));
        }
        let call = awaited(quote! { <#self_ty>::#ident(#(#args),*) }, create.is_async);
        let result = convert_result(&create.output, call);
        let unused = if create.input.is_none() {
            quote! { let _ = input; }
        } else {
            quote! {}
        };
        let unused_cx = if create.has_cx {
            quote! {}
        } else {
            quote! { let _ = cx; }
        };
        quote! {
            #unused
            #unused_cx
            async move { #result }
        }
    }

    /// `fn create_vars`: calls `#[vars]`, or makes `()`.
    pub(super) fn create_vars_fn(&self) -> TokenStream {
        let body = self.create_vars_body();
        quote! {
            fn create_vars(
                cx: &__rivet::CreateCx,
            ) -> impl ::core::future::Future<Output = ::core::result::Result<Self::Vars, __rivet::Error>> + ::core::marker::Send {
                #body
            }
        }
    }

    fn create_vars_body(&self) -> TokenStream {
        let Some(vars) = &self.def.vars else {
            return quote! {
                let _ = cx;
                async move { ::core::result::Result::Ok(()) }
            };
        };
        let self_ty = &self.def.self_ty;
        let ident = &vars.ident;
        let args = if vars.has_cx { quote!(cx) } else { quote!() };
        let call = awaited(quote! { <#self_ty>::#ident(#args) }, vars.is_async);
        let result = convert_result(&vars.output, call);
        let unused_cx = if vars.has_cx {
            quote! {}
        } else {
            quote! { let _ = cx; }
        };
        quote! {
            #unused_cx
            async move { #result }
        }
    }

    /// `fn run`, starting the `#[run]` loop; nothing (the trait's default) without one.
    pub(super) fn run_fn(&self) -> TokenStream {
        let Some(run) = &self.def.run else {
            return quote! {};
        };
        let self_ty = &self.def.self_ty;
        let ident = &run.ident;
        let body = unit_result(&run.output, quote! { #self_ty::#ident(cx).await });
        quote! {
            fn run(
                cx: __rivet::RunCx<Self>,
            ) -> ::core::option::Option<__rivet::BoxFuture<'static, ::core::result::Result<(), __rivet::Error>>> {
                ::core::option::Option::Some(::std::boxed::Box::pin(async move { #body }))
            }
        }
    }
}
