//! Test actors and helpers shared by the integration tests in `tests/tests/`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use rivet_core::client::transport::BoxFuture;
use rivet_core::prelude::*;
use rivet_core::storage::memory::MemoryStorage;
use rivet_core::storage::{ActorRecord, Commit, KeyRange, Lookup, NewActor, Storage, StorageError};
use rivet_core::{ConnKind, LifecycleEvent, LifecycleKind};
use tokio::sync::{Semaphore, broadcast};

/// How long a helper waits for something that should happen promptly before failing the test.
/// A guard against hangs, not a synchronisation point.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// Hook calls seen per actor key (the key's first part), for hooks whose effects are otherwise
/// invisible (`on_destroy`).
pub fn hook_log(key: &str) -> Vec<String> {
    log_store()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(key)
        .cloned()
        .unwrap_or_default()
}

fn record(key: &ActorKey, what: &str) {
    let key = key.parts().first().cloned().unwrap_or_default();
    log_store()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .entry(key)
        .or_default()
        .push(what.to_owned());
}

fn log_store() -> &'static Mutex<HashMap<String, Vec<String>>> {
    static LOG: OnceLock<Mutex<HashMap<String, Vec<String>>>> = OnceLock::new();
    LOG.get_or_init(Default::default)
}

/// A named gate that [`Probe`]'s `hold` action waits on: `gate(name).add_permits(1)` opens it.
pub fn gate(name: &str) -> Arc<Semaphore> {
    semaphore(&format!("gate:{name}"))
}

/// Gets a permit when `hold(name)` has started, so a test knows the actor is inside that turn.
pub fn entered(name: &str) -> Arc<Semaphore> {
    semaphore(&format!("entered:{name}"))
}

fn semaphore(name: &str) -> Arc<Semaphore> {
    static ALL: OnceLock<Mutex<HashMap<String, Arc<Semaphore>>>> = OnceLock::new();
    let mut all = ALL
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Arc::clone(
        all.entry(name.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(0))),
    )
}

/// Waits for lifecycle event `kind` of actor `id`.
pub async fn wait_for(rx: &mut broadcast::Receiver<LifecycleEvent>, id: &str, kind: LifecycleKind) {
    let found = tokio::time::timeout(PATIENCE, async {
        loop {
            match rx.recv().await {
                Ok(event) if event.actor_id == id && event.kind == kind => return,
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => panic!("lifecycle channel closed"),
            }
        }
    })
    .await;
    assert!(found.is_ok(), "actor {id} did not reach {kind:?}");
}

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

/// A registry with the probe and the examples, in memory, with a short sleep timeout.
pub fn memory_registry() -> Registry {
    rivet_examples::registry()
        .with::<Probe>()
        .with::<Store>()
        .with::<Timer>()
        .with::<Relay>()
        .with::<Pipeline>()
        .with::<Drain>()
        .in_memory()
        .build()
        .expect("registry")
}

/// Connection parameters of [`Lobby`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LobbyParams {
    /// Who connects.
    pub user: String,
    /// Refused when `"bad"`.
    pub token: Option<String>,
}

/// Per-connection state of [`Lobby`].
#[derive(Debug, Clone)]
pub struct Member {
    /// Who is connected.
    pub user: String,
}

/// Vars of [`Lobby`]: who is online (not persisted: connections do not survive a restart).
#[derive(Debug, Default)]
pub struct LobbyVars {
    /// Connected users, in order.
    pub online: Vec<String>,
    /// Open raw sockets.
    pub sockets: Vec<rivet_core::raw::RawWebSocket>,
}

/// An actor that exercises connections: parameters, state, hooks, targeted sends, kicks, and
/// raw HTTP and WebSocket handlers.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Lobby {
    joins: u64,
}

#[actor(name = "lobby")]
impl Lobby {
    #[vars]
    fn vars() -> LobbyVars {
        LobbyVars::default()
    }

    #[on_before_connect]
    fn check(&self, params: Option<LobbyParams>) -> Result<(), UserError> {
        match params {
            Some(LobbyParams {
                token: Some(token), ..
            }) if token == "bad" => Err(UserError::new("forbidden", "this token is not welcome")
                .with_metadata(serde_json::json!({ "token": token }))),
            _ => Ok(()),
        }
    }

    #[conn_state]
    fn member(&mut self, params: Option<LobbyParams>) -> Member {
        self.joins += 1;
        Member {
            user: params.map_or_else(|| "anonymous".to_owned(), |p| p.user),
        }
    }

    #[on_connect]
    fn connected(&self, cx: &mut Cx<Self>) {
        // Only lasting connections are "online"; stateless calls come and go.
        let Some(user) = cx
            .conn()
            .filter(|c| c.kind() != ConnKind::Http)
            .map(|c| c.state().user.clone())
        else {
            return;
        };
        cx.vars_mut().online.push(user.clone());
        cx.broadcast(LobbyEvent::Joined(user));
    }

    #[on_disconnect]
    fn disconnected(&self, cx: &mut Cx<Self>) {
        if let Some(user) = cx
            .conn()
            .filter(|c| c.kind() != ConnKind::Http)
            .map(|c| c.state().user.clone())
        {
            let online = &mut cx.vars_mut().online;
            if let Some(i) = online.iter().position(|u| *u == user) {
                online.remove(i);
            }
            cx.broadcast(LobbyEvent::Left(user));
        }
    }

    /// The user of the calling connection.
    #[action]
    fn whoami(&self, cx: &Cx<Self>) -> Option<String> {
        cx.conn().map(|c| c.state().user.clone())
    }

    /// Users online.
    #[action]
    fn online(&self, cx: &Cx<Self>) -> Vec<String> {
        cx.vars().online.clone()
    }

    /// Connections made so far (persisted).
    #[action]
    fn joins(&self) -> u64 {
        self.joins
    }

    /// Broadcasts a message from the caller.
    #[action]
    fn shout(&self, cx: &mut Cx<Self>, text: String) {
        let from = cx
            .conn()
            .map_or_else(|| "server".to_owned(), |c| c.state().user.clone());
        cx.broadcast(LobbyEvent::Said { from, text });
    }

    /// Sends a message to one user only.
    #[action]
    fn whisper(&self, cx: &mut Cx<Self>, to: String, text: String) -> bool {
        let from = cx
            .conn()
            .map_or_else(|| "server".to_owned(), |c| c.state().user.clone());
        let target = cx
            .conns()
            .find(|c| c.state().user == to)
            .map(|c| c.id().to_owned());
        match target {
            Some(id) => {
                cx.send(&id, LobbyEvent::Said { from, text });
                true
            }
            None => false,
        }
    }

    /// Disconnects a user with a reason.
    #[action]
    fn kick(&self, cx: &mut Cx<Self>, user: String) {
        let ids: Vec<String> = cx
            .conns()
            .filter(|c| c.state().user == user)
            .map(|c| c.id().to_owned())
            .collect();
        for id in ids {
            cx.disconnect(
                &id,
                Some(UserError::new("kicked", "you were kicked").into()),
            );
        }
    }

    #[on_request]
    fn http(&mut self, request: rivet_core::raw::Request) -> rivet_core::raw::Response {
        let body = format!(
            "{} {} {}",
            request.method(),
            request.uri(),
            String::from_utf8_lossy(request.body())
        );
        http::Response::builder()
            .status(201)
            .header("x-lobby", "yes")
            .body(bytes::Bytes::from(body))
            .unwrap_or_default()
    }

    #[on_websocket]
    fn socket(&mut self, cx: &mut Cx<Self>, event: rivet_core::raw::WebSocketEvent) {
        use rivet_core::raw::{RawMessage, WebSocketEvent};
        match event {
            WebSocketEvent::Open { socket, request } => {
                socket.send_text(format!("welcome {}", request.uri()));
                cx.vars_mut().sockets.push(socket);
            }
            WebSocketEvent::Message { socket, message } => match message {
                RawMessage::Text(text) if text == "bye" => socket.close(4000, "bye"),
                RawMessage::Text(text) => {
                    socket.send_text(text.to_uppercase());
                }
                RawMessage::Binary(bytes) => {
                    socket.send_binary(bytes);
                }
            },
            WebSocketEvent::Close { socket, .. } => {
                cx.vars_mut().sockets.retain(|s| s.id() != socket.id());
            }
            _ => {}
        }
    }

    /// Someone connected.
    #[event]
    fn joined(user: String);

    /// Someone disconnected.
    #[event]
    fn left(user: String);

    /// A message.
    #[event]
    fn said(from: String, text: String);
}

/// The query form of the gateway, as the official client builds it: actor `name`, key `key`
/// (one part), `method` `get` or `getOrCreate`, then the actor route `path`.
pub fn query_url(endpoint: &str, name: &str, key: &str, method: &str, path: &str) -> String {
    let runner = if method == "getOrCreate" {
        "&rvt-runner=default"
    } else {
        ""
    };
    format!(
        "{endpoint}/gateway/{name}{path}?rvt-namespace=default&rvt-method={method}{runner}&rvt-key={key}"
    )
}

/// A registry with every test actor, serving on a free loopback port; returns the registry and
/// its endpoint.
pub async fn serve_memory() -> (Registry, String) {
    let registry = rivet_examples::registry()
        .with::<Probe>()
        .with::<Lobby>()
        .in_memory()
        .build()
        .expect("registry");
    let addr = registry.spawn_server("127.0.0.1:0").await.expect("bind");
    (registry, format!("http://{addr}"))
}

/// One step of [`Store::script`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum KvStep {
    /// Put a key.
    Put(String, String),
    /// Delete a key.
    Delete(String),
    /// Read a key.
    Get(String),
    /// List a prefix with a limit, maybe reversed.
    List(String, Option<usize>, bool),
    /// Delete a range.
    DeleteRange(String, String),
}

/// What a [`KvStep`] returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum KvOutcome {
    /// Put or delete.
    Done,
    /// A read.
    Value(Option<String>),
    /// A listing.
    Entries(Vec<(String, String)>),
    /// A range deletion's count.
    Removed(usize),
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// An actor that exercises `cx.kv()`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Store {
    turns: u64,
}

#[actor(name = "store")]
impl Store {
    /// Runs `steps` in one turn; fails after them when `fail` (so none of the writes stick).
    #[action]
    async fn script(
        &mut self,
        cx: &mut Cx<Self>,
        steps: Vec<KvStep>,
        fail: bool,
    ) -> Result<Vec<KvOutcome>, Error> {
        self.turns += 1;
        let mut out = Vec::with_capacity(steps.len());
        for step in steps {
            out.push(match step {
                KvStep::Put(k, v) => {
                    cx.kv().put(k, v)?;
                    KvOutcome::Done
                }
                KvStep::Delete(k) => {
                    cx.kv().delete(k)?;
                    KvOutcome::Done
                }
                KvStep::Get(k) => KvOutcome::Value(cx.kv().get(k).await?.map(|v| text(&v))),
                KvStep::List(prefix, limit, reverse) => {
                    let options = ListOptions { limit, reverse };
                    let entries = cx.kv().list_prefix(prefix, options).await?;
                    KvOutcome::Entries(entries.iter().map(|(k, v)| (text(k), text(v))).collect())
                }
                KvStep::DeleteRange(start, end) => {
                    KvOutcome::Removed(cx.kv().delete_range(start, end).await?)
                }
            });
        }
        if fail {
            return Err(UserError::new("failed", "failed after the steps").into());
        }
        Ok(out)
    }

    /// Puts a key of `key_len` bytes with a value of `value_len` bytes.
    #[action]
    fn put_sized(&self, cx: &mut Cx<Self>, key_len: usize, value_len: usize) -> Result<(), Error> {
        cx.kv().put(vec![b'k'; key_len], vec![b'v'; value_len])
    }

    /// Puts `n` keys in one batch call.
    #[action]
    fn put_many(&self, cx: &mut Cx<Self>, n: usize) -> Result<(), Error> {
        cx.kv()
            .put_batch((0..n).map(|i| (format!("many/{i:05}"), format!("{i}"))))
    }

    /// Stores and reads back a typed value.
    #[action]
    async fn typed(
        &self,
        cx: &mut Cx<Self>,
        key: String,
        value: Vec<u32>,
    ) -> Result<Option<Vec<u32>>, Error> {
        cx.kv().put_value(key.clone(), &value)?;
        cx.kv().get_value(key).await
    }

    /// Turns taken (persisted state next to the KV entries).
    #[action]
    fn turns(&self) -> u64 {
        self.turns
    }

    /// Destroys the actor after this turn.
    #[action]
    fn destroy_me(&self, cx: &mut Cx<Self>) {
        cx.destroy();
    }

    /// Asks for the database this actor does not declare.
    #[action]
    fn use_db(&self, cx: &mut Cx<Self>) -> Result<(), Error> {
        cx.db().map(|_| ())
    }
}

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

    /// Sleeps after this turn.
    #[action]
    fn nap(&self, cx: &mut Cx<Self>) {
        cx.sleep();
    }
}

/// The first version of [`Ledger`]'s schema.
pub const LEDGER_V1: &[&str] =
    &["CREATE TABLE entry (id INTEGER PRIMARY KEY, memo TEXT NOT NULL, amount INTEGER NOT NULL)"];
/// The second version adds a flag and a blob.
pub const LEDGER_V2: &[&str] = &[
    "CREATE TABLE entry (id INTEGER PRIMARY KEY, memo TEXT NOT NULL, amount INTEGER NOT NULL)",
    "ALTER TABLE entry ADD COLUMN flagged INTEGER NOT NULL DEFAULT 0; ALTER TABLE entry ADD COLUMN note BLOB",
];

/// A row of [`Ledger`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Row id.
    pub id: i64,
    /// What it is for.
    pub memo: String,
    /// How much.
    pub amount: i64,
}

/// A row of the second schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlaggedEntry {
    /// Row id.
    pub id: i64,
    /// Flag (stored as 0/1).
    pub flagged: bool,
    /// Optional bytes.
    pub note: Option<Vec<u8>>,
}

/// An actor with a database: entries, and a running total in its state.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Ledger {
    /// Sum of the amounts, kept in the state next to the rows.
    pub total: i64,
}

#[actor(name = "ledger", migrations = LEDGER_V1)]
impl Ledger {
    /// Adds an entry; fails after writing when `amount` is negative.
    #[action]
    fn add(&mut self, cx: &mut Cx<Self>, memo: String, amount: i64) -> Result<i64, Error> {
        let db = cx.db()?;
        db.execute(
            "INSERT INTO entry (memo, amount) VALUES (?1, ?2)",
            (&memo, amount),
        )?;
        let id = db.last_insert_rowid();
        self.total += amount;
        if amount < 0 {
            return Err(UserError::new("negative", "negative amounts are refused").into());
        }
        Ok(id)
    }

    /// Every entry.
    #[action]
    fn entries(&self, cx: &mut Cx<Self>) -> Result<Vec<Entry>, Error> {
        cx.db()?
            .query("SELECT id, memo, amount FROM entry ORDER BY id", ())
    }

    /// The total in the state and the sum in the database.
    #[action]
    fn totals(&self, cx: &mut Cx<Self>) -> Result<(i64, i64), Error> {
        let sum = cx
            .db()?
            .query_column::<i64, _>("SELECT COALESCE(SUM(amount), 0) FROM entry", ())?;
        Ok((self.total, sum.first().copied().unwrap_or(0)))
    }

    /// Runs arbitrary SQL.
    #[action]
    fn run(&self, cx: &mut Cx<Self>, sql: String) -> Result<usize, Error> {
        cx.db()?.execute(&sql, ())
    }

    /// Adds two entries in a transaction that fails on the second when `fail`.
    #[action]
    fn add_pair(&self, cx: &mut Cx<Self>, fail: bool) -> Result<(), Error> {
        let db = cx.db()?;
        let inner = db.transaction(|db| {
            db.execute("INSERT INTO entry (memo, amount) VALUES ('pair', 1)", ())?;
            if fail {
                return Err(Error::from(UserError::new(
                    "pair_failed",
                    "the second half failed",
                )));
            }
            db.execute("INSERT INTO entry (memo, amount) VALUES ('pair', 1)", ())?;
            Ok(())
        });
        // The failure is swallowed: the turn succeeds, the transaction's rows are gone.
        let _ = inner;
        Ok(())
    }

    /// Leaves a transaction open.
    #[action]
    fn leave_open(&self, cx: &mut Cx<Self>) -> Result<(), Error> {
        let db = cx.db()?;
        db.execute_batch("BEGIN; INSERT INTO entry (memo, amount) VALUES ('open', 1)")
    }

    /// Sleeps after this turn.
    #[action]
    fn nap(&self, cx: &mut Cx<Self>) {
        cx.sleep();
    }
}

/// [`Ledger`] after a schema change: the same actor type name, two migrations.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct LedgerV2 {
    /// As in [`Ledger`].
    pub total: i64,
}

#[actor(name = "ledger", migrations = LEDGER_V2)]
impl LedgerV2 {
    /// Flags an entry and attaches a note.
    #[action]
    fn flag(&self, cx: &mut Cx<Self>, id: i64, note: Vec<u8>) -> Result<usize, Error> {
        cx.db()?.execute(
            "UPDATE entry SET flagged = 1, note = ?2 WHERE id = ?1",
            (id, note),
        )
    }

    /// The flags and notes.
    #[action]
    fn flags(&self, cx: &mut Cx<Self>) -> Result<Vec<FlaggedEntry>, Error> {
        cx.db()?
            .query("SELECT id, flagged, note FROM entry ORDER BY id", ())
    }
}

/// An actor that calls other actors with `cx.client()`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Relay {
    /// Calls it answered.
    pub answered: u64,
}

#[actor(name = "relay")]
impl Relay {
    /// Passes the call along `path` (relay keys); the last relay answers with its key, and each
    /// one before it prefixes its own.
    #[action]
    async fn relay(&mut self, cx: &mut Cx<Self>, path: Vec<String>) -> Result<String, Error> {
        self.answered += 1;
        let me = cx.key().parts().first().cloned().unwrap_or_default();
        let Some((next, rest)) = path.split_first() else {
            return Ok(me);
        };
        let answer = cx
            .client()
            .get_or_create::<Relay>([next.clone()])
            .relay(rest.to_vec())
            .await?;
        Ok(format!("{me}>{answer}"))
    }

    /// Adds to a counter through its typed client.
    #[action]
    async fn bump(&self, cx: &mut Cx<Self>, counter: String, amount: i64) -> Result<i64, Error> {
        Ok(cx
            .client()
            .get_or_create::<rivet_examples::counter::Counter>([counter])
            .increment(amount)
            .await?)
    }

    /// How many calls it answered.
    #[action]
    fn answered(&self) -> u64 {
        self.answered
    }
}

/// An actor with a `#[run]` loop over a declared queue, next to a queue with a handler.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Pipeline {
    /// Tasks the run loop finished, in order.
    pub done: Vec<u32>,
    /// Notes the `notes` handler took.
    pub handled: Vec<u32>,
}

#[actor(name = "pipeline")]
impl Pipeline {
    /// Tasks for the run loop; completing one answers how many are done.
    #[queue]
    fn tasks(task: u32) -> usize;

    /// Notes, taken by this handler rather than the run loop.
    #[queue]
    fn notes(&mut self, note: u32) -> usize {
        self.handled.push(note);
        self.handled.len()
    }

    /// Takes tasks one by one; task 500 first waits for `gate("pipeline-500")`, ignoring the
    /// request to stop, so a test can cut the loop off in the middle of a message.
    #[run]
    async fn run(cx: rivet_core::run::RunCx<Self>) -> Result<(), Error> {
        record(cx.key(), "run:start");
        while let Some(message) = cx.queue().next(rivet_core::run::Next::new()).await? {
            let task: u32 = message.decode()?;
            if task == 500
                && let Ok(permit) = gate("pipeline-500").acquire().await
            {
                permit.forget();
            }
            let count = cx
                .turn(move |state: &mut Self, _cx| {
                    state.done.push(task);
                    Ok(state.done.len())
                })
                .await?;
            message.complete(&count).await?;
        }
        record(cx.key(), "run:stop");
        Ok(())
    }

    /// Tasks done.
    #[action]
    fn done(&self) -> Vec<u32> {
        self.done.clone()
    }

    /// Notes handled.
    #[action]
    fn handled(&self) -> Vec<u32> {
        self.handled.clone()
    }

    /// Sleeps after this turn.
    #[action]
    fn nap(&self, cx: &mut Cx<Self>) {
        cx.sleep();
    }
}

/// A run loop that consumes its queue as a stream.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Drain {
    /// Sum of the numbers taken.
    pub sum: u64,
}

#[actor(name = "drain")]
impl Drain {
    /// Numbers to add.
    #[queue]
    fn numbers(n: u64) -> u64;

    #[run]
    async fn run(cx: rivet_core::run::RunCx<Self>) -> Result<(), Error> {
        use futures_util::StreamExt;
        let mut messages = std::pin::pin!(cx.queue().iter());
        while let Some(message) = messages.next().await {
            let message = message?;
            let n: u64 = message.decode()?;
            let sum = cx.turn(move |state: &mut Self, _| {
                state.sum += n;
                Ok(state.sum)
            });
            message.complete(&sum.await?).await?;
        }
        Ok(())
    }

    /// The sum so far.
    #[action]
    fn sum(&self) -> u64 {
        self.sum
    }
}

/// Which version of the [`Flow`] workflow runs: the original, one that renamed its `prepare`
/// step (history divergence), or one that removed it properly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowVersion {
    /// `start`, `prepare`, `gated`, loop `sum`, `finish`.
    Original,
    /// `prepare` renamed to `setup`.
    Renamed,
    /// `prepare` removed with `removed("prepare")`.
    Removed,
}

/// Makes the `flow` actor of `key` run `version` of its workflow from its next wake, as if its
/// code had changed.
pub fn set_flow_version(key: &str, version: FlowVersion) {
    flow_versions()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(key.to_owned(), version);
}

fn flow_version(key: &str) -> FlowVersion {
    flow_versions()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(key)
        .copied()
        .unwrap_or(FlowVersion::Original)
}

fn flow_versions() -> &'static Mutex<HashMap<String, FlowVersion>> {
    static VERSIONS: OnceLock<Mutex<HashMap<String, FlowVersion>>> = OnceLock::new();
    VERSIONS.get_or_init(Default::default)
}

/// Signalled (one permit) when the [`Flow`] workflow of `key` finished or failed.
pub fn flow_ended(key: &str) -> Arc<Semaphore> {
    semaphore(&format!("flow-ended:{key}"))
}

/// The workflow of the `flow` actors. Each step body logs itself with [`hook_log`] (so a test
/// counts how often it ran), and changes the state only through `update` (so a test sees that
/// each change happened once). `gated` waits for `gate("flow:{key}")` after signalling
/// `entered("flow:{key}")`, so a test can stop the process inside it.
async fn flow_workflow(cx: rivet_core::run::RunCx<Flow>) -> Result<(), Error> {
    use rivet_core::run::Next;
    use rivet_core::workflow::{Loop, Workflow};
    let key = cx.key().parts().first().cloned().unwrap_or_default();
    let version = flow_version(&key);
    let log = cx.key().clone();
    let outer = cx.key().clone();
    let result = cx
        .workflow(async move |wf: Workflow<Flow>| {
            let start = wf
                .queue()
                .next("start", Next::new().names(["start"]))
                .await?
                .ok_or_else(|| Error::internal("no start message"))?;
            let n: u32 = start.decode()?;
            let base = match version {
                FlowVersion::Original | FlowVersion::Renamed => {
                    let name = if version == FlowVersion::Original {
                        "prepare"
                    } else {
                        "setup"
                    };
                    let log = log.clone();
                    wf.step(name, async move |s| {
                        record(&log, "prepare");
                        s.update(|state: &mut Flow, _| {
                            state.log.push("prepare".into());
                            Ok(())
                        });
                        Ok(n * 10)
                    })
                    .await?
                }
                FlowVersion::Removed => {
                    wf.removed("prepare").await?;
                    n * 10
                }
            };
            let (gate_key, log2) = (key.clone(), log.clone());
            wf.step("gated", async move |s| {
                record(&log2, "gated");
                entered(&format!("flow:{gate_key}")).add_permits(1);
                if let Ok(permit) = gate(&format!("flow:{gate_key}")).acquire().await {
                    permit.forget();
                }
                s.update(|state: &mut Flow, _| {
                    state.log.push("gated".into());
                    Ok(())
                });
                Ok(())
            })
            .await?;
            let log3 = log.clone();
            let total = wf
                .repeat(
                    "sum",
                    (0u32, base),
                    async move |wf, (i, total): (u32, u32)| {
                        if i == 3 {
                            return Ok(Loop::Break(total));
                        }
                        let log = log3.clone();
                        let added = wf
                            .step("add", async move |s| {
                                record(&log, &format!("add:{i}"));
                                s.update(move |state: &mut Flow, _| {
                                    state.log.push(format!("add:{i}"));
                                    Ok(())
                                });
                                Ok(total + i + 1)
                            })
                            .await?;
                        Ok(Loop::Continue((i + 1, added)))
                    },
                )
                .await?;
            wf.step("finish", async move |s| {
                s.complete(&start, &total)?;
                s.update(move |state: &mut Flow, _| {
                    state.log.push(format!("finish:{total}"));
                    Ok(())
                });
                Ok(total)
            })
            .await
        })
        .await;
    report_end(&outer, result)
}

/// Logs how a test workflow ended (`ended:ok` or `ended:{code}`, see [`hook_log`]) and signals
/// [`flow_ended`]; a workflow stopped by its actor's stop ended nothing.
fn report_end<T>(key: &ActorKey, result: Result<T, Error>) -> Result<(), Error> {
    match &result {
        Err(error) if error.is(rivet_core::client::codes::SHUT_DOWN) => return Ok(()),
        Err(error) => record(
            key,
            &format!("ended:{}", error.to_actor_error().full_code()),
        ),
        Ok(_) => record(key, "ended:ok"),
    }
    flow_ended(&key.parts().first().cloned().unwrap_or_default()).add_permits(1);
    result.map(|_| ())
}

/// An actor whose `#[run]` is a durable workflow: a message, steps, a gated step, a loop with
/// carried state, and a last step that answers the message (see `flow_workflow`).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Flow {
    /// What the steps' state changes wrote, in order.
    pub log: Vec<String>,
}

#[actor(name = "flow")]
impl Flow {
    /// Starts the workflow with `n`; answered with its total once it finishes.
    #[queue]
    fn start(n: u32) -> u32;

    #[run]
    async fn run(cx: rivet_core::run::RunCx<Self>) -> Result<(), Error> {
        flow_workflow(cx).await
    }

    /// What the steps wrote.
    #[action]
    fn log(&self) -> Vec<String> {
        self.log.clone()
    }

    /// The workflow's history.
    #[action]
    fn history(&self, cx: &mut Cx<Self>) -> Option<rivet_core::workflow::WorkflowHistory> {
        cx.workflow_history()
    }
}

/// An actor whose workflow shows retries, a step timeout, a join, a race, a durable sleep and
/// a step that fails for good. Step bodies log each attempt with [`hook_log`].
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Chores {
    /// What the recorded steps wrote.
    pub log: Vec<String>,
}

/// How long the `chores` workflow's timed `quiet` queue wait and durable `rest` sleep last;
/// longer than the sleep timeout of the registry in the test, so the actor sleeps in the middle
/// of each.
pub const CHORES_REST: Duration = Duration::from_millis(1500);

#[actor(name = "chores")]
impl Chores {
    /// Pokes for the race.
    #[queue]
    fn pokes(n: u32);

    #[run]
    async fn run(cx: rivet_core::run::RunCx<Self>) -> Result<(), Error> {
        use rivet_core::run::Next;
        use rivet_core::workflow::{Branch, Step};
        let key = cx.key().clone();
        let outer = key.clone();
        let fast = Duration::from_millis(1);
        let result: Result<u32, Error> = cx
            .workflow(async move |wf| {
                let k = key.clone();
                let flaky = wf
                    .step_with(Step::named("flaky").backoff(fast, fast), async move |s| {
                        record(&k, &format!("flaky:{}", s.attempt()));
                        if s.attempt() < 3 {
                            return Err(UserError::new("flaky", "not yet").into());
                        }
                        Ok(s.attempt())
                    })
                    .await?;
                let k = key.clone();
                let slow = wf
                    .step_with(
                        Step::named("slow")
                            .timeout(Some(Duration::from_millis(50)))
                            .backoff(fast, fast),
                        async move |s| {
                            record(&k, &format!("slow:{}", s.attempt()));
                            if s.attempt() == 1 {
                                std::future::pending::<()>().await;
                            }
                            Ok(s.attempt())
                        },
                    )
                    .await?;
                let (k1, k2) = (key.clone(), key.clone());
                let both = wf
                    .join(
                        "both",
                        vec![
                            Branch::new("left", |wf| async move {
                                wf.step("l", async move |_| {
                                    record(&k1, "l");
                                    Ok(1u32)
                                })
                                .await
                            }),
                            Branch::new("right", |wf| async move {
                                wf.step("r", async move |_| {
                                    record(&k2, "r");
                                    Ok(2u32)
                                })
                                .await
                            }),
                        ],
                    )
                    .await?;
                let (_, poke) = wf
                    .race(
                        "first",
                        vec![
                            Branch::new("message", |wf| async move {
                                let next = Next::new().names(["pokes"]);
                                match wf.queue().next("poke", next).await? {
                                    Some(message) => message.decode::<u32>(),
                                    None => Ok(0),
                                }
                            }),
                            Branch::new("timer", |wf| async move {
                                wf.sleep("never", Duration::from_secs(3600)).await?;
                                Ok(0)
                            }),
                        ],
                    )
                    .await?;
                // A wait that times out, longer than the idle timeout: the actor sleeps in the
                // middle, the recorded deadline wakes it, and the timeout is recorded.
                let quiet = Next::new().names(["nothing"]).timeout(CHORES_REST);
                let quiet = wf.queue().next("quiet", quiet).await?.is_none();
                let k = key.clone();
                let line = format!("{flaky} {slow} {both:?} {poke} {quiet}");
                wf.step("before-rest", async move |s| {
                    record(&k, "before-rest");
                    // The body may run again, so the update takes a copy.
                    let line = line.clone();
                    s.update(move |state: &mut Chores, _| {
                        state.log.push(line);
                        Ok(())
                    });
                    Ok(())
                })
                .await?;
                wf.sleep("rest", CHORES_REST).await?;
                let k = key.clone();
                wf.step_with(
                    Step::named("doomed").max_retries(1).backoff(fast, fast),
                    async move |s| {
                        record(&k, &format!("doomed:{}", s.attempt()));
                        Err::<u32, Error>(UserError::new("nope", "never works").into())
                    },
                )
                .await
            })
            .await;
        report_end(&outer, result)
    }

    /// What the steps wrote.
    #[action]
    fn log(&self) -> Vec<String> {
        self.log.clone()
    }

    /// The workflow's history.
    #[action]
    fn history(&self, cx: &mut Cx<Self>) -> Option<rivet_core::workflow::WorkflowHistory> {
        cx.workflow_history()
    }
}

/// An actor whose workflow step makes the state larger than the registry allows: the step's
/// record must not count as done.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Bloat {
    /// Grows past the state size limit in the `grow` step.
    pub blob: String,
}

#[actor(name = "bloat")]
impl Bloat {
    #[run]
    async fn run(cx: rivet_core::run::RunCx<Self>) -> Result<(), Error> {
        let key = cx.key().clone();
        let outer = key.clone();
        let result: Result<(), Error> = cx
            .workflow(async move |wf| {
                let fast = Duration::from_millis(1);
                let grow = rivet_core::workflow::Step::named("grow")
                    .max_retries(1)
                    .backoff(fast, fast);
                wf.step_with(grow, async move |s| {
                    s.update(|state: &mut Bloat, _| {
                        state.blob = "x".repeat(200 * 1024);
                        Ok(())
                    });
                    Ok(())
                })
                .await?;
                let k = key.clone();
                wf.step("after", async move |_| {
                    record(&k, "after");
                    Ok(())
                })
                .await
            })
            .await;
        report_end(&outer, result)
    }

    /// The state's size.
    #[action]
    fn blob_len(&self) -> usize {
        self.blob.len()
    }

    /// The workflow's history.
    #[action]
    fn history(&self, cx: &mut Cx<Self>) -> Option<rivet_core::workflow::WorkflowHistory> {
        cx.workflow_history()
    }
}

/// An actor whose race is won by a step after the other branch received a queue message and did
/// nothing more: the message goes back to the queue, and a later wait gets it.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Racer {
    /// What the later wait received.
    pub got: Vec<u32>,
}

#[actor(name = "racer")]
impl Racer {
    /// Numbers; each is answered with twice itself.
    #[queue]
    fn numbers(n: u32) -> u32;

    #[run]
    async fn run(cx: rivet_core::run::RunCx<Self>) -> Result<(), Error> {
        use rivet_core::run::Next;
        use rivet_core::workflow::Branch;
        let key = cx.key().clone();
        let outer = key.clone();
        let name = key.parts().first().cloned().unwrap_or_default();
        let result = cx
            .workflow(async move |wf| {
                let (signal, wait_for) = (name.clone(), name.clone());
                let (winner, ()) = wf
                    .race(
                        "race",
                        vec![
                            Branch::new("listen", move |wf| async move {
                                wf.queue()
                                    .next("number", Next::new().names(["numbers"]))
                                    .await?;
                                // Recorded; this branch does nothing more.
                                entered(&format!("racer:{signal}")).add_permits(1);
                                std::future::pending::<()>().await;
                                Ok(())
                            }),
                            Branch::new("work", move |wf| async move {
                                wf.step("work", async move |_| {
                                    let heard = entered(&format!("racer:{wait_for}"));
                                    if let Ok(permit) = heard.acquire().await {
                                        permit.forget();
                                    }
                                    Ok(())
                                })
                                .await
                            }),
                        ],
                    )
                    .await?;
                let again = Next::new().names(["numbers"]);
                let message = wf
                    .queue()
                    .next("again", again)
                    .await?
                    .ok_or_else(|| Error::internal("no message"))?;
                let n: u32 = message.decode()?;
                wf.step("answer", async move |s| {
                    s.complete(&message, &(n * 2))?;
                    s.update(move |state: &mut Racer, _| {
                        state.got.push(n);
                        Ok(())
                    });
                    Ok(())
                })
                .await?;
                Ok(winner)
            })
            .await;
        report_end(&outer, result)
    }

    /// What the later wait received.
    #[action]
    fn got(&self) -> Vec<u32> {
        self.got.clone()
    }
}

/// A server child process of the crash tests (`src/bin/crash_server.rs`); killed with SIGKILL
/// when dropped, so a failing test leaves none behind.
#[derive(Debug)]
pub struct ServerProcess(std::process::Child);

impl ServerProcess {
    /// Starts `binary` (a test passes `env!("CARGO_BIN_EXE_crash_server")`) on the data
    /// directory `dir`; returns it with its endpoint once it listens.
    pub fn start(binary: &str, dir: &std::path::Path) -> (Self, String) {
        use std::io::BufRead as _;
        let mut child = std::process::Command::new(binary)
            .arg(dir)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start the server");
        let stdout = child.stdout.take().expect("stdout");
        let server = Self(child);
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the server's address");
        assert!(
            !line.trim().is_empty(),
            "the server exited before listening"
        );
        (server, format!("http://{}", line.trim()))
    }

    /// Kills it (SIGKILL on Unix) and waits for it.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What a [`TestStorage`] does with each commit: pass it to the real in-memory backend
/// underneath, hold it, fail it...
pub trait CommitPolicy: Send + Sync + std::fmt::Debug + 'static {
    /// Handles one commit; `inner` is the backend that applies it.
    fn commit(&self, inner: &MemoryStorage, commit: Commit);
}

/// The real in-memory storage with its commits handed to a [`CommitPolicy`], for tests that
/// need to watch or break the write path. Everything else goes straight to the backend.
#[derive(Debug, Default)]
pub struct TestStorage<P> {
    /// The backend underneath.
    pub inner: MemoryStorage,
    /// What happens to commits.
    pub policy: P,
}

impl<P: CommitPolicy> Storage for TestStorage<P> {
    fn lookup<'a>(
        &'a self,
        lookup: Lookup<'a>,
    ) -> BoxFuture<'a, Result<Option<ActorRecord>, StorageError>> {
        self.inner.lookup(lookup)
    }
    fn create(&self, actor: NewActor) -> BoxFuture<'_, Result<(ActorRecord, bool), StorageError>> {
        self.inner.create(actor)
    }
    fn destroy(&self, storage_id: i64) -> BoxFuture<'_, Result<(), StorageError>> {
        self.inner.destroy(storage_id)
    }
    fn get<'a>(
        &'a self,
        storage_id: i64,
        key: &'a [u8],
    ) -> BoxFuture<'a, Result<Option<bytes::Bytes>, StorageError>> {
        self.inner.get(storage_id, key)
    }
    fn scan_range<'a>(
        &'a self,
        storage_id: i64,
        range: KeyRange<'a>,
    ) -> BoxFuture<'a, Result<Vec<(bytes::Bytes, bytes::Bytes)>, StorageError>> {
        self.inner.scan_range(storage_id, range)
    }
    fn list_actors<'a>(
        &'a self,
        name: &'a str,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<ActorRecord>, StorageError>> {
        self.inner.list_actors(name, limit)
    }
    fn actors_with_prefix<'a>(
        &'a self,
        prefix: &'a [u8],
    ) -> BoxFuture<'a, Result<Vec<ActorRecord>, StorageError>> {
        self.inner.actors_with_prefix(prefix)
    }
    fn commit(&self, commit: Commit) {
        self.policy.commit(&self.inner, commit);
    }
    fn close(&self) -> BoxFuture<'_, Result<(), StorageError>> {
        self.inner.close()
    }
}
