//! The inspector API (`/gateway/{actor}/inspector/...`): an actor's state, connections,
//! actions and queue in RivetKit's JSON shapes, a state change committed like a turn, and who
//! may inspect (the bearer token, or nobody beyond loopback without one).

use reqwest::Method;
use rivet_core::Registry;
use rivet_examples::counter::Counter;
use rivet_tests::{Backend, Ledger, Sorter, Within, http_json, serve};
use serde_json::{Value, json};

/// The inspector URL of actor `id`.
fn inspector(endpoint: &str, id: &str, route: &str) -> String {
    format!("{endpoint}/gateway/{id}/inspector/{route}")
}

async fn get(endpoint: &str, id: &str, route: &str) -> (u16, Value) {
    http_json(Method::GET, &inspector(endpoint, id, route), &[], "").await
}

/// What RivetKit answers to an inspector request without a valid token.
fn unauthorized() -> Value {
    json!({
        "group": "inspector",
        "code": "unauthorized",
        "message": "Inspector request requires a valid bearer token",
        "metadata": null,
    })
}

#[tokio::test]
async fn state_actions_and_connections_on_a_loopback_server_without_a_token() {
    let backend = Backend::sqlite();
    let registry = backend.build(rivet_examples::registry());
    let (registry, endpoint) = serve(registry).await;
    let counter = registry.client().get_or_create::<Counter>(["inspected"]);
    counter.increment(5).within().await.unwrap();
    let id = counter.resolve().within().await.unwrap();

    let (status, state) = get(&endpoint, &id, "state").await;
    assert_eq!(status, 200);
    assert_eq!(
        state,
        json!({ "state": { "count": 5 }, "isStateEnabled": true })
    );

    // A new state is validated against the actor's type and committed before the answer.
    let url = inspector(&endpoint, &id, "state");
    let bad = http_json(Method::PATCH, &url, &[], r#"{"state":{"count":"five"}}"#).await;
    assert_eq!(bad.0, 400, "{}", bad.1);
    assert_eq!(bad.1["code"], "invalid_request");
    let ok = http_json(Method::PATCH, &url, &[], r#"{"state":{"count":42}}"#).await;
    assert_eq!(ok, (200, json!({ "ok": true })));
    assert_eq!(counter.get_count().within().await.unwrap(), 42);

    let (_, rpcs) = get(&endpoint, &id, "rpcs").await;
    let rpcs = rpcs["rpcs"].as_array().expect("rpcs").clone();
    assert!(rpcs.contains(&json!("increment")) && rpcs.contains(&json!("getCount")));

    // An action runs as any call does.
    let action = inspector(&endpoint, &id, "action/increment");
    let output = http_json(Method::POST, &action, &[], r#"{"args":[1]}"#).await;
    assert_eq!(output, (200, json!({ "output": 43 })));
    let missing = inspector(&endpoint, &id, "action/nope");
    let missing = http_json(Method::POST, &missing, &[], r#"{"args":[]}"#).await;
    assert_eq!(missing.0, 404, "{}", missing.1);

    let conn = counter.connect().within().await.unwrap();
    assert_eq!(conn.get_count().within().await.unwrap(), 43);
    let (_, connections) = get(&endpoint, &id, "connections").await;
    let listed = connections["connections"].as_array().expect("connections");
    assert_eq!(listed.len(), 1, "{connections}");
    assert!(listed[0]["id"].is_string());

    let (status, summary) = get(&endpoint, &id, "summary").await;
    assert_eq!(status, 200);
    assert_eq!(summary["state"], json!({ "count": 43 }));
    assert_eq!(summary["queueSize"], 0);
    assert_eq!(summary["connections"].as_array().map(Vec::len), Some(1));
    conn.disconnect();

    let unknown = get(&endpoint, &id, "nothing-here").await;
    assert_eq!(unknown.0, 404);

    // The state the inspector set survives a restart.
    registry.shutdown().within().await;
    let registry = backend.build(rivet_examples::registry());
    let counter = registry.client().get_or_create::<Counter>(["inspected"]);
    assert_eq!(counter.get_count().within().await.unwrap(), 43);
    registry.shutdown().within().await;
}

#[tokio::test]
async fn the_queue_is_listed_sent_to_and_purged() {
    let registry = Backend::memory().build(Registry::builder().with::<Sorter>());
    let (registry, endpoint) = serve(registry).await;
    let sorter = registry
        .client()
        .get_or_create::<Sorter>(["inspected-queue"]);
    for text in ["a", "b", "c"] {
        sorter.send_later(text.to_owned()).within().await.unwrap();
    }
    let id = sorter.resolve().within().await.unwrap();
    let (status, queue) = get(&endpoint, &id, "queue?limit=2").await;
    assert_eq!(status, 200, "{queue}");
    assert_eq!(queue["size"], 3);
    assert_eq!(queue["maxSize"], 1000);
    assert_eq!(queue["truncated"], true);
    let messages = queue["messages"].as_array().expect("messages");
    let ids: Vec<_> = messages
        .iter()
        .map(|m| (m["id"].clone(), m["name"].clone()))
        .collect();
    assert_eq!(
        ids,
        [(json!(1), json!("later")), (json!(2), json!("later"))]
    );
    assert!(
        messages.iter().all(|m| m["createdAtMs"].is_i64()),
        "{queue}"
    );

    let url = inspector(&endpoint, &id, "queue");
    let (status, sent) = http_json(Method::POST, &url, &[], r#"{"name":"later","body":"d"}"#).await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!((&sent["id"], &sent["name"]), (&json!("4"), &json!("later")));
    assert!(sent["createdAtMs"].is_i64(), "{sent}");
    let wrong = http_json(Method::POST, &url, &[], r#"{"name":"later","body":7}"#).await;
    assert_eq!(wrong.1["code"], "validation_error", "{}", wrong.1);
    let unknown = http_json(Method::POST, &url, &[], r#"{"name":"nope","body":"x"}"#).await;
    assert_eq!(unknown.1["code"], "not_found", "{}", unknown.1);
    assert_eq!(get(&endpoint, &id, "queue").await.1["size"], 4);

    let purged = http_json(Method::DELETE, &url, &[], "").await;
    assert_eq!(purged, (200, json!({})));
    assert_eq!(get(&endpoint, &id, "queue").await.1["size"], 0);
    registry.shutdown().within().await;
}

#[tokio::test]
async fn the_inspector_token_or_the_servers_is_required_when_configured() {
    const INSPECTOR: &str = "insp-7c1e";
    const SERVER: &str = "srv-93ab";
    let registry = Backend::memory().build(
        rivet_examples::registry()
            .inspector_token(INSPECTOR)
            .token(SERVER),
    );
    let (registry, endpoint) = serve(registry).await;
    let client = rivet_core::Client::builder(&endpoint)
        .token(SERVER)
        .build()
        .unwrap();
    let counter = client.get_or_create::<Counter>(["guarded"]);
    let id = counter.resolve().within().await.unwrap();
    let url = inspector(&endpoint, &id, "state");
    for (header, expected) in [
        (None, 401),
        (Some("Bearer wrong"), 401),
        (Some("insp-7c1e"), 401),
        (Some("Bearer insp-7c1e"), 200),
        (Some("Bearer srv-93ab"), 200),
    ] {
        let headers: Vec<(&str, &str)> = header.map(|h| ("authorization", h)).into_iter().collect();
        let (status, body) = http_json(Method::GET, &url, &headers, "").await;
        assert_eq!(status, expected, "{header:?}: {body}");
        if expected == 401 {
            assert_eq!(body, unauthorized(), "{header:?}");
        }
        assert!(!body.to_string().contains(INSPECTOR) && !body.to_string().contains(SERVER));
    }
    registry.shutdown().within().await;
}

#[tokio::test]
async fn without_a_token_a_server_beyond_loopback_refuses_the_inspector() {
    let registry = Backend::memory().build(rivet_examples::registry());
    let addr = registry.spawn_server("0.0.0.0:0").within().await.unwrap();
    let endpoint = format!("http://127.0.0.1:{}", addr.port());
    let counter = registry.client().get_or_create::<Counter>(["exposed"]);
    let id = counter.resolve().within().await.unwrap();
    let (status, body) = get(&endpoint, &id, "state").await;
    assert_eq!((status, body), (401, unauthorized()));
    // The rest of the server still answers.
    let action = format!("{endpoint}/gateway/{id}/action/getCount");
    let (status, _) = http_json(Method::POST, &action, &[], r#"{"args":[]}"#).await;
    assert_eq!(status, 200);
    registry.shutdown().within().await;
}

#[tokio::test]
async fn the_database_schema_rows_and_statements() {
    let backend = Backend::sqlite();
    let builder = || Registry::builder().with::<Ledger>().with::<Counter>();
    let (registry, endpoint) = serve(backend.build(builder())).await;
    let ledger = registry.client().get_or_create::<Ledger>(["inspected-db"]);
    ledger.add("rent".to_owned(), 500).within().await.unwrap();
    ledger.add("food".to_owned(), 70).within().await.unwrap();
    let id = ledger.resolve().within().await.unwrap();

    let (status, schema) = get(&endpoint, &id, "database/schema").await;
    assert_eq!(status, 200, "{schema}");
    let tables = schema["schema"]["tables"].as_array().expect("tables");
    assert_eq!(tables.len(), 1, "{schema}");
    assert_eq!(
        tables[0]["table"],
        json!({ "schema": "main", "name": "entry", "type": "table" })
    );
    assert_eq!(tables[0]["records"], 2);
    let columns: Vec<_> = tables[0]["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| c["name"].clone())
        .collect();
    assert_eq!(columns, [json!("id"), json!("memo"), json!("amount")]);

    let (_, rows) = get(&endpoint, &id, "database/rows?table=entry&limit=1&offset=1").await;
    assert_eq!(
        rows,
        json!({ "rows": [{ "id": 2, "memo": "food", "amount": 70 }] })
    );
    let missing = get(&endpoint, &id, "database/rows?table=nope").await;
    assert_eq!((missing.0, &missing.1["code"]), (400, &json!("sql_error")));

    // A statement runs as a turn: what it writes is committed before the answer.
    let execute = inspector(&endpoint, &id, "database/execute");
    let body = r#"{"sql":"INSERT INTO entry (memo, amount) VALUES (?, ?) RETURNING id","args":["tax",30]}"#;
    let inserted = http_json(Method::POST, &execute, &[], body).await;
    assert_eq!(inserted, (200, json!({ "rows": [{ "id": 3 }] })));
    let broken = http_json(Method::POST, &execute, &[], r#"{"sql":"SELEC 1"}"#).await;
    assert_eq!((broken.0, &broken.1["code"]), (400, &json!("sql_error")));

    let counter = registry.client().get_or_create::<Counter>(["no-db"]);
    let counter_id = counter.resolve().within().await.unwrap();
    let none = get(&endpoint, &counter_id, "database/schema").await;
    assert_eq!(none.1["code"], "not_configured", "{}", none.1);

    registry.shutdown().within().await;
    let registry = backend.build(builder());
    let ledger = registry.client().get_or_create::<Ledger>(["inspected-db"]);
    let memos: Vec<String> = ledger
        .entries()
        .within()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.memo)
        .collect();
    assert_eq!(memos, ["rent", "food", "tax"]);
    registry.shutdown().within().await;
}
