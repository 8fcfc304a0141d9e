//! The [`Actor`] trait that `#[actor]` implements, and the metadata it describes an actor with.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use rivet_client::{ActorError, codes};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::context::{CreateCx, Cx};
use crate::error::Error;

/// The initial state of an actor without a `#[create]` function: its `Default`. The code
/// `#[actor]` generates asks for this rather than for `Default` itself, so that a state without
/// either says what to do instead of only "`Default` is not implemented".
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "the actor `{Self}` has no initial state: derive or implement `Default` for it, or give it a `#[create]` function",
    label = "neither `Default` nor `#[create]`",
    note = "`#[create] fn create(input: MyInput) -> Self` (or `-> Result<Self, E>`, with an optional `cx: &CreateCx` first) builds the state from what the creator passes"
)]
pub trait DefaultState: Sized {
    /// `Self::default()`.
    fn default_state() -> Self;
}

#[diagnostic::do_not_recommend]
impl<T: Default> DefaultState for T {
    fn default_state() -> Self {
        T::default()
    }
}

/// A stateful actor type. Do not implement this by hand: put `#[actor]` on the type's `impl` block.
///
/// The type itself is the actor's persisted state: it is stored as CBOR after every turn that
/// changes it, and decoded when the actor wakes.
pub trait Actor: Serialize + DeserializeOwned + Send + Sync + Sized + 'static {
    /// The creation input (`()` when `#[create]` takes none or there is no `#[create]`).
    type Input: Serialize + DeserializeOwned + Send + 'static;
    /// Ephemeral variables, rebuilt on every wake (`()` when there is no `#[vars]`).
    type Vars: Send + Sync + 'static;
    /// The actor's events (the generated `{Actor}Event` enum).
    type Event: EventSet;
    /// The state of each connection (from `#[conn_state]`; `()` when there is none).
    type ConnState: Send + Sync + 'static;

    /// Names, icon, actions, events and queues.
    fn metadata() -> &'static ActorMetadata;

    /// Whether queue `name` has a `#[queue]` handler (its messages are not for the run loop).
    fn queue_has_handler(name: &str) -> bool {
        let _ = name;
        false
    }

    /// Starts the `#[run]` loop, if the actor has one.
    fn run(
        cx: crate::run::RunCx<Self>,
    ) -> Option<rivet_client::transport::BoxFuture<'static, Result<(), Error>>> {
        let _ = cx;
        None
    }

    /// The database migrations, oldest first (from `#[actor(migrations = ...)]`); an actor with
    /// none has no database.
    fn migrations() -> &'static [&'static str] {
        &[]
    }

    /// Builds the initial state (from `#[create]`, or `Default`).
    fn create(
        cx: &CreateCx,
        input: Self::Input,
    ) -> impl Future<Output = Result<Self, Error>> + Send;

    /// Builds the ephemeral variables (from `#[vars]`).
    fn create_vars(cx: &CreateCx) -> impl Future<Output = Result<Self::Vars, Error>> + Send;

    /// Runs the action `name` with CBOR `args`.
    fn dispatch<'a>(
        &'a mut self,
        cx: &'a mut Cx<Self>,
        name: &'a str,
        args: &'a [u8],
    ) -> impl Future<Output = Dispatch> + Send + 'a;

    /// Checks that `body` is a valid message for queue `name`, without running anything, and
    /// returns what to store: the message as its type encodes it (unknown fields dropped).
    fn check_queue_message(name: &str, body: &[u8]) -> Result<bytes::Bytes, Error>;

    /// Runs the handler of queue `name` on a message.
    fn dispatch_queue<'a>(
        &'a mut self,
        cx: &'a mut Cx<Self>,
        name: &'a str,
        body: &'a [u8],
    ) -> impl Future<Output = Dispatch> + Send + 'a;

    /// Runs a lifecycle hook, if the actor has one.
    fn hook<'a>(
        &'a mut self,
        cx: &'a mut Cx<Self>,
        hook: Hook,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'a;

    /// Runs the `#[on_state_change]` hook, if any, after a turn changed the state.
    fn on_state_change(&self, cx: &mut Cx<Self>) -> Result<(), Error>;

    /// Runs `#[on_before_connect]` with the connection's CBOR parameters (`None`: none given);
    /// an error refuses the connection and rolls back what the hook changed.
    fn on_before_connect<'a>(
        &'a mut self,
        cx: &'a mut Cx<Self>,
        params: Option<&'a [u8]>,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'a;

    /// Builds a new connection's state with `#[conn_state]` from its CBOR parameters.
    fn create_conn_state<'a>(
        &'a mut self,
        cx: &'a mut Cx<Self>,
        params: Option<&'a [u8]>,
    ) -> impl Future<Output = Result<Self::ConnState, Error>> + Send + 'a;

    /// Answers a raw HTTP request (`#[on_request]`); `None` when the actor has no such hook.
    fn on_request<'a>(
        &'a mut self,
        cx: &'a mut Cx<Self>,
        request: crate::raw::Request,
    ) -> impl Future<Output = Option<Result<crate::raw::Response, Error>>> + Send + 'a;

    /// Handles a raw WebSocket event (`#[on_websocket]`); `None` when the actor has no such hook.
    fn on_websocket<'a>(
        &'a mut self,
        cx: &'a mut Cx<Self>,
        event: crate::raw::WebSocketEvent,
    ) -> impl Future<Output = Option<Result<(), Error>>> + Send + 'a;
}

/// The lifecycle hooks run by [`Actor::hook`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Hook {
    /// Once, after the state was created (`#[on_create]`).
    Create,
    /// On every wake, after the state was loaded (`#[on_wake]`).
    Wake,
    /// Before the actor sleeps (`#[on_sleep]`).
    Sleep,
    /// Before the actor is destroyed (`#[on_destroy]`).
    Destroy,
    /// After a connection opened; `cx.conn()` is the new connection (`#[on_connect]`).
    Connect,
    /// When a connection closes; `cx.conn()` is the closing connection (`#[on_disconnect]`).
    Disconnect,
}

/// The outcome of an action or queue handler.
#[derive(Debug)]
pub struct Dispatch {
    /// The CBOR output, or the error.
    pub result: Result<Bytes, Error>,
    /// Whether the handler took `&mut self` (so the state may have changed).
    pub mutates: bool,
}

/// An actor's events: the generated `{Actor}Event` enum.
pub trait EventSet: Send + 'static {
    /// The wire name of this event.
    fn name(&self) -> &'static str;
    /// The arguments, as a CBOR array.
    fn encode_args(&self) -> Result<Bytes, ActorError>;
}

/// What an actor type declares, generated by `#[actor]`.
#[derive(Debug)]
#[non_exhaustive]
pub struct ActorMetadata {
    /// The registered name (wire name), such as `counter`.
    pub name: &'static str,
    /// A display name, if given.
    pub display_name: Option<&'static str>,
    /// An icon (emoji or FontAwesome name), if given.
    pub icon: Option<&'static str>,
    /// The actions.
    pub actions: &'static [ActionMetadata],
    /// The wire names of the events.
    pub events: &'static [&'static str],
    /// The wire names of the queues.
    pub queues: &'static [&'static str],
    /// Whether `#[create]` takes an input.
    pub takes_input: bool,
    /// Which optional hooks the actor defines (see [`HookSet`]).
    pub hooks: HookSet,
    /// Timeouts of this actor type that replace the registry's (`#[actor(options = ..)]`).
    pub options: ActorOptions,
}

/// Timeouts and sleep behaviour of one actor type, replacing the registry's for it:
/// RivetKit's `options` of `actor({ .. })`, given as `#[actor(options = ..)]`.
///
/// Every method is `const`, as the options are part of the actor's static metadata.
///
/// ```
/// use std::time::Duration;
/// use rivet_core::prelude::*;
///
/// #[derive(Default, Serialize, Deserialize)]
/// pub struct Ticker {
///     ticks: u64,
/// }
///
/// // Sleeps after 5 s without work; an action may run for 2 s.
/// #[actor(options = ActorOptions::new()
///     .sleep_timeout(Duration::from_secs(5))
///     .action_timeout(Duration::from_secs(2)))]
/// impl Ticker {
///     #[action]
///     fn tick(&mut self) -> u64 {
///         self.ticks += 1;
///         self.ticks
///     }
/// }
/// assert_eq!(
///     <Ticker as rivet_core::Actor>::metadata().options.action_timeout,
///     Some(Duration::from_secs(2))
/// );
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ActorOptions {
    /// Idle time before the actor sleeps
    /// ([`RegistryBuilder::sleep_timeout`](crate::RegistryBuilder::sleep_timeout) otherwise).
    pub sleep_timeout: Option<Duration>,
    /// How long an action or queue handler may run
    /// ([`RegistryBuilder::action_timeout`](crate::RegistryBuilder::action_timeout) otherwise).
    pub action_timeout: Option<Duration>,
    /// How long sleeping may wait for work in flight
    /// ([`RegistryBuilder::sleep_grace_period`](crate::RegistryBuilder::sleep_grace_period)
    /// otherwise).
    pub sleep_grace_period: Option<Duration>,
    /// Never sleep for being idle (it still sleeps on `cx.sleep()` and at shutdown).
    pub no_sleep: bool,
}

impl ActorOptions {
    /// No overrides: the registry's settings.
    pub const fn new() -> Self {
        Self {
            sleep_timeout: None,
            action_timeout: None,
            sleep_grace_period: None,
            no_sleep: false,
        }
    }

    /// Sleeps after `timeout` without work.
    #[must_use]
    pub const fn sleep_timeout(mut self, timeout: Duration) -> Self {
        self.sleep_timeout = Some(timeout);
        self
    }

    /// An action or queue handler fails with `actor.action_timed_out` after `timeout`.
    #[must_use]
    pub const fn action_timeout(mut self, timeout: Duration) -> Self {
        self.action_timeout = Some(timeout);
        self
    }

    /// Sleeping waits at most `grace` for work in flight.
    #[must_use]
    pub const fn sleep_grace_period(mut self, grace: Duration) -> Self {
        self.sleep_grace_period = Some(grace);
        self
    }

    /// Never sleeps for being idle.
    #[must_use]
    pub const fn no_sleep(mut self) -> Self {
        self.no_sleep = true;
        self
    }
}

/// The optional hooks an actor defines, so the runtime skips the turns of absent ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HookSet(u32);

impl HookSet {
    /// `#[on_connect]`.
    pub const CONNECT: Self = Self(1);
    /// `#[on_disconnect]`.
    pub const DISCONNECT: Self = Self(1 << 1);
    /// `#[on_request]`.
    pub const REQUEST: Self = Self(1 << 2);
    /// `#[on_websocket]`.
    pub const WEBSOCKET: Self = Self(1 << 3);
    /// `#[on_before_connect]` or `#[conn_state]`.
    pub const CONNECTION_SETUP: Self = Self(1 << 4);
    /// `#[run]`.
    pub const RUN: Self = Self(1 << 5);

    /// No optional hooks.
    pub const fn empty() -> Self {
        Self(0)
    }

    /// Both sets.
    #[must_use]
    pub const fn with(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// Whether every hook of `other` is in this set.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any hook of `other` is in this set.
    pub const fn intersects(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }

    /// The hooks that observe connections: with none of them, a stateless call needs no
    /// connection of its own.
    pub const CONNECTION_HOOKS: Self = Self::CONNECT
        .with(Self::DISCONNECT)
        .with(Self::CONNECTION_SETUP);
}

impl ActorMetadata {
    /// Builds metadata; used by generated code.
    #[doc(hidden)]
    #[allow(clippy::too_many_arguments)]
    pub const fn new(
        name: &'static str,
        display_name: Option<&'static str>,
        icon: Option<&'static str>,
        actions: &'static [ActionMetadata],
        events: &'static [&'static str],
        queues: &'static [&'static str],
        takes_input: bool,
        hooks: HookSet,
    ) -> Self {
        Self {
            name,
            display_name,
            icon,
            actions,
            events,
            queues,
            takes_input,
            hooks,
            options: ActorOptions::new(),
        }
    }

    /// The metadata with these options; used by generated code.
    #[doc(hidden)]
    #[must_use]
    pub const fn with_options(mut self, options: ActorOptions) -> Self {
        self.options = options;
        self
    }

    /// The action with this wire name.
    pub fn action(&self, name: &str) -> Option<&ActionMetadata> {
        self.actions.iter().find(|a| a.name == name)
    }
}

/// One action of an actor.
#[derive(Debug)]
#[non_exhaustive]
pub struct ActionMetadata {
    /// The wire name.
    pub name: &'static str,
    /// The parameter names, in order.
    pub params: &'static [&'static str],
    /// Whether it takes `&mut self`.
    pub mutates: bool,
}

impl ActionMetadata {
    /// Builds action metadata; used by generated code.
    #[doc(hidden)]
    pub const fn new(name: &'static str, params: &'static [&'static str], mutates: bool) -> Self {
        Self {
            name,
            params,
            mutates,
        }
    }
}

/// Decodes an actor's creation input; `None` decodes as `null`, so an `Option` input may be left
/// out.
pub(crate) fn decode_input<A: Actor>(input: Option<&[u8]>) -> Result<A::Input, Error> {
    match input {
        Some(bytes) => rivet_client::codec::decode(bytes).map_err(|e| {
            Error::public(codes::VALIDATION_ERROR.with_message(format!(
                "invalid input for actor `{}`: {}",
                A::metadata().name,
                rivet_client::codec::describe_de_error(&e)
            )))
        }),
        None => rivet_client::codec::decode(&[0xf6u8][..]).map_err(|_| {
            Error::public(codes::MISSING_INPUT.with_message(format!(
                "Actor `{}` needs creation input.",
                A::metadata().name
            )))
        }),
    }
}
