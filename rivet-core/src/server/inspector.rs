//! The inspector API under `/gateway/{actor}/inspector/`: RivetKit's routes and JSON shapes
//! (`summary`, `state`, `connections`, `rpcs`, `action/{name}`, `queue` to list, send to and
//! purge, `database/schema`, `database/rows`, `database/execute`, `workflow-history`, `traces`)
//! for its dashboard, curl and scripts, behind the inspector's bearer token.
//!
//! Who may inspect: a request with `Authorization: Bearer` and the inspector token
//! (`RIVET_INSPECTOR_TOKEN` or the builder) or the server's token. With neither configured,
//! the inspector answers only while every listener of the server is on loopback (a server
//! nested in an app, or run on an engine, counts as exposed), and refuses with
//! `inspector.unauthorized` (401) otherwise.

use std::borrow::Cow;
use std::net::SocketAddr;

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, StatusCode, header};
use rivet_client::codes::guard::NO_ROUTE;
use rivet_client::protocol::compat::{cbor_to_plain_json, plain_json_to_cbor};
use rivet_client::{ActorError, ActorTarget, codes};
use serde_json::{Value, json};

use super::gateway::GatewayTarget;
use super::intake::{actor_target, actor_type, read_message};
use super::request::bearer;
use super::response::{HEADER_RAY_ID, status_of};
use crate::config::ServerConfig;
use crate::mailbox::{ConnRef, Envelope, Inspect, ReplyTo};
use crate::registry::Registry;
use crate::trace::{TraceParent, TraceQuery};
use crate::url::percent_decode;

mod socket;
mod transport;
mod wire;

pub(crate) use socket::connect;
#[cfg(feature = "engine")]
pub(crate) use socket::run as run_socket;

/// RivetKit's default number of queue messages listed.
const DEFAULT_QUEUE_LIMIT: usize = 100;
/// The most queue messages one listing returns.
const MAX_QUEUE_LIMIT: usize = 1000;
/// RivetKit's default number of spans in one `traces` read, and its largest.
const DEFAULT_TRACE_LIMIT: usize = 1000;
const MAX_TRACE_LIMIT: usize = 10_000;
/// Database rows listed when the request does not say (the actor caps it at 500).
const DEFAULT_ROWS: usize = 100;

/// Whether `path` (a full request path) is an inspector route: `/gateway/{actor}/inspector...`.
pub(crate) fn is_inspector_path(path: &str) -> bool {
    path.strip_prefix("/gateway/")
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(_, tail)| tail == "inspector" || tail.starts_with("inspector/"))
}

/// Says at start-up who may use the inspector of a server listening on `addr`.
pub(crate) fn announce(config: &ServerConfig, addr: SocketAddr) {
    if config.inspector_token.is_some() || config.token.is_some() {
        tracing::info!(%addr, "inspector: requests need the bearer token");
    } else if config.listeners.loopback_only() {
        tracing::info!(
            %addr,
            "inspector open without a token: the server listens on loopback only"
        );
    } else {
        tracing::warn!(
            %addr,
            "inspector closed: this server listens beyond loopback; set RIVET_INSPECTOR_TOKEN to inspect its actors"
        );
    }
}

/// Whether the server's own rules let an inspector request with these tokens in: the
/// inspector's or the server's token, or, with neither configured, loopback only.
fn server_allows(config: &ServerConfig, given: &[&str]) -> bool {
    let tokens: Vec<_> = [config.inspector_token.as_ref(), config.token.as_ref()]
        .into_iter()
        .flatten()
        .collect();
    if tokens.is_empty() {
        config.listeners.loopback_only()
    } else {
        given
            .iter()
            .any(|given| tokens.iter().any(|t| t.matches(given)))
    }
}

/// Checks the tokens an inspector request for `target` gave (any one may be right): the
/// server's rules, or, for an actor named by its id, the actor's own token (RivetKit's
/// per-actor token, which the Rivet dashboard reads from the engine), read from storage
/// without waking the actor.
async fn authorize(
    registry: &Registry,
    target: &ActorTarget,
    given: &[&str],
) -> Result<(), ActorError> {
    if server_allows(registry.server_config(), given) {
        return Ok(());
    }
    if !given.is_empty()
        && let ActorTarget::Id { id, .. } = target
        && let Ok(Some(own)) = registry.inner().inspector_token(id).await
        && let Some(own) = crate::config::Token::new(&own)
        && given.iter().any(|given| own.matches(given))
    {
        return Ok(());
    }
    Err(refused())
}

/// `inspector.unauthorized`, logged (without the tokens).
fn refused() -> ActorError {
    tracing::warn!(
        "refused an inspector request without a valid bearer token (inspector.unauthorized)"
    );
    codes::inspector::UNAUTHORIZED.error()
}

/// Serves inspector route `path` (after `/inspector`) of `target`.
pub(crate) async fn route(
    registry: &Registry,
    target: GatewayTarget,
    path: &str,
    query: &str,
    request: axum::extract::Request,
    ray: &str,
) -> Response {
    let answer = async {
        let bearer = bearer(request.headers()).map(str::to_owned);
        let given = Vec::from_iter(bearer.as_deref());
        let method = request.method().clone();
        // Without a token the server's rules decide alone, before the actor is looked up.
        if given.is_empty() && !server_allows(registry.server_config(), &given) {
            return Err(refused());
        }
        let target = actor_target(registry, target).await?;
        authorize(registry, &target, &given).await?;
        match (&method, path) {
            (&Method::GET, "/summary") => ask(registry, &target, Inspect::Summary).await,
            (&Method::GET, "/state") => ask(registry, &target, Inspect::State).await,
            (&Method::PATCH, "/state") => {
                let body = read_json(registry, request).await?;
                let state = body.get("state").ok_or_else(|| {
                    codes::INVALID_REQUEST.with_message("The body needs a `state` field.")
                })?;
                let encoded = plain_json_to_cbor(state).map_err(|e| {
                    codes::INVALID_REQUEST.with_message(format!("Invalid state: {e}"))
                })?;
                ask(registry, &target, Inspect::SetState(encoded.into())).await
            }
            (&Method::GET, "/connections") => ask(registry, &target, Inspect::Connections).await,
            (&Method::GET, "/rpcs") => rpcs(registry, &target),
            (&Method::GET, "/queue") => {
                let limit = query_param(query, "limit")
                    .and_then(|v| v.parse::<usize>().ok())
                    .unwrap_or(DEFAULT_QUEUE_LIMIT)
                    .min(MAX_QUEUE_LIMIT);
                ask(registry, &target, Inspect::Queue { limit }).await
            }
            (&Method::POST, "/queue") => {
                let body = read_json(registry, request).await?;
                let name = body["name"].as_str().ok_or_else(|| {
                    codes::INVALID_REQUEST.with_message("The body needs a `name` string.")
                })?;
                let message = plain_json_to_cbor(&body["body"]).map_err(|e| {
                    codes::INVALID_REQUEST.with_message(format!("Invalid message body: {e}"))
                })?;
                let request = Inspect::Enqueue {
                    name: name.to_owned(),
                    body: message.into(),
                };
                ask(registry, &target, request).await
            }
            (&Method::DELETE, "/queue") => ask(registry, &target, Inspect::Purge).await,
            (&Method::GET, "/workflow-history") => {
                ask(registry, &target, Inspect::WorkflowHistory).await
            }
            (&Method::POST, "/workflow/replay") => {
                let body = read_json(registry, request).await?;
                let entry_id = match &body["entryId"] {
                    Value::Null => None,
                    Value::String(id) => Some(id.clone()),
                    _ => {
                        return Err(
                            codes::INVALID_REQUEST.with_message("`entryId` must be a string.")
                        );
                    }
                };
                ask(registry, &target, Inspect::WorkflowReplay { entry_id }).await
            }
            (&Method::GET, "/database/schema") => ask(registry, &target, Inspect::DbSchema).await,
            (&Method::GET, "/database/rows") => {
                let table = query_param(query, "table").ok_or_else(|| {
                    codes::INVALID_REQUEST.with_message("The `table` parameter is missing.")
                })?;
                let number = |name, default| {
                    query_param(query, name)
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(default)
                };
                let request = Inspect::DbRows {
                    table,
                    limit: number("limit", DEFAULT_ROWS),
                    offset: number("offset", 0),
                };
                ask(registry, &target, request).await
            }
            (&Method::POST, "/database/execute") => {
                let body = read_json(registry, request).await?;
                let sql = body["sql"].as_str().ok_or_else(|| {
                    codes::INVALID_REQUEST.with_message("The body needs an `sql` string.")
                })?;
                // `args` bind by position (`?`), `properties` by name (`:name`).
                let args = match (body.get("args"), body.get("properties")) {
                    (None | Some(Value::Null), None | Some(Value::Null)) => {
                        Value::Array(Vec::new())
                    }
                    (Some(args @ Value::Array(_)), None | Some(Value::Null)) => args.clone(),
                    (None | Some(Value::Null), Some(properties @ Value::Object(_))) => {
                        properties.clone()
                    }
                    (Some(Value::Array(_)), Some(_)) => {
                        return Err(codes::INVALID_REQUEST
                            .with_message("Give `args` or `properties`, not both."));
                    }
                    (_, Some(properties)) if !properties.is_object() => {
                        return Err(
                            codes::INVALID_REQUEST.with_message("`properties` must be an object.")
                        );
                    }
                    _ => {
                        return Err(codes::INVALID_REQUEST.with_message("`args` must be an array."));
                    }
                };
                let request = Inspect::DbExecute {
                    sql: sql.to_owned(),
                    args,
                };
                ask(registry, &target, request).await
            }
            (&Method::GET, "/traces") => {
                let number = |name| query_param(query, name).and_then(|v| v.parse::<u64>().ok());
                let query = TraceQuery {
                    start_ms: number("startMs").unwrap_or(0),
                    end_ms: number("endMs")
                        .unwrap_or_else(|| crate::time::now_ms().cast_unsigned()),
                    limit: number("limit")
                        .and_then(|n| usize::try_from(n).ok())
                        .unwrap_or(DEFAULT_TRACE_LIMIT)
                        .min(MAX_TRACE_LIMIT),
                };
                ask(registry, &target, Inspect::Traces(query)).await
            }
            (&Method::POST, p) if p.starts_with("/action/") => {
                let name = percent_decode(&p["/action/".len()..]).unwrap_or_default();
                let trace = TraceParent::from_headers(request.headers());
                let body = read_json(registry, request).await?;
                action(registry, &target, name, &body, trace).await
            }
            _ => Err(NO_ROUTE.with_message(format!("No inspector route `{method} {path}`."))),
        }
    };
    match answer.await {
        Ok(value) => json_response(StatusCode::OK, &value, ray),
        // RivetKit's inspector always writes `metadata`, `null` when there is none.
        Err(error) => json_response(
            status_of(&error),
            &json!({
                "group": error.group,
                "code": error.code,
                "message": error.message,
                "metadata": error.metadata,
            }),
            ray,
        ),
    }
}

/// Asks the actor (waking it) and returns its answer.
async fn ask(
    registry: &Registry,
    target: &ActorTarget,
    request: Inspect,
) -> Result<Value, ActorError> {
    let make = |reply| Envelope::Inspect { request, reply };
    let (_, answer) = registry.inner().request(target, make).await?;
    Ok(answer)
}

/// The actor type's actions, from its metadata (the actor is not woken).
fn rpcs(registry: &Registry, target: &ActorTarget) -> Result<Value, ActorError> {
    let meta = actor_type(registry, target.name())?;
    let names: Vec<&str> = meta.actions.iter().map(|a| a.name).collect();
    Ok(json!({ "rpcs": names }))
}

/// Runs action `name` as any call does, with `{"args": [...]}` (plain JSON).
async fn action(
    registry: &Registry,
    target: &ActorTarget,
    name: String,
    body: &Value,
    trace: Option<TraceParent>,
) -> Result<Value, ActorError> {
    let args = match body.get("args") {
        None => Value::Array(Vec::new()),
        Some(args @ Value::Array(_)) => args.clone(),
        Some(_) => {
            return Err(codes::INVALID_REQUEST.with_message("`args` must be an array."));
        }
    };
    let args = plain_json_to_cbor(&args)
        .map_err(|e| codes::INVALID_REQUEST.with_message(format!("Invalid arguments: {e}")))?;
    let output = call(registry, target, name, args.into(), trace).await?;
    let output = cbor_to_plain_json(&output).map_err(|e| {
        codes::INTERNAL_ERROR.with_message(format!("The output has no JSON form: {e}"))
    })?;
    Ok(json!({ "output": output }))
}

/// Runs action `name` with CBOR `args` as a stateless call does (the HTTP route and the
/// WebSocket's `ActionRequest`); its CBOR output.
async fn call(
    registry: &Registry,
    target: &ActorTarget,
    name: String,
    args: bytes::Bytes,
    trace: Option<TraceParent>,
) -> Result<bytes::Bytes, ActorError> {
    let make = |reply| Envelope::Action {
        name: Cow::Owned(name),
        args,
        conn: ConnRef::Ephemeral {
            params: None,
            request: None,
        },
        reply: ReplyTo::Oneshot(reply),
        chain: None,
        trace,
    };
    let (_, output) = registry.inner().request(target, make).await?;
    Ok(output)
}

/// Reads a JSON body within the incoming message limit.
async fn read_json(
    registry: &Registry,
    request: axum::extract::Request,
) -> Result<Value, ActorError> {
    let body = read_message(registry, request).await?;
    serde_json::from_slice(&body)
        .map_err(|e| codes::INVALID_REQUEST.with_message(format!("The body is not JSON: {e}")))
}

/// The value of parameter `name` in `query` (`?`-prefixed or empty).
fn query_param(query: &str, name: &str) -> Option<String> {
    query
        .trim_start_matches('?')
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .and_then(|(_, value)| percent_decode(value))
}

fn json_response(status: StatusCode, value: &Value, ray: &str) -> Response {
    let mut response = (status, value.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if let Ok(v) = HeaderValue::from_str(ray) {
        headers.insert(HEADER_RAY_ID, v);
    }
    response
}
