//! Over the network with `rivet-client`: actions, errors, creation and compound keys, in every
//! encoding.

use rivet_core::client::Encoding;
use rivet_core::{Client, codes};
use rivet_examples::chat_room::ChatRoom;
use rivet_examples::counter::Counter;
use rivet_examples::worker::{Job, Worker};
use rivet_tests::{
    ENCODINGS, PATIENCE, Probe, ProbeInput, Within, network_client, recv, serve_memory,
};

#[tokio::test]
async fn actions_and_user_errors_in_every_encoding() {
    let (registry, endpoint) = serve_memory().await;
    for encoding in ENCODINGS {
        let client = network_client(&endpoint, encoding);
        let counter = client.get_or_create::<Counter>(["net", encoding.as_str()]);
        assert_eq!(
            counter.increment(5).within().await.unwrap(),
            5,
            "{encoding:?}"
        );
        assert_eq!(counter.get_count().within().await.unwrap(), 5);
        let err = counter
            .fail_with("nope".to_owned())
            .within()
            .await
            .unwrap_err();
        assert_eq!(
            (err.group.as_str(), err.code.as_str()),
            ("user", "nope"),
            "{encoding:?}"
        );
        assert_eq!(
            err.metadata,
            Some(serde_json::json!({"code": "nope", "count": 5}))
        );
        let err = counter
            .handle()
            .action::<_, i64>("nothing", &[0u8; 0])
            .within()
            .await
            .unwrap_err();
        assert!(err.is(codes::ACTION_NOT_FOUND), "{encoding:?}: {err}");
        let err = counter
            .handle()
            .action::<_, i64>("increment", &("x",))
            .within()
            .await
            .unwrap_err();
        assert!(err.is(codes::VALIDATION_ERROR), "{encoding:?}: {err}");
        assert_eq!(counter.get_count().within().await.unwrap(), 5);
    }
    registry.shutdown().within().await;
}

#[tokio::test]
async fn create_get_resolve_and_get_for_id() {
    let (registry, endpoint) = serve_memory().await;
    for encoding in ENCODINGS {
        let client = network_client(&endpoint, encoding);
        let key = ["net-created", encoding.as_str()];
        let probe = client
            .create_with_input::<Probe>(key, &Some(ProbeInput { start: 7 }))
            .within()
            .await
            .unwrap();
        assert_eq!(probe.snapshot().within().await.unwrap().value, 7);
        let err = client.create::<Probe>(key).within().await.unwrap_err();
        assert!(err.is(codes::DUPLICATE_KEY), "{err}");
        let id = client.get::<Probe>(key).resolve().within().await.unwrap();
        assert_eq!(
            client
                .get_for_id::<Probe>(id.clone())
                .snapshot()
                .within()
                .await
                .unwrap()
                .value,
            7
        );
        let err = client
            .get::<Probe>(["missing", encoding.as_str()])
            .snapshot()
            .within()
            .await
            .unwrap_err();
        assert!(err.is(codes::ACTOR_NOT_FOUND), "{err}");
        // Actor ids are global on the wire (`/gateway/{id}`, as in RivetKit), so a handle of the
        // wrong type reaches the actor and finds no such action.
        let err = client
            .get_for_id::<Counter>(id)
            .get_count()
            .within()
            .await
            .unwrap_err();
        assert!(
            err.is(codes::ACTION_NOT_FOUND),
            "an id of another type: {err}"
        );
        let err = client
            .create_with_input::<Probe>(["neg", encoding.as_str()], &Some(ProbeInput { start: -3 }))
            .within()
            .await
            .unwrap_err();
        assert_eq!(err.code, "negative_start");
        // get-or-create with input, through the query gateway (input in `rvt-input`).
        let goc = client
            .get_or_create_with_input::<Probe>(
                ["goc", encoding.as_str()],
                &Some(ProbeInput { start: 11 }),
            )
            .unwrap();
        assert_eq!(goc.snapshot().within().await.unwrap().value, 11);
    }
    registry.shutdown().within().await;
}

#[tokio::test]
async fn compound_keys_stay_exact_over_the_network() {
    let (registry, endpoint) = serve_memory().await;
    let client = network_client(&endpoint, Encoding::Bare);
    // Commas and empty parts cannot travel in the query gateway; the client resolves those
    // keys over REST, so every key still names its own actor.
    let keys: [&[&str]; 5] = [&["a,b"], &["a", "b"], &["a/b"], &["", "x"], &[]];
    for (i, key) in keys.iter().enumerate() {
        client
            .get_or_create::<Counter>(*key)
            .increment(i as i64 + 1)
            .within()
            .await
            .unwrap();
    }
    for (i, key) in keys.iter().enumerate() {
        assert_eq!(
            client
                .get::<Counter>(*key)
                .get_count()
                .within()
                .await
                .unwrap(),
            i as i64 + 1,
            "{key:?}"
        );
    }
    let room = client.get_or_create::<ChatRoom>(["org-acme", "general"]);
    room.send_message("ana".into(), "hi".into())
        .within()
        .await
        .unwrap();
    assert_eq!(
        room.get_room_info().within().await.unwrap(),
        ["org-acme", "general"]
    );
    registry.shutdown().within().await;
}

#[tokio::test]
async fn queue_send_and_wait_over_http() {
    let (registry, endpoint) = serve_memory().await;
    for encoding in ENCODINGS {
        let client = network_client(&endpoint, encoding);
        let worker = client.get_or_create::<Worker>(["w", encoding.as_str()]);
        let done = worker
            .send_jobs(Job { n: 2 })
            .wait(PATIENCE)
            .within()
            .await
            .unwrap();
        assert_eq!(done.total, 2);
        worker.send_jobs(Job { n: 3 }).within().await.unwrap();
        let done = worker
            .send_jobs(Job { n: 4 })
            .wait(PATIENCE)
            .within()
            .await
            .unwrap();
        assert_eq!(done.total, 9, "{encoding:?}");
    }
    registry.shutdown().within().await;
}

#[tokio::test]
async fn example_actors_over_websockets_in_every_encoding() {
    use rivet_examples::chat_room::{ChatParams, Message};
    use tokio::sync::mpsc;

    let (registry, endpoint) = serve_memory().await;
    for encoding in ENCODINGS {
        let client = network_client(&endpoint, encoding);
        let label = encoding.as_str();

        // Counter: actions through the connection, events in order.
        let conn = client
            .get_or_create::<Counter>(["ws", label])
            .connect()
            .within()
            .await
            .unwrap();
        let (tx, mut counts) = mpsc::unbounded_channel();
        conn.on_new_count(move |n| {
            let _ = tx.send(n);
        });
        for amount in [1, 2, 3] {
            conn.increment(amount).within().await.unwrap();
        }
        let err = conn
            .fail_with("ws_nope".to_owned())
            .within()
            .await
            .unwrap_err();
        assert_eq!(
            err.metadata,
            Some(serde_json::json!({"code": "ws_nope", "count": 6})),
            "{label}"
        );
        for expected in [1, 3, 6] {
            assert_eq!(recv(&mut counts).await, expected, "{label}");
        }

        // Chat room: connection parameters become connection state; bad ones are refused.
        let room = client.get_or_create::<ChatRoom>(["org-ws", label]);
        let ana = room
            .clone()
            .with_params(&ChatParams {
                username: "ana".into(),
            })
            .unwrap();
        let ana_conn = ana.connect().within().await.unwrap();
        assert_eq!(ana_conn.whoami().within().await.unwrap(), "ana", "{label}");
        assert_eq!(
            ana.whoami().within().await.unwrap(),
            "ana",
            "stateless call with params, {label}"
        );
        assert_eq!(room.whoami().within().await.unwrap(), "guest", "{label}");
        let said = ana_conn.say("hi".into()).within().await.unwrap();
        assert_eq!(
            said,
            Message {
                sender: "ana".into(),
                text: "hi".into()
            }
        );
        let long = ChatParams {
            username: "x".repeat(33),
        };
        let err = room
            .clone()
            .with_params(&long)
            .unwrap()
            .connect()
            .within()
            .await
            .unwrap_err();
        assert_eq!(
            (err.group.as_str(), err.code.as_str()),
            ("user", "invalid_username"),
            "{label}"
        );
        assert_eq!(
            err.metadata,
            Some(serde_json::json!({ "max": 32 })),
            "{label}"
        );

        // Fan-out: every subscribed connection gets the broadcast.
        let (tx, mut inbox) = mpsc::unbounded_channel();
        let mut listeners = Vec::new();
        for _ in 0..25 {
            let conn = room.connect().within().await.unwrap();
            let tx = tx.clone();
            conn.on_new_message(move |m| {
                let _ = tx.send(m);
            });
            conn.get_history().within().await.unwrap();
            listeners.push(conn);
        }
        room.send_message("bot".into(), "to all".into())
            .within()
            .await
            .unwrap();
        for _ in 0..25 {
            assert_eq!(recv(&mut inbox).await.text, "to all", "{label}");
        }
    }
    registry.shutdown().within().await;
}

#[test]
fn endpoints_must_be_http_or_https() {
    for endpoint in ["ws://127.0.0.1:6420", "127.0.0.1:6420", "ftp://example.com"] {
        let err = Client::builder(endpoint).build().unwrap_err();
        assert!(err.is(codes::INVALID_ENDPOINT), "{endpoint}: {err}");
    }
    // With the `tls` feature (these tests build it), https:// is an endpoint too; the
    // connection over TLS is tested in engine_envoy.rs.
    assert!(Client::builder("https://example.com").build().is_ok());
    // Roots that are not PEM certificates are refused when the client is built.
    let err = Client::builder("https://example.com")
        .root_certificates_pem("not a certificate")
        .build()
        .unwrap_err();
    assert!(err.is(codes::INVALID_ENDPOINT), "{err}");
}
