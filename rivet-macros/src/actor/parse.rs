//! From the user's `impl` block to the actor IR: walks the block's items, hands each method with
//! a role to its parser ([`super::roles`]), then runs the cross-item [`super::checks`]. Every
//! misuse is reported on the user's tokens, all of them at once.

use std::collections::HashSet;

use heck::ToLowerCamelCase;
use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::parse::{Parse, ParseStream};
use syn::visit_mut::VisitMut;
use syn::{Attribute, Ident, ImplItem, ImplItemFn, ItemImpl, Signature, Token, Type, Visibility};

use super::attrs::{Role, doc_attrs, parse_actor_args, take_role, wire_name};
use super::checks::{
    check_client_names, one_per_kind, single, undeclared_events, unique_wire_names,
};
use super::ir::{
    Action, ActorDef, CreateFn, Event, HookFn, Output, Queue, RunFn, SpecialFn, VarsFn,
};
use super::roles::{
    event_variant, parse_action, parse_create, parse_event, parse_hook, parse_queue,
    parse_queue_decl, parse_run, parse_special, parse_vars,
};
use crate::ctxt::Ctxt;

/// What parsing produced.
pub(crate) struct Parsed {
    /// The actor, possibly without the items that had errors; or, when the impl block itself
    /// cannot carry an actor, the cleaned block to emit alone.
    pub(crate) def: Result<ActorDef, Box<ItemImpl>>,
    /// Every error found.
    pub(crate) errors: Option<TokenStream>,
}

/// Parses `#[actor(attr)] impl ... { ... }`, collecting every error. Items with errors are left
/// out of the actor (their methods stay as plain methods), so the rest is still generated and the
/// user sees the real errors rather than a cascade of secondary ones.
pub(crate) fn parse(attr: TokenStream, mut item: ItemImpl) -> Parsed {
    let cx = Ctxt::default();
    let args = parse_actor_args(&cx, attr);
    let ident = actor_ident(&cx, &item);
    let mut found = Found::default();
    item.items = std::mem::take(&mut item.items)
        .into_iter()
        .filter_map(|impl_item| found.add(&cx, impl_item))
        .collect();
    let tried = std::mem::take(&mut found.event_variants);
    let items = found.check(&cx);
    if let Some(ident) = &ident {
        undeclared_events(&cx, ident, &tried, &mut item.items);
    }
    let errors = cx.finish();
    let Some(ident) = ident else {
        return Parsed {
            def: Err(Box::new(item)),
            errors,
        };
    };
    let name = args
        .name
        .unwrap_or_else(|| ident.to_string().to_lower_camel_case());
    let mut items = items;
    // The client, the connection and the event enum are other types: `Self` in what they
    // carry means the actor.
    let mut self_is_actor = SelfIsActor(&item.self_ty);
    for action in &mut items.actions {
        for param in &mut action.params {
            self_is_actor.visit_type_mut(&mut param.ty);
        }
        self_is_actor.output(&mut action.output);
    }
    for queue in &mut items.queues {
        self_is_actor.visit_type_mut(&mut queue.message.ty);
        self_is_actor.output(&mut queue.output);
    }
    for event in &mut items.events {
        for param in &mut event.params {
            self_is_actor.visit_type_mut(&mut param.ty);
        }
    }
    let def = ActorDef {
        self_ty: (*item.self_ty).clone(),
        ident,
        name,
        display_name: args.display_name,
        icon: args.icon,
        actions: items.actions,
        events: items.events,
        queues: items.queues,
        create: items.create,
        vars: items.vars,
        migrations: args.migrations,
        options: args.options,
        run: items.run,
        hooks: items.hooks,
        specials: items.specials,
        cleaned: item,
        implementation_cfg: args.implementation,
    };
    Parsed {
        def: Ok(def),
        errors,
    }
}

/// Parses an error-free `#[actor(attr)]` block, for unit tests of the generator.
#[cfg(test)]
pub(super) fn parse_ok(attr: TokenStream, item: ItemImpl) -> ActorDef {
    let parsed = parse(attr, item);
    if let Some(errors) = parsed.errors {
        panic!("unexpected errors: {errors}");
    }
    match parsed.def {
        Ok(def) => def,
        Err(_) => panic!("the block cannot carry an actor"),
    }
}

/// The state type's name, the base of generated names; `None` (after reporting) when the impl
/// block cannot carry an actor at all.
fn actor_ident(cx: &Ctxt, item: &ItemImpl) -> Option<Ident> {
    let mut generatable = true;
    if !item.generics.params.is_empty() {
        generatable = false;
        cx.error_spanned_by(
            &item.generics,
            "#[actor] does not support generic impl blocks: an actor type must be concrete, because it is registered and addressed by name",
        );
    }
    if let Some((path, _)) = &item.trait_ {
        generatable = false;
        cx.error_spanned_by(
            path,
            "#[actor] goes on the inherent impl block of the state type (`impl Counter { ... }`), not on a trait impl",
        );
    }
    let ident = match &*item.self_ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last().map(|s| s.ident.clone()),
        _ => None,
    };
    if ident.is_none() {
        cx.error_spanned_by(
            &item.self_ty,
            "#[actor] needs a named state type, such as `impl Counter`",
        );
    }
    ident.filter(|_| generatable)
}

/// The parsed items, before the cross-item checks. The single roles keep where they were
/// written, to point at the extra ones.
#[derive(Default)]
struct Found {
    actions: Vec<Action>,
    events: Vec<Event>,
    queues: Vec<Queue>,
    creates: Vec<(Span, CreateFn)>,
    vars: Vec<(Span, VarsFn)>,
    runs: Vec<(Span, RunFn)>,
    hooks: Vec<HookFn>,
    specials: Vec<SpecialFn>,
    /// The enum variant of every `#[event]` written, declared without errors or not.
    event_variants: HashSet<String>,
}

/// The items that passed every check.
struct Items {
    actions: Vec<Action>,
    events: Vec<Event>,
    queues: Vec<Queue>,
    create: Option<CreateFn>,
    vars: Option<VarsFn>,
    run: Option<RunFn>,
    hooks: Vec<HookFn>,
    specials: Vec<SpecialFn>,
}

impl Found {
    /// Parses one item of the block; returns what stays in the emitted block: everything but
    /// our bodyless declarations, with our attributes removed.
    fn add(&mut self, cx: &Ctxt, impl_item: ImplItem) -> Option<ImplItem> {
        match impl_item {
            ImplItem::Fn(mut f) => {
                self.add_fn(cx, &mut f);
                Some(ImplItem::Fn(f))
            }
            ImplItem::Verbatim(tokens) => {
                let ours = syn::parse2::<BodylessFn>(tokens.clone())
                    .is_ok_and(|decl| self.add_decl(cx, decl));
                (!ours).then_some(ImplItem::Verbatim(tokens))
            }
            other => Some(other),
        }
    }

    /// A method with a body: takes its role attribute and parses it by role.
    fn add_fn(&mut self, cx: &Ctxt, f: &mut ImplItemFn) {
        let Some((role, role_attr)) = take_role(cx, &mut f.attrs) else {
            return;
        };
        let wire = wire_name(cx, role, &role_attr, &f.sig.ident);
        let docs = doc_attrs(&f.attrs);
        let sig = &f.sig;
        let span = sig.ident.span();
        match role {
            Role::Action => self.actions.extend(parse_action(cx, sig, wire, docs)),
            Role::Queue => self.queues.extend(parse_queue(cx, sig, wire, docs)),
            Role::Event => {
                self.event_variants.insert(event_variant(&sig.ident));
                cx.error_spanned_by(
                    &f.block,
                    format!(
                        "an event is a declaration without a body: write `fn {}(...);`",
                        sig.ident
                    ),
                );
            }
            Role::Create => self
                .creates
                .extend(parse_create(cx, sig).map(|c| (span, c))),
            Role::Vars => self.vars.extend(parse_vars(cx, sig).map(|v| (span, v))),
            Role::Run => self.runs.extend(parse_run(cx, sig).map(|r| (span, r))),
            Role::Hook(kind) => self.hooks.extend(parse_hook(cx, kind, sig)),
            Role::Special(kind) => self.specials.extend(parse_special(cx, kind, sig)),
        }
    }

    /// A method without a body: an event or queue declaration. Returns whether it had a role
    /// (and so is ours, not the user's).
    fn add_decl(&mut self, cx: &Ctxt, mut decl: BodylessFn) -> bool {
        let attributes = decl.attrs.len();
        let Some((role, role_attr)) = take_role(cx, &mut decl.attrs) else {
            // A misspelled role was reported and taken away: the declaration was meant to be
            // ours, and is not emitted for the compiler to add errors of its own.
            return decl.attrs.len() != attributes;
        };
        match role {
            Role::Event => {
                self.event_variants.insert(event_variant(&decl.sig.ident));
                let wire = wire_name(cx, role, &role_attr, &decl.sig.ident);
                let docs = doc_attrs(&decl.attrs);
                self.events.extend(parse_event(cx, &decl.sig, wire, docs));
            }
            Role::Queue => {
                let wire = wire_name(cx, role, &role_attr, &decl.sig.ident);
                let docs = doc_attrs(&decl.attrs);
                self.queues
                    .extend(parse_queue_decl(cx, &decl.sig, wire, docs));
            }
            _ => cx.error_spanned_by(
                &decl.sig,
                format!(
                    "#[{}] needs a body; only #[event] and #[queue] declarations have none",
                    role_attr.path().to_token_stream()
                ),
            ),
        }
        true
    }

    /// Runs the cross-item checks, in a fixed order so the errors come out in the same order
    /// every time.
    fn check(self, cx: &Ctxt) -> Items {
        let actions = unique_wire_names(cx, "action", self.actions, |a| (&a.wire, &a.ident));
        let events = unique_wire_names(cx, "event", self.events, |e| (&e.wire, &e.ident));
        let queues = unique_wire_names(cx, "queue", self.queues, |q| (&q.wire, &q.ident));
        let actions = check_client_names(cx, actions, &events, &queues);
        Items {
            actions,
            events,
            queues,
            create: single(cx, "#[create]", self.creates),
            vars: single(cx, "#[vars]", self.vars),
            run: single(cx, "#[run]", self.runs),
            hooks: one_per_kind(cx, self.hooks, |h| (h.kind, h.kind.attr(), &h.ident)),
            specials: one_per_kind(cx, self.specials, |s| (s.kind, s.kind.attr(), &s.ident)),
        }
    }
}

/// A method declaration without a body (`fn new_count(count: i64);`), which syn hands over as
/// verbatim tokens.
struct BodylessFn {
    attrs: Vec<Attribute>,
    sig: Signature,
}

impl Parse for BodylessFn {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let _vis: Visibility = input.parse()?;
        let sig: Signature = input.parse()?;
        input.parse::<Token![;]>()?;
        Ok(Self { attrs, sig })
    }
}

/// Replaces the type `Self` with the actor's type.
struct SelfIsActor<'a>(&'a syn::Type);

impl SelfIsActor<'_> {
    fn output(&mut self, output: &mut Output) {
        match output {
            Output::Unit => {}
            Output::Value(ty) | Output::Result(ty, _) => self.visit_type_mut(ty),
        }
    }
}

impl syn::visit_mut::VisitMut for SelfIsActor<'_> {
    fn visit_type_mut(&mut self, ty: &mut syn::Type) {
        if let syn::Type::Path(path) = ty
            && path.qself.is_none()
            && path.path.is_ident("Self")
        {
            // On the span of the user's `Self`: generated code spanned on this type then
            // resolves its own names as before (not in some `macro_rules!`'s context).
            let span = path.path.segments[0].ident.span();
            if let Ok(actor) = syn::parse2(respan(self.0.to_token_stream(), span)) {
                *ty = actor;
            }
            return;
        }
        syn::visit_mut::visit_type_mut(self, ty);
    }
}

fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            if let proc_macro2::TokenTree::Group(group) = &token {
                let mut inner =
                    proc_macro2::Group::new(group.delimiter(), respan(group.stream(), span));
                inner.set_span(span);
                token = proc_macro2::TokenTree::Group(inner);
            } else {
                token.set_span(span);
            }
            token
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use syn::parse_quote;

    use super::*;

    fn error_count(parsed: &Parsed) -> usize {
        let errors = parsed.errors.as_ref().map(ToString::to_string);
        errors.unwrap_or_default().matches("compile_error").count()
    }

    #[test]
    fn several_errors_at_once_and_the_rest_is_still_an_actor() {
        let parsed = parse(
            TokenStream::new(),
            parse_quote! {
                impl Counter {
                    #[action] fn a(self) {}
                    #[action(bogus = 1)] fn b(&self) {}
                    #[event] fn c(x: i64) {}
                    #[action] fn d(&self) -> i64 { 0 }
                }
            },
        );
        assert_eq!(error_count(&parsed), 3, "{:?}", parsed.errors);
        let Ok(def) = parsed.def else {
            panic!("the block can carry an actor");
        };
        // `b` keeps its default wire name despite the bad argument; `a` and `c` are left out.
        let wires: Vec<&str> = def.actions.iter().map(|a| a.wire.as_str()).collect();
        assert_eq!(wires, ["b", "d"]);
        // The user's block is kept, minus our attributes.
        let cleaned = def.cleaned.to_token_stream().to_string();
        assert_eq!(cleaned.matches("fn ").count(), 4, "{cleaned}");
        assert!(!cleaned.contains("# [action"), "{cleaned}");
        assert!(!cleaned.contains("# [event"), "{cleaned}");
    }

    #[test]
    fn the_actor_name_defaults_to_the_camel_case_of_the_type() {
        let def = parse_ok(TokenStream::new(), parse_quote!(impl chat::ChatRoom {}));
        assert_eq!(def.name, "chatRoom");
        assert_eq!(def.ident, "ChatRoom");

        let def = parse_ok(quote::quote!(name = "room"), parse_quote!(impl ChatRoom {}));
        assert_eq!(def.name, "room");
    }

    #[test]
    fn declarations_leave_the_block_and_other_items_stay() {
        let def = parse_ok(
            TokenStream::new(),
            parse_quote! {
                impl Worker {
                    /// Jobs.
                    #[queue] fn jobs(job: Job) -> Done;
                    #[event] fn finished(id: u64);
                    const LIMIT: usize = 3;
                    #[run] async fn run(cx: RunCx<Self>) {}
                }
            },
        );
        assert_eq!(def.queues.len(), 1);
        assert_eq!(def.queues[0].docs.len(), 1);
        assert_eq!(def.events.len(), 1);
        assert!(def.run.is_some());
        let kept: Vec<String> = def
            .cleaned
            .items
            .iter()
            .map(|i| i.to_token_stream().to_string())
            .collect();
        assert_eq!(kept.len(), 2, "{kept:?}");
        assert!(kept[0].starts_with("const LIMIT"), "{kept:?}");
    }

    #[test]
    fn a_bodyless_method_with_another_role_needs_a_body() {
        let parsed = parse(
            TokenStream::new(),
            parse_quote! {
                impl Counter {
                    #[action] fn get(&self) -> i64;
                }
            },
        );
        let errors = parsed.errors.expect("an error").to_string();
        assert!(errors.contains("#[action] needs a body"), "{errors}");
    }

    #[test]
    fn a_trait_impl_cannot_carry_an_actor() {
        let parsed = parse(
            TokenStream::new(),
            parse_quote!(impl Default for Counter { fn default() -> Self { Counter } }),
        );
        assert_eq!(error_count(&parsed), 1);
        assert!(parsed.def.is_err());
    }
}
