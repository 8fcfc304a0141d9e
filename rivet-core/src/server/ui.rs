//! The inspector page at `/ui` (embedded mode): actors by type and key, and one actor live
//! (state, connections, queue, workflow history, recent turns, an action to call), built on
//! the server's own routes. Static files compiled in; a strict content security policy, so the
//! page runs only its own script and talks only to this server.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};

const PAGE: &str = include_str!("ui/index.html");
const SCRIPT: &str = include_str!("ui/app.js");
const STYLE: &str = include_str!("ui/style.css");

/// Its own files only; no framing by other pages; no inline script.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

fn file(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// `GET /ui`.
pub(crate) async fn page() -> Response {
    file(PAGE, "text/html; charset=utf-8")
}

/// `GET /ui/app.js`.
pub(crate) async fn script() -> Response {
    file(SCRIPT, "text/javascript; charset=utf-8")
}

/// `GET /ui/style.css`.
pub(crate) async fn style() -> Response {
    file(STYLE, "text/css; charset=utf-8")
}
