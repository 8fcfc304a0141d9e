//! What RivetKit's fixtures take from JavaScript, in one place: `Date.now()` and the
//! `Response`s they build.

use rivet_core::raw::Response;

/// `Date.now()`: milliseconds since the epoch as a JavaScript number (an `f64`; a 64-bit CBOR
/// integer would reach a JavaScript client as a `BigInt`).
pub fn now_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| (d.as_secs_f64() * 1000.0).floor())
}

/// `Date.now()` for an SQL `INTEGER` column.
pub fn now_ms_int() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// `Response.json(value, { status })`.
pub fn json(status: http::StatusCode, value: &serde_json::Value) -> Response {
    let mut response = Response::new(bytes::Bytes::from(value.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

/// `new Response(body, { status })`.
pub fn text(status: http::StatusCode, body: &'static str) -> Response {
    let mut response = Response::new(bytes::Bytes::from_static(body.as_bytes()));
    *response.status_mut() = status;
    response
}
