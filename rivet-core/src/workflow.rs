//! Durable workflows (RivetKit's `rivetkit/workflow`): a `#[run]` loop written as straight-line
//! code whose progress survives crashes, sleeps and restarts.
//!
//! [`RunCx::workflow`] runs a body that calls named entries on a [`Workflow`]:
//! [`step`](Workflow::step)s, [`repeat`](Workflow::repeat) loops, durable
//! [`sleep`](Workflow::sleep)s, [`queue`](Workflow::queue) waits, [`join`](Workflow::join)s and
//! [`race`](Workflow::race)s. Each entry's result is recorded in the actor's storage, in the
//! same commit as the state changes it made. When the actor wakes again (after a crash, a sleep
//! or a restart) the body runs from the top: recorded entries return their recorded results at
//! once without running again, and the workflow goes on at the first unfinished one.
//!
//! **Rules for replay.**
//! - Code outside entries runs again on every replay, so it must decide the same way each time:
//!   anything that reads the clock, the network or the state belongs in a step.
//! - A step's body runs at least once: a crash after it ran but before its record committed runs
//!   it again. Its state changes ([`StepCx::update`]) commit atomically with its record, so they
//!   happen exactly once; outside effects (another actor, a payment API) should be idempotent,
//!   for example keyed by the workflow's own ids.
//! - Entries are matched to the history by their name and position in their scope (the
//!   workflow, a loop iteration, a branch). Renaming, reordering or removing a recorded entry
//!   fails with `workflow.history_diverged` instead of returning results that belong to another
//!   entry. To remove one, put [`Workflow::removed`] with its name where it was: a recorded entry
//!   is skipped, and a workflow that never got there records a placeholder.
//! - A loop keeps only its current iteration: when one ends, its entries are deleted in the same
//!   commit that records the next iteration's carried state, so history stays small however
//!   long the loop runs.
//!
//! The history is readable as data with [`Cx::workflow_history`](crate::Cx::workflow_history).
//!
//! ```
//! use rivet_core::prelude::*;
//! use rivet_core::run::{Next, RunCx};
//! use rivet_core::workflow::Loop;
//!
//! #[derive(Debug, Clone, Serialize, Deserialize)]
//! pub struct Task {
//!     pub url: String,
//! }
//!
//! #[derive(Default, Serialize, Deserialize)]
//! pub struct Worker {
//!     processed: u64,
//! }
//!
//! #[actor(name = "worker")]
//! impl Worker {
//!     #[queue]
//!     fn tasks(task: Task);
//!
//!     #[run]
//!     async fn run(cx: RunCx<Self>) -> Result<(), Error> {
//!         cx.workflow(async move |wf| {
//!             wf.repeat("task-loop", (), async move |wf, ()| {
//!                 let Some(message) = wf.queue().next("wait-task", Next::new()).await? else {
//!                     return Ok(Loop::Continue(()));
//!                 };
//!                 let task: Task = message.decode()?;
//!                 wf.step("process-task", async move |s| {
//!                     // ... fetch task.url ...
//!                     let _ = &task.url;
//!                     s.update(|state: &mut Worker, _cx| {
//!                         state.processed += 1;
//!                         Ok(())
//!                     });
//!                     Ok(())
//!                 })
//!                 .await?;
//!                 Ok(Loop::<(), ()>::Continue(()))
//!             })
//!             .await
//!         })
//!         .await
//!     }
//! }
//! ```

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use rivet_client::ErrorCode;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::actor::Actor;
use crate::context::Cx;
use crate::context::TurnEffects;
use crate::error::Error;
use crate::ids::new_id;
use crate::run::{Next, RunCx, stopping};
use crate::schedule::Schedules;
use crate::storage::keys::{self, Segment, push_iteration, push_name, segments};
use crate::sync::lock;
use crate::time::{now_ms, to_ms};

/// Workflow error codes.
pub mod codes {
    use super::ErrorCode;

    /// The code reached an entry that does not match the recorded history at its position.
    pub const HISTORY_DIVERGED: ErrorCode = ErrorCode::new(
        "workflow",
        "history_diverged",
        "The workflow no longer matches its recorded history.",
    );
    /// A step failed on every attempt; the message has the last error.
    pub const STEP_FAILED: ErrorCode =
        ErrorCode::new("workflow", "step_failed", "A workflow step failed.");
    /// An attempt of a step ran longer than its timeout.
    pub const STEP_TIMED_OUT: ErrorCode =
        ErrorCode::new("workflow", "step_timed_out", "A workflow step timed out.");
    /// An entry or branch name that is empty, too long, or contains `/` or NUL.
    pub const INVALID_NAME: ErrorCode = ErrorCode::new(
        "workflow",
        "invalid_name",
        "Workflow names must be 1 to 256 bytes without '/' or NUL.",
    );
    /// Two entries of one scope (or two branches) with the same name.
    pub const DUPLICATE_NAME: ErrorCode = ErrorCode::new(
        "workflow",
        "duplicate_name",
        "Two workflow entries in one scope have the same name.",
    );
    /// A record of a race's losing branch (or of a failed join's other branches), refused
    /// because the race was decided; nobody sees it but the branch that is gone.
    pub const BRANCH_CANCELLED: ErrorCode =
        ErrorCode::new("workflow", "branch_cancelled", "The branch was cancelled.");
    /// A race without branches.
    pub const NO_BRANCHES: ErrorCode = ErrorCode::new(
        "workflow",
        "no_branches",
        "A race needs at least one branch.",
    );
    /// A step result or loop state too large to record ([`MAX_RECORD_SIZE`](super::MAX_RECORD_SIZE)).
    pub const VALUE_TOO_LARGE: ErrorCode = ErrorCode::new(
        "workflow",
        "value_too_large",
        "The value is too large to record in the workflow history.",
    );
    /// Stored history this version cannot read.
    pub const CORRUPT_HISTORY: ErrorCode = ErrorCode::new(
        "workflow",
        "corrupt_history",
        "The stored workflow history cannot be read.",
    );
}

const MAX_NAME: usize = 256;
/// The largest encoded history entry (a step's result, a loop's state, a message with its
/// body), like the limit of a KV value.
pub const MAX_RECORD_SIZE: usize = 128 * 1024;

fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<ciborium::Value, Error> {
    ciborium::Value::serialized(value).map_err(|e| {
        Error::public(
            rivet_client::codes::INTERNAL_ERROR
                .with_message(format!("A workflow value cannot be encoded: {e}")),
        )
    })
}

fn from_value<T: DeserializeOwned>(value: &ciborium::Value, what: &str) -> Result<T, Error> {
    value.deserialized().map_err(|e| {
        Error::public(codes::HISTORY_DIVERGED.with_message(format!(
            "The recorded result of {what} does not decode as the type the code expects now: {e}"
        )))
    })
}

fn display_path(key: &[u8]) -> String {
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

fn check_name(name: &str) -> Result<(), Error> {
    if name.is_empty() || name.len() > MAX_NAME || name.contains(['/', '\0']) {
        return Err(Error::public(codes::INVALID_NAME.with_message(format!(
            "`{name}` is not a valid workflow name: 1 to {MAX_NAME} bytes without '/' or NUL."
        ))));
    }
    Ok(())
}

/// A recorded entry, as stored (CBOR).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    /// The format version.
    v: u8,
    /// The entry's position in its scope.
    index: u32,
    created_ms: i64,
    #[serde(default)]
    completed_ms: Option<i64>,
    #[serde(default)]
    attempts: u32,
    kind: RecordKind,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
enum RecordKind {
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
    fn tag(&self) -> &'static str {
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
    fn new(index: u32, kind: RecordKind) -> Self {
        Self {
            v: 1,
            index,
            created_ms: now_ms(),
            completed_ms: None,
            attempts: 0,
            kind,
        }
    }

    fn completed(mut self, attempts: u32) -> Self {
        self.completed_ms = Some(now_ms());
        self.attempts = attempts;
        self
    }
}

/// The entries recorded in one scope, by position, and what this activation visited.
#[derive(Debug, Default)]
struct Scope {
    recorded: BTreeMap<u32, Vec<u8>>,
    next: u32,
    visited: HashSet<Vec<u8>>,
}

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

impl WorkflowHistory {
    /// The entry at `path`, if recorded.
    pub fn entry(&self, path: &str) -> Option<&HistoryEntry> {
        self.entries.iter().find(|e| e.path == path)
    }
}

fn json(value: &ciborium::Value) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

/// The history engine of one activation's workflow: the recorded entries (loaded at start and
/// kept in step with what the turns write) and the positions visited so far.
pub(crate) struct Engine {
    entries: BTreeMap<Vec<u8>, Record>,
    scopes: HashMap<Vec<u8>, Scope>,
    status: WorkflowStatus,
    output: Option<ciborium::Value>,
    /// Messages received in this activation and not yet answered, with the scope that got them.
    open_messages: Vec<(Vec<u8>, u64)>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("entries", &self.entries.len())
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// A change to the history, made inside a turn.
enum Op {
    /// Record an entry: its location, the record, and the record encoded.
    Put(Vec<u8>, Record, Vec<u8>),
    /// Delete every entry under this location (a finished loop iteration), answering the
    /// messages received there that nobody completed.
    Prune(Vec<u8>),
    Output(ciborium::Value),
    /// A wake-only schedule with this id at this time.
    Wake(String, i64),
    /// Cancel the pending wake-ups of the sleeps and timed queue waits under this location (a
    /// decided race, a message that came before its wait's deadline).
    CancelWakes(Vec<u8>),
    /// A race under this location was won by the branch with this scope: messages its other
    /// branches received as the last thing they did go back to the queue.
    ReturnLosers(Vec<u8>, Vec<u8>),
    Take(Vec<u8>, u64),
    Answer(u64, Option<Bytes>),
}

impl Op {
    /// Records `record` at `key`, encoded here (in the run loop, not in the actor's turn) and
    /// checked against [`MAX_RECORD_SIZE`].
    fn put(key: Vec<u8>, record: Record) -> Result<Self, Error> {
        let op = Self::put_unchecked(key, record)?;
        if let Self::Put(key, _, value) = &op
            && value.len() > MAX_RECORD_SIZE
        {
            return Err(Error::public(codes::VALUE_TOO_LARGE.with_message(format!(
                "`{}` would record {} bytes; the limit is {MAX_RECORD_SIZE}.",
                display_path(key),
                value.len()
            ))));
        }
        Ok(op)
    }

    /// Records `record` at `key` whatever its size.
    fn put_unchecked(key: Vec<u8>, record: Record) -> Result<Self, Error> {
        let mut value = Vec::new();
        ciborium::into_writer(&record, &mut value).map_err(|e| {
            Error::public(
                rivet_client::codes::INTERNAL_ERROR
                    .with_message(format!("A workflow entry cannot be encoded: {e}")),
            )
        })?;
        Ok(Self::Put(key, record, value))
    }
}

fn parent_of(key: &[u8]) -> Vec<u8> {
    match segments(key) {
        Some(segments) if segments.len() >= 2 => key[..segments[segments.len() - 2].1].to_vec(),
        _ => Vec::new(),
    }
}

/// A recorded entry of another kind than `visit` checked for; cannot happen unless the engine
/// is wrong.
fn unexpected(key: &[u8]) -> Error {
    Error::public(codes::HISTORY_DIVERGED.with_message(format!(
        "`{}` has a recorded entry of another kind.",
        display_path(key)
    )))
}

fn corrupt(what: impl std::fmt::Display) -> Error {
    Error::public(codes::CORRUPT_HISTORY.with_message(what.to_string()))
}

impl Engine {
    fn load(stored: Vec<(Bytes, Bytes)>) -> Result<Self, Error> {
        let mut engine = Self {
            entries: BTreeMap::new(),
            scopes: HashMap::new(),
            status: WorkflowStatus::Running,
            output: None,
            open_messages: Vec::new(),
        };
        for (key, value) in stored {
            if key.as_ref() == keys::WORKFLOW_OUTPUT {
                let output: ciborium::Value = ciborium::from_reader(value.as_ref())
                    .map_err(|e| corrupt(format!("the workflow output: {e}")))?;
                engine.output = Some(output);
                engine.status = WorkflowStatus::Completed;
            } else if let Some(location) = key.strip_prefix(keys::WORKFLOW_ENTRIES) {
                if segments(location).is_none() {
                    return Err(corrupt("an entry location"));
                }
                let record: Record = ciborium::from_reader(value.as_ref())
                    .map_err(|e| corrupt(format!("entry `{}`: {e}", display_path(location))))?;
                engine.insert(location.to_vec(), record);
            }
        }
        Ok(engine)
    }

    fn insert(&mut self, key: Vec<u8>, record: Record) {
        self.scopes
            .entry(parent_of(&key))
            .or_default()
            .recorded
            .insert(record.index, key.clone());
        self.entries.insert(key, record);
    }

    /// Reserves the next position of `scope` for `name`, checking it against the history;
    /// returns the entry's key, its position, and its record if it has one.
    fn visit(
        &mut self,
        scope: &[u8],
        name: &str,
        tag: Option<&'static str>,
    ) -> Result<(Vec<u8>, u32, Option<Record>), Error> {
        check_name(name)?;
        let mut key = scope.to_vec();
        push_name(&mut key, name);
        let state = self.scopes.entry(scope.to_vec()).or_default();
        if !state.visited.insert(key.clone()) {
            return Err(Error::public(codes::DUPLICATE_NAME.with_message(format!(
                "`{}` is reached twice in one scope; give each entry its own name.",
                display_path(&key)
            ))));
        }
        let position = state.next;
        state.next += 1;
        let diverged = |message: String| {
            Err(Error::public(codes::HISTORY_DIVERGED.with_message(format!(
                "{message} Renaming, reordering or removing recorded entries changes what replay \
                 would return; to remove one, call `removed(name)` where it was."
            ))))
        };
        if let Some(recorded) = self.entries.get(&key) {
            if recorded.index != position {
                return diverged(format!(
                    "`{}` was recorded at position {} of its scope but is now reached at {position}.",
                    display_path(&key),
                    recorded.index
                ));
            }
            if let Some(tag) = tag
                && recorded.kind.tag() != tag
            {
                return diverged(format!(
                    "`{}` was recorded as a {} but is now a {tag}.",
                    display_path(&key),
                    recorded.kind.tag()
                ));
            }
            return Ok((key, position, Some(recorded.clone())));
        }
        if let Some(other) = state.recorded.get(&position) {
            return diverged(format!(
                "Position {position} of `{}` was recorded as `{}`, but the workflow now reaches \
                 `{name}` there.",
                if scope.is_empty() {
                    "the workflow".to_owned()
                } else {
                    display_path(scope)
                },
                display_path(other)
            ));
        }
        Ok((key, position, None))
    }

    /// Applies `ops` inside a turn: to the engine and to the turn's writes.
    fn apply(&mut self, ops: Vec<Op>, turn: &mut TurnEffects, schedules: &mut Schedules) {
        for op in ops {
            match op {
                Op::Put(key, record, value) => {
                    turn.raw_writes.put(keys::workflow_entry(&key), value);
                    self.insert(key, record);
                }
                Op::Prune(prefix) => {
                    self.cancel_wakes(&prefix, schedules);
                    let doomed: Vec<Vec<u8>> = self
                        .entries_under(&prefix)
                        .map(|(k, _)| k.clone())
                        .collect();
                    for key in doomed {
                        self.entries.remove(&key);
                        turn.raw_writes.delete(keys::workflow_entry(&key));
                    }
                    self.scopes.retain(|scope, _| !scope.starts_with(&prefix));
                    let (done, open): (Vec<_>, Vec<_>) = std::mem::take(&mut self.open_messages)
                        .into_iter()
                        .partition(|(scope, _)| scope.starts_with(&prefix));
                    self.open_messages = open;
                    turn.queue_answers
                        .extend(done.into_iter().map(|(_, id)| (id, None)));
                }
                Op::Output(output) => {
                    let mut value = Vec::new();
                    if let Err(error) = ciborium::into_writer(&output, &mut value) {
                        tracing::error!(%error, "cannot encode the workflow output");
                    }
                    turn.raw_writes.put(keys::WORKFLOW_OUTPUT, value);
                    self.output = Some(output);
                    self.status = WorkflowStatus::Completed;
                    turn.queue_answers.extend(
                        std::mem::take(&mut self.open_messages)
                            .into_iter()
                            .map(|(_, id)| (id, None)),
                    );
                }
                Op::Wake(id, at_ms) => schedules.wake_at(id, at_ms),
                Op::CancelWakes(prefix) => self.cancel_wakes(&prefix, schedules),
                Op::ReturnLosers(race, winner) => self.return_losers(&race, &winner, turn),
                Op::Take(scope, id) => {
                    turn.queue_takes.push(id);
                    self.open_messages.push((scope, id));
                }
                Op::Answer(id, response) => {
                    self.open_messages.retain(|(_, open)| *open != id);
                    turn.queue_answers.push((id, response));
                }
            }
        }
    }

    /// The recorded entries at `prefix` and inside it, in key order.
    fn entries_under<'a>(
        &'a self,
        prefix: &'a [u8],
    ) -> impl Iterator<Item = (&'a Vec<u8>, &'a Record)> + 'a {
        self.entries
            .range(prefix.to_vec()..)
            .take_while(move |(k, _)| k.starts_with(prefix))
    }

    /// Gives back the messages that the losing branches of the race at `race` received and did
    /// nothing after: the race's outcome does not depend on them, so they stay for the next
    /// wait. (One a loser went on to use stays consumed; its sender is answered when the
    /// iteration or workflow ends.)
    fn return_losers(&mut self, race: &[u8], winner: &[u8], turn: &mut TurnEffects) {
        let mut kept = Vec::new();
        for (scope, id) in std::mem::take(&mut self.open_messages) {
            let returned = (scope.starts_with(race) && !scope.starts_with(winner))
                .then(|| self.last_message(&scope, id))
                .flatten();
            match returned {
                Some(message) => turn.queue_returns.push(message),
                None => kept.push((scope, id)),
            }
        }
        self.open_messages = kept;
    }

    /// Message `id`, if it is the last entry recorded in `scope`.
    fn last_message(&self, scope: &[u8], id: u64) -> Option<crate::run::Message> {
        let last = self.scopes.get(scope)?.recorded.last_key_value()?.1;
        match &self.entries.get(last)?.kind {
            RecordKind::Message {
                message: Some((recorded, name, ciborium::Value::Bytes(body))),
                ..
            } if *recorded == id => Some(crate::run::Message {
                id,
                name: name.clone(),
                body: Bytes::from(body.clone()),
            }),
            _ => None,
        }
    }

    /// Cancels the pending wake-ups of the sleeps and timed queue waits under `prefix`, which
    /// nothing waits for any more.
    fn cancel_wakes(&self, prefix: &[u8], schedules: &mut Schedules) {
        let now = now_ms();
        for (_, record) in self.entries_under(prefix) {
            let (due, wake) = match &record.kind {
                RecordKind::Sleep { until_ms, wake } => (Some(*until_ms), wake),
                RecordKind::Message {
                    deadline_ms, wake, ..
                } => (*deadline_ms, wake),
                _ => continue,
            };
            if let (Some(due), Some(id)) = (due, wake)
                && due > now
            {
                schedules.cancel_wake(id);
            }
        }
    }

    /// Orders entries as reached: by the position of each named segment, then iteration.
    fn order_key(&self, key: &[u8]) -> Vec<(u64, String)> {
        segments(key)
            .unwrap_or_default()
            .into_iter()
            .map(|(segment, end)| match segment {
                Segment::Name(name) => {
                    let index = self.entries.get(&key[..end]).map_or(0, |r| r.index);
                    (u64::from(index), name)
                }
                Segment::Iteration(i) => (i, String::new()),
            })
            .collect()
    }

    fn history(&self) -> WorkflowHistory {
        let mut keyed: Vec<_> = self
            .entries
            .iter()
            .map(|(key, record)| (self.order_key(key), key, record))
            .collect();
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        let entries = keyed
            .into_iter()
            .map(|(_, key, record)| HistoryEntry {
                path: display_path(key),
                index: record.index,
                kind: match &record.kind {
                    RecordKind::Step { output } => EntryKind::Step {
                        output: json(output),
                    },
                    RecordKind::Loop {
                        iteration,
                        state,
                        output,
                    } => EntryKind::Loop {
                        iteration: *iteration,
                        state: json(state),
                        output: output.as_ref().map(json),
                    },
                    RecordKind::Sleep { until_ms, .. } => EntryKind::Sleep {
                        until_ms: *until_ms,
                    },
                    RecordKind::Message { message, .. } => EntryKind::Message {
                        name: message.as_ref().map(|(_, name, _)| name.clone()),
                        body: message.as_ref().map(|(_, _, body)| match body {
                            ciborium::Value::Bytes(bytes) => {
                                ciborium::from_reader::<ciborium::Value, _>(bytes.as_slice())
                                    .map_or(serde_json::Value::Null, |v| json(&v))
                            }
                            other => json(other),
                        }),
                    },
                    RecordKind::Join => EntryKind::Join,
                    RecordKind::Race { winner } => EntryKind::Race {
                        winner: winner.as_ref().map(|(name, _)| name.clone()),
                        output: winner.as_ref().map(|(_, output)| json(output)),
                    },
                    RecordKind::Removed => EntryKind::Removed,
                },
                attempts: record.attempts,
                created_at_ms: record.created_ms,
                completed_at_ms: record.completed_ms,
            })
            .collect();
        WorkflowHistory {
            status: self.status.clone(),
            entries,
            output: self.output.as_ref().map(json),
        }
    }
}

/// The history of the workflow this activation runs, if it started.
pub(crate) fn history_of(engine: &Mutex<Engine>) -> WorkflowHistory {
    lock(engine).history()
}

struct Shared<A: Actor> {
    run: RunCx<A>,
    engine: Arc<Mutex<Engine>>,
}

/// A workflow scope (the workflow itself, a loop iteration or a branch) where entries are
/// called; see the [module docs](self). Cheap to clone.
pub struct Workflow<A: Actor> {
    shared: Arc<Shared<A>>,
    scope: Arc<[u8]>,
    /// Set for the branches of a race once it is decided (or of a join once one failed): their
    /// records that did not run yet are refused.
    cancel: Option<Arc<Cancel>>,
}

impl<A: Actor> Clone for Workflow<A> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
            scope: Arc::clone(&self.scope),
            cancel: self.cancel.clone(),
        }
    }
}

/// The cancellation of a set of branches, and of the branches they are nested in.
#[derive(Debug)]
struct Cancel {
    set: AtomicBool,
    outer: Option<Arc<Cancel>>,
}

impl Cancel {
    fn new(outer: Option<Arc<Cancel>>) -> Arc<Self> {
        Arc::new(Self {
            set: AtomicBool::new(false),
            outer,
        })
    }

    fn is_set(&self) -> bool {
        self.set.load(Ordering::Acquire) || self.outer.as_ref().is_some_and(|o| o.is_set())
    }

    fn set(&self) {
        self.set.store(true, Ordering::Release);
    }
}

impl<A: Actor> std::fmt::Debug for Workflow<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workflow")
            .field("scope", &display_path(&self.scope))
            .finish_non_exhaustive()
    }
}

/// What a [`Workflow::repeat`] iteration asks for: another iteration with this state, or the
/// end of the loop with this result (RivetKit's `Loop.continue` / `Loop.break`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loop<S, B> {
    /// Run another iteration, carrying this state into it.
    Continue(S),
    /// End the loop; [`Workflow::repeat`] returns this.
    Break(B),
}

/// A step's retry and timeout settings; [`Workflow::step`] uses the defaults.
#[derive(Debug, Clone)]
pub struct Step {
    name: String,
    max_retries: u32,
    backoff_base: Duration,
    backoff_max: Duration,
    timeout: Option<Duration>,
}

impl Step {
    /// A step called `name` with RivetKit's defaults: 3 retries, backoff from 100 ms doubling
    /// up to 30 s, and a 30 s timeout per attempt.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            max_retries: 3,
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_secs(30),
            timeout: Some(Duration::from_secs(30)),
        }
    }

    /// How many times a failed attempt is retried (0: run once).
    #[must_use]
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The wait before retry `n` is `base * 2^(n-1)`, at most `max`.
    #[must_use]
    pub fn backoff(mut self, base: Duration, max: Duration) -> Self {
        self.backoff_base = base;
        self.backoff_max = max;
        self
    }

    /// How long one attempt may run; `None` for no limit.
    #[must_use]
    pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    fn backoff_for(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.backoff_base
            .saturating_mul(factor)
            .min(self.backoff_max)
    }
}

/// A state change a step asks for, applied in the turn that records the step.
type Update<A> = Box<dyn FnOnce(&mut A, &mut Cx<A>) -> Result<(), Error> + Send>;

struct StepShared<A: Actor> {
    updates: Vec<Update<A>>,
    answers: Vec<(u64, Option<Bytes>)>,
}

/// What a step's body gets: its attempt number, and the way to change the state and answer
/// messages atomically with the step's record.
pub struct StepCx<A: Actor> {
    workflow: Workflow<A>,
    attempt: u32,
    pending: Arc<Mutex<StepShared<A>>>,
}

impl<A: Actor> std::fmt::Debug for StepCx<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StepCx")
            .field("attempt", &self.attempt)
            .finish_non_exhaustive()
    }
}

impl<A: Actor> StepCx<A> {
    /// Which attempt this is, from 1.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Changes the state when the step is recorded, in the same commit: the change happens
    /// exactly once, however often the body runs. Changes of a failed attempt are dropped.
    pub fn update<F>(&self, f: F)
    where
        F: FnOnce(&mut A, &mut Cx<A>) -> Result<(), Error> + Send + 'static,
    {
        lock(&self.pending).updates.push(Box::new(f));
    }

    /// Answers the sender waiting on `message` (`send(.., wait)`) with `response` once the step
    /// is recorded. A received message nobody completes is answered with `null` when the loop
    /// iteration (or workflow) that received it ends.
    pub fn complete<T: Serialize + ?Sized>(
        &self,
        message: &WorkflowMessage,
        response: &T,
    ) -> Result<(), Error> {
        let response = rivet_client::codec::to_cbor(response).map_err(Error::public)?;
        lock(&self.pending)
            .answers
            .push((message.id, Some(response)));
        Ok(())
    }

    /// A client for calling other actors (see [`RunCx::client`]).
    pub fn client(&self) -> rivet_client::Client {
        self.workflow.shared.run.client()
    }

    /// The run loop's context.
    pub fn run_cx(&self) -> &RunCx<A> {
        &self.workflow.shared.run
    }
}

/// A queue message a workflow received; recorded, so replay returns the same one.
pub type WorkflowMessage = crate::run::Message;

/// The actor's queue as a workflow waits on it ([`Workflow::queue`]).
#[derive(Debug)]
pub struct WorkflowQueue<'a, A: Actor> {
    workflow: &'a Workflow<A>,
}

impl<A: Actor> WorkflowQueue<'_, A> {
    /// Waits for the next message (of [`Next::names`], within [`Next::timeout`]) as an entry
    /// called `name`: the message leaves the queue in the commit that records it, and replay
    /// returns it again. `None` when the timeout passed (recorded too). A timed wait records
    /// its deadline first, like a durable [`sleep`](Workflow::sleep): the actor may sleep
    /// meanwhile, is woken at the deadline, and a replay waits only for what is left.
    pub async fn next(&self, name: &str, mut next: Next) -> Result<Option<WorkflowMessage>, Error> {
        let wf = self.workflow;
        let (key, index, prior) = wf.visit(name, Some("message"))?;
        let (record, deadline_ms, wake) = match prior {
            Some(record) => match record.kind {
                RecordKind::Message { message, .. } if record.completed_ms.is_some() => {
                    return Ok(message.map(|(id, name, body)| {
                        let body = match body {
                            ciborium::Value::Bytes(bytes) => Bytes::from(bytes),
                            _ => Bytes::new(),
                        };
                        crate::run::Message { id, name, body }
                    }));
                }
                // A timed wait cut off by a stop: it goes on until its recorded deadline.
                RecordKind::Message {
                    deadline_ms,
                    ref wake,
                    ..
                } => {
                    let wake = wake.clone();
                    (record, deadline_ms, wake)
                }
                _ => return Err(unexpected(&key)),
            },
            None => match next.timeout {
                // A wait that does not wait has nothing to survive a stop for.
                Some(timeout) if !timeout.is_zero() => {
                    let deadline_ms = now_ms()
                        .saturating_add(i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX));
                    let wake = new_id();
                    let record = Record::new(
                        index,
                        RecordKind::Message {
                            message: None,
                            deadline_ms: Some(deadline_ms),
                            wake: Some(wake.clone()),
                        },
                    );
                    wf.commit(
                        vec![
                            Op::put(key.clone(), record.clone())?,
                            Op::Wake(wake.clone(), deadline_ms),
                        ],
                        Vec::new(),
                    )
                    .await?;
                    (record, Some(deadline_ms), Some(wake))
                }
                _ => (
                    Record::new(
                        index,
                        RecordKind::Message {
                            message: None,
                            deadline_ms: None,
                            wake: None,
                        },
                    ),
                    None,
                    None,
                ),
            },
        };
        if let Some(deadline_ms) = deadline_ms {
            next.timeout = Some(crate::time::until_ms(deadline_ms));
        }
        let queue = wf.shared.run.queue();
        let taken = if next.timeout.is_some_and(|t| t.is_zero()) {
            // Past the deadline (or no wait asked for): still take a message already queued,
            // as a wait that had not been cut off would have.
            queue.try_next(next.names).await?
        } else {
            queue.next(next).await?
        };
        if taken.is_none() && wf.shared.run.is_aborted() {
            return Err(stopping());
        }
        let mut ops = Vec::with_capacity(2);
        let message = taken.as_ref().map(|m| WorkflowMessage::clone(m));
        if let Some(m) = &message {
            ops.push(Op::Take(wf.scope.to_vec(), m.id));
        }
        let recorded = message.as_ref().map(|m| {
            (
                m.id,
                m.name.clone(),
                ciborium::Value::Bytes(m.body.to_vec()),
            )
        });
        let mut record = record;
        record.kind = RecordKind::Message {
            message: recorded,
            deadline_ms,
            wake,
        };
        // A message that came before the deadline: its wake-up is no longer needed.
        ops.push(Op::CancelWakes(key.clone()));
        // Not held to the size limit: the queue's own limit already bounds the message.
        ops.push(Op::put_unchecked(key, record.completed(1))?);
        wf.commit(ops, Vec::new()).await?;
        // Recorded and out of the queue: the held message must not go back when dropped.
        if let Some(taken) = taken {
            taken.forget();
        }
        Ok(message)
    }
}

/// A branch of a [`Workflow::join`] or [`Workflow::race`]: a name and the code to run in its
/// own scope.
pub struct Branch<'a, A: Actor, T> {
    name: String,
    start: BranchStart<'a, A, T>,
}

type BranchStart<'a, A, T> =
    Box<dyn FnOnce(Workflow<A>) -> BoxFuture<'a, Result<T, Error>> + Send + 'a>;

impl<A: Actor, T> std::fmt::Debug for Branch<'_, A, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Branch")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<'a, A: Actor, T> Branch<'a, A, T> {
    /// A branch called `name` that runs `f` with its own workflow scope.
    pub fn new<F, Fut>(name: impl Into<String>, f: F) -> Self
    where
        F: FnOnce(Workflow<A>) -> Fut + Send + 'a,
        Fut: Future<Output = Result<T, Error>> + Send + 'a,
    {
        Self {
            name: name.into(),
            start: Box::new(move |wf| Box::pin(f(wf))),
        }
    }
}

impl<A: Actor> RunCx<A> {
    /// Runs `body` as this actor's durable workflow (RivetKit's `run: workflow(..)`); see the
    /// [workflow module](crate::workflow). Returns the workflow's output; once it completed,
    /// later wakes return the recorded output without running `body`. When the actor stops in
    /// the middle, this returns the `actor.shut_down` error, and the next wake resumes.
    pub async fn workflow<T, F>(self, body: F) -> Result<T, Error>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        F: AsyncFnOnce(Workflow<A>) -> Result<T, Error>,
    {
        let storage = self
            .identity()
            .registry
            .upgrade()
            .ok_or_else(stopping)?
            .storage()
            .clone();
        let stored = storage
            .scan_prefix(self.identity().storage_id, keys::WORKFLOW)
            .await?;
        let engine = Arc::new(Mutex::new(Engine::load(stored)?));
        *lock(&self.identity().workflow) = Some(Arc::clone(&engine));
        if let Some(output) = lock(&engine).output.clone() {
            return from_value(&output, "the workflow");
        }
        let workflow = Workflow {
            shared: Arc::new(Shared {
                run: self,
                engine: Arc::clone(&engine),
            }),
            scope: Arc::from(Vec::new()),
            cancel: None,
        };
        let result = body(workflow.clone()).await;
        match result {
            Ok(output) => {
                workflow
                    .commit(vec![Op::Output(to_value(&output)?)], Vec::new())
                    .await?;
                Ok(output)
            }
            Err(error) => {
                if !error.is(rivet_client::codes::SHUT_DOWN) {
                    let reported = error.to_actor_error();
                    lock(&engine).status = WorkflowStatus::Failed {
                        code: reported.full_code(),
                        message: reported.message.clone(),
                    };
                }
                Err(error)
            }
        }
    }
}

impl<A: Actor> Workflow<A> {
    /// The run loop's context: the actor's id, a client, [`RunCx::turn`].
    pub fn run_cx(&self) -> &RunCx<A> {
        &self.shared.run
    }

    /// The actor's queue, to wait on as a recorded entry.
    pub fn queue(&self) -> WorkflowQueue<'_, A> {
        WorkflowQueue { workflow: self }
    }

    fn visit(
        &self,
        name: &str,
        tag: Option<&'static str>,
    ) -> Result<(Vec<u8>, u32, Option<Record>), Error> {
        if self.shared.run.is_aborted() {
            return Err(stopping());
        }
        lock(&self.shared.engine).visit(&self.scope, name, tag)
    }

    /// Waits `duration`, or fails with the stopping error as soon as the actor stops.
    async fn pause(&self, duration: Duration) -> Result<(), Error> {
        tokio::select! {
            () = tokio::time::sleep(duration) => Ok(()),
            () = self.shared.run.aborted() => Err(stopping()),
        }
    }

    fn child(&self, scope: Vec<u8>) -> Self {
        self.branch(scope, self.cancel.clone())
    }

    fn branch(&self, scope: Vec<u8>, cancel: Option<Arc<Cancel>>) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
            scope: Arc::from(scope),
            cancel,
        }
    }

    /// Runs `updates` and records `ops` in one turn.
    ///
    /// The ops reach the engine inside the host, once the turn's state change was accepted for
    /// commit, so the engine always matches what the actor's turns wrote, in their order (even
    /// a cancelled branch's turn that ran after its future was gone), and a refused turn
    /// changes nothing.
    async fn commit(&self, ops: Vec<Op>, updates: Vec<Update<A>>) -> Result<(), Error> {
        let engine = Arc::clone(&self.shared.engine);
        let cancel = self.cancel.clone();
        self.shared
            .run
            .turn(move |state, cx| {
                if cancel.is_some_and(|c| c.is_set()) {
                    return Err(Error::public(codes::BRANCH_CANCELLED.error()));
                }
                for update in updates {
                    update(state, cx)?;
                }
                cx.turn.workflow = Some(Box::new(move |turn, schedules| {
                    lock(&engine).apply(ops, turn, schedules);
                }));
                Ok(())
            })
            .await
    }

    /// A step with the default retries and timeout; see [`step_with`](Self::step_with).
    pub async fn step<T, F>(&self, name: &str, body: F) -> Result<T, Error>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        F: AsyncFnMut(StepCx<A>) -> Result<T, Error>,
    {
        self.step_with(Step::named(name), body).await
    }

    /// Runs `body` as a recorded step: once it succeeds, its result, its
    /// [state changes](StepCx::update) and its [answers](StepCx::complete) commit together, and
    /// replay returns the result without running it. A failed or timed-out attempt is retried
    /// with backoff; after the last, this fails with `workflow.step_failed`.
    ///
    /// Use an `async move` closure: the body may run several times, so it owns what it uses.
    pub async fn step_with<T, F>(&self, options: Step, mut body: F) -> Result<T, Error>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        F: AsyncFnMut(StepCx<A>) -> Result<T, Error>,
    {
        let (key, index, prior) = self.visit(&options.name, Some("step"))?;
        if let Some(record) = prior {
            return match &record.kind {
                RecordKind::Step { output } => from_value(output, &display_path(&key)),
                _ => Err(unexpected(&key)),
            };
        }
        let _awake = self.shared.run.keep_awake();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let pending = Arc::new(Mutex::new(StepShared {
                updates: Vec::new(),
                answers: Vec::new(),
            }));
            let step = StepCx {
                workflow: self.clone(),
                attempt,
                pending: Arc::clone(&pending),
            };
            let outcome = match options.timeout {
                Some(limit) => match tokio::time::timeout(limit, body(step)).await {
                    Ok(outcome) => outcome,
                    Err(_) => Err(Error::public(codes::STEP_TIMED_OUT.with_message(format!(
                        "Attempt {attempt} of step `{}` ran longer than {limit:?}.",
                        display_path(&key)
                    )))),
                },
                None => body(step).await,
            };
            let failure = match outcome {
                Ok(value) => {
                    let StepShared { updates, answers } = std::mem::replace(
                        &mut *lock(&pending),
                        StepShared {
                            updates: Vec::new(),
                            answers: Vec::new(),
                        },
                    );
                    let mut ops: Vec<Op> = answers
                        .into_iter()
                        .map(|(id, response)| Op::Answer(id, response))
                        .collect();
                    ops.push(Op::put(
                        key.clone(),
                        Record::new(
                            index,
                            RecordKind::Step {
                                output: to_value(&value)?,
                            },
                        )
                        .completed(attempt),
                    )?);
                    match self.commit(ops, updates).await {
                        Ok(()) => return Ok(value),
                        Err(error) if error.is(rivet_client::codes::SHUT_DOWN) => {
                            return Err(error);
                        }
                        // An update failed, or its change could not be committed: the attempt
                        // failed.
                        Err(error) => error,
                    }
                }
                Err(error) => error,
            };
            if self.shared.run.is_aborted() {
                return Err(stopping());
            }
            if attempt > options.max_retries {
                let reported = failure.to_actor_error();
                return Err(Error::public(codes::STEP_FAILED.with_message(format!(
                    "Step `{}` failed after {attempt} attempt(s): {} ({})",
                    display_path(&key),
                    reported.message,
                    reported.full_code()
                ))));
            }
            tracing::warn!(step = %display_path(&key), attempt, error = %failure, "workflow step failed; retrying");
            self.pause(options.backoff_for(attempt)).await?;
        }
    }

    /// A loop (RivetKit's `ctx.loop`): runs `body` with a scope of its own for each iteration
    /// and the state carried into it, until it returns [`Loop::Break`]. Each finished iteration
    /// commits the next one's state and deletes its own entries, so replay resumes in the
    /// current iteration with its state.
    pub async fn repeat<S, B, F>(&self, name: &str, init: S, mut body: F) -> Result<B, Error>
    where
        S: Serialize + DeserializeOwned + Send + 'static,
        B: Serialize + DeserializeOwned + Send + 'static,
        F: AsyncFnMut(Workflow<A>, S) -> Result<Loop<S, B>, Error>,
    {
        let (key, index, prior) = self.visit(name, Some("loop"))?;
        let (record, mut iteration, mut state) = match prior {
            Some(record) => match &record.kind {
                RecordKind::Loop {
                    output: Some(output),
                    ..
                } => return from_value(output, &display_path(&key)),
                RecordKind::Loop {
                    iteration, state, ..
                } => {
                    let state = from_value(state, &display_path(&key))?;
                    let iteration = *iteration;
                    (record, iteration, state)
                }
                _ => return Err(unexpected(&key)),
            },
            None => {
                let record = Record::new(
                    index,
                    RecordKind::Loop {
                        iteration: 0,
                        state: to_value(&init)?,
                        output: None,
                    },
                );
                self.commit(vec![Op::put(key.clone(), record.clone())?], Vec::new())
                    .await?;
                (record, 0, init)
            }
        };
        loop {
            if self.shared.run.is_aborted() {
                return Err(stopping());
            }
            let mut scope = key.clone();
            push_iteration(&mut scope, iteration);
            let next = body(self.child(scope.clone()), state).await?;
            let mut updated = record.clone();
            let (kind, result) = match next {
                Loop::Continue(next) => (
                    RecordKind::Loop {
                        iteration: iteration + 1,
                        state: to_value(&next)?,
                        output: None,
                    },
                    Err(next),
                ),
                Loop::Break(output) => (
                    RecordKind::Loop {
                        iteration,
                        state: ciborium::Value::Null,
                        output: Some(to_value(&output)?),
                    },
                    Ok(output),
                ),
            };
            updated.kind = kind;
            if result.is_ok() {
                updated = updated.completed(0);
            }
            self.commit(
                vec![Op::Prune(scope), Op::put(key.clone(), updated)?],
                Vec::new(),
            )
            .await?;
            match result {
                Ok(output) => return Ok(output),
                Err(next) => {
                    state = next;
                    iteration += 1;
                }
            }
        }
    }

    /// Sleeps durably for `duration` (RivetKit's `ctx.sleep`): the end time is recorded, the
    /// actor may sleep meanwhile and is woken when it is due, and replay waits only for what is
    /// left.
    pub async fn sleep(&self, name: &str, duration: Duration) -> Result<(), Error> {
        let until = SystemTime::now().checked_add(duration).ok_or_else(|| {
            Error::public(rivet_client::codes::INVALID_REQUEST.with_message(format!(
                "Sleep `{name}` of {duration:?} ends past the end of time."
            )))
        })?;
        self.sleep_until(name, until).await
    }

    /// Sleeps durably until `time` (RivetKit's `ctx.sleepUntil`); see [`sleep`](Self::sleep).
    pub async fn sleep_until(&self, name: &str, time: SystemTime) -> Result<(), Error> {
        let (key, index, prior) = self.visit(name, Some("sleep"))?;
        let until_ms = match prior.map(|r| r.kind) {
            Some(RecordKind::Sleep { until_ms, .. }) => until_ms,
            Some(_) => return Err(unexpected(&key)),
            None => {
                let until_ms = to_ms(time);
                let wake = new_id();
                let record = Record::new(
                    index,
                    RecordKind::Sleep {
                        until_ms,
                        wake: Some(wake.clone()),
                    },
                );
                self.commit(
                    vec![Op::put(key, record)?, Op::Wake(wake, until_ms)],
                    Vec::new(),
                )
                .await?;
                until_ms
            }
        };
        let left = crate::time::until_ms(until_ms);
        if !left.is_zero() {
            self.pause(left).await?;
        }
        Ok(())
    }

    /// Runs branches concurrently, each in its own scope, and returns their results in order
    /// (RivetKit's `ctx.join`). The first error fails the join and cancels the others (what they
    /// had not recorded yet is not recorded); replay runs every branch again, returning what
    /// each recorded.
    pub async fn join<'a, T: Send + 'a>(
        &self,
        name: &str,
        branches: Vec<Branch<'a, A, T>>,
    ) -> Result<Vec<T>, Error> {
        let (key, index, prior) = self.visit(name, Some("join"))?;
        let scopes = branch_scopes(&key, &branches)?;
        if prior.is_none() {
            let record = Record::new(index, RecordKind::Join);
            self.commit(vec![Op::put(key, record)?], Vec::new()).await?;
        }
        let cancel = Cancel::new(self.cancel.clone());
        let running = branches
            .into_iter()
            .zip(scopes)
            .map(|(branch, scope)| (branch.start)(self.branch(scope, Some(Arc::clone(&cancel)))));
        let joined = futures_util::future::try_join_all(running).await;
        if joined.is_err() {
            cancel.set();
        }
        joined
    }

    /// Runs branches concurrently until the first finishes (RivetKit's `ctx.race`); the others
    /// are cancelled: what they had not recorded yet is not recorded (a queue message they had
    /// not recorded stays queued), a message one received as the last thing it did goes back
    /// to the queue (its sender keeps waiting), and their pending durable sleeps and timed waits
    /// no longer wake the actor. A message a losing branch went on to use stays consumed.
    /// Returns the winner's name and result, which are recorded, so replay returns the same
    /// winner without running the branches.
    pub async fn race<'a, T>(
        &self,
        name: &str,
        branches: Vec<Branch<'a, A, T>>,
    ) -> Result<(String, T), Error>
    where
        T: Serialize + DeserializeOwned + Send + 'a,
    {
        let (key, index, prior) = self.visit(name, Some("race"))?;
        let scopes = branch_scopes(&key, &branches)?;
        if branches.is_empty() {
            return Err(Error::public(codes::NO_BRANCHES.with_message(format!(
                "Race `{}` has no branches.",
                display_path(&key)
            ))));
        }
        let record =
            match prior {
                Some(record) => {
                    if let RecordKind::Race {
                        winner: Some((winner, output)),
                    } = &record.kind
                    {
                        if !branches.iter().any(|b| &b.name == winner) {
                            return Err(Error::public(codes::HISTORY_DIVERGED.with_message(format!(
                            "Race `{}` was won by branch `{winner}`, which it no longer has.",
                            display_path(&key)
                        ))));
                        }
                        return Ok((winner.clone(), from_value(output, &display_path(&key))?));
                    }
                    record
                }
                None => {
                    let record = Record::new(index, RecordKind::Race { winner: None });
                    self.commit(vec![Op::put(key.clone(), record.clone())?], Vec::new())
                        .await?;
                    record
                }
            };
        let cancel = Cancel::new(self.cancel.clone());
        let running: Vec<BoxFuture<'a, (String, Result<T, Error>)>> = branches
            .into_iter()
            .zip(scopes)
            .map(|(branch, scope)| {
                let name = branch.name;
                let future = (branch.start)(self.branch(scope, Some(Arc::clone(&cancel))));
                Box::pin(async move { (name, future.await) }) as BoxFuture<'a, _>
            })
            .collect();
        let ((winner, result), _, losers) = futures_util::future::select_all(running).await;
        // Before the losers go: a record of theirs already on its way is refused.
        cancel.set();
        drop(losers);
        let output = result?;
        let mut updated = record;
        updated.kind = RecordKind::Race {
            winner: Some((winner.clone(), to_value(&output)?)),
        };
        let ops = vec![
            Op::CancelWakes(key.clone()),
            Op::ReturnLosers(key.clone(), {
                let mut scope = key.clone();
                push_name(&mut scope, &winner);
                scope
            }),
            Op::put(key, updated.completed(0))?,
        ];
        self.commit(ops, Vec::new()).await?;
        Ok((winner, output))
    }

    /// Marks where a removed entry called `name` used to be (RivetKit's `ctx.removed`): a
    /// recorded entry there is skipped, and a workflow that never reached it records a
    /// placeholder, so the entries after it keep their positions.
    pub async fn removed(&self, name: &str) -> Result<(), Error> {
        let (key, index, prior) = self.visit(name, None)?;
        if prior.is_none() {
            let record = Record::new(index, RecordKind::Removed).completed(0);
            self.commit(vec![Op::put(key, record)?], Vec::new()).await?;
        }
        Ok(())
    }
}

/// The scope of each branch under entry `key`, checking the names.
fn branch_scopes<A: Actor, T>(
    key: &[u8],
    branches: &[Branch<'_, A, T>],
) -> Result<Vec<Vec<u8>>, Error> {
    let mut seen = HashSet::new();
    branches
        .iter()
        .map(|branch| {
            check_name(&branch.name)?;
            if !seen.insert(branch.name.as_str()) {
                return Err(Error::public(codes::DUPLICATE_NAME.with_message(format!(
                    "`{}` has two branches called `{}`.",
                    display_path(key),
                    branch.name
                ))));
            }
            let mut scope = key.to_vec();
            push_name(&mut scope, &branch.name);
            Ok(scope)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(entries: &[(&[&str], u32, RecordKind)]) -> Vec<(Bytes, Bytes)> {
        entries
            .iter()
            .map(|(path, index, kind)| {
                let mut key = keys::WORKFLOW_ENTRIES.to_vec();
                for name in *path {
                    push_name(&mut key, name);
                }
                let mut value = Vec::new();
                ciborium::into_writer(&Record::new(*index, kind.clone()), &mut value)
                    .expect("encode");
                (Bytes::from(key), Bytes::from(value))
            })
            .collect()
    }

    fn step() -> RecordKind {
        RecordKind::Step {
            output: ciborium::Value::Null,
        }
    }

    fn code(result: Result<(Vec<u8>, u32, Option<Record>), Error>) -> String {
        match result {
            Ok(_) => "ok".to_owned(),
            Err(error) => error.to_actor_error().full_code(),
        }
    }

    #[test]
    fn visits_match_recorded_entries_by_name_and_position() {
        let history = stored(&[(&["a"], 0, step()), (&["b"], 1, step())]);
        let mut engine = Engine::load(history.clone()).expect("load");
        let (_, index, prior) = engine.visit(&[], "a", Some("step")).expect("a");
        assert_eq!((index, prior.is_some()), (0, true));
        assert!(engine.visit(&[], "b", Some("step")).expect("b").2.is_some());
        // Past the recorded ones: new entries.
        assert!(engine.visit(&[], "c", Some("step")).expect("c").2.is_none());

        // Reordered: b first.
        let mut engine = Engine::load(history.clone()).expect("load");
        assert_eq!(
            code(engine.visit(&[], "b", Some("step"))),
            "workflow.history_diverged"
        );
        // Renamed: a, then c where b was.
        let mut engine = Engine::load(history.clone()).expect("load");
        engine.visit(&[], "a", Some("step")).expect("a");
        assert_eq!(
            code(engine.visit(&[], "c", Some("step"))),
            "workflow.history_diverged"
        );
        // A step that became a sleep.
        let mut engine = Engine::load(history.clone()).expect("load");
        assert_eq!(
            code(engine.visit(&[], "a", Some("sleep"))),
            "workflow.history_diverged"
        );
        // `removed` takes any kind's place.
        let mut engine = Engine::load(history).expect("load");
        assert!(engine.visit(&[], "a", None).expect("removed").2.is_some());
        assert_eq!(
            code(engine.visit(&[], "a", Some("step"))),
            "workflow.duplicate_name"
        );
        // A placeholder is no entry of any kind.
        let mut engine = Engine::load(stored(&[(&["a"], 0, RecordKind::Removed)])).expect("load");
        assert_eq!(
            code(engine.visit(&[], "a", Some("sleep"))),
            "workflow.history_diverged"
        );
    }

    #[test]
    fn names_are_checked_and_locations_nest_by_prefix() {
        let mut engine = Engine::load(Vec::new()).expect("load");
        for bad in ["", "a/b", "nul\0", &"x".repeat(MAX_NAME + 1)] {
            assert_eq!(code(engine.visit(&[], bad, None)), "workflow.invalid_name");
        }
        let mut parent = Vec::new();
        push_name(&mut parent, "loop");
        let mut iteration = parent.clone();
        push_iteration(&mut iteration, 3);
        let mut child = iteration.clone();
        push_name(&mut child, "step");
        assert_eq!(display_path(&child), "loop/~3/step");
        assert_eq!(parent_of(&child), iteration);
        assert!(child.starts_with(&iteration));
        // A name that extends another is not inside it.
        let mut sibling = Vec::new();
        push_name(&mut sibling, "loopy");
        assert!(!sibling.starts_with(&parent));
    }

    #[test]
    fn records_over_the_size_limit_are_refused() {
        let record = |size| {
            Record::new(
                0,
                RecordKind::Step {
                    output: ciborium::Value::Bytes(vec![7; size]),
                },
            )
        };
        assert!(Op::put(b"k".to_vec(), record(MAX_RECORD_SIZE - 100)).is_ok());
        let refused = Op::put(b"k".to_vec(), record(MAX_RECORD_SIZE)).map(|_| ());
        assert_eq!(
            refused.map_err(|e| e.to_actor_error().full_code()),
            Err("workflow.value_too_large".to_owned())
        );
    }

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let step = Step::named("s").backoff(Duration::from_millis(100), Duration::from_millis(350));
        let waits: Vec<u128> = (1..=4).map(|n| step.backoff_for(n).as_millis()).collect();
        assert_eq!(waits, [100, 200, 350, 350]);
    }
}
