//! Who may use the server: the optional token, the browser origins allowed, and the `Host`
//! names a server bound to loopback answers to (SECURITY.md has the threat model).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderMap, header};
use rivet_client::codes::guard::{HOST_NOT_ALLOWED, ORIGIN_NOT_ALLOWED};
use rivet_client::{ActorError, codes};

use super::response::{error_response, ray_id};
use crate::config::{Cors, Token};
use crate::url::percent_decode;

/// Paths open without the token: what says the server is there (and the official client
/// fetches before anything else), the engine's serverless start, which it authenticates by its
/// own means, and the inspector page's files (no data: the page asks for the token).
fn is_open_path(path: &str) -> bool {
    matches!(
        path,
        "/" | "/health" | "/metadata" | "/start" | "/ui" | "/ui/app.js" | "/ui/style.css"
    )
}

/// Every place the official clients put a token: `Authorization: Bearer`, `x-rivet-token`,
/// the `rivet_token.` WebSocket subprotocol, the gateway's `rvt-token` parameter and its
/// `/gateway/{id}@{token}` form.
fn given_tokens(request: &Request) -> Vec<String> {
    let headers = request.headers();
    let mut found = Vec::new();
    found.extend(super::request::bearer(headers).map(str::to_owned));
    if let Some(token) = header_str(headers, "x-rivet-token") {
        found.push(token.to_owned());
    }
    found.extend(
        super::ws::subprotocols(headers)
            .into_iter()
            .filter_map(|p| p.strip_prefix("rivet_token.").map(str::to_owned)),
    );
    let uri = request.uri();
    if let Some(query) = uri.query() {
        found.extend(
            query
                .split('&')
                .filter_map(|p| p.strip_prefix("rvt-token="))
                .filter_map(|v| percent_decode(&v.replace('+', " "))),
        );
    }
    if let Some(segment) = uri
        .path()
        .strip_prefix("/gateway/")
        .and_then(|rest| rest.split('/').next())
        && let Some((_, token)) = segment.split_once('@')
        && let Some(token) = percent_decode(token)
    {
        found.push(token);
    }
    found
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Refuses a request without the server's token (`auth.unauthorized`, 401).
pub(crate) async fn require_token(
    State(token): State<Token>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    // The inspector checks its bearer token itself: the server's, or its own.
    if is_open_path(path)
        || super::inspector::is_inspector_path(path)
        || given_tokens(&request).iter().any(|t| token.matches(t))
    {
        return next.run(request).await;
    }
    tracing::warn!(
        path = request.uri().path(),
        "refused a request without the server's token (auth.unauthorized)"
    );
    let error = codes::UNAUTHORIZED.with_message(
        "This server requires a token: pass the client's `token` option (Authorization: Bearer).",
    );
    error_response(&error, &ray_id(request.headers()))
}

/// Refuses a browser request from an origin the CORS settings do not allow
/// (`guard.origin_not_allowed`, 403). A same-origin request is always allowed; `null` never.
pub(crate) async fn check_origin(
    State(cors): State<Arc<Cors>>,
    request: Request,
    next: Next,
) -> Response {
    match origin_allowed(&cors, request.headers()) {
        Ok(()) => next.run(request).await,
        Err(error) => {
            tracing::warn!(
                origin = header_str(request.headers(), header::ORIGIN.as_str()).unwrap_or(""),
                "refused a request from a browser origin that is not allowed"
            );
            error_response(&error, &ray_id(request.headers()))
        }
    }
}

fn origin_allowed(cors: &Cors, headers: &HeaderMap) -> Result<(), ActorError> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or("null");
    let refused = || {
        ORIGIN_NOT_ALLOWED.with_message(format!(
            "Origin `{}` may not call this server; see RegistryBuilder::cors.",
            origin.chars().take(100).collect::<String>()
        ))
    };
    if origin == "null" {
        return Err(refused());
    }
    let same_origin = origin
        .split_once("://")
        .map(|(_, authority)| authority)
        .zip(header_str(headers, header::HOST.as_str()))
        .is_some_and(|(authority, host)| authority.eq_ignore_ascii_case(host));
    let allowed = same_origin
        || match cors {
            Cors::Permissive => true,
            Cors::Origins(list) => list.iter().any(|o| o.eq_ignore_ascii_case(origin)),
            Cors::Disabled => false,
        };
    if allowed { Ok(()) } else { Err(refused()) }
}

/// The `Host` names a server answers to.
#[derive(Debug, Clone)]
pub(crate) enum Hosts {
    /// Any (bound to a non-loopback address and not configured).
    Any,
    /// `localhost`, `*.localhost` and loopback addresses (bound to loopback).
    Loopback,
    /// The configured names.
    Listed(Arc<[String]>),
}

impl Hosts {
    /// What a server bound to `addr` answers to, unless `configured`.
    pub(crate) fn for_server(addr: SocketAddr, configured: Option<&[String]>) -> Self {
        match configured {
            Some(list) => Self::Listed(list.iter().map(|h| h.to_ascii_lowercase()).collect()),
            None if addr.ip().is_loopback() => Self::Loopback,
            None => Self::Any,
        }
    }

    fn allows(&self, host: &str) -> bool {
        let name = host_name(host).to_ascii_lowercase();
        match self {
            Self::Any => true,
            Self::Loopback => {
                name == "localhost"
                    || name.ends_with(".localhost")
                    || name
                        .trim_start_matches('[')
                        .trim_end_matches(']')
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback())
            }
            Self::Listed(list) => list.contains(&name),
        }
    }
}

/// The name of a `Host` value, without its port.
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        // [::1]:6420
        return rest
            .split(']')
            .next()
            .map_or(host, |ip| &host[..ip.len() + 2]);
    }
    host.rsplit_once(':').map_or(host, |(name, _)| name)
}

/// Refuses a request whose `Host` the server does not answer to (`guard.host_not_allowed`,
/// 403): a page on a rebinding domain that resolves to 127.0.0.1 is same-origin to the
/// browser, and only its `Host` gives it away.
pub(crate) async fn check_host(
    State(hosts): State<Hosts>,
    request: Request,
    next: Next,
) -> Response {
    let host = header_str(request.headers(), header::HOST.as_str());
    match host {
        Some(host) if !hosts.allows(host) => {
            tracing::warn!(
                host = host.chars().take(100).collect::<String>(),
                "refused a request for a Host this server does not answer to"
            );
            let error = HOST_NOT_ALLOWED.with_message(
                "This server does not answer to this Host; see RegistryBuilder::allowed_hosts.",
            );
            error_response(&error, &ray_id(request.headers()))
        }
        _ => next.run(request).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, http::HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn tokens_are_found_wherever_clients_put_them() {
        let request = |uri: &str, header: Option<(&'static str, &'static str)>| {
            let mut builder = http::Request::builder().uri(uri);
            if let Some((name, value)) = header {
                builder = builder.header(name, value);
            }
            builder.body(axum::body::Body::empty()).expect("request")
        };
        let cases = [
            request("/actors", Some(("authorization", "Bearer t1"))),
            request("/x", Some(("x-rivet-token", "t1"))),
            request(
                "/x",
                Some(("sec-websocket-protocol", "rivet, rivet_token.t1")),
            ),
            request("/gateway/c/action/a?rvt-method=get&rvt-token=t1", None),
            request("/gateway/abc@t1/action/a", None),
        ];
        for case in &cases {
            assert_eq!(given_tokens(case), ["t1"], "{}", case.uri());
        }
        assert!(given_tokens(&request("/gateway/abc/action/a", None)).is_empty());
    }

    #[test]
    fn origins_same_listed_permissive_never_null() {
        let same = headers(&[
            ("origin", "http://localhost:6420"),
            ("host", "localhost:6420"),
        ]);
        let other = headers(&[
            ("origin", "http://evil.example"),
            ("host", "localhost:6420"),
        ]);
        let null = headers(&[("origin", "null"), ("host", "localhost:6420")]);
        let none = headers(&[("host", "localhost:6420")]);
        let listed = Cors::Origins(vec!["http://evil.example".to_owned()]);
        for cors in [Cors::Disabled, Cors::Permissive, listed.clone()] {
            assert!(origin_allowed(&cors, &same).is_ok());
            assert!(origin_allowed(&cors, &none).is_ok());
            assert!(origin_allowed(&cors, &null).is_err());
        }
        assert!(origin_allowed(&Cors::Disabled, &other).is_err());
        assert!(origin_allowed(&Cors::Permissive, &other).is_ok());
        assert!(origin_allowed(&listed, &other).is_ok());
    }

    #[test]
    fn loopback_servers_answer_to_loopback_names_only() {
        let loopback = Hosts::for_server(([127, 0, 0, 1], 6420).into(), None);
        for host in [
            "localhost:6420",
            "127.0.0.1:6420",
            "[::1]:6420",
            "app.localhost",
            "127.0.0.2",
        ] {
            assert!(loopback.allows(host), "{host}");
        }
        for host in ["evil.example:6420", "localhost.evil.example", "10.0.0.1"] {
            assert!(!loopback.allows(host), "{host}");
        }
        let any = Hosts::for_server(([0, 0, 0, 0], 6420).into(), None);
        assert!(any.allows("evil.example"));
        let listed = Hosts::for_server(
            ([127, 0, 0, 1], 6420).into(),
            Some(&["app.example".to_owned()]),
        );
        assert!(listed.allows("APP.example:443"));
        assert!(!listed.allows("localhost"));
    }
}
