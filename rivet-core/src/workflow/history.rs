//! A workflow's history as data ([`Cx::workflow_history`](crate::Cx::workflow_history)): public
//! types built from the stored records.

use serde::{Deserialize, Serialize};

use super::record::{Record, RecordKind, display_path};

/// Where a workflow stands, as [`WorkflowHistory`] reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "camelCase")]
pub enum WorkflowStatus {
    /// It is running (or waiting: on a sleep, a message, a step).
    Running,
    /// It returned; its output is recorded and it does not run again.
    Completed,
    /// It failed with this error; it runs again from its history on the next wake.
    Failed {
        /// `group.code`.
        code: String,
        /// What went wrong.
        message: String,
    },
}

/// One recorded entry of a workflow's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    /// Its location: names, and `~n` for loop iteration `n` (`"task-loop/~3/process"`).
    pub path: String,
    /// Its position in its scope.
    pub index: u32,
    /// What it is and what it recorded.
    pub kind: EntryKind,
    /// How many attempts a step took.
    pub attempts: u32,
    /// When it was first recorded (ms since the epoch).
    pub created_at_ms: i64,
    /// When it finished, if it did.
    pub completed_at_ms: Option<i64>,
}

/// The kind of a [`HistoryEntry`], with its recorded values as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum EntryKind {
    /// A step and its result.
    Step {
        /// The step's result.
        output: serde_json::Value,
    },
    /// A loop: the iteration it is on and the state carried into it, or its result.
    Loop {
        /// The current (or last) iteration.
        iteration: u64,
        /// The state carried into the current iteration.
        state: serde_json::Value,
        /// What the loop broke with, once it has.
        output: Option<serde_json::Value>,
    },
    /// A durable sleep.
    Sleep {
        /// When it ends (ms since the epoch).
        until_ms: i64,
    },
    /// A queue wait and the message it received (`None`: it timed out).
    Message {
        /// The message's queue name, if one came.
        name: Option<String>,
        /// The message's body.
        body: Option<serde_json::Value>,
    },
    /// A join of branches.
    Join,
    /// A race of branches, and its winner once decided.
    Race {
        /// The winning branch.
        winner: Option<String>,
        /// The winner's result.
        output: Option<serde_json::Value>,
    },
    /// A placeholder for a removed entry ([`Workflow::removed`]).
    Removed,
}

/// A workflow's history as data (for the inspector): its status, recorded entries in order,
/// and its output once completed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowHistory {
    /// Where it stands.
    pub status: WorkflowStatus,
    /// The recorded entries, in the order they were reached.
    pub entries: Vec<HistoryEntry>,
    /// What the workflow returned, once completed.
    pub output: Option<serde_json::Value>,
}

impl HistoryEntry {
    /// The public view of the record at `location`.
    pub(super) fn from_record(location: &[u8], record: &Record) -> Self {
        Self {
            path: display_path(location),
            index: record.index,
            kind: EntryKind::of(&record.kind),
            attempts: record.attempts,
            created_at_ms: record.created_ms,
            completed_at_ms: record.completed_ms,
        }
    }
}

impl EntryKind {
    fn of(kind: &RecordKind) -> Self {
        match kind {
            RecordKind::Step { output } => Self::Step {
                output: json(output),
            },
            RecordKind::Loop {
                iteration,
                state,
                output,
            } => Self::Loop {
                iteration: *iteration,
                state: json(state),
                output: output.as_ref().map(json),
            },
            RecordKind::Sleep { until_ms, .. } => Self::Sleep {
                until_ms: *until_ms,
            },
            RecordKind::Message { message, .. } => Self::Message {
                name: message.as_ref().map(|(_, name, _)| name.clone()),
                body: message.as_ref().map(|(_, _, body)| match body {
                    // The body is the message's CBOR: shown as the value it encodes.
                    ciborium::Value::Bytes(bytes) => {
                        ciborium::from_reader::<ciborium::Value, _>(bytes.as_slice())
                            .map_or(serde_json::Value::Null, |v| json(&v))
                    }
                    other => json(other),
                }),
            },
            RecordKind::Join => Self::Join,
            RecordKind::Race { winner } => Self::Race {
                winner: winner.as_ref().map(|(name, _)| name.clone()),
                output: winner.as_ref().map(|(_, output)| json(output)),
            },
            RecordKind::Removed => Self::Removed,
        }
    }
}

impl WorkflowHistory {
    /// The entry at `path`, if recorded.
    pub fn entry(&self, path: &str) -> Option<&HistoryEntry> {
        self.entries.iter().find(|e| e.path == path)
    }
}

pub(super) fn json(value: &ciborium::Value) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}
