//! Connections, in process and over the network in every encoding: parameters and per-connection
//! state, refusal by `#[on_before_connect]`, broadcasts and targeted sends (delivered before
//! the reply of the action that sent them), kicks, fan-out, and reconnection after a server
//! restart.

use rivet_core::{Client, Registry, codes};
use rivet_tests::{
    Backend, ENCODINGS, Lobby, LobbyClient, LobbyConnection, LobbyParams, Within, network_client,
    on_each_backend, recv, serve_on,
};
use tokio::sync::mpsc;

/// The in-process client and one network client per encoding, each with a label for keys and
/// messages.
fn clients(registry: &Registry, endpoint: &str) -> Vec<(&'static str, Client)> {
    let mut clients = vec![("local", registry.client())];
    for encoding in ENCODINGS {
        clients.push((encoding.as_str(), network_client(endpoint, encoding)));
    }
    clients
}

fn as_user(lobby: &LobbyClient, user: &str) -> LobbyClient {
    lobby
        .clone()
        .with_params(&LobbyParams {
            user: user.to_owned(),
            token: None,
        })
        .expect("params")
}

/// Subscribes to `said` and returns the `(from, text)` pairs as they come.
fn said(conn: &LobbyConnection) -> mpsc::UnboundedReceiver<(String, String)> {
    let (tx, rx) = mpsc::unbounded_channel();
    conn.on_said(move |from, text| {
        let _ = tx.send((from, text));
    });
    rx
}

async fn params_and_state_belong_to_each_connection(backend: Backend) {
    let (registry, endpoint) = serve_on(&backend).await;
    for (label, client) in clients(&registry, &endpoint) {
        let lobby = client.get_or_create::<Lobby>(["params", label]);
        let ana = as_user(&lobby, "ana").connect().within().await.unwrap();
        let anon = lobby.connect().within().await.unwrap();
        assert_eq!(
            ana.whoami().within().await.unwrap().as_deref(),
            Some("ana"),
            "{label}"
        );
        assert_eq!(
            anon.whoami().within().await.unwrap().as_deref(),
            Some("anonymous"),
            "{label}"
        );
        // A stateless call is a connection of its own, made with the handle's parameters.
        assert_eq!(
            as_user(&lobby, "bob")
                .whoami()
                .within()
                .await
                .unwrap()
                .as_deref(),
            Some("bob")
        );
        assert_eq!(
            lobby.online().within().await.unwrap(),
            ["ana", "anonymous"],
            "{label}"
        );
        // `#[conn_state]` ran once per connection: two sockets and three stateless calls.
        assert_eq!(lobby.joins().within().await.unwrap(), 5, "{label}");

        let (tx, mut left) = mpsc::unbounded_channel();
        ana.on_left(move |user| {
            let _ = tx.send(user);
        });
        // Ordered after the subscription on the same connection.
        ana.whoami().within().await.unwrap();
        anon.disconnect();
        assert_eq!(recv(&mut left).await, "anonymous", "{label}");
        assert_eq!(ana.online().within().await.unwrap(), ["ana"], "{label}");
    }
    registry.shutdown().within().await;
}

async fn on_before_connect_refuses_with_its_error(backend: Backend) {
    let (registry, endpoint) = serve_on(&backend).await;
    for (label, client) in clients(&registry, &endpoint) {
        let lobby = client.get_or_create::<Lobby>(["refuse", label]);
        let intruder = lobby
            .clone()
            .with_params(&LobbyParams {
                user: "mallory".to_owned(),
                token: Some("bad".to_owned()),
            })
            .unwrap();
        let err = intruder.connect().within().await.unwrap_err();
        assert_eq!(
            (err.group.as_str(), err.code.as_str()),
            ("user", "forbidden"),
            "{label}"
        );
        assert_eq!(err.message, "this token is not welcome", "{label}");
        assert_eq!(
            err.metadata,
            Some(serde_json::json!({ "token": "bad" })),
            "{label}"
        );
        // Stateless calls go through the same hook.
        let err = intruder.whoami().within().await.unwrap_err();
        assert_eq!(err.code, "forbidden", "{label}");
        // Refused connections never ran `#[conn_state]`.
        assert_eq!(lobby.joins().within().await.unwrap(), 1, "{label}");
    }
    registry.shutdown().within().await;
}

async fn broadcasts_reach_subscribers_and_sends_reach_one(backend: Backend) {
    let (registry, endpoint) = serve_on(&backend).await;
    for (label, client) in clients(&registry, &endpoint) {
        let lobby = client.get_or_create::<Lobby>(["events", label]);
        let ana = as_user(&lobby, "ana").connect().within().await.unwrap();
        let bob = as_user(&lobby, "bob").connect().within().await.unwrap();
        let mut to_ana = said(&ana);
        let mut to_bob = said(&bob);
        ana.whoami().within().await.unwrap();

        bob.shout("hi".to_owned()).within().await.unwrap();
        assert_eq!(
            recv(&mut to_ana).await,
            ("bob".to_owned(), "hi".to_owned()),
            "{label}"
        );
        assert_eq!(
            recv(&mut to_bob).await,
            ("bob".to_owned(), "hi".to_owned()),
            "{label}"
        );

        assert!(
            ana.whisper("bob".to_owned(), "psst".to_owned())
                .within()
                .await
                .unwrap()
        );
        assert!(
            !ana.whisper("nobody".to_owned(), "?".to_owned())
                .within()
                .await
                .unwrap()
        );
        assert_eq!(
            recv(&mut to_bob).await,
            ("ana".to_owned(), "psst".to_owned()),
            "{label}"
        );
        // Ana's next event is the next broadcast: the whisper never reached her. A stateless
        // call has a connection of its own, with the handle's (here absent) parameters.
        lobby.shout("all".to_owned()).within().await.unwrap();
        let all = ("anonymous".to_owned(), "all".to_owned());
        assert_eq!(recv(&mut to_ana).await, all, "{label}");
        assert_eq!(recv(&mut to_bob).await, all, "{label}");
    }
    registry.shutdown().within().await;
}

async fn a_kicked_connection_closes_with_the_reason(backend: Backend) {
    let (registry, endpoint) = serve_on(&backend).await;
    for (label, client) in clients(&registry, &endpoint) {
        let lobby = client.get_or_create::<Lobby>(["kick", label]);
        let ana = as_user(&lobby, "ana").connect().within().await.unwrap();
        let bob = as_user(&lobby, "bob").connect().within().await.unwrap();
        lobby.kick("ana".to_owned()).within().await.unwrap();
        let reason = ana.connection().closed().within().await.expect("a reason");
        assert_eq!(
            (reason.group.as_str(), reason.code.as_str()),
            ("user", "kicked"),
            "{label}"
        );
        assert_eq!(reason.message, "you were kicked", "{label}");
        let err = ana.whoami().within().await.unwrap_err();
        assert!(err.is(codes::CONNECTION_CLOSED), "{label}: {err}");
        assert_eq!(
            bob.whoami().within().await.unwrap().as_deref(),
            Some("bob"),
            "{label}"
        );
        assert_eq!(bob.connection().closed_reason(), None, "{label}");
    }
    registry.shutdown().within().await;
}

async fn a_broadcast_fans_out_to_every_connection(backend: Backend) {
    let (registry, endpoint) = serve_on(&backend).await;
    for (label, client) in clients(&registry, &endpoint) {
        let lobby = client.get_or_create::<Lobby>(["fanout", label]);
        let mut conns = Vec::new();
        let mut inboxes = Vec::new();
        for i in 0..40 {
            let conn = as_user(&lobby, &format!("u{i}"))
                .connect()
                .within()
                .await
                .unwrap();
            inboxes.push(said(&conn));
            // Ordered after the subscription.
            conn.whoami().within().await.unwrap();
            conns.push(conn);
        }
        lobby.shout("everyone".to_owned()).within().await.unwrap();
        for inbox in &mut inboxes {
            assert_eq!(recv(inbox).await.1, "everyone", "{label}");
        }
    }
    registry.shutdown().within().await;
}

/// An action called through a connection returns only after the connection's callbacks saw
/// the events its own turn sent (as over one RivetKit WebSocket): a caller may read what it
/// collected right after the reply. On several worker threads, where the callbacks' task and
/// the caller run in parallel (a single thread happens to run them in order).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_actions_events_reach_the_callbacks_before_its_reply() {
    let backend = Backend::memory();
    let (registry, endpoint) = serve_on(&backend).await;
    for (label, client) in clients(&registry, &endpoint) {
        let lobby = client.get_or_create::<Lobby>(["ordered", label]);
        let ana = as_user(&lobby, "ana").connect().within().await.unwrap();
        let heard = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = std::sync::Arc::clone(&heard);
        let _subscription = ana.on_said(move |_, text| sink.lock().unwrap().push(text));
        for i in 0..200 {
            ana.shout(format!("m{i}")).within().await.unwrap();
            assert_eq!(
                heard.lock().unwrap().last().map(String::as_str),
                Some(format!("m{i}").as_str()),
                "{label}: the reply to shout #{i} came before its event"
            );
        }
    }
    registry.shutdown().within().await;
}

on_each_backend!(
    params_and_state_belong_to_each_connection,
    on_before_connect_refuses_with_its_error,
    broadcasts_reach_subscribers_and_sends_reach_one,
    a_kicked_connection_closes_with_the_reason,
    a_broadcast_fans_out_to_every_connection,
);

#[tokio::test]
async fn network_connections_reconnect_and_resubscribe_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let build = || {
        rivet_examples::registry()
            .with::<Lobby>()
            .data_dir(dir.path())
            .build()
            .unwrap()
    };
    let first = build();
    let addr = first.spawn_server("127.0.0.1:0").within().await.unwrap();
    let client = Client::new(format!("http://{addr}"));
    let lobby = client.get_or_create::<Lobby>(["restart"]);
    let ana = as_user(&lobby, "ana").connect().within().await.unwrap();
    let mut inbox = said(&ana);
    ana.shout("before".to_owned()).within().await.unwrap();
    assert_eq!(recv(&mut inbox).await.1, "before");
    let first_id = ana.connection().connection_id();

    // Shutting down closes sockets with `ws.going_away`, which the client retries.
    first.shutdown().within().await;
    let second = build();
    second.spawn_server(addr).within().await.unwrap();

    // An action sent before the client saw the close fails with it; later ones wait for the
    // new socket.
    let mut attempts = 0;
    loop {
        attempts += 1;
        match ana.shout("after".to_owned()).within().await {
            Ok(()) => break,
            Err(err)
                if attempts < 3
                    && (err.is(codes::GOING_AWAY) || err.is(codes::CONNECTION_CLOSED)) => {}
            Err(err) => panic!("attempt {attempts}: {err}"),
        }
    }
    assert_eq!(
        recv(&mut inbox).await,
        ("ana".to_owned(), "after".to_owned())
    );
    assert_eq!(ana.whoami().within().await.unwrap().as_deref(), Some("ana"));
    assert_ne!(ana.connection().connection_id(), first_id);
    assert_eq!(ana.connection().closed_reason(), None);
    second.shutdown().within().await;
}
