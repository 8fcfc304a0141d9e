//! Opening an envoy's connection to a Rivet Engine: the engine's `/metadata` (an engine speaking
//! another protocol version is refused by name), the pool's runner config, then the WebSocket,
//! whose first frame is the envoy's `Metadata` and whose first answer is the engine's `Init`.

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use rivet_envoy_protocol as p;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::protocol::{
    EnvoyProtocolError, PROTOCOL_VERSION, ToEnvoy, ToRivet, check_engine_metadata, decode, encode,
};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Where an envoy connects: the engine's endpoint, the namespace, the pool (runner config) its
/// actors are placed in, and the admin token if the engine requires one.
///
/// ```
/// use rivet_core::envoy::connect::EngineEndpoint;
/// let engine = EngineEndpoint::new("http://127.0.0.1:6420").pool("rust").token("secret");
/// assert_eq!(engine.endpoint(), "http://127.0.0.1:6420");
/// ```
#[derive(Debug, Clone)]
pub struct EngineEndpoint {
    endpoint: String,
    namespace: String,
    pool: String,
    token: Option<String>,
}

impl EngineEndpoint {
    /// An engine at `endpoint` (`http://host:port`), namespace and pool `default`, no token.
    pub fn new(endpoint: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into().trim_end_matches('/').to_owned(),
            namespace: "default".to_owned(),
            pool: "default".to_owned(),
            token: None,
        }
    }

    /// The namespace (default `default`).
    #[must_use]
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// The pool, the runner config the engine places this envoy's actors by (default `default`).
    #[must_use]
    pub fn pool(mut self, pool: impl Into<String>) -> Self {
        self.pool = pool.into();
        self
    }

    /// The engine's admin token.
    #[must_use]
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The engine's endpoint, without a trailing slash.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn authorized(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }
}

/// Why an envoy could not reach or talk to the engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnvoyError {
    /// An HTTP call to the engine failed.
    #[error("cannot reach the engine at {endpoint}: {source}")]
    Http {
        /// The engine's endpoint.
        endpoint: String,
        /// What failed.
        #[source]
        source: reqwest::Error,
    },
    /// The engine answered an HTTP call with an error.
    #[error("the engine refused {what} ({status}): {body}")]
    Refused {
        /// The call.
        what: &'static str,
        /// The HTTP status.
        status: u16,
        /// The engine's answer.
        body: String,
    },
    /// The envoy's WebSocket failed.
    #[error("the envoy connection failed: {0}")]
    Socket(#[source] Box<tokio_tungstenite::tungstenite::Error>),
    /// The engine closed the envoy's WebSocket.
    #[error("the engine closed the envoy connection: {0}")]
    Closed(String),
    /// A frame could not be written or read, or the engine speaks another protocol.
    #[error(transparent)]
    Protocol(#[from] EnvoyProtocolError),
}

fn socket_error(error: tokio_tungstenite::tungstenite::Error) -> EnvoyError {
    EnvoyError::Socket(Box::new(error))
}

/// Asks the engine's `/metadata` and returns its release; refuses an engine that speaks another
/// envoy protocol version.
pub async fn check_engine(
    http: &reqwest::Client,
    engine: &EngineEndpoint,
) -> Result<String, EnvoyError> {
    let body = call(
        engine,
        "/metadata",
        http.get(format!("{}/metadata", engine.endpoint)),
    )
    .await?;
    let metadata: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| EnvoyProtocolError::Metadata(e.to_string()))?;
    Ok(check_engine_metadata(&metadata)?)
}

/// Creates or updates the pool's runner config, a normal (not serverless) pool in the `default`
/// datacenter; the engine refuses envoys of a pool it has no config for.
pub async fn register_pool(
    http: &reqwest::Client,
    engine: &EngineEndpoint,
) -> Result<(), EnvoyError> {
    let url = format!(
        "{}/runner-configs/{}?namespace={}",
        engine.endpoint, engine.pool, engine.namespace
    );
    let body = serde_json::json!({ "datacenters": { "default": { "normal": {} } } });
    let request = http
        .put(url)
        .header("content-type", "application/json")
        .body(body.to_string());
    call(engine, "the runner config", request).await?;
    Ok(())
}

async fn call(
    engine: &EngineEndpoint,
    what: &'static str,
    request: reqwest::RequestBuilder,
) -> Result<Bytes, EnvoyError> {
    let http_error = |source| EnvoyError::Http {
        endpoint: engine.endpoint.clone(),
        source,
    };
    let response = engine
        .authorized(request)
        .send()
        .await
        .map_err(http_error)?;
    let status = response.status();
    let body = response.bytes().await.map_err(http_error)?;
    if !status.is_success() {
        return Err(EnvoyError::Refused {
            what,
            status: status.as_u16(),
            body: String::from_utf8_lossy(&body).into_owned(),
        });
    }
    Ok(body)
}

/// An open envoy connection, after the engine's `Init`.
#[derive(Debug)]
pub struct EnvoySocket {
    socket: Socket,
    /// What the engine said in its `Init`: how long before it declares this envoy lost, how long
    /// an actor may take to stop, the largest response it takes.
    pub init: p::ProtocolMetadata,
}

impl EnvoySocket {
    /// Connects as the envoy `envoy_key` (3 to 128 characters, stable for the process: a new
    /// connection under the same key replaces the old one) of app version `version`, announces
    /// `actor_names`, and waits for the engine's `Init`.
    pub async fn open(
        engine: &EngineEndpoint,
        envoy_key: &str,
        version: u32,
        actor_names: &[&str],
    ) -> Result<Self, EnvoyError> {
        let url = format!(
            "{}/envoys/connect?protocol_version={PROTOCOL_VERSION}&namespace={}&envoy_key={envoy_key}&version={version}&pool_name={}",
            engine.endpoint.replacen("http", "ws", 1),
            engine.namespace,
            engine.pool
        );
        let mut request = url.into_client_request().map_err(socket_error)?;
        let protocols = match &engine.token {
            Some(token) => format!("rivet, rivet_token.{token}"),
            None => "rivet".to_owned(),
        };
        let protocols = protocols
            .parse()
            .map_err(|_| EnvoyError::Closed("the token is not a valid header value".to_owned()))?;
        request
            .headers_mut()
            .insert("sec-websocket-protocol", protocols);
        // Nagle off: commands, events and KV calls are small messages that wait for answers.
        let (socket, _) = tokio_tungstenite::connect_async_with_config(request, None, true)
            .await
            .map_err(socket_error)?;
        let names = actor_names
            .iter()
            .map(|name| {
                let metadata = p::ActorName {
                    metadata: "{}".into(),
                };
                ((*name).to_owned().into(), metadata)
            })
            .collect();
        let mut envoy = Self {
            socket,
            init: p::ProtocolMetadata {
                envoy_lost_threshold: 0,
                actor_stop_threshold: 0,
                max_response_payload_size: 0,
            },
        };
        envoy
            .send(&ToRivet::ToRivetMetadata(p::ToRivetMetadata {
                prepopulate_actor_names: Some(names),
                metadata: Some("{\"impl\":\"rivet-rust\"}".into()),
            }))
            .await?;
        match envoy.next().await? {
            ToEnvoy::ToEnvoyInit(init) => {
                envoy.init = init.metadata;
                Ok(envoy)
            }
            other => Err(EnvoyError::Closed(format!(
                "the engine's first message was not Init but {other:?}"
            ))),
        }
    }

    /// Sends one message.
    pub async fn send(&mut self, message: &ToRivet) -> Result<(), EnvoyError> {
        let frame = encode(message)?;
        self.socket
            .send(Message::Binary(frame.into()))
            .await
            .map_err(socket_error)
    }

    /// The engine's next message; WebSocket pings are answered by the socket itself.
    pub async fn next(&mut self) -> Result<ToEnvoy, EnvoyError> {
        loop {
            match self.socket.next().await {
                Some(Ok(Message::Binary(frame))) => return Ok(decode(frame)?),
                Some(Ok(Message::Close(frame))) => {
                    let reason = frame.map_or_else(String::new, |f| {
                        format!("{} {}", u16::from(f.code), f.reason)
                    });
                    return Err(EnvoyError::Closed(reason));
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => return Err(socket_error(error)),
                None => return Err(EnvoyError::Closed("the socket ended".to_owned())),
            }
        }
    }
}
