//! The envoy's connection to the engine, for the life of the envoy: it reconnects with backoff
//! under the same envoy key, answers pings, applies each engine command once (the ledger) and
//! acks it, reports actor state as events until the engine acks them, carries the actors' KV
//! requests and the tunnelled traffic, and on shutdown sends `Stopping` and drains.
//!
//! An envoy that loses its connection fences itself: every actor it held is stopped without
//! writing anything more (their KV requests belong to the old connection's epoch, see
//! `link.rs`) and reported `Stopped(ERROR)`, never `Stopped(OK)`, which the engine would take as
//! the actor's end and wipe its KV. The engine starts them again, here or elsewhere.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use rivet_envoy_protocol as p;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::connect::{EngineEndpoint, EnvoyError, EnvoyReader, EnvoySocket, EnvoyWriter};
use super::ledger::Ledger;
use super::link::{KvFailure, Link, Outgoing};
use super::protocol::{ToEnvoy, ToRivet};
use super::storage::{EngineStorage, Left, preload_metadata};
use super::tunnel::{Target, Tunnel};
use crate::ids::new_id;
use crate::lifecycle::{LifecycleEvent, LifecycleKind};
use crate::registry::Registry;

/// The app version envoys announce (the engine drains envoys of older versions on upgrade).
pub(crate) const APP_VERSION: u32 = 1;

/// The longest wait between two connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

type KvReply = oneshot::Sender<Result<p::KvResponseData, KvFailure>>;

/// Everything the connection task owns.
pub(crate) struct Session {
    registry: Registry,
    storage: Arc<EngineStorage>,
    link: Link,
    router: Router,
    engine: EngineEndpoint,
    envoy_key: String,
    version: u32,
    names: Vec<&'static str>,
    ledger: Ledger,
    tunnel: Tunnel,
    pending_kv: HashMap<u32, KvReply>,
    next_kv: u32,
    /// Actors the engine asked to stop: their `Stopped` is theirs to report once they stopped.
    stopping: HashMap<String, p::StopActorReason>,
    /// Activations dropped without waiting for them (fenced, or replaced by a new
    /// generation), per actor: their end was reported already, so their lifecycle event is not.
    dropped: HashMap<String, usize>,
    init: p::ProtocolMetadata,
}

impl Session {
    /// The connection task of an envoy just connected as `envoy_key` with `socket`.
    pub(crate) fn new(
        registry: &Registry,
        storage: Arc<EngineStorage>,
        link: Link,
        engine: &EngineEndpoint,
        envoy_key: &str,
        names: Vec<&'static str>,
        socket: &EnvoySocket,
    ) -> Self {
        Self {
            router: {
                // Requests come through the engine: the inspector needs a token.
                registry.server_config().listeners.exposed();
                registry.routes()
            },
            registry: registry.clone(),
            storage,
            link,
            engine: engine.clone(),
            envoy_key: envoy_key.to_owned(),
            version: APP_VERSION,
            names,
            ledger: Ledger::default(),
            tunnel: Tunnel::default(),
            pending_kv: HashMap::new(),
            next_kv: 0,
            stopping: HashMap::new(),
            dropped: HashMap::new(),
            init: socket.init.clone(),
        }
    }
}

/// Opens the envoy's connection under a new envoy key and starts its connection task; returns
/// the key, the task's stop switch and the task.
pub(crate) async fn connect(
    registry: &Registry,
    storage: Arc<EngineStorage>,
    link: Link,
    outgoing: mpsc::UnboundedReceiver<Outgoing>,
    engine: &EngineEndpoint,
) -> Result<(String, watch::Sender<bool>, JoinHandle<()>), EnvoyError> {
    let names: Vec<&'static str> = registry.actors().map(|m| m.name).collect();
    let key = format!("rivet-rust-{}", new_id());
    let metadata = preload_metadata();
    let socket = EnvoySocket::open_with(engine, &key, APP_VERSION, &names, &metadata).await?;
    let (stop, stopped) = watch::channel(false);
    let session = Session::new(registry, storage, link, engine, &key, names, &socket);
    let task = tokio::spawn(session.run(socket, outgoing, stopped));
    Ok((key, stop, task))
}

/// How a connection ended.
enum Ended {
    /// The envoy stopped (shutdown, drained).
    Stopped,
    /// The connection was lost; try again.
    Lost(EnvoyError),
}

impl Session {
    /// Serves `first`, then every connection after it, until `stop` is set and the actors are
    /// drained.
    pub(crate) async fn run(
        mut self,
        first: EnvoySocket,
        mut outgoing: mpsc::UnboundedReceiver<Outgoing>,
        mut stop: watch::Receiver<bool>,
    ) {
        let Some(mut lifecycle) = self.registry.lifecycle_sink() else {
            tracing::error!("the registry already has an envoy; this one does not serve");
            return;
        };
        let mut socket = Some(first);
        let mut delay = Duration::from_millis(100);
        loop {
            let open = match socket.take() {
                Some(open) => open,
                None => {
                    if *stop.borrow() {
                        return;
                    }
                    match EnvoySocket::open_with(
                        &self.engine,
                        &self.envoy_key,
                        self.version,
                        &self.names,
                        &preload_metadata(),
                    )
                    .await
                    {
                        Ok(open) => {
                            tracing::info!(envoy = %self.envoy_key, "reconnected to the engine");
                            delay = Duration::from_millis(100);
                            open
                        }
                        Err(error) => {
                            tracing::warn!(%error, retry_in = ?delay, "cannot reach the engine");
                            tokio::select! {
                                () = tokio::time::sleep(delay) => {}
                                _ = stop.changed() => {}
                            }
                            delay = (delay * 2).min(MAX_BACKOFF);
                            continue;
                        }
                    }
                }
            };
            self.init = open.init.clone();
            let epoch = self.link.next_epoch();
            let ended = self
                .serve(open, epoch, &mut outgoing, &mut lifecycle, &mut stop)
                .await;
            self.fence();
            match ended {
                Ended::Stopped => return,
                Ended::Lost(error) => {
                    tracing::warn!(%error, "lost the engine connection; its actors were stopped");
                }
            }
        }
    }

    async fn serve(
        &mut self,
        socket: EnvoySocket,
        epoch: u64,
        outgoing: &mut mpsc::UnboundedReceiver<Outgoing>,
        lifecycle: &mut mpsc::UnboundedReceiver<LifecycleEvent>,
        stop: &mut watch::Receiver<bool>,
    ) -> Ended {
        let (mut writer, mut reader): (EnvoyWriter, EnvoyReader) = socket.split();
        let unacked = self.ledger.unacked_events();
        if !unacked.is_empty()
            && let Err(error) = writer.send(&ToRivet::ToRivetEvents(unacked)).await
        {
            return Ended::Lost(error);
        }
        let mut draining = false;
        let stop_threshold =
            Duration::from_millis(u64::try_from(self.init.actor_stop_threshold).unwrap_or(0))
                .max(Duration::from_secs(5));
        let drained_by = tokio::time::sleep(Duration::MAX / 4);
        tokio::pin!(drained_by);
        // Made once per connection, not once per message: it subscribes to the registry.
        let registry = self.registry.clone();
        let told_to_stop = stopping(stop, &registry);
        tokio::pin!(told_to_stop);
        loop {
            if draining && self.storage.hosted().is_empty() {
                let _ = writer.close().await;
                return Ended::Stopped;
            }
            let step = tokio::select! {
                message = reader.next() => match message {
                    Ok(message) => self.on_message(message, epoch),
                    Err(error) => return Ended::Lost(error),
                },
                Some(out) = outgoing.recv() => self.on_outgoing(out, epoch),
                Some(event) = lifecycle.recv() => Ok(self.on_lifecycle(&event)),
                // Stopped by the envoy's owner, or the registry shut down under it.
                () = &mut told_to_stop, if !draining => {
                    draining = true;
                    drained_by.as_mut().reset(tokio::time::Instant::now() + stop_threshold);
                    tracing::info!("stopping: the engine moves this envoy's actors away");
                    Ok(vec![ToRivet::ToRivetStopping])
                }
                () = &mut drained_by, if draining => {
                    tracing::warn!("actors still running when the stop threshold passed");
                    let _ = writer.close().await;
                    return Ended::Stopped;
                }
            };
            let messages = match step {
                Ok(messages) => messages,
                Err(error) => return Ended::Lost(error),
            };
            for message in messages {
                if let Err(error) = writer.send(&message).await {
                    return Ended::Lost(error);
                }
            }
        }
    }

    /// One message from the engine; returns what to send back.
    fn on_message(&mut self, message: ToEnvoy, epoch: u64) -> Result<Vec<ToRivet>, EnvoyError> {
        let mut out = Vec::new();
        match message {
            ToEnvoy::ToEnvoyInit(init) => self.init = init.metadata,
            ToEnvoy::ToEnvoyPing(ping) => {
                out.push(ToRivet::ToRivetPong(p::ToRivetPong { ts: ping.ts }));
            }
            ToEnvoy::ToEnvoyCommands(commands) => {
                let mut events = Vec::new();
                for command in commands {
                    if self.ledger.take_command(&command) {
                        self.apply(command, epoch, &mut events);
                    }
                }
                if !events.is_empty() {
                    out.push(ToRivet::ToRivetEvents(events));
                }
                if let Some(acks) = self.ledger.command_acks() {
                    out.push(ToRivet::ToRivetAckCommands(acks));
                }
            }
            ToEnvoy::ToEnvoyAckEvents(acks) => {
                self.ledger.events_acked(&acks.last_event_checkpoints);
            }
            ToEnvoy::ToEnvoyKvResponse(response) => {
                if let Some(reply) = self.pending_kv.remove(&response.request_id) {
                    let _ = reply.send(Ok(response.data));
                }
            }
            ToEnvoy::ToEnvoyTunnelMessage(message) => {
                let target = Target {
                    router: &self.router,
                    registry: &self.registry,
                    link: &self.link,
                    max_body: usize::try_from(self.init.max_response_payload_size)
                        .unwrap_or(usize::MAX)
                        .max(1),
                };
                let storage = &self.storage;
                self.tunnel.handle(message, &target, |actor| {
                    storage.generation(actor).is_some()
                });
            }
            other => tracing::debug!(?other, "ignored an engine message"),
        }
        Ok(out)
    }

    /// Applies one new command; the events it causes go to `events`.
    fn apply(&mut self, command: p::CommandWrapper, epoch: u64, events: &mut Vec<p::EventWrapper>) {
        let actor_id = command.checkpoint.actor_id.to_string();
        let generation = command.checkpoint.generation;
        match command.inner {
            p::Command::CommandStartActor(start) => {
                if self.storage.generation(&actor_id).is_some() {
                    // A new generation of an actor still here: the old one is done.
                    self.drop_actor(&actor_id, "replaced by a new generation", events);
                }
                let record = self.storage.host(
                    &actor_id,
                    generation,
                    &start.config,
                    epoch,
                    start.preloaded_kv.clone(),
                );
                tracing::info!(actor = %actor_id, name = %record.name, generation, "starting");
                if let Some(preloaded) = &start.preloaded_kv {
                    tracing::debug!(
                        entries = preloaded.entries.len(),
                        keys = ?preloaded.requested_get_keys,
                        prefixes = ?preloaded.requested_prefixes,
                        "preloaded KV"
                    );
                }
                let state = match self.registry.host_actor(record) {
                    Ok(()) => p::ActorState::ActorStateRunning,
                    Err(error) => {
                        self.storage.unhost(&actor_id);
                        stopped(p::StopCode::Error, Some(error.to_string()))
                    }
                };
                events.push(
                    self.ledger
                        .event(&actor_id, generation, state_update(state)),
                );
            }
            p::Command::CommandStopActor(stop) => {
                if self.storage.generation(&actor_id) != Some(generation) {
                    return;
                }
                tracing::info!(actor = %actor_id, reason = ?stop.reason, "stopping");
                self.stopping.insert(actor_id.clone(), stop.reason);
                self.storage.leave(&actor_id);
                if !self.registry.stop_actor(&actor_id) {
                    // Not awake (it never finished starting): nothing left to stop.
                    self.stopping.remove(&actor_id);
                    self.storage.unhost(&actor_id);
                    let state = stopped(p::StopCode::Ok, None);
                    events.push(
                        self.ledger
                            .event(&actor_id, generation, state_update(state)),
                    );
                }
            }
        }
    }

    fn on_outgoing(&mut self, out: Outgoing, epoch: u64) -> Result<Vec<ToRivet>, EnvoyError> {
        Ok(match out {
            Outgoing::Message(message) => vec![message],
            Outgoing::Inject(message) => return self.on_message(message, epoch),
            Outgoing::Kv {
                epoch: actor_epoch,
                actor_id,
                data,
                reply,
            } => {
                if actor_epoch != epoch {
                    let _ = reply.send(Err(KvFailure::Fenced));
                    return Ok(Vec::new());
                }
                let request_id = self.next_kv;
                self.next_kv = self.next_kv.wrapping_add(1);
                self.pending_kv.insert(request_id, reply);
                vec![ToRivet::ToRivetKvRequest(p::ToRivetKvRequest {
                    actor_id: actor_id.into(),
                    request_id,
                    data,
                })]
            }
        })
    }

    /// An actor stopped here: tell the engine how.
    fn on_lifecycle(&mut self, event: &LifecycleEvent) -> Vec<ToRivet> {
        if !matches!(
            event.kind,
            LifecycleKind::Slept | LifecycleKind::Destroyed | LifecycleKind::Crashed
        ) {
            return Vec::new();
        }
        if let Some(count) = self.dropped.get_mut(&event.actor_id) {
            *count -= 1;
            if *count == 0 {
                self.dropped.remove(&event.actor_id);
            }
            return Vec::new();
        }
        let Some(left) = self.storage.unhost(&event.actor_id) else {
            return Vec::new();
        };
        let asked = self.stopping.remove(&event.actor_id).is_some();
        let mut inner = Vec::new();
        match event.kind {
            LifecycleKind::Slept => {
                if let Some(at) = left.alarm {
                    let alarm = p::EventActorSetAlarm { alarm_ts: Some(at) };
                    inner.push(p::Event::EventActorSetAlarm(alarm));
                }
                if !asked {
                    inner.push(intent(p::ActorIntent::ActorIntentSleep));
                }
                inner.push(state_update(stopped(p::StopCode::Ok, None)));
            }
            LifecycleKind::Destroyed => {
                if !asked {
                    inner.push(intent(p::ActorIntent::ActorIntentStop));
                }
                inner.push(state_update(stopped(p::StopCode::Ok, None)));
            }
            LifecycleKind::Crashed => {
                let message = Some("the actor failed to start or to write".to_owned());
                inner.push(state_update(stopped(p::StopCode::Error, message)));
            }
            _ => {}
        }
        let events = inner
            .into_iter()
            .map(|inner| self.ledger.event(&event.actor_id, left.generation, inner))
            .collect();
        vec![ToRivet::ToRivetEvents(events)]
    }

    /// Stops an actor here without another write, and reports it lost.
    fn drop_actor(&mut self, actor_id: &str, why: &str, events: &mut Vec<p::EventWrapper>) {
        let Some(Left { generation, .. }) = self.storage.unhost(actor_id) else {
            return;
        };
        self.stopping.remove(actor_id);
        if self.registry.stop_actor(actor_id) {
            *self.dropped.entry(actor_id.to_owned()).or_default() += 1;
        }
        let state = stopped(p::StopCode::Error, Some(why.to_owned()));
        events.push(self.ledger.event(actor_id, generation, state_update(state)));
    }

    /// After a lost connection: every actor is dropped (reported lost on the next connection),
    /// every KV request waiting for the old connection fails.
    fn fence(&mut self) {
        let mut events = Vec::new();
        for (actor_id, _) in self.storage.hosted() {
            self.drop_actor(
                &actor_id,
                "the envoy lost its engine connection",
                &mut events,
            );
        }
        for (_, reply) in self.pending_kv.drain() {
            let _ = reply.send(Err(KvFailure::Fenced));
        }
        self.tunnel = Tunnel::default();
    }
}

/// Resolves once the envoy is told to stop or its registry shuts down.
async fn stopping(stop: &mut watch::Receiver<bool>, registry: &Registry) {
    let registry_stopped = registry.stopped();
    tokio::select! {
        _ = stop.wait_for(|stop| *stop) => {}
        () = registry_stopped => {}
    }
}

fn stopped(code: p::StopCode, message: Option<String>) -> p::ActorState {
    p::ActorState::ActorStateStopped(p::ActorStateStopped {
        code,
        message: message.map(Into::into),
    })
}

fn state_update(state: p::ActorState) -> p::Event {
    p::Event::EventActorStateUpdate(p::EventActorStateUpdate { state })
}

fn intent(intent: p::ActorIntent) -> p::Event {
    p::Event::EventActorIntent(p::EventActorIntent { intent })
}
