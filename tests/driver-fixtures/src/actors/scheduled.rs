//! `scheduled` (scheduled.ts) and `scheduledDb` (scheduled-db.ts): actions called later by the
//! actor's own schedule, one of them writing to the database.

use std::time::{Duration, UNIX_EPOCH};

use rivet_core::prelude::*;

use crate::js::now_ms;

/// `scheduled`'s payload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ran {
    time: f64,
    count: u64,
}

/// `scheduledWithId`'s payload.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RanWithId {
    task_id: String,
    time: f64,
    count: u64,
}

/// When a scheduled task last ran, how many did, and the ids of those that had one.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Scheduled {
    last_run: f64,
    scheduled_count: u64,
    task_history: Vec<String>,
}

#[actor(name = "scheduled")]
impl Scheduled {
    /// Runs `onScheduledTask` at `timestamp` (ms since the epoch).
    #[action]
    fn schedule_task_at(&self, cx: &mut Cx<Self>, timestamp: f64) -> Result<f64, Error> {
        let at = UNIX_EPOCH + Duration::from_secs_f64(timestamp.max(0.0) / 1000.0);
        cx.schedule().at(at, ScheduledCall::on_scheduled_task())?;
        Ok(timestamp)
    }

    #[action]
    fn schedule_task_after(&self, cx: &mut Cx<Self>, delay_ms: u64) -> Result<f64, Error> {
        cx.schedule().after(
            Duration::from_millis(delay_ms),
            ScheduledCall::on_scheduled_task(),
        )?;
        #[allow(clippy::cast_precision_loss)]
        Ok(now_ms() + delay_ms as f64)
    }

    #[action]
    fn schedule_task_after_with_id(
        &self,
        cx: &mut Cx<Self>,
        task_id: String,
        delay_ms: u64,
    ) -> Result<serde_json::Value, Error> {
        cx.schedule().after(
            Duration::from_millis(delay_ms),
            ScheduledCall::on_scheduled_task_with_id(task_id.clone()),
        )?;
        #[allow(clippy::cast_precision_loss)]
        let scheduled_for = now_ms() + delay_ms as f64;
        Ok(serde_json::json!({ "taskId": task_id, "scheduledFor": scheduled_for }))
    }

    #[action]
    fn schedule_task(&self, cx: &mut Cx<Self>, delay_ms: u64) -> Result<f64, Error> {
        #[allow(clippy::cast_precision_loss)]
        let timestamp = now_ms() + delay_ms as f64;
        self.schedule_task_at(cx, timestamp)
    }

    #[action]
    fn get_last_run(&self) -> f64 {
        self.last_run
    }

    #[action]
    fn get_scheduled_count(&self) -> u64 {
        self.scheduled_count
    }

    #[action]
    fn get_task_history(&self) -> Vec<String> {
        self.task_history.clone()
    }

    #[action]
    fn clear_history(&mut self) -> bool {
        self.task_history.clear();
        self.scheduled_count = 0;
        self.last_run = 0.0;
        true
    }

    #[action]
    fn on_scheduled_task(&mut self, cx: &mut Cx<Self>) {
        self.last_run = now_ms();
        self.scheduled_count += 1;
        cx.broadcast(ScheduledEvent::Scheduled(Ran {
            time: self.last_run,
            count: self.scheduled_count,
        }));
    }

    #[action]
    fn on_scheduled_task_with_id(&mut self, cx: &mut Cx<Self>, task_id: String) {
        self.last_run = now_ms();
        self.scheduled_count += 1;
        self.task_history.push(task_id.clone());
        cx.broadcast(ScheduledEvent::ScheduledWithId(RanWithId {
            task_id,
            time: self.last_run,
            count: self.scheduled_count,
        }));
    }

    #[event]
    fn scheduled(ran: Ran);

    #[event]
    fn scheduled_with_id(ran: RanWithId);
}

/// How many scheduled writes ran; each also leaves a row in `scheduled_log`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ScheduledDb {
    scheduled_count: u64,
}

#[actor(
    name = "scheduledDb",
    migrations = &["CREATE TABLE IF NOT EXISTS scheduled_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        action TEXT NOT NULL,
        created_at INTEGER NOT NULL
    )"]
)]
impl ScheduledDb {
    #[action]
    fn schedule_db_write(&self, cx: &mut Cx<Self>, delay_ms: u64) -> Result<(), Error> {
        cx.schedule().after(
            Duration::from_millis(delay_ms),
            ScheduledDbCall::on_scheduled_db_write(),
        )?;
        Ok(())
    }

    #[action]
    fn on_scheduled_db_write(&mut self, cx: &mut Cx<Self>) -> Result<(), Error> {
        self.scheduled_count += 1;
        #[allow(clippy::cast_possible_truncation)]
        let now = now_ms() as i64;
        cx.db()?.execute(
            "INSERT INTO scheduled_log (action, created_at) VALUES ('scheduled', ?)",
            (now,),
        )?;
        Ok(())
    }

    #[action]
    fn get_log_count(&self, cx: &mut Cx<Self>) -> Result<i64, Error> {
        Ok(cx
            .db()?
            .query_column::<i64, _>("SELECT COUNT(*) FROM scheduled_log", ())?
            .first()
            .copied()
            .unwrap_or(0))
    }

    #[action]
    fn get_scheduled_count(&self) -> u64 {
        self.scheduled_count
    }
}
