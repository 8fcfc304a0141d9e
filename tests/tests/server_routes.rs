//! The HTTP surface as the official client and curl see it: the engine API subset (`/metadata`,
//! `/health`, `/actors`), both gateway forms, error bodies and status codes, ray ids, CORS, and
//! the raw `/request` and `/websocket` routes.

use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use rivet_core::client::ActorKey;
use rivet_core::server::Cors;
use rivet_tests::{Within, check_lobby_socket, query_url, serve, serve_memory, serve_router};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// A request's status, headers and JSON (or text) body.
struct Reply {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts an error reply: its status and the `group`/`code` of its JSON body.
    fn assert_error(&self, status: u16, group: &str, code: &str) {
        let body = self.json();
        assert_eq!(self.status.as_u16(), status, "{body}");
        assert_eq!(
            (body["group"].as_str(), body["code"].as_str()),
            (Some(group), Some(code)),
            "{body}"
        );
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{body}"
        );
        assert_eq!(self.header("content-type"), Some("application/json"));
        assert!(self.header("x-rivet-ray-id").is_some());
    }
}

async fn send(method: Method, url: &str, headers: &[(&str, &str)], body: Option<Vec<u8>>) -> Reply {
    let mut request = rivet_tests::support::net::http().request(method, url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.body(body);
    }
    let response = request.send().within().await.expect("request");
    Reply {
        status: response.status(),
        headers: response.headers().clone(),
        body: response.bytes().within().await.expect("body").to_vec(),
    }
}

async fn get(url: &str) -> Reply {
    send(Method::GET, url, &[], None).await
}

async fn json_request(method: Method, url: &str, body: &Value) -> Reply {
    let json = [("content-type", "application/json")];
    send(method, url, &json, Some(body.to_string().into_bytes())).await
}

#[tokio::test]
async fn metadata_health_and_names() {
    let (registry, endpoint) = serve_memory().await;
    let metadata = get(&format!("{endpoint}/metadata?namespace=default")).await;
    assert_eq!(metadata.status, StatusCode::OK);
    let metadata = metadata.json();
    assert_eq!(metadata["runtime"], "rivetkit");
    assert_eq!(
        metadata["actorNames"]["counter"]["metadata"]["icon"],
        "calculator"
    );
    assert_eq!(
        metadata["actorNames"]["chatRoom"]["metadata"]["icon"],
        "comments"
    );
    assert!(metadata["actorNames"]["worker"].is_object());
    assert!(metadata["actorNames"]["lobby"].is_object());

    let health = get(&format!("{endpoint}/health")).await;
    assert_eq!(
        (health.status, health.json()["status"].clone()),
        (StatusCode::OK, json!("ok"))
    );

    let names = get(&format!("{endpoint}/actors/names?namespace=default"))
        .await
        .json();
    let mut listed: Vec<&String> = names["names"].as_object().expect("names").keys().collect();
    listed.sort();
    assert_eq!(
        listed,
        [
            "chatRoom",
            "counter",
            "inventory",
            "lobby",
            "order",
            "probe",
            "taskWorker",
            "worker"
        ]
    );
    registry.shutdown().within().await;
}

#[tokio::test]
async fn the_actors_api_creates_finds_and_destroys() {
    let (registry, endpoint) = serve_memory().await;
    let actors = format!("{endpoint}/actors?namespace=default");
    let key = ActorKey::from(vec!["rest".to_owned(), "a/b".to_owned()]).serialize();
    let body = json!({ "name": "counter", "key": key, "runner_name_selector": "default", "crash_policy": "sleep" });

    let first = json_request(Method::PUT, &actors, &body).await;
    assert_eq!(first.status, StatusCode::OK);
    let first = first.json();
    assert_eq!(first["created"], true);
    let id = first["actor"]["actor_id"].as_str().expect("id").to_owned();
    assert_eq!(first["actor"]["name"], "counter");
    assert_eq!(first["actor"]["key"], key);
    let again = json_request(Method::PUT, &actors, &body).await.json();
    assert_eq!(
        (again["created"].clone(), again["actor"]["actor_id"].clone()),
        (json!(false), json!(id))
    );

    json_request(Method::POST, &actors, &body)
        .await
        .assert_error(409, "actor", "duplicate_key");
    json_request(
        Method::PUT,
        &actors,
        &json!({ "name": "nobody", "key": key }),
    )
    .await
    .assert_error(404, "actor", "not_registered");

    // POST with input: standard base64 of CBOR `{ "start": 5 }`.
    let input = "oWVzdGFydAU=";
    let created = json_request(
        Method::POST,
        &actors,
        &json!({ "name": "counter", "key": ActorKey::from("with-input").serialize(), "input": input }),
    )
    .await
    .json();
    let created_id = created["actor"]["actor_id"].as_str().expect("id");
    let count = send(
        Method::POST,
        &format!("{endpoint}/gateway/{created_id}/action/getCount"),
        &[("content-type", "application/json")],
        Some(br#"{"args":[]}"#.to_vec()),
    )
    .await;
    assert_eq!(count.json(), json!({ "output": 5 }));

    let by_key = get(&format!(
        "{endpoint}/actors?name=counter&key={}&namespace=default",
        enc(&key)
    ))
    .await
    .json();
    assert_eq!(by_key["actors"][0]["actor_id"], id);
    let by_id = get(&format!(
        "{endpoint}/actors?actor_ids={id},{created_id}&namespace=default"
    ))
    .await
    .json();
    assert_eq!(by_id["actors"].as_array().map(Vec::len), Some(2));
    assert_eq!(by_id["actors"][0]["name"], "counter");
    let missing = get(&format!(
        "{endpoint}/actors?name=counter&key=nope&namespace=default"
    ))
    .await
    .json();
    assert_eq!(missing["actors"], json!([]));
    get(&format!("{endpoint}/actors?namespace=default"))
        .await
        .assert_error(400, "actor", "invalid_request");

    let deleted = send(
        Method::DELETE,
        &format!("{endpoint}/actors/{id}?namespace=default"),
        &[],
        None,
    )
    .await;
    assert_eq!(deleted.status, StatusCode::OK);
    let after = get(&format!(
        "{endpoint}/actors?actor_ids={id}&namespace=default"
    ))
    .await
    .json();
    assert_eq!(after["actors"], json!([]));
    send(
        Method::DELETE,
        &format!("{endpoint}/actors/{id}"),
        &[],
        None,
    )
    .await
    .assert_error(404, "actor", "not_found");
    registry.shutdown().within().await;
}

#[tokio::test]
async fn malformed_api_bodies_get_json_errors() {
    let (registry, endpoint) = serve_memory().await;
    let actors = format!("{endpoint}/actors");
    let json = [("content-type", "application/json")];
    for body in [&b"{"[..], b"[]", br#"{"key":"x"}"#] {
        send(Method::PUT, &actors, &json, Some(body.to_vec()))
            .await
            .assert_error(400, "actor", "invalid_request");
        send(Method::POST, &actors, &json, Some(body.to_vec()))
            .await
            .assert_error(400, "actor", "invalid_request");
    }
    let bad_input = json!({ "name": "counter", "key": "k", "input": "***" });
    json_request(Method::POST, &actors, &bad_input)
        .await
        .assert_error(400, "actor", "invalid_request");
    registry.shutdown().within().await;
}

fn enc(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn both_gateway_forms_reach_the_actor() {
    let (registry, endpoint) = serve_memory().await;
    let json = [
        ("content-type", "application/json"),
        ("x-rivet-ray-id", "ray-123"),
    ];
    let url = query_url(
        &endpoint,
        "counter",
        "gw",
        "getOrCreate",
        "/action/increment",
    );
    let reply = send(Method::POST, &url, &json, Some(br#"{"args":[2]}"#.to_vec())).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json(), json!({ "output": 2 }));
    assert_eq!(reply.header("x-rivet-ray-id"), Some("ray-123"));
    let id = reply.header("x-rivet-actor").expect("actor id").to_owned();

    // Direct form, with and without a token; other query parameters are allowed.
    for path in [id.clone(), format!("{id}@token")] {
        let url = format!("{endpoint}/gateway/{path}/action/getCount?keep=1");
        let reply = send(Method::POST, &url, &json, Some(br#"{"args":[]}"#.to_vec())).await;
        assert_eq!(reply.json(), json!({ "output": 2 }), "{path}");
    }
    // `get` does not create; a `+` in a key is a space, as URLSearchParams writes it.
    let url = query_url(&endpoint, "counter", "no+such", "get", "/action/getCount");
    send(Method::POST, &url, &json, Some(br#"{"args":[]}"#.to_vec()))
        .await
        .assert_error(404, "actor", "not_found");
    let url = query_url(
        &endpoint,
        "counter",
        "with+space",
        "getOrCreate",
        "/action/increment",
    );
    send(Method::POST, &url, &json, Some(br#"{"args":[1]}"#.to_vec())).await;
    let count = registry
        .client()
        .get::<rivet_examples::counter::Counter>(["with space"])
        .get_count()
        .within()
        .await;
    assert_eq!(count.ok(), Some(1));

    let unknown = format!("{endpoint}/gateway/no-such-id/action/getCount");
    send(
        Method::POST,
        &unknown,
        &json,
        Some(br#"{"args":[]}"#.to_vec()),
    )
    .await
    .assert_error(404, "actor", "not_found");
    registry.shutdown().within().await;
}

#[tokio::test]
async fn bad_gateway_queries_name_the_problem() {
    let (registry, endpoint) = serve_memory().await;
    let json = [("content-type", "application/json")];
    let body = || Some(br#"{"args":[]}"#.to_vec());
    let base = format!("{endpoint}/gateway/counter/action/getCount");
    let cases = [
        (
            "rvt-namespace=d&rvt-method=get&rvt-input=AA",
            "query_get_disallowed_params",
        ),
        (
            "rvt-namespace=d&rvt-method=getOrCreate",
            "query_missing_pool",
        ),
        ("rvt-namespace=d&rvt-method=list", "query_invalid_params"),
        (
            "rvt-namespace=d&rvt-method=get&rvt-method=get",
            "query_duplicate_param",
        ),
        (
            "rvt-namespace=d&rvt-method=getOrCreate&rvt-runner=r&rvt-input=_w",
            "query_invalid_cbor_input",
        ),
    ];
    for (query, code) in cases {
        send(Method::POST, &format!("{base}?{query}"), &json, body())
            .await
            .assert_error(400, "guard", code);
    }
    // Unknown routes and methods.
    let url = query_url(&endpoint, "counter", "r", "getOrCreate", "/nothing");
    send(Method::POST, &url, &json, body())
        .await
        .assert_error(404, "guard", "no_route");
    let url = query_url(&endpoint, "counter", "r", "getOrCreate", "/action/getCount");
    send(Method::GET, &url, &json, None)
        .await
        .assert_error(404, "guard", "no_route");
    let url = query_url(&endpoint, "counter", "r", "getOrCreate", "/action/nothing");
    send(Method::POST, &url, &json, body())
        .await
        .assert_error(404, "actor", "action_not_found");
    let url = query_url(&endpoint, "nobody", "r", "getOrCreate", "/action/getCount");
    send(Method::POST, &url, &json, body())
        .await
        .assert_error(404, "actor", "not_registered");
    registry.shutdown().within().await;
}

#[tokio::test]
async fn cors_answers_preflight_requests_of_configured_origins() {
    let registry = rivet_examples::registry()
        .in_memory()
        .cors(Cors::Origins(vec!["http://app.example".to_owned()]))
        .build()
        .expect("registry");
    let (registry, endpoint) = serve(registry).await;
    let url = query_url(
        &endpoint,
        "counter",
        "cors",
        "getOrCreate",
        "/action/increment",
    );
    let preflight = send(
        Method::OPTIONS,
        &url,
        &[
            ("origin", "http://app.example"),
            ("access-control-request-method", "POST"),
            (
                "access-control-request-headers",
                "x-rivet-encoding,x-rivet-conn-params,content-type",
            ),
        ],
        None,
    )
    .await;
    assert!(preflight.status.is_success(), "{}", preflight.status);
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some("http://app.example")
    );
    let allowed = preflight
        .header("access-control-allow-headers")
        .unwrap_or("")
        .to_ascii_lowercase();
    assert!(
        allowed.contains("x-rivet-encoding") && allowed.contains("x-rivet-conn-params"),
        "{allowed}"
    );
    let reply = send(
        Method::POST,
        &url,
        &[
            ("origin", "http://app.example"),
            ("content-type", "application/json"),
        ],
        Some(br#"{"args":[1]}"#.to_vec()),
    )
    .await;
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("http://app.example")
    );
    registry.shutdown().within().await;
}

#[tokio::test]
async fn raw_requests_reach_on_request() {
    let (registry, endpoint) = serve_memory().await;
    let url = query_url(
        &endpoint,
        "lobby",
        "raw",
        "getOrCreate",
        "/request/hello/world",
    )
    .replace("?", "?x=1&");
    let reply = send(
        Method::PUT,
        &url,
        &[("x-rivet-ray-id", "r1")],
        Some(b"body!".to_vec()),
    )
    .await;
    assert_eq!(reply.status.as_u16(), 201);
    assert_eq!(reply.header("x-lobby"), Some("yes"));
    assert_eq!(reply.header("x-rivet-ray-id"), Some("r1"));
    assert_eq!(
        String::from_utf8_lossy(&reply.body),
        "PUT /hello/world?x=1 body!"
    );
    // The path reaches the actor as sent: an encoded space keeps it a valid URI, and an
    // encoded slash stays inside its segment.
    let url = query_url(
        &endpoint,
        "lobby",
        "raw",
        "getOrCreate",
        "/request/with%20space/a%2Fb",
    );
    let reply = send(Method::GET, &url, &[], None).await;
    assert_eq!(
        String::from_utf8_lossy(&reply.body),
        "GET /with%20space/a%2Fb "
    );
    // An action or queue name that is not valid percent-encoding is refused, not run as `""`.
    for path in ["/action/%FF", "/queue/%FF"] {
        let url = query_url(&endpoint, "counter", "raw", "getOrCreate", path);
        let reply = send(Method::POST, &url, &[], Some(br#"{"args":[]}"#.to_vec())).await;
        assert_eq!(reply.status.as_u16(), 400, "{path}");
        assert_eq!(
            reply.json()["code"],
            "query_invalid_percent_encoding",
            "{path}"
        );
    }
    // An actor without `#[on_request]` refuses with a JSON error.
    let url = query_url(&endpoint, "counter", "raw", "getOrCreate", "/request/x");
    let reply = send(Method::GET, &url, &[], None).await;
    assert_eq!(
        reply.status.as_u16(),
        404,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert!(reply.json()["code"].is_string());
    registry.shutdown().within().await;
}

#[tokio::test]
async fn raw_websockets_reach_on_websocket() {
    let (registry, endpoint) = serve_memory().await;
    let url = query_url(&endpoint, "lobby", "raw", "getOrCreate", "/websocket/chat")
        .replace("http://", "ws://")
        .replace("?", "?room=1&");
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .within()
        .await
        .expect("upgrade");
    check_lobby_socket(&mut socket, "/chat?room=1").await;
    registry.shutdown().within().await;
}

#[tokio::test]
async fn skip_ready_wait_routes_name_the_actor_in_headers() {
    let (registry, endpoint) = serve_memory().await;
    let url = query_url(
        &endpoint,
        "lobby",
        "direct",
        "getOrCreate",
        "/request/first",
    );
    let first = send(Method::GET, &url, &[], None).await;
    let id = first.header("x-rivet-actor").expect("actor id").to_owned();

    // HTTP: `x-rivet-target: actor` and `x-rivet-actor: {id}` on a path without `/gateway`.
    let headers = [
        ("x-rivet-target", "actor"),
        ("x-rivet-actor", id.as_str()),
        ("x-rivet-skip-ready-wait", "1"),
    ];
    let reply = send(
        Method::POST,
        &format!("{endpoint}/request/hi?q=2"),
        &headers,
        Some(b"yo".to_vec()),
    )
    .await;
    assert_eq!(reply.status.as_u16(), 201);
    assert_eq!(String::from_utf8_lossy(&reply.body), "POST /hi?q=2 yo");
    send(Method::GET, &format!("{endpoint}/request/hi"), &[], None)
        .await
        .assert_error(404, "guard", "no_route");

    // WebSocket: the same in subprotocols.
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("{}/connect", endpoint.replace("http://", "ws://"))
        .into_client_request()
        .expect("request");
    let protocols = format!(
        "rivet, rivet_encoding.json, rivet_target.actor, rivet_actor.{id}, rivet_skip_ready_wait"
    );
    request
        .headers_mut()
        .insert("sec-websocket-protocol", protocols.parse().expect("header"));
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .within()
        .await
        .expect("upgrade");
    match socket.next().within().await {
        Some(Ok(Message::Text(init))) => {
            let init: Value = serde_json::from_str(&init).expect("json");
            assert_eq!(init["body"]["tag"], "Init", "{init}");
            assert_eq!(init["body"]["val"]["actorId"], id.as_str(), "{init}");
        }
        other => panic!("expected Init, got {other:?}"),
    }
    registry.shutdown().within().await;
}

#[tokio::test]
async fn the_router_nests_under_a_prefix_of_an_existing_app() {
    use rivet_core::Client;
    use rivet_examples::counter::Counter;

    let registry = rivet_examples::registry()
        .in_memory()
        .build()
        .expect("registry");
    let app = axum::Router::new()
        .route("/hello", axum::routing::get(|| async { "my app" }))
        .nest("/api/rivet", registry.router());
    let addr = serve_router(app).await;

    assert_eq!(get(&format!("http://{addr}/hello")).await.body, b"my app");
    let client = Client::new(format!("http://{addr}/api/rivet"));
    let counter = client.get_or_create::<Counter>(["nested"]);
    assert_eq!(counter.increment(3).within().await.unwrap(), 3);
    let conn = counter.connect().within().await.unwrap();
    assert_eq!(conn.increment(1).within().await.unwrap(), 4);
    let metadata = get(&format!("http://{addr}/api/rivet/metadata"))
        .await
        .json();
    assert_eq!(metadata["runtime"], "rivetkit");
    registry.shutdown().within().await;
}
