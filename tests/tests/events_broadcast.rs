//! Events: typed `on_*` subscriptions on a connection; a broadcast reaches only subscribed
//! connections, and only after the turn committed.

use rivet_core::Client;
use rivet_core::client::Encoding;
use rivet_core::client::codec;
use rivet_core::client::protocol::{ToClient, ToServer};
use rivet_examples::counter::Counter;
use rivet_tests::{
    Backend, Probe, Within, init, on_each_backend, open_socket, read_message, recv, registry_on,
    send_message, serve_on,
};
use tokio::sync::mpsc;

async fn subscribed_connections_receive_typed_events(backend: Backend) {
    let registry = registry_on(&backend);
    let counter = registry.client().get_or_create::<Counter>(["events"]);
    let conn = counter.connect().within().await.unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    conn.on_new_count(move |count| {
        let _ = tx.send(count);
    });
    // A call through the connection is ordered after the subscription.
    assert_eq!(conn.increment(2).within().await.unwrap(), 2);
    counter.increment(3).within().await.unwrap();
    assert_eq!(recv(&mut rx).await, 2);
    assert_eq!(recv(&mut rx).await, 5);
}

async fn only_subscribed_connections_receive_a_broadcast(backend: Backend) {
    let (registry, endpoint) = serve_on(&backend).await;
    let counter = Client::new(endpoint.clone()).get_or_create::<Counter>(["fanout"]);
    // A connection that subscribes to nothing, spoken by hand so every message it gets is seen.
    let encoding = Encoding::Json;
    let mut bystander =
        open_socket(&endpoint, "counter", "fanout", "rivet, rivet_encoding.json").await;
    init(&mut bystander, encoding).await;
    let mut receivers = Vec::new();
    let mut conns = Vec::new();
    for _ in 0..3 {
        let conn = counter.connect().within().await.unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        conn.on_new_count(move |count| {
            let _ = tx.send(count);
        });
        // Ordered after the subscription on the same socket: once it answers, the actor has the
        // subscription.
        conn.get_count().within().await.unwrap();
        receivers.push(rx);
        conns.push(conn);
    }
    conns[0].increment(7).within().await.unwrap();
    for rx in &mut receivers {
        assert_eq!(recv(rx).await, 7);
    }
    // The broadcast is over. Had it reached the bystander, its event would come before the
    // answer to an action the bystander sends now.
    let request = ToServer::ActionRequest {
        id: 1,
        name: "getCount".to_owned(),
        args: codec::to_cbor(&[0u8; 0]).expect("cbor"),
    };
    send_message(&mut bystander, &request, encoding).await;
    match read_message(&mut bystander, encoding).await {
        ToClient::ActionResponse { id, output } => {
            assert_eq!(id, 1);
            assert_eq!(codec::from_cbor::<i64>(&output).expect("an i64"), 7);
        }
        other => panic!("the unsubscribed connection got {other:?} first"),
    }
    registry.shutdown().within().await;
}

async fn unsubscribe_stops_delivery(backend: Backend) {
    let registry = registry_on(&backend);
    let counter = registry.client().get_or_create::<Counter>(["unsub"]);
    let conn = counter.connect().within().await.unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let sub = conn.on_new_count(move |count| {
        let _ = tx.send(count);
    });
    conn.increment(1).within().await.unwrap();
    assert_eq!(recv(&mut rx).await, 1);
    sub.unsubscribe();
    conn.increment(1).within().await.unwrap();
    // The callback (and its sender) is gone: the channel closes without another event.
    assert_eq!(rx.recv().within().await, None);
}

async fn events_with_several_fields_and_none(backend: Backend) {
    let registry = registry_on(&backend);
    let probe = registry.client().get_or_create::<Probe>(["payloads"]);
    let conn = probe.connect().within().await.unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let pings = tx.clone();
    conn.on_ping(move || {
        let _ = pings.send(("ping".to_owned(), 0));
    });
    conn.on_pair(move |label, value| {
        let _ = tx.send((label, value));
    });
    conn.set(4).within().await.unwrap();
    conn.emit("hello".to_owned()).within().await.unwrap();
    assert_eq!(recv(&mut rx).await, ("ping".to_owned(), 0));
    assert_eq!(recv(&mut rx).await, ("hello".to_owned(), 4));
}

async fn on_state_change_runs_after_changing_turns_only(backend: Backend) {
    let registry = registry_on(&backend);
    let probe = registry.client().get_or_create::<Probe>(["state-change"]);
    let conn = probe.connect().within().await.unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    conn.on_value_changed(move |v| {
        let _ = tx.send(v);
    });
    conn.set(1).within().await.unwrap();
    conn.snapshot().within().await.unwrap(); // no change, no event
    conn.set(2).within().await.unwrap();
    assert_eq!(recv(&mut rx).await, 1);
    assert_eq!(recv(&mut rx).await, 2);
    // A failed turn changes nothing and sends nothing.
    conn.set_then_fail(3).within().await.unwrap_err();
    conn.set(4).within().await.unwrap();
    assert_eq!(recv(&mut rx).await, 4);
}

async fn actions_through_a_connection_see_it(backend: Backend) {
    let registry = registry_on(&backend);
    let probe = registry.client().get_or_create::<Probe>(["whoami"]);
    let conn = probe.connect().within().await.unwrap();
    assert_eq!(
        conn.whoami().within().await.unwrap().as_deref(),
        Some(conn.connection().connection_id().as_str())
    );
    assert_eq!(probe.whoami().within().await.unwrap(), None);
}

on_each_backend!(
    subscribed_connections_receive_typed_events,
    only_subscribed_connections_receive_a_broadcast,
    unsubscribe_stops_delivery,
    events_with_several_fields_and_none,
    on_state_change_runs_after_changing_turns_only,
    actions_through_a_connection_see_it,
);
