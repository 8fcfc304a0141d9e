//! Creation: typed input (`createState(c, input)`), `Default` without `#[create]`, get / create /
//! get_or_create semantics and their errors. On both storages.

use rivet_core::codes;
use rivet_examples::counter::Counter;
use rivet_tests::{Backend, Probe, ProbeInput, Within, hook_log, on_each_backend, registry_on};

async fn create_with_typed_input(backend: Backend) {
    let key = backend.key("created");
    let registry = registry_on(&backend);
    let client = registry.client();
    let probe = client
        .create_with_input::<Probe>([key.as_str()], &Some(ProbeInput { start: 41 }))
        .within()
        .await
        .unwrap();
    let snapshot = probe.snapshot().within().await.unwrap();
    assert_eq!(snapshot.value, 41);
    assert_eq!(snapshot.created, 1, "on_create runs once");
    assert_eq!(snapshot.wakes, 1);
    assert_eq!(hook_log(&key), ["create", "wake"]);
}

async fn get_or_create_uses_input_only_when_creating(backend: Backend) {
    let registry = registry_on(&backend);
    let client = registry.client();
    let first = client
        .get_or_create_with_input::<Probe>(["goc"], &Some(ProbeInput { start: 5 }))
        .unwrap();
    assert_eq!(first.snapshot().within().await.unwrap().value, 5);
    let second = client
        .get_or_create_with_input::<Probe>(["goc"], &Some(ProbeInput { start: 99 }))
        .unwrap();
    assert_eq!(second.snapshot().within().await.unwrap().value, 5);
    assert_eq!(
        first.resolve().within().await.unwrap(),
        second.resolve().within().await.unwrap()
    );
}

async fn actors_without_create_start_from_default(backend: Backend) {
    let registry = registry_on(&backend);
    let counter = registry.client().get_or_create::<Counter>(["default"]);
    assert_eq!(counter.get_count().within().await.unwrap(), 0);
}

async fn get_of_a_missing_actor_is_not_found(backend: Backend) {
    let registry = registry_on(&backend);
    let err = registry
        .client()
        .get::<Counter>(["nobody"])
        .get_count()
        .within()
        .await
        .unwrap_err();
    assert!(err.is(codes::ACTOR_NOT_FOUND), "{err}");
    // ... and creates nothing.
    let err = registry
        .client()
        .get::<Counter>(["nobody"])
        .resolve()
        .within()
        .await
        .unwrap_err();
    assert!(err.is(codes::ACTOR_NOT_FOUND), "{err}");
}

async fn create_on_an_existing_key_is_duplicate_key(backend: Backend) {
    let registry = registry_on(&backend);
    let client = registry.client();
    client.create::<Counter>(["dup"]).within().await.unwrap();
    let err = client
        .create::<Counter>(["dup"])
        .within()
        .await
        .unwrap_err();
    assert!(err.is(codes::DUPLICATE_KEY), "{err}");
}

async fn create_fn_errors_reach_the_caller_and_create_nothing(backend: Backend) {
    let registry = registry_on(&backend);
    let client = registry.client();
    let err = client
        .create_with_input::<Probe>(["negative"], &Some(ProbeInput { start: -1 }))
        .within()
        .await
        .unwrap_err();
    assert_eq!(err.code, "negative_start");
    assert_eq!(err.metadata, Some(serde_json::json!({ "start": -1 })));
    let err = client
        .get::<Probe>(["negative"])
        .snapshot()
        .within()
        .await
        .unwrap_err();
    assert!(err.is(codes::ACTOR_NOT_FOUND), "{err}");
    // The key is free again.
    let probe = client
        .create_with_input::<Probe>(["negative"], &Some(ProbeInput { start: 1 }))
        .within()
        .await
        .unwrap();
    assert_eq!(probe.snapshot().within().await.unwrap().value, 1);
}

async fn input_of_the_wrong_type_is_a_validation_error(backend: Backend) {
    let registry = registry_on(&backend);
    let client = registry.client();
    let handle = client.handle(rivet_core::client::ActorTarget::GetOrCreate {
        addr: rivet_core::client::ActorAddr {
            name: "probe".to_owned(),
            key: ["wrong-input"].into(),
        },
        input: Some(rivet_core::client::codec::to_cbor("not an object").unwrap()),
    });
    let err = handle
        .action::<_, i64>("set", &(1,))
        .within()
        .await
        .unwrap_err();
    assert!(err.is(codes::VALIDATION_ERROR), "{err}");
}

async fn get_for_id_reaches_the_same_actor(backend: Backend) {
    let registry = registry_on(&backend);
    let client = registry.client();
    let counter = client.get_or_create::<Counter>(["by-id"]);
    counter.increment(8).within().await.unwrap();
    let id = counter.resolve().within().await.unwrap();
    assert_eq!(
        client
            .get_for_id::<Counter>(id.clone())
            .get_count()
            .within()
            .await
            .unwrap(),
        8
    );
    // An id of another type is not found.
    let err = client
        .get_for_id::<Probe>(id)
        .snapshot()
        .within()
        .await
        .unwrap_err();
    assert!(err.is(codes::ACTOR_NOT_FOUND), "{err}");
}

async fn unregistered_actor_names_are_refused(backend: Backend) {
    let registry = backend.build(rivet_core::Registry::builder());
    let err = registry
        .client()
        .get_or_create::<Counter>(["x"])
        .get_count()
        .within()
        .await
        .unwrap_err();
    assert!(err.is(codes::NOT_REGISTERED), "{err}");
}

on_each_backend!(
    create_with_typed_input,
    get_or_create_uses_input_only_when_creating,
    actors_without_create_start_from_default,
    get_of_a_missing_actor_is_not_found,
    create_on_an_existing_key_is_duplicate_key,
    create_fn_errors_reach_the_caller_and_create_nothing,
    input_of_the_wrong_type_is_a_validation_error,
    get_for_id_reaches_the_same_actor,
    unregistered_actor_names_are_refused,
);
