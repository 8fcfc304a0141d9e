//! Opening an envoy's connection to a Rivet Engine: the engine's `/metadata` (an engine speaking
//! another protocol version is refused by name), the pool's runner config, then the WebSocket,
//! whose first frame is the envoy's `Metadata` and whose first answer is the engine's `Init`.

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use rivet_envoy_protocol as p;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::url::percent_decode;

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

    /// A network client of the actors this engine serves: its gateway, namespace, pool and
    /// token. Fails for an `https://` endpoint in a build without the `tls` feature.
    pub fn client(&self) -> Result<rivet_client::Client, EnvoyError> {
        let mut client = rivet_client::Client::builder(&self.endpoint)
            .namespace(&self.namespace)
            .pool(&self.pool);
        if let Some(token) = &self.token {
            client = client.token(token);
        }
        client
            .build()
            .map_err(|error| EnvoyError::InvalidEndpoint(error.message))
    }

    /// The engine's endpoint, without a trailing slash.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The engine named by the environment: `RIVET_ENDPOINT` (`None` if unset), whose URL may
    /// carry the namespace and token as `https://namespace:token@host`, else `RIVET_NAMESPACE`
    /// and `RIVET_TOKEN`; the pool from `RIVET_POOL`. See [`parse`](Self::parse).
    pub fn from_env() -> Result<Option<Self>, EnvoyError> {
        let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
        match var("RIVET_ENDPOINT") {
            None => Ok(None),
            Some(url) => Self::parse(
                &url,
                var("RIVET_NAMESPACE").as_deref(),
                var("RIVET_TOKEN").as_deref(),
                var("RIVET_POOL").as_deref(),
            )
            .map(Some),
        }
    }

    /// An engine from the parts `from_env` reads: `url` is `http(s)://host[:port]`, optionally
    /// with `namespace:token@` (percent-encoded) before the host, as Rivet's dashboard shows
    /// it; `namespace` and `token` apply when the URL carries none, and a URL and a variable
    /// that disagree are an error rather than a guess.
    ///
    /// ```
    /// use rivet_core::envoy::connect::EngineEndpoint;
    /// let engine = EngineEndpoint::parse("https://prod:s3cr%40t@api.example.com", None, None, Some("rust"))?;
    /// assert_eq!(engine.endpoint(), "https://api.example.com");
    /// # Ok::<(), rivet_core::envoy::connect::EnvoyError>(())
    /// ```
    pub fn parse(
        url: &str,
        namespace: Option<&str>,
        token: Option<&str>,
        pool: Option<&str>,
    ) -> Result<Self, EnvoyError> {
        let invalid = |why: &str| EnvoyError::InvalidEndpoint(format!("{why}: `{url}`"));
        let (scheme, rest) = url
            .split_once("://")
            .filter(|(scheme, _)| matches!(*scheme, "http" | "https"))
            .ok_or_else(|| invalid("the engine's endpoint must start with http:// or https://"))?;
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let (userinfo, host) = match authority.rsplit_once('@') {
            Some((userinfo, host)) => (Some(userinfo), host),
            None => (None, authority),
        };
        if host.is_empty() {
            return Err(invalid("the engine's endpoint has no host"));
        }
        let (url_namespace, url_token) = match userinfo {
            Some(userinfo) => {
                let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
                let decode = |part: &str| {
                    percent_decode(part).ok_or_else(|| invalid("bad percent-encoding"))
                };
                (
                    Some(decode(user)?),
                    Some(decode(password)?).filter(|t| !t.is_empty()),
                )
            }
            None => (None, None),
        };
        let pick = |what: &str, in_url: Option<String>, var: Option<&str>| match (in_url, var) {
            (Some(a), Some(b)) if a != b => Err(EnvoyError::InvalidEndpoint(format!(
                "RIVET_ENDPOINT carries a {what} and RIVET_{} another one",
                what.to_uppercase()
            ))),
            (Some(a), _) => Ok(Some(a)),
            (None, b) => Ok(b.map(str::to_owned)),
        };
        let namespace = pick(
            "namespace",
            url_namespace.filter(|n| !n.is_empty()),
            namespace,
        )?;
        let token = pick("token", url_token, token)?;
        let mut engine = Self::new(format!("{scheme}://{host}{path}"));
        if let Some(namespace) = namespace {
            engine = engine.namespace(namespace);
        }
        if let Some(pool) = pool {
            engine = engine.pool(pool);
        }
        engine.token = token;
        Ok(engine)
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
    /// The registry could not be built.
    #[error(transparent)]
    Build(#[from] crate::error::BuildError),
    /// The engine's endpoint (`RIVET_ENDPOINT` and its companions) is not usable.
    #[error("{0}")]
    InvalidEndpoint(String),
}

/// Refuses a namespace, pool or envoy key that could not travel as it is in the connect URL's
/// query (the engine's names are ASCII letters, digits, `-`, `_` and `.`), or of the wrong length.
fn check_name(what: &str, value: &str, min: usize) -> Result<(), EnvoyError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if (min..=128).contains(&value.len()) && value.chars().all(allowed) {
        return Ok(());
    }
    Err(EnvoyError::InvalidEndpoint(format!(
        "the {what} `{value}` must be {min} to 128 ASCII letters, digits, `-`, `_` or `.`"
    )))
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
        Self::open_with(engine, envoy_key, version, actor_names, "{}").await
    }

    /// [`open`](Self::open), announcing `metadata` (JSON) for every actor name: what the engine
    /// preloads of each actor's KV when it starts one.
    pub(crate) async fn open_with(
        engine: &EngineEndpoint,
        envoy_key: &str,
        version: u32,
        actor_names: &[&str],
        metadata: &str,
    ) -> Result<Self, EnvoyError> {
        for (what, value) in [
            ("namespace", engine.namespace.as_str()),
            ("pool", &engine.pool),
        ] {
            check_name(what, value, 1)?;
        }
        check_name("envoy key", envoy_key, 3)?;
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
        let protocols = protocols.parse().map_err(|_| {
            EnvoyError::InvalidEndpoint(
                "the token cannot be sent as a WebSocket subprotocol".to_owned(),
            )
        })?;
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
                    metadata: metadata.to_owned().into(),
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
        next_message(&mut self.socket).await
    }

    /// Splits the connection so that reading and writing proceed independently.
    pub(crate) fn split(self) -> (EnvoyWriter, EnvoyReader) {
        let (sink, stream) = self.socket.split();
        (EnvoyWriter(sink), EnvoyReader(stream))
    }
}

/// The writing half of an [`EnvoySocket`].
#[derive(Debug)]
pub(crate) struct EnvoyWriter(futures_util::stream::SplitSink<Socket, Message>);

impl EnvoyWriter {
    /// Sends one message.
    pub(crate) async fn send(&mut self, message: &ToRivet) -> Result<(), EnvoyError> {
        let frame = encode(message)?;
        self.0
            .send(Message::Binary(frame.into()))
            .await
            .map_err(socket_error)
    }

    /// Closes the connection.
    pub(crate) async fn close(&mut self) -> Result<(), EnvoyError> {
        self.0.close().await.map_err(socket_error)
    }
}

/// The reading half of an [`EnvoySocket`].
#[derive(Debug)]
pub(crate) struct EnvoyReader(futures_util::stream::SplitStream<Socket>);

impl EnvoyReader {
    /// The engine's next message. Cancel-safe: a message is never half read.
    pub(crate) async fn next(&mut self) -> Result<ToEnvoy, EnvoyError> {
        next_message(&mut self.0).await
    }
}

async fn next_message<S>(socket: &mut S) -> Result<ToEnvoy, EnvoyError>
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        match socket.next().await {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(engine: &EngineEndpoint) -> (&str, &str, &str, Option<&str>) {
        (
            engine.endpoint.as_str(),
            engine.namespace.as_str(),
            engine.pool.as_str(),
            engine.token.as_deref(),
        )
    }

    #[test]
    fn an_endpoint_url_may_carry_the_namespace_and_token() {
        let engine =
            EngineEndpoint::parse("https://prod:s3cr%40t@api.example.com/", None, None, None);
        assert_eq!(
            parts(&engine.expect("parses")),
            ("https://api.example.com", "prod", "default", Some("s3cr@t"))
        );
        let engine =
            EngineEndpoint::parse("http://127.0.0.1:6420", Some("ns"), Some("t"), Some("rust"));
        assert_eq!(
            parts(&engine.expect("parses")),
            ("http://127.0.0.1:6420", "ns", "rust", Some("t"))
        );
        // The same value in both places is fine; two different ones are refused.
        assert!(EngineEndpoint::parse("http://ns:t@h", Some("ns"), Some("t"), None).is_ok());
        let error = EngineEndpoint::parse("http://ns:t@h", None, Some("other"), None).unwrap_err();
        assert!(error.to_string().contains("RIVET_TOKEN"), "{error}");
    }

    #[tokio::test]
    async fn names_that_cannot_travel_in_the_connect_url_are_refused_before_connecting() {
        // Nothing listens on port 9: a name check that let these through would fail later, with
        // a socket error instead.
        let engine = EngineEndpoint::new("http://127.0.0.1:9");
        for (engine, key) in [
            (engine.clone(), "ab"),
            (engine.clone(), "a&b=c"),
            (engine.clone().pool("p&x"), "envoy-a"),
            (engine.clone().namespace(""), "envoy-a"),
        ] {
            let error = EnvoySocket::open(&engine, key, 1, &[]).await.unwrap_err();
            assert!(
                matches!(error, EnvoyError::InvalidEndpoint(_)),
                "{key}: {error}"
            );
        }
    }

    #[test]
    fn unusable_endpoints_are_refused_with_the_reason() {
        for url in [
            "127.0.0.1:6420",
            "ftp://h",
            "http://",
            "http://ns:%4@h",
            "http://ns:%ff@h",
        ] {
            let error = EngineEndpoint::parse(url, None, None, None).unwrap_err();
            assert!(
                matches!(error, EnvoyError::InvalidEndpoint(_)),
                "{url}: {error}"
            );
            assert!(error.to_string().contains(url), "{error}");
        }
    }
}
