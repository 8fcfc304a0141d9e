//! The inspector API (`/gateway/{actor}/inspector/...`): an actor's state, connections,
//! actions and queue in RivetKit's JSON shapes, a state change committed like a turn, and who
//! may inspect (the bearer token, or nobody beyond loopback without one).

use futures_util::{SinkExt, StreamExt};
use reqwest::Method;
use rivet_core::Registry;
use rivet_examples::counter::Counter;
use rivet_tests::support::net::sample;
use rivet_tests::{Backend, Ledger, Sorter, Within, eventually, http_json, serve};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

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
    // Named parameters, as RivetKit's inspector sends them.
    let body =
        r#"{"sql":"SELECT memo FROM entry WHERE amount = :amount","properties":{"amount":30}}"#;
    let named = http_json(Method::POST, &execute, &[], body).await;
    assert_eq!(named, (200, json!({ "rows": [{ "memo": "tax" }] })));
    let body = r#"{"sql":"SELECT memo FROM entry WHERE amount = :amount","properties":{"nope":1}}"#;
    let unknown = http_json(Method::POST, &execute, &[], body).await;
    assert_eq!(
        (unknown.0, &unknown.1["code"]),
        (400, &json!("invalid_parameter")),
        "{}",
        unknown.1
    );
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

#[tokio::test]
async fn the_workflow_history_in_rivetkits_shape() {
    use rivet_examples::task_worker::{Task, TaskWorker};
    let (registry, endpoint) = serve(Backend::memory().build(rivet_examples::registry())).await;
    let worker = registry
        .client()
        .get_or_create::<TaskWorker>(["inspected-workflow"]);
    worker
        .send_tasks(Task { id: 1, amount: 2 })
        .wait(rivet_tests::PATIENCE)
        .within()
        .await
        .unwrap();
    let id = worker.resolve().within().await.unwrap();
    // The task's answer comes with its step; the loop moves on to its next iteration in a turn
    // of its own, after which the history settles.
    let reply = eventually(|| async {
        let (status, reply) = get(&endpoint, &id, "workflow-history").await;
        assert_eq!(status, 200, "{reply}");
        let entries = reply["history"]["entries"].as_array().map(Vec::len);
        (entries == Some(1)).then_some(reply)
    })
    .await;
    assert_eq!(reply["isWorkflowEnabled"], true);
    assert_eq!(reply["workflowState"], "running");
    // A finished iteration's entries are pruned: the loop, on its next iteration, is what is
    // recorded.
    let history = &reply["history"];
    assert_eq!(history["nameRegistry"], json!(["task-loop"]));
    let entries = history["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 1, "{reply}");
    assert_eq!(entries[0]["id"], "task-loop");
    assert_eq!(
        entries[0]["location"],
        json!([{ "tag": "WorkflowNameIndex", "val": 0 }])
    );
    assert_eq!(
        entries[0]["kind"],
        json!({ "tag": "WorkflowLoopEntry", "val": { "state": null, "iteration": 1, "output": null } })
    );
    let metadata = &history["entryMetadata"]["task-loop"];
    assert_eq!(metadata["status"], "RUNNING", "{metadata}");
    assert!(metadata["createdAt"].is_i64(), "{metadata}");

    let counter = registry.client().get_or_create::<Counter>(["no-workflow"]);
    let counter_id = counter.resolve().within().await.unwrap();
    let (_, none) = get(&endpoint, &counter_id, "workflow-history").await;
    assert_eq!(none["history"], Value::Null);
    assert_eq!(none["isWorkflowEnabled"], false);
    registry.shutdown().within().await;
}

/// The ids of the entries in a `workflow-history` or `workflow/replay` answer.
fn entry_ids(reply: &Value) -> Vec<String> {
    reply["history"]["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["id"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn a_finished_workflow_replays_from_a_step_or_from_its_start() {
    use rivet_examples::task_worker::TaskWorker;
    use rivet_tests::Replayed;
    let backend = Backend::sqlite();
    // Idle actors sleep soon: one replay below wakes its actor.
    let registry = backend.build(
        rivet_examples::registry()
            .with::<Replayed>()
            .sleep_timeout(std::time::Duration::from_millis(100)),
    );
    let mut events = registry.lifecycle_events();
    let (registry, endpoint) = serve(registry).await;
    let actor = registry.client().get_or_create::<Replayed>(["replay"]);
    let id = actor.resolve().within().await.unwrap();
    let replay = inspector(&endpoint, &id, "workflow/replay");
    let counts = |expected: (u32, u32)| {
        let actor = actor.clone();
        eventually(move || {
            let actor = actor.clone();
            async move { (actor.counts().await.ok()? == expected).then_some(()) }
        })
    };
    counts((1, 1)).await;
    // The run loop ends just after the workflow completes; until then a replay is refused.
    let answer = eventually(|| async {
        let (status, answer) = http_json(Method::POST, &replay, &[], r#"{"entryId":"two"}"#).await;
        match status {
            409 => {
                assert_eq!(answer["code"], "workflow_in_flight", "{answer}");
                None
            }
            _ => Some((status, answer)),
        }
    })
    .await;
    assert_eq!(answer.0, 200, "{}", answer.1);
    // What is left: the step before the replayed one. Only `two` runs again.
    assert_eq!(entry_ids(&answer.1), ["one"]);
    counts((1, 2)).await;

    let bad = http_json(Method::POST, &replay, &[], r#"{"entryId":"three"}"#).await;
    assert_eq!(bad.0, 400, "{}", bad.1);

    // From the start: every entry goes, and both steps run again.
    let answer = eventually(|| async {
        let (status, answer) = http_json(Method::POST, &replay, &[], "{}").await;
        (status != 409).then_some((status, answer))
    })
    .await;
    assert_eq!(answer.0, 200, "{}", answer.1);
    assert!(entry_ids(&answer.1).is_empty(), "{}", answer.1);
    counts((2, 3)).await;
    let completed = eventually(|| async { actor.completed().await.ok()?.then_some(()) });
    completed.await;

    // A sleeping actor whose workflow completed: the replay request wakes it, and is answered
    // once the woken run loop has found the workflow finished. (The server waits a second for
    // that; a machine too slow for it answers `workflow_in_flight`, and the test asks again.)
    let sleepy = registry
        .client()
        .get_or_create::<Replayed>(["replay-asleep"]);
    let sleepy_id = sleepy.resolve().within().await.unwrap();
    eventually(|| async { sleepy.completed().await.ok()?.then_some(()) }).await;
    rivet_tests::wait_for(&mut events, &sleepy_id, rivet_core::LifecycleKind::Slept).await;
    let url = inspector(&endpoint, &sleepy_id, "workflow/replay");
    let woken = eventually(|| async {
        let (status, answer) = http_json(Method::POST, &url, &[], r#"{"entryId":"two"}"#).await;
        (status != 409).then_some((status, answer))
    })
    .await;
    assert_eq!(woken.0, 200, "{}", woken.1);
    assert_eq!(entry_ids(&woken.1), ["one"]);
    eventually(|| async { (sleepy.counts().await.ok()? == (1, 2)).then_some(()) }).await;

    // A workflow that is waiting for its next message is in flight.
    let worker = registry.client().get_or_create::<TaskWorker>(["in-flight"]);
    let worker_id = worker.resolve().within().await.unwrap();
    let url = inspector(&endpoint, &worker_id, "workflow/replay");
    let refused = http_json(Method::POST, &url, &[], "{}").await;
    assert_eq!(refused.0, 409, "{}", refused.1);
    assert_eq!(refused.1["group"], "actor");
    assert_eq!(refused.1["code"], "workflow_in_flight");
    registry.shutdown().within().await;
}

#[tokio::test]
async fn metrics_count_turns_wakes_connections_queues_and_commits() {
    let backend = Backend::sqlite();
    let registry = backend.build(Registry::builder().with::<Counter>().with::<Sorter>());
    let (registry, endpoint) = serve(registry).await;
    let counter = registry.client().get_or_create::<Counter>(["measured"]);
    for _ in 0..3 {
        counter.increment(1).within().await.unwrap();
    }
    let refused = counter.fail_with("nope".to_owned()).within().await;
    assert!(refused.is_err());
    let conn = counter.connect().within().await.unwrap();
    assert_eq!(conn.get_count().within().await.unwrap(), 3);
    let sorter = registry
        .client()
        .get_or_create::<Sorter>(["measured-queue"]);
    for text in ["a", "b"] {
        sorter.send_later(text.to_owned()).within().await.unwrap();
    }
    // A call after the sends: the actor has reported its queue by then.
    sorter.sorted().within().await.unwrap();

    let response = rivet_tests::support::net::http()
        .get(format!("{endpoint}/metrics"))
        .send()
        .within()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let scrape = response.text().within().await.unwrap();
    let value = |name: &str| sample(&scrape, name).unwrap_or_else(|| panic!("{name} in\n{scrape}"));
    assert_eq!(value(r#"rivet_actors_awake{actor="counter"}"#), 1.0);
    assert_eq!(value(r#"rivet_actors_awake{actor="sorter"}"#), 1.0);
    assert_eq!(
        value(r#"rivet_actor_wake_seconds_count{actor="counter"}"#),
        1.0
    );
    // Three increments and the read on the connection (and on_connect-free connection set-up).
    assert!(value(r#"rivet_turns_total{actor="counter",outcome="ok"}"#) >= 4.0);
    assert_eq!(
        value(r#"rivet_turns_total{actor="counter",outcome="refused"}"#),
        1.0
    );
    assert_eq!(value(r#"rivet_turn_errors_total{code="user.nope"}"#), 1.0);
    assert_eq!(value(r#"rivet_connections{actor="counter"}"#), 1.0);
    assert_eq!(value(r#"rivet_queue_messages{actor="sorter"}"#), 2.0);
    // Each increment and each queued message committed a batch.
    assert!(value("rivet_commit_seconds_count") >= 5.0);
    assert!(value("rivet_commit_batch_operations_count") >= 5.0);
    conn.disconnect();
    registry.shutdown().within().await;
}

#[tokio::test]
async fn metrics_count_sleeping_actors_from_storage() {
    let backend = Backend::sqlite();
    let registry = backend.build(
        Registry::builder()
            .with::<Counter>()
            .sleep_timeout(std::time::Duration::from_millis(50)),
    );
    let mut events = registry.lifecycle_events();
    let (registry, endpoint) = serve(registry).await;
    // One stays awake (its connection holds it); the other sleeps once idle.
    let awake = registry.client().get_or_create::<Counter>(["kept-awake"]);
    let conn = awake.connect().within().await.unwrap();
    assert_eq!(conn.increment(1).within().await.unwrap(), 1);
    let sleepy = registry
        .client()
        .get_or_create::<Counter>(["left-to-sleep"]);
    sleepy.increment(1).within().await.unwrap();
    let sleepy_id = sleepy.resolve().within().await.unwrap();
    rivet_tests::wait_for(&mut events, &sleepy_id, rivet_core::LifecycleKind::Slept).await;

    let scrape = rivet_tests::support::net::http()
        .get(format!("{endpoint}/metrics"))
        .send()
        .within()
        .await
        .unwrap()
        .text()
        .within()
        .await
        .unwrap();
    let value = |name: &str| sample(&scrape, name).unwrap_or_else(|| panic!("{name} in\n{scrape}"));
    assert_eq!(value(r#"rivet_actors_awake{actor="counter"}"#), 1.0);
    assert_eq!(value(r#"rivet_actors_asleep{actor="counter"}"#), 1.0);
    conn.disconnect();
    registry.shutdown().within().await;
}

/// The spans of an inspector `traces` answer.
fn spans(traces: &Value) -> Vec<Value> {
    traces["otlp"]["resourceSpans"][0]["scopeSpans"][0]["spans"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn traces_hold_each_turn_and_its_commit_under_the_callers_trace() {
    let backend = Backend::sqlite();
    let registry = backend.build(rivet_examples::registry());
    let (registry, endpoint) = serve(registry).await;
    let counter = registry.client().get_or_create::<Counter>(["traced"]);
    let id = counter.resolve().within().await.unwrap();

    // A call with a W3C `traceparent` continues the caller's trace.
    let caller = ("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331");
    let traceparent = format!("00-{}-{}-01", caller.0, caller.1);
    let url = format!("{endpoint}/gateway/{id}/action/increment");
    let headers = [("traceparent", traceparent.as_str())];
    let answer = http_json(Method::POST, &url, &headers, r#"{"args":[3]}"#).await;
    assert_eq!(answer, (200, json!({ "output": 3 })));
    assert_eq!(counter.get_count().within().await.unwrap(), 3);

    let (status, traces) = get(&endpoint, &id, "traces").await;
    assert_eq!(status, 200, "{traces}");
    assert_eq!(traces["clamped"], false);
    let resource = &traces["otlp"]["resourceSpans"][0]["resource"]["attributes"];
    assert!(
        resource.as_array().is_some_and(
            |a| a.contains(&json!({ "key": "actor.id", "value": { "stringValue": id } }))
        ),
        "{resource}"
    );
    let listed = spans(&traces);
    let named = |name: &str| {
        listed
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("no span `{name}` in {listed:#?}"))
            .clone()
    };
    let write = named("action increment");
    assert_eq!(write["traceId"], caller.0);
    assert_eq!(write["parentSpanId"], caller.1);
    assert_eq!(write["status"]["code"], 1);
    // The write's commit is its child; the read committed nothing, and started its own trace.
    let commits: Vec<_> = listed
        .iter()
        .filter(|s| s["name"] == "commit" && s["parentSpanId"] == write["spanId"])
        .collect();
    assert_eq!(commits.len(), 1, "{listed:#?}");
    assert_eq!(commits[0]["traceId"], caller.0);
    let read = named("action getCount");
    assert!(read.get("parentSpanId").is_none(), "{read}");
    assert_ne!(read["traceId"], caller.0);
    assert!(
        !listed.iter().any(|s| s["parentSpanId"] == read["spanId"]),
        "a read has no commit"
    );

    // A WebSocket's actions continue the trace of its upgrade request.
    let ws_caller = "1af7651916cd43dd8448eb211c80319c";
    let mut request = format!(
        "{}/gateway/{id}/connect",
        endpoint.replace("http://", "ws://")
    )
    .into_client_request()
    .expect("request");
    let headers = request.headers_mut();
    headers.insert(
        "sec-websocket-protocol",
        "rivet, rivet_encoding.json".parse().expect("header"),
    );
    let parent = format!("00-{ws_caller}-c7ad6b7169203331-00");
    headers.insert("traceparent", parent.parse().expect("header"));
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .within()
        .await
        .expect("upgrade");
    let call = r#"{"body":{"tag":"ActionRequest","val":{"id":["$BigInt","0"],"name":"increment","args":[2]}}}"#;
    socket
        .send(Message::text(call))
        .within()
        .await
        .expect("send");
    loop {
        match socket.next().within().await {
            Some(Ok(Message::Text(text))) if text.contains("ActionResponse") => break,
            Some(Ok(_)) => {}
            other => panic!("expected the action's response, got {other:?}"),
        }
    }
    drop(socket);
    let (_, traces) = get(&endpoint, &id, "traces").await;
    assert!(
        spans(&traces)
            .iter()
            .any(|s| s["name"] == "action increment" && s["traceId"] == ws_caller),
        "{traces}"
    );

    // A refused turn says why.
    let bad = http_json(Method::POST, &url, &[], r#"{"args":["three"]}"#).await;
    assert_eq!(bad.0, 400, "{}", bad.1);
    let (_, traces) = get(&endpoint, &id, "traces").await;
    let refused = spans(&traces)
        .into_iter()
        .rfind(|s| s["name"] == "action increment")
        .expect("the refused turn");
    assert_eq!(refused["status"]["code"], 2, "{refused}");

    // `limit` clamps; a window before every span holds none.
    let (_, first) = get(&endpoint, &id, "traces?limit=1").await;
    assert_eq!((spans(&first).len(), &first["clamped"]), (1, &json!(true)));
    let (_, early) = get(&endpoint, &id, "traces?startMs=0&endMs=1").await;
    assert_eq!((spans(&early).len(), &early["clamped"]), (0, &json!(false)));
    registry.shutdown().within().await;
}
