//! Schedules: calls of an actor's own actions at a later time (`cx.schedule()`), kept in its key
//! space, so they survive sleep and restarts.
//!
//! A schedule is written with the turn that makes it (and dropped if that turn fails). When it
//! is due, the actor is woken if it sleeps and the action runs as a turn of its own; the schedule
//! is removed in that turn's batch, so it runs once: a crash before that commit runs it again,
//! with the action's effects of the lost attempt gone too. Schedules missed while the process was
//! down run when it starts.

use std::collections::{BTreeMap, BTreeSet};
use std::marker::PhantomData;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use rivet_client::ActorError;

use crate::cbor::{ByteBuf, ByteStr};
use crate::error::Error;
use crate::ids::new_id;
use crate::storage::{Batch, StorageError, keys};
use crate::time::{from_ms, to_ms};

/// A call of one of actor `A`'s actions with its arguments, built by the generated
/// `{Actor}Call::{action}(args...)` (one function per action, typed like the action).
pub struct Call<A> {
    action: &'static str,
    args: Result<Bytes, ActorError>,
    _actor: PhantomData<fn() -> A>,
}

impl<A> std::fmt::Debug for Call<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("action", &self.action)
            .finish_non_exhaustive()
    }
}

impl<A> Call<A> {
    /// A call of `action` with CBOR-encoded `args`; used by generated code.
    #[doc(hidden)]
    pub fn new(action: &'static str, args: Result<Bytes, ActorError>) -> Self {
        Self {
            action,
            args,
            _actor: PhantomData,
        }
    }

    /// The action's wire name.
    pub fn action(&self) -> &'static str {
        self.action
    }
}

/// A scheduled call, as [`Schedule::get`] and [`Schedule::list`] report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledCall {
    /// Its id, to cancel it.
    pub id: String,
    /// The action's wire name.
    pub action: String,
    /// The arguments, as a CBOR array.
    pub args: Bytes,
    /// When it runs.
    pub run_at: SystemTime,
}

/// One stored schedule.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) id: String,
    pub(crate) at_ms: i64,
    pub(crate) action: String,
    pub(crate) args: Bytes,
}

impl Entry {
    /// Whether this is an internal wake-up with no action (see [`Schedules::wake_at`]).
    pub(crate) fn is_wake(&self) -> bool {
        self.action.is_empty()
    }

    fn public(&self) -> ScheduledCall {
        ScheduledCall {
            id: self.id.clone(),
            action: self.action.clone(),
            args: self.args.clone(),
            run_at: from_ms(self.at_ms),
        }
    }

    fn encode(&self) -> Bytes {
        let record = (self.at_ms, &self.action, ByteStr(&self.args));
        let mut out = Vec::new();
        // Writing integers, text and bytes into a Vec cannot fail.
        if let Err(error) = ciborium::into_writer(&record, &mut out) {
            tracing::error!(%error, "cannot encode a schedule");
        }
        Bytes::from(out)
    }

    pub(crate) fn decode(key: &[u8], value: &[u8]) -> Result<Self, StorageError> {
        let id = keys::schedule_id(key)
            .ok_or_else(|| StorageError::corrupt("a schedule id that is not UTF-8"))?
            .to_owned();
        let (at_ms, action, args): (i64, String, ByteBuf) = ciborium::from_reader(value)
            .map_err(|e| StorageError::corrupt_because(format!("schedule {id}"), e))?;
        let args = Bytes::from(args.0);
        Ok(Self {
            id,
            at_ms,
            action,
            args,
        })
    }
}

enum Op {
    Add(Entry),
    Cancel(String),
}

/// An actor's schedules: the committed ones, indexed by time, and the current turn's changes.
#[derive(Default)]
pub(crate) struct Schedules {
    entries: BTreeMap<String, Entry>,
    by_time: BTreeSet<(i64, String)>,
    turn: Vec<Op>,
}

impl std::fmt::Debug for Schedules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Schedules")
            .field("count", &self.entries.len())
            .finish_non_exhaustive()
    }
}

impl Schedules {
    /// The committed schedules, as loaded at wake.
    pub(crate) fn load(entries: Vec<Entry>) -> Self {
        let mut schedules = Self::default();
        for entry in entries {
            schedules.insert(entry);
        }
        schedules
    }

    fn insert(&mut self, entry: Entry) {
        self.by_time.insert((entry.at_ms, entry.id.clone()));
        self.entries.insert(entry.id.clone(), entry);
    }

    fn remove(&mut self, id: &str) -> Option<Entry> {
        let entry = self.entries.remove(id)?;
        self.by_time.remove(&(entry.at_ms, entry.id.clone()));
        Some(entry)
    }

    /// When the earliest committed schedule is due (ms since the epoch).
    pub(crate) fn next_due(&self) -> Option<i64> {
        self.by_time.first().map(|(at, _)| *at)
    }

    /// Takes the earliest schedule due at `now_ms` and adds its removal to `batch`.
    pub(crate) fn take_due(&mut self, now_ms: i64, batch: &mut Batch) -> Option<Entry> {
        let (at, id) = self.by_time.first()?.clone();
        if at > now_ms {
            return None;
        }
        batch.delete(keys::schedule(&id));
        self.remove(&id)
    }

    /// Applies the turn's changes and writes them into `batch`.
    pub(crate) fn finish_turn(&mut self, batch: &mut Batch) {
        for op in std::mem::take(&mut self.turn) {
            match op {
                Op::Add(entry) => {
                    batch.put(keys::schedule(&entry.id), entry.encode());
                    self.insert(entry);
                }
                Op::Cancel(id) => {
                    if self.remove(&id).is_some() {
                        batch.delete(keys::schedule(&id));
                    }
                }
            }
        }
    }

    /// Wakes the actor at `at_ms` (if it sleeps then) without calling an action: how a
    /// workflow's durable sleep ends while the actor is asleep.
    pub(crate) fn wake_at(&mut self, id: String, at_ms: i64) {
        self.turn.push(Op::Add(Entry {
            id,
            at_ms,
            action: String::new(),
            args: Bytes::new(),
        }));
    }

    /// Cancels a wake-up made with [`wake_at`](Self::wake_at) (nothing if it already fired).
    pub(crate) fn cancel_wake(&mut self, id: &str) {
        self.turn.push(Op::Cancel(id.to_owned()));
    }

    /// Drops the turn's changes (the turn failed).
    pub(crate) fn discard_turn(&mut self) {
        self.turn.clear();
    }

    /// The schedules as the current turn sees them.
    fn view(&self) -> BTreeMap<String, Entry> {
        let mut view = self.entries.clone();
        for op in &self.turn {
            match op {
                Op::Add(entry) => {
                    view.insert(entry.id.clone(), entry.clone());
                }
                Op::Cancel(id) => {
                    view.remove(id);
                }
            }
        }
        view
    }
}

/// Schedules actions of actor `A` (`cx.schedule()`); see the [module docs](self).
///
/// ```
/// use std::time::Duration;
/// use rivet_core::prelude::*;
///
/// #[derive(Default, Serialize, Deserialize)]
/// pub struct Reminder {
///     sent: Vec<String>,
/// }
///
/// #[actor(name = "reminder")]
/// impl Reminder {
///     /// Sends `text` in `secs` seconds; returns the schedule's id.
///     #[action]
///     fn remind_me(&self, cx: &mut Cx<Self>, text: String, secs: u64) -> Result<String, Error> {
///         cx.schedule().after(Duration::from_secs(secs), ReminderCall::send(text))
///     }
///
///     #[action]
///     fn send(&mut self, text: String) {
///         self.sent.push(text);
///     }
/// }
/// ```
pub struct Schedule<'a, A> {
    schedules: &'a mut Schedules,
    _actor: PhantomData<fn() -> A>,
}

impl<A> std::fmt::Debug for Schedule<'_, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.schedules.fmt(f)
    }
}

impl<'a, A> Schedule<'a, A> {
    pub(crate) fn new(schedules: &'a mut Schedules) -> Self {
        Self {
            schedules,
            _actor: PhantomData,
        }
    }

    /// Runs `call` after `delay`; returns the schedule's id.
    pub fn after(&mut self, delay: Duration, call: Call<A>) -> Result<String, Error> {
        self.at(SystemTime::now() + delay, call)
    }

    /// Runs `call` at `time` (at once, after this turn, if it is past); returns the schedule's id.
    pub fn at(&mut self, time: SystemTime, call: Call<A>) -> Result<String, Error> {
        let args = call.args.map_err(Error::public)?;
        let id = new_id();
        self.schedules.turn.push(Op::Add(Entry {
            id: id.clone(),
            at_ms: to_ms(time),
            action: call.action.to_owned(),
            args,
        }));
        Ok(id)
    }

    /// Cancels a schedule; returns whether it existed.
    pub fn cancel(&mut self, id: &str) -> bool {
        let exists = self.schedules.view().get(id).is_some_and(|e| !e.is_wake());
        if exists {
            self.schedules.turn.push(Op::Cancel(id.to_owned()));
        }
        exists
    }

    /// A schedule by id.
    pub fn get(&self, id: &str) -> Option<ScheduledCall> {
        self.schedules
            .view()
            .get(id)
            .filter(|e| !e.is_wake())
            .map(Entry::public)
    }

    /// Every schedule, earliest first.
    pub fn list(&self) -> Vec<ScheduledCall> {
        self.schedules.calls()
    }
}

impl Schedules {
    /// Every schedule (not the internal wake-ups), earliest first.
    pub(crate) fn calls(&self) -> Vec<ScheduledCall> {
        let mut all: Vec<ScheduledCall> = self
            .view()
            .values()
            .filter(|e| !e.is_wake())
            .map(Entry::public)
            .collect();
        all.sort_by(|a, b| a.run_at.cmp(&b.run_at).then_with(|| a.id.cmp(&b.id)));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::KvOp;

    struct Pinger;

    fn call(action: &'static str) -> Call<Pinger> {
        Call::new(action, Ok(Bytes::from_static(&[0x80])))
    }

    fn written(batch: &Batch) -> Vec<(String, bool)> {
        batch
            .ops
            .iter()
            .map(|op| match op {
                KvOp::Put(k, _) => (keys::schedule_id(k).unwrap_or("?").to_owned(), true),
                KvOp::Delete(k) => (keys::schedule_id(k).unwrap_or("?").to_owned(), false),
            })
            .collect()
    }

    #[test]
    fn a_turn_s_schedules_are_visible_to_it_and_written_only_when_it_commits() {
        let mut schedules = Schedules::default();
        let now = SystemTime::now();
        let (later, sooner) = {
            let mut api = Schedule::<Pinger>::new(&mut schedules);
            let later = api
                .at(now + Duration::from_secs(60), call("later"))
                .expect("at");
            let sooner = api
                .at(now + Duration::from_secs(1), call("sooner"))
                .expect("at");
            let listed: Vec<_> = api.list().into_iter().map(|c| c.action).collect();
            assert_eq!(listed, ["sooner", "later"]);
            assert!(api.cancel(&sooner));
            assert!(!api.cancel(&sooner), "already cancelled");
            assert_eq!(api.get(&later).map(|c| c.action), Some("later".to_owned()));
            (later, sooner)
        };
        // Nothing is committed before the turn ends.
        assert_eq!(schedules.next_due(), None);
        let mut batch = Batch::default();
        schedules.finish_turn(&mut batch);
        // The cancelled one is written and deleted in the same atomic batch.
        assert_eq!(
            written(&batch),
            [
                (later.clone(), true),
                (sooner.clone(), true),
                (sooner, false)
            ]
        );
        assert_eq!(
            schedules.next_due(),
            Some(to_ms(now + Duration::from_secs(60)))
        );
        // A failed turn's changes are dropped.
        assert!(Schedule::<Pinger>::new(&mut schedules).cancel(&later));
        schedules.discard_turn();
        let mut batch = Batch::default();
        schedules.finish_turn(&mut batch);
        assert!(batch.is_empty());
        assert!(
            Schedule::<Pinger>::new(&mut schedules)
                .get(&later)
                .is_some()
        );
    }

    #[test]
    fn due_schedules_are_taken_once_earliest_first_and_removed_in_the_batch() {
        let mut schedules = Schedules::load(vec![
            Entry {
                id: "b".into(),
                at_ms: 200,
                action: "second".into(),
                args: Bytes::new(),
            },
            Entry {
                id: "a".into(),
                at_ms: 100,
                action: "first".into(),
                args: Bytes::new(),
            },
        ]);
        let mut batch = Batch::default();
        assert!(schedules.take_due(99, &mut batch).is_none());
        assert!(batch.is_empty());
        assert_eq!(
            schedules.take_due(150, &mut batch).map(|e| e.action),
            Some("first".into())
        );
        assert!(schedules.take_due(150, &mut batch).is_none(), "taken once");
        assert_eq!(written(&batch), [("a".to_owned(), false)]);
        assert_eq!(schedules.next_due(), Some(200));
    }

    #[test]
    fn wake_ups_are_internal_and_entries_round_trip_through_storage() {
        let mut schedules = Schedules::default();
        schedules.wake_at("w".into(), 500);
        let mut batch = Batch::default();
        schedules.finish_turn(&mut batch);
        assert_eq!(schedules.next_due(), Some(500), "a wake-up wakes the actor");
        let api = Schedule::<Pinger>::new(&mut schedules);
        assert!(
            api.list().is_empty() && api.get("w").is_none(),
            "but is no user schedule"
        );
        let KvOp::Put(key, value) = &batch.ops[0] else {
            panic!("a put: {:?}", batch.ops);
        };
        let entry = Entry::decode(key, value).expect("decode");
        assert!(entry.is_wake());
        assert_eq!((entry.id.as_str(), entry.at_ms), ("w", 500));
        schedules.cancel_wake("w");
        let mut batch = Batch::default();
        schedules.finish_turn(&mut batch);
        assert_eq!(written(&batch), [("w".to_owned(), false)]);
        assert_eq!(schedules.next_due(), None);
        let error = Entry::decode(key, &[0xff])
            .map(|_| ())
            .expect_err("corrupt");
        assert!(matches!(error, StorageError::Corrupt { .. }));
    }
}
