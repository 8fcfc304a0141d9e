//! The actor IR: what parsing produces and expansion consumes. Plain data, no checks.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::{Attribute, Ident, ItemImpl, Type};

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
    /// `#[actor(options = EXPR)]`: a constant `ActorOptions`.
    pub(crate) options: Option<syn::Expr>,
    pub(crate) run: Option<RunFn>,
    pub(crate) hooks: Vec<HookFn>,
    pub(crate) specials: Vec<SpecialFn>,
    /// The impl block as the user wrote it, minus our attributes and event declarations.
    pub(crate) cleaned: ItemImpl,
    /// `#[actor(implementation(PREDICATE))]`: the `cfg` of the implementation (the user's block
    /// and the `Actor` impl); the client, connection, events, calls and descriptor are always
    /// generated, so a client crate can use them without compiling the implementation.
    pub(crate) implementation_cfg: Option<proc_macro2::TokenStream>,
}

/// An `#[action]` method.
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

/// A `#[queue]` handler, or a bodyless queue declaration.
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

/// An `#[event]` declaration; `variant` is its `{Actor}Event` variant.
pub(crate) struct Event {
    pub(crate) ident: Ident,
    pub(crate) variant: Ident,
    pub(crate) wire: String,
    pub(crate) params: Vec<Param>,
    pub(crate) docs: Vec<Attribute>,
}

/// The `#[create]` constructor.
pub(crate) struct CreateFn {
    pub(crate) ident: Ident,
    pub(crate) is_async: bool,
    pub(crate) has_cx: bool,
    pub(crate) input: Option<Type>,
    pub(crate) output: Output,
}

/// The `#[run]` loop.
pub(crate) struct RunFn {
    pub(crate) ident: Ident,
    pub(crate) output: Output,
}

/// The `#[vars]` constructor of the ephemeral variables.
pub(crate) struct VarsFn {
    pub(crate) ident: Ident,
    pub(crate) is_async: bool,
    pub(crate) has_cx: bool,
    pub(crate) output: Output,
}

/// The lifecycle hooks, which take only `self` and the context.
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
    /// The hook an attribute name (`on_wake`) stands for.
    pub(crate) fn from_attr(name: &str) -> Option<Self> {
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

    /// The attribute's name, for messages.
    pub(crate) fn attr(self) -> &'static str {
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

/// A parsed lifecycle hook.
pub(crate) struct HookFn {
    pub(crate) kind: HookKind,
    pub(crate) ident: Ident,
    pub(crate) is_async: bool,
    pub(crate) receiver: Receiver,
    pub(crate) cx: Option<CxParam>,
    pub(crate) output: Output,
}

/// `&self` or `&mut self`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Receiver {
    Ref,
    Mut,
}

/// The context parameter (`&Cx<Self>` or `&mut Cx<Self>`).
#[derive(Clone, Copy)]
pub(crate) struct CxParam {
    pub(crate) mutable: bool,
}

/// A decoded parameter: its name and owned type.
pub(crate) struct Param {
    pub(crate) name: Ident,
    pub(crate) ty: Type,
}

/// What a method returns.
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
    /// The hook an attribute name (`conn_state`) stands for.
    pub(crate) fn from_attr(name: &str) -> Option<Self> {
        Some(match name {
            "on_before_connect" => Self::BeforeConnect,
            "conn_state" => Self::ConnState,
            "on_request" => Self::Request,
            "on_websocket" => Self::WebSocket,
            _ => return None,
        })
    }

    /// The attribute's name, for messages.
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
