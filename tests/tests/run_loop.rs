//! The `#[run]` loop: it takes messages of declared queues with `cx.queue().next(..)`, changes
//! the state in committed turns, completes messages (answering waiting senders), stops when the
//! actor sleeps and starts again when it wakes; a message it did not complete comes back.

use std::time::Duration;

use rivet_core::{LifecycleKind, Registry};
use rivet_tests::{
    Kicker, PATIENCE, Pipeline, Within, acquire, entered, gate, hook_log, memory_registry, wait_for,
};

#[tokio::test]
async fn the_run_loop_takes_declared_queues_and_handlers_take_theirs() {
    let registry = memory_registry();
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

#[tokio::test]
async fn the_run_loop_stops_on_sleep_and_starts_again_on_wake() {
    let registry = memory_registry();
    let mut events = registry.lifecycle_events();
    let pipeline = registry.client().get_or_create::<Pipeline>(["naps"]);
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
    assert_eq!(hook_log("naps"), ["run:start", "run:stop"]);
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
    assert_eq!(hook_log("naps"), ["run:start", "run:stop", "run:start"]);
}

#[tokio::test]
async fn a_stopping_loop_still_commits_its_last_turn_and_completion() {
    let registry = memory_registry();
    let mut events = registry.lifecycle_events();
    let pipeline = registry.client().get_or_create::<Pipeline>(["last-words"]);
    let id = pipeline.resolve().within().await.unwrap();
    let sender = pipeline.clone();
    let waiting = tokio::spawn(async move { sender.send_tasks(501).wait(PATIENCE).await });
    // The loop holds 501 and waits to be told to stop.
    acquire(entered("pipeline-501")).await;
    pipeline.nap().within().await.unwrap();
    wait_for(&mut events, &id, LifecycleKind::Slept).await;
    // Within the grace period its turn committed and its completion answered the sender.
    assert_eq!(waiting.within().await.expect("sender").unwrap(), 1);
    assert_eq!(pipeline.done().within().await.unwrap(), [501]);
}

#[tokio::test]
async fn a_run_loop_turn_closes_a_connection_with_its_reason() {
    let registry = memory_registry();
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

#[tokio::test]
async fn a_message_the_loop_did_not_complete_comes_back_after_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let build = || {
        rivet_examples::registry()
            .with::<Pipeline>()
            .data_dir(dir.path())
            .sleep_grace_period(Duration::from_millis(50))
            .build()
            .expect("registry")
    };
    let registry: Registry = build();
    let pipeline = registry.client().get_or_create::<Pipeline>(["cut-loop"]);
    pipeline
        .send_tasks(1)
        .wait(PATIENCE)
        .within()
        .await
        .unwrap();
    // 500 blocks the loop while it holds the message; the shutdown cancels the loop.
    pipeline.send_tasks(500).within().await.unwrap();
    registry.shutdown().within().await;

    // Start-up wakes the actor for its queued message; this time the gate is open.
    gate("pipeline-500").add_permits(1);
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

#[tokio::test]
async fn the_queue_reads_as_a_stream() {
    let registry = memory_registry();
    let drain = registry
        .client()
        .get_or_create::<rivet_tests::Drain>(["stream"]);
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
