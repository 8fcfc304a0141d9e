//! The server's HTTP responses: success bodies in the request's encoding, JSON error bodies
//! with the status of their code, and the ray id that ties a response to the request.

use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use rivet_client::ActorError;
use rivet_client::protocol::{self, Encoding, PROTOCOL_VERSION};

/// The header carrying the request's ray id, read by the client for errors.
pub(crate) const HEADER_RAY_ID: &str = "x-rivet-ray-id";

/// A request's trace id, also sent back in `x-rivet-ray-id`.
pub(crate) fn ray_id(headers: &HeaderMap) -> String {
    headers
        .get(HEADER_RAY_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64)
        .map(str::to_owned)
        .unwrap_or_else(crate::ids::new_id)
}

/// The HTTP status of an error code.
pub(crate) fn status_of(error: &ActorError) -> StatusCode {
    match (error.group.as_str(), error.code.as_str()) {
        ("user", _) => StatusCode::BAD_REQUEST,
        ("auth", "forbidden") => StatusCode::FORBIDDEN,
        ("actor", "not_found" | "action_not_found" | "not_registered") => StatusCode::NOT_FOUND,
        ("guard", "no_route") => StatusCode::NOT_FOUND,
        ("actor", "method_not_allowed") => StatusCode::METHOD_NOT_ALLOWED,
        ("actor", "action_timed_out") | ("message", "incoming_timed_out") => {
            StatusCode::REQUEST_TIMEOUT
        }
        ("actor", "duplicate_key" | "workflow_in_flight") => StatusCode::CONFLICT,
        ("actor", "overloaded" | "dropped_reply" | "too_many_connections")
        | ("registry", "shut_down") => StatusCode::SERVICE_UNAVAILABLE,
        ("queue", "full") | ("actor", "creation_limited") => StatusCode::TOO_MANY_REQUESTS,
        ("auth" | "inspector", "unauthorized") => StatusCode::UNAUTHORIZED,
        ("guard", "host_not_allowed" | "origin_not_allowed") => StatusCode::FORBIDDEN,
        ("core" | "rivetkit", "internal_error") => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// An error response. Always JSON (`application/json`): every client version parses JSON error
/// bodies whatever the request's encoding, while BARE error bodies differ between versions.
pub(crate) fn error_response(error: &ActorError, ray: &str) -> Response {
    let body = protocol::encode_http_error(error, Encoding::Json, PROTOCOL_VERSION);
    let mut response = (status_of(error), body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(Encoding::Json.content_type()),
    );
    if let Ok(v) = HeaderValue::from_str(ray) {
        headers.insert(HEADER_RAY_ID, v);
    }
    response
}

pub(super) fn ok_response(
    body: Vec<u8>,
    encoding: Encoding,
    ray: &str,
    actor_id: Option<&str>,
) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(encoding.content_type()),
    );
    if let Ok(v) = HeaderValue::from_str(ray) {
        headers.insert(HEADER_RAY_ID, v);
    }
    if let Some(id) = actor_id.and_then(|id| HeaderValue::from_str(id).ok()) {
        headers.insert("x-rivet-actor", id);
    }
    response
}
