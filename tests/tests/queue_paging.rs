//! Queues longer than an actor's share of queue memory: what memory does not hold is read back
//! from storage, in order and intact, by the `#[queue]` handler and by the `#[run]` loop. An
//! actor whose messages nobody takes sleeps, start-up leaves it asleep (unless its code can
//! now take them), and a message wakes it with its queue as it was.

use std::time::Duration;

use rivet_core::{LifecycleKind, Registry, RegistryBuilder};
use rivet_tests::{
    Backend, PATIENCE, Sorter, SorterBacklog, Within, gate, on_each_backend, wait_for,
};

/// Bodies of about 1 KiB, of which 4 KiB stay in memory per actor: four at a time.
fn small_share(builder: RegistryBuilder) -> RegistryBuilder {
    builder.queue_memory(4096, 1 << 20)
}

/// A distinct text of about 1 KiB.
fn text(i: usize) -> String {
    format!("{i:04}-{}", "x".repeat(1000))
}

async fn the_run_loop_reads_back_what_memory_does_not_hold(backend: Backend) {
    let registry = backend.build(small_share(Registry::builder().with::<Sorter>()));
    let key = backend.key("paged-parcels");
    let sorter = registry.client().get_or_create::<Sorter>([key.as_str()]);
    let texts: Vec<String> = (0..100).map(text).collect();
    for text in &texts[..99] {
        sorter.send_parcels(text.clone()).within().await.unwrap();
    }
    // The run loop starts taking only now, with 99 messages stored and 4 in memory.
    gate(&format!("sorter:{key}")).add_permits(1);
    sorter
        .send_parcels(texts[99].clone())
        .wait(PATIENCE)
        .within()
        .await
        .unwrap();
    let sorted = sorter.sorted().within().await.unwrap();
    assert_eq!(sorted.parcels, texts);
    registry.shutdown().within().await;
}

async fn a_handler_works_off_a_backlog_longer_than_memory_after_a_restart(backend: Backend) {
    let key = backend.key("paged-letters");
    let texts: Vec<String> = (0..100).map(text).collect();
    let registry = backend.build(small_share(Registry::builder().with::<SorterBacklog>()));
    let backlog = registry
        .client()
        .get_or_create::<SorterBacklog>([key.as_str()]);
    for text in &texts {
        backlog.send_letters(text.clone()).within().await.unwrap();
    }
    // Nothing takes its messages: it stops dormant.
    registry.shutdown().within().await;

    let registry = backend.build(small_share(Registry::builder().with::<Sorter>()));
    registry.recovered().within().await;
    assert_eq!(
        registry.awake_count(),
        1,
        "its code has a handler now, so start-up woke it"
    );
    let sorter = registry.client().get_or_create::<Sorter>([key.as_str()]);
    sorter
        .send_letters("last".to_owned())
        .wait(PATIENCE)
        .within()
        .await
        .unwrap();
    let mut expected = texts;
    expected.push("last".to_owned());
    assert_eq!(sorter.sorted().within().await.unwrap().letters, expected);
    registry.shutdown().within().await;
}

async fn an_actor_whose_messages_nobody_takes_sleeps_and_start_up_leaves_it_asleep(
    backend: Backend,
) {
    let key = backend.key("dormant");
    // The run loop passes its gate at every wake and waits for parcels.
    gate(&format!("sorter:{key}")).add_permits(10);
    let sorters = || {
        backend.build(
            Registry::builder()
                .with::<Sorter>()
                .sleep_timeout(Duration::from_millis(50)),
        )
    };
    let registry = sorters();
    let mut events = registry.lifecycle_events();
    let sorter = registry.client().get_or_create::<Sorter>([key.as_str()]);
    for text in ["a", "b", "c"] {
        sorter.send_later(text.to_owned()).within().await.unwrap();
    }
    let id = sorter.resolve().within().await.unwrap();
    // Only `later` messages wait, and the run loop asks for parcels: the actor may sleep.
    wait_for(&mut events, &id, LifecycleKind::Slept).await;
    registry.shutdown().within().await;

    let registry = sorters();
    registry.recovered().within().await;
    assert_eq!(registry.awake_count(), 0, "start-up left it asleep");
    let sorter = registry.client().get_or_create::<Sorter>([key.as_str()]);
    sorter
        .send_parcels("later".to_owned())
        .wait(PATIENCE)
        .within()
        .await
        .unwrap();
    let sorted = sorter.sorted().within().await.unwrap();
    assert_eq!(sorted.later, ["a", "b", "c"], "kept while it slept");
    assert_eq!(sorted.parcels, ["later"]);
    registry.shutdown().within().await;
}

on_each_backend!(
    the_run_loop_reads_back_what_memory_does_not_hold,
    a_handler_works_off_a_backlog_longer_than_memory_after_a_restart,
    an_actor_whose_messages_nobody_takes_sleeps_and_start_up_leaves_it_asleep,
);
