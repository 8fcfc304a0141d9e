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
    /// Queue message bodies kept in memory, per awake actor and across the registry; the rest
    /// stay in storage until taken.
    pub(crate) queue_memory: QueueMemory,
    /// Open connections (WebSockets) per actor.
    pub(crate) max_connections_per_actor: usize,
    /// An actor key's size (its serialized form) and parts.
    pub(crate) max_key_size: usize,
    pub(crate) max_key_parts: usize,
    /// Actor creations: a burst, then so many a second.
    pub(crate) creation_rate: CreationRate,
    /// Spans an awake actor keeps for the inspector's traces.
    pub(crate) trace_spans: usize,
    /// Where finished spans are sent, if anywhere (started by `build`).
    #[cfg(feature = "server")]
    pub(crate) server: ServerConfig,
}

/// How fast actors may be created: `burst` at once, refilled at `per_second`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CreationRate {
    pub(crate) burst: u32,
    pub(crate) per_second: u32,
}

/// How many bytes of queue message bodies stay in memory: at most `per_actor` for one awake
/// actor, and `total` (the permits of `budget`) for all of them together. Clones share the
/// budget.
#[derive(Debug, Clone)]
pub(crate) struct QueueMemory {
    pub(crate) per_actor: usize,
    pub(crate) budget: std::sync::Arc<tokio::sync::Semaphore>,
}

impl QueueMemory {
    pub(crate) fn new(per_actor: usize, total: usize) -> Self {
        Self {
            per_actor,
            budget: std::sync::Arc::new(tokio::sync::Semaphore::new(
                total.min(tokio::sync::Semaphore::MAX_PERMITS),
            )),
        }
    }
}

/// The default budget of request bodies being read at once: 256 MiB.
#[cfg(feature = "server")]
pub(crate) const DEFAULT_BODIES_IN_FLIGHT: usize = 256 * 1024 * 1024;

/// The longest actor name: longer than any registered one may be.
pub(crate) const MAX_NAME_LEN: usize = 128;

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
            queue_memory: QueueMemory::new(1024 * 1024, 64 * 1024 * 1024),
            max_connections_per_actor: 1000,
            max_key_size: 1024,
            max_key_parts: 32,
            creation_rate: CreationRate {
                burst: 1000,
                per_second: 200,
            },
            trace_spans: 256,
            #[cfg(feature = "server")]
            server: ServerConfig::default(),
        }
    }
}

/// Which cross-origin requests browsers may make.
///
/// Whatever the setting, a request whose `Origin` is `null` or not allowed is refused with
/// `guard.origin_not_allowed` (a WebSocket upgrade included, which browsers do not subject to
/// CORS), so a web page cannot call actors of a server it was not granted. Requests without an
/// `Origin` (programs, not browsers) are not affected.
#[cfg(feature = "server")]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cors {
    /// Any origin but `null`, with credentials (the request's origin is mirrored, as the
    /// official client sends credentials). For development only: any page the developer
    /// visits may then call the server.
    Permissive,
    /// Only these origins (for example `https://app.example.com`), with credentials.
    Origins(Vec<String>),
    /// No CORS headers, and only same-origin browser requests: the default.
    #[default]
    Disabled,
}

/// Limits and policies of the server.
#[cfg(feature = "server")]
#[derive(Debug, Clone)]
pub(crate) struct ServerConfig {
    pub(crate) max_incoming_message_size: usize,
    pub(crate) max_outgoing_message_size: usize,
    pub(crate) max_request_body_size: usize,
    /// Messages and bytes waiting for one WebSocket client.
    pub(crate) outgoing_queue_messages: usize,
    pub(crate) outgoing_queue_bytes: usize,
    /// Bytes of request bodies being read at once, across the server, and the budget's size.
    pub(crate) bodies_in_flight: std::sync::Arc<tokio::sync::Semaphore>,
    pub(crate) bodies_in_flight_max: usize,
    /// Open TCP connections (WebSockets included).
    pub(crate) max_connections: usize,
    /// Time to read a request's headers, and the longest a kept-alive connection idles.
    pub(crate) header_read_timeout: std::time::Duration,
    /// The longest wait for the next piece of a request body.
    pub(crate) body_read_timeout: std::time::Duration,
    /// A WebSocket silent this long (no message, no pong to the server's pings) is closed; also
    /// the longest one send to it may take.
    pub(crate) ws_liveness_timeout: std::time::Duration,
    pub(crate) cors: Cors,
    /// The token every request must carry (`RIVET_TOKEN` or the builder).
    pub(crate) token: Option<Token>,
    /// The inspector's own token (`RIVET_INSPECTOR_TOKEN` or the builder).
    pub(crate) inspector_token: Option<Token>,
    /// How the server is bound, for the inspector's rule without a token: open only while
    /// every listener is on loopback.
    pub(crate) listeners: std::sync::Arc<Listeners>,
    /// The `Host` names answered to; `None`: loopback names when bound to loopback, else any.
    pub(crate) allowed_hosts: Option<Vec<String>>,
    /// Set when a serverless pool of a Rivet Engine runs the actors: answers the engine's
    /// `POST /start`.
    #[cfg(feature = "engine")]
    pub(crate) serverless: Option<StartHandler>,
}

/// The handler of a Rivet Engine's `POST /start` (headers and body), set by the envoy, and
/// what `/metadata` adds to each actor name's metadata for that engine.
#[cfg(feature = "engine")]
#[derive(Clone)]
pub(crate) struct StartHandler {
    pub(crate) start: std::sync::Arc<
        dyn Fn(
                http::HeaderMap,
                bytes::Bytes,
            ) -> rivet_client::transport::BoxFuture<'static, axum::response::Response>
            + Send
            + Sync,
    >,
    /// Fields of every actor name's metadata (the KV the engine preloads into `/start`).
    pub(crate) name_metadata: serde_json::Map<String, serde_json::Value>,
}

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
            outgoing_queue_messages: 1024,
            outgoing_queue_bytes: 8 * 1024 * 1024,
            bodies_in_flight: std::sync::Arc::new(tokio::sync::Semaphore::new(
                DEFAULT_BODIES_IN_FLIGHT,
            )),
            bodies_in_flight_max: DEFAULT_BODIES_IN_FLIGHT,
            max_connections: 10_000,
            header_read_timeout: std::time::Duration::from_secs(30),
            body_read_timeout: std::time::Duration::from_secs(30),
            ws_liveness_timeout: std::time::Duration::from_secs(60),
            cors: Cors::Disabled,
            token: None,
            inspector_token: None,
            listeners: std::sync::Arc::default(),
            allowed_hosts: None,
            #[cfg(feature = "engine")]
            serverless: None,
        }
    }
}

/// The environment variable with the token the server requires (when the builder sets none).
#[cfg(feature = "server")]
pub const TOKEN_ENV: &str = "RIVET_TOKEN";

/// The environment variable with the inspector's token (when the builder sets none).
#[cfg(feature = "server")]
pub const INSPECTOR_TOKEN_ENV: &str = "RIVET_INSPECTOR_TOKEN";

/// Where the registry's servers listen: on loopback only, or also elsewhere (an app that
/// nests the router, or runs on an engine, counts as elsewhere).
#[cfg(feature = "server")]
#[derive(Debug, Default)]
pub(crate) struct Listeners {
    loopback: std::sync::atomic::AtomicBool,
    elsewhere: std::sync::atomic::AtomicBool,
}

#[cfg(feature = "server")]
impl Listeners {
    pub(crate) fn bound(&self, addr: std::net::SocketAddr) {
        use std::sync::atomic::Ordering;
        if addr.ip().is_loopback() {
            self.loopback.store(true, Ordering::Release);
        } else {
            self.elsewhere.store(true, Ordering::Release);
        }
    }

    /// Some listener is not on loopback, or the server's requests come another way.
    pub(crate) fn exposed(&self) {
        self.elsewhere
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// Whether every listener so far is on loopback (and there is one).
    pub(crate) fn loopback_only(&self) -> bool {
        use std::sync::atomic::Ordering;
        self.loopback.load(Ordering::Acquire) && !self.elsewhere.load(Ordering::Acquire)
    }
}

/// A secret every request must carry. Compared in constant time; never printed.
#[cfg(feature = "server")]
#[derive(Clone)]
pub(crate) struct Token(std::sync::Arc<str>);

#[cfg(feature = "server")]
impl Token {
    /// A token; `None` when empty (an empty token would protect nothing).
    pub(crate) fn new(token: &str) -> Option<Self> {
        (!token.is_empty()).then(|| Self(std::sync::Arc::from(token)))
    }

    pub(crate) fn matches(&self, given: &str) -> bool {
        // Length is not secret; the bytes are compared without an early exit.
        subtle::ConstantTimeEq::ct_eq(self.0.as_bytes(), given.as_bytes()).into()
    }
}

#[cfg(feature = "server")]
impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(..)")
    }
}

#[cfg(all(test, feature = "server"))]
mod tests {
    use super::Token;

    #[test]
    fn tokens_compare_whole() {
        let token = Token::new("secret").expect("token");
        assert!(token.matches("secret"));
        assert!(!token.matches("secre"));
        assert!(!token.matches("secret2"));
        assert!(!token.matches(""));
        assert!(Token::new("").is_none());
        assert_eq!(format!("{token:?}"), "Token(..)");
    }
}
