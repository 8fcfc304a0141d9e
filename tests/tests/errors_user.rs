//! Errors: `UserError` reaches the caller intact, anything else is masked, panics and timeouts
//! roll the turn back and the actor keeps running.

use std::time::Duration;

use rivet_core::{Registry, codes};
use rivet_examples::counter::Counter;
use rivet_tests::{Backend, Probe, Within, on_each_backend, registry_on};

async fn user_error_reaches_the_caller_with_code_message_and_metadata(backend: Backend) {
    let registry = registry_on(&backend);
    let counter = registry.client().get_or_create::<Counter>(["errors"]);
    counter.increment(3).within().await.unwrap();
    let err = counter
        .fail_with("out_of_stock".to_owned())
        .within()
        .await
        .unwrap_err();
    assert_eq!(err.group, "user");
    assert_eq!(err.code, "out_of_stock");
    assert_eq!(err.message, "failed on purpose with `out_of_stock`");
    assert_eq!(
        err.metadata,
        Some(serde_json::json!({ "code": "out_of_stock", "count": 3 }))
    );
    assert!(err.is_user());
}

async fn other_errors_are_masked_as_internal_error(backend: Backend) {
    let registry = registry_on(&backend);
    let probe = registry.client().get_or_create::<Probe>(["masked"]);
    let err = probe.fail_internally().within().await.unwrap_err();
    assert!(err.is(codes::INTERNAL_ERROR), "{err}");
    assert!(!err.message.contains("password"), "{err}");
    assert_eq!(err.metadata, None);
}

async fn a_failed_turn_rolls_the_state_back(backend: Backend) {
    let registry = registry_on(&backend);
    let probe = registry.client().get_or_create::<Probe>(["rollback"]);
    probe.set(7).within().await.unwrap();
    let err = probe.set_then_fail(100).within().await.unwrap_err();
    assert_eq!(err.code, "refused");
    assert_eq!(probe.snapshot().within().await.unwrap().value, 7);
}

async fn a_panic_is_an_internal_error_and_the_actor_keeps_running(backend: Backend) {
    let registry = registry_on(&backend);
    let probe = registry.client().get_or_create::<Probe>(["panic"]);
    probe.set(1).within().await.unwrap();
    let err = probe.set_then_panic(50).within().await.unwrap_err();
    assert!(err.is(codes::INTERNAL_ERROR), "{err}");
    assert_eq!(probe.snapshot().within().await.unwrap().value, 1);
    assert_eq!(probe.set(2).within().await.unwrap(), 2);
}

async fn a_turn_past_the_action_timeout_fails_and_is_rolled_back(backend: Backend) {
    let registry = rivet_examples::registry()
        .with::<Probe>()
        .action_timeout(Duration::from_millis(50));
    let registry = backend.build(registry);
    let probe = registry.client().get_or_create::<Probe>(["timeout"]);
    probe.set(3).within().await.unwrap();
    let err = probe.set_then_stall(9, 60_000).within().await.unwrap_err();
    assert!(err.is(codes::ACTION_TIMED_OUT), "{err}");
    assert_eq!(probe.snapshot().within().await.unwrap().value, 3);
}

async fn state_over_the_limit_is_refused_and_unchanged(backend: Backend) {
    let registry = rivet_examples::registry()
        .with::<Probe>()
        .max_state_size(1024);
    let registry = backend.build(registry);
    let probe = registry.client().get_or_create::<Probe>(["big"]);
    assert_eq!(probe.grow(100).within().await.unwrap(), 100);
    let err = probe.grow(2000).within().await.unwrap_err();
    assert!(err.is(codes::STATE_TOO_LARGE), "{err}");
    assert_eq!(probe.grow(1).within().await.unwrap(), 101);
}

async fn calls_after_shutdown_fail_with_shut_down(backend: Backend) {
    let registry: Registry = registry_on(&backend);
    let client = registry.client();
    let counter = client.get_or_create::<Counter>(["shutdown"]);
    counter.increment(1).within().await.unwrap();
    registry.shutdown().within().await;
    let err = counter.increment(1).within().await.unwrap_err();
    assert!(err.is(codes::SHUT_DOWN), "{err}");
}

on_each_backend!(
    user_error_reaches_the_caller_with_code_message_and_metadata,
    other_errors_are_masked_as_internal_error,
    a_failed_turn_rolls_the_state_back,
    a_panic_is_an_internal_error_and_the_actor_keeps_running,
    a_turn_past_the_action_timeout_fails_and_is_rolled_back,
    state_over_the_limit_is_refused_and_unchanged,
    calls_after_shutdown_fail_with_shut_down,
);
