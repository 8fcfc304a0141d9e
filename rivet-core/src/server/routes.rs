//! The gateway and the per-actor routes: `/action/{name}`, `/queue/{name}`, `/connect`,
//! `/request/*`, `/websocket/*` (and `/inspector/*`, served by `inspector.rs`).

use std::borrow::Cow;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{FromRequestParts, State, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, header};
use rivet_client::codes::guard::NO_ROUTE;
use rivet_client::protocol::{
    self, Encoding, HttpActionRequest, HttpQueueRequest, HttpQueueResponse,
};
use rivet_client::transport::QueueSendOutcome;
use rivet_client::{ActorError, codes};
use tokio::sync::oneshot;

use super::gateway::{self, GatewayTarget};
use super::intake::{actor_target, actor_type, read_body, read_message};
use super::request::{HEADER_CONN_PARAMS, hook_request, params_from_json, request_encoding};
use super::response::{HEADER_RAY_ID, error_response, ok_response, ray_id};
use super::ws;
use crate::actor::HookSet;
use crate::mailbox::{ConnRef, Envelope, ReplyTo};
use crate::registry::Registry;
use crate::trace::TraceParent;
use crate::url::percent_decode;

/// `ANY /gateway/{*tail}`.
///
/// The tail comes from the URI as sent, not from axum's `Path` (which decodes it): a raw
/// request's path reaches the actor still encoded (`a%2Fb` is one segment, `a%20b` stays a
/// valid URI), and each part (actor id, name, action) is decoded on its own.
pub(crate) async fn gateway(
    State(registry): State<Registry>,
    request: axum::extract::Request,
) -> Response {
    let tail = request
        .uri()
        .path()
        .strip_prefix("/gateway/")
        .unwrap_or_default()
        .to_owned();
    gateway_at(registry, tail, request).await
}

/// `/connect`, `/request/*` and `/websocket/*` without the gateway prefix: the official client
/// sends these with `skipReadyWait` and a known actor id, naming the actor in the
/// `x-rivet-actor` header (HTTP) or the `rivet_actor.{id}` subprotocol (WebSocket).
pub(crate) async fn header_routed(
    State(registry): State<Registry>,
    request: axum::extract::Request,
) -> Response {
    let headers = request.headers();
    let from_header = headers
        .get("x-rivet-actor")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let from_protocol = || {
        headers
            .get(header::SEC_WEBSOCKET_PROTOCOL)
            .and_then(|v| v.to_str().ok())?
            .split(',')
            .find_map(|p| p.trim().strip_prefix("rivet_actor.").map(str::to_owned))
    };
    match from_header
        .or_else(from_protocol)
        .filter(|id| !id.is_empty())
    {
        Some(id) => {
            let tail = format!("{id}{}", request.uri().path());
            gateway_at(registry, tail, request).await
        }
        None => error_response(
            &NO_ROUTE.with_message(
                "This path needs an actor: use /gateway/{actor}/..., or the x-rivet-actor header.",
            ),
            &ray_id(request.headers()),
        ),
    }
}

async fn gateway_at(registry: Registry, tail: String, request: axum::extract::Request) -> Response {
    let ray = ray_id(request.headers());
    let encoding = match request_encoding(request.headers()) {
        Ok(encoding) => encoding,
        Err(error) => return error_response(&error, &ray),
    };
    let parsed = match gateway::parse(&tail, request.uri().query()) {
        Ok(parsed) => parsed,
        Err(error) => return error_response(&error, &ray),
    };
    let path = parsed.path.clone();
    let method = request.method().clone();
    let is_upgrade = request
        .headers()
        .get(header::UPGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));

    let inspector = path == "/inspector/connect";
    if is_upgrade
        && (inspector
            || path == "/connect"
            || path == "/websocket"
            || path.starts_with("/websocket/"))
    {
        let (mut parts, _body) = request.into_parts();
        let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
            Ok(upgrade) => upgrade,
            Err(rejection) => return rejection.into_response(),
        };
        let target = actor_target(&registry, parsed.target).await;
        if path == "/connect" {
            // A missing actor is refused inside the socket, where the client reads it.
            let request = hook_request(
                &parts.method,
                &format!("{path}{}", parsed.query),
                &parts.headers,
            );
            return ws::connect(registry, target, upgrade, &parts.headers, request);
        }
        let target = match target {
            Ok(target) => target,
            Err(error) => return error_response(&error, &ray),
        };
        if inspector {
            return super::inspector::connect(
                registry,
                target,
                upgrade,
                parts.headers,
                parsed.query,
            );
        }
        let what = "WebSockets (no #[on_websocket])";
        if let Err(error) = check_handles(&registry, target.name(), HookSet::WEBSOCKET, what) {
            return error_response(&error, &ray);
        }
        return {
            let raw_path = path
                .strip_prefix("/websocket")
                .filter(|p| !p.is_empty())
                .unwrap_or("/");
            ws::raw(
                registry,
                target,
                upgrade,
                parts,
                format!("{raw_path}{}", parsed.query),
            )
        };
    }

    if let Some(rest) = path
        .strip_prefix("/inspector")
        .filter(|rest| rest.is_empty() || rest.starts_with('/'))
    {
        return super::inspector::route(
            &registry,
            parsed.target,
            rest,
            &parsed.query,
            request,
            &ray,
        )
        .await;
    }
    let result = match (&method, path.as_str()) {
        (&Method::GET, "/metadata") => {
            let body = super::api::actor_metadata().to_string().into_bytes();
            Ok(ok_response(body, Encoding::Json, &ray, None))
        }
        (&Method::POST, p) if p.starts_with("/action/") => {
            match percent_decode(&p["/action/".len()..]) {
                Some(name) => {
                    let uri = format!("{p}{}", parsed.query);
                    http_action(&registry, parsed.target, name, uri, request, encoding, &ray).await
                }
                None => Err(bad_name_encoding()),
            }
        }
        (&Method::POST, p) if p == "/queue" || p.starts_with("/queue/") => {
            match p.strip_prefix("/queue/").map(percent_decode) {
                Some(None) => Err(bad_name_encoding()),
                name => {
                    let name = name.flatten();
                    http_queue(&registry, parsed.target, name, request, encoding, &ray).await
                }
            }
        }
        (_, p) if p == "/request" || p.starts_with("/request/") || p.starts_with("/request?") => {
            let raw_path = p
                .strip_prefix("/request")
                .filter(|p| !p.is_empty())
                .unwrap_or("/");
            let uri = format!("{raw_path}{}", parsed.query);
            raw_request(&registry, parsed.target, request, uri, &ray).await
        }
        _ => Err(NO_ROUTE.with_message(format!("No actor route `{} {path}`.", method))),
    };
    result.unwrap_or_else(|error| error_response(&error, &ray))
}

type RouteResult = Result<Response, ActorError>;

/// An action or queue name in the path that is not valid percent-encoded UTF-8.
fn bad_name_encoding() -> ActorError {
    codes::guard::QUERY_BAD_ENCODING.with_message("Invalid percent-encoding in the path.")
}

/// Refuses a raw route to an actor type without its hook (`what` names both), before any
/// body is read or actor created: RivetKit answers not found.
fn check_handles(
    registry: &Registry,
    name: &str,
    hook: HookSet,
    what: &str,
) -> Result<(), ActorError> {
    if actor_type(registry, name)?.hooks.contains(hook) {
        return Ok(());
    }
    Err(codes::ACTOR_NOT_FOUND.with_message(format!("Actor `{name}` does not handle raw {what}.")))
}

/// A WebSocket the engine's gateway tunnelled to actor `actor_id` (runner mode), at `path`
/// (after the actor, with its query): `/connect`, `/inspector/connect` or `/websocket/*`, as on
/// the embedded server.
#[cfg(feature = "engine")]
pub(crate) async fn tunnelled_socket(
    registry: Registry,
    actor_id: &str,
    path: &str,
    headers: http::HeaderMap,
    mut socket: impl ws::ServerSocket,
) {
    let (path, query) = match path.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (path, None),
    };
    let parsed = match gateway::parse(&format!("{actor_id}{path}"), query) {
        Ok(parsed) => parsed,
        Err(error) => return ws::close(&mut socket, 1011, &error.full_code()).await,
    };
    let (path, query) = (parsed.path, parsed.query);
    let target = actor_target(&registry, parsed.target).await;
    if path == "/connect" {
        // A missing actor is refused inside the socket, where the client reads it.
        let request = hook_request(&Method::GET, &format!("{path}{query}"), &headers);
        let handshake = ws::handshake(&headers).with_request(request);
        return ws::run_connection(registry, target, socket, handshake).await;
    }
    let target = match target {
        Ok(target) => target,
        Err(error) => return ws::close(&mut socket, 1011, &error.full_code()).await,
    };
    if path == "/inspector/connect" {
        return super::inspector::run_socket(registry, target, socket, headers, query).await;
    }
    let Some(raw_path) = path.strip_prefix("/websocket") else {
        return ws::close(&mut socket, 1011, &NO_ROUTE.error().full_code()).await;
    };
    let raw_path = if raw_path.is_empty() { "/" } else { raw_path };
    let uri = format!("{raw_path}{query}");
    ws::run_raw(registry, target, socket, &Method::GET, &headers, &uri).await;
}

async fn http_action(
    registry: &Registry,
    target: GatewayTarget,
    name: String,
    uri: String,
    request: axum::extract::Request,
    encoding: Encoding,
    ray: &str,
) -> RouteResult {
    let params = match request.headers().get(HEADER_CONN_PARAMS) {
        Some(value) => Some(params_from_json(value.to_str().unwrap_or(""))?),
        None => None,
    };
    let hook_request = hook_request(request.method(), &uri, request.headers());
    let trace = TraceParent::from_headers(request.headers());
    let config = registry.server_config();
    let body = read_message(registry, request).await?;
    let decoded = HttpActionRequest::decode(&body, encoding).map_err(|e| {
        codes::INVALID_REQUEST.with_message(format!("Malformed action request: {e}"))
    })?;
    let version = decoded.version;
    let target = actor_target(registry, target).await?;
    let make = |reply| Envelope::Action {
        name: Cow::Owned(name),
        args: decoded.args,
        conn: ConnRef::Ephemeral {
            params,
            request: hook_request,
        },
        reply: ReplyTo::Oneshot(reply),
        chain: None,
        trace,
    };
    let (actor_id, output) = registry.inner().request(&target, make).await?;
    let body = protocol::encode_http_action_response(&output, encoding, version)
        .map_err(|e| codes::INTERNAL_ERROR.with_message(e.to_string()))?;
    if body.len() > config.max_outgoing_message_size {
        return Err(codes::OUTGOING_TOO_LONG.error());
    }
    Ok(ok_response(body, encoding, ray, Some(&actor_id)))
}

async fn http_queue(
    registry: &Registry,
    target: GatewayTarget,
    name: Option<String>,
    request: axum::extract::Request,
    encoding: Encoding,
    ray: &str,
) -> RouteResult {
    let body = read_message(registry, request).await?;
    let decoded = HttpQueueRequest::decode(&body, encoding).map_err(|e| {
        codes::INVALID_REQUEST.with_message(format!("Malformed queue request: {e}"))
    })?;
    let version = decoded.version;
    let name = name
        .or(decoded.name)
        .ok_or_else(|| codes::INVALID_REQUEST.with_message("The queue name is missing."))?;
    let target = actor_target(registry, target).await?;
    let (tx, rx) = oneshot::channel();
    let envelope = Envelope::Queue {
        name,
        body: decoded.body,
        wait: decoded.wait,
        reply: tx,
    };
    let actor_id = registry.inner().deliver(&target, envelope).await.ok();
    let reply = async {
        rx.await
            .unwrap_or_else(|_| Err(codes::DROPPED_REPLY.error()))
    };
    let outcome = if decoded.wait {
        // RivetKit's default wait is unbounded; cap it at the action timeout.
        let timeout = decoded
            .timeout_ms
            .map(Duration::from_millis)
            .unwrap_or(registry.action_timeout());
        match tokio::time::timeout(timeout, reply).await {
            Ok(outcome) => outcome,
            Err(_) => Ok(QueueSendOutcome::TimedOut),
        }
    } else {
        reply.await
    }?;
    let response = match outcome {
        QueueSendOutcome::Completed(value) => HttpQueueResponse {
            status: "completed".to_owned(),
            response: value,
        },
        QueueSendOutcome::TimedOut => HttpQueueResponse {
            status: "timedOut".to_owned(),
            response: None,
        },
        // Accepted without waiting: the client ignores the body.
        _ => HttpQueueResponse {
            status: "completed".to_owned(),
            response: None,
        },
    };
    let body = response
        .encode(encoding, version)
        .map_err(|e| codes::INTERNAL_ERROR.with_message(e.to_string()))?;
    Ok(ok_response(body, encoding, ray, actor_id.as_deref()))
}

async fn raw_request(
    registry: &Registry,
    target: GatewayTarget,
    request: axum::extract::Request,
    uri: String,
    ray: &str,
) -> RouteResult {
    // Before reading a body or creating an actor: a request no actor of this type can serve
    // costs nothing.
    let target = actor_target(registry, target).await?;
    check_handles(
        registry,
        target.name(),
        HookSet::REQUEST,
        "HTTP requests (no #[on_request])",
    )?;
    let (parts, body) = request.into_parts();
    let limit = registry.server_config().max_request_body_size;
    let body = read_body(registry, &parts.headers, body, limit).await?;
    let mut builder = http::Request::builder().method(parts.method).uri(uri);
    for (name, value) in &parts.headers {
        builder = builder.header(name, value);
    }
    let raw = builder
        .body(body)
        .map_err(|e| codes::INVALID_REQUEST.with_message(format!("Invalid request: {e}")))?;
    let make = |reply| Envelope::Request {
        request: raw,
        reply,
    };
    let (actor_id, response) = registry.inner().request(&target, make).await?;
    let (mut parts, body) = response.into_parts();
    if let Ok(v) = HeaderValue::from_str(ray) {
        parts.headers.insert(HEADER_RAY_ID, v);
    }
    if let Ok(id) = HeaderValue::from_str(&actor_id) {
        parts.headers.insert("x-rivet-actor", id);
    }
    Ok(Response::from_parts(parts, Body::from(body)))
}
