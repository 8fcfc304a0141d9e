//! The HTTP and WebSocket server: the RivetKit engine API subset, the gateway and the per-actor
//! routes the official JavaScript client uses, in the json, cbor and bare encodings.
//!
//! ```no_run
//! # use rivet_core::prelude::*;
//! # #[derive(Default, Serialize, Deserialize)] struct Counter { count: i64 }
//! # #[actor] impl Counter { #[action] fn get(&self) -> i64 { self.count } }
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let registry = Registry::builder().with::<Counter>().build()?;
//! // Either serve on its own port...
//! registry.serve("127.0.0.1:6420").await?;
//! // ...or mount it in an existing axum app, like RivetKit's `registry.handler()`:
//! let app = axum::Router::new().nest("/api/rivet", registry.router());
//! # let _ = app; Ok(()) }
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::routing::{any, delete, get};
use tokio::net::{TcpListener, ToSocketAddrs};

use crate::registry::Registry;

mod api;
mod gateway;
mod request;
mod response;
mod routes;
mod ws;

#[cfg(feature = "engine")]
pub(crate) use routes::tunnelled_socket;
#[cfg(feature = "engine")]
pub(crate) use ws::ServerSocket;

/// The default address of `Registry::serve`, the port the official client expects.
pub const DEFAULT_ADDR: &str = "127.0.0.1:6420";

pub use crate::config::Cors;

impl Registry {
    /// The server's routes as an axum [`Router`], to serve alone or nest under a prefix of an
    /// existing app (RivetKit mounts it at `/api/rivet`).
    pub fn router(&self) -> Router {
        let routes = Router::new()
            .route("/", get(api::banner))
            .route("/health", get(api::health))
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
            .with_state(self.clone());
        let cors = &self.server_config().cors;
        match cors_layer(cors) {
            Some(layer) => routes.layer(layer),
            None => routes,
        }
    }

    /// Serves on `addr` (see [`DEFAULT_ADDR`]) until the registry shuts down.
    pub async fn serve(&self, addr: impl ToSocketAddrs) -> std::io::Result<()> {
        let listener = TcpListener::bind(addr).await?;
        self.serve_on(listener).await
    }

    /// Serves on a bound listener until the registry shuts down.
    pub async fn serve_on(&self, listener: TcpListener) -> std::io::Result<()> {
        let addr = listener.local_addr()?;
        tracing::info!(%addr, "serving");
        let stopped = self.stopped();
        // Small request/response messages must not wait out Nagle's algorithm and delayed ACKs.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            if let Err(error) = tcp.set_nodelay(true) {
                tracing::debug!(%error, "TCP_NODELAY not set");
            }
        });
        axum::serve(listener, self.router().into_make_service())
            .with_graceful_shutdown(stopped)
            .await
    }

    /// Binds `addr` and serves in the background; returns the bound address (useful with port 0).
    pub async fn spawn_server(&self, addr: impl ToSocketAddrs) -> std::io::Result<SocketAddr> {
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let registry = self.clone();
        tokio::spawn(async move {
            if let Err(error) = registry.serve_on(listener).await {
                tracing::error!(%error, "server stopped");
            }
        });
        Ok(local)
    }
}

fn cors_layer(cors: &Cors) -> Option<tower_http::cors::CorsLayer> {
    use http::{HeaderName, Method, header};
    use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};
    let origin = match cors {
        Cors::Disabled => return None,
        Cors::Permissive => AllowOrigin::mirror_request(),
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
