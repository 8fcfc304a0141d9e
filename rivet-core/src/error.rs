//! Errors on the actor side: [`UserError`] for callers, [`Error`] for everything an actor returns.

use std::error::Error as StdError;
use std::fmt;

use rivet_client::{ActorError, USER_GROUP, codes};

use crate::report::chain;

/// An error meant for the caller: its code, message and metadata reach the client intact
/// (RivetKit's `UserError`; group `user`).
///
/// ```
/// use rivet_core::UserError;
///
/// let err = UserError::new("username_too_short", "Username too short")
///     .with_metadata(serde_json::json!({ "minLength": 3, "actual": 2 }));
/// assert_eq!(err.code(), "username_too_short");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct UserError {
    code: String,
    message: String,
    metadata: Option<serde_json::Value>,
}

impl UserError {
    /// The code used when none is given.
    pub const DEFAULT_CODE: &'static str = "user_error";

    /// An error with a machine-readable `code` and a human `message`.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            metadata: None,
        }
    }

    /// An error with only a message; its code is `user_error`.
    pub fn message(message: impl Into<String>) -> Self {
        Self::new(Self::DEFAULT_CODE, message)
    }

    /// Attaches structured data for the caller.
    #[must_use]
    pub fn with_metadata(mut self, metadata: serde_json::Value) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// The machine-readable code.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The message.
    pub fn message_text(&self) -> &str {
        &self.message
    }

    /// The metadata, if any.
    pub fn metadata(&self) -> Option<&serde_json::Value> {
        self.metadata.as_ref()
    }
}

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl StdError for UserError {}

impl From<UserError> for ActorError {
    fn from(err: UserError) -> Self {
        let mut public = ActorError::new(USER_GROUP, err.code, err.message);
        public.metadata = err.metadata;
        public
    }
}

/// What actor code returns on failure: either public (a [`UserError`] or an [`ActorError`], sent to
/// the caller as is) or internal (any other error: logged with its detail, and sent to the caller
/// only as `core.internal_error`).
///
/// Any `std::error::Error` converts with `?`; a `UserError` keeps its code through the conversion.
///
/// ```
/// use rivet_core::{Error, UserError};
///
/// fn parse(n: &str) -> Result<i64, Error> {
///     if n.is_empty() {
///         return Err(UserError::new("empty", "no number given").into());
///     }
///     Ok(n.parse::<i64>()?) // a ParseIntError: internal, masked for the caller
/// }
/// assert_eq!(parse("").unwrap_err().to_actor_error().code, "empty");
/// assert_eq!(parse("x").unwrap_err().to_actor_error().code, "internal_error");
/// ```
pub struct Error(Repr);

enum Repr {
    Public(ActorError),
    Internal(Box<dyn StdError + Send + Sync>),
}

impl Error {
    /// An internal error from any error value or message.
    pub fn internal(error: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self(Repr::Internal(error.into()))
    }

    /// A public error, sent to the caller as is.
    pub fn public(error: ActorError) -> Self {
        Self(Repr::Public(error))
    }

    /// Whether the caller sees this error as it is.
    pub fn is_public(&self) -> bool {
        matches!(self.0, Repr::Public(_))
    }

    /// Whether this is a public error with `code` (`group.code`).
    pub fn is(&self, code: rivet_client::ErrorCode) -> bool {
        matches!(&self.0, Repr::Public(e) if e.is(code))
    }

    /// The error as the caller sees it: public errors unchanged, internal ones masked.
    pub fn to_actor_error(&self) -> ActorError {
        match &self.0 {
            Repr::Public(e) => e.clone(),
            Repr::Internal(_) => codes::INTERNAL_ERROR.error(),
        }
    }

    /// Converts to the caller's view, logging the detail of an internal error first.
    pub(crate) fn into_reply(self, what: &str) -> ActorError {
        match self.0 {
            Repr::Public(e) => e,
            Repr::Internal(e) => {
                tracing::error!(error = %chain(&*e), "{what} failed");
                codes::INTERNAL_ERROR.error()
            }
        }
    }
}

impl<E: StdError + Send + Sync + 'static> From<E> for Error {
    fn from(err: E) -> Self {
        let boxed: Box<dyn StdError + Send + Sync> = Box::new(err);
        let boxed = match boxed.downcast::<UserError>() {
            Ok(user) => return Self::public((*user).into()),
            Err(other) => other,
        };
        match boxed.downcast::<ActorError>() {
            Ok(public) => Self::public(*public),
            Err(other) => Self(Repr::Internal(other)),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Public(e) => f.debug_tuple("Public").field(e).finish(),
            Repr::Internal(e) => f.debug_tuple("Internal").field(e).finish(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Public(e) => fmt::Display::fmt(e, f),
            Repr::Internal(e) => fmt::Display::fmt(&chain(&**e), f),
        }
    }
}

/// Lets `?` turn an [`Error`] into a boxed standard error, as `anyhow` does.
struct StdErrorAdapter(Error);

impl fmt::Debug for StdErrorAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for StdErrorAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl StdError for StdErrorAdapter {}

impl From<Error> for Box<dyn StdError + Send + Sync> {
    fn from(err: Error) -> Self {
        Box::new(StdErrorAdapter(err))
    }
}

impl From<Error> for Box<dyn StdError> {
    fn from(err: Error) -> Self {
        Box::new(StdErrorAdapter(err))
    }
}

/// Why a registry could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// `build` was called outside a Tokio runtime.
    #[error("Registry::build must be called inside a Tokio runtime")]
    NoRuntime,
    /// Two actor types have the same registered name.
    #[error("two actor types are registered as `{0}`")]
    DuplicateName(&'static str),
    /// The storage could not be opened.
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
