//! Serverless pools: the engine starts an actor by calling the app's `POST /start` (the pool's
//! runner config names the app's URL) with its endpoint, pool and namespace in headers and one
//! `StartActor` command in the body (u16 LE protocol version, then the BARE message). The app
//! connects an envoy to that engine (once; later starts reuse it), hands it the command as if it
//! came over the connection, and answers with an event stream: `ping` every second while the
//! app runs, `stopping` when it shuts down. The engine treats the stream's end as the end of the
//! app's lease on the actor.

use std::convert::Infallible;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderMap, StatusCode};
use rivet_client::codes;
use rivet_envoy_protocol as p;
use tokio::sync::{mpsc, watch};

use super::connect::{EngineEndpoint, EnvoyError, check_engine};
use super::link::{Link, Outgoing};
use super::protocol::{PROTOCOL_VERSION, ToEnvoy, decode};
use super::storage::EngineStorage;
use crate::config::StartHandler;
use crate::registry::{Registry, RegistryBuilder};

/// Where the engine calls a serverless app, relative to where its router is mounted.
pub const SERVERLESS_PATH: &str = "/start";

/// How often the event stream says the app is alive.
const PING_EVERY: Duration = Duration::from_secs(1);

/// The registry's side of a serverless pool: its storage on the engine, and the envoy it
/// connects on the first `/start`.
struct Serverless {
    registry: OnceLock<Registry>,
    storage: Arc<EngineStorage>,
    link: Link,
    outgoing: Mutex<Option<mpsc::UnboundedReceiver<Outgoing>>>,
    /// The engine the envoy connected to, and its stop switch.
    connected: tokio::sync::Mutex<Option<(EngineEndpoint, watch::Sender<bool>)>>,
}

impl super::Envoy {
    /// A registry whose actors a serverless pool of a Rivet Engine runs: serve its
    /// [`router`](Registry::router) where the pool's runner config points (`/start` is the
    /// engine's call, `/metadata` reports the serverless kind). The envoy connects to the
    /// engine named by the first `/start`. Stop it with [`Registry::shutdown`], which also
    /// ends the event streams the engine holds.
    ///
    /// Actor code's client is the in-process one here (the engine is not known when the
    /// registry is built), so actors reach only actors of this process.
    pub fn serverless(builder: RegistryBuilder) -> Result<Registry, EnvoyError> {
        let (link, outgoing) = Link::new();
        let storage = Arc::new(EngineStorage::new(link.clone()));
        let state = Arc::new(Serverless {
            registry: OnceLock::new(),
            storage: Arc::clone(&storage),
            link,
            outgoing: Mutex::new(Some(outgoing)),
            connected: tokio::sync::Mutex::new(None),
        });
        let handler_state = Arc::clone(&state);
        let handler = StartHandler {
            start: Arc::new(move |headers, body| {
                let state = Arc::clone(&handler_state);
                Box::pin(async move { state.start(&headers, &body).await })
            }),
            // The engine preloads each actor's KV into the `/start` it sends (2.3.19 does so only
            // for serverless pools, from `/metadata`).
            name_metadata: serde_json::Map::from_iter([(
                "preload".to_owned(),
                super::storage::preload(),
            )]),
        };
        let registry = builder
            .storage(Arc::clone(&storage) as _)
            .preloaded_reads(storage.preloaded_reads())
            .serverless_start(handler)
            .build()?;
        let _ = state.registry.set(registry.clone());
        Ok(registry)
    }
}

impl Serverless {
    async fn start(&self, headers: &HeaderMap, body: &[u8]) -> Response {
        let Some(registry) = self.registry.get() else {
            return refuse(StatusCode::SERVICE_UNAVAILABLE, "the registry is starting");
        };
        let engine = match start_headers(headers) {
            Ok(engine) => engine,
            Err(message) => return refuse(StatusCode::BAD_REQUEST, &message),
        };
        let command = match start_command(body) {
            Ok(command) => command,
            Err(message) => return refuse(StatusCode::BAD_REQUEST, &message),
        };
        if let Err(error) = self.connect(registry, &engine).await {
            tracing::error!(%error, "a serverless start could not connect to the engine");
            return refuse(StatusCode::SERVICE_UNAVAILABLE, &error.to_string());
        }
        if !self.link.inject(command) {
            return refuse(StatusCode::SERVICE_UNAVAILABLE, "the envoy stopped");
        }
        events(registry)
    }

    /// Connects the envoy to `engine` unless it is connected already (to the same engine).
    async fn connect(
        &self,
        registry: &Registry,
        engine: &EngineEndpoint,
    ) -> Result<(), EnvoyError> {
        let mut connected = self.connected.lock().await;
        if let Some((current, _)) = &*connected {
            if current.endpoint() == engine.endpoint() {
                return Ok(());
            }
            return Err(EnvoyError::InvalidEndpoint(format!(
                "this app serves the engine at {}, not {}",
                current.endpoint(),
                engine.endpoint()
            )));
        }
        rivet_client::tls::ready();
        check_engine(&reqwest::Client::new(), engine).await?;
        let outgoing = crate::sync::lock(&self.outgoing)
            .take()
            .ok_or_else(|| EnvoyError::Closed("the envoy stopped".to_owned()))?;
        let storage = Arc::clone(&self.storage);
        let (key, stop, _task) =
            super::session::connect(registry, storage, self.link.clone(), outgoing, engine).await?;
        tracing::info!(engine = %engine.endpoint(), envoy = %key, "serverless envoy connected");
        *connected = Some((engine.clone(), stop));
        Ok(())
    }
}

/// The engine's endpoint, pool, namespace and token, from the `/start` headers.
fn start_headers(headers: &HeaderMap) -> Result<EngineEndpoint, String> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
    };
    let required = |name: &str| header(name).ok_or_else(|| format!("{name} header is required"));
    let endpoint = required("x-rivet-endpoint")?;
    let pool = required("x-rivet-pool-name")?;
    let namespace = required("x-rivet-namespace-name")?;
    let engine = EngineEndpoint::new(endpoint)
        .pool(pool)
        .namespace(namespace);
    Ok(match header("x-rivet-token") {
        Some(token) => engine.token(token),
        None => engine,
    })
}

/// The body of `/start`: this protocol's version (u16 LE), then `Commands` with one
/// `StartActor`.
fn start_command(body: &[u8]) -> Result<ToEnvoy, String> {
    let (version, message) = body
        .split_first_chunk::<2>()
        .ok_or("the start payload is too short")?;
    let version = u16::from_le_bytes(*version);
    if version != PROTOCOL_VERSION {
        return Err(format!(
            "the start payload is envoy protocol {version}; this app speaks {PROTOCOL_VERSION}"
        ));
    }
    let message = decode(Bytes::copy_from_slice(message)).map_err(|e| e.to_string())?;
    match &message {
        ToEnvoy::ToEnvoyCommands(commands)
            if matches!(
                &commands[..],
                [p::CommandWrapper {
                    inner: p::Command::CommandStartActor(_),
                    ..
                }]
            ) =>
        {
            Ok(message)
        }
        _ => Err("the start payload is not one StartActor command".to_owned()),
    }
}

/// The event stream the engine holds while the app runs.
fn events(registry: &Registry) -> Response {
    let stopped = Box::pin(registry.stopped());
    let ticks = tokio::time::interval(PING_EVERY);
    let stream = futures_util::stream::unfold(Some((stopped, ticks)), |state| async move {
        let (mut stopped, mut ticks) = state?;
        tokio::select! {
            _ = ticks.tick() => Some((Event::default().event("ping").data(""), Some((stopped, ticks)))),
            () = &mut stopped => Some((Event::default().event("stopping").data(""), None)),
        }
    });
    Sse::new(stream.map(Ok::<_, Infallible>)).into_response()
}

fn refuse(status: StatusCode, message: &str) -> Response {
    let error = codes::INVALID_REQUEST;
    let body = serde_json::json!({
        "group": error.group,
        "code": error.code,
        "message": message,
    });
    (status, axum::Json(body)).into_response()
}
