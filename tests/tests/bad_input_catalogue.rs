//! A catalogue of bad requests, each with the status and `group.code` it must get, sent one
//! after another to one server while another actor keeps serving: after every case, a counter
//! elsewhere answers its next increment. (WebSocket frames and limits have their own tests in
//! `net_bad_input.rs` and `server_limits.rs`.)

use reqwest::Method;
use rivet_core::Client;
use rivet_examples::counter::Counter;
use rivet_tests::{Within, serve};
use serde_json::Value;

/// One bad request and what it must get.
struct Case {
    what: &'static str,
    method: Method,
    /// After the endpoint.
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    status: u16,
    code: &'static str,
}

/// `/gateway/{name}{route}?...` in the query form, with `extra` parameters appended.
fn gateway(name: &str, route: &str, extra: &str) -> String {
    format!(
        "/gateway/{name}{route}?rvt-namespace=default&rvt-method=getOrCreate&rvt-runner=default&rvt-key=catalogue{extra}"
    )
}

fn action(name: &str) -> String {
    gateway("counter", &format!("/action/{name}"), "")
}

fn case(
    what: &'static str,
    method: Method,
    path: String,
    body: &[u8],
    status: u16,
    code: &'static str,
) -> Case {
    Case {
        what,
        method,
        path,
        headers: Vec::new(),
        body: body.to_vec(),
        status,
        code,
    }
}

fn with(mut case: Case, name: &'static str, value: &str) -> Case {
    case.headers.push((name, value.to_owned()));
    case
}

fn encoded(case: Case, encoding: &str) -> Case {
    with(case, "x-rivet-encoding", encoding)
}

fn catalogue() -> Vec<Case> {
    let post = Method::POST;
    let increment = action("increment");
    let json =
        |what, body: &[u8], code| case(what, Method::POST, action("increment"), body, 400, code);
    // A malformed body in a binary encoding: refused as an invalid request.
    let binary = |encoding, what, body: &[u8]| {
        let refused = case(
            what,
            Method::POST,
            action("increment"),
            body,
            400,
            "actor.invalid_request",
        );
        encoded(refused, encoding)
    };
    let cbor = |what, body: &[u8]| binary("cbor", what, body);
    let bare = |what, body: &[u8]| binary("bare", what, body);
    let query = |what, extra: &str, code| {
        case(
            what,
            Method::POST,
            format!("/gateway/counter/action/increment?{extra}"),
            br#"{"args":[1]}"#,
            400,
            code,
        )
    };
    let put_actor = |what, body: &str, status, code| {
        let mut case = case(
            what,
            Method::PUT,
            "/actors".to_owned(),
            body.as_bytes(),
            status,
            code,
        );
        case.headers
            .push(("content-type", "application/json".to_owned()));
        case
    };
    let mut cases = vec![
        // Action bodies, json.
        json("json: truncated", b"{", "actor.invalid_request"),
        json("json: an array", b"[]", "actor.invalid_request"),
        json("json: a number", b"5", "actor.invalid_request"),
        json("json: empty", b"", "actor.invalid_request"),
        json("json: args not an array", br#"{"args":"x"}"#, "actor.validation_error"),
        json("json: wrong argument type", br#"{"args":["a"]}"#, "actor.validation_error"),
        json("json: missing argument", br#"{"args":[]}"#, "actor.validation_error"),
        json("json: extra argument", br#"{"args":[1,2]}"#, "actor.validation_error"),
        json("json: argument out of range", br#"{"args":[1e400]}"#, "actor.invalid_request"),
        json("json: 10k-deep nesting", "[".repeat(10_000).as_bytes(), "actor.invalid_request"),
        json("json: invalid UTF-8", b"{\"args\":[\"\xff\"]}", "actor.invalid_request"),
        // cbor.
        cbor("cbor: a lone break", &[0xff]),
        cbor("cbor: truncated map", &[0xa1, 0x64]),
        cbor("cbor: an empty array", &[0x80]),
        cbor("cbor: empty", &[]),
        cbor("cbor: 2^64 items claimed", &[0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
        // bare.
        bare("bare: empty", &[]),
        bare("bare: version only", &[0x04]),
        bare("bare: length past the end", &[0x04, 0x00, 0xff, 0xff, 0xff, 0xff, 0x0f]),
        bare("bare: unknown version", &[0x09, 0x00, 0x00]),
        // The encoding itself.
        encoded(case("encoding: xml", post.clone(), increment.clone(), br#"{"args":[1]}"#, 400, "protocol.unsupported_encoding"), "xml"),
        // Routes and names.
        case("unknown action", post.clone(), action("nope"), br#"{"args":[]}"#, 404, "actor.action_not_found"),
        case("unregistered actor type", post.clone(), gateway("nobody", "/action/x", ""), br#"{"args":[]}"#, 404, "actor.not_registered"),
        case("unknown actor route", Method::GET, gateway("counter", "/nowhere", ""), b"", 404, "guard.no_route"),
        case("no actor in the gateway path", Method::GET, "/gateway/".to_owned(), b"", 404, "guard.no_route"),
        case("connect without an actor", Method::GET, "/connect".to_owned(), b"", 404, "guard.no_route"),
        case("unknown path", Method::GET, "/nowhere".to_owned(), b"", 404, "guard.no_route"),
        case("a method the route lacks", Method::POST, "/health".to_owned(), b"", 404, "guard.no_route"),
        case("unknown actor id", post.clone(), "/gateway/no-such-id/action/increment".to_owned(), br#"{"args":[1]}"#, 404, "actor.not_found"),
        case("get of a missing key", post.clone(), "/gateway/counter/action/increment?rvt-namespace=default&rvt-method=get&rvt-key=never-made".to_owned(), br#"{"args":[1]}"#, 404, "actor.not_found"),
        case("body over 64 KiB", post.clone(), increment.clone(), format!(r#"{{"args":["{}"]}}"#, "x".repeat(70_000)).as_bytes(), 400, "message.incoming_too_long"),
        with(case("connection params not JSON", post.clone(), increment.clone(), br#"{"args":[1]}"#, 400, "actor.invalid_request"), "x-rivet-conn-params", "{"),
        // The query gateway.
        query("query: unknown method", "rvt-namespace=default&rvt-method=bogus", "guard.query_invalid_params"),
        query("query: no method", "rvt-namespace=default", "guard.query_invalid_params"),
        query("query: no namespace", "rvt-method=get", "guard.query_invalid_params"),
        query("query: unknown parameter", "rvt-namespace=default&rvt-method=get&rvt-foo=1", "guard.query_invalid_params"),
        query("query: duplicate key", "rvt-namespace=default&rvt-method=get&rvt-key=a&rvt-key=b", "guard.query_duplicate_param"),
        query("query: get with input", "rvt-namespace=default&rvt-method=get&rvt-input=oA", "guard.query_get_disallowed_params"),
        query("query: getOrCreate without a pool", "rvt-namespace=default&rvt-method=getOrCreate", "guard.query_missing_pool"),
        query("query: bad crash policy", "rvt-namespace=default&rvt-method=get&rvt-crash-policy=explode", "guard.query_invalid_params"),
        query("query: bad skip-ready-wait", "rvt-namespace=default&rvt-method=get&rvt-skip-ready-wait=maybe", "guard.query_invalid_params"),
        query("query: bad percent-encoding", "rvt-namespace=default&rvt-method=get&rvt-key=%zz", "guard.query_invalid_percent_encoding"),
        query("query: input not base64url", "rvt-namespace=default&rvt-method=getOrCreate&rvt-runner=default&rvt-input=!!!", "guard.query_invalid_base64_input"),
        query("query: input not CBOR", "rvt-namespace=default&rvt-method=getOrCreate&rvt-runner=default&rvt-input=_w", "guard.query_invalid_cbor_input"),
        case("query: @token in a name", post.clone(), "/gateway/counter@tok/action/increment?rvt-namespace=default&rvt-method=get".to_owned(), br#"{"args":[1]}"#, 400, "guard.query_path_token_syntax"),
        case("query: empty name", post.clone(), "/gateway//action/increment?rvt-namespace=default&rvt-method=get".to_owned(), br#"{"args":[1]}"#, 400, "guard.query_empty_actor_name"),
        // Identity limits.
        query("query: key over 1 KiB", &format!("rvt-namespace=default&rvt-method=get&rvt-key={}", "k".repeat(2000)), "actor.key_too_large"),
        query("query: 40 key parts", &format!("rvt-namespace=default&rvt-method=get&rvt-key={}", vec!["p"; 40].join(",")), "actor.key_too_large"),
        // The actors API.
        put_actor("PUT /actors: not JSON", "{", 400, "actor.invalid_request"),
        put_actor("PUT /actors: no name", r#"{"key":"a"}"#, 400, "actor.invalid_request"),
        put_actor("PUT /actors: unregistered name", r#"{"name":"nobody","key":"a"}"#, 404, "actor.not_registered"),
        put_actor("PUT /actors: input not base64", r#"{"name":"counter","key":"a","input":"!!"}"#, 400, "actor.invalid_request"),
        put_actor("PUT /actors: input not CBOR", r#"{"name":"counter","key":"a","input":"/w=="}"#, 400, "actor.validation_error"),
        put_actor("PUT /actors: key over 1 KiB", &format!(r#"{{"name":"counter","key":"{}"}}"#, "k".repeat(2000)), 400, "actor.key_too_large"),
        put_actor("PUT /actors: name over 128 bytes", &format!(r#"{{"name":"{}","key":"a"}}"#, "n".repeat(200)), 400, "actor.name_too_long"),
        case("GET /actors: no parameters", Method::GET, "/actors".to_owned(), b"", 400, "actor.invalid_request"),
        case("GET /actors: 33 ids", Method::GET, format!("/actors?actor_ids={}", vec!["x"; 33].join(",")), b"", 400, "actor.invalid_request"),
        case("DELETE /actors: unknown id", Method::DELETE, "/actors/no-such-id".to_owned(), b"", 404, "actor.not_found"),
        // Raw routes and queues.
        case("raw request to an actor without on_request", post.clone(), gateway("counter", "/request/x", ""), b"body", 404, "actor.not_found"),
        case("raw request to an unregistered type", post.clone(), gateway("nobody", "/request/x", ""), b"body", 404, "actor.not_registered"),
        case("queue: unknown queue", post.clone(), gateway("worker", "/queue/nope", ""), br#"{"body":1}"#, 400, "queue.not_found"),
        case("queue: malformed body", post.clone(), gateway("worker", "/queue/jobs", ""), b"{", 400, "actor.invalid_request"),
        case("queue: no name anywhere", post.clone(), gateway("worker", "/queue", ""), br#"{"body":1}"#, 400, "actor.invalid_request"),
        // Browsers and hosts.
        with(case("a foreign origin", post.clone(), increment.clone(), br#"{"args":[1]}"#, 403, "guard.origin_not_allowed"), "origin", "http://evil.example"),
        with(case("origin null", post.clone(), increment.clone(), br#"{"args":[1]}"#, 403, "guard.origin_not_allowed"), "origin", "null"),
        with(case("a rebinding Host", Method::GET, "/actors?name=counter".to_owned(), b"", 403, "guard.host_not_allowed"), "host", "rebind.evil.example"),
    ];
    for case in &mut cases {
        if case.method == Method::POST && !case.headers.iter().any(|(n, _)| *n == "content-type") {
            case.headers
                .push(("content-type", "application/json".to_owned()));
        }
    }
    cases
}

#[tokio::test]
async fn every_bad_request_gets_its_code_while_another_actor_keeps_serving() {
    let registry = rivet_examples::registry()
        .in_memory()
        .build()
        .expect("registry");
    let (registry, endpoint) = serve(registry).await;
    let healthy = Client::new(&endpoint).get_or_create::<Counter>(["catalogue-healthy"]);
    let http = rivet_tests::support::net::http();
    let cases = catalogue();
    assert!(cases.len() >= 50, "{} cases", cases.len());
    let mut failures = Vec::new();
    for (n, case) in cases.iter().enumerate() {
        let mut request = http
            .request(case.method.clone(), format!("{endpoint}{}", case.path))
            .body(case.body.clone());
        for (name, value) in &case.headers {
            request = request.header(*name, value);
        }
        let response = request.send().within().await.expect("request");
        let status = response.status().as_u16();
        let body = response.bytes().within().await.expect("body");
        let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let code = format!(
            "{}.{}",
            json["group"].as_str().unwrap_or("?"),
            json["code"].as_str().unwrap_or("?")
        );
        if (status, code.as_str()) != (case.status, case.code) {
            failures.push(format!(
                "{}: expected {} {}, got {status} {code} ({})",
                case.what,
                case.status,
                case.code,
                String::from_utf8_lossy(&body)
                    .chars()
                    .take(200)
                    .collect::<String>()
            ));
        }
        // The other actor answers in order after every case.
        let count = healthy.increment(1).within().await.unwrap();
        assert_eq!(count, n as i64 + 1, "after {}", case.what);
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    registry.shutdown().within().await;
}

#[tokio::test]
async fn the_example_counter_refuses_to_overflow() {
    let registry = rivet_examples::registry()
        .in_memory()
        .build()
        .expect("registry");
    let counter = registry
        .client()
        .get_or_create::<Counter>(["catalogue-overflow"]);
    assert_eq!(
        counter.increment(i64::MAX).within().await.unwrap(),
        i64::MAX
    );
    let error = counter.increment(1).within().await.unwrap_err();
    assert_eq!(error.full_code(), "user.overflow", "{error}");
    assert_eq!(counter.get_count().within().await.unwrap(), i64::MAX);
    registry.shutdown().within().await;
}
