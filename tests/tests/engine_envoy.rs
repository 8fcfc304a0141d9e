//! Runner mode against the real Rivet Engine (pinned in `tests/engine/package-lock.json`:
//! `@rivetkit/engine-cli@2.3.19`, installed by the test): the engine's version check, the
//! pool's runner config, and an envoy connection that the engine greets with `Init`, whose
//! announced actor names it records, and which it keeps alive with pings the envoy answers,
//! until another connection under the same envoy key replaces it; an actor created through the
//! engine's API is started on the envoy, which acks the command and reports it running (the
//! ledger's numbering), after which the engine marks it connectable.

use rivet_core::codes;
use rivet_core::envoy::Envoy;
use rivet_core::envoy::connect::{
    EngineEndpoint, EnvoyError, EnvoySocket, check_engine, register_pool,
};
use rivet_core::envoy::ledger::Ledger;
use rivet_core::envoy::protocol::{ToEnvoy, ToRivet};
use rivet_core::prelude::Client;
use rivet_envoy_protocol as p;
use rivet_examples::counter::Counter;
use rivet_tests::support::engine::{Cluster, Engine};
use rivet_tests::support::node::check_node;
use std::time::Duration;

use rivet_core::{LifecycleEvent, LifecycleKind};
use rivet_tests::support::net::{check_lobby_socket, query_url};
use rivet_tests::{KvOutcome, KvStep, Lobby, Store, Timer, Within, eventually, fired};

/// Reads the engine's next message, which must be a `Ping` (nothing else is due to an envoy
/// without actors), answers it, and returns its timestamp.
async fn answer_ping(envoy: &mut EnvoySocket) -> i64 {
    let ToEnvoy::ToEnvoyPing(ping) = envoy.next().within().await.expect("a message") else {
        panic!("the engine sent something other than a ping to an envoy without actors");
    };
    envoy
        .send(&ToRivet::ToRivetPong(p::ToRivetPong { ts: ping.ts }))
        .within()
        .await
        .expect("pong");
    ping.ts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_envoy_connects_to_the_pinned_engine_and_stays_connected() {
    check_node().await;
    let engine = Engine::start().await;
    let http = rivet_tests::support::net::http();
    let endpoint = EngineEndpoint::new(&engine.endpoint).pool("rust-test");
    assert_eq!(
        check_engine(&http, &endpoint).within().await.expect("v8"),
        "2.3.19"
    );
    register_pool(&http, &endpoint)
        .within()
        .await
        .expect("runner config");

    let mut envoy = EnvoySocket::open(&endpoint, "envoy-test-a", 1, &["counter"])
        .within()
        .await
        .expect("connected");
    assert!(envoy.init.envoy_lost_threshold > 0, "{:?}", envoy.init);
    assert!(envoy.init.max_response_payload_size > 0, "{:?}", envoy.init);
    // The actor names of the envoy's first message reach the engine's catalogue (which the
    // engine updates after its Init: ask until they are there).
    let names_url = format!("{}/actors/names?namespace=default", engine.endpoint);
    eventually(|| {
        let request = http.get(&names_url).send();
        async move {
            let body = request.await.ok()?.bytes().await.ok()?;
            let body: serde_json::Value = serde_json::from_slice(&body).ok()?;
            body["names"].get("counter").map(|_| ())
        }
    })
    .await;
    // Two pings in a row, the second after the first was answered: the engine keeps the envoy.
    let first = answer_ping(&mut envoy).await;
    let second = answer_ping(&mut envoy).await;
    assert!(second > first, "{first} then {second}");

    // A second connection under the same key replaces the first, which the engine closes.
    let _replacement = EnvoySocket::open(&endpoint, "envoy-test-a", 1, &["counter"])
        .within()
        .await
        .expect("connected again");
    loop {
        match envoy.next().within().await {
            Ok(ToEnvoy::ToEnvoyPing(_)) => {}
            Err(EnvoyError::Closed(_) | EnvoyError::Socket(_)) => break,
            other => panic!("the replaced envoy got {other:?}"),
        }
    }
}

/// Creates an actor of `name` in `pool` through the engine's API; returns the engine's answer.
async fn create_actor(http: &reqwest::Client, engine: &Engine, name: &str, pool: &str) -> String {
    let body = serde_json::json!({
        "name": name,
        "key": "ledger-key",
        "runner_name_selector": pool,
        "crash_policy": "sleep",
    });
    let response = http
        .post(format!("{}/actors?namespace=default", engine.endpoint))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .within()
        .await
        .expect("create");
    let status = response.status();
    let text = response.text().within().await.expect("body");
    assert!(status.is_success(), "{status}: {text}");
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_starts_an_actor_on_the_envoy_which_reports_it_running() {
    check_node().await;
    let engine = Engine::start().await;
    let http = rivet_tests::support::net::http();
    let endpoint = EngineEndpoint::new(&engine.endpoint).pool("rust-ledger");
    register_pool(&http, &endpoint)
        .within()
        .await
        .expect("runner config");
    let mut envoy = EnvoySocket::open(&endpoint, "envoy-ledger", 1, &["counter"])
        .within()
        .await
        .expect("connected");
    let mut ledger = Ledger::default();
    let created = create_actor(&http, &engine, "counter", "rust-ledger").await;
    // The engine sends StartActor (its command indexes start at 1); the envoy acks it and
    // reports the actor Running as its generation's event 0.
    let (actor_id, generation) = loop {
        match envoy.next().within().await.expect("a message") {
            ToEnvoy::ToEnvoyPing(ping) => envoy
                .send(&ToRivet::ToRivetPong(p::ToRivetPong { ts: ping.ts }))
                .within()
                .await
                .expect("pong"),
            ToEnvoy::ToEnvoyCommands(commands) => {
                let [command] = &commands[..] else {
                    panic!("{commands:?}");
                };
                assert!(ledger.take_command(command));
                let p::Command::CommandStartActor(start) = &command.inner else {
                    panic!("{command:?}");
                };
                assert_eq!(&*start.config.name, "counter");
                assert_eq!(start.config.key.as_deref(), Some("ledger-key"));
                let c = &command.checkpoint;
                break (c.actor_id.to_string(), c.generation);
            }
            other => panic!("unexpected {other:?}"),
        }
    };
    assert!(created.contains(&actor_id), "{created}");
    let acks = ledger.command_acks().expect("an ack");
    envoy
        .send(&ToRivet::ToRivetAckCommands(acks))
        .within()
        .await
        .expect("ack");
    let running = ledger.event(
        &actor_id,
        generation,
        p::Event::EventActorStateUpdate(p::EventActorStateUpdate {
            state: p::ActorState::ActorStateRunning,
        }),
    );
    assert_eq!(running.checkpoint.index, 0);
    envoy
        .send(&ToRivet::ToRivetEvents(vec![running]))
        .within()
        .await
        .expect("events");
    // The engine now routes to the actor: its record shows when it became connectable.
    let url = format!(
        "{}/actors?namespace=default&actor_ids={actor_id}",
        engine.endpoint
    );
    eventually(|| {
        let request = http.get(&url).send();
        async move {
            let body = request.await.ok()?.bytes().await.ok()?;
            let body: serde_json::Value = serde_json::from_slice(&body).ok()?;
            body["actors"][0]["connectable_ts"].as_i64()
        }
    })
    .await;
}

/// Steps for the `store` actor and what they return, on any correct storage.
fn kv_script() -> (Vec<KvStep>, Vec<KvOutcome>) {
    let s = |v: &str| v.to_owned();
    let entries = |pairs: &[(&str, &str)]| {
        KvOutcome::Entries(pairs.iter().map(|(k, v)| (s(k), s(v))).collect())
    };
    let steps = vec![
        KvStep::Put(s("a/1"), s("one")),
        KvStep::Put(s("a/2"), s("two")),
        KvStep::Put(s("a/3"), s("three")),
        KvStep::Put(s("b"), s("bee")),
        KvStep::Delete(s("a/2")),
        KvStep::Get(s("a/1")),
        KvStep::Get(s("a/2")),
        KvStep::List(s("a/"), None, false),
        KvStep::List(s("a/"), Some(1), true),
        KvStep::ListRange(s("a/1"), s("b"), None, false),
    ];
    let outcomes = vec![
        KvOutcome::Done,
        KvOutcome::Done,
        KvOutcome::Done,
        KvOutcome::Done,
        KvOutcome::Done,
        KvOutcome::Value(Some(s("one"))),
        KvOutcome::Value(None),
        entries(&[("a/1", "one"), ("a/3", "three")]),
        entries(&[("a/3", "three")]),
        entries(&[("a/1", "one"), ("a/3", "three")]),
    ];
    (steps, outcomes)
}

/// The same steps after a restart read what the first turn committed.
fn kv_reads() -> Vec<KvStep> {
    vec![
        KvStep::List(String::new(), None, false),
        KvStep::ListRange("a/2".to_owned(), "a/9".to_owned(), None, true),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actors_run_on_the_engine_keep_their_storage_in_its_kv_and_move_on_shutdown() {
    check_node().await;
    let engine = Engine::start().await;
    let start = || engine.envoy(rivet_examples::registry().with::<Store>());
    let first = start().await;
    let client = Client::new(engine.endpoint.clone());
    // Through the engine's gateway: the engine creates the actor, starts it on the envoy and
    // tunnels the calls to it.
    let counter = client.get_or_create::<Counter>(["engine"]);
    assert_eq!(counter.increment(5).within().await.expect("increment"), 5);
    assert_eq!(counter.increment(2).within().await.expect("increment"), 7);
    // A connection: its WebSocket tunnelled frame by frame, actions and events in order.
    let conn = client
        .get_or_create::<Counter>(["engine-ws"])
        .connect()
        .within()
        .await
        .expect("connects");
    let (tx, mut counts) = tokio::sync::mpsc::unbounded_channel();
    conn.on_new_count(move |n| {
        let _ = tx.send(n);
    });
    for amount in [1, 2, 3] {
        conn.increment(amount).within().await.expect("increment");
    }
    for expected in [1, 3, 6] {
        assert_eq!(counts.recv().within().await, Some(expected));
    }
    let store = client.get_or_create::<Store>(["engine"]);
    let (steps, outcomes) = kv_script();
    assert_eq!(
        store.script(steps, false).within().await.expect("script"),
        outcomes
    );
    store.put_many(120).within().await.expect("put_many");
    // A turn that fails writes nothing.
    let error = store
        .script(vec![KvStep::Put("a/9".to_owned(), "nine".to_owned())], true)
        .within()
        .await
        .expect_err("fails");
    assert_eq!(error.full_code(), "user.failed", "{error}");

    // A second envoy joins; the first stops: the engine moves the actors to the second, where
    // they wake from the engine's KV.
    let second = start().await;
    first.shutdown().within().await;
    assert_eq!(counter.get_count().within().await.expect("count"), 7);
    let read = store
        .script(kv_reads(), false)
        .within()
        .await
        .expect("reads");
    let KvOutcome::Entries(all) = &read[0] else {
        panic!("{read:?}");
    };
    assert_eq!(all.len(), 2 + 1 + 120, "{:?}", &all[..5.min(all.len())]);
    assert_eq!(
        read[1],
        KvOutcome::Entries(vec![("a/3".to_owned(), "three".to_owned())])
    );
    // The connection follows its actor: the client reconnects after the close that moved it
    // (an action sent before it saw the close fails with it).
    let mut attempts = 0;
    loop {
        attempts += 1;
        match conn.increment(4).within().await {
            Ok(count) => break assert_eq!(count, 10),
            Err(error)
                if attempts < 3
                    && (error.is(codes::GOING_AWAY) || error.is(codes::CONNECTION_CLOSED)) => {}
            Err(error) => panic!("attempt {attempts}: {error}"),
        }
    }
    assert_eq!(counts.recv().within().await, Some(10));
    assert_eq!(second.registry().awake_count(), 3);
    drop(conn);
    second.shutdown().within().await;
}

/// Logs to the test's output at the level `RUST_LOG` names (none by default), to debug a test.
fn log_to_test_output() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "off".into()))
        .with_test_writer()
        .try_init();
}

/// The engine's record of an actor.
async fn engine_actor(http: &reqwest::Client, engine: &Engine, id: &str) -> serde_json::Value {
    let url = format!(
        "{}/actors?namespace=default&actor_ids={id}",
        engine.endpoint
    );
    let body = http
        .get(url)
        .send()
        .within()
        .await
        .expect("actors")
        .bytes()
        .within()
        .await
        .expect("body");
    let body: serde_json::Value = serde_json::from_slice(&body).expect("json");
    body["actors"][0].clone()
}

/// The next lifecycle event of `kind`, skipping others.
async fn next_event(
    events: &mut tokio::sync::broadcast::Receiver<LifecycleEvent>,
    kind: LifecycleKind,
) -> LifecycleEvent {
    loop {
        let event = events.recv().within().await.expect("an event");
        if event.kind == kind {
            return event;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_actor_sleeps_through_the_engine_and_wakes_from_its_kv() {
    check_node().await;
    let engine = Engine::start().await;
    let builder = rivet_examples::registry().sleep_timeout(Duration::from_millis(200));
    let envoy = engine.envoy(builder).await;
    let mut events = envoy.registry().lifecycle_events();
    let client = Client::new(engine.endpoint.clone());
    let counter = client.get_or_create::<Counter>(["sleepy"]);
    assert_eq!(counter.increment(3).within().await.expect("increment"), 3);
    let id = next_event(&mut events, LifecycleKind::Woke).await.actor_id;
    assert_eq!(
        next_event(&mut events, LifecycleKind::Slept).await.actor_id,
        id
    );
    // The envoy told the engine, which records the actor as sleeping (not destroyed).
    let http = rivet_tests::support::net::http();
    eventually(|| {
        let actor = engine_actor(&http, &engine, &id);
        async move {
            let actor = actor.await;
            assert!(actor["destroy_ts"].is_null(), "{actor}");
            actor["sleep_ts"].as_i64()
        }
    })
    .await;
    // A call wakes it through the engine, from what it stored.
    assert_eq!(counter.get_count().within().await.expect("count"), 3);
    assert_eq!(
        next_event(&mut events, LifecycleKind::Woke).await.actor_id,
        id
    );
    envoy.shutdown().within().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_of_a_sleeping_actor_is_the_engines_alarm() {
    check_node().await;
    let engine = Engine::start().await;
    let builder = rivet_examples::registry()
        .with::<Timer>()
        .sleep_timeout(Duration::from_millis(200));
    let envoy = engine.envoy(builder).await;
    let mut events = envoy.registry().lifecycle_events();
    let client = Client::new(engine.endpoint.clone());
    let timer = client.get_or_create::<Timer>(["alarm"]);
    let fired = fired("engine alarm");
    timer
        .remind("engine alarm".to_owned(), 3_000)
        .within()
        .await
        .expect("remind");
    // The actor sleeps with its schedule pending, which becomes the engine's alarm; nothing
    // calls the actor after this, so only that alarm can wake it.
    let id = next_event(&mut events, LifecycleKind::Slept).await.actor_id;
    assert_eq!(
        fired.available_permits(),
        0,
        "the schedule ran before the actor slept: this machine took over 3 s to sleep it"
    );
    assert_eq!(
        next_event(&mut events, LifecycleKind::Woke).await.actor_id,
        id
    );
    fired.acquire().within().await.expect("open").forget();
    let log = timer.log().within().await.expect("log");
    assert_eq!(log, ["engine alarm"]);
    envoy.shutdown().within().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_restart_leaves_the_envoy_up_and_its_actors_reachable() {
    log_to_test_output();
    check_node().await;
    let mut engine = Engine::start().await;
    let envoy = engine.envoy(rivet_examples::registry()).await;
    let client = Client::new(engine.endpoint.clone());
    let counter = client.get_or_create::<Counter>(["engine-restart"]);
    assert_eq!(counter.increment(2).within().await.expect("increment"), 2);

    engine.restart().await;
    // The envoy reconnects by itself (dropping its actors, which never wrote after the loss);
    // the engine starts the actor again from its KV. Calls fail until then.
    let restarted = std::time::Instant::now();
    eventually(|| {
        let call = counter.get_count();
        async move { call.await.ok() }
    })
    .await;
    eprintln!(
        "the actor answered again {:?} after the restart",
        restarted.elapsed()
    );
    let count = counter.increment(3).within().await.expect("increment");
    assert_eq!(count, 5);
    envoy.shutdown().within().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_engine_nodes_on_postgres_and_nats_serve_an_actor_through_either_gateway() {
    check_node().await;
    let cluster = Cluster::start().await;
    let (one, two) = (&cluster.nodes[0].endpoint, &cluster.nodes[1].endpoint);
    let first = cluster.nodes[0].envoy(rivet_examples::registry()).await;
    // Created through node 2's gateway, placed on the only envoy, which node 1 holds.
    let via_two = Client::new(two.clone());
    let via_one = Client::new(one.clone());
    let counter = via_two.get_or_create::<Counter>(["cluster"]);
    assert_eq!(counter.increment(4).within().await.expect("via node 2"), 4);
    let same = via_one.get_or_create::<Counter>(["cluster"]);
    assert_eq!(same.get_count().within().await.expect("via node 1"), 4);
    assert_eq!(first.registry().awake_count(), 1);

    // An envoy on node 2 joins and the first leaves: the actor moves across the nodes, and
    // node 1's gateway reaches it there.
    let second = cluster.nodes[1].envoy(rivet_examples::registry()).await;
    first.shutdown().within().await;
    assert_eq!(same.increment(1).within().await.expect("via node 1"), 5);
    assert_eq!(second.registry().awake_count(), 1);
    second.shutdown().within().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_serverless_pool_starts_actors_through_the_apps_start_route() {
    log_to_test_output();
    check_node().await;
    let engine = Engine::start().await;
    let registry = Envoy::serverless(rivet_examples::registry()).expect("registry");
    let addr = registry
        .spawn_server("127.0.0.1:0")
        .within()
        .await
        .expect("serve");
    let app = format!("http://{addr}");
    let http = rivet_tests::support::net::http();
    let metadata = http
        .get(format!("{app}/metadata"))
        .send()
        .within()
        .await
        .expect("metadata")
        .bytes()
        .within()
        .await
        .expect("body");
    let metadata: serde_json::Value = serde_json::from_slice(&metadata).expect("json");
    assert_eq!(
        metadata["envoy"]["kind"],
        serde_json::json!({ "serverless": {} })
    );
    assert_eq!(metadata["envoyProtocolVersion"], 8);
    // A start without the engine's headers is refused, naming the first one missing.
    let refused = http
        .post(format!("{app}/start"))
        .send()
        .within()
        .await
        .expect("start");
    assert_eq!(refused.status(), 400);
    let body = refused.text().within().await.expect("body");
    assert!(
        body.contains("x-rivet-endpoint header is required"),
        "{body}"
    );

    // The pool's runner config points the engine at the app.
    let config = serde_json::json!({ "datacenters": { "default": { "serverless": {
        "url": app,
        "headers": {},
        "request_lifespan": 3600,
        "metadata_poll_interval": 1000,
        "max_runners": 10,
        "min_runners": 0,
        "runners_margin": 0,
        "slots_per_runner": 1,
    } } } });
    let response = http
        .put(format!(
            "{}/runner-configs/serverless?namespace=default",
            engine.endpoint
        ))
        .header("content-type", "application/json")
        .body(config.to_string())
        .send()
        .within()
        .await
        .expect("runner config");
    let status = response.status();
    assert!(status.is_success(), "{status}: {:?}", response.text().await);

    // A client of that pool: the engine calls the app's /start, whose envoy runs the actor.
    let client = Client::builder(engine.endpoint.clone())
        .pool("serverless")
        .build()
        .expect("client");
    let counter = client.get_or_create::<Counter>(["serverless"]);
    assert_eq!(counter.increment(2).within().await.expect("increment"), 2);
    assert_eq!(counter.increment(3).within().await.expect("increment"), 5);
    assert_eq!(registry.awake_count(), 1);

    // The engine reads each actor name's `preload` from the app's `/metadata` (polled every
    // second here) and preloads that part of an actor's KV into the `/start` it sends; the
    // actor's reads are then answered from it, without a round trip.
    assert!(
        metadata["actorNames"]["counter"]["metadata"]["preload"]["prefixes"].is_array(),
        "{metadata}"
    );
    let names = format!("{}/actors/names?namespace=default", engine.endpoint);
    eventually(|| {
        let request = http.get(&names).send();
        async move {
            let text = request.await.ok()?.text().await.ok()?;
            text.contains("\"preload\"").then_some(())
        }
    })
    .await;
    let preloaded = client.get_or_create::<Counter>(["serverless-preloaded"]);
    assert_eq!(preloaded.increment(7).within().await.expect("increment"), 7);
    let scrape = http
        .get(format!("{app}/metrics"))
        .send()
        .within()
        .await
        .expect("metrics")
        .text()
        .within()
        .await
        .expect("metrics body");
    let reads = rivet_tests::support::net::sample(&scrape, "rivet_engine_kv_preloaded_reads_total")
        .unwrap_or_else(|| panic!("no preloaded reads metric in\n{scrape}"));
    assert!(
        reads > 0.0,
        "no read came from the engine's preload:\n{scrape}"
    );
    registry.shutdown().within().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_requests_raw_sockets_and_destroy_go_through_the_engine() {
    check_node().await;
    let engine = Engine::start().await;
    let builder = rivet_examples::registry().with::<Lobby>().with::<Store>();
    let envoy = engine.envoy(builder).await;
    // `#[on_request]`, through the engine's query gateway and tunnel.
    let url = query_url(
        &engine.endpoint,
        "lobby",
        "raw",
        "getOrCreate",
        "/request/hello",
    )
    .replace('?', "?x=1&");
    let reply = rivet_tests::support::net::http()
        .put(url)
        .body("body!")
        .send()
        .within()
        .await
        .expect("request");
    assert_eq!(reply.status().as_u16(), 201);
    assert_eq!(
        reply.headers().get("x-lobby").and_then(|v| v.to_str().ok()),
        Some("yes")
    );
    assert_eq!(
        reply.text().within().await.expect("body"),
        "PUT /hello?x=1 body!"
    );
    // `#[on_websocket]`: frames both ways and the actor's close.
    let url = query_url(
        &engine.endpoint,
        "lobby",
        "raw",
        "getOrCreate",
        "/websocket/chat",
    )
    .replace("http://", "ws://");
    // The engine's gateway always answers with the `rivet` subprotocol, which the official
    // client offers.
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url)
            .expect("request");
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "rivet".parse().expect("header"));
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .within()
        .await
        .expect("upgrade");
    check_lobby_socket(&mut socket, "/chat").await;

    // `cx.destroy()` destroys the actor in the engine, and its KV with it: the same key then
    // names a new actor.
    let client = Client::new(engine.endpoint.clone());
    let store = client.get_or_create::<Store>(["doomed"]);
    store
        .script(vec![KvStep::Put("k".to_owned(), "v".to_owned())], false)
        .within()
        .await
        .expect("put");
    let id = store.resolve().within().await.expect("id");
    store.destroy_me().within().await.expect("destroy");
    let http = rivet_tests::support::net::http();
    eventually(|| {
        let actor = engine_actor(&http, &engine, &id);
        async move { actor.await["destroy_ts"].as_i64() }
    })
    .await;
    let again = client.get_or_create::<Store>(["doomed"]);
    let read = again
        .script(vec![KvStep::Get("k".to_owned())], false)
        .within()
        .await
        .expect("get");
    assert_eq!(read, [KvOutcome::Value(None)]);
    assert_ne!(again.resolve().within().await.expect("id"), id);
    envoy.shutdown().within().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_envoy_and_a_client_reach_the_engine_over_tls() {
    use rivet_tests::support::process::ServerProcess;
    use rivet_tests::support::tls::tls_proxy;

    check_node().await;
    let engine = Engine::start().await;
    // The engine behind TLS, as Rivet Cloud serves it: `https://localhost:<port>`, with a
    // certificate of the test's own CA.
    let target = engine
        .endpoint
        .trim_start_matches("http://")
        .parse()
        .expect("the engine's address");
    let proxy = tls_proxy(target).await;

    // An envoy process that trusts the CA through `SSL_CERT_FILE` (the system roots'
    // variable): its HTTPS calls and its WSS socket both go through the proxy.
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_envoy_server"));
    command
        .env("RIVET_ENDPOINT", &proxy.url)
        .env("SSL_CERT_FILE", &proxy.ca_file);
    let (mut envoy, key) = ServerProcess::spawn_announced(command).await;
    assert!(key.starts_with("rivet-rust-"), "{key}");

    // A client given the CA: actions over HTTPS, a connection over WSS with its events.
    let client = Client::builder(&proxy.url)
        .root_certificates_pem(&proxy.ca_pem)
        .build()
        .expect("client");
    let counter = client.get_or_create::<Counter>(["tls"]);
    assert_eq!(counter.increment(2).within().await.expect("increment"), 2);
    let conn = counter.connect().within().await.expect("connect");
    let (tx, mut counts) = tokio::sync::mpsc::unbounded_channel();
    conn.on_new_count(move |n| {
        let _ = tx.send(n);
    });
    assert_eq!(conn.increment(3).within().await.expect("increment"), 5);
    assert_eq!(counts.recv().within().await, Some(5));
    conn.disconnect();

    // A client without the CA refuses the proxy's certificate.
    let stranger = Client::new(proxy.url.clone());
    let refused = stranger
        .get_or_create::<Counter>(["tls"])
        .get_count()
        .within()
        .await
        .expect_err("an unknown CA");
    assert!(
        refused.message.to_lowercase().contains("certificate")
            || format!("{refused:?}")
                .to_lowercase()
                .contains("certificate"),
        "{refused:?}"
    );
    assert!(envoy.terminate().await, "the envoy stops cleanly");
}
