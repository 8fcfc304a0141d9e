//! The stored form of workflow history: records and their kinds, names, the values they hold,
//! and the errors of history that cannot be used.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::storage::keys::{Segment, segments};
use crate::time::now_ms;
use rivet_client::codes::workflow as codes;

pub(super) const MAX_NAME: usize = 256;
/// The largest encoded history entry (a step's result, a loop's state, a message with its
/// body), like the limit of a KV value.
pub const MAX_RECORD_SIZE: usize = 128 * 1024;

pub(super) fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<ciborium::Value, Error> {
    ciborium::Value::serialized(value).map_err(|e| {
        Error::public(
            rivet_client::codes::INTERNAL_ERROR
                .with_message(format!("A workflow value cannot be encoded: {e}")),
        )
    })
}

pub(super) fn from_value<T: DeserializeOwned>(
    value: &ciborium::Value,
    what: &str,
) -> Result<T, Error> {
    value.deserialized().map_err(|e| {
        Error::public(codes::HISTORY_DIVERGED.with_message(format!(
            "The recorded result of {what} does not decode as the type the code expects now: {e}"
        )))
    })
}

pub(super) fn display_path(key: &[u8]) -> String {
    match segments(key) {
        Some(segments) => segments
            .iter()
            .map(|(segment, _)| match segment {
                Segment::Name(name) => name.clone(),
                Segment::Iteration(i) => format!("~{i}"),
            })
            .collect::<Vec<_>>()
            .join("/"),
        None => "(unreadable)".to_owned(),
    }
}

pub(super) fn check_name(name: &str) -> Result<(), Error> {
    if name.is_empty() || name.len() > MAX_NAME || name.contains(['/', '\0']) {
        return Err(Error::public(codes::INVALID_NAME.with_message(format!(
            "`{name}` is not a valid workflow name: 1 to {MAX_NAME} bytes without '/' or NUL."
        ))));
    }
    Ok(())
}

/// A recorded entry, as stored (CBOR).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Record {
    /// The format version.
    pub(super) v: u8,
    /// The entry's position in its scope.
    pub(super) index: u32,
    pub(super) created_ms: i64,
    #[serde(default)]
    pub(super) completed_ms: Option<i64>,
    #[serde(default)]
    pub(super) attempts: u32,
    pub(super) kind: RecordKind,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) enum RecordKind {
    Step {
        output: ciborium::Value,
    },
    Loop {
        iteration: u64,
        state: ciborium::Value,
        output: Option<ciborium::Value>,
    },
    Sleep {
        until_ms: i64,
        /// The wake-only schedule that ends the sleep of a sleeping actor.
        #[serde(default)]
        wake: Option<String>,
    },
    /// A queue wait; until it ends (`completed_ms` set), a timed one records its deadline and
    /// the wake-up that ends it in a sleeping actor.
    Message {
        message: Option<(u64, String, ciborium::Value)>,
        #[serde(default)]
        deadline_ms: Option<i64>,
        #[serde(default)]
        wake: Option<String>,
    },
    Join,
    Race {
        winner: Option<(String, ciborium::Value)>,
    },
    Removed,
}

impl RecordKind {
    pub(super) fn tag(&self) -> &'static str {
        match self {
            Self::Step { .. } => "step",
            Self::Loop { .. } => "loop",
            Self::Sleep { .. } => "sleep",
            Self::Message { .. } => "message",
            Self::Join => "join",
            Self::Race { .. } => "race",
            Self::Removed => "removed",
        }
    }
}

impl Record {
    pub(super) fn new(index: u32, kind: RecordKind) -> Self {
        Self {
            v: 1,
            index,
            created_ms: now_ms(),
            completed_ms: None,
            attempts: 0,
            kind,
        }
    }

    pub(super) fn completed(mut self, attempts: u32) -> Self {
        self.completed_ms = Some(now_ms());
        self.attempts = attempts;
        self
    }
}

/// A recorded entry of another kind than `visit` checked for; cannot happen unless the engine
/// is wrong.
pub(super) fn unexpected(key: &[u8]) -> Error {
    Error::public(codes::HISTORY_DIVERGED.with_message(format!(
        "`{}` has a recorded entry of another kind.",
        display_path(key)
    )))
}

pub(super) fn corrupt(what: impl std::fmt::Display) -> Error {
    Error::public(codes::CORRUPT_HISTORY.with_message(what.to_string()))
}
