//! One parser per role: from a method's signature (already stripped of our attributes) to its
//! IR item, with the role's own rules on top of the shared signature checks.

use heck::ToUpperCamelCase;
use syn::{Attribute, Ident, ReturnType, Signature, Type};

use super::ir::{
    Action, CreateFn, Event, HookFn, HookKind, Output, Queue, Receiver, RunFn, SpecialFn,
    SpecialKind, VarsFn,
};
use super::signature::{BEFORE_STATE, SelfRule, sig_parts};
use crate::ctxt::Ctxt;

/// `#[action]`: `self`, an optional `&mut Cx<Self>` (or `&Cx<Self>`), owned arguments.
pub(super) fn parse_action(
    cx: &Ctxt,
    sig: &Signature,
    wire: String,
    docs: Vec<Attribute>,
) -> Option<Action> {
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

/// `#[queue]` with a body: a handler of one message, run between other turns.
pub(super) fn parse_queue(
    cx: &Ctxt,
    sig: &Signature,
    wire: String,
    docs: Vec<Attribute>,
) -> Option<Queue> {
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
pub(super) fn parse_queue_decl(
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
pub(super) fn parse_run(cx: &Ctxt, sig: &Signature) -> Option<RunFn> {
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

/// `#[event] fn name(payload...);`: a bodyless declaration of what the actor broadcasts.
pub(super) fn parse_event(
    cx: &Ctxt,
    sig: &Signature,
    wire: String,
    docs: Vec<Attribute>,
) -> Option<Event> {
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
    let variant = Ident::new(&event_variant(&sig.ident), sig.ident.span());
    Some(Event {
        ident: sig.ident.clone(),
        variant,
        wire,
        params: parts.params,
        docs,
    })
}

/// The `{Actor}Event` variant of the event `ident` (`new_count` -> `NewCount`).
pub(super) fn event_variant(ident: &Ident) -> String {
    ident
        .to_string()
        .trim_start_matches("r#")
        .to_upper_camel_case()
}

/// `#[create]`: builds the initial state from an optional `&CreateCx` and at most one input.
pub(super) fn parse_create(cx: &Ctxt, sig: &Signature) -> Option<CreateFn> {
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

/// `#[vars]`: builds the ephemeral variables from an optional `&CreateCx`.
pub(super) fn parse_vars(cx: &Ctxt, sig: &Signature) -> Option<VarsFn> {
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

/// A lifecycle hook (`#[on_wake]`, ...): `self`, an optional context, nothing else.
pub(super) fn parse_hook(cx: &Ctxt, kind: HookKind, sig: &Signature) -> Option<HookFn> {
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

/// `#[on_before_connect]`, `#[conn_state]`, `#[on_request]` and `#[on_websocket]`: `self`, the
/// context and one typed input.
pub(super) fn parse_special(cx: &Ctxt, kind: SpecialKind, sig: &Signature) -> Option<SpecialFn> {
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
    let shape = SpecialShape {
        has_input: input.is_some(),
        output: &parts.output,
    };
    if !special_shape_ok(cx, kind, sig, &shape) {
        return None;
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

/// What the per-kind rules of a special hook look at.
struct SpecialShape<'a> {
    has_input: bool,
    output: &'a Output,
}

/// The rules of each special hook; `false` after reporting the first one broken.
fn special_shape_ok(
    cx: &Ctxt,
    kind: SpecialKind,
    sig: &Signature,
    shape: &SpecialShape<'_>,
) -> bool {
    let what = format!("#[{}]", kind.attr());
    match kind {
        SpecialKind::BeforeConnect => {
            if let Output::Value(ty) = shape.output {
                cx.error_spanned_by(ty, "#[on_before_connect] returns `()` or `Result<(), E>`; an error refuses the connection");
                return false;
            }
        }
        SpecialKind::ConnState => {
            if matches!(shape.output, Output::Unit) {
                cx.error_spanned_by(
                    &sig.ident,
                    "#[conn_state] returns the connection's state: `-> S` or `-> Result<S, E>`",
                );
                return false;
            }
        }
        SpecialKind::Request | SpecialKind::WebSocket => {
            if !shape.has_input {
                let needs = if kind == SpecialKind::Request {
                    "a `rivet_core::raw::Request`"
                } else {
                    "a `rivet_core::raw::WebSocketEvent`"
                };
                cx.error_spanned_by(
                    &sig.ident,
                    format!("{what} takes {needs} after the context"),
                );
                return false;
            }
            if kind == SpecialKind::Request && matches!(shape.output, Output::Unit) {
                cx.error_spanned_by(
                    &sig.ident,
                    "#[on_request] returns a `rivet_core::raw::Response` (or a `Result` of one)",
                );
                return false;
            }
            if kind == SpecialKind::WebSocket && matches!(shape.output, Output::Value(_)) {
                cx.error_spanned_by(
                    &sig.output,
                    "#[on_websocket] returns `()` or `Result<(), E>`",
                );
                return false;
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use syn::parse_quote;

    use super::*;

    /// Runs a parser on a fresh context; returns its result and the messages it reported.
    fn run<T>(parse: impl FnOnce(&Ctxt) -> Option<T>) -> (Option<T>, Vec<String>) {
        let cx = Ctxt::default();
        let parsed = parse(&cx);
        (parsed, cx.into_messages())
    }

    #[test]
    fn an_action() {
        let sig: Signature = parse_quote!(async fn add(&mut self, amount: i64) -> i64);
        let (action, errors) = run(|cx| parse_action(cx, &sig, "add".to_owned(), Vec::new()));
        assert!(errors.is_empty(), "{errors:?}");
        let action = action.expect("an action");
        assert!(action.is_async && action.receiver == Receiver::Mut && action.cx.is_none());
        assert_eq!(action.params.len(), 1);
    }

    #[test]
    fn a_queue_handler_takes_exactly_one_message() {
        let sig: Signature = parse_quote!(fn work(&mut self, a: Job, b: Job));
        let (queue, errors) = run(|cx| parse_queue(cx, &sig, "work".to_owned(), Vec::new()));
        assert!(queue.is_none());
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].starts_with("a queue handler takes exactly one message"));
    }

    #[test]
    fn a_queue_declaration_has_no_self_and_one_message() {
        let sig: Signature = parse_quote!(fn jobs(job: Job) -> Done);
        let (queue, errors) = run(|cx| parse_queue_decl(cx, &sig, "jobs".to_owned(), Vec::new()));
        assert!(errors.is_empty(), "{errors:?}");
        let queue = queue.expect("a queue");
        assert!(queue.declared_only && queue.message.name == "job");

        let sig: Signature = parse_quote!(async fn jobs(job: Job));
        let (queue, errors) = run(|cx| parse_queue_decl(cx, &sig, "jobs".to_owned(), Vec::new()));
        assert!(queue.is_none());
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].starts_with("a queue declaration is not a function that runs"));
    }

    #[test]
    fn an_event_variant_is_the_upper_camel_case_of_its_name() {
        let sig: Signature = parse_quote!(fn new_count(count: i64, by: String));
        let (event, errors) = run(|cx| parse_event(cx, &sig, "newCount".to_owned(), Vec::new()));
        assert!(errors.is_empty(), "{errors:?}");
        let event = event.expect("an event");
        assert_eq!(event.variant, "NewCount");
        assert_eq!(event.params.len(), 2);

        let sig: Signature = parse_quote!(fn tick() -> u8);
        let (event, errors) = run(|cx| parse_event(cx, &sig, "tick".to_owned(), Vec::new()));
        assert!(event.is_none());
        assert_eq!(
            errors,
            ["an event declaration has no return type; its parameters are its payload"]
        );
    }

    #[test]
    fn create_returns_the_state_from_at_most_one_input() {
        let sig: Signature = parse_quote!(fn new(cx: &CreateCx, input: Config) -> Result<Self, E>);
        let (create, errors) = run(|cx| parse_create(cx, &sig));
        assert!(errors.is_empty(), "{errors:?}");
        let create = create.expect("a create");
        assert!(create.has_cx && create.input.is_some() && !create.is_async);

        let sig: Signature = parse_quote!(fn new(a: u8, b: u8) -> Self);
        let (create, errors) = run(|cx| parse_create(cx, &sig));
        assert!(create.is_none());
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].starts_with("#[create] takes at most one input"));

        let sig: Signature = parse_quote!(fn new());
        let (create, errors) = run(|cx| parse_create(cx, &sig));
        assert!(create.is_none());
        assert_eq!(
            errors,
            ["#[create] returns the initial state: `-> Self` or `-> Result<Self, E>`"]
        );
    }

    #[test]
    fn run_is_async_and_returns_nothing() {
        let sig: Signature = parse_quote!(fn run(cx: RunCx<Self>));
        let (found, errors) = run(|cx| parse_run(cx, &sig));
        assert!(found.is_none());
        assert_eq!(
            errors,
            ["#[run] must be an `async fn`: it runs for as long as the actor is awake"]
        );

        let sig: Signature = parse_quote!(async fn run(cx: RunCx<Self>) -> Result<u8, E>);
        let (found, errors) = run(|cx| parse_run(cx, &sig));
        assert!(found.is_none());
        assert_eq!(errors, ["#[run] returns nothing or `Result<(), E>`"]);

        let sig: Signature = parse_quote!(async fn run(cx: RunCx<Self>) -> Result<(), E>);
        let (found, errors) = run(|cx| parse_run(cx, &sig));
        assert!(errors.is_empty(), "{errors:?}");
        assert!(matches!(found.expect("a run").output, Output::Result(..)));
    }

    #[test]
    fn on_state_change_only_reads_the_state() {
        let sig: Signature = parse_quote!(fn changed(&mut self));
        let (hook, errors) = run(|cx| parse_hook(cx, HookKind::StateChange, &sig));
        assert!(hook.is_none());
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].starts_with("#[on_state_change] takes `&self`"));

        let sig: Signature = parse_quote!(fn woke(&mut self, extra: u8));
        let (hook, errors) = run(|cx| parse_hook(cx, HookKind::Wake, &sig));
        assert!(hook.is_none());
        assert_eq!(
            errors,
            ["#[on_wake] takes only `self` and an optional `&mut Cx<Self>`"]
        );
    }

    #[test]
    fn special_hooks_have_their_own_shape() {
        // It may change the state: its changes commit with the connection, or roll back with
        // a refusal.
        let sig: Signature = parse_quote!(fn check(&mut self, cx: &mut Cx<Self>, params: P));
        let (hook, errors) = run(|cx| parse_special(cx, SpecialKind::BeforeConnect, &sig));
        assert!(errors.is_empty(), "{errors:?}");
        assert!(hook.is_some_and(|h| h.input.is_some() && h.cx.is_some()));
        let sig: Signature = parse_quote!(fn check(&self, params: P) -> u8);
        let (hook, errors) = run(|cx| parse_special(cx, SpecialKind::BeforeConnect, &sig));
        assert!(hook.is_none());
        assert!(
            errors[0].starts_with("#[on_before_connect] returns `()`"),
            "{errors:?}"
        );

        let sig: Signature = parse_quote!(fn raw(&mut self, cx: &mut Cx<Self>) -> Response);
        let (hook, errors) = run(|cx| parse_special(cx, SpecialKind::Request, &sig));
        assert!(hook.is_none());
        assert_eq!(
            errors,
            ["#[on_request] takes a `rivet_core::raw::Request` after the context"]
        );

        let sig: Signature = parse_quote!(fn state(&mut self, params: P) -> S);
        let (hook, errors) = run(|cx| parse_special(cx, SpecialKind::ConnState, &sig));
        assert!(errors.is_empty(), "{errors:?}");
        let hook = hook.expect("a conn_state");
        assert!(hook.input.is_some() && hook.cx.is_none());
    }
}
