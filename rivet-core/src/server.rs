//! The HTTP and WebSocket server: the RivetKit engine API subset, the gateway and the per-actor
//! routes the official JavaScript client uses, in the json, cbor and bare encodings.
//!
//! ```no_run
//! # use rivet_core::prelude::*;
//! # #[derive(Default, Serialize, Deserialize)] struct Counter { count: i64 }
//! # #[actor] impl Counter { #[action] fn get(&self) -> i64 { self.count } }
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let registry = Registry::builder().with::<Counter>().build()?;
//! // Either serve on its own port until Ctrl-C or SIGTERM (then every actor sleeps, its state
//! // committed, and `serve` returns)...
//! registry.serve("127.0.0.1:6420").await?;
//! // ...or mount it in an existing axum app, like RivetKit's `registry.handler()`:
//! let app = axum::Router::new().nest("/api/rivet", registry.router());
//! # let _ = app; Ok(()) }
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{any, delete, get};
use tokio::net::{TcpListener, ToSocketAddrs};

use crate::registry::Registry;

mod access;
mod api;
mod gateway;
mod inspector;
mod intake;
mod listen;
mod request;
mod response;
mod routes;
mod ui;
mod ws;

pub use crate::config::{INSPECTOR_TOKEN_ENV, TOKEN_ENV};
#[cfg(feature = "engine")]
pub(crate) use routes::tunnelled_socket;
#[cfg(feature = "engine")]
pub(crate) use ws::ServerSocket;

/// Entry points for the fuzz targets (`fuzz/`): the server's parsers of untrusted input that
/// have no public door of their own. Not an API.
#[doc(hidden)]
pub mod fuzzing {
    /// Parses a gateway path (after `/gateway/`) and query, as a request would reach it.
    pub fn gateway(tail: &str, query: Option<&str>) -> bool {
        super::gateway::parse(tail, query).is_ok()
    }

    /// Reads connection parameters given as JSON (a header or a subprotocol).
    pub fn conn_params(json: &str) -> bool {
        super::request::params_from_json(json).is_ok()
    }

    /// Reads a WebSocket handshake's subprotocols (encoding, percent-encoded parameters).
    pub fn handshake(protocols: &str) -> bool {
        let mut headers = http::HeaderMap::new();
        match http::HeaderValue::from_str(protocols) {
            Ok(value) => {
                headers.insert(http::header::SEC_WEBSOCKET_PROTOCOL, value);
                super::ws::handshake(&headers).is_ok()
            }
            Err(_) => false,
        }
    }
}

/// The default address of `Registry::serve`, the port the official client expects.
pub const DEFAULT_ADDR: &str = "127.0.0.1:6420";

pub use crate::config::Cors;

impl Registry {
    /// The routes alone, without the token, origin and body checks: what the Rivet Engine
    /// tunnels to an envoy (runner mode), after its own gateway authenticated the client.
    pub(crate) fn routes(&self) -> Router {
        Router::new()
            .route("/", get(api::banner))
            .route("/health", get(api::health))
            .route("/metrics", get(api::metrics))
            .route("/metadata", get(api::metadata))
            .route(
                "/actors",
                get(api::list_actors)
                    .put(api::get_or_create_actor)
                    .post(api::create_actor),
            )
            .route("/actors/names", get(api::actor_names))
            .route("/actors/{id}", delete(api::destroy_actor))
            .route("/start", any(api::start))
            .route("/gateway/{*tail}", any(routes::gateway))
            .route("/connect", any(routes::header_routed))
            .route("/request", any(routes::header_routed))
            .route("/request/{*rest}", any(routes::header_routed))
            .route("/websocket", any(routes::header_routed))
            .route("/websocket/{*rest}", any(routes::header_routed))
            .fallback(api::no_route)
            .method_not_allowed_fallback(api::no_route)
            .with_state(self.clone())
    }

    /// The server's routes as an axum [`Router`], to serve alone or nest under a prefix of an
    /// existing app (RivetKit mounts it at `/api/rivet`), with the server's token, browser
    /// origin and request body checks. (The `Host` check needs the bound address, so only
    /// [`serve`](Self::serve) applies it; an app that nests the router chooses its own.)
    pub fn router(&self) -> Router {
        // Served by the app, on whatever address: the inspector needs a token.
        self.server_config().listeners.exposed();
        self.checked_router()
    }

    fn checked_router(&self) -> Router {
        let config = self.server_config();
        // The inspector page, in embedded mode only: an engine tunnels `routes` alone.
        let mut router = self
            .routes()
            .route("/ui", get(ui::page))
            .route("/ui/app.js", get(ui::script))
            .route("/ui/style.css", get(ui::style));
        if let Some(token) = &config.token {
            router = router.layer(from_fn_with_state(token.clone(), access::require_token));
        }
        router = router
            .layer(from_fn_with_state(
                Arc::new(config.cors.clone()),
                access::check_origin,
            ))
            .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
                config.body_read_timeout,
            ));
        // Outermost, so preflight requests are answered before the checks above.
        match cors_layer(&config.cors) {
            Some(layer) => router.layer(layer),
            None => router,
        }
    }

    /// Serves on `addr` (see [`DEFAULT_ADDR`]) until Ctrl-C or SIGTERM ([`shutdown_signal`]),
    /// then shuts the registry down gracefully (every actor runs `on_sleep` and its state is
    /// committed, then the storage closes) and returns; it also returns when the registry is
    /// shut down otherwise. For a server in the background, see
    /// [`spawn_server`](Self::spawn_server), which leaves signals to the app.
    pub async fn serve(&self, addr: impl ToSocketAddrs) -> std::io::Result<()> {
        self.serve_on(TcpListener::bind(addr).await?).await
    }

    /// [`serve`](Self::serve) on a listener bound by the caller (on port 0, say, to learn the
    /// port first): until Ctrl-C or SIGTERM, then a graceful shutdown.
    pub async fn serve_on(&self, listener: TcpListener) -> std::io::Result<()> {
        let serving = self.serve_listener(listener);
        tokio::pin!(serving);
        tokio::select! {
            result = &mut serving => return result,
            signal = shutdown_signal() => signal?,
        }
        tracing::info!("stop signal received: shutting down");
        let ((), served) = tokio::join!(self.shutdown(), serving);
        served
    }

    /// Serves on a bound listener until the registry shuts down: the [`router`](Self::router)
    /// behind the `Host` check, with the connection cap and timeouts of the builder.
    async fn serve_listener(&self, listener: TcpListener) -> std::io::Result<()> {
        let addr = listener.local_addr()?;
        let config = self.server_config();
        let hosts = access::Hosts::for_server(addr, config.allowed_hosts.as_deref());
        tracing::info!(%addr, token = config.token.is_some(), "serving");
        if config.token.is_none() && !addr.ip().is_loopback() {
            tracing::warn!(
                %addr,
                "serving beyond loopback without a token: anyone who reaches this address can \
                 list, call and destroy actors (set RIVET_TOKEN)"
            );
        }
        config.listeners.bound(addr);
        inspector::announce(config, addr);
        let router = self
            .checked_router()
            .layer(from_fn_with_state(hosts, access::check_host));
        listen::serve(listener, router, config, self.closing()).await
    }

    /// Binds `addr` and serves in the background; returns the bound address (useful with port 0).
    pub async fn spawn_server(&self, addr: impl ToSocketAddrs) -> std::io::Result<SocketAddr> {
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let registry = self.clone();
        tokio::spawn(async move {
            if let Err(error) = registry.serve_listener(listener).await {
                tracing::error!(%error, "server stopped");
            }
        });
        Ok(local)
    }
}

/// Resolves on Ctrl-C or, on Unix, SIGTERM (what process managers and containers send to stop
/// a process); what [`Registry::serve`] waits for, for apps that stop other things too.
///
/// ```no_run
/// # async fn run(registry: rivet_core::Registry) -> std::io::Result<()> {
/// let addr = registry.spawn_server("127.0.0.1:0").await?;
/// println!("listening on http://{addr}");
/// rivet_core::server::shutdown_signal().await?;
/// registry.shutdown().await;
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// If the signal handlers cannot be installed.
pub async fn shutdown_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await
}

fn cors_layer(cors: &Cors) -> Option<tower_http::cors::CorsLayer> {
    use http::{HeaderName, Method, header};
    use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};
    let origin = match cors {
        Cors::Disabled => return None,
        Cors::Permissive => AllowOrigin::predicate(|origin, _| origin != "null"),
        Cors::Origins(list) => AllowOrigin::list(list.iter().filter_map(|o| o.parse().ok())),
    };
    Some(
        CorsLayer::new()
            .allow_origin(origin)
            .allow_credentials(true)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
                Method::OPTIONS,
            ])
            .allow_headers(AllowHeaders::mirror_request())
            .expose_headers([
                HeaderName::from_static("x-rivet-ray-id"),
                HeaderName::from_static("x-rivet-actor"),
                header::CONTENT_TYPE,
            ])
            .max_age(Duration::from_secs(86_400)),
    )
}
