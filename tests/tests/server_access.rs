//! Who may use the server: the token (in every place the official clients put it), browser
//! origins (refused unless same-origin or configured; `null` never), and the `Host` names a
//! server on loopback answers to (DNS rebinding).

use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use rivet_core::server::Cors;
use rivet_core::{Client, Registry, codes};
use rivet_examples::counter::Counter;
use rivet_tests::{Within, http_json as send, query_url, serve};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const TOKEN: &str = "t0k-access";

fn assert_refused(reply: &(u16, Value), status: u16, code: &str, context: &str) {
    assert_eq!(reply.0, status, "{context}: {}", reply.1);
    let full = format!(
        "{}.{}",
        reply.1["group"].as_str().unwrap_or(""),
        reply.1["code"].as_str().unwrap_or("")
    );
    assert_eq!(full, code, "{context}: {}", reply.1);
}

async fn with_token() -> (Registry, String) {
    let registry = rivet_examples::registry()
        .in_memory()
        .token(TOKEN)
        .build()
        .expect("registry");
    serve(registry).await
}

/// Opens `/connect` with `protocols`; returns the HTTP status of a refused upgrade, or the
/// first message of an accepted one.
async fn connect(url: &str, protocols: &str, origin: Option<&str>) -> Result<Message, u16> {
    let mut request = url
        .replace("http://", "ws://")
        .into_client_request()
        .expect("request");
    let headers = request.headers_mut();
    headers.insert("sec-websocket-protocol", protocols.parse().expect("header"));
    if let Some(origin) = origin {
        headers.insert("origin", origin.parse().expect("header"));
    }
    match tokio_tungstenite::connect_async(request).within().await {
        Ok((mut socket, _)) => Ok(socket
            .next()
            .within()
            .await
            .expect("a message")
            .expect("ok")),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(error) => panic!("upgrade failed: {error}"),
    }
}

#[tokio::test]
async fn the_token_guards_the_api_and_the_gateway_wherever_clients_put_it() {
    let (registry, endpoint) = with_token().await;
    let action = query_url(
        &endpoint,
        "counter",
        "guarded",
        "getOrCreate",
        "/action/increment",
    );
    let json = ("content-type", "application/json");
    let args = r#"{"args":[1]}"#;
    let bearer = format!("Bearer {TOKEN}");

    // Without it, or with another: refused, and nothing ran.
    for (headers, context) in [
        (vec![json], "no token"),
        (
            vec![json, ("authorization", "Bearer nope")],
            "a wrong bearer",
        ),
        (
            vec![json, ("x-rivet-token", "nope")],
            "a wrong x-rivet-token",
        ),
    ] {
        let reply = send(Method::POST, &action, &headers, args).await;
        assert_refused(&reply, 401, "auth.unauthorized", context);
    }
    let list = format!("{endpoint}/actors?name=counter");
    assert_refused(
        &send(Method::GET, &list, &[], "").await,
        401,
        "auth.unauthorized",
        "list",
    );
    let delete = format!("{endpoint}/actors/some-id");
    assert_refused(
        &send(Method::DELETE, &delete, &[], "").await,
        401,
        "auth.unauthorized",
        "delete",
    );

    // With it, in each place an official client puts it.
    let reply = send(
        Method::POST,
        &action,
        &[json, ("authorization", &bearer)],
        args,
    )
    .await;
    assert_eq!(reply, (200, serde_json::json!({"output": 1})));
    let reply = send(
        Method::POST,
        &action,
        &[json, ("x-rivet-token", TOKEN)],
        args,
    )
    .await;
    assert_eq!(reply.1["output"], 2);
    let reply = send(
        Method::POST,
        &format!("{action}&rvt-token={TOKEN}"),
        &[json],
        args,
    )
    .await;
    assert_eq!(reply.1["output"], 3);
    let created = send(
        Method::PUT,
        &format!("{endpoint}/actors"),
        &[json, ("authorization", &bearer)],
        r#"{"name":"counter","key":"guarded"}"#,
    )
    .await;
    let id = created.1["actor"]["actor_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let direct = format!("{endpoint}/gateway/{id}@{TOKEN}/action/increment");
    assert_eq!(
        send(Method::POST, &direct, &[json], args).await.1["output"],
        4
    );
    let direct_wrong = format!("{endpoint}/gateway/{id}@nope/action/increment");
    assert_refused(
        &send(Method::POST, &direct_wrong, &[json], args).await,
        401,
        "auth.unauthorized",
        "@nope",
    );

    // Sockets: the token subprotocol, as the official client sends it.
    let connect_url = query_url(&endpoint, "counter", "guarded", "getOrCreate", "/connect");
    assert_eq!(
        connect(&connect_url, "rivet, rivet_encoding.json", None).await,
        Err(401)
    );
    let opened = connect(
        &connect_url,
        &format!("rivet, rivet_encoding.json, rivet_token.{TOKEN}"),
        None,
    )
    .await;
    assert!(
        matches!(opened, Ok(Message::Text(ref t)) if t.contains("Init")),
        "{opened:?}"
    );

    // What says the server is there stays open.
    for path in ["/", "/health", "/metadata"] {
        let reply = rivet_tests::support::net::http()
            .get(format!("{endpoint}{path}"))
            .send()
            .within()
            .await
            .expect("get");
        assert_eq!(reply.status(), StatusCode::OK, "{path}");
    }

    // The Rust client passes its token on HTTP and on its socket.
    let client = Client::builder(&endpoint)
        .token(TOKEN)
        .build()
        .expect("client");
    let counter = client.get_or_create::<Counter>(["guarded"]);
    assert_eq!(counter.increment(1).within().await.unwrap(), 5);
    let conn = counter.connect().within().await.unwrap();
    assert_eq!(conn.increment(1).within().await.unwrap(), 6);
    let anonymous = Client::new(&endpoint).get_or_create::<Counter>(["guarded"]);
    let error = anonymous.increment(1).within().await.unwrap_err();
    assert!(error.is(codes::UNAUTHORIZED), "{error}");
    registry.shutdown().within().await;
}

#[tokio::test]
async fn browsers_from_other_origins_are_refused_unless_configured() {
    let (registry, endpoint) = serve(
        rivet_examples::registry()
            .in_memory()
            .build()
            .expect("registry"),
    )
    .await;
    let action = query_url(
        &endpoint,
        "counter",
        "origins",
        "getOrCreate",
        "/action/increment",
    );
    let json = ("content-type", "application/json");
    let args = r#"{"args":[1]}"#;
    // A page elsewhere, or a sandboxed one: refused before anything runs (a "simple" POST
    // needs no preflight, so CORS alone would not stop it).
    for origin in ["http://evil.example", "null"] {
        let reply = send(Method::POST, &action, &[json, ("origin", origin)], args).await;
        assert_refused(&reply, 403, "guard.origin_not_allowed", origin);
    }
    // No preflight grant either.
    let preflight = rivet_tests::support::net::http()
        .request(Method::OPTIONS, &action)
        .header("origin", "http://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .within()
        .await
        .expect("preflight");
    assert!(
        preflight
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    // Browsers do not apply CORS to WebSockets: the upgrade checks the Origin itself.
    let connect_url = query_url(&endpoint, "counter", "origins", "getOrCreate", "/connect");
    assert_eq!(
        connect(&connect_url, "rivet", Some("http://evil.example")).await,
        Err(403)
    );
    // The same origin, and programs that send none, are served; nothing ran before.
    let same = endpoint.clone();
    let reply = send(Method::POST, &action, &[json, ("origin", &same)], args).await;
    assert_eq!(reply.1["output"], 1, "{}", reply.1);
    assert!(connect(&connect_url, "rivet", Some(&same)).await.is_ok());
    registry.shutdown().within().await;

    // Configured origins are allowed; `null` is not, even with permissive CORS.
    let listed = rivet_examples::registry()
        .in_memory()
        .cors(Cors::Origins(vec!["http://app.example".to_owned()]))
        .build()
        .expect("registry");
    let (listed, endpoint) = serve(listed).await;
    let action = query_url(
        &endpoint,
        "counter",
        "origins",
        "getOrCreate",
        "/action/increment",
    );
    let reply = send(
        Method::POST,
        &action,
        &[json, ("origin", "http://app.example")],
        args,
    )
    .await;
    assert_eq!(reply.1["output"], 1);
    let reply = send(
        Method::POST,
        &action,
        &[json, ("origin", "http://evil.example")],
        args,
    )
    .await;
    assert_refused(&reply, 403, "guard.origin_not_allowed", "unlisted");
    listed.shutdown().within().await;
    let permissive = rivet_examples::registry()
        .in_memory()
        .cors(Cors::Permissive)
        .build()
        .expect("registry");
    let (permissive, endpoint) = serve(permissive).await;
    let action = query_url(
        &endpoint,
        "counter",
        "origins",
        "getOrCreate",
        "/action/increment",
    );
    let reply = send(
        Method::POST,
        &action,
        &[json, ("origin", "http://any.example")],
        args,
    )
    .await;
    assert_eq!(reply.1["output"], 1);
    let reply = send(Method::POST, &action, &[json, ("origin", "null")], args).await;
    assert_refused(&reply, 403, "guard.origin_not_allowed", "null, permissive");
    permissive.shutdown().within().await;
}

#[tokio::test]
async fn a_server_on_loopback_answers_only_to_loopback_names() {
    let (registry, endpoint) = serve(
        rivet_examples::registry()
            .in_memory()
            .build()
            .expect("registry"),
    )
    .await;
    let port = endpoint.rsplit(':').next().expect("port").to_owned();
    let health = format!("{endpoint}/health");
    // A rebinding domain that resolves to 127.0.0.1 is same-origin to the browser; its Host
    // header gives it away.
    let rebound = format!("rebind.evil.example:{port}");
    let reply = send(Method::GET, &health, &[("host", &rebound)], "").await;
    assert_refused(&reply, 403, "guard.host_not_allowed", "rebound");
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("app.localhost:{port}"),
    ] {
        assert_eq!(
            send(Method::GET, &health, &[("host", &host)], "").await.0,
            200,
            "{host}"
        );
    }
    registry.shutdown().within().await;

    let named = rivet_examples::registry()
        .in_memory()
        .allowed_hosts(["rivet.internal"])
        .build()
        .expect("registry");
    let (named, endpoint) = serve(named).await;
    let health = format!("{endpoint}/health");
    assert_eq!(
        send(Method::GET, &health, &[("host", "rivet.internal:80")], "")
            .await
            .0,
        200
    );
    let reply = send(Method::GET, &health, &[("host", "localhost")], "").await;
    assert_refused(&reply, 403, "guard.host_not_allowed", "not listed");
    named.shutdown().within().await;
}
