//! Checks across items, once every method is parsed: unique wire names, no clash with the
//! generated client's methods, and at most one method per single role. Each check reports the
//! offenders and keeps the rest, so expansion still runs.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

use proc_macro2::Span;
use syn::Ident;

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
