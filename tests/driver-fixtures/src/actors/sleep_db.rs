//! The actors of RivetKit's sleep-db.ts that a turn-based actor expresses: the database in
//! the wake and sleep hooks, in schedules and in a closing connection's hook. (Those built on
//! `waitUntil`, `preventSleep` or work that outlives its handler are not written: a Rust
//! actor's hooks and actions are turns, see COMPATIBILITY.md.)

use std::time::Duration;

use rivet_core::prelude::*;

use super::sleep::Counts;
use crate::js::now_ms_int as now_ms;

/// RivetKit's `SLEEP_DB_TIMEOUT`.
const SLEEP_DB_TIMEOUT: Duration = Duration::from_millis(1000);

/// The log every actor here keeps.
const MIGRATIONS: &[&str] = &["CREATE TABLE IF NOT EXISTS sleep_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event TEXT NOT NULL,
    created_at INTEGER NOT NULL
)"];

/// One log entry.
#[derive(Debug, Serialize, Deserialize)]
pub struct LogEntry {
    id: i64,
    event: String,
    created_at: i64,
}

fn log<A: rivet_core::Actor>(cx: &mut Cx<A>, event: &str) -> Result<(), Error> {
    cx.db()?.execute(
        "INSERT INTO sleep_log (event, created_at) VALUES (?, ?)",
        (event, now_ms()),
    )?;
    Ok(())
}

fn entries<A: rivet_core::Actor>(cx: &mut Cx<A>) -> Result<Vec<LogEntry>, Error> {
    cx.db()?.query("SELECT * FROM sleep_log ORDER BY id", ())
}

/// `sleepWithDb`: writes to its database on wake, on sleep and from an alarm.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SleepWithDb {
    start_count: u64,
    sleep_count: u64,
    on_sleep_db_write_success: bool,
    on_sleep_db_write_error: Option<String>,
}

#[actor(
    name = "sleepWithDb",
    migrations = MIGRATIONS,
    options = ActorOptions::new().sleep_timeout(SLEEP_DB_TIMEOUT)
)]
impl SleepWithDb {
    #[on_wake]
    fn woke(&mut self, cx: &mut Cx<Self>) -> Result<(), Error> {
        self.start_count += 1;
        log(cx, "wake")
    }

    #[on_sleep]
    fn slept(&mut self, cx: &mut Cx<Self>) {
        self.sleep_count += 1;
        match log(cx, "sleep") {
            Ok(()) => self.on_sleep_db_write_success = true,
            Err(error) => self.on_sleep_db_write_error = Some(error.to_string()),
        }
    }

    #[action]
    fn trigger_sleep(&self, cx: &mut Cx<Self>) {
        cx.sleep();
    }

    #[action]
    fn get_counts(&self) -> serde_json::Value {
        serde_json::json!({
            "startCount": self.start_count,
            "sleepCount": self.sleep_count,
            "onSleepDbWriteSuccess": self.on_sleep_db_write_success,
            "onSleepDbWriteError": self.on_sleep_db_write_error,
        })
    }

    #[action]
    fn get_log_entries(&self, cx: &mut Cx<Self>) -> Result<Vec<LogEntry>, Error> {
        entries(cx)
    }

    #[action]
    fn insert_log_entry(&self, cx: &mut Cx<Self>, event: String) -> Result<(), Error> {
        log(cx, &event)
    }

    #[action]
    fn set_alarm(&self, cx: &mut Cx<Self>, delay_ms: u64) -> Result<(), Error> {
        cx.schedule()
            .after(Duration::from_millis(delay_ms), SleepWithDbCall::on_alarm())?;
        Ok(())
    }

    #[action]
    fn on_alarm(&self, cx: &mut Cx<Self>) -> Result<(), Error> {
        log(cx, "alarm")
    }
}

/// `sleepWithSlowScheduledDb`: a scheduled action that writes, works a while, and writes again.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SleepWithSlowScheduledDb {
    #[serde(flatten)]
    counts: Counts,
}

#[actor(
    name = "sleepWithSlowScheduledDb",
    migrations = MIGRATIONS,
    options = ActorOptions::new().sleep_timeout(SLEEP_DB_TIMEOUT)
)]
impl SleepWithSlowScheduledDb {
    #[on_wake]
    fn woke(&mut self, cx: &mut Cx<Self>) -> Result<(), Error> {
        self.counts.start_count += 1;
        log(cx, "wake")
    }

    #[on_sleep]
    fn slept(&mut self, cx: &mut Cx<Self>) -> Result<(), Error> {
        self.counts.sleep_count += 1;
        log(cx, "sleep")
    }

    #[action]
    fn schedule_slow_alarm(
        &self,
        cx: &mut Cx<Self>,
        delay_ms: u64,
        work_ms: u64,
    ) -> Result<(), Error> {
        cx.schedule().after(
            Duration::from_millis(delay_ms),
            SleepWithSlowScheduledDbCall::on_slow_alarm(work_ms),
        )?;
        Ok(())
    }

    #[action]
    fn get_counts(&self) -> Counts {
        self.counts.clone()
    }

    #[action]
    fn get_log_entries(&self, cx: &mut Cx<Self>) -> Result<Vec<LogEntry>, Error> {
        entries(cx)
    }

    #[action]
    async fn on_slow_alarm(&self, cx: &mut Cx<Self>, work_ms: u64) -> Result<(), Error> {
        log(cx, "slow-alarm-start")?;
        tokio::time::sleep(Duration::from_millis(work_ms)).await;
        log(cx, "slow-alarm-finish")
    }
}

/// `sleepWithDbConn`: a closing connection writes to the database, also while the actor goes
/// to sleep.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SleepWithDbConn {
    #[serde(flatten)]
    counts: Counts,
}

#[actor(
    name = "sleepWithDbConn",
    migrations = MIGRATIONS,
    options = ActorOptions::new().sleep_timeout(SLEEP_DB_TIMEOUT)
)]
impl SleepWithDbConn {
    #[on_wake]
    fn woke(&mut self, cx: &mut Cx<Self>) -> Result<(), Error> {
        self.counts.start_count += 1;
        log(cx, "wake")
    }

    #[on_disconnect]
    fn disconnected(&self, cx: &mut Cx<Self>) {
        if let Err(error) = log(cx, "disconnect") {
            tracing::warn!(%error, "onDisconnect db write failed");
        }
    }

    #[on_sleep]
    fn slept(&mut self, cx: &mut Cx<Self>) {
        self.counts.sleep_count += 1;
        if let Err(error) = log(cx, "sleep") {
            tracing::warn!(%error, "onSleep db write failed");
        }
    }

    #[action]
    fn trigger_sleep(&self, cx: &mut Cx<Self>) {
        cx.sleep();
    }

    #[action]
    fn get_counts(&self) -> Counts {
        self.counts.clone()
    }

    #[action]
    fn get_log_entries(&self, cx: &mut Cx<Self>) -> Result<Vec<LogEntry>, Error> {
        entries(cx)
    }

    #[action]
    fn insert_log_entry(&self, cx: &mut Cx<Self>, event: String) -> Result<(), Error> {
        log(cx, &event)
    }
}

/// `sleepWithDbAction`: its sleep hook writes, broadcasts `sleeping`, works 500 ms and writes
/// again.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SleepWithDbAction {
    #[serde(flatten)]
    counts: Counts,
}

#[actor(
    name = "sleepWithDbAction",
    migrations = MIGRATIONS,
    options = ActorOptions::new().sleep_timeout(SLEEP_DB_TIMEOUT)
)]
impl SleepWithDbAction {
    #[on_wake]
    fn woke(&mut self, cx: &mut Cx<Self>) -> Result<(), Error> {
        self.counts.start_count += 1;
        log(cx, "wake")
    }

    #[on_sleep]
    async fn slept(&mut self, cx: &mut Cx<Self>) {
        self.counts.sleep_count += 1;
        if let Err(error) = log(cx, "sleep-start") {
            tracing::warn!(%error, "onSleep error");
            return;
        }
        cx.broadcast(SleepWithDbActionEvent::Sleeping);
        tokio::time::sleep(Duration::from_millis(500)).await;
        if let Err(error) = log(cx, "sleep-end") {
            tracing::warn!(%error, "onSleep error");
        }
    }

    #[action]
    fn trigger_sleep(&self, cx: &mut Cx<Self>) {
        cx.sleep();
    }

    #[action]
    fn get_counts(&self) -> Counts {
        self.counts.clone()
    }

    #[action]
    fn get_log_entries(&self, cx: &mut Cx<Self>) -> Result<Vec<LogEntry>, Error> {
        entries(cx)
    }

    #[action]
    fn insert_log_entry(&self, cx: &mut Cx<Self>, event: String) -> Result<(), Error> {
        log(cx, &event)
    }

    #[event]
    fn sleeping();
}

/// `sleepScheduleAfter`: its sleep hook schedules an action, which runs on the next wake.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SleepScheduleAfter {
    #[serde(flatten)]
    counts: Counts,
}

#[actor(
    name = "sleepScheduleAfter",
    migrations = MIGRATIONS,
    options = ActorOptions::new().sleep_timeout(SLEEP_DB_TIMEOUT)
)]
impl SleepScheduleAfter {
    #[on_wake]
    fn woke(&mut self, cx: &mut Cx<Self>) -> Result<(), Error> {
        self.counts.start_count += 1;
        log(cx, "wake")
    }

    #[on_sleep]
    fn slept(&mut self, cx: &mut Cx<Self>) -> Result<(), Error> {
        self.counts.sleep_count += 1;
        cx.schedule().after(
            Duration::from_millis(100),
            SleepScheduleAfterCall::on_scheduled_action(),
        )?;
        log(cx, "sleep")
    }

    #[action]
    fn trigger_sleep(&self, cx: &mut Cx<Self>) {
        cx.sleep();
    }

    #[action]
    fn get_counts(&self) -> Counts {
        self.counts.clone()
    }

    #[action]
    fn get_log_entries(&self, cx: &mut Cx<Self>) -> Result<Vec<LogEntry>, Error> {
        entries(cx)
    }

    #[action]
    fn on_scheduled_action(&self, cx: &mut Cx<Self>) -> Result<(), Error> {
        log(cx, "scheduled-action")
    }
}

/// `sleepOnSleepThrows`: its sleep hook writes and then fails. A failed hook's turn is rolled
/// back, as every failed turn is, so the write does not stay (RivetKit keeps it).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SleepOnSleepThrows {
    #[serde(flatten)]
    counts: Counts,
}

#[actor(
    name = "sleepOnSleepThrows",
    migrations = MIGRATIONS,
    options = ActorOptions::new().sleep_timeout(SLEEP_DB_TIMEOUT)
)]
impl SleepOnSleepThrows {
    #[on_wake]
    fn woke(&mut self, cx: &mut Cx<Self>) -> Result<(), Error> {
        self.counts.start_count += 1;
        log(cx, "wake")
    }

    #[on_sleep]
    fn slept(&mut self, cx: &mut Cx<Self>) -> Result<(), Error> {
        self.counts.sleep_count += 1;
        log(cx, "sleep-before-throw")?;
        Err(Error::internal("onSleep intentional error"))
    }

    #[action]
    fn trigger_sleep(&self, cx: &mut Cx<Self>) {
        cx.sleep();
    }

    #[action]
    fn get_counts(&self) -> Counts {
        self.counts.clone()
    }

    #[action]
    fn get_log_entries(&self, cx: &mut Cx<Self>) -> Result<Vec<LogEntry>, Error> {
        entries(cx)
    }
}

/// `sleepEnqueue`: its sleep hook sends to its own queue (`cx.enqueue`, with the hook's turn).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SleepEnqueue {
    start_count: u64,
    sleep_count: u64,
    enqueue_success: bool,
    enqueue_error: Option<String>,
}

#[actor(
    name = "sleepEnqueue",
    migrations = MIGRATIONS,
    options = ActorOptions::new().sleep_timeout(SLEEP_DB_TIMEOUT)
)]
impl SleepEnqueue {
    #[on_wake]
    fn woke(&mut self, cx: &mut Cx<Self>) -> Result<(), Error> {
        self.start_count += 1;
        log(cx, "wake")
    }

    #[on_sleep]
    fn slept(&mut self, cx: &mut Cx<Self>) -> Result<(), Error> {
        self.sleep_count += 1;
        match cx.enqueue("work", "enqueued-during-sleep") {
            Ok(()) => self.enqueue_success = true,
            Err(error) => self.enqueue_error = Some(error.to_string()),
        }
        log(cx, "sleep")
    }

    /// Declared for the sleep hook's message; nothing takes it (as in RivetKit's fixture).
    #[queue]
    fn work(message: String);

    #[action]
    fn trigger_sleep(&self, cx: &mut Cx<Self>) {
        cx.sleep();
    }

    #[action]
    fn get_counts(&self) -> serde_json::Value {
        serde_json::json!({
            "startCount": self.start_count,
            "sleepCount": self.sleep_count,
            "enqueueSuccess": self.enqueue_success,
            "enqueueError": self.enqueue_error,
        })
    }

    #[action]
    fn get_log_entries(&self, cx: &mut Cx<Self>) -> Result<Vec<LogEntry>, Error> {
        entries(cx)
    }
}
