//! The `#[run]` loop: it takes messages of declared queues with `cx.queue().next(..)`, changes
//! the state in committed turns, completes messages (answering waiting senders), stops when the
//! actor sleeps and starts again when it wakes; a message it did not complete comes back.

use std::time::Duration;

use rivet_core::{LifecycleKind, Registry};
use rivet_tests::{
    Backend, Batcher, Drain, Kicker, PATIENCE, Pipeline, Poller, Within, acquire, entered, gate,
    hook_log, on_each_backend, registry_on, wait_for,
};

async fn the_run_loop_takes_declared_queues_and_handlers_take_theirs(backend: Backend) {
    let registry = registry_on(&backend);
    let pipeline = registry.client().get_or_create::<Pipeline>(["flow"]);
    assert_eq!(
        pipeline
            .send_tasks(7)
            .wait(PATIENCE)
            .within()
            .await
            .unwrap(),
        1
    );
    pipeline.send_tasks(8).within().await.unwrap();
    // FIFO: the third completion counts all three.
    assert_eq!(
        pipeline
            .send_tasks(9)
            .wait(PATIENCE)
            .within()
            .await
            .unwrap(),
        3
    );
    assert_eq!(pipeline.done().within().await.unwrap(), [7, 8, 9]);
    // The handler queue never reaches the run loop.
    assert_eq!(
        pipeline
            .send_notes(1)
            .wait(PATIENCE)
            .within()
            .await
            .unwrap(),
        1
    );
    assert_eq!(pipeline.handled().within().await.unwrap(), [1]);
    assert_eq!(pipeline.done().within().await.unwrap(), [7, 8, 9]);
}

async fn the_run_loop_stops_on_sleep_and_starts_again_on_wake(backend: Backend) {
    let registry = registry_on(&backend);
    let mut events = registry.lifecycle_events();
    let key = backend.key("naps");
    let pipeline = registry.client().get_or_create::<Pipeline>([key.as_str()]);
    assert_eq!(
        pipeline
            .send_tasks(1)
            .wait(PATIENCE)
            .within()
            .await
            .unwrap(),
        1
    );
    let id = pipeline.resolve().within().await.unwrap();
    pipeline.nap().within().await.unwrap();
    wait_for(&mut events, &id, LifecycleKind::Slept).await;
    assert_eq!(hook_log(&key), ["run:start", "run:stop"]);
    // A message for a sleeping actor wakes it, and the new loop takes it.
    assert_eq!(
        pipeline
            .send_tasks(2)
            .wait(PATIENCE)
            .within()
            .await
            .unwrap(),
        2
    );
    assert_eq!(hook_log(&key), ["run:start", "run:stop", "run:start"]);
}

async fn a_stopping_loop_still_commits_its_last_turn_and_completion(backend: Backend) {
    let registry = registry_on(&backend);
    let mut events = registry.lifecycle_events();
    let key = backend.key("last-words");
    let pipeline = registry.client().get_or_create::<Pipeline>([key.as_str()]);
    let id = pipeline.resolve().within().await.unwrap();
    let sender = pipeline.clone();
    let waiting = tokio::spawn(async move { sender.send_tasks(501).wait(PATIENCE).await });
    // The loop holds 501 and waits to be told to stop.
    acquire(entered(&format!("pipeline-501:{key}"))).await;
    pipeline.nap().within().await.unwrap();
    wait_for(&mut events, &id, LifecycleKind::Slept).await;
    // Within the grace period its turn committed and its completion answered the sender.
    assert_eq!(waiting.within().await.expect("sender").unwrap(), 1);
    assert_eq!(pipeline.done().within().await.unwrap(), [501]);
}

async fn a_run_loop_turn_closes_a_connection_with_its_reason(backend: Backend) {
    let registry = registry_on(&backend);
    let kicker = registry.client().get_or_create::<Kicker>(["kick"]);
    let conn = kicker.connect().within().await.unwrap();
    kicker
        .send_kicks(conn.connection().connection_id())
        .within()
        .await
        .unwrap();
    // Nothing else reaches the actor: the turn alone closes the connection.
    let reason = conn.connection().closed().within().await.expect("a reason");
    assert_eq!(reason.full_code(), "user.kicked");
}

/// The examples and `A` on SQLite in `dir`, with a 50 ms grace period, so that a shutdown cuts
/// off a run loop that ignores its stop request; built again on the same `dir`, a restart.
fn on_disk<A: rivet_core::Actor>(dir: &std::path::Path) -> Registry {
    rivet_examples::registry()
        .with::<A>()
        .data_dir(dir)
        .sleep_grace_period(Duration::from_millis(50))
        .build()
        .expect("registry")
}

#[tokio::test]
async fn a_message_the_loop_did_not_complete_comes_back_after_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let build = || on_disk::<Pipeline>(dir.path());
    let registry: Registry = build();
    let pipeline = registry.client().get_or_create::<Pipeline>(["cut-loop"]);
    pipeline
        .send_tasks(1)
        .wait(PATIENCE)
        .within()
        .await
        .unwrap();
    // 500 blocks the loop while it holds the message (it says so once it took it); the
    // shutdown cancels the loop.
    pipeline.send_tasks(500).within().await.unwrap();
    acquire(entered("pipeline-500:cut-loop")).await;
    registry.shutdown().within().await;

    // Start-up wakes the actor for its queued message; this time the gate is open.
    gate("pipeline-500:cut-loop").add_permits(1);
    let registry = build();
    let pipeline = registry.client().get::<Pipeline>(["cut-loop"]);
    assert_eq!(
        pipeline
            .send_tasks(2)
            .wait(PATIENCE)
            .within()
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        pipeline.done().within().await.unwrap(),
        [1, 500, 2],
        "500 ran once, after the restart"
    );
    registry.shutdown().within().await;
}

async fn the_queue_reads_as_a_stream(backend: Backend) {
    let registry = registry_on(&backend);
    let drain = registry.client().get_or_create::<Drain>(["stream"]);
    for n in 1..=9 {
        drain.send_numbers(n).within().await.unwrap();
    }
    assert_eq!(
        drain
            .send_numbers(10)
            .wait(PATIENCE)
            .within()
            .await
            .unwrap(),
        55
    );
    assert_eq!(drain.sum().within().await.unwrap(), 55);
}

async fn next_batch_takes_up_to_n_messages_in_order(backend: Backend) {
    let registry = registry_on(&backend);
    let key = backend.key("batches");
    let batcher = registry.client().get_or_create::<Batcher>([key.as_str()]);
    for n in 1..=5 {
        batcher.send_items(n).within().await.unwrap();
    }
    // The loop asks for three at a time; all five are queued before it asks.
    gate(&format!("batcher:{key}")).add_permits(1);
    acquire(entered(&format!("batcher:{key}"))).await;
    assert_eq!(batcher.batches().within().await.unwrap(), [vec![1, 2, 3]]);
    gate(&format!("batcher:{key}")).add_permits(1);
    acquire(entered(&format!("batcher:{key}"))).await;
    assert_eq!(
        batcher.batches().within().await.unwrap(),
        [vec![1, 2, 3], vec![4, 5]]
    );
    // Acked, they are gone: the next batch holds only what came after.
    batcher.send_items(6).within().await.unwrap();
    gate(&format!("batcher:{key}")).add_permits(1);
    acquire(entered(&format!("batcher:{key}"))).await;
    assert_eq!(
        batcher.batches().within().await.unwrap(),
        [vec![1, 2, 3], vec![4, 5], vec![6]]
    );
}

async fn try_next_returns_none_at_once_on_an_empty_queue(backend: Backend) {
    let registry = registry_on(&backend);
    let key = backend.key("polls");
    let poller = registry.client().get_or_create::<Poller>([key.as_str()]);
    // Wakes the actor, and with it the loop; its queue is empty.
    assert!(poller.polls().within().await.unwrap().is_empty());
    // A poll that waited for a message would never finish: none is sent until it has.
    gate(&format!("poller:{key}")).add_permits(1);
    acquire(entered(&format!("poller:{key}"))).await;
    assert_eq!(poller.polls().within().await.unwrap(), [None]);
    poller.send_items(1).within().await.unwrap();
    poller.send_items(2).within().await.unwrap();
    for _ in 0..3 {
        gate(&format!("poller:{key}")).add_permits(1);
        acquire(entered(&format!("poller:{key}"))).await;
    }
    assert_eq!(
        poller.polls().within().await.unwrap(),
        [None, Some(1), Some(2), None]
    );
}

#[tokio::test]
async fn acked_messages_are_gone_after_a_restart_and_held_ones_come_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let build = || on_disk::<Batcher>(dir.path());
    let registry: Registry = build();
    let batcher = registry.client().get_or_create::<Batcher>(["acks"]);
    batcher.send_items(1).within().await.unwrap();
    batcher.send_items(2).within().await.unwrap();
    gate("batcher:acks").add_permits(1);
    acquire(entered("batcher:acks")).await;
    // Taken and acked. 7 and 0 are taken next, and the loop holds them without acking (0 asks
    // it to) until the shutdown cuts it off.
    batcher.send_items(7).within().await.unwrap();
    batcher.send_items(0).within().await.unwrap();
    gate("batcher:acks").add_permits(1);
    acquire(entered("batcher-hold:acks")).await;
    registry.shutdown().within().await;

    // Start-up wakes the actor for its queued messages; this time the loop acks them.
    gate("batcher-hold:acks").add_permits(1);
    gate("batcher:acks").add_permits(1);
    let registry = build();
    let batcher = registry.client().get::<Batcher>(["acks"]);
    acquire(entered("batcher:acks")).await;
    assert_eq!(
        batcher.batches().within().await.unwrap(),
        [vec![1, 2], vec![7, 0], vec![7, 0]],
        "1 and 2 did not come back; 7 and 0 did, in order"
    );
    registry.shutdown().within().await;
}

on_each_backend!(
    the_run_loop_takes_declared_queues_and_handlers_take_theirs,
    the_run_loop_stops_on_sleep_and_starts_again_on_wake,
    a_stopping_loop_still_commits_its_last_turn_and_completion,
    a_run_loop_turn_closes_a_connection_with_its_reason,
    the_queue_reads_as_a_stream,
    next_batch_takes_up_to_n_messages_in_order,
    try_next_returns_none_at_once_on_an_empty_queue,
);
