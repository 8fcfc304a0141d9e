//! The replay engine of one activation's workflow: the recorded entries by location, the
//! positions each scope visited, and the changes a turn makes to them.

use std::collections::{BTreeMap, HashMap, HashSet};

use bytes::Bytes;

use super::history::{HistoryEntry, WorkflowHistory, WorkflowStatus, json};
use super::record::{MAX_RECORD_SIZE, Record, RecordKind, check_name, corrupt, display_path};
use crate::error::Error;
use crate::message::Message;
use crate::schedule::Schedules;
use crate::storage::Batch;
use crate::storage::keys::{self, Segment, push_name, segments};
use crate::time::now_ms;
use rivet_client::codes::workflow as codes;

/// The entries recorded in one scope, by position, and what this activation visited.
#[derive(Debug, Default)]
struct Scope {
    recorded: BTreeMap<u32, Vec<u8>>,
    next: u32,
    visited: HashSet<Vec<u8>>,
}

/// What applying a turn's history changes adds to the turn: raw writes, queue messages taken for
/// good, answers to their senders, and messages given back to the queue.
#[derive(Debug, Default)]
pub(crate) struct WorkflowWrites {
    /// History writes, committed with the turn.
    pub(crate) writes: Batch,
    /// Run-loop messages the turn takes out of the queue for good (a workflow recorded them);
    /// a waiting sender keeps waiting for an answer.
    pub(crate) takes: Vec<u64>,
    /// Answers to waiting senders of taken messages, sent once the turn commits.
    pub(crate) answers: Vec<(u64, Option<Bytes>)>,
    /// Messages a workflow took and gives back (a decided race's losing branch had received
    /// them): stored and queued again in id order; a waiting sender keeps waiting.
    pub(crate) returns: Vec<Message>,
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
pub(super) enum Op {
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
    pub(super) fn put(key: Vec<u8>, record: Record) -> Result<Self, Error> {
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
    pub(super) fn put_unchecked(key: Vec<u8>, record: Record) -> Result<Self, Error> {
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

impl Engine {
    /// The recorded output of a finished workflow.
    pub(super) fn output(&self) -> Option<&ciborium::Value> {
        self.output.as_ref()
    }

    /// Whether the workflow completed or failed (its run loop then has nothing left to do).
    pub(crate) fn is_settled(&self) -> bool {
        !matches!(self.status, WorkflowStatus::Running)
    }

    /// Records that the workflow failed (it runs again from its history on the next wake).
    pub(super) fn set_failed(&mut self, code: String, message: String) {
        self.status = WorkflowStatus::Failed { code, message };
    }

    pub(super) fn load(stored: Vec<(Bytes, Bytes)>) -> Result<Self, Error> {
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
    pub(super) fn visit(
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

    /// Applies `ops` inside a turn that will commit: to the engine, to the actor's schedules,
    /// and to what the turn writes.
    pub(super) fn apply(&mut self, ops: Vec<Op>, schedules: &mut Schedules) -> WorkflowWrites {
        let mut turn = WorkflowWrites::default();
        for op in ops {
            match op {
                Op::Put(key, record, value) => {
                    turn.writes.put(keys::workflow_entry(&key), value);
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
                        turn.writes.delete(keys::workflow_entry(&key));
                    }
                    self.scopes.retain(|scope, _| !scope.starts_with(&prefix));
                    let (done, open): (Vec<_>, Vec<_>) = std::mem::take(&mut self.open_messages)
                        .into_iter()
                        .partition(|(scope, _)| scope.starts_with(&prefix));
                    self.open_messages = open;
                    turn.answers
                        .extend(done.into_iter().map(|(_, id)| (id, None)));
                }
                Op::Output(output) => {
                    let mut value = Vec::new();
                    if let Err(error) = ciborium::into_writer(&output, &mut value) {
                        tracing::error!(%error, "cannot encode the workflow output");
                    }
                    turn.writes.put(keys::WORKFLOW_OUTPUT, value);
                    self.output = Some(output);
                    self.status = WorkflowStatus::Completed;
                    turn.answers.extend(
                        std::mem::take(&mut self.open_messages)
                            .into_iter()
                            .map(|(_, id)| (id, None)),
                    );
                }
                Op::Wake(id, at_ms) => schedules.wake_at(id, at_ms),
                Op::CancelWakes(prefix) => self.cancel_wakes(&prefix, schedules),
                Op::ReturnLosers(race, winner) => self.return_losers(&race, &winner, &mut turn),
                Op::Take(scope, id) => {
                    turn.takes.push(id);
                    self.open_messages.push((scope, id));
                }
                Op::Answer(id, response) => {
                    self.open_messages.retain(|(_, open)| *open != id);
                    turn.answers.push((id, response));
                }
            }
        }
        turn
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
    fn return_losers(&mut self, race: &[u8], winner: &[u8], turn: &mut WorkflowWrites) {
        let mut kept = Vec::new();
        for (scope, id) in std::mem::take(&mut self.open_messages) {
            let returned = (scope.starts_with(race) && !scope.starts_with(winner))
                .then(|| self.last_message(&scope, id))
                .flatten();
            match returned {
                Some(message) => turn.returns.push(message),
                None => kept.push((scope, id)),
            }
        }
        self.open_messages = kept;
    }

    /// Message `id`, if it is the last entry recorded in `scope`.
    fn last_message(&self, scope: &[u8], id: u64) -> Option<Message> {
        let last = self.scopes.get(scope)?.recorded.last_key_value()?.1;
        match &self.entries.get(last)?.kind {
            RecordKind::Message {
                message: Some((recorded, name, ciborium::Value::Bytes(body))),
                ..
            } if *recorded == id => Some(Message {
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

    /// Forgets what a replay from step `from` (its path, as the history shows it) runs again:
    /// that step and every entry recorded after it, or every entry without `from`, and the
    /// output. Returns the storage keys to delete in the same commit.
    pub(crate) fn replay_from(&mut self, from: Option<&str>) -> Result<Vec<Bytes>, Error> {
        let doomed: Vec<Vec<u8>> = match from {
            None => self.entries.keys().cloned().collect(),
            Some(path) => {
                let Some((key, record)) = self
                    .entries
                    .iter()
                    .find(|(key, _)| display_path(key) == path)
                else {
                    return Err(Error::public(
                        rivet_client::codes::INVALID_REQUEST
                            .with_message(format!("The workflow has no entry `{path}`.")),
                    ));
                };
                if !matches!(record.kind, RecordKind::Step { .. }) {
                    return Err(Error::public(
                        rivet_client::codes::INVALID_REQUEST.with_message(format!(
                            "`{path}` is not a step; a replay starts at a step."
                        )),
                    ));
                }
                let boundary = (record.created_ms, self.order_key(key));
                self.entries
                    .iter()
                    .filter(|(key, record)| (record.created_ms, self.order_key(key)) >= boundary)
                    .map(|(key, _)| key.clone())
                    .collect()
            }
        };
        for key in &doomed {
            self.entries.remove(key);
            if let Some(scope) = self.scopes.get_mut(&parent_of(key)) {
                scope.recorded.retain(|_, recorded| recorded != key);
            }
        }
        self.output = None;
        self.status = WorkflowStatus::Running;
        let mut keys: Vec<Bytes> = doomed.iter().map(|k| keys::workflow_entry(k)).collect();
        keys.push(Bytes::from_static(keys::WORKFLOW_OUTPUT));
        Ok(keys)
    }

    pub(crate) fn history(&self) -> WorkflowHistory {
        let mut keyed: Vec<_> = self
            .entries
            .iter()
            .map(|(key, record)| (self.order_key(key), key, record))
            .collect();
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        let entries = keyed
            .into_iter()
            .map(|(_, key, record)| HistoryEntry::from_record(key, record))
            .collect();
        WorkflowHistory {
            status: self.status.clone(),
            entries,
            output: self.output.as_ref().map(json),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::record::MAX_NAME;

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
    fn a_replay_forgets_the_step_and_what_came_after_it() {
        // Recorded in the same millisecond: their positions order them.
        let history = stored(&[
            (&["a"], 0, step()),
            (&["b"], 1, step()),
            (&["c"], 2, step()),
        ]);
        let mut engine = Engine::load(history.clone()).expect("load");
        let deleted = engine.replay_from(Some("b")).expect("replay");
        let names: Vec<String> = engine
            .history()
            .entries
            .iter()
            .map(|e| e.path.clone())
            .collect();
        assert_eq!(names, ["a"]);
        assert_eq!(deleted.len(), 3, "b, c and the output");
        assert!(deleted.contains(&Bytes::from_static(keys::WORKFLOW_OUTPUT)));
        assert!(deleted.contains(&history[2].0) && deleted.contains(&history[1].0));

        let missing = engine.replay_from(Some("nope")).unwrap_err();
        assert_eq!(
            missing.to_actor_error().full_code(),
            "actor.invalid_request"
        );
        let all = engine.replay_from(None).expect("replay");
        assert!(engine.history().entries.is_empty());
        assert_eq!(all.len(), 2, "a and the output");
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
    fn names_are_checked_and_paths_show_iterations() {
        let mut engine = Engine::load(Vec::new()).expect("load");
        for bad in ["", "a/b", "nul\0", &"x".repeat(MAX_NAME + 1)] {
            assert_eq!(code(engine.visit(&[], bad, None)), "workflow.invalid_name");
        }
        let mut parent = Vec::new();
        push_name(&mut parent, "loop");
        let mut iteration = parent.clone();
        crate::storage::keys::push_iteration(&mut iteration, 3);
        let mut child = iteration.clone();
        push_name(&mut child, "step");
        assert_eq!(display_path(&child), "loop/~3/step");
        assert_eq!(parent_of(&child), iteration);
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
}
