//! The error every call returns: [`ActorError`], with a stable `group.code`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An error as a caller sees it: a stable `group.code`, a human message and optional metadata.
///
/// Errors raised by an actor with `UserError` arrive with group `user` and the code, message and
/// metadata the actor gave. Runtime errors use the RivetKit codes listed in [`codes`]; any other
/// failure inside an actor is masked as `core.internal_error` so no detail leaks to callers.
///
/// ```
/// use rivet_client::{ActorError, codes};
///
/// let err = codes::ACTOR_NOT_FOUND.error();
/// assert!(err.is(codes::ACTOR_NOT_FOUND));
/// assert_eq!(err.to_string(), "actor.not_found: The actor does not exist or was destroyed.");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("{group}.{code}: {message}")]
#[non_exhaustive]
pub struct ActorError {
    /// The error group, such as `actor`, `queue` or `user`.
    pub group: String,
    /// The code within the group, such as `not_found`.
    pub code: String,
    /// A human-readable message.
    pub message: String,
    /// Structured data attached by whoever raised the error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
}

impl ActorError {
    /// Builds an error from its parts.
    pub fn new(
        group: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            group: group.into(),
            code: code.into(),
            message: message.into(),
            metadata: None,
        }
    }

    /// Attaches metadata.
    #[must_use]
    pub fn with_metadata(mut self, metadata: serde_json::Value) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// Whether this error has the given group and code.
    pub fn is(&self, code: ErrorCode) -> bool {
        self.group == code.group && self.code == code.code
    }

    /// Whether the actor raised this error itself (group `user`).
    pub fn is_user(&self) -> bool {
        self.group == USER_GROUP
    }

    /// `group.code`, the stable identifier of this error.
    pub fn full_code(&self) -> String {
        format!("{}.{}", self.group, self.code)
    }
}

/// The group of errors raised by actor code with `UserError`.
pub const USER_GROUP: &str = "user";

/// A stable error identifier: `group.code` plus the default message.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorCode {
    /// The error group.
    pub group: &'static str,
    /// The code within the group.
    pub code: &'static str,
    /// The message used when no more specific one is given.
    pub default_message: &'static str,
}

impl ErrorCode {
    /// Declares a code.
    pub const fn new(
        group: &'static str,
        code: &'static str,
        default_message: &'static str,
    ) -> Self {
        Self {
            group,
            code,
            default_message,
        }
    }

    /// An error with this code and the default message.
    pub fn error(self) -> ActorError {
        ActorError::new(self.group, self.code, self.default_message)
    }

    /// An error with this code and a specific message.
    pub fn with_message(self, message: impl Into<String>) -> ActorError {
        ActorError::new(self.group, self.code, message)
    }
}

impl fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.group, self.code)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.group, self.code)
    }
}

/// Every error code the runtime and the clients return. The codes match RivetKit's.
pub mod codes {
    use super::ErrorCode;

    /// No actor has this id, or this name and key; or it was destroyed.
    pub const ACTOR_NOT_FOUND: ErrorCode = ErrorCode::new(
        "actor",
        "not_found",
        "The actor does not exist or was destroyed.",
    );
    /// The actor has no action of that name.
    pub const ACTION_NOT_FOUND: ErrorCode =
        ErrorCode::new("actor", "action_not_found", "Action not found");
    /// `create` was called with a key that is already in use.
    pub const DUPLICATE_KEY: ErrorCode =
        ErrorCode::new("actor", "duplicate_key", "Actor key already in use.");
    /// No actor type of that name is registered.
    pub const NOT_REGISTERED: ErrorCode = ErrorCode::new(
        "actor",
        "not_registered",
        "Actor factory is not registered.",
    );
    /// Arguments, input or a message did not match the declared types.
    pub const VALIDATION_ERROR: ErrorCode =
        ErrorCode::new("actor", "validation_error", "Actor validation failed");
    /// The actor needs creation input and none was given.
    pub const MISSING_INPUT: ErrorCode =
        ErrorCode::new("actor", "missing_input", "Actor input is missing.");
    /// The action did not finish within the action timeout.
    pub const ACTION_TIMED_OUT: ErrorCode =
        ErrorCode::new("actor", "action_timed_out", "Action timed out");
    /// A call back into an actor whose turn is waiting for this very call (A calls B, and B
    /// calls A): it could only deadlock, so it fails at once.
    pub const CALL_CYCLE: ErrorCode = ErrorCode::new(
        "actor",
        "call_cycle",
        "The called actor is waiting for this call; calling back into it would deadlock.",
    );
    /// The actor's mailbox is full.
    pub const OVERLOADED: ErrorCode = ErrorCode::new("actor", "overloaded", "Actor is overloaded.");
    /// The request is malformed.
    pub const INVALID_REQUEST: ErrorCode =
        ErrorCode::new("actor", "invalid_request", "Invalid request.");
    /// The actor stopped before it answered.
    pub const DROPPED_REPLY: ErrorCode = ErrorCode::new(
        "actor",
        "dropped_reply",
        "Actor reply channel was dropped without a response.",
    );
    /// The actor's state grew past the configured limit; the state is unchanged.
    pub const STATE_TOO_LARGE: ErrorCode =
        ErrorCode::new("actor", "state_too_large", "Actor state is too large.");
    /// The actor has no queue of that name.
    pub const QUEUE_NOT_FOUND: ErrorCode = ErrorCode::new("queue", "not_found", "Queue not found.");
    /// The queue holds its maximum number of messages.
    pub const QUEUE_FULL: ErrorCode = ErrorCode::new("queue", "full", "Queue is full.");
    /// The message is larger than the queue accepts.
    pub const QUEUE_MESSAGE_TOO_LARGE: ErrorCode =
        ErrorCode::new("queue", "message_too_large", "Queue message is too large.");
    /// The message was queued but not completed within the wait timeout; it stays queued.
    pub const QUEUE_TIMED_OUT: ErrorCode = ErrorCode::new(
        "queue",
        "timed_out",
        "Timed out waiting for queue message completion.",
    );
    /// The encoding asked for is not json, cbor or bare.
    pub const UNSUPPORTED_ENCODING: ErrorCode = ErrorCode::new(
        "protocol",
        "unsupported_encoding",
        "Unsupported protocol encoding.",
    );
    /// A message or request body is larger than the server accepts.
    pub const INCOMING_TOO_LONG: ErrorCode =
        ErrorCode::new("message", "incoming_too_long", "Incoming message too long.");
    /// A response or event is larger than the server sends.
    pub const OUTGOING_TOO_LONG: ErrorCode =
        ErrorCode::new("message", "outgoing_too_long", "Outgoing message too long.");
    /// The server is going away (shutting down or restarting the actor); clients reconnect.
    pub const GOING_AWAY: ErrorCode =
        ErrorCode::new("ws", "going_away", "The server is going away.");
    /// The registry is shut down.
    pub const SHUT_DOWN: ErrorCode =
        ErrorCode::new("registry", "shut_down", "Registry is shut down.");
    /// A failure whose detail is not shown to callers; the server logs it.
    pub const INTERNAL_ERROR: ErrorCode =
        ErrorCode::new("core", "internal_error", "An internal error occurred");
    /// The client could not encode a request or decode a response.
    pub const CLIENT_CODEC: ErrorCode = ErrorCode::new(
        "client",
        "codec",
        "The client could not encode or decode a message.",
    );
    /// The connection to the actor is closed.
    pub const CONNECTION_CLOSED: ErrorCode =
        ErrorCode::new("client", "connection_closed", "The connection is closed.");
    /// The endpoint is not a URL this client can reach.
    pub const INVALID_ENDPOINT: ErrorCode = ErrorCode::new(
        "client",
        "invalid_endpoint",
        "The endpoint must be an http:// URL.",
    );
}
