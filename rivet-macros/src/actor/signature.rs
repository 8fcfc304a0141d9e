//! What every role's signature shares: the receiver, the context parameter, owned parameters
//! and the output, each checked with an error on the user's tokens.

use syn::spanned::Spanned;
use syn::{FnArg, Ident, Pat, PatType, ReceiverKind, ReturnType, Signature, Type};

use super::ir::{CxParam, Output, Param, Receiver};
use crate::ctxt::Ctxt;

/// The parts of a signature shared by every role.
pub(super) struct SigParts {
    pub(super) receiver: Option<Receiver>,
    pub(super) cx: Option<CxParam>,
    pub(super) params: Vec<Param>,
    pub(super) output: Output,
}

/// Whether a role takes `self`, and if not, why (for the message).
#[derive(Clone, Copy)]
pub(super) enum SelfRule {
    Required,
    Forbidden(&'static str),
}

/// The rule of `#[create]` and `#[vars]`.
pub(super) const BEFORE_STATE: SelfRule = SelfRule::Forbidden("it runs before the state exists");

/// Checks what every handler shares: no generics, a `&self`/`&mut self` receiver if `self_rule`
/// requires one, an optional context parameter (of type `&cx_type<..>`) first, owned parameter
/// types. `None` when something was reported.
pub(super) fn sig_parts(
    cx: &Ctxt,
    what: &str,
    sig: &Signature,
    self_rule: SelfRule,
    cx_type: Option<&str>,
) -> Option<SigParts> {
    let needs_self = matches!(self_rule, SelfRule::Required);
    let mut ok = plain_fn(cx, what, sig);
    let mut receiver = None;
    let mut cx_param = None;
    let mut params = Vec::new();
    for (index, arg) in sig.inputs.iter().enumerate() {
        match arg {
            FnArg::Receiver(r) => match self_receiver(cx, what, r, self_rule) {
                Some(kind) => receiver = Some(kind),
                None => ok = false,
            },
            FnArg::Typed(pat_type) => {
                if let Some(mutable) = cx_type.and_then(|name| context_param(&pat_type.ty, name)) {
                    let first_typed = index == usize::from(needs_self && receiver.is_some());
                    if !first_typed || cx_param.is_some() {
                        cx.error_spanned_by(
                            &pat_type.ty,
                            format!(
                                "the context parameter `&{}` must come first, right after `self`",
                                cx_type.unwrap_or_default()
                            ),
                        );
                        ok = false;
                    }
                    cx_param = Some(CxParam { mutable });
                    continue;
                }
                if cx_type.is_some_and(|name| context_by_value(&pat_type.ty, name)) {
                    // Otherwise it would be taken for an argument (or a queue's message), and
                    // the errors would be about generated types.
                    cx.error_spanned_by(
                        &pat_type.ty,
                        format!(
                            "the context is lent, not given: write `&mut {}` (or `&{0}` to only read it)",
                            type_text(&pat_type.ty),
                        ),
                    );
                    ok = false;
                    continue;
                }
                match owned_param(cx, what, pat_type, params.len()) {
                    Some(param) => params.push(param),
                    None => ok = false,
                }
            }
        }
    }
    if needs_self && receiver.is_none() && ok {
        cx.error_spanned_by(
            &sig.ident,
            format!("{what} needs a `&self` or `&mut self` receiver"),
        );
        ok = false;
    }
    let output = parse_output(cx, what, &sig.output);
    ok &= output.is_some();
    ok.then(|| SigParts {
        receiver,
        cx: cx_param,
        params,
        output: output.unwrap_or(Output::Unit),
    })
}

/// No generics, no `const`, `extern` or variadics: the types must be known to decode them.
fn plain_fn(cx: &Ctxt, what: &str, sig: &Signature) -> bool {
    let mut ok = true;
    if !sig.generics.params.is_empty() {
        cx.error_spanned_by(
            &sig.generics,
            format!("{what} cannot be generic: the types of its arguments and result must be known to decode them"),
        );
        ok = false;
    }
    if sig.constness.is_some() || sig.abi.is_some() || sig.variadic.is_some() {
        cx.error_spanned_by(sig, format!("{what} must be a plain `fn` or `async fn`"));
        ok = false;
    }
    ok
}

/// `&self` or `&mut self`, where the role allows a receiver; `None` after reporting.
fn self_receiver(
    cx: &Ctxt,
    what: &str,
    r: &syn::Receiver,
    self_rule: SelfRule,
) -> Option<Receiver> {
    if let SelfRule::Forbidden(why) = self_rule {
        cx.error_spanned_by(r, format!("{what} takes no `self`: {why}"));
        return None;
    }
    match &r.kind {
        ReceiverKind::Reference(_, _, mutability) => Some(if mutability.is_some() {
            Receiver::Mut
        } else {
            Receiver::Ref
        }),
        _ => {
            cx.error_spanned_by(
                r,
                format!("{what} takes `&self` or `&mut self`: the actor keeps owning its state"),
            );
            None
        }
    }
}

/// A parameter decoded from the caller's message: its type must be owned. A pattern other than
/// a plain name gets the name `arg{position}`.
fn owned_param(cx: &Ctxt, what: &str, pat_type: &PatType, position: usize) -> Option<Param> {
    if let Some(bad) = borrowed(&pat_type.ty) {
        cx.error_spanned_by(
            bad,
            format!("arguments of {what} are decoded from the caller's message and must be owned types (for example `String`, not `&str`)"),
        );
        return None;
    }
    let name = match &*pat_type.pat {
        Pat::Ident(p) => p.ident.clone(),
        other => Ident::new(&format!("arg{position}"), other.span()),
    };
    Some(Param {
        name,
        ty: (*pat_type.ty).clone(),
    })
}

/// `Some(mutable)` when `ty` is `&Cx<..>`, `&mut Cx<..>` (or whatever `name` says).
fn context_param(ty: &Type, name: &str) -> Option<bool> {
    let Type::Reference(r) = ty else {
        return None;
    };
    let Type::Path(p) = &*r.elem else {
        return None;
    };
    let last = p.path.segments.last()?;
    (last.ident == name).then_some(r.mutability.is_some())
}

/// Whether `ty` is the context type `name` itself (`Cx<Self>`), not a reference to it.
fn context_by_value(ty: &Type, name: &str) -> bool {
    let Type::Path(p) = ty else {
        return false;
    };
    p.qself.is_none()
        && p.path
            .segments
            .last()
            .is_some_and(|last| last.ident == name)
}

/// A type as the user would write it (`Cx<Self>`, not `Cx < Self >`).
fn type_text(ty: &Type) -> String {
    quote::quote!(#ty)
        .to_string()
        .replace(" < ", "<")
        .replace("< ", "<")
        .replace(" >", ">")
        .replace(" ,", ",")
        .replace(" :: ", "::")
}

/// The first borrowed or `impl Trait` part of a type, which cannot be decoded into.
fn borrowed(ty: &Type) -> Option<&Type> {
    match ty {
        Type::Reference(_) | Type::ImplTrait(_) | Type::TraitObject(_) => Some(ty),
        Type::Paren(p) => borrowed(&p.elem),
        Type::Tuple(t) => t.elems.iter().find_map(borrowed),
        Type::Array(a) => borrowed(&a.elem),
        _ => None,
    }
}

/// The output: `()`, a value, or `Result<T, E>` (whatever its path, as long as it ends in
/// `Result`); borrowed and `impl Trait` outputs are reported.
fn parse_output(cx: &Ctxt, what: &str, output: &ReturnType) -> Option<Output> {
    let ty = match output {
        ReturnType::Default => return Some(Output::Unit),
        ReturnType::Type(_, ty) => &**ty,
    };
    match ty {
        Type::Tuple(t) if t.elems.is_empty() => Some(Output::Unit),
        Type::ImplTrait(_) | Type::Reference(_) => {
            cx.error_spanned_by(
                ty,
                format!(
                    "{what} must return an owned, serializable type (or `Result<T, E>` of one)"
                ),
            );
            None
        }
        Type::Path(p) if p.qself.is_none() => {
            let last = p.path.segments.last()?;
            if last.ident != "Result" {
                return Some(Output::Value(ty.clone()));
            }
            match &last.arguments {
                syn::PathArguments::AngleBracketed(args) => match args.args.first() {
                    Some(syn::GenericArgument::Type(ok)) => {
                        let err_span = match args.args.iter().nth(1) {
                            Some(err) => err.span(),
                            None => ty.span(),
                        };
                        Some(Output::Result(ok.clone(), err_span))
                    }
                    _ => Some(Output::Value(ty.clone())),
                },
                _ => Some(Output::Value(ty.clone())),
            }
        }
        _ => Some(Output::Value(ty.clone())),
    }
}

#[cfg(test)]
mod tests {
    use quote::ToTokens;
    use syn::parse_quote;

    use super::*;

    /// `sig_parts` of an action-like signature (`self` required, `&Cx<Self>` context).
    fn action_parts(sig: Signature) -> (Option<SigParts>, Vec<String>) {
        let cx = Ctxt::default();
        let parts = sig_parts(&cx, "an action", &sig, SelfRule::Required, Some("Cx"));
        (parts, cx.into_messages())
    }

    fn tokens(t: impl ToTokens) -> String {
        t.to_token_stream().to_string()
    }

    #[test]
    fn receiver_context_and_parameters() {
        let (parts, errors) = action_parts(parse_quote! {
            fn add(&mut self, cx: &mut Cx<Self>, amount: i64, (a, b): (u8, u8))
        });
        assert!(errors.is_empty(), "{errors:?}");
        let parts = parts.expect("parts");
        assert!(parts.receiver == Some(Receiver::Mut));
        assert!(parts.cx.is_some_and(|c| c.mutable));
        let params: Vec<(String, String)> = parts
            .params
            .iter()
            .map(|p| (p.name.to_string(), tokens(&p.ty)))
            .collect();
        // A pattern is not a name: it gets one from its position among the parameters.
        assert_eq!(
            params,
            [
                ("amount".to_owned(), "i64".to_owned()),
                ("arg1".to_owned(), "(u8 , u8)".to_owned())
            ]
        );
        assert!(matches!(parts.output, Output::Unit));
    }

    #[test]
    fn a_borrowed_argument_is_refused() {
        let (parts, errors) = action_parts(parse_quote! {
            fn send(&self, text: &str, count: u32)
        });
        assert!(parts.is_none());
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].starts_with("arguments of an action are decoded from the caller's message and must be owned types"), "{errors:?}");
    }

    #[test]
    fn borrowed_finds_a_reference_inside_tuples_arrays_and_parentheses() {
        let ty: Type = parse_quote!((u8, [(&'static str); 2]));
        assert_eq!(borrowed(&ty).map(tokens).as_deref(), Some("& 'static str"));
        let ty: Type = parse_quote!(Vec<String>);
        assert!(borrowed(&ty).is_none());
        let ty: Type = parse_quote!(impl Fn());
        assert!(borrowed(&ty).is_some());
    }

    #[test]
    fn the_receiver_must_be_a_reference_and_is_required() {
        let (parts, errors) = action_parts(parse_quote!(fn take(self)));
        assert!(parts.is_none());
        assert_eq!(
            errors,
            ["an action takes `&self` or `&mut self`: the actor keeps owning its state"]
        );

        let (parts, errors) = action_parts(parse_quote!(fn free(amount: i64)));
        assert!(parts.is_none());
        assert_eq!(
            errors,
            ["an action needs a `&self` or `&mut self` receiver"]
        );
    }

    #[test]
    fn a_forbidden_receiver_says_why() {
        let cx = Ctxt::default();
        let sig: Signature = parse_quote!(fn init(&self) -> Self);
        assert!(sig_parts(&cx, "#[create]", &sig, BEFORE_STATE, Some("CreateCx")).is_none());
        assert_eq!(
            cx.into_messages(),
            ["#[create] takes no `self`: it runs before the state exists"]
        );
    }

    #[test]
    fn the_context_comes_first() {
        let (parts, errors) = action_parts(parse_quote! {
            fn add(&self, amount: i64, cx: &Cx<Self>)
        });
        assert!(parts.is_none());
        assert_eq!(
            errors,
            ["the context parameter `&Cx` must come first, right after `self`"]
        );
    }

    #[test]
    fn generic_methods_are_refused() {
        let (parts, errors) = action_parts(parse_quote!(fn get<T>(&self) -> T));
        assert!(parts.is_none());
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("an action cannot be generic"),
            "{errors:?}"
        );
    }

    fn output(ty: ReturnType) -> (Option<Output>, Vec<String>) {
        let cx = Ctxt::default();
        let output = parse_output(&cx, "an action", &ty);
        (output, cx.into_messages())
    }

    #[test]
    fn outputs() {
        assert!(matches!(output(parse_quote!()).0, Some(Output::Unit)));
        assert!(matches!(output(parse_quote!(-> ())).0, Some(Output::Unit)));
        let Some(Output::Value(ty)) = output(parse_quote!(-> Vec<u8>)).0 else {
            panic!("a value");
        };
        assert_eq!(tokens(ty), "Vec < u8 >");
        // Any path ending in `Result`, with or without the error type.
        for ret in [
            parse_quote!(-> Result<u8, MyError>),
            parse_quote!(-> std::io::Result<u8>),
        ] {
            let Some(Output::Result(ok, _)) = output(ret).0 else {
                panic!("a result");
            };
            assert_eq!(tokens(ok), "u8");
        }
    }

    #[test]
    fn borrowed_and_opaque_outputs_are_refused() {
        for ret in [parse_quote!(-> &str), parse_quote!(-> impl Serialize)] {
            let (out, errors) = output(ret);
            assert!(out.is_none());
            assert_eq!(
                errors,
                ["an action must return an owned, serializable type (or `Result<T, E>` of one)"]
            );
        }
    }
}
