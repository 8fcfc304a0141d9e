//! Alarms: when sleeping actors with schedules must wake, one timer task for all of them.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard, Weak};

use super::RegistryInner;
use crate::report::chain;
use crate::storage::{ActorRecord, Lookup};
use crate::sync::lock;
use crate::time::now_ms;

/// Wake-up times of sleeping actors with schedules, one per actor.
#[derive(Default)]
pub(super) struct Alarms {
    pub(super) by_time: BTreeSet<(i64, String)>,
    pub(super) by_actor: HashMap<String, (i64, ActorRecord)>,
}

impl RegistryInner {
    pub(super) fn alarms(&self) -> MutexGuard<'_, Alarms> {
        lock(&self.alarms)
    }

    /// Wakes `record` at `at_ms` (ms since the epoch), replacing its earlier alarm.
    pub(crate) fn set_alarm(&self, record: ActorRecord, at_ms: i64) {
        if self.storage.alarm(record.storage_id, Some(at_ms)) {
            return;
        }
        let mut alarms = self.alarms();
        let id = record.id.clone();
        if let Some((old, _)) = alarms.by_actor.insert(id.clone(), (at_ms, record)) {
            alarms.by_time.remove(&(old, id.clone()));
        }
        alarms.by_time.insert((at_ms, id));
        drop(alarms);
        self.alarms_changed.notify_one();
    }

    /// Forgets the alarm of a destroyed actor.
    pub(crate) fn clear_alarm(&self, actor_id: &str) {
        let mut alarms = self.alarms();
        if let Some((at, _)) = alarms.by_actor.remove(actor_id) {
            alarms.by_time.remove(&(at, actor_id.to_owned()));
        }
    }

    /// Wakes sleeping actors when their alarms are due; ends when the registry shuts down
    /// (dropping the last `Registry` does that too).
    pub(super) async fn run_alarms(registry: Weak<Self>) {
        loop {
            let Some(inner) = registry.upgrade() else {
                return;
            };
            if inner.shutting_down.load(Ordering::Acquire) {
                return;
            }
            // Registered before looking, so a change made meanwhile is not missed.
            let changed = inner.alarms_changed.notified();
            let next = inner.alarms().by_time.first().cloned();
            let now = now_ms();
            match next {
                Some((at, id)) if at <= now => {
                    let record = {
                        let mut alarms = inner.alarms();
                        alarms.by_time.remove(&(at, id.clone()));
                        alarms.by_actor.remove(&id).map(|(_, record)| record)
                    };
                    if let Some(record) = record {
                        inner.wake_for_alarm(record).await;
                    }
                }
                Some((at, _)) => {
                    tokio::select! {
                        () = tokio::time::sleep(crate::time::until_ms(at)) => {}
                        () = changed => {}
                    }
                }
                None => changed.await,
            }
        }
    }

    pub(super) async fn wake_for_alarm(self: &Arc<Self>, record: ActorRecord) {
        // A destroyed actor keeps no alarm, but check: waking a missing actor would create it.
        match self.storage.lookup(Lookup::Id(&record.id)).await {
            Ok(Some(record)) => {
                if let Err(error) = self.wake(record) {
                    tracing::warn!(%error, "cannot wake an actor for its schedule");
                }
            }
            Ok(None) => {}
            Err(error) => {
                tracing::error!(error = %chain(&error), "cannot look up an actor for its schedule")
            }
        }
    }
}
