//! Destroy: `on_destroy` runs, then the actor and its data are gone; `get` is `actor.not_found`
//! and `get_or_create` makes a fresh actor.

use rivet_core::{Client, LifecycleKind, codes};
use rivet_tests::{
    Backend, Probe, Within, hook_log, on_each_backend, registry_on, serve_on, wait_for,
};

async fn destroy_then_get_is_not_found_and_get_or_create_is_fresh(backend: Backend) {
    let registry = registry_on(&backend);
    let mut events = registry.lifecycle_events();
    let client = registry.client();
    let key = backend.key("doomed");
    let probe = client.get_or_create::<Probe>([key.as_str()]);
    probe.set(77).within().await.unwrap();
    let id = probe.resolve().within().await.unwrap();
    probe.destroy_me().within().await.unwrap();
    wait_for(&mut events, &id, LifecycleKind::Destroyed).await;
    assert_eq!(hook_log(&key).last().map(String::as_str), Some("destroy"));

    let err = client
        .get::<Probe>([key.as_str()])
        .snapshot()
        .within()
        .await
        .unwrap_err();
    assert!(err.is(codes::ACTOR_NOT_FOUND), "{err}");
    let err = client
        .get_for_id::<Probe>(id.clone())
        .snapshot()
        .within()
        .await
        .unwrap_err();
    assert!(err.is(codes::ACTOR_NOT_FOUND), "{err}");

    let fresh = client.get_or_create::<Probe>([key.as_str()]);
    let snapshot = fresh.snapshot().within().await.unwrap();
    assert_eq!(snapshot.value, 0);
    assert_eq!(snapshot.created, 1);
    assert_ne!(
        fresh.resolve().within().await.unwrap(),
        id,
        "a new actor gets a new id"
    );
}

async fn destroy_closes_connections(backend: Backend) {
    let (registry, endpoint) = serve_on(&backend).await;
    let mut events = registry.lifecycle_events();
    let local = registry.client();
    let network = Client::new(endpoint.clone());
    for (label, client) in [("local", &local), ("network", &network)] {
        let probe = client.get_or_create::<Probe>(["doomed-conn", label]);
        let conn = probe.connect().within().await.unwrap();
        // A second connection, which the destroy closes too.
        let other = probe.connect().within().await.unwrap();
        let id = probe.resolve().within().await.unwrap();
        conn.destroy_me().within().await.unwrap();
        wait_for(&mut events, &id, LifecycleKind::Destroyed).await;
        for conn in [&conn, &other] {
            // Closed for good, with the reason, and not reconnected to a fresh actor.
            let reason = conn.connection().closed().within().await.expect("a reason");
            assert!(reason.is(codes::ACTOR_NOT_FOUND), "{label}: {reason}");
            assert_eq!(reason.message, "The actor was destroyed.", "{label}");
            // Nothing more goes through it: in process a call is routed to the actor, which is
            // gone; over the network the socket is closed.
            let err = conn.snapshot().within().await.unwrap_err();
            let expected = if label == "local" {
                codes::ACTOR_NOT_FOUND
            } else {
                codes::CONNECTION_CLOSED
            };
            assert!(err.is(expected), "{label}: {err}");
        }
    }
    registry.shutdown().within().await;
}

on_each_backend!(
    destroy_then_get_is_not_found_and_get_or_create_is_fresh,
    destroy_closes_connections,
);
