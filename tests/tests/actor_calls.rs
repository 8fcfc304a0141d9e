//! Actor-to-actor calls with `cx.client()`: typed, in-process; a call back into an actor whose
//! turn waits on it fails at once with `actor.call_cycle` rather than deadlocking. On both storages.

use rivet_core::codes;
use rivet_examples::counter::Counter;
use rivet_tests::{Backend, Relay, Within, on_each_backend, registry_on};

async fn calls_pass_through_other_actors(backend: Backend) {
    let registry = registry_on(&backend);
    let client = registry.client();
    let a = client.get_or_create::<Relay>(["a"]);
    assert_eq!(
        a.relay(vec!["b".into(), "c".into()])
            .within()
            .await
            .unwrap(),
        "a>b>c"
    );
    assert_eq!(a.bump("shared".into(), 4).within().await.unwrap(), 4);
    assert_eq!(
        client
            .get::<Counter>(["shared"])
            .get_count()
            .within()
            .await
            .unwrap(),
        4
    );
    // The same actor may appear twice in a path as long as it is not waiting: b, then a fresh
    // call to b after the first one returned.
    assert_eq!(a.relay(vec!["b".into()]).within().await.unwrap(), "a>b");
    assert_eq!(
        client
            .get::<Relay>(["b"])
            .answered()
            .within()
            .await
            .unwrap(),
        2
    );
}

async fn a_call_back_into_a_waiting_actor_fails_at_once(backend: Backend) {
    let registry = registry_on(&backend);
    let client = registry.client();
    let a = client.get_or_create::<Relay>(["x"]);
    // x -> y -> x: x is waiting for y.
    let err = a
        .relay(vec!["y".into(), "x".into()])
        .within()
        .await
        .unwrap_err();
    assert!(err.is(codes::CALL_CYCLE), "{err}");
    assert!(err.message.contains("call path"), "{err}");
    // x -> x directly.
    let err = a.relay(vec!["x".into()]).within().await.unwrap_err();
    assert!(err.is(codes::CALL_CYCLE), "{err}");
    // Longer: x -> y -> z -> y.
    let err = a
        .relay(vec!["y".into(), "z".into(), "y".into()])
        .within()
        .await
        .unwrap_err();
    assert!(err.is(codes::CALL_CYCLE), "{err}");
    // Nobody is stuck: every relay still answers.
    for key in ["x", "y", "z"] {
        let relay = client.get_or_create::<Relay>([key]);
        assert_eq!(relay.relay(vec![]).within().await.unwrap(), key);
    }
}

on_each_backend!(
    calls_pass_through_other_actors,
    a_call_back_into_a_waiting_actor_fails_at_once,
);
