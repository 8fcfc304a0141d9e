//! From the user's `impl` block to the actor IR, with every misuse reported on the user's tokens.

use std::collections::HashMap;

use heck::{ToLowerCamelCase, ToUpperCamelCase};
use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{
    Attribute, FnArg, Ident, ImplItem, ItemImpl, LitStr, Pat, ReceiverKind, ReturnType, Signature,
    Token, Type, Visibility,
};

use crate::ctxt::Ctxt;

/// A parsed actor.
pub(crate) struct ActorDef {
    /// The state type, e.g. `Counter`.
    pub(crate) self_ty: Type,
    /// Its last identifier, the base of generated names.
    pub(crate) ident: Ident,
    pub(crate) name: String,
    pub(crate) display_name: Option<String>,
    pub(crate) icon: Option<String>,
    pub(crate) actions: Vec<Action>,
    pub(crate) events: Vec<Event>,
    pub(crate) queues: Vec<Queue>,
    pub(crate) create: Option<CreateFn>,
    pub(crate) vars: Option<VarsFn>,
    /// `#[actor(migrations = EXPR)]`: a `&'static [&'static str]`.
    pub(crate) migrations: Option<syn::Expr>,
    pub(crate) run: Option<RunFn>,
    pub(crate) hooks: Vec<HookFn>,
    pub(crate) specials: Vec<SpecialFn>,
    /// The impl block as the user wrote it, minus our attributes and event declarations.
    pub(crate) cleaned: ItemImpl,
}

pub(crate) struct Action {
    pub(crate) ident: Ident,
    pub(crate) wire: String,
    pub(crate) is_async: bool,
    pub(crate) receiver: Receiver,
    pub(crate) cx: Option<CxParam>,
    pub(crate) params: Vec<Param>,
    pub(crate) output: Output,
    pub(crate) docs: Vec<Attribute>,
}

pub(crate) struct Queue {
    pub(crate) ident: Ident,
    pub(crate) wire: String,
    /// A bodyless declaration (`#[queue] fn jobs(job: Job) -> Done;`): the queue's messages are
    /// taken by the `#[run]` loop with `cx.queue()`, not by a handler.
    pub(crate) declared_only: bool,
    pub(crate) is_async: bool,
    pub(crate) receiver: Receiver,
    pub(crate) cx: Option<CxParam>,
    pub(crate) message: Param,
    pub(crate) output: Output,
    pub(crate) docs: Vec<Attribute>,
}

pub(crate) struct Event {
    pub(crate) ident: Ident,
    pub(crate) variant: Ident,
    pub(crate) wire: String,
    pub(crate) params: Vec<Param>,
    pub(crate) docs: Vec<Attribute>,
}

pub(crate) struct CreateFn {
    pub(crate) ident: Ident,
    pub(crate) is_async: bool,
    pub(crate) has_cx: bool,
    pub(crate) input: Option<Type>,
    pub(crate) output: Output,
}

pub(crate) struct RunFn {
    pub(crate) ident: Ident,
    pub(crate) output: Output,
}

pub(crate) struct VarsFn {
    pub(crate) ident: Ident,
    pub(crate) is_async: bool,
    pub(crate) has_cx: bool,
    pub(crate) output: Output,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) enum HookKind {
    Create,
    Wake,
    Sleep,
    Destroy,
    StateChange,
    Connect,
    Disconnect,
}

impl HookKind {
    fn from_attr(name: &str) -> Option<Self> {
        Some(match name {
            "on_create" => Self::Create,
            "on_wake" => Self::Wake,
            "on_sleep" => Self::Sleep,
            "on_destroy" => Self::Destroy,
            "on_state_change" => Self::StateChange,
            "on_connect" => Self::Connect,
            "on_disconnect" => Self::Disconnect,
            _ => return None,
        })
    }

    fn attr(self) -> &'static str {
        match self {
            Self::Create => "on_create",
            Self::Wake => "on_wake",
            Self::Sleep => "on_sleep",
            Self::Destroy => "on_destroy",
            Self::StateChange => "on_state_change",
            Self::Connect => "on_connect",
            Self::Disconnect => "on_disconnect",
        }
    }
}

pub(crate) struct HookFn {
    pub(crate) kind: HookKind,
    pub(crate) ident: Ident,
    pub(crate) is_async: bool,
    pub(crate) receiver: Receiver,
    pub(crate) cx: Option<CxParam>,
    pub(crate) output: Output,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Receiver {
    Ref,
    Mut,
}

#[derive(Clone, Copy)]
pub(crate) struct CxParam {
    pub(crate) mutable: bool,
}

pub(crate) struct Param {
    pub(crate) name: Ident,
    pub(crate) ty: Type,
}

pub(crate) enum Output {
    Unit,
    Value(Type),
    /// `Result<T, E>`: the success type, and where the error type is written (errors about
    /// converting it point there).
    Result(Type, Span),
}

impl Output {
    /// The success type as the caller sees it.
    pub(crate) fn ok_type(&self) -> TokenStream {
        match self {
            Output::Unit => quote::quote!(()),
            Output::Value(ty) | Output::Result(ty, _) => ty.to_token_stream(),
        }
    }
}

/// The attributes this macro owns on methods.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Action,
    Event,
    Queue,
    Create,
    Vars,
    Run,
    Hook(HookKind),
    Special(SpecialKind),
}

/// Hooks that take one typed input besides the context.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) enum SpecialKind {
    /// `#[on_before_connect]`: `(&self, cx: &Cx<Self>, params: P)`.
    BeforeConnect,
    /// `#[conn_state]`: `(&mut self, cx: &mut Cx<Self>, params: P) -> S`.
    ConnState,
    /// `#[on_request]`: `(&mut self, cx, request: Request) -> Response`.
    Request,
    /// `#[on_websocket]`: `(&mut self, cx, event: WebSocketEvent)`.
    WebSocket,
}

impl SpecialKind {
    fn from_attr(name: &str) -> Option<Self> {
        Some(match name {
            "on_before_connect" => Self::BeforeConnect,
            "conn_state" => Self::ConnState,
            "on_request" => Self::Request,
            "on_websocket" => Self::WebSocket,
            _ => return None,
        })
    }

    pub(crate) fn attr(self) -> &'static str {
        match self {
            Self::BeforeConnect => "on_before_connect",
            Self::ConnState => "conn_state",
            Self::Request => "on_request",
            Self::WebSocket => "on_websocket",
        }
    }
}

/// A parsed special hook.
pub(crate) struct SpecialFn {
    pub(crate) kind: SpecialKind,
    pub(crate) ident: Ident,
    pub(crate) is_async: bool,
    pub(crate) receiver: Receiver,
    pub(crate) cx: Option<CxParam>,
    /// The typed input (params, request or event); optional for the connection hooks.
    pub(crate) input: Option<Param>,
    pub(crate) output: Output,
}

impl Role {
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

    fn takes_name(self) -> bool {
        matches!(self, Self::Action | Self::Event | Self::Queue)
    }
}

/// Names the generated `{Actor}Client` and `{Actor}Connection` already use.
const RESERVED_METHODS: &[&str] = &["handle", "connect", "resolve", "connection", "disconnect"];

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
    let ident = ident.unwrap_or_else(|| {
        generatable = false;
        cx.error_spanned_by(
            &item.self_ty,
            "#[actor] needs a named state type, such as `impl Counter`",
        );
        Ident::new("Actor", Span::call_site())
    });

    let mut actions = Vec::new();
    let mut events = Vec::new();
    let mut queues = Vec::new();
    let mut creates: Vec<(Span, CreateFn)> = Vec::new();
    let mut vars: Vec<(Span, VarsFn)> = Vec::new();
    let mut runs: Vec<(Span, RunFn)> = Vec::new();
    let mut hooks: Vec<(Span, HookFn)> = Vec::new();
    let mut specials: Vec<(Span, SpecialFn)> = Vec::new();

    let mut kept = Vec::with_capacity(item.items.len());
    for impl_item in std::mem::take(&mut item.items) {
        match impl_item {
            ImplItem::Fn(mut f) => {
                let Some((role, role_attr)) = take_role(&cx, &mut f.attrs) else {
                    kept.push(ImplItem::Fn(f));
                    continue;
                };
                let wire = wire_name(&cx, role, &role_attr, &f.sig.ident);
                let docs = doc_attrs(&f.attrs);
                match role {
                    Role::Action => {
                        if let Some(a) = parse_action(&cx, &f.sig, wire, docs) {
                            actions.push(a);
                        }
                    }
                    Role::Queue => {
                        if let Some(q) = parse_queue(&cx, &f.sig, wire, docs) {
                            queues.push(q);
                        }
                    }
                    Role::Event => cx.error_spanned_by(
                        &f.block,
                        format!(
                            "an event is a declaration without a body: write `fn {}(...);`",
                            f.sig.ident
                        ),
                    ),
                    Role::Create => {
                        if let Some(c) = parse_create(&cx, &f.sig) {
                            creates.push((f.sig.ident.span(), c));
                        }
                    }
                    Role::Vars => {
                        if let Some(v) = parse_vars(&cx, &f.sig) {
                            vars.push((f.sig.ident.span(), v));
                        }
                    }
                    Role::Run => {
                        if let Some(r) = parse_run(&cx, &f.sig) {
                            runs.push((f.sig.ident.span(), r));
                        }
                    }
                    Role::Hook(kind) => {
                        if let Some(h) = parse_hook(&cx, kind, &f.sig) {
                            hooks.push((f.sig.ident.span(), h));
                        }
                    }
                    Role::Special(kind) => {
                        if let Some(h) = parse_special(&cx, kind, &f.sig) {
                            specials.push((f.sig.ident.span(), h));
                        }
                    }
                }
                kept.push(ImplItem::Fn(f));
            }
            ImplItem::Verbatim(tokens) => match syn::parse2::<BodylessFn>(tokens.clone()) {
                Ok(mut decl) => match take_role(&cx, &mut decl.attrs) {
                    Some((Role::Event, role_attr)) => {
                        let wire = wire_name(&cx, Role::Event, &role_attr, &decl.sig.ident);
                        let docs = doc_attrs(&decl.attrs);
                        if let Some(e) = parse_event(&cx, &decl.sig, wire, docs) {
                            events.push(e);
                        }
                    }
                    Some((Role::Queue, role_attr)) => {
                        let wire = wire_name(&cx, Role::Queue, &role_attr, &decl.sig.ident);
                        let docs = doc_attrs(&decl.attrs);
                        if let Some(q) = parse_queue_decl(&cx, &decl.sig, wire, docs) {
                            queues.push(q);
                        }
                    }
                    Some((_, role_attr)) => {
                        cx.error_spanned_by(
                            &decl.sig,
                            format!(
                                "#[{}] needs a body; only #[event] and #[queue] declarations have none",
                                role_attr.path().to_token_stream()
                            ),
                        );
                    }
                    None => kept.push(ImplItem::Verbatim(tokens)),
                },
                Err(_) => kept.push(ImplItem::Verbatim(tokens)),
            },
            other => kept.push(other),
        }
    }
    item.items = kept;

    let actions = unique_wire_names(&cx, "action", actions, |a| (&a.wire, &a.ident));
    let events = unique_wire_names(&cx, "event", events, |e| (&e.wire, &e.ident));
    let queues = unique_wire_names(&cx, "queue", queues, |q| (&q.wire, &q.ident));
    let actions = check_client_names(&cx, actions, &events, &queues);
    let create = single(&cx, "#[create]", creates);
    let vars = single(&cx, "#[vars]", vars);
    let run = single(&cx, "#[run]", runs);
    let mut seen_hooks: HashMap<HookKind, Span> = HashMap::new();
    let mut kept_hooks = Vec::new();
    for (span, hook) in hooks {
        if seen_hooks.insert(hook.kind, span).is_some() {
            cx.error_spanned_by(
                &hook.ident,
                format!("only one method can be #[{}]", hook.kind.attr()),
            );
        } else {
            kept_hooks.push(hook);
        }
    }

    let mut seen_specials: HashMap<SpecialKind, Span> = HashMap::new();
    let mut kept_specials = Vec::new();
    for (span, special) in specials {
        if seen_specials.insert(special.kind, span).is_some() {
            cx.error_spanned_by(
                &special.ident,
                format!("only one method can be #[{}]", special.kind.attr()),
            );
        } else {
            kept_specials.push(special);
        }
    }

    let errors = cx.finish();
    if !generatable {
        return Parsed {
            def: Err(Box::new(item)),
            errors,
        };
    }
    let name = args
        .name
        .unwrap_or_else(|| ident.to_string().to_lower_camel_case());
    let def = ActorDef {
        self_ty: (*item.self_ty).clone(),
        ident,
        name,
        display_name: args.display_name,
        icon: args.icon,
        actions,
        events,
        queues,
        create,
        vars,
        migrations: args.migrations,
        run,
        hooks: kept_hooks,
        specials: kept_specials,
        cleaned: item,
    };
    Parsed {
        def: Ok(def),
        errors,
    }
}

#[derive(Default)]
struct ActorArgs {
    name: Option<String>,
    display_name: Option<String>,
    icon: Option<String>,
    migrations: Option<syn::Expr>,
}

fn parse_actor_args(cx: &Ctxt, attr: TokenStream) -> ActorArgs {
    let mut args = ActorArgs::default();
    if attr.is_empty() {
        return args;
    }
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("migrations") {
            args.migrations = Some(meta.value()?.parse()?);
            return Ok(());
        }
        let slot = if meta.path.is_ident("name") {
            &mut args.name
        } else if meta.path.is_ident("display_name") {
            &mut args.display_name
        } else if meta.path.is_ident("icon") {
            &mut args.icon
        } else {
            return Err(meta.error(
                "unknown #[actor] argument; expected `name = \"...\"`, `display_name = \"...\"`, `icon = \"...\"` or `migrations = ...`",
            ));
        };
        let value: LitStr = meta.value()?.parse()?;
        if value.value().is_empty() {
            return Err(syn::Error::new_spanned(&value, "must not be empty"));
        }
        *slot = Some(value.value());
        Ok(())
    });
    if let Err(error) = syn::parse::Parser::parse2(parser, attr) {
        cx.syn_error(error);
    }
    args
}

/// Removes this macro's attributes from a method; returns the role it has, if any.
fn take_role(cx: &Ctxt, attrs: &mut Vec<Attribute>) -> Option<(Role, Attribute)> {
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
            None => kept.push(attr),
        }
    }
    *attrs = kept;
    found
}

/// The wire name from `#[action(name = "...")]`, else the camelCase of the method name.
fn wire_name(cx: &Ctxt, role: Role, attr: &Attribute, ident: &Ident) -> String {
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

fn doc_attrs(attrs: &[Attribute]) -> Vec<Attribute> {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .cloned()
        .collect()
}

/// The parts of a signature shared by every role.
struct SigParts {
    receiver: Option<Receiver>,
    cx: Option<CxParam>,
    params: Vec<Param>,
    output: Output,
}

/// Checks what every handler shares: no generics, a `&self`/`&mut self` receiver if `needs_self`,
/// an optional context parameter first, owned parameter types.
fn sig_parts(
    cx: &Ctxt,
    what: &str,
    sig: &Signature,
    self_rule: SelfRule,
    cx_type: Option<&str>,
) -> Option<SigParts> {
    let needs_self = matches!(self_rule, SelfRule::Required);
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
    let mut receiver = None;
    let mut cx_param = None;
    let mut params = Vec::new();
    for (index, arg) in sig.inputs.iter().enumerate() {
        match arg {
            FnArg::Receiver(r) => {
                if let SelfRule::Forbidden(why) = self_rule {
                    cx.error_spanned_by(r, format!("{what} takes no `self`: {why}"));
                    ok = false;
                    continue;
                }
                match &r.kind {
                    ReceiverKind::Reference(_, _, mutability) => {
                        receiver = Some(if mutability.is_some() {
                            Receiver::Mut
                        } else {
                            Receiver::Ref
                        });
                    }
                    _ => {
                        cx.error_spanned_by(
                            r,
                            format!("{what} takes `&self` or `&mut self`: the actor keeps owning its state"),
                        );
                        ok = false;
                    }
                }
            }
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
                if let Some(bad) = borrowed(&pat_type.ty) {
                    cx.error_spanned_by(
                        bad,
                        format!("arguments of {what} are decoded from the caller's message and must be owned types (for example `String`, not `&str`)"),
                    );
                    ok = false;
                    continue;
                }
                let name = match &*pat_type.pat {
                    Pat::Ident(p) => p.ident.clone(),
                    other => Ident::new(&format!("arg{}", params.len()), other.span()),
                };
                params.push(Param {
                    name,
                    ty: (*pat_type.ty).clone(),
                });
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

#[derive(Clone, Copy)]
enum SelfRule {
    Required,
    Forbidden(&'static str),
}

const BEFORE_STATE: SelfRule = SelfRule::Forbidden("it runs before the state exists");

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

fn parse_action(cx: &Ctxt, sig: &Signature, wire: String, docs: Vec<Attribute>) -> Option<Action> {
    let parts = sig_parts(cx, "an action", sig, SelfRule::Required, Some("Cx"))?;
    Some(Action {
        ident: sig.ident.clone(),
        wire,
        is_async: sig.asyncness.is_some(),
        receiver: parts.receiver?,
        cx: parts.cx,
        params: parts.params,
        output: parts.output,
        docs,
    })
}

fn parse_queue(cx: &Ctxt, sig: &Signature, wire: String, docs: Vec<Attribute>) -> Option<Queue> {
    let parts = sig_parts(cx, "a queue handler", sig, SelfRule::Required, Some("Cx"))?;
    let mut params = parts.params.into_iter();
    let (Some(message), None) = (params.next(), params.next()) else {
        cx.error_spanned_by(
            &sig.inputs,
            "a queue handler takes exactly one message (after `&mut self` and an optional `&mut Cx<Self>`); put several values in one struct",
        );
        return None;
    };
    Some(Queue {
        ident: sig.ident.clone(),
        wire,
        declared_only: false,
        is_async: sig.asyncness.is_some(),
        receiver: parts.receiver?,
        cx: parts.cx,
        message,
        output: parts.output,
        docs,
    })
}

/// `#[queue] fn jobs(job: Job) -> Done;`: a queue without a handler, for the `#[run]` loop. The
/// return type, if any, is what completing a message answers a waiting sender.
fn parse_queue_decl(
    cx: &Ctxt,
    sig: &Signature,
    wire: String,
    docs: Vec<Attribute>,
) -> Option<Queue> {
    if sig.asyncness.is_some() {
        cx.error_spanned_by(
            sig.asyncness,
            "a queue declaration is not a function that runs; remove `async` (or give it a body to make it a handler)",
        );
        return None;
    }
    let parts = sig_parts(
        cx,
        "a queue declaration",
        sig,
        SelfRule::Forbidden("it declares the messages the `#[run]` loop takes"),
        None,
    )?;
    let mut params = parts.params.into_iter();
    let (Some(message), None) = (params.next(), params.next()) else {
        cx.error_spanned_by(
            &sig.inputs,
            "a queue declaration takes exactly one message; put several values in one struct",
        );
        return None;
    };
    Some(Queue {
        ident: sig.ident.clone(),
        wire,
        declared_only: true,
        is_async: false,
        receiver: Receiver::Ref,
        cx: None,
        message,
        output: parts.output,
        docs,
    })
}

/// `#[run] async fn run(cx: RunCx<Self>)`: the actor's background loop.
fn parse_run(cx: &Ctxt, sig: &Signature) -> Option<RunFn> {
    if sig.asyncness.is_none() {
        cx.error_spanned_by(
            sig.fn_token,
            "#[run] must be an `async fn`: it runs for as long as the actor is awake",
        );
        return None;
    }
    let parts = sig_parts(
        cx,
        "#[run]",
        sig,
        SelfRule::Forbidden(
            "it runs beside the actor's turns and reaches the state through `cx.turn(..)`",
        ),
        None,
    )?;
    if parts.params.len() != 1 {
        cx.error_spanned_by(
            &sig.inputs,
            "#[run] takes exactly one argument: `cx: RunCx<Self>`",
        );
        return None;
    }
    if let Output::Value(ty) = &parts.output {
        cx.error_spanned_by(ty, "#[run] returns nothing or `Result<(), E>`");
        return None;
    }
    if let Output::Result(ty, _) = &parts.output
        && !matches!(ty, Type::Tuple(t) if t.elems.is_empty())
    {
        cx.error_spanned_by(ty, "#[run] returns nothing or `Result<(), E>`");
        return None;
    }
    Some(RunFn {
        ident: sig.ident.clone(),
        output: parts.output,
    })
}

fn parse_event(cx: &Ctxt, sig: &Signature, wire: String, docs: Vec<Attribute>) -> Option<Event> {
    if sig.asyncness.is_some() {
        cx.error_spanned_by(
            sig.asyncness,
            "an event declaration is not a function that runs; remove `async`",
        );
        return None;
    }
    if let ReturnType::Type(_, ty) = &sig.output {
        cx.error_spanned_by(
            ty,
            "an event declaration has no return type; its parameters are its payload",
        );
        return None;
    }
    let parts = sig_parts(
        cx,
        "an event",
        sig,
        SelfRule::Forbidden("it is a declaration of what the actor broadcasts"),
        None,
    )?;
    let variant = Ident::new(
        &sig.ident
            .to_string()
            .trim_start_matches("r#")
            .to_upper_camel_case(),
        sig.ident.span(),
    );
    Some(Event {
        ident: sig.ident.clone(),
        variant,
        wire,
        params: parts.params,
        docs,
    })
}

fn parse_create(cx: &Ctxt, sig: &Signature) -> Option<CreateFn> {
    let parts = sig_parts(cx, "#[create]", sig, BEFORE_STATE, Some("CreateCx"))?;
    if matches!(parts.output, Output::Unit) {
        cx.error_spanned_by(
            &sig.ident,
            "#[create] returns the initial state: `-> Self` or `-> Result<Self, E>`",
        );
        return None;
    }
    let mut params = parts.params.into_iter();
    let input = params.next();
    if let Some(extra) = params.next() {
        cx.error_spanned_by(
            &extra.ty,
            "#[create] takes at most one input (after an optional `&CreateCx`); put several values in one struct",
        );
        return None;
    }
    Some(CreateFn {
        ident: sig.ident.clone(),
        is_async: sig.asyncness.is_some(),
        has_cx: parts.cx.is_some(),
        input: input.map(|p| p.ty),
        output: parts.output,
    })
}

fn parse_vars(cx: &Ctxt, sig: &Signature) -> Option<VarsFn> {
    let parts = sig_parts(cx, "#[vars]", sig, BEFORE_STATE, Some("CreateCx"))?;
    if let Some(extra) = parts.params.first() {
        cx.error_spanned_by(&extra.ty, "#[vars] takes only an optional `&CreateCx`");
        return None;
    }
    if matches!(parts.output, Output::Unit) {
        cx.error_spanned_by(
            &sig.ident,
            "#[vars] returns the ephemeral variables: `-> MyVars` or `-> Result<MyVars, E>`",
        );
        return None;
    }
    Some(VarsFn {
        ident: sig.ident.clone(),
        is_async: sig.asyncness.is_some(),
        has_cx: parts.cx.is_some(),
        output: parts.output,
    })
}

fn parse_hook(cx: &Ctxt, kind: HookKind, sig: &Signature) -> Option<HookFn> {
    let what = format!("#[{}]", kind.attr());
    let parts = sig_parts(cx, &what, sig, SelfRule::Required, Some("Cx"))?;
    if let Some(extra) = parts.params.first() {
        cx.error_spanned_by(
            &extra.ty,
            format!("{what} takes only `self` and an optional `&mut Cx<Self>`"),
        );
        return None;
    }
    if let Output::Value(ty) = &parts.output {
        cx.error_spanned_by(ty, format!("{what} returns `()` or `Result<(), E>`"));
        return None;
    }
    let receiver = parts.receiver?;
    if kind == HookKind::StateChange {
        if receiver == Receiver::Mut {
            cx.error_spanned_by(
                &sig.inputs,
                "#[on_state_change] takes `&self`: it sees the new state and must not change it again",
            );
            return None;
        }
        if sig.asyncness.is_some() {
            cx.error_spanned_by(
                sig.asyncness,
                "#[on_state_change] runs synchronously at the end of a turn; remove `async`",
            );
            return None;
        }
    }
    Some(HookFn {
        kind,
        ident: sig.ident.clone(),
        is_async: sig.asyncness.is_some(),
        receiver,
        cx: parts.cx,
        output: parts.output,
    })
}

/// Reports items sharing a wire name and keeps the first of each.
fn unique_wire_names<T>(
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
fn check_client_names(
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

fn single<T>(cx: &Ctxt, what: &str, mut found: Vec<(Span, T)>) -> Option<T> {
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

fn parse_special(cx: &Ctxt, kind: SpecialKind, sig: &Signature) -> Option<SpecialFn> {
    let what = format!("#[{}]", kind.attr());
    let parts = sig_parts(cx, &what, sig, SelfRule::Required, Some("Cx"))?;
    let receiver = parts.receiver?;
    let mut params = parts.params.into_iter();
    let input = params.next();
    if let Some(extra) = params.next() {
        cx.error_spanned_by(
            &extra.ty,
            format!("{what} takes one input after the context"),
        );
        return None;
    }
    match kind {
        SpecialKind::BeforeConnect => {
            if receiver == Receiver::Mut {
                cx.error_spanned_by(
                    &sig.inputs,
                    "#[on_before_connect] takes `&self`: it decides whether to accept a connection; change state in #[conn_state] or #[on_connect]",
                );
                return None;
            }
            if parts.cx.is_some_and(|c| c.mutable) {
                cx.error_spanned_by(
                    &sig.inputs,
                    "#[on_before_connect] takes `&Cx<Self>`, not `&mut Cx<Self>`",
                );
                return None;
            }
            if let Output::Value(ty) = &parts.output {
                cx.error_spanned_by(ty, "#[on_before_connect] returns `()` or `Result<(), E>`; an error refuses the connection");
                return None;
            }
        }
        SpecialKind::ConnState => {
            if matches!(parts.output, Output::Unit) {
                cx.error_spanned_by(
                    &sig.ident,
                    "#[conn_state] returns the connection's state: `-> S` or `-> Result<S, E>`",
                );
                return None;
            }
        }
        SpecialKind::Request | SpecialKind::WebSocket => {
            if input.is_none() {
                let needs = if kind == SpecialKind::Request {
                    "a `rivet_core::raw::Request`"
                } else {
                    "a `rivet_core::raw::WebSocketEvent`"
                };
                cx.error_spanned_by(
                    &sig.ident,
                    format!("{what} takes {needs} after the context"),
                );
                return None;
            }
            if kind == SpecialKind::Request && matches!(parts.output, Output::Unit) {
                cx.error_spanned_by(
                    &sig.ident,
                    "#[on_request] returns a `rivet_core::raw::Response` (or a `Result` of one)",
                );
                return None;
            }
            if kind == SpecialKind::WebSocket && matches!(parts.output, Output::Value(_)) {
                cx.error_spanned_by(
                    &sig.output,
                    "#[on_websocket] returns `()` or `Result<(), E>`",
                );
                return None;
            }
        }
    }
    Some(SpecialFn {
        kind,
        ident: sig.ident.clone(),
        is_async: sig.asyncness.is_some(),
        receiver,
        cx: parts.cx,
        input,
        output: parts.output,
    })
}
