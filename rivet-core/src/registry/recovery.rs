//! Start-up: actors that had work waiting when the process stopped resume it without waiting
//! for a request — queued messages, unfinished workflows, and schedules (missed ones run at
//! once).

use std::collections::HashSet;
use std::sync::Arc;

use super::RegistryInner;
use crate::report::chain;
use crate::schedule::Entry;
use crate::storage::StorageError;
use crate::storage::keys;

impl RegistryInner {
    /// Wakes the actors with work waiting and sets the alarms of those with schedules.
    pub(super) async fn recover(self: Arc<Self>) {
        if let Err(error) = self.wake_with_queued_messages().await {
            tracing::error!(error = %chain(&error), "cannot list actors with queued messages");
        }
        // Actors whose workflow had not finished resume it.
        if let Err(error) = self.wake_unfinished_workflows().await {
            tracing::error!(error = %chain(&error), "cannot list actors with unfinished workflows");
        }
        // Actors with schedules wake when the first one is due (at once for missed ones).
        if let Err(error) = self.load_alarms().await {
            tracing::error!(error = %chain(&error), "cannot load the schedules of sleeping actors");
        }
        self.recovered.send_replace(true);
    }

    /// Wakes every actor with queued messages, so its queue drains; but not one that went to
    /// sleep with messages its code cannot take, unless its code changed since (its dormant
    /// marker holds what the code could take then). A message sent to it wakes it.
    pub(super) async fn wake_with_queued_messages(self: &Arc<Self>) -> Result<(), StorageError> {
        let mut dormant = HashSet::new();
        for record in self.storage.actors_with_prefix(keys::QUEUE_DORMANT).await? {
            let Ok(factory) = self.factory(&record.name) else {
                continue;
            };
            let marker = self
                .storage
                .get(record.storage_id, keys::QUEUE_DORMANT)
                .await?;
            if marker.is_some_and(|m| m == factory.queue_consumers()) {
                dormant.insert(record.storage_id);
            }
        }
        for record in self.storage.actors_with_prefix(keys::QUEUE_PREFIX).await? {
            if dormant.contains(&record.storage_id) {
                continue;
            }
            if let Err(error) = self.wake(record) {
                tracing::warn!(%error, "cannot wake an actor with queued messages");
            }
        }
        Ok(())
    }

    /// At start-up: wakes every actor with workflow history but no recorded output.
    pub(super) async fn wake_unfinished_workflows(self: &Arc<Self>) -> Result<(), StorageError> {
        use crate::storage::keys::WORKFLOW;
        // Two listings rather than a read per actor.
        let finished: HashSet<i64> = self
            .storage
            .actors_with_prefix(crate::storage::keys::WORKFLOW_OUTPUT)
            .await?
            .iter()
            .map(|record| record.storage_id)
            .collect();
        for record in self.storage.actors_with_prefix(WORKFLOW).await? {
            if !finished.contains(&record.storage_id)
                && let Err(error) = self.wake(record)
            {
                tracing::warn!(%error, "cannot wake an actor with an unfinished workflow");
            }
        }
        Ok(())
    }

    /// At start-up: an alarm for every actor with schedules, at its earliest one.
    pub(super) async fn load_alarms(&self) -> Result<(), StorageError> {
        use crate::storage::keys::SCHEDULES;
        for record in self.storage.actors_with_prefix(SCHEDULES).await? {
            let entries = self
                .storage
                .scan_prefix(record.storage_id, SCHEDULES)
                .await?;
            let mut earliest: Option<i64> = None;
            for (key, value) in &entries {
                match Entry::decode(key, value) {
                    Ok(entry) => {
                        earliest = Some(earliest.map_or(entry.at_ms, |e| e.min(entry.at_ms)))
                    }
                    Err(error) => {
                        tracing::error!(actor = %record.id, error = %chain(&error), "unreadable schedule")
                    }
                }
            }
            if let Some(at) = earliest {
                self.set_alarm(record, at);
            }
        }
        Ok(())
    }
}
