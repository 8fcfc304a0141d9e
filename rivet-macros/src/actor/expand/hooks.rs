//! The `Actor` functions that call hooks: `hook` (the lifecycle hooks), `on_state_change`, the
//! connection hooks (`on_before_connect`, `create_conn_state`, with the `ConnState` type) and
//! the raw `on_request` / `on_websocket`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use super::Generator;
use super::invoke::{convert_result, method_call, unit_result};
use crate::actor::ir::{HookFn, HookKind, SpecialFn, SpecialKind};

impl Generator<'_> {
    /// `fn hook`: one arm per lifecycle hook but `#[on_state_change]`; the others do nothing.
    pub(super) fn hook_fn(&self) -> TokenStream {
        let arms = self
            .def
            .hooks
            .iter()
            .filter(|h| h.kind != HookKind::StateChange)
            .map(|h| self.hook_arm(h));
        quote! {
            fn hook<'a>(
                &'a mut self,
                cx: &'a mut __rivet::Cx<Self>,
                hook: __rivet::Hook,
            ) -> impl ::core::future::Future<Output = ::core::result::Result<(), __rivet::Error>> + ::core::marker::Send + 'a {
                async move {
                    let _ = &cx;
                    match hook {
                        #(#arms)*
                        _ => ::core::result::Result::Ok(()),
                    }
                }
            }
        }
    }

    /// `fn on_state_change`, synchronous: it runs at the end of a turn that changed the state.
    pub(super) fn state_change_fn(&self) -> TokenStream {
        let body = self
            .def
            .hooks
            .iter()
            .find(|h| h.kind == HookKind::StateChange)
            .map(|h| self.call_hook(h))
            .unwrap_or_else(|| quote! { let _ = cx; ::core::result::Result::Ok(()) });
        quote! {
            fn on_state_change(&self, cx: &mut __rivet::Cx<Self>) -> ::core::result::Result<(), __rivet::Error> {
                #body
            }
        }
    }

    /// `type ConnState`: what `#[conn_state]` returns, or `()`.
    pub(super) fn conn_state_type(&self) -> TokenStream {
        self.special(SpecialKind::ConnState)
            .map_or_else(|| quote!(()), |s| s.output.ok_type())
    }

    /// `fn on_before_connect`: accepts every connection without the hook.
    pub(super) fn before_connect_fn(&self) -> TokenStream {
        let body = match self.special(SpecialKind::BeforeConnect) {
            Some(s) => self.special_call(s, quote!(params)),
            None => quote! { ::core::result::Result::Ok(()) },
        };
        quote! {
            fn on_before_connect<'a>(
                &'a mut self,
                cx: &'a mut __rivet::Cx<Self>,
                params: ::core::option::Option<&'a [u8]>,
            ) -> impl ::core::future::Future<Output = ::core::result::Result<(), __rivet::Error>> + ::core::marker::Send + 'a {
                async move {
                    let _ = (&cx, &params);
                    #body
                }
            }
        }
    }

    /// `fn create_conn_state`: `()` without `#[conn_state]`.
    pub(super) fn conn_state_fn(&self) -> TokenStream {
        let body = match self.special(SpecialKind::ConnState) {
            Some(s) => self.special_call(s, quote!(params)),
            None => quote! { ::core::result::Result::Ok(()) },
        };
        quote! {
            fn create_conn_state<'a>(
                &'a mut self,
                cx: &'a mut __rivet::Cx<Self>,
                params: ::core::option::Option<&'a [u8]>,
            ) -> impl ::core::future::Future<Output = ::core::result::Result<Self::ConnState, __rivet::Error>> + ::core::marker::Send + 'a {
                async move {
                    let _ = (&cx, &params);
                    #body
                }
            }
        }
    }

    /// `fn on_request`: `None` (no raw HTTP handler) without `#[on_request]`.
    pub(super) fn request_fn(&self) -> TokenStream {
        let body = self.optional_special(SpecialKind::Request, quote!(request));
        quote! {
            fn on_request<'a>(
                &'a mut self,
                cx: &'a mut __rivet::Cx<Self>,
                request: __rivet::raw::Request,
            ) -> impl ::core::future::Future<Output = ::core::option::Option<::core::result::Result<__rivet::raw::Response, __rivet::Error>>> + ::core::marker::Send + 'a {
                async move {
                    let _ = (&cx, &request);
                    #body
                }
            }
        }
    }

    /// `fn on_websocket`: `None` (no raw WebSocket handler) without `#[on_websocket]`.
    pub(super) fn websocket_fn(&self) -> TokenStream {
        let body = self.optional_special(SpecialKind::WebSocket, quote!(event));
        quote! {
            fn on_websocket<'a>(
                &'a mut self,
                cx: &'a mut __rivet::Cx<Self>,
                event: __rivet::raw::WebSocketEvent,
            ) -> impl ::core::future::Future<Output = ::core::option::Option<::core::result::Result<(), __rivet::Error>>> + ::core::marker::Send + 'a {
                async move {
                    let _ = (&cx, &event);
                    #body
                }
            }
        }
    }

    fn special(&self, kind: SpecialKind) -> Option<&SpecialFn> {
        self.def.specials.iter().find(|s| s.kind == kind)
    }

    /// `Some(call)` when the hook exists, else `None`.
    fn optional_special(&self, kind: SpecialKind, source: TokenStream) -> TokenStream {
        match self.special(kind) {
            Some(s) => {
                let call = self.special_call(s, source);
                quote! { ::core::option::Option::Some(#call) }
            }
            None => quote! { ::core::option::Option::None },
        }
    }

    fn hook_arm(&self, hook: &HookFn) -> TokenStream {
        let variant = match hook.kind {
            HookKind::Create => quote!(Create),
            HookKind::Wake => quote!(Wake),
            HookKind::Sleep => quote!(Sleep),
            HookKind::Destroy => quote!(Destroy),
            HookKind::Connect => quote!(Connect),
            HookKind::Disconnect => quote!(Disconnect),
            HookKind::StateChange => return quote! {},
        };
        let call = self.call_hook(hook);
        quote! {
            __rivet::Hook::#variant => { #call }
        }
    }

    fn call_hook(&self, hook: &HookFn) -> TokenStream {
        let call = method_call(
            &self.def.self_ty,
            &hook.ident,
            hook.receiver,
            hook.cx,
            &[],
            hook.is_async,
        );
        unit_result(&hook.output, call)
    }

    /// Calls a special hook with its input: decoded connection parameters (from `source`, the
    /// CBOR parameters), or the request or event itself; converts the result to the runtime's
    /// error.
    fn special_call(&self, special: &SpecialFn, source: TokenStream) -> TokenStream {
        let mut args = Vec::new();
        let mut prelude = TokenStream::new();
        if let Some(input) = &special.input {
            let local = format_ident!("__input");
            match special.kind {
                SpecialKind::BeforeConnect | SpecialKind::ConnState => {
                    let ty = &input.ty;
                    let decode = quote_spanned!(ty.span()=> __rivet::decode_params::<#ty>(#source));
                    prelude = quote! {
                        let #local: #ty = match #decode {
                            ::core::result::Result::Ok(v) => v,
                            ::core::result::Result::Err(e) => return ::core::result::Result::Err(e),
                        };
                    };
                }
                SpecialKind::Request | SpecialKind::WebSocket => {
                    prelude = quote! { let #local = #source; };
                }
            }
            args.push(local);
        }
        let call = method_call(
            &self.def.self_ty,
            &special.ident,
            special.receiver,
            special.cx,
            &args,
            special.is_async,
        );
        let result = convert_result(&special.output, call);
        if special.kind == SpecialKind::Request || special.kind == SpecialKind::WebSocket {
            // These run inside `Some(...)`, so the prelude cannot `return`; they have no decoding.
            quote! { { #prelude #result } }
        } else {
            quote! { #prelude #result }
        }
    }
}
