//! How generated code calls a user method (`<State>::method(&mut *self, &mut *cx, args..)`) and
//! turns what it returns into the runtime's result types, with conversions spanned on the user's
//! types so that a type error points there.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, Type};

use crate::actor::ir::{CxParam, Output, Receiver};

/// A call of a method taking `self` (as its receiver says), the context if it takes one, then
/// `args`; awaited if the method is async.
pub(super) fn method_call(
    self_ty: &Type,
    ident: &Ident,
    receiver: Receiver,
    cx: Option<CxParam>,
    args: &[Ident],
    is_async: bool,
) -> TokenStream {
    let recv = receiver_arg(receiver);
    let cx = cx_arg(cx).into_iter();
    awaited(
        quote! { <#self_ty>::#ident(#recv, #(#cx,)* #(#args),*) },
        is_async,
    )
}

/// `call.await` for an async method, else `call`.
pub(super) fn awaited(call: TokenStream, is_async: bool) -> TokenStream {
    if is_async {
        quote! { #call.await }
    } else {
        call
    }
}

fn receiver_arg(receiver: Receiver) -> TokenStream {
    match receiver {
        Receiver::Ref => quote! { &*self },
        Receiver::Mut => quote! { &mut *self },
    }
}

fn cx_arg(cx: Option<CxParam>) -> Option<TokenStream> {
    cx.map(|c| {
        if c.mutable {
            quote! { &mut *cx }
        } else {
            quote! { &*cx }
        }
    })
}

/// `call.map_err(into_error)`, the conversion spanned on the user's error type, so an error type
/// the runtime cannot take is reported there.
fn map_err(call: TokenStream, err_span: Span) -> TokenStream {
    let convert = quote_spanned!(err_span=> __rivet::into_error);
    quote! { #call.map_err(#convert) }
}

/// Turns a call returning `T` or `Result<T, E>` into `Result<T, __rivet::Error>`.
pub(super) fn convert_result(output: &Output, call: TokenStream) -> TokenStream {
    match output {
        Output::Result(_, err_span) => map_err(call, *err_span),
        Output::Unit | Output::Value(_) => quote! { __rivet::ok(#call) },
    }
}

/// Turns a call returning `()` or `Result<(), E>` into `Result<(), __rivet::Error>`.
pub(super) fn unit_result(output: &Output, call: TokenStream) -> TokenStream {
    match output {
        Output::Result(_, err_span) => map_err(call, *err_span),
        Output::Unit | Output::Value(_) => quote! { #call; ::core::result::Result::Ok(()) },
    }
}

/// Turns a call into `Result<Bytes, __rivet::Error>` with the encoded output. The encoding is
/// spanned on the declared type, so a type that cannot be serialized is reported there.
pub(super) fn encode_result(output: &Output, call: TokenStream) -> TokenStream {
    match output {
        Output::Unit => quote! { #call; __rivet::encode_output(&()) },
        Output::Value(ty) => {
            let encode = quote_spanned!(ty.span()=> __rivet::encode_output::<#ty>(&__value));
            quote! {
                let __value = #call;
                #encode
            }
        }
        Output::Result(ty, err_span) => {
            let encode = quote_spanned!(ty.span()=> __rivet::encode_output::<#ty>(&__value));
            let convert = quote_spanned!(*err_span=> __rivet::into_error(__error));
            quote! {
                match #call {
                    ::core::result::Result::Ok(__value) => #encode,
                    ::core::result::Result::Err(__error) => ::core::result::Result::Err(#convert),
                }
            }
        }
    }
}
