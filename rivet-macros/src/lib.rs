//! The `#[actor]` attribute of Rivet for Rust. Use it through `rivet_core::actor` (or the
//! `rivet_core::prelude`); the generated code refers only to `::rivet_core`.
//!
//! This crate is a thin shell: parsing, validation and code generation live in ordinary modules
//! under [`actor`] (the IR, one parser per concern, the cross-item checks, and the `expand`
//! generator) that work on `proc_macro2` tokens and are unit-tested without a compiler round
//! trip.

use proc_macro::TokenStream;

mod actor;
mod ctxt;

/// Turns an `impl` block of a serde state type into a durable actor.
///
/// Inside the block, methods with one of the attributes below become the actor's interface;
/// other methods are left alone. It generates the dispatch table (`impl rivet_core::Actor`),
/// the `{Actor}Event` enum (one variant per `#[event]`, in `UpperCamelCase`), and the typed
/// `{Actor}Client` and `{Actor}Connection`.
///
/// # Attribute reference
///
/// `[async]` means the method may be `async`; `cx` is optional wherever it appears, and always
/// comes first after `self`; arguments, inputs and messages are owned serde types (`String`,
/// not `&str`); `E` is any error that converts into `rivet_core::Error` (a `UserError` reaches
/// the caller with its code, anything else is logged and answered as `core.internal_error`).
///
/// | Attribute | Accepted signature |
/// | --- | --- |
/// | `#[actor(name = "..", display_name = "..", icon = "..", migrations = EXPR, options = EXPR, implementation(PREDICATE))]` | on the `impl` block; every argument optional (`name` defaults to the type's name in `lowerCamelCase`; `migrations` is a `&'static [&'static str]` of SQL for `cx.db()`; `options` a constant `ActorOptions` (sleep timeout, action timeout, sleep grace period, no sleep) replacing the registry's for this actor; `implementation(feature = "server")` compiles the implementation only under that `cfg`, see below) |
/// | `#[action]`, `#[action(name = "..")]` | `[async] fn f(&self or &mut self, cx: &Cx<Self> or &mut Cx<Self>, args..) -> T or Result<T, E>` |
/// | `#[event]`, `#[event(name = "..")]` | `fn f(payload..);`: a declaration without a body or `self`; broadcast with `cx.broadcast({Actor}Event::F(x))` (one payload), `F { a, b }` (several) or `F` (none) |
/// | `#[queue]` with a body | `[async] fn f(&mut self, cx: &mut Cx<Self>, message: M) [-> R or Result<R, E>]`: one message per turn; `R` answers a sender that waits |
/// | `#[queue]` without a body | `fn f(message: M) [-> R];`: a queue that the `#[run]` loop takes from |
/// | `#[create]` | `[async] fn f(cx: &CreateCx, input: I) -> Self or Result<Self, E>`, no `self`; both parameters optional. Without it, the state's `Default` is the initial state |
/// | `#[vars]` | `[async] fn f(cx: &CreateCx) -> V or Result<V, E>`, no `self`: per-activation variables, not persisted (`cx.vars()`, `cx.vars_mut()`) |
/// | `#[run]` | `async fn f(cx: RunCx<Self>) [-> Result<(), E>]`: the background loop, by value, no `self` |
/// | `#[on_create]`, `#[on_wake]`, `#[on_sleep]`, `#[on_destroy]`, `#[on_connect]`, `#[on_disconnect]` | `[async] fn f(&self or &mut self, cx: &mut Cx<Self>) [-> Result<(), E>]` |
/// | `#[on_state_change]` | `fn f(&self, cx: &mut Cx<Self>) [-> Result<(), E>]`: not `async`, not `&mut self` |
/// | `#[on_before_connect]` | `[async] fn f(&self or &mut self, cx: &Cx<Self> or &mut Cx<Self>, params: P) [-> Result<(), E>]`: an error refuses the connection (and rolls back what it changed) |
/// | `#[conn_state]` | `[async] fn f(&self or &mut self, cx: &mut Cx<Self>, params: P) -> S or Result<S, E>`: the connection's state (`cx.conn()`) |
/// | `#[on_request]` | `[async] fn f(&self or &mut self, cx: &mut Cx<Self>, request: raw::Request) -> raw::Response or Result<raw::Response, E>` |
/// | `#[on_websocket]` | `[async] fn f(&self or &mut self, cx: &mut Cx<Self>, event: raw::WebSocketEvent) [-> Result<(), E>]` |
///
/// **A contract without the implementation.** With `implementation(feature = "server")`, the
/// method bodies and the `Actor` impl are compiled only with the crate's `server` feature, while
/// the state type's `ActorDescriptor`, `{Actor}Client`, `{Actor}Connection`, `{Actor}Event` and
/// `{Actor}Call` always are. A client crate then depends on the actor's crate without the
/// feature (and on `rivet-core` without `sqlite` and `server`): it compiles the contract only.
/// The repository's `examples/contract` has such an `api` crate, its server and a client.
///
/// Connection parameters `P` are decoded from what the client passes; a client may connect
/// (and an HTTP action may be called) without any, so take `Option<P>` unless every client
/// must send them: with a plain `P`, a call without parameters is refused with
/// `actor.validation_error`.
///
/// ```
/// use rivet_core::prelude::*;
///
/// #[derive(Serialize, Deserialize)]
/// pub struct Room {
///     topic: String,
///     messages: Vec<String>,
/// }
///
/// #[derive(Serialize, Deserialize)]
/// pub struct RoomInput {
///     topic: String,
/// }
///
/// #[derive(Serialize, Deserialize)]
/// pub struct Params {
///     user: String,
/// }
///
/// #[actor(name = "room")]
/// impl Room {
///     #[create]
///     fn create(input: RoomInput) -> Self {
///         Room { topic: input.topic, messages: Vec::new() }
///     }
///
///     #[on_before_connect]
///     fn check(&self, params: Option<Params>) -> Result<(), UserError> {
///         match params {
///             Some(p) if p.user.is_empty() => Err(UserError::new("no_name", "say who you are")),
///             _ => Ok(()),
///         }
///     }
///
///     #[conn_state]
///     fn member(&self, params: Option<Params>) -> String {
///         params.map_or_else(|| "guest".to_owned(), |p| p.user)
///     }
///
///     #[action]
///     fn say(&mut self, cx: &mut Cx<Self>, text: String) -> usize {
///         let who = cx.conn().map(|c| c.state().clone()).unwrap_or_default();
///         self.messages.push(format!("{who}: {text}"));
///         cx.broadcast(RoomEvent::Said { who, text });
///         self.messages.len()
///     }
///
///     #[action]
///     fn topic(&self) -> String {
///         self.topic.clone()
///     }
///
///     #[event]
///     fn said(who: String, text: String);
///
///     #[queue]
///     fn announcements(&mut self, cx: &mut Cx<Self>, text: String) {
///         cx.broadcast(RoomEvent::Said { who: "system".to_owned(), text });
///     }
///
///     #[on_wake]
///     fn woke(&mut self) {
///         // Keep the last 100 messages.
///         let extra = self.messages.len().saturating_sub(100);
///         self.messages.drain(..extra);
///     }
/// }
/// ```
#[proc_macro_attribute]
pub fn actor(attr: TokenStream, item: TokenStream) -> TokenStream {
    actor::expand(attr.into(), item.into()).into()
}
