//! `probe`: an actor that exercises the macro and the runtime: hooks, vars, events, a queue
//! handler, connections, failures, limits, sleep and destroy.

use std::time::Duration;

use rivet_core::prelude::*;

use crate::support::log::record;
use crate::support::sync::{entered, gate};

/// Creation input of [`Probe`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProbeInput {
    /// The initial value; negative values are refused with a `UserError`.
    pub start: i64,
}

/// A snapshot of a [`Probe`]'s state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeSnapshot {
    /// The value.
    pub value: i64,
    /// How many times `on_create` ran.
    pub created: u32,
    /// How many times `on_wake` ran.
    pub wakes: u32,
    /// How many times `on_sleep` ran.
    pub sleeps: u32,
    /// How many times `on_state_change` ran.
    pub changes: u32,
    /// The key parts.
    pub key: Vec<String>,
}

/// A task for the probe's queue.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Task {
    /// The value to add.
    pub add: i64,
    /// Fail the handler instead.
    pub fail: bool,
    /// Hold the handler until `gate(name)` opens.
    pub hold: Option<String>,
}

impl Task {
    /// A task that adds `n`.
    pub fn add(n: i64) -> Self {
        Self {
            add: n,
            ..Self::default()
        }
    }
}

/// An actor that exercises every feature of the macro and runtime.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Probe {
    value: i64,
    created: u32,
    wakes: u32,
    sleeps: u32,
    changes: u32,
    padding: String,
    log: Vec<i64>,
}

/// The probe's ephemeral vars.
#[derive(Debug)]
pub struct ProbeVars {
    /// Calls counted since the last wake.
    pub calls: u32,
}

#[actor(name = "probe", icon = "flask")]
impl Probe {
    #[create]
    fn create(cx: &CreateCx, input: Option<ProbeInput>) -> Result<Self, UserError> {
        let start = input.map_or(0, |i| i.start);
        if start < 0 {
            return Err(
                UserError::new("negative_start", "start must not be negative")
                    .with_metadata(serde_json::json!({ "start": start })),
            );
        }
        record(cx.key(), "create");
        Ok(Self {
            value: start,
            ..Self::default()
        })
    }

    #[vars]
    async fn vars() -> ProbeVars {
        ProbeVars { calls: 0 }
    }

    #[on_create]
    fn created(&mut self) {
        self.created += 1;
    }

    #[on_wake]
    fn woke(&mut self, cx: &mut Cx<Self>) {
        self.wakes += 1;
        record(cx.key(), "wake");
    }

    #[on_sleep]
    async fn sleeping(&mut self, cx: &mut Cx<Self>) {
        self.sleeps += 1;
        record(cx.key(), "sleep");
    }

    #[on_destroy]
    fn destroying(&self, cx: &mut Cx<Self>) -> Result<(), UserError> {
        record(cx.key(), "destroy");
        Ok(())
    }

    #[on_state_change]
    fn changed(&self, cx: &mut Cx<Self>) {
        cx.broadcast(ProbeEvent::ValueChanged(self.value));
    }

    /// Sets the value.
    #[action]
    fn set(&mut self, value: i64) -> i64 {
        self.value = value;
        self.changes += 1;
        value
    }

    /// Adds two numbers to the value, asynchronously.
    #[action]
    async fn add_both(&mut self, cx: &mut Cx<Self>, a: i64, b: i64) -> i64 {
        tokio::task::yield_now().await;
        self.value += a + b;
        self.changes += 1;
        cx.vars_mut().calls += 1;
        self.value
    }

    /// The whole state.
    #[action]
    fn snapshot(&self, cx: &Cx<Self>) -> ProbeSnapshot {
        ProbeSnapshot {
            value: self.value,
            created: self.created,
            wakes: self.wakes,
            sleeps: self.sleeps,
            changes: self.changes,
            key: cx.key().parts().to_vec(),
        }
    }

    /// Counts calls in the vars, which are lost on sleep.
    #[action]
    async fn count_call(&self, cx: &mut Cx<Self>) -> u32 {
        cx.vars_mut().calls += 1;
        cx.vars().calls
    }

    /// Changes the value, then fails: the change must be rolled back.
    #[action]
    fn set_then_fail(&mut self, value: i64) -> Result<i64, UserError> {
        self.value = value;
        Err(UserError::new("refused", "changed my mind"))
    }

    /// Changes the value, then panics.
    #[action]
    #[allow(clippy::panic)]
    fn set_then_panic(&mut self, value: i64) -> i64 {
        self.value = value;
        panic!("probe panicked on purpose");
    }

    /// Changes the value, then takes `ms` milliseconds.
    #[action]
    async fn set_then_stall(&mut self, value: i64, ms: u64) {
        self.value = value;
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }

    /// Holds the actor inside this turn until `gate(name)` opens.
    #[action]
    async fn hold(&mut self, name: String) {
        entered(&name).add_permits(1);
        if let Ok(permit) = gate(&name).acquire().await {
            permit.forget();
        }
    }

    /// Fails with an error whose detail must not reach the caller.
    #[action]
    fn fail_internally(&self) -> Result<(), std::io::Error> {
        Err(std::io::Error::other(
            "secret database password in this message",
        ))
    }

    /// Adds `a` and, if given, `b`.
    #[action]
    fn sum(&self, a: i64, b: Option<i64>) -> i64 {
        a + b.unwrap_or(0)
    }

    /// Grows the state by `bytes` bytes.
    #[action]
    fn grow(&mut self, bytes: usize) -> usize {
        self.padding.push_str(&"x".repeat(bytes));
        self.padding.len()
    }

    /// A string of `bytes` bytes, to test outgoing size limits.
    #[action]
    fn blob(&self, bytes: usize) -> String {
        "x".repeat(bytes)
    }

    /// Asks to sleep after this turn.
    #[action]
    fn nap(&self, cx: &mut Cx<Self>) {
        cx.sleep();
    }

    /// Starts background work that keeps the actor awake until `gate(name)` opens; logs
    /// `done:{name}` when it ends.
    #[action]
    fn background(&self, cx: &mut Cx<Self>, name: String) {
        let awake = cx.keep_awake();
        let key = cx.key().clone();
        tokio::spawn(async move {
            if let Ok(permit) = gate(&name).acquire().await {
                permit.forget();
            }
            record(&key, &format!("done:{name}"));
            drop(awake);
        });
    }

    /// Destroys the actor after this turn.
    #[action]
    fn destroy_me(&self, cx: &mut Cx<Self>) {
        cx.destroy();
    }

    /// Emits the payload-less and the two-field events.
    #[action]
    fn emit(&self, cx: &mut Cx<Self>, label: String) {
        cx.broadcast(ProbeEvent::Ping);
        cx.broadcast(ProbeEvent::Pair {
            label,
            value: self.value,
        });
    }

    /// The id of the connection the call came through.
    #[action]
    fn whoami(&self, cx: &Cx<Self>) -> Option<String> {
        cx.conn().map(|c| c.id().to_owned())
    }

    /// An action whose wire name is set explicitly.
    #[action(name = "customName")]
    fn renamed(&self) -> String {
        "renamed".to_owned()
    }

    /// Values processed by the queue, in order.
    #[action]
    fn processed(&self) -> Vec<i64> {
        self.log.clone()
    }

    /// Processes a task; fails when asked to.
    #[queue]
    async fn tasks(&mut self, task: Task) -> Result<i64, UserError> {
        if let Some(name) = &task.hold {
            self.hold(name.clone()).await;
        }
        if task.fail {
            self.value = i64::MIN;
            return Err(UserError::new("task_failed", "the task asked to fail"));
        }
        self.value += task.add;
        self.log.push(task.add);
        Ok(self.value)
    }

    /// The value after a change.
    #[event]
    fn value_changed(value: i64);

    /// A label and the value.
    #[event]
    fn pair(label: String, value: i64);

    /// No payload.
    #[event]
    fn ping();
}
