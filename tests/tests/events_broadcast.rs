//! Events: typed `on_*` subscriptions on a connection; a broadcast reaches only subscribed
//! connections, and only after the turn committed.

use rivet_examples::counter::Counter;
use rivet_tests::{Probe, Within, memory_registry, recv};
use tokio::sync::mpsc;

#[tokio::test]
async fn subscribed_connections_receive_typed_events() {
    let registry = memory_registry();
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

#[tokio::test]
async fn only_subscribed_connections_receive_a_broadcast() {
    let registry = memory_registry();
    let counter = registry.client().get_or_create::<Counter>(["fanout"]);
    let mut receivers = Vec::new();
    let mut conns = Vec::new();
    for i in 0..20 {
        let conn = counter.connect().within().await.unwrap();
        if i % 2 == 0 {
            let (tx, rx) = mpsc::unbounded_channel();
            conn.on_new_count(move |count| {
                let _ = tx.send(count);
            });
            receivers.push(rx);
        }
        conns.push(conn);
    }
    // Unsubscribed connections count how many events reach them through a raw callback on an
    // event nobody broadcasts.
    let (stray_tx, mut stray_rx) = mpsc::unbounded_channel::<()>();
    conns[1].connection().on_raw("somethingElse", move |_| {
        let _ = stray_tx.send(());
    });
    conns[1].increment(7).within().await.unwrap();
    for rx in &mut receivers {
        assert_eq!(recv(rx).await, 7);
    }
    assert!(stray_rx.try_recv().is_err());
}

#[tokio::test]
async fn unsubscribe_stops_delivery() {
    let registry = memory_registry();
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

#[tokio::test]
async fn events_with_several_fields_and_none() {
    let registry = memory_registry();
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

#[tokio::test]
async fn on_state_change_runs_after_changing_turns_only() {
    let registry = memory_registry();
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

#[tokio::test]
async fn actions_through_a_connection_see_it() {
    let registry = memory_registry();
    let probe = registry.client().get_or_create::<Probe>(["whoami"]);
    let conn = probe.connect().within().await.unwrap();
    assert_eq!(
        conn.whoami().within().await.unwrap().as_deref(),
        Some(conn.connection().connection_id().as_str())
    );
    assert_eq!(probe.whoami().within().await.unwrap(), None);
}
