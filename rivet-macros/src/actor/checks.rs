//! Checks across items, once every method is parsed: unique wire names, no clash with the
//! generated client's methods, at most one method per single role, and events broadcast in the
//! block that it declares. Each check reports the offenders and keeps the rest, so expansion
//! still runs.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

use heck::ToSnakeCase;
use proc_macro2::Span;
use syn::visit_mut::VisitMut;
use syn::{Expr, Ident, ImplItem, Path};

use super::ir::{Action, Event, Queue};
use crate::ctxt::Ctxt;

/// Names the generated `{Actor}Client` and `{Actor}Connection` already use.
const RESERVED_METHODS: &[&str] = &["handle", "connect", "resolve", "connection", "disconnect"];

/// Reports items sharing a wire name and keeps the first of each.
pub(super) fn unique_wire_names<T>(
    cx: &Ctxt,
    what: &str,
    items: Vec<T>,
    key: impl Fn(&T) -> (&String, &Ident),
) -> Vec<T> {
    let mut seen: HashMap<String, Ident> = HashMap::new();
    let mut kept = Vec::with_capacity(items.len());
    for item in items {
        let (wire, ident) = key(&item);
        if let Some(first) = seen.get(wire) {
            cx.error_spanned_by(
                ident,
                format!("two {what}s have the wire name `{wire}` (`{first}` and `{ident}`); rename one with `#[{what}(name = \"...\")]`"),
            );
            continue;
        }
        seen.insert(wire.clone(), ident.clone());
        kept.push(item);
    }
    kept
}

/// The generated client and connection get one method per action, `send_{queue}` and
/// `on_{event}`; they must not clash with each other or with the fixed methods. Returns the
/// actions that do not clash.
pub(super) fn check_client_names(
    cx: &Ctxt,
    actions: Vec<Action>,
    events: &[Event],
    queues: &[Queue],
) -> Vec<Action> {
    let mut generated: HashMap<String, String> = HashMap::new();
    for e in events {
        generated.insert(format!("on_{}", e.ident), format!("event `{}`", e.ident));
    }
    for q in queues {
        generated.insert(format!("send_{}", q.ident), format!("queue `{}`", q.ident));
    }
    actions
        .into_iter()
        .filter(|a| {
            let name = a.ident.to_string();
            if RESERVED_METHODS.contains(&name.as_str()) {
                cx.error_spanned_by(
                    &a.ident,
                    format!("`{name}` is a method of the generated client; name the method differently and keep the wire name with `#[action(name = \"{}\")]`", a.wire),
                );
                false
            } else if let Some(owner) = generated.get(&name) {
                cx.error_spanned_by(
                    &a.ident,
                    format!("the generated client already has a method `{name}` for {owner}; rename this action"),
                );
                false
            } else {
                true
            }
        })
        .collect()
}

/// The one method of a role that allows one (`#[create]`, ...); the others are reported.
pub(super) fn single<T>(cx: &Ctxt, what: &str, mut found: Vec<(Span, T)>) -> Option<T> {
    if found.len() > 1 {
        for (span, _) in &found[1..] {
            cx.syn_error(syn::Error::new(
                *span,
                format!("only one method can be {what}"),
            ));
        }
    }
    if found.is_empty() {
        None
    } else {
        Some(found.swap_remove(0).1)
    }
}

/// Reports hooks of a kind already seen (`kind_of` gives the kind, the attribute's name for the
/// message and the method's name to point at); keeps the first of each kind.
pub(super) fn one_per_kind<T, K: Eq + Hash>(
    cx: &Ctxt,
    items: Vec<T>,
    kind_of: impl Fn(&T) -> (K, &'static str, &Ident),
) -> Vec<T> {
    let mut seen = HashSet::new();
    let mut kept = Vec::with_capacity(items.len());
    for item in items {
        let (kind, attr, ident) = kind_of(&item);
        if seen.insert(kind) {
            kept.push(item);
        } else {
            cx.error_spanned_by(ident, format!("only one method can be #[{attr}]"));
        }
    }
    kept
}

/// Reports each `{Actor}Event::Variant` in the block's method bodies whose variant no
/// `#[event]` declares, with the declaration to add, and puts `unreachable!()` in its place so
/// that the compiler's own "no variant" error does not come as well. `tried` holds the
/// variants of every `#[event]` written, with errors or not: those are not undeclared.
pub(super) fn undeclared_events(
    cx: &Ctxt,
    actor: &Ident,
    tried: &HashSet<String>,
    items: &mut [ImplItem],
) {
    let mut visitor = EventPaths {
        cx,
        actor,
        enum_name: format!("{actor}Event"),
        tried,
    };
    for item in items {
        if let ImplItem::Fn(f) = item {
            visitor.visit_block_mut(&mut f.block);
        }
    }
}

struct EventPaths<'a> {
    cx: &'a Ctxt,
    actor: &'a Ident,
    enum_name: String,
    tried: &'a HashSet<String>,
}

impl EventPaths<'_> {
    /// The variant `path` names, if it is `{Actor}Event::X` and no event declares `X`.
    fn undeclared<'p>(&self, path: &'p Path) -> Option<&'p Ident> {
        let mut segments = path.segments.iter().rev();
        let variant = segments.next()?;
        let ty = segments.next()?;
        (ty.ident == self.enum_name && !self.tried.contains(&variant.ident.to_string()))
            .then_some(&variant.ident)
    }
}

impl VisitMut for EventPaths<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        let path = match expr {
            Expr::Call(call) => match &*call.func {
                Expr::Path(p) => Some(&p.path),
                _ => None,
            },
            Expr::Path(p) => Some(&p.path),
            Expr::Struct(s) => Some(&s.path),
            _ => None,
        };
        if let Some(variant) = path.and_then(|p| self.undeclared(p)) {
            let known: Vec<&str> = self.tried.iter().map(String::as_str).collect();
            let hint = match super::attrs::did_you_mean(&variant.to_string(), &known) {
                Some(close) => format!(" (or did you mean `{}::{close}`?)", self.enum_name),
                None => String::new(),
            };
            self.cx.error_spanned_by(
                variant,
                format!(
                    "`{}` declares no event `{variant}`: declare it in the `#[actor]` block with `#[event] fn {}(..);`{hint}",
                    self.actor,
                    variant.to_string().to_snake_case(),
                ),
            );
            let span = variant.span();
            *expr = syn::parse_quote_spanned! {span=> ::rivet_core::__private::undeclared_event() };
            return;
        }
        syn::visit_mut::visit_expr_mut(self, expr);
    }
}

#[cfg(test)]
mod tests {
    use syn::{Signature, parse_quote};

    use super::*;
    use crate::actor::roles::{parse_action, parse_event};

    fn ident(name: &str) -> Ident {
        Ident::new(name, Span::call_site())
    }

    #[test]
    fn duplicate_wire_names_are_reported_and_the_first_kept() {
        let cx = Ctxt::default();
        let items = vec![
            ("get".to_owned(), ident("get")),
            ("get".to_owned(), ident("get_again")),
            ("set".to_owned(), ident("set")),
        ];
        let kept = unique_wire_names(&cx, "action", items, |(wire, ident)| (wire, ident));
        let kept: Vec<String> = kept.iter().map(|(_, ident)| ident.to_string()).collect();
        assert_eq!(kept, ["get", "set"]);
        assert_eq!(
            cx.into_messages(),
            [
                "two actions have the wire name `get` (`get` and `get_again`); rename one with `#[action(name = \"...\")]`"
            ]
        );
    }

    fn action(cx: &Ctxt, sig: Signature) -> Action {
        let wire = sig.ident.to_string();
        parse_action(cx, &sig, wire, Vec::new()).expect("an action")
    }

    #[test]
    fn actions_clashing_with_the_generated_client_are_reported() {
        let cx = Ctxt::default();
        let actions = vec![
            action(&cx, parse_quote!(fn handle(&self))),
            action(&cx, parse_quote!(fn on_tick(&self))),
            action(&cx, parse_quote!(fn get(&self))),
        ];
        let tick: Signature = parse_quote!(fn tick());
        let events = parse_event(&cx, &tick, "tick".to_owned(), Vec::new());
        let events: Vec<Event> = events.into_iter().collect();
        let kept = check_client_names(&cx, actions, &events, &[]);
        let kept: Vec<String> = kept.iter().map(|a| a.ident.to_string()).collect();
        assert_eq!(kept, ["get"]);
        assert_eq!(
            cx.into_messages(),
            [
                "`handle` is a method of the generated client; name the method differently and keep the wire name with `#[action(name = \"handle\")]`",
                "the generated client already has a method `on_tick` for event `tick`; rename this action",
            ]
        );
    }

    #[test]
    fn a_single_role_keeps_the_first_and_reports_the_others() {
        let cx = Ctxt::default();
        let found = vec![
            (Span::call_site(), 1),
            (Span::call_site(), 2),
            (Span::call_site(), 3),
        ];
        assert_eq!(single(&cx, "#[create]", found), Some(1));
        assert_eq!(
            cx.into_messages(),
            [
                "only one method can be #[create]",
                "only one method can be #[create]"
            ]
        );

        let cx = Ctxt::default();
        assert_eq!(single::<u8>(&cx, "#[run]", Vec::new()), None);
        assert!(cx.into_messages().is_empty());
    }

    #[test]
    fn one_hook_per_kind() {
        let cx = Ctxt::default();
        let hooks = vec![
            ("wake", ident("a")),
            ("sleep", ident("b")),
            ("wake", ident("c")),
        ];
        let kept = one_per_kind(&cx, hooks, |(kind, ident)| {
            (
                *kind,
                if *kind == "wake" {
                    "on_wake"
                } else {
                    "on_sleep"
                },
                ident,
            )
        });
        let kept: Vec<String> = kept.iter().map(|(_, ident)| ident.to_string()).collect();
        assert_eq!(kept, ["a", "b"]);
        assert_eq!(cx.into_messages(), ["only one method can be #[on_wake]"]);
    }
}
