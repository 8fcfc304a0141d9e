//! `rawHttpActor`, `rawHttpNoHandlerActor`, `rawHttpVoidReturnActor`, `rawHttpHonoActor`
//! (raw-http.ts) and `rawHttpRequestPropertiesActor` (raw-http-request-properties.ts): raw HTTP
//! requests to an actor.

use std::collections::BTreeMap;

use http::{Method, StatusCode, header};
use rivet_core::prelude::*;
use rivet_core::raw::{Request, Response};

use crate::js::{json, text};

/// The request's headers as a JSON object (lower-case names, as `Headers.forEach` gives them).
fn headers(request: &Request) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (name, value) in request.headers() {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        out.entry(name.as_str().to_owned())
            .and_modify(|v: &mut String| {
                // `Headers` joins repeated headers with ", " (cookies with "; ").
                v.push_str(if name == header::COOKIE { "; " } else { ", " });
                v.push_str(&value);
            })
            .or_insert(value);
    }
    out
}

/// Counts the requests it answers.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawHttpActor {
    request_count: u64,
}

#[actor(name = "rawHttpActor")]
impl RawHttpActor {
    #[on_request]
    fn request(&mut self, request: Request) -> Response {
        self.request_count += 1;
        match (request.method(), request.uri().path()) {
            (_, "/api/hello") => json(
                StatusCode::OK,
                &serde_json::json!({ "message": "Hello from actor!" }),
            ),
            (&Method::POST, "/api/echo") => {
                let (parts, body) = request.into_parts();
                let mut response = Response::new(body);
                *response.headers_mut() = parts.headers;
                response
            }
            (_, "/api/state") => json(
                StatusCode::OK,
                &serde_json::json!({ "requestCount": self.request_count }),
            ),
            (_, "/api/headers") => json(StatusCode::OK, &serde_json::json!(headers(&request))),
            _ => text(StatusCode::NOT_FOUND, "Not Found"),
        }
    }
}

/// No request handler: raw requests get 404.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct RawHttpNoHandlerActor {}

#[actor(name = "rawHttpNoHandlerActor")]
impl RawHttpNoHandlerActor {}

/// A handler that gives no response (RivetKit's fixture returns `undefined`): the request fails.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct RawHttpVoidReturnActor {}

#[actor(name = "rawHttpVoidReturnActor")]
impl RawHttpVoidReturnActor {
    #[on_request]
    fn request(&self, _request: Request) -> Result<Response, Error> {
        Err(Error::internal("the request handler returned no response"))
    }
}

/// A small REST router (RivetKit's fixture uses Hono).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct RawHttpHonoActor {}

fn user_name(id: &str) -> &'static str {
    if id == "1" { "Alice" } else { "Bob" }
}

fn merged(mut base: serde_json::Value, body: &[u8]) -> serde_json::Value {
    if let (Some(base), Ok(serde_json::Value::Object(body))) = (
        base.as_object_mut(),
        serde_json::from_slice::<serde_json::Value>(body),
    ) {
        base.extend(body);
    }
    base
}

#[actor(name = "rawHttpHonoActor")]
impl RawHttpHonoActor {
    #[on_request]
    fn request(&self, request: Request) -> Response {
        let path = request.uri().path().to_owned();
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let id_number = |id: &str| {
            id.parse::<i64>()
                .map_or(serde_json::Value::Null, Into::into)
        };
        match (request.method(), segments.as_slice()) {
            (&Method::GET, [""]) => json(
                StatusCode::OK,
                &serde_json::json!({ "message": "Welcome to Hono actor!" }),
            ),
            (&Method::GET, ["users"]) => json(
                StatusCode::OK,
                &serde_json::json!([{ "id": 1, "name": "Alice" }, { "id": 2, "name": "Bob" }]),
            ),
            (&Method::GET, ["users", id]) => json(
                StatusCode::OK,
                &serde_json::json!({ "id": id_number(id), "name": user_name(id) }),
            ),
            (&Method::POST, ["users"]) => json(
                StatusCode::CREATED,
                &merged(serde_json::json!({ "id": 3 }), request.body()),
            ),
            (&Method::PUT, ["users", id]) => json(
                StatusCode::OK,
                &merged(serde_json::json!({ "id": id_number(id) }), request.body()),
            ),
            (&Method::DELETE, ["users", id]) => json(
                StatusCode::OK,
                &serde_json::json!({ "message": format!("User {id} deleted") }),
            ),
            _ => text(StatusCode::NOT_FOUND, "404 Not Found"),
        }
    }
}

/// Answers with everything it sees of the request.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct RawHttpRequestPropertiesActor {}

#[actor(name = "rawHttpRequestPropertiesActor")]
impl RawHttpRequestPropertiesActor {
    #[on_request]
    fn request(&self, request: Request) -> Response {
        if request.method() == Method::HEAD {
            return text(StatusCode::OK, "");
        }
        if request.method() == Method::OPTIONS {
            return text(StatusCode::NO_CONTENT, "");
        }
        let uri = request.uri();
        let query = uri.query().unwrap_or("");
        let search = if query.is_empty() {
            String::new()
        } else {
            format!("?{query}")
        };
        let search_params: serde_json::Map<String, serde_json::Value> =
            form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned().into()))
                .collect();
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let raw = String::from_utf8_lossy(request.body()).into_owned();
        let has_body = !request.body().is_empty();
        let body = if !has_body {
            serde_json::Value::Null
        } else if content_type.contains("application/json") {
            serde_json::from_str(&raw).unwrap_or(serde_json::Value::Null)
        } else {
            raw.clone().into()
        };
        let body_text = match &body {
            serde_json::Value::String(s) => s.clone().into(),
            _ => serde_json::Value::Null,
        };
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("actor");
        json(
            StatusCode::OK,
            &serde_json::json!({
                "url": format!("http://{host}{}{search}", uri.path()),
                "pathname": uri.path(),
                "search": search,
                "searchParams": search_params,
                "hash": "",
                "method": request.method().as_str(),
                "headers": headers(&request),
                "body": body,
                "bodyText": body_text,
                "cache": null,
                "credentials": null,
                "mode": null,
                "redirect": null,
                "referrer": null,
            }),
        )
    }
}
