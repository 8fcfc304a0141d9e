//! `timer`: an actor that exercises `cx.schedule()`.

use std::sync::Arc;
use std::time::Duration;

use rivet_core::prelude::*;
use tokio::sync::Semaphore;

use crate::support::sync::{entered, gate, semaphore};

/// A permit for every run of [`Timer`]'s `record(text)`, so a test can wait for a schedule to
/// fire even while the actor sleeps between.
pub fn fired(text: &str) -> Arc<Semaphore> {
    semaphore(&format!("fired:{text}"))
}

/// An actor that exercises `cx.schedule()`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Timer {
    /// What scheduled calls recorded, in order.
    pub log: Vec<String>,
}

#[actor(name = "timer")]
impl Timer {
    /// Schedules `record(text)` in `ms` milliseconds.
    #[action]
    fn remind(&self, cx: &mut Cx<Self>, text: String, ms: u64) -> Result<String, Error> {
        cx.schedule()
            .after(Duration::from_millis(ms), TimerCall::record(text))
    }

    /// Schedules `record(text)` at `unix_ms` milliseconds since the epoch.
    #[action]
    fn remind_at(&self, cx: &mut Cx<Self>, text: String, unix_ms: u64) -> Result<String, Error> {
        let at = std::time::UNIX_EPOCH + Duration::from_millis(unix_ms);
        cx.schedule().at(at, TimerCall::record(text))
    }

    /// Schedules, then fails: the schedule must not survive.
    #[action]
    fn remind_then_fail(&self, cx: &mut Cx<Self>, text: String) -> Result<(), Error> {
        cx.schedule()
            .after(Duration::from_millis(1), TimerCall::record(text))?;
        Err(UserError::new("failed", "after scheduling").into())
    }

    /// Schedules `explode()` at once and `record(text)` after it.
    #[action]
    fn explode_then(&self, cx: &mut Cx<Self>, text: String) -> Result<(), Error> {
        cx.schedule().after(Duration::ZERO, TimerCall::explode())?;
        cx.schedule()
            .after(Duration::from_millis(5), TimerCall::record(text))?;
        Ok(())
    }

    /// A scheduled action that fails.
    #[action]
    fn explode(&mut self) -> Result<(), UserError> {
        self.log.push("explode".into());
        Err(UserError::new("boom", "scheduled failure"))
    }

    /// What a schedule runs: logs `text` in the state and signals [`fired`].
    #[action]
    fn record(&mut self, text: String) {
        self.log.push(text.clone());
        fired(&text).add_permits(1);
    }

    /// The log.
    #[action]
    fn log(&self) -> Vec<String> {
        self.log.clone()
    }

    /// `(id, action)` of every schedule, earliest first.
    #[action]
    fn list(&self, cx: &mut Cx<Self>) -> Vec<(String, String)> {
        cx.schedule()
            .list()
            .into_iter()
            .map(|s| (s.id, s.action))
            .collect()
    }

    /// The action of schedule `id`.
    #[action]
    fn get(&self, cx: &mut Cx<Self>, id: String) -> Option<String> {
        cx.schedule().get(&id).map(|s| s.action)
    }

    /// Cancels schedule `id`.
    #[action]
    fn cancel(&self, cx: &mut Cx<Self>, id: String) -> bool {
        cx.schedule().cancel(&id)
    }

    /// Schedules `record(text)` in `ms` milliseconds and sleeps after this turn: the actor is
    /// asleep before the schedule is due, however short `ms` and however slow the machine.
    #[action]
    fn remind_then_nap(&self, cx: &mut Cx<Self>, text: String, ms: u64) -> Result<String, Error> {
        let id = cx
            .schedule()
            .after(Duration::from_millis(ms), TimerCall::record(text))?;
        cx.sleep();
        Ok(id)
    }

    /// Signals `entered(name)`, waits for `gate(name)`, then schedules `record(text)` at
    /// `unix_ms` and sleeps after this turn. A test opens the gate once its registry is shutting
    /// down, when nothing can wake the actor any more: the schedule is stored and does not run
    /// in this process, even if it is already due.
    #[action]
    async fn remind_at_when_let_go(
        &self,
        cx: &mut Cx<Self>,
        text: String,
        unix_ms: u64,
        name: String,
    ) -> Result<String, Error> {
        entered(&name).add_permits(1);
        if let Ok(permit) = gate(&name).acquire().await {
            permit.forget();
        }
        let at = std::time::UNIX_EPOCH + Duration::from_millis(unix_ms);
        let id = cx.schedule().at(at, TimerCall::record(text))?;
        cx.sleep();
        Ok(id)
    }
}
