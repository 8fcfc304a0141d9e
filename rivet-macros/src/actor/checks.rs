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
