//! The macro's attributes: the `#[actor(...)]` arguments, the role attributes on methods
//! (`#[action]`, `#[queue]`, `#[on_wake]`, ...) and the wire names they give.

use heck::ToLowerCamelCase;
use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::{Attribute, Ident, LitStr};

use super::ir::{HookKind, SpecialKind};
use crate::ctxt::Ctxt;

/// The `#[actor(...)]` arguments.
#[derive(Default)]
pub(super) struct ActorArgs {
    /// `name = "..."`: the actor's registered name.
    pub(super) name: Option<String>,
    pub(super) display_name: Option<String>,
    pub(super) icon: Option<String>,
    /// `migrations = EXPR`: a `&'static [&'static str]`.
    pub(super) migrations: Option<syn::Expr>,
    /// `options = EXPR`: a constant `ActorOptions`.
    pub(super) options: Option<syn::Expr>,
    /// `implementation(PREDICATE)`: the `cfg` under which the implementation is compiled.
    pub(super) implementation: Option<TokenStream>,
}

/// The `#[actor(...)]` argument names.
const ACTOR_ARGS: &[&str] = &[
    "name",
    "display_name",
    "icon",
    "migrations",
    "options",
    "implementation",
];

/// The attribute names this macro owns on methods, for "did you mean" hints.
const ROLE_ATTRS: &[&str] = &[
    "action",
    "event",
    "queue",
    "create",
    "vars",
    "run",
    "on_create",
    "on_wake",
    "on_sleep",
    "on_destroy",
    "on_state_change",
    "on_connect",
    "on_disconnect",
    "on_before_connect",
    "conn_state",
    "on_request",
    "on_websocket",
];

/// The known name closest to `given`, if it is close enough to be a misspelling of it.
pub(super) fn did_you_mean<'a>(given: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(given, k), *k))
        .filter(|(score, _)| *score >= 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

/// Parses the `#[actor(...)]` arguments; every bad one is reported (not only the first) and
/// left unset.
pub(super) fn parse_actor_args(cx: &Ctxt, attr: TokenStream) -> ActorArgs {
    let mut args = ActorArgs::default();
    if attr.is_empty() {
        return args;
    }
    let parser = syn::punctuated::Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated;
    let metas = match syn::parse::Parser::parse2(parser, attr) {
        Ok(metas) => metas,
        Err(error) => {
            cx.syn_error(error);
            return args;
        }
    };
    for meta in metas {
        let key = meta
            .path()
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        let value = match (&meta, key.as_str()) {
            (_, k) if !ACTOR_ARGS.contains(&k) => {
                let hint = did_you_mean(&key, ACTOR_ARGS)
                    .map(|k| format!("did you mean `{k}`? "))
                    .unwrap_or_default();
                cx.error_spanned_by(
                    meta.path(),
                    format!(
                        "unknown #[actor] argument `{}`; {hint}expected `name = \"...\"`, `display_name = \"...\"`, `icon = \"...\"`, `migrations = ...`, `options = ...` or `implementation(feature = \"...\")`",
                        meta.path().to_token_stream()
                    ),
                );
                continue;
            }
            (syn::Meta::List(list), "implementation") if !list.tokens.is_empty() => {
                args.implementation = Some(list.tokens.clone());
                continue;
            }
            (other, "implementation") => {
                cx.error_spanned_by(
                    other,
                    "expected `implementation(feature = \"...\")`: the `cfg` under which the actor's implementation is compiled (the client, events and descriptor always are)",
                );
                continue;
            }
            (syn::Meta::NameValue(nv), _) => &nv.value,
            (other, k) => {
                cx.error_spanned_by(other, format!("expected `{k} = ...`"));
                continue;
            }
        };
        if key == "migrations" {
            args.migrations = Some(value.clone());
            continue;
        }
        if key == "options" {
            args.options = Some(value.clone());
            continue;
        }
        // A `$name:literal` of a `macro_rules!` arrives wrapped in an invisible group.
        let mut value = value;
        while let syn::Expr::Group(group) = value {
            value = &group.expr;
        }
        let syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(text),
            ..
        }) = value
        else {
            cx.error_spanned_by(value, format!("expected a string: `{key} = \"...\"`"));
            continue;
        };
        if text.value().is_empty() {
            cx.error_spanned_by(text, "must not be empty");
            continue;
        }
        let slot = match key.as_str() {
            "name" => &mut args.name,
            "display_name" => &mut args.display_name,
            _ => &mut args.icon,
        };
        *slot = Some(text.value());
    }
    args
}

/// Removes this macro's attributes from a method; returns the role it has, if any.
pub(super) fn take_role(cx: &Ctxt, attrs: &mut Vec<Attribute>) -> Option<(Role, Attribute)> {
    let mut found: Option<(Role, Attribute)> = None;
    let mut kept = Vec::with_capacity(attrs.len());
    for attr in attrs.drain(..) {
        match Role::from_attr(&attr) {
            Some(role) => {
                if let Some((_, first)) = &found {
                    cx.error_spanned_by(
                        &attr,
                        format!(
                            "a method has one role; it is already #[{}]",
                            first.path().to_token_stream()
                        ),
                    );
                } else {
                    found = Some((role, attr));
                }
            }
            None => {
                // A misspelling of one of ours would otherwise reach the compiler as an
                // unknown attribute, with a hint pointing into this macro.
                if let Some(name) = attr.path().get_ident().map(ToString::to_string)
                    && let Some(meant) = did_you_mean(&name, ROLE_ATTRS)
                {
                    cx.error_spanned_by(
                        attr.path(),
                        format!("unknown attribute `#[{name}]`; did you mean `#[{meant}]`?"),
                    );
                } else {
                    kept.push(attr);
                }
            }
        }
    }
    *attrs = kept;
    found
}

/// The wire name from `#[action(name = "...")]`, else the camelCase of the method name.
pub(super) fn wire_name(cx: &Ctxt, role: Role, attr: &Attribute, ident: &Ident) -> String {
    let default = ident
        .to_string()
        .trim_start_matches("r#")
        .to_lower_camel_case();
    let syn::Meta::List(list) = &attr.meta else {
        if let syn::Meta::NameValue(nv) = &attr.meta {
            cx.error_spanned_by(nv, "expected `#[attr]` or `#[attr(...)]`");
        }
        return default;
    };
    let mut name = None;
    let result = list.parse_nested_meta(|meta| {
        if role.takes_name() && meta.path.is_ident("name") {
            let value: LitStr = meta.value()?.parse()?;
            if value.value().is_empty() {
                return Err(syn::Error::new_spanned(
                    &value,
                    "the wire name must not be empty",
                ));
            }
            name = Some(value.value());
            Ok(())
        } else if role.takes_name() {
            Err(meta.error(format!(
                "unknown argument to #[{}]; the only one is `name = \"...\"`",
                attr.path().to_token_stream()
            )))
        } else {
            Err(meta.error(format!(
                "#[{}] takes no arguments",
                attr.path().to_token_stream()
            )))
        }
    });
    if let Err(error) = result {
        cx.syn_error(error);
    }
    name.unwrap_or(default)
}

/// The `///` comments of a method, carried over to the generated client.
pub(super) fn doc_attrs(attrs: &[Attribute]) -> Vec<Attribute> {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .cloned()
        .collect()
}

/// The attributes this macro owns on methods.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Action,
    Event,
    Queue,
    Create,
    Vars,
    Run,
    Hook(HookKind),
    Special(SpecialKind),
}

impl Role {
    /// The role an attribute gives, if it is one of ours.
    fn from_attr(attr: &Attribute) -> Option<Self> {
        let ident = attr.path().get_ident()?.to_string();
        Some(match ident.as_str() {
            "action" => Self::Action,
            "event" => Self::Event,
            "queue" => Self::Queue,
            "create" => Self::Create,
            "vars" => Self::Vars,
            "run" => Self::Run,
            other => match HookKind::from_attr(other) {
                Some(kind) => Self::Hook(kind),
                None => Self::Special(SpecialKind::from_attr(other)?),
            },
        })
    }

    /// Whether the attribute takes `name = "..."` (the roles with a wire name).
    fn takes_name(self) -> bool {
        matches!(self, Self::Action | Self::Event | Self::Queue)
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;
    use syn::parse_quote;

    use super::*;

    fn wire(attr: Attribute, role: Role, ident: Ident) -> (String, Vec<String>) {
        let cx = Ctxt::default();
        let wire = wire_name(&cx, role, &attr, &ident);
        (wire, cx.into_messages())
    }

    #[test]
    fn misspellings_of_our_attributes_get_a_hint_and_other_attributes_none() {
        for (given, meant) in [
            ("on_wakeup", "on_wake"),
            ("acton", "action"),
            ("events", "event"),
            ("on_destory", "on_destroy"),
            ("conn_sate", "conn_state"),
        ] {
            assert_eq!(did_you_mean(given, ROLE_ATTRS), Some(meant), "{given}");
        }
        // Attributes users put on methods for other reasons pass through untouched.
        for other in [
            "inline",
            "allow",
            "expect",
            "warn",
            "deny",
            "cfg",
            "cfg_attr",
            "doc",
            "deprecated",
            "must_use",
            "track_caller",
            "instrument",
            "cold",
            "test",
            "rustfmt",
            "clippy",
            "tracing",
            "async_trait",
            "builder",
            "serde",
        ] {
            assert_eq!(did_you_mean(other, ROLE_ATTRS), None, "{other}");
        }
        assert_eq!(did_you_mean("nmae", ACTOR_ARGS), Some("name"));
        assert_eq!(did_you_mean("migration", ACTOR_ARGS), Some("migrations"));
        assert_eq!(did_you_mean("bogus", ACTOR_ARGS), None);
    }

    #[test]
    fn wire_names_default_to_the_camel_case_of_the_method() {
        let (name, errors) = wire(
            parse_quote!(#[action]),
            Role::Action,
            parse_quote!(send_message),
        );
        assert_eq!((name.as_str(), errors.len()), ("sendMessage", 0));
        let (name, _) = wire(parse_quote!(#[event]), Role::Event, parse_quote!(r#type));
        assert_eq!(name, "type");
    }

    #[test]
    fn a_name_argument_overrides_the_wire_name() {
        let (name, errors) = wire(
            parse_quote!(#[action(name = "history")]),
            Role::Action,
            parse_quote!(get_history),
        );
        assert_eq!(name, "history");
        assert!(errors.is_empty(), "{errors:?}");
    }

    #[test]
    fn a_bad_name_argument_is_reported_and_the_default_kept() {
        let (name, errors) = wire(
            parse_quote!(#[queue(name = "")]),
            Role::Queue,
            parse_quote!(jobs),
        );
        assert_eq!(name, "jobs");
        assert_eq!(errors, ["the wire name must not be empty"]);

        let (_, errors) = wire(
            parse_quote!(#[action(bogus = 1)]),
            Role::Action,
            parse_quote!(get),
        );
        assert_eq!(
            errors,
            ["unknown argument to #[action]; the only one is `name = \"...\"`"]
        );

        let (_, errors) = wire(
            parse_quote!(#[action = "get"]),
            Role::Action,
            parse_quote!(get),
        );
        assert_eq!(errors, ["expected `#[attr]` or `#[attr(...)]`"]);
    }

    #[test]
    fn roles_without_a_wire_name_take_no_arguments() {
        let (_, errors) = wire(
            parse_quote!(#[on_wake(name = "x")]),
            Role::Hook(HookKind::Wake),
            parse_quote!(wake),
        );
        assert_eq!(errors, ["#[on_wake] takes no arguments"]);
    }

    #[test]
    fn take_role_removes_our_attributes_and_reports_a_second_role() {
        let cx = Ctxt::default();
        let mut attrs: Vec<Attribute> = vec![
            parse_quote!(#[doc = " Docs."]),
            parse_quote!(#[action]),
            parse_quote!(#[queue]),
            parse_quote!(#[inline]),
        ];
        let (role, attr) = take_role(&cx, &mut attrs).expect("a role");
        assert!(role == Role::Action);
        assert!(attr.path().is_ident("action"));
        let kept: Vec<String> = attrs
            .iter()
            .map(|a| a.path().to_token_stream().to_string())
            .collect();
        assert_eq!(kept, ["doc", "inline"]);
        assert_eq!(
            cx.into_messages(),
            ["a method has one role; it is already #[action]"]
        );
        assert_eq!(doc_attrs(&attrs).len(), 1);
    }

    #[test]
    fn methods_without_our_attributes_have_no_role() {
        let cx = Ctxt::default();
        let mut attrs: Vec<Attribute> =
            vec![parse_quote!(#[inline]), parse_quote!(#[rivet::action])];
        assert!(take_role(&cx, &mut attrs).is_none());
        assert_eq!(attrs.len(), 2);
        assert!(cx.into_messages().is_empty());
    }

    #[test]
    fn actor_arguments() {
        let cx = Ctxt::default();
        let args = parse_actor_args(
            &cx,
            quote!(
                name = "counter",
                icon = "calculator",
                migrations = MIGRATIONS
            ),
        );
        assert_eq!(args.name.as_deref(), Some("counter"));
        assert_eq!(args.icon.as_deref(), Some("calculator"));
        assert_eq!(args.display_name, None);
        let migrations = args.migrations.expect("migrations");
        assert_eq!(migrations.to_token_stream().to_string(), "MIGRATIONS");
        assert!(cx.into_messages().is_empty());
    }

    #[test]
    fn bad_actor_arguments_are_reported() {
        let cx = Ctxt::default();
        let args = parse_actor_args(&cx, quote!(nmae = "counter"));
        assert_eq!(args.name, None);
        let errors = cx.into_messages();
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].starts_with("unknown #[actor] argument"),
            "{errors:?}"
        );

        let cx = Ctxt::default();
        parse_actor_args(&cx, quote!(icon = ""));
        assert_eq!(cx.into_messages(), ["must not be empty"]);
    }
}
