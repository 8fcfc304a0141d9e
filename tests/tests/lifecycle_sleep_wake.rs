//! Sleep and wake: idle actors sleep after the timeout (running `on_sleep`), wake on the next
//! request with their state restored and their vars rebuilt; open connections keep them awake.

use std::time::Duration;

use rivet_core::{LifecycleKind, Registry};
use rivet_tests::{Backend, Probe, Within, hook_log, on_each_backend, test_actors, wait_for};

fn registry(backend: &Backend, sleep_timeout: Duration) -> Registry {
    backend.build(test_actors().sleep_timeout(sleep_timeout))
}

async fn idle_actor_sleeps_and_wakes_with_state_and_fresh_vars(backend: Backend) {
    let registry = registry(&backend, Duration::from_millis(50));
    let mut events = registry.lifecycle_events();
    let key = backend.key("sleepy");
    let probe = registry.client().get_or_create::<Probe>([key.as_str()]);
    // An open connection keeps the actor awake, so these calls share one activation however
    // long they take; the idle timeout counts from the disconnection.
    let conn = probe.connect().within().await.unwrap();
    conn.set(12).within().await.unwrap();
    assert_eq!(conn.count_call().within().await.unwrap(), 1);
    assert_eq!(conn.count_call().within().await.unwrap(), 2);
    let id = probe.resolve().within().await.unwrap();
    conn.disconnect();

    wait_for(&mut events, &id, LifecycleKind::Slept).await;
    assert_eq!(registry.awake_count(), 0);

    let conn = probe.connect().within().await.unwrap();
    let snapshot = conn.snapshot().within().await.unwrap();
    assert_eq!(snapshot.value, 12);
    assert_eq!(snapshot.sleeps, 1, "on_sleep ran and its change was kept");
    assert_eq!(snapshot.wakes, 2);
    assert_eq!(snapshot.created, 1, "on_create does not run again");
    assert_eq!(
        conn.count_call().within().await.unwrap(),
        1,
        "vars were rebuilt"
    );
    assert_eq!(hook_log(&key), ["create", "wake", "sleep", "wake"]);
}

async fn cx_sleep_puts_the_actor_to_sleep_after_the_turn(backend: Backend) {
    let registry = registry(&backend, Duration::from_secs(3600));
    let mut events = registry.lifecycle_events();
    let probe = registry.client().get_or_create::<Probe>(["napper"]);
    probe.set(5).within().await.unwrap();
    let id = probe.resolve().within().await.unwrap();
    probe.nap().within().await.unwrap();
    wait_for(&mut events, &id, LifecycleKind::Slept).await;
    assert_eq!(probe.snapshot().within().await.unwrap().value, 5);
}

async fn an_open_connection_keeps_the_actor_awake(backend: Backend) {
    let registry = registry(&backend, Duration::from_millis(30));
    let mut events = registry.lifecycle_events();
    let client = registry.client();
    let held = client.get_or_create::<Probe>(["held"]);
    let free = client.get_or_create::<Probe>(["free"]);
    let conn = held.connect().within().await.unwrap();
    let held_id = held.resolve().within().await.unwrap();
    let free_id = free.resolve().within().await.unwrap();
    // The unconnected actor sleeps; the connected one, started earlier, must still be awake.
    wait_for(&mut events, &free_id, LifecycleKind::Slept).await;
    assert_eq!(registry.awake_count(), 1);
    conn.disconnect();
    wait_for(&mut events, &held_id, LifecycleKind::Slept).await;
    assert_eq!(registry.awake_count(), 0);
}

async fn shutdown_puts_every_actor_to_sleep(backend: Backend) {
    let registry = registry(&backend, Duration::from_secs(3600));
    let client = registry.client();
    for i in 0..10 {
        client
            .get_or_create::<Probe>([backend.key(&format!("shutdown-{i}"))])
            .set(i)
            .within()
            .await
            .unwrap();
    }
    assert_eq!(registry.awake_count(), 10);
    registry.shutdown().within().await;
    assert_eq!(registry.awake_count(), 0);
    for i in 0..10 {
        assert_eq!(
            hook_log(&backend.key(&format!("shutdown-{i}")))
                .last()
                .map(String::as_str),
            Some("sleep")
        );
    }
}

async fn keep_awake_holds_off_sleep_until_the_work_ends(backend: Backend) {
    let registry = registry(&backend, Duration::from_millis(30));
    let mut events = registry.lifecycle_events();
    let client = registry.client();
    let key = backend.key("busy");
    let work = backend.key("busy-work");
    let busy = client.get_or_create::<Probe>([key.as_str()]);
    busy.background(work.clone()).within().await.unwrap();
    let busy_id = busy.resolve().within().await.unwrap();
    // Started later with the same timeout, the idle actor sleeps first.
    let idle = client.get_or_create::<Probe>(["idle"]);
    let idle_id = idle.resolve().within().await.unwrap();
    wait_for(&mut events, &idle_id, LifecycleKind::Slept).await;
    assert_eq!(registry.awake_count(), 1, "the busy actor is awake");
    rivet_tests::gate(&work).add_permits(1);
    wait_for(&mut events, &busy_id, LifecycleKind::Slept).await;
    assert_eq!(
        hook_log(&key),
        ["create", "wake", &format!("done:{work}"), "sleep"]
    );
}

async fn shutdown_waits_for_keep_awake_work_up_to_the_grace_period(backend: Backend) {
    let registry = backend.build(test_actors().sleep_grace_period(Duration::from_secs(30)));
    let key = backend.key("graceful");
    let work = backend.key("graceful-work");
    let probe = registry.client().get_or_create::<Probe>([key.as_str()]);
    probe.background(work.clone()).within().await.unwrap();
    let mut shutdown = tokio::spawn({
        let registry = registry.clone();
        async move { registry.shutdown().within().await }
    });
    // While the work runs, the shutdown waits (it would wait up to the 30 s grace period; a
    // tenth of a second shows it does not skip the wait).
    let waited = tokio::time::timeout(Duration::from_millis(100), &mut shutdown)
        .within()
        .await;
    assert!(waited.is_err(), "the shutdown did not wait for the work");
    rivet_tests::gate(&work).add_permits(1);
    shutdown.within().await.unwrap();
    // The work finished before `on_sleep` ran.
    assert_eq!(
        hook_log(&key),
        ["create", "wake", &format!("done:{work}"), "sleep"]
    );

    // With a short grace period, a shutdown does not wait for work that never ends. (On SQLite
    // this registry reopens the directory the first one closed.)
    let registry = backend.build(test_actors().sleep_grace_period(Duration::from_millis(20)));
    let key = backend.key("impatient");
    let probe = registry.client().get_or_create::<Probe>([key.as_str()]);
    probe
        .background(backend.key("never"))
        .within()
        .await
        .unwrap();
    registry.shutdown().within().await;
    assert_eq!(hook_log(&key), ["create", "wake", "sleep"]);
}

on_each_backend!(
    idle_actor_sleeps_and_wakes_with_state_and_fresh_vars,
    cx_sleep_puts_the_actor_to_sleep_after_the_turn,
    an_open_connection_keeps_the_actor_awake,
    shutdown_puts_every_actor_to_sleep,
    keep_awake_holds_off_sleep_until_the_work_ends,
    shutdown_waits_for_keep_awake_work_up_to_the_grace_period,
);
