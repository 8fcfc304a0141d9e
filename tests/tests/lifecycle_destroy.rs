//! Destroy: `on_destroy` runs, then the actor and its data are gone; `get` is `actor.not_found`
//! and `get_or_create` makes a fresh actor.

use rivet_core::{LifecycleKind, codes};
use rivet_tests::{Probe, Within, hook_log, memory_registry, wait_for};

#[tokio::test]
async fn destroy_then_get_is_not_found_and_get_or_create_is_fresh() {
    let registry = memory_registry();
    let mut events = registry.lifecycle_events();
    let client = registry.client();
    let probe = client.get_or_create::<Probe>(["doomed"]);
    probe.set(77).within().await.unwrap();
    let id = probe.resolve().within().await.unwrap();
    probe.destroy_me().within().await.unwrap();
    wait_for(&mut events, &id, LifecycleKind::Destroyed).await;
    assert_eq!(
        hook_log("doomed").last().map(String::as_str),
        Some("destroy")
    );

    let err = client
        .get::<Probe>(["doomed"])
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

    let fresh = client.get_or_create::<Probe>(["doomed"]);
    let snapshot = fresh.snapshot().within().await.unwrap();
    assert_eq!(snapshot.value, 0);
    assert_eq!(snapshot.created, 1);
    assert_ne!(
        fresh.resolve().within().await.unwrap(),
        id,
        "a new actor gets a new id"
    );
}

#[tokio::test]
async fn destroy_closes_connections() {
    let registry = memory_registry();
    let mut events = registry.lifecycle_events();
    let probe = registry.client().get_or_create::<Probe>(["doomed-conn"]);
    let conn = probe.connect().within().await.unwrap();
    let id = probe.resolve().within().await.unwrap();
    conn.destroy_me().within().await.unwrap();
    wait_for(&mut events, &id, LifecycleKind::Destroyed).await;
    let err = conn.snapshot().within().await.unwrap_err();
    assert!(err.is(codes::ACTOR_NOT_FOUND), "{err}");
}
