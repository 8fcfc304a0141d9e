//! The network transport: the same protocol as the official RivetKit client, over HTTP (actions,
//! queue sends, the actors API) and WebSocket (connections), in json, cbor or bare.
//!
//! ```no_run
//! use rivet_client::{Client, Encoding};
//!
//! # async fn run() -> Result<(), rivet_client::ActorError> {
//! let client = Client::builder("http://127.0.0.1:6420").encoding(Encoding::Cbor).build()?;
//! let handle = client.handle(rivet_client::ActorTarget::Id { name: "counter".into(), id: "abc".into() });
//! let count: i64 = handle.action("increment", &(1,)).await?;
//! # Ok(()) }
//! ```

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD as BASE64, URL_SAFE_NO_PAD};
use bytes::Bytes;
use serde_json::{Value as Json, json};

use crate::client::Client;
use crate::codes;
use crate::error::ActorError;
use crate::key::ActorKey;
use crate::protocol::{
    self, Encoding, HttpActionRequest, HttpQueueRequest, HttpQueueResponse, compat,
};
use crate::transport::{
    ActorAddr, ActorTarget, BoxFuture, ConnSender, ConnectionTransport, QueueSendOutcome, Transport,
};

mod socket;

use socket::Dial;

const USER_AGENT: &str = concat!("rivet-rust/", env!("CARGO_PKG_VERSION"));

/// Builds a network [`Client`].
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    endpoint: String,
    encoding: Encoding,
    namespace: String,
    pool: String,
    token: Option<String>,
    timeout: Option<Duration>,
    /// Root certificates trusted besides the system's.
    #[cfg(feature = "tls")]
    roots: crate::tls::ExtraRoots,
}

impl ClientBuilder {
    /// Trusts the certificates of `pem` (one or more PEM blocks) besides the system's roots,
    /// for a server whose certificate a private CA signed (feature `tls`). The system's roots
    /// also come from `SSL_CERT_FILE` when it is set.
    #[cfg(feature = "tls")]
    #[must_use]
    pub fn root_certificates_pem(mut self, pem: impl AsRef<[u8]>) -> Self {
        self.roots.add_pem(pem.as_ref());
        self
    }

    /// The encoding of messages (default: bare, as the official client).
    #[must_use]
    pub fn encoding(mut self, encoding: Encoding) -> Self {
        self.encoding = encoding;
        self
    }

    /// The namespace (default: `default`).
    #[must_use]
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// A bearer token sent with every request.
    #[must_use]
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The pool (the engine's runner name) actors this client creates are placed in (default:
    /// `default`).
    #[must_use]
    pub fn pool(mut self, pool: impl Into<String>) -> Self {
        self.pool = pool.into();
        self
    }

    /// A timeout for each HTTP request (default: none).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Builds the client; fails with `client.invalid_endpoint` unless the endpoint is an
    /// `http://` URL, or an `https://` one with the `tls` feature (or if the root certificates
    /// given do not parse).
    pub fn build(self) -> Result<Client, ActorError> {
        let https = self.endpoint.starts_with("https://");
        let reachable = self.endpoint.starts_with("http://") || (https && crate::tls::ENABLED);
        if !reachable {
            let why = if https {
                "this build has no TLS: turn on rivet-client's `tls` feature"
            } else {
                "the endpoint must be an http:// or https:// URL"
            };
            return Err(
                codes::INVALID_ENDPOINT.with_message(format!("`{}`: {why}.", self.endpoint))
            );
        }
        crate::tls::ready();
        let mut http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .tcp_nodelay(true);
        if let Some(timeout) = self.timeout {
            http = http.timeout(timeout);
        }
        #[cfg(feature = "tls")]
        let websocket_tls = if self.roots.is_empty() {
            None
        } else {
            let bad_roots = |e: String| {
                codes::INVALID_ENDPOINT.with_message(format!("bad root certificates: {e}"))
            };
            for cert in self.roots.for_http().map_err(bad_roots)? {
                http = http.add_root_certificate(cert);
            }
            Some(self.roots.for_websocket().map_err(bad_roots)?)
        };
        let http = http.build().map_err(|e| {
            codes::CLIENT_CODEC.with_message(format!("cannot build the HTTP client: {e}"))
        })?;
        Ok(Client::from_transport(Arc::new(NetTransport {
            #[cfg(feature = "tls")]
            websocket_tls,
            http,
            endpoint: self.endpoint.trim_end_matches('/').to_owned(),
            encoding: self.encoding,
            namespace: self.namespace,
            pool: self.pool,
            token: self.token,
            resolved: Mutex::new(HashMap::new()),
        })))
    }
}

impl Client {
    /// A client for the server at `endpoint` (such as `http://127.0.0.1:6420`), with the defaults
    /// of the official client.
    ///
    /// # Panics
    ///
    /// If `endpoint` is not an `http://` URL. Use [`Client::builder`] to handle that error.
    pub fn new(endpoint: impl Into<String>) -> Self {
        Self::builder(endpoint)
            .build()
            .unwrap_or_else(|e| panic!("cannot build a network client: {e}"))
    }

    /// A builder for a network client.
    pub fn builder(endpoint: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            endpoint: endpoint.into(),
            encoding: Encoding::Bare,
            namespace: "default".to_owned(),
            pool: "default".to_owned(),
            token: None,
            timeout: None,
            #[cfg(feature = "tls")]
            roots: crate::tls::ExtraRoots::default(),
        }
    }
}

/// The network [`Transport`].
pub struct NetTransport {
    http: reqwest::Client,
    /// The WebSocket's TLS settings when the builder was given roots (else tungstenite's own).
    #[cfg(feature = "tls")]
    websocket_tls: Option<crate::tls::WebSocketTls>,
    endpoint: String,
    encoding: Encoding,
    namespace: String,
    pool: String,
    token: Option<String>,
    /// Actor ids of addresses resolved over REST (keys the query gateway cannot carry).
    resolved: Mutex<HashMap<ActorAddr, String>>,
}

impl fmt::Debug for NetTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NetTransport")
            .field("endpoint", &self.endpoint)
            .field("encoding", &self.encoding)
            .finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `encodeURIComponent`.
fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn transport_error(error: impl std::error::Error + 'static) -> ActorError {
    // With its sources: "error sending request" alone does not say that a certificate failed.
    codes::CONNECTION_CLOSED
        .with_message(format!("request failed: {}", crate::report::chain(&error)))
}

/// A request this client could not encode.
fn encode_error(error: impl fmt::Display) -> ActorError {
    codes::CLIENT_CODEC.with_message(error.to_string())
}

/// A response this client could not decode.
fn decode_error(error: impl fmt::Display) -> ActorError {
    codes::CLIENT_CODEC.with_message(format!("cannot decode response: {error}"))
}

/// Creation input as it travels: compat-escaped CBOR.
fn wire_input(input: &[u8]) -> Result<Cow<'_, [u8]>, ActorError> {
    compat::escape_cbor(input).map_err(encode_error)
}

/// Whether the query gateway (which joins key parts with commas, without escaping) can carry
/// this key exactly.
fn query_safe(key: &ActorKey) -> bool {
    key.parts()
        .iter()
        .all(|p| !p.is_empty() && !p.contains(','))
}

impl NetTransport {
    /// The gateway URL of `path` for a target resolved to its URL form.
    async fn gateway_url(&self, target: &ActorTarget, path: &str) -> Result<String, ActorError> {
        let direct = |id: &str| format!("{}/gateway/{}{path}", self.endpoint, encode_component(id));
        let query = |addr: &ActorAddr, method: &str| {
            format!(
                "{}/gateway/{}{path}?rvt-namespace={}&rvt-method={method}",
                self.endpoint,
                encode_component(&addr.name),
                encode_component(&self.namespace),
            )
        };
        match target {
            ActorTarget::Id { id, .. } => Ok(direct(id)),
            ActorTarget::Get(addr) | ActorTarget::GetOrCreate { addr, .. }
                if !query_safe(&addr.key) =>
            {
                Ok(direct(&self.resolve_exact(target).await?))
            }
            ActorTarget::Get(addr) => Ok(format!(
                "{}{}",
                query(addr, "get"),
                self.key_param(&addr.key)
            )),
            ActorTarget::GetOrCreate { addr, input } => {
                let input = match input {
                    Some(input) => {
                        format!("&rvt-input={}", URL_SAFE_NO_PAD.encode(wire_input(input)?))
                    }
                    None => String::new(),
                };
                Ok(format!(
                    "{}&rvt-runner={}{}{input}&rvt-crash-policy=sleep",
                    query(addr, "getOrCreate"),
                    encode_component(&self.pool),
                    self.key_param(&addr.key),
                ))
            }
        }
    }

    fn key_param(&self, key: &ActorKey) -> String {
        if key.parts().is_empty() {
            String::new()
        } else {
            format!("&rvt-key={}", encode_component(&key.parts().join(",")))
        }
    }

    fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        let mut builder = self.http.request(method, url);
        if let Some(token) = &self.token {
            builder = builder.bearer_auth(token).header("x-rivet-token", token);
        }
        builder
    }

    /// Sends a request and returns the body of a 2xx response; other statuses become the
    /// error the server sent. A request that a Rivet Engine failed with
    /// `actor.destroyed_during_creation` reached no actor (a concurrent creation of the same
    /// key won), so it is sent again, at most twice.
    async fn send(&self, mut builder: reqwest::RequestBuilder) -> Result<Bytes, ActorError> {
        let mut retries = 0;
        loop {
            let again = builder.try_clone();
            match self.send_once(builder).await {
                Err(error) if retries < 2 && error.is(codes::engine::DESTROYED_DURING_CREATION) => {
                    match again {
                        Some(next) => builder = next,
                        None => return Err(error),
                    }
                    retries += 1;
                }
                other => return other,
            }
        }
    }

    async fn send_once(&self, builder: reqwest::RequestBuilder) -> Result<Bytes, ActorError> {
        let response = builder.send().await.map_err(transport_error)?;
        let status = response.status();
        let is_json = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("application/json"));
        let body = response.bytes().await.map_err(transport_error)?;
        if status.is_success() {
            return Ok(body);
        }
        let encoding = if is_json {
            Encoding::Json
        } else {
            self.encoding
        };
        Err(
            protocol::decode_http_error(&body, encoding).unwrap_or_else(|_| {
                codes::CLIENT_CODEC.with_message(format!(
                    "HTTP {status}: {}",
                    String::from_utf8_lossy(&body)
                        .chars()
                        .take(200)
                        .collect::<String>()
                ))
            }),
        )
    }

    async fn api(
        &self,
        method: reqwest::Method,
        path_and_query: &str,
        body: Option<Json>,
    ) -> Result<Json, ActorError> {
        let separator = if path_and_query.contains('?') {
            '&'
        } else {
            '?'
        };
        let url = format!(
            "{}{path_and_query}{separator}namespace={}",
            self.endpoint,
            encode_component(&self.namespace)
        );
        let mut builder = self.request(method, &url);
        if let Some(body) = body {
            builder = builder
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        let bytes = self.send(builder).await?;
        serde_json::from_slice(&bytes).map_err(|e| {
            codes::CLIENT_CODEC.with_message(format!("invalid JSON from the server: {e}"))
        })
    }

    fn input_base64(input: Option<&Bytes>) -> Result<Option<String>, ActorError> {
        input
            .map(|i| wire_input(i).map(|wire| BASE64.encode(wire)))
            .transpose()
    }

    /// Resolves over REST, exactly (no comma quirk), remembering the id.
    async fn resolve_exact(&self, target: &ActorTarget) -> Result<String, ActorError> {
        let (addr, input, create) = match target {
            ActorTarget::Id { id, .. } => return Ok(id.clone()),
            ActorTarget::Get(addr) => (addr, None, false),
            ActorTarget::GetOrCreate { addr, input } => (addr, input.as_ref(), true),
        };
        if let Some(id) = lock(&self.resolved).get(addr) {
            return Ok(id.clone());
        }
        let id = if create {
            let mut body = json!({
                "name": addr.name,
                "key": addr.key.serialize(),
                "runner_name_selector": self.pool,
                "crash_policy": "sleep",
            });
            if let Some(input) = Self::input_base64(input)? {
                body["input"] = json!(input);
            }
            let response = self
                .api(reqwest::Method::PUT, "/actors", Some(body))
                .await?;
            actor_id_of(&response["actor"])?
        } else {
            let path = format!(
                "/actors?name={}&key={}",
                encode_component(&addr.name),
                encode_component(&addr.key.serialize())
            );
            let response = self.api(reqwest::Method::GET, &path, None).await?;
            match response["actors"].get(0) {
                Some(actor) => actor_id_of(actor)?,
                None => {
                    return Err(codes::ACTOR_NOT_FOUND.with_message(format!(
                        "No actor `{}` with key {:?}.",
                        addr.name, addr.key
                    )));
                }
            }
        };
        lock(&self.resolved).insert(addr.clone(), id.clone());
        Ok(id)
    }

    /// Forgets a resolved id after the actor behind it disappeared.
    fn forget(&self, target: &ActorTarget, error: &ActorError) {
        if error.is(codes::ACTOR_NOT_FOUND)
            && let ActorTarget::Get(addr) | ActorTarget::GetOrCreate { addr, .. } = target
        {
            lock(&self.resolved).remove(addr);
        }
    }

    fn params_header(params: Option<&Bytes>) -> Result<Option<String>, ActorError> {
        params
            .map(|p| {
                compat::cbor_to_plain_json(p)
                    .map(|json| json.to_string())
                    .map_err(encode_error)
            })
            .transpose()
    }
}

fn actor_id_of(actor: &Json) -> Result<String, ActorError> {
    actor["actor_id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| codes::CLIENT_CODEC.with_message("the server's answer has no actor id"))
}

impl Transport for NetTransport {
    fn action<'a>(
        &'a self,
        target: &'a ActorTarget,
        params: Option<&'a Bytes>,
        name: Cow<'static, str>,
        args: Bytes,
    ) -> BoxFuture<'a, Result<Bytes, ActorError>> {
        Box::pin(async move {
            let url = self
                .gateway_url(target, &format!("/action/{}", encode_component(&name)))
                .await?;
            let body = HttpActionRequest::encode(&args, self.encoding).map_err(encode_error)?;
            let mut builder = self
                .request(reqwest::Method::POST, &url)
                .header("x-rivet-encoding", self.encoding.as_str())
                .header(reqwest::header::CONTENT_TYPE, self.encoding.content_type())
                .body(body);
            if let Some(params) = Self::params_header(params)? {
                builder = builder.header("x-rivet-conn-params", params);
            }
            let result = async {
                let body = self.send(builder).await?;
                protocol::decode_http_action_response(&body, self.encoding).map_err(decode_error)
            }
            .await;
            if let Err(error) = &result {
                self.forget(target, error);
            }
            result
        })
    }

    fn queue_send<'a>(
        &'a self,
        target: &'a ActorTarget,
        name: &'a str,
        body: Bytes,
        wait: Option<Duration>,
    ) -> BoxFuture<'a, Result<QueueSendOutcome, ActorError>> {
        Box::pin(async move {
            let url = self
                .gateway_url(target, &format!("/queue/{}", encode_component(name)))
                .await?;
            let request = HttpQueueRequest {
                body,
                name: Some(name.to_owned()),
                wait: wait.is_some(),
                timeout_ms: wait.map(|w| u64::try_from(w.as_millis()).unwrap_or(u64::MAX)),
                version: protocol::PROTOCOL_VERSION,
            };
            let encoded = request.encode(self.encoding).map_err(encode_error)?;
            let builder = self
                .request(reqwest::Method::POST, &url)
                .header("x-rivet-encoding", self.encoding.as_str())
                .header(reqwest::header::CONTENT_TYPE, self.encoding.content_type())
                .body(encoded);
            let body = self.send(builder).await?;
            let response = HttpQueueResponse::decode(&body, self.encoding).map_err(decode_error)?;
            Ok(match (wait, response.status.as_str()) {
                (None, _) => QueueSendOutcome::Queued,
                (Some(_), "timedOut") => QueueSendOutcome::TimedOut,
                (Some(_), _) => QueueSendOutcome::Completed(response.response),
            })
        })
    }

    fn resolve<'a>(&'a self, target: &'a ActorTarget) -> BoxFuture<'a, Result<String, ActorError>> {
        Box::pin(async move {
            if let ActorTarget::Id { id, name } = target {
                let response = self
                    .api(
                        reqwest::Method::GET,
                        &format!("/actors?actor_ids={}", encode_component(id)),
                        None,
                    )
                    .await?;
                return match response["actors"].get(0) {
                    Some(actor) if actor["name"].as_str() == Some(name.as_str()) => {
                        actor_id_of(actor)
                    }
                    _ => Err(codes::ACTOR_NOT_FOUND
                        .with_message(format!("No actor `{name}` with id `{id}`."))),
                };
            }
            // Always ask again: a cached id may belong to an actor that was destroyed since.
            if let ActorTarget::Get(addr) | ActorTarget::GetOrCreate { addr, .. } = target {
                lock(&self.resolved).remove(addr);
            }
            self.resolve_exact(target).await
        })
    }

    fn create<'a>(
        &'a self,
        addr: &'a ActorAddr,
        input: Option<Bytes>,
    ) -> BoxFuture<'a, Result<String, ActorError>> {
        Box::pin(async move {
            let mut body = json!({
                "name": addr.name,
                "key": addr.key.serialize(),
                "runner_name_selector": self.pool,
                "crash_policy": "sleep",
            });
            if let Some(input) = Self::input_base64(input.as_ref())? {
                body["input"] = json!(input);
            }
            let response = self
                .api(reqwest::Method::POST, "/actors", Some(body))
                .await?;
            actor_id_of(&response["actor"])
        })
    }

    fn connect<'a>(
        &'a self,
        target: &'a ActorTarget,
        params: Option<&'a Bytes>,
        sink: ConnSender,
    ) -> BoxFuture<'a, Result<Arc<dyn ConnectionTransport>, ActorError>> {
        Box::pin(async move {
            let http_url = self.gateway_url(target, "/connect").await?;
            // The builder accepts only http:// and https:// endpoints: ws:// and wss:// here.
            let url = http_url.replacen("http", "ws", 1);
            let mut protocols = vec![
                "rivet".to_owned(),
                format!("rivet_encoding.{}", self.encoding.as_str()),
            ];
            if let Some(params) = Self::params_header(params)? {
                protocols.push(format!("rivet_conn_params.{}", encode_component(&params)));
            }
            let dial = Dial {
                url,
                protocols: protocols.join(", "),
                token: self.token.clone(),
                #[cfg(feature = "tls")]
                tls: self.websocket_tls.clone(),
            };
            socket::open(dial, self.encoding, sink).await
        })
    }
}
