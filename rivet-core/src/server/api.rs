//! The engine API subset the official client uses: `/metadata`, `/health` and `/actors`; and
//! `/metrics` for Prometheus.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use rivet_client::{ActorAddr, ActorError, ActorKey, codes};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::response::{error_response, ray_id};
use crate::registry::Registry;
use crate::storage::ActorRecord;

/// The version this server reports: the RivetKit release whose protocols it speaks. Clients
/// and the Rivet dashboard choose protocol versions from it (the dashboard's inspector speaks
/// protocol 1 to a runtime it takes for older than 2.0, and 6 from 2.3.4 on).
const VERSION: &str = "2.3.19";
/// This implementation's own version, reported beside it.
const IMPLEMENTATION_VERSION: &str = env!("CARGO_PKG_VERSION");

/// `GET /`.
pub(crate) async fn banner() -> &'static str {
    "This is a Rivet for Rust server (RivetKit protocol). See /metadata.\n"
}

/// `GET /metrics`: the registry's metrics in the OpenMetrics text format, which Prometheus
/// scrapes (with the server's token, when it has one).
pub(crate) async fn metrics(State(registry): State<Registry>) -> Response {
    use crate::runtime::ActorRuntime as _;
    let inner = registry.inner();
    match inner.storage().count_actors().await {
        Ok(Some(stored)) => inner.metrics.set_asleep(&stored),
        Ok(None) => {}
        Err(error) => tracing::warn!(%error, "cannot count the stored actors for the metrics"),
    }
    let body = inner.metrics.encode();
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    ([(http::header::CONTENT_TYPE, content_type)], body).into_response()
}

/// Any path that is no route: `guard.no_route`, as JSON like every other error.
pub(crate) async fn no_route(request: axum::extract::Request) -> Response {
    let error = codes::guard::NO_ROUTE.with_message(format!(
        "No route `{} {}`.",
        request.method(),
        request.uri().path().chars().take(200).collect::<String>()
    ));
    error_response(&error, &ray_id(request.headers()))
}

/// `GET /health`.
pub(crate) async fn health() -> Json<Value> {
    Json(json!({
        "status": "ok",
        "runtime": "rivetkit",
        "version": VERSION,
        "implementationVersion": IMPLEMENTATION_VERSION,
    }))
}

/// The version an actor's own `/metadata` reports to the Rivet dashboard. From 2.3.0 on, the
/// dashboard shows an actor through the inspector UI bundle that RivetKit's runtime serves at
/// `/inspector/ui/`, which this runtime does not have; for an older runtime it shows the actor
/// with its own renderer over the inspector WebSocket, which this server speaks. 2.2.1 makes it
/// do that, in inspector protocol 4 (with workflow replay and the database).
const ACTOR_INSPECTOR_VERSION: &str = "2.2.1";

/// `GET /gateway/{actor}/metadata`: the runtime that serves an actor, without waking it (the
/// Rivet dashboard picks its inspector renderer and protocol from `version`).
pub(crate) fn actor_metadata() -> Value {
    json!({
        "runtime": "rivetkit",
        "version": ACTOR_INSPECTOR_VERSION,
        "implementation": "rivet-rust",
        "implementationVersion": IMPLEMENTATION_VERSION,
    })
}

/// `GET /metadata`: answered at once; the official client waits for it before anything else.
pub(crate) async fn metadata(State(registry): State<Registry>) -> Json<Value> {
    let mut names = Map::new();
    for meta in registry.actors() {
        let mut fields = Map::new();
        if let Some(icon) = meta.icon {
            fields.insert("icon".to_owned(), json!(icon));
        }
        if let Some(display) = meta.display_name {
            fields.insert("name".to_owned(), json!(display));
        }
        // A serverless pool's engine reads these (its preload of each actor's KV).
        #[cfg(feature = "engine")]
        if let Some(handler) = &registry.server_config().serverless {
            fields.extend(handler.name_metadata.clone());
        }
        names.insert(meta.name.to_owned(), json!({ "metadata": fields }));
    }
    Json(json!({
        "runtime": "rivetkit",
        "version": VERSION,
        "implementation": "rivet-rust",
        "implementationVersion": IMPLEMENTATION_VERSION,
        "actorNames": names,
        "envoy": { "kind": envoy_kind(&registry), "version": 1 },
        "envoyProtocolVersion": ENVOY_PROTOCOL_VERSION,
    }))
}

/// The envoy protocol this build speaks (RivetKit reports its own in `/metadata`).
#[cfg(feature = "engine")]
const ENVOY_PROTOCOL_VERSION: u16 = crate::envoy::protocol::PROTOCOL_VERSION;
#[cfg(not(feature = "engine"))]
const ENVOY_PROTOCOL_VERSION: u16 = 8;

/// `{"serverless":{}}` when a serverless pool of an engine runs the actors, else `{"normal":{}}`.
fn envoy_kind(registry: &Registry) -> Value {
    #[cfg(feature = "engine")]
    if registry.server_config().serverless.is_some() {
        return json!({ "serverless": {} });
    }
    let _ = registry;
    json!({ "normal": {} })
}

/// `POST /start`: a Rivet Engine starting an actor of a serverless pool here (runner mode);
/// `guard.no_route` when this registry serves no serverless pool.
pub(crate) async fn start(
    State(registry): State<Registry>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    #[cfg(feature = "engine")]
    if let Some(handler) = registry.server_config().serverless.clone() {
        return (handler.start)(headers, body).await;
    }
    let _ = (body, &registry);
    let error = codes::guard::NO_ROUTE.with_message(
        "This server runs no serverless pool of a Rivet Engine (see rivet_core::envoy).",
    );
    error_response(&error, &ray_id(&headers))
}

/// The engine's JSON view of an actor.
fn actor_json(record: &ActorRecord) -> Value {
    json!({
        "actor_id": record.id,
        "name": record.name,
        "key": record.key.serialize(),
        "namespace_id": "default",
        "runner_name_selector": "default",
        "crash_policy": "sleep",
        "datacenter": "default",
        "create_ts": record.created_at_ms,
        "start_ts": record.created_at_ms,
        "connectable_ts": record.created_at_ms,
        "sleep_ts": null,
        "destroy_ts": null,
    })
}

fn fail(error: &ActorError, headers: &HeaderMap) -> Response {
    error_response(error, &ray_id(headers))
}

fn bad_request(message: impl Into<String>) -> ActorError {
    codes::INVALID_REQUEST.with_message(message)
}

/// A JSON body axum could not parse, as our error (not axum's plain-text rejection).
fn invalid_body(rejection: JsonRejection) -> ActorError {
    bad_request(format!("Invalid request body: {}", rejection.body_text()))
}

/// Query of `GET /actors`.
#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    name: Option<String>,
    key: Option<String>,
    actor_ids: Option<String>,
    #[allow(dead_code)]
    namespace: Option<String>,
}

/// `GET /actors?name&key`, `?actor_ids=a,b`, or `?name` (list).
pub(crate) async fn list_actors(
    State(registry): State<Registry>,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Response {
    let inner = registry.inner();
    let result = async {
        let records = match (&query.actor_ids, &query.name, &query.key) {
            (Some(ids), None, None) => {
                let ids: Vec<&str> = ids.split(',').filter(|s| !s.is_empty()).collect();
                if ids.len() > 32 {
                    return Err(bad_request("At most 32 actor ids at once."));
                }
                let mut found = Vec::new();
                for id in ids {
                    if let Some(record) = inner.lookup_id(id).await? {
                        found.push(record);
                    }
                }
                found
            }
            (None, Some(name), Some(key)) => {
                let addr = ActorAddr {
                    name: name.clone(),
                    key: ActorKey::deserialize(key),
                };
                inner.lookup_addr(&addr).await?.into_iter().collect()
            }
            (None, Some(name), None) => inner.list_actors(name, 100).await?,
            _ => {
                return Err(bad_request(
                    "Give `actor_ids`, or `name` with an optional `key`.",
                ));
            }
        };
        Ok(records)
    }
    .await;
    match result {
        Ok(records) => {
            Json(json!({ "actors": records.iter().map(actor_json).collect::<Vec<_>>() }))
                .into_response()
        }
        Err(error) => fail(&error, &headers),
    }
}

/// Body of `PUT /actors` and `POST /actors`.
#[derive(Debug, Deserialize)]
pub(crate) struct CreateBody {
    name: String,
    key: Option<String>,
    input: Option<String>,
}

impl CreateBody {
    /// The address and input of a `PUT`/`POST /actors` body, as axum parsed it.
    fn parse(
        body: Result<Json<Self>, JsonRejection>,
    ) -> Result<(ActorAddr, Option<Bytes>), ActorError> {
        let Json(body) = body.map_err(invalid_body)?;
        Ok((body.addr(), body.input()?))
    }

    fn addr(&self) -> ActorAddr {
        ActorAddr {
            name: self.name.clone(),
            // RivetKit's manager gives keyless creations a random key.
            key: match &self.key {
                Some(key) => ActorKey::deserialize(key),
                None => ActorKey::from(crate::ids::new_id()),
            },
        }
    }

    /// Standard base64 of CBOR (compat-encoded by rivetkit 2.3, plain from 2.2).
    fn input(&self) -> Result<Option<Bytes>, ActorError> {
        let Some(text) = &self.input else {
            return Ok(None);
        };
        let bytes = BASE64
            .decode(text)
            .map_err(|_| bad_request("`input` is not base64."))?;
        let revived = rivet_client::protocol::compat::revive_cbor(&bytes).map_err(|e| {
            codes::VALIDATION_ERROR.with_message(format!("`input` is not valid CBOR: {e}"))
        })?;
        Ok(Some(Bytes::from(revived.into_owned())))
    }
}

/// `PUT /actors`: get or create.
pub(crate) async fn get_or_create_actor(
    State(registry): State<Registry>,
    headers: HeaderMap,
    body: Result<Json<CreateBody>, JsonRejection>,
) -> Response {
    let result = async {
        let (addr, input) = CreateBody::parse(body)?;
        registry.inner().get_or_create_record(&addr, input).await
    }
    .await;
    match result {
        Ok((record, created)) => {
            Json(json!({ "actor": actor_json(&record), "created": created })).into_response()
        }
        Err(error) => fail(&error, &headers),
    }
}

/// `POST /actors`: create; an existing key is `actor.duplicate_key`.
pub(crate) async fn create_actor(
    State(registry): State<Registry>,
    headers: HeaderMap,
    body: Result<Json<CreateBody>, JsonRejection>,
) -> Response {
    let result = async {
        let (addr, input) = CreateBody::parse(body)?;
        registry.inner().create_started(&addr, input).await
    }
    .await;
    match result {
        Ok(record) => Json(json!({ "actor": actor_json(&record) })).into_response(),
        Err(error) => fail(&error, &headers),
    }
}

/// `GET /actors/names`.
pub(crate) async fn actor_names(State(registry): State<Registry>) -> Json<Value> {
    let mut names = Map::new();
    for meta in registry.actors() {
        let mut fields = Map::new();
        if let Some(icon) = meta.icon {
            fields.insert("icon".to_owned(), json!(icon));
        }
        names.insert(meta.name.to_owned(), json!({ "metadata": fields }));
    }
    Json(json!({ "names": names }))
}

/// `DELETE /actors/{id}`: destroys the actor (running `#[on_destroy]`).
pub(crate) async fn destroy_actor(
    State(registry): State<Registry>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    match registry.inner().destroy_by_id(&id).await {
        Ok(()) => (StatusCode::OK, Json(json!({}))).into_response(),
        Err(error) => fail(&error, &headers),
    }
}
