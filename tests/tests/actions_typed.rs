//! Actions: sync and async, `&self` and `&mut self`, context or not, several arguments, plain
//! and `Result` returns, wire names. On both storages.

use rivet_core::codes;
use rivet_examples::counter::Counter;
use rivet_tests::{Backend, Probe, Within, on_each_backend, registry_on};

async fn sync_and_async_actions_with_and_without_context(backend: Backend) {
    let registry = registry_on(&backend);
    let probe = registry.client().get_or_create::<Probe>(["actions"]);
    assert_eq!(probe.set(10).within().await.unwrap(), 10);
    assert_eq!(probe.add_both(2, 3).within().await.unwrap(), 15);
    let snapshot = probe.snapshot().within().await.unwrap();
    assert_eq!(snapshot.value, 15);
    assert_eq!(snapshot.changes, 2);
    assert_eq!(snapshot.key, vec!["actions".to_owned()]);
}

async fn wire_names_are_camel_case_unless_overridden(backend: Backend) {
    let registry = registry_on(&backend);
    let client = registry.client();
    let counter = client.get_or_create::<Counter>(["wire"]);
    counter.increment(4).within().await.unwrap();
    let raw: i64 = counter
        .handle()
        .action("getCount", &[0u8; 0])
        .within()
        .await
        .unwrap();
    assert_eq!(raw, 4);
    let missing = counter
        .handle()
        .action::<_, i64>("get_count", &[0u8; 0])
        .within()
        .await
        .unwrap_err();
    assert!(missing.is(codes::ACTION_NOT_FOUND), "{missing}");

    let probe = client.get_or_create::<Probe>(["wire"]);
    assert_eq!(probe.renamed().within().await.unwrap(), "renamed");
    let raw: String = probe
        .handle()
        .action("customName", &[0u8; 0])
        .within()
        .await
        .unwrap();
    assert_eq!(raw, "renamed");
}

async fn unknown_action_is_action_not_found_and_the_actor_keeps_running(backend: Backend) {
    let registry = registry_on(&backend);
    let counter = registry.client().get_or_create::<Counter>(["unknown"]);
    counter.increment(1).within().await.unwrap();
    let err = counter
        .handle()
        .action::<_, ()>("doesNotExist", &(1,))
        .within()
        .await
        .unwrap_err();
    assert!(err.is(codes::ACTION_NOT_FOUND), "{err}");
    assert!(err.message.contains("doesNotExist"), "{err}");
    assert_eq!(counter.get_count().within().await.unwrap(), 1);
}

async fn optional_trailing_arguments_may_be_left_out(backend: Backend) {
    let registry = registry_on(&backend);
    let probe = registry.client().get_or_create::<Probe>(["optional"]);
    assert_eq!(probe.sum(1, Some(2)).within().await.unwrap(), 3);
    let only_first: i64 = probe.handle().action("sum", &(5,)).within().await.unwrap();
    assert_eq!(only_first, 5);
}

async fn concurrent_callers_never_lose_an_update(backend: Backend) {
    let registry = registry_on(&backend);
    let client = registry.client();
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let counter = client.get_or_create::<Counter>(["concurrent"]);
        tasks.push(tokio::spawn(async move {
            for _ in 0..10 {
                counter.increment(1).within().await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.within().await.unwrap();
    }
    let counter = client.get::<Counter>(["concurrent"]);
    assert_eq!(counter.get_count().within().await.unwrap(), 500);
}

on_each_backend!(
    sync_and_async_actions_with_and_without_context,
    wire_names_are_camel_case_unless_overridden,
    unknown_action_is_action_not_found_and_the_actor_keeps_running,
    optional_trailing_arguments_may_be_left_out,
    concurrent_callers_never_lose_an_update,
);
