//! The inspector WebSocket (`/gateway/{actor}/inspector/connect`), what the Rivet dashboard
//! opens: `Init` first, then answers to its requests, and live updates of the state,
//! connections, queue, workflow history and schedules after each turn that changes them.
//!
//! The version comes from `?protocol_version=N` (1 to 6; each message is then bare), or, for
//! clients from before that parameter, from each message's prefix (answered in version 5 with
//! the prefix). The token comes as subprotocol `rivet_inspector_token.<token>` (browsers
//! cannot set headers), `rivet_token.<token>`, or `Authorization: Bearer`. An open inspector
//! keeps its actor awake, as in RivetKit.

use axum::extract::WebSocketUpgrade;
use axum::extract::ws::Message as WsMessage;
use axum::response::Response;
use bytes::Bytes;
use http::HeaderMap;
use rivet_client::protocol::compat::plain_json_to_cbor;
use rivet_client::{ActorError, ActorTarget, codes};
use serde_json::Value;
use tokio::sync::watch;

use super::transport;
use super::wire::{self, Connection, Init, Message, QueueStatus, Request, Schedule};
use crate::mailbox::{Envelope, Inspect, Revisions};
use crate::registry::Registry;
use crate::server::ws::{self, Liveness, ServerSocket};
use crate::trace::TraceQuery;

/// The subprotocol prefixes that carry a token.
const PROTOCOL_INSPECTOR_TOKEN: &str = "rivet_inspector_token.";
const PROTOCOL_TOKEN: &str = "rivet_token.";
/// Times in a row the session follows its actor into a new activation before giving up.
const MAX_REATTACH: usize = 3;

/// How the session's messages are framed.
#[derive(Debug, Clone, Copy)]
struct Framing {
    version: u16,
    /// Each message starts with its version (no `protocol_version` on the URL).
    embedded: bool,
}

/// `GET .../inspector/connect`: accepts the socket, then checks the version and the token
/// (closing with RivetKit's codes when they are wrong).
pub(crate) fn connect(
    registry: Registry,
    target: ActorTarget,
    upgrade: WebSocketUpgrade,
    headers: HeaderMap,
    query: String,
) -> Response {
    upgrade
        .protocols(["rivet"])
        .on_upgrade(move |socket| run(registry, target, socket, headers, query))
}

/// The tokens a handshake carries: its subprotocols' and its bearer token.
fn given_tokens(headers: &HeaderMap) -> Vec<String> {
    let mut tokens: Vec<String> = ws::subprotocols(headers)
        .into_iter()
        .filter_map(|p| {
            p.strip_prefix(PROTOCOL_INSPECTOR_TOKEN)
                .or_else(|| p.strip_prefix(PROTOCOL_TOKEN))
                .map(str::to_owned)
        })
        .collect();
    tokens.extend(super::bearer(headers).map(str::to_owned));
    tokens
}

/// Runs one inspector session until either side closes.
pub(crate) async fn run(
    registry: Registry,
    target: ActorTarget,
    mut socket: impl ServerSocket,
    headers: HeaderMap,
    query: String,
) {
    let framing = match super::query_param(&query, "protocol_version") {
        None => Framing {
            version: wire::LEGACY_VERSION,
            embedded: true,
        },
        Some(v) => match v.parse::<u16>() {
            Ok(version) if wire::supported(version) => Framing {
                version,
                embedded: false,
            },
            _ => {
                tracing::debug!(version = %v, "refused an inspector protocol version");
                return ws::close(&mut socket, 1002, "inspector.invalid_protocol_version").await;
            }
        },
    };
    let tokens = given_tokens(&headers);
    let tokens: Vec<&str> = tokens.iter().map(String::as_str).collect();
    if let Err(error) = super::authorize(&registry, &target, &tokens).await {
        return ws::close(&mut socket, 1008, &error.full_code()).await;
    }
    let (target, watcher) = match attach(&registry, &target).await {
        Ok(attached) => attached,
        Err(error) => return ws::close(&mut socket, 1011, &error.full_code()).await,
    };
    let seen = *watcher.borrow();
    let mut session = Session {
        registry,
        target,
        framing,
        watcher,
        seen,
    };
    session.serve(&mut socket).await;
}

/// Starts watching the actor (waking it); returns its target by id and the watch.
async fn attach(
    registry: &Registry,
    target: &ActorTarget,
) -> Result<(ActorTarget, watch::Receiver<Revisions>), ActorError> {
    let make = |reply| Envelope::Watch { reply };
    let (id, watcher) = registry.inner().request(target, make).await?;
    let target = ActorTarget::Id {
        name: target.name().to_owned(),
        id: id.to_string(),
    };
    Ok((target, watcher))
}

struct Session {
    registry: Registry,
    target: ActorTarget,
    framing: Framing,
    watcher: watch::Receiver<Revisions>,
    /// What the dashboard was last sent.
    seen: Revisions,
}

impl Session {
    async fn serve(&mut self, socket: &mut impl ServerSocket) {
        let config = self.registry.server_config().clone();
        let mut liveness = Liveness::new(socket, config.ws_liveness_timeout);
        if !self.send_init(socket, &liveness).await {
            return;
        }
        let mut reattached = 0;
        loop {
            tokio::select! {
                incoming = socket.recv() => {
                    liveness.heard();
                    let payload = match incoming {
                        Some(Ok(WsMessage::Binary(bytes))) => bytes,
                        Some(Ok(WsMessage::Text(text))) => Bytes::from(text),
                        Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => continue,
                        Some(Ok(WsMessage::Close(_)) | Err(_)) | None => return,
                    };
                    if payload.len() > config.max_incoming_message_size {
                        return ws::close(socket, 1011, "message.incoming_too_long").await;
                    }
                    let answer = match wire::decode_request(&payload, (!self.framing.embedded).then_some(self.framing.version)) {
                        Ok(request) => self.answer(request).await,
                        Err(error) => {
                            tracing::debug!(%error, "malformed inspector request");
                            Message::Error { message: error.to_string() }
                        }
                    };
                    if !self.send(socket, &liveness, &answer).await {
                        return;
                    }
                    reattached = 0;
                }
                changed = self.watcher.changed() => {
                    if changed.is_err() {
                        // The activation ended (a restart, or the actor is gone): follow the
                        // actor into its next one, or say why not.
                        reattached += 1;
                        let attached = if reattached > MAX_REATTACH {
                            Err(codes::INTERNAL_ERROR.with_message("The actor keeps stopping."))
                        } else {
                            attach(&self.registry, &self.target).await
                        };
                        match attached {
                            Ok((_, watcher)) => {
                                self.watcher = watcher;
                                if !self.send_init(socket, &liveness).await {
                                    return;
                                }
                            }
                            Err(error) => return ws::close(socket, 1011, &error.full_code()).await,
                        }
                        continue;
                    }
                    let now = *self.watcher.borrow_and_update();
                    for update in self.updates(now).await {
                        if !self.send(socket, &liveness, &update).await {
                            return;
                        }
                    }
                }
                () = liveness.tick() => {
                    if !liveness.ping(socket).await {
                        return;
                    }
                }
            }
        }
    }

    async fn send(
        &self,
        socket: &mut impl ServerSocket,
        liveness: &Liveness,
        message: &Message,
    ) -> bool {
        let bytes = message.encode(self.framing.version, self.framing.embedded);
        liveness
            .bounded(socket.send(WsMessage::Binary(bytes.into())))
            .await
            .is_some_and(|sent| sent.is_ok())
    }

    async fn send_init(&mut self, socket: &mut impl ServerSocket, liveness: &Liveness) -> bool {
        self.seen = *self.watcher.borrow_and_update();
        match self.init().await {
            Ok(init) => {
                self.send(socket, liveness, &Message::Init(Box::new(init)))
                    .await
            }
            Err(error) => {
                ws::close(socket, 1011, &error.full_code()).await;
                false
            }
        }
    }

    async fn ask(&self, request: Inspect) -> Result<Value, ActorError> {
        super::ask(&self.registry, &self.target, request).await
    }

    async fn init(&self) -> Result<Init, ActorError> {
        let summary = self.ask(Inspect::Summary).await?;
        let workflow = summary["isWorkflowEnabled"].as_bool().unwrap_or(false);
        Ok(Init {
            connections: connections(&summary["connections"]),
            state: Some(cbor(&summary["state"])),
            rpcs: strings(&summary["rpcs"]),
            database: summary["isDatabaseEnabled"].as_bool().unwrap_or(false),
            queue_size: summary["queueSize"].as_u64().unwrap_or(0),
            workflow_history: history(&summary["workflowHistory"]),
            workflow,
            schedules: schedules(&self.ask(Inspect::Schedules).await?),
        })
    }

    /// The updates for what changed since the dashboard was last told.
    async fn updates(&mut self, now: Revisions) -> Vec<Message> {
        let seen = std::mem::replace(&mut self.seen, now);
        let mut updates = Vec::new();
        let mut push = |answer: Result<Option<Message>, ActorError>| match answer {
            Ok(Some(message)) => updates.push(message),
            Ok(None) => {}
            Err(error) => tracing::debug!(%error, "cannot read an inspector update"),
        };
        if now.state != seen.state {
            push(self.ask(Inspect::State).await.map(|v| {
                Some(Message::StateUpdated {
                    state: cbor(&v["state"]),
                })
            }));
        }
        if now.connections != seen.connections {
            push(self.ask(Inspect::Connections).await.map(|v| {
                Some(Message::ConnectionsUpdated {
                    connections: connections(&v["connections"]),
                })
            }));
        }
        if now.queue != seen.queue {
            push(self.ask(Inspect::Queue { limit: 0 }).await.map(|v| {
                Some(Message::QueueUpdated {
                    size: v["size"].as_u64().unwrap_or(0),
                })
            }));
        }
        if now.workflow != seen.workflow {
            push(self.ask(Inspect::WorkflowHistory).await.map(|v| {
                history(&v["history"]).map(|history| Message::WorkflowHistoryUpdated { history })
            }));
        }
        if now.schedules != seen.schedules {
            push(self.ask(Inspect::Schedules).await.map(|v| {
                Some(Message::SchedulesUpdated {
                    schedules: schedules(&v),
                })
            }));
        }
        updates
    }

    /// Answers one request (an error as the protocol's `Error` message).
    async fn answer(&self, request: Request) -> Message {
        self.try_answer(request)
            .await
            .unwrap_or_else(|error| Message::Error {
                message: format!("{}: {}", error.full_code(), error.message),
            })
    }

    async fn try_answer(&self, request: Request) -> Result<Message, ActorError> {
        Ok(match request {
            Request::PatchState { state } => {
                self.ask(Inspect::SetState(state.clone().into())).await?;
                Message::StateUpdated { state }
            }
            Request::State { id } => {
                let v = self.ask(Inspect::State).await?;
                Message::State {
                    rid: id,
                    state: Some(cbor(&v["state"])),
                }
            }
            Request::Connections { id } => {
                let v = self.ask(Inspect::Connections).await?;
                Message::Connections {
                    rid: id,
                    connections: connections(&v["connections"]),
                }
            }
            Request::Action { id, name, args } => Message::Action {
                rid: id,
                output: super::call(&self.registry, &self.target, name, args.into(), None)
                    .await?
                    .to_vec(),
            },
            Request::Rpcs { id } => {
                let meta = super::actor_type(&self.registry, self.target.name())?;
                Message::Rpcs {
                    rid: id,
                    rpcs: meta.actions.iter().map(|a| a.name.to_owned()).collect(),
                }
            }
            Request::Traces {
                id,
                start_ms,
                end_ms,
                limit,
            } => {
                let query = TraceQuery {
                    start_ms,
                    end_ms,
                    limit: usize::try_from(limit)
                        .unwrap_or(usize::MAX)
                        .min(super::MAX_TRACE_LIMIT),
                };
                let traces = self.ask(Inspect::Traces(query)).await?;
                Message::Traces {
                    rid: id,
                    payload: transport::trace_range(&traces, start_ms, end_ms, limit),
                }
            }
            Request::Queue { id, limit } => {
                let limit = usize::try_from(limit)
                    .unwrap_or(usize::MAX)
                    .min(super::MAX_QUEUE_LIMIT);
                let v = self.ask(Inspect::Queue { limit }).await?;
                Message::Queue {
                    rid: id,
                    status: queue_status(&v),
                }
            }
            Request::WorkflowHistory { id } => {
                let v = self.ask(Inspect::WorkflowHistory).await?;
                Message::WorkflowHistory {
                    rid: id,
                    history: history(&v["history"]),
                    enabled: v["isWorkflowEnabled"].as_bool().unwrap_or(false),
                }
            }
            Request::WorkflowReplay { id, entry_id } => {
                let v = self.ask(Inspect::WorkflowReplay { entry_id }).await?;
                Message::WorkflowReplay {
                    rid: id,
                    history: history(&v["history"]),
                    enabled: v["isWorkflowEnabled"].as_bool().unwrap_or(false),
                }
            }
            Request::DbSchema { id } => {
                let v = self.ask(Inspect::DbSchema).await?;
                Message::DbSchema {
                    rid: id,
                    schema: cbor(&v["schema"]),
                }
            }
            Request::DbRows {
                id,
                table,
                limit,
                offset,
            } => {
                let request = Inspect::DbRows {
                    table,
                    limit: usize::try_from(limit).unwrap_or(usize::MAX),
                    offset: usize::try_from(offset).unwrap_or(usize::MAX),
                };
                let v = self.ask(request).await?;
                Message::DbRows {
                    rid: id,
                    result: cbor(&v["rows"]),
                }
            }
            Request::Schedules { id } => Message::Schedules {
                rid: id,
                schedules: schedules(&self.ask(Inspect::Schedules).await?),
            },
            Request::ScheduleHistory {
                id, schedule_id, ..
            } => Message::ScheduleHistory {
                rid: id,
                schedule_id,
            },
            Request::ScheduleDelete {
                id,
                schedule_id,
                kind,
            } => {
                if kind != "at" {
                    return Err(codes::INVALID_REQUEST.with_message(format!(
                        "This runtime has no `{kind}` schedules; only one-shot (`at`) ones."
                    )));
                }
                let v = self
                    .ask(Inspect::CancelSchedule(schedule_id.clone()))
                    .await?;
                Message::ScheduleDeleted {
                    rid: id,
                    schedule_id,
                    deleted: v["deleted"].as_bool().unwrap_or(false),
                }
            }
            Request::Events { .. } => Message::Error {
                message: "inspector.events_dropped".to_owned(),
            },
        })
    }
}

/// CBOR of an answer's JSON (the dashboard decodes it with `cbor-x`).
fn cbor(value: &Value) -> Vec<u8> {
    plain_json_to_cbor(value).unwrap_or_else(|error| {
        tracing::debug!(%error, "an inspector value has no CBOR form");
        vec![0xf6]
    })
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

fn connections(value: &Value) -> Vec<Connection> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| Connection {
            id: c["id"].as_str().unwrap_or_default().to_owned(),
            details: cbor(&c["details"]),
        })
        .collect()
}

fn history(value: &Value) -> Option<Vec<u8>> {
    (!value.is_null()).then(|| transport::workflow_history(value))
}

fn schedules(value: &Value) -> Vec<Schedule> {
    value["schedules"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| Schedule {
            id: s["id"].as_str().unwrap_or_default().to_owned(),
            action: s["action"].as_str().unwrap_or_default().to_owned(),
            args: cbor(&s["args"]),
            next_run_at: s["nextRunAt"].as_u64().unwrap_or(0),
        })
        .collect()
}

fn queue_status(value: &Value) -> QueueStatus {
    QueueStatus {
        size: value["size"].as_u64().unwrap_or(0),
        max_size: value["maxSize"].as_u64().unwrap_or(0),
        messages: value["messages"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| {
                (
                    m["id"].as_u64().unwrap_or(0),
                    m["name"].as_str().unwrap_or_default().to_owned(),
                    m["createdAtMs"].as_u64().unwrap_or(0),
                )
            })
            .collect(),
        truncated: value["truncated"].as_bool().unwrap_or(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_come_from_subprotocols_and_the_bearer_header() {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::SEC_WEBSOCKET_PROTOCOL,
            "rivet, rivet_inspector_token.abc, rivet_token.def"
                .parse()
                .unwrap(),
        );
        headers.insert(http::header::AUTHORIZATION, "Bearer ghi".parse().unwrap());
        assert_eq!(given_tokens(&headers), ["abc", "def", "ghi"]);
    }
}
