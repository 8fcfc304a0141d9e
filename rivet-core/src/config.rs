//! The limits and timeouts of a registry, its actors and its server, as the
//! [`RegistryBuilder`](crate::RegistryBuilder) sets them.

use std::time::Duration;

/// Limits and timeouts of a registry.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) sleep_timeout: Duration,
    pub(crate) action_timeout: Duration,
    pub(crate) hook_timeout: Duration,
    pub(crate) sleep_grace_period: Duration,
    pub(crate) max_state_size: usize,
    pub(crate) max_queue_size: usize,
    pub(crate) max_queue_message_size: usize,
    #[cfg(feature = "server")]
    pub(crate) server: ServerConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            sleep_timeout: Duration::from_secs(30),
            action_timeout: Duration::from_secs(60),
            hook_timeout: Duration::from_secs(15),
            sleep_grace_period: Duration::from_secs(15),
            max_state_size: 128 * 1024,
            max_queue_size: 1000,
            max_queue_message_size: 64 * 1024,
            #[cfg(feature = "server")]
            server: ServerConfig::default(),
        }
    }
}

/// Which cross-origin requests browsers may make.
#[cfg(feature = "server")]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cors {
    /// Any origin, with credentials (the request's origin is mirrored, as the official client
    /// sends credentials). The default, convenient for development.
    #[default]
    Permissive,
    /// Only these origins (for example `https://app.example.com`), with credentials.
    Origins(Vec<String>),
    /// No CORS headers: browsers only reach the server from its own origin.
    Disabled,
}

/// Limits and policies of the server.
#[cfg(feature = "server")]
#[derive(Debug, Clone)]
pub(crate) struct ServerConfig {
    pub(crate) max_incoming_message_size: usize,
    pub(crate) max_outgoing_message_size: usize,
    pub(crate) max_request_body_size: usize,
    pub(crate) cors: Cors,
    /// Set when a serverless pool of a Rivet Engine runs the actors: answers the engine's
    /// `POST /start`.
    #[cfg(feature = "engine")]
    pub(crate) serverless: Option<StartHandler>,
}

/// The handler of a Rivet Engine's `POST /start` (headers and body), set by the envoy.
#[cfg(feature = "engine")]
#[derive(Clone)]
pub(crate) struct StartHandler(
    pub(crate)  std::sync::Arc<
        dyn Fn(
                http::HeaderMap,
                bytes::Bytes,
            ) -> rivet_client::transport::BoxFuture<'static, axum::response::Response>
            + Send
            + Sync,
    >,
);

#[cfg(feature = "engine")]
impl std::fmt::Debug for StartHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StartHandler")
    }
}

#[cfg(feature = "server")]
impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_incoming_message_size: 64 * 1024,
            max_outgoing_message_size: 1024 * 1024,
            max_request_body_size: 16 * 1024 * 1024,
            cors: Cors::Permissive,
            #[cfg(feature = "engine")]
            serverless: None,
        }
    }
}
