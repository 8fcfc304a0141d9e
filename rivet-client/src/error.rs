//! The error every call returns: [`ActorError`], with a stable `group.code`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An error as a caller sees it: a stable `group.code`, a human message and optional metadata.
///
/// Errors raised by an actor with `UserError` arrive with group `user` and the code, message and
/// metadata the actor gave. Runtime errors use the RivetKit codes listed in [`codes`](crate::codes); any other
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
