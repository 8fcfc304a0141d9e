//! Durability on embedded SQLite: state, queue messages and hooks' changes survive a registry
//! restart on the same data directory.

use rivet_core::{LifecycleKind, codes};
use rivet_examples::chat_room::ChatRoom;
use rivet_examples::counter::Counter;
use rivet_examples::worker::{Job, Worker};
use rivet_tests::{PATIENCE, Probe, Task, Within, entered, gate, wait_for};

fn open(dir: &std::path::Path) -> rivet_core::Registry {
    rivet_examples::registry()
        .with::<Probe>()
        .data_dir(dir)
        .build()
        .expect("registry opens")
}

#[tokio::test]
async fn state_survives_a_registry_restart() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let registry = open(dir.path());
        let client = registry.client();
        let counter = client.get_or_create::<Counter>(["durable"]);
        counter.increment(5).within().await.unwrap();
        counter.increment(6).within().await.unwrap();
        let room = client.get_or_create::<ChatRoom>(["org", "room"]);
        room.send_message("a".to_owned(), "persisted".to_owned())
            .within()
            .await
            .unwrap();
        let id = counter.resolve().within().await.unwrap();
        registry.shutdown().within().await;
        id
    };
    let registry = open(dir.path());
    let client = registry.client();
    let counter = client.get::<Counter>(["durable"]);
    assert_eq!(counter.get_count().within().await.unwrap(), 11);
    assert_eq!(
        counter.resolve().within().await.unwrap(),
        id,
        "same actor, same id"
    );
    let history = client
        .get::<ChatRoom>(["org", "room"])
        .get_history()
        .within()
        .await
        .unwrap();
    assert_eq!(history[0].text, "persisted");
    registry.shutdown().within().await;
}

#[tokio::test]
async fn hooks_see_persisted_state_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    for round in 1..=3 {
        let registry = open(dir.path());
        let probe = registry.client().get_or_create::<Probe>(["hooks"]);
        let snapshot = probe.snapshot().within().await.unwrap();
        assert_eq!(snapshot.created, 1);
        assert_eq!(snapshot.wakes, round);
        assert_eq!(snapshot.sleeps, round - 1);
        registry.shutdown().within().await;
    }
}

#[tokio::test]
async fn destroyed_actors_stay_destroyed_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let registry = open(dir.path());
        let probe = registry.client().get_or_create::<Probe>(["gone"]);
        probe.set(3).within().await.unwrap();
        probe.destroy_me().within().await.unwrap();
        registry.shutdown().within().await;
    }
    let registry = open(dir.path());
    let err = registry
        .client()
        .get::<Probe>(["gone"])
        .snapshot()
        .within()
        .await
        .unwrap_err();
    assert!(err.is(codes::ACTOR_NOT_FOUND), "{err}");
    registry.shutdown().within().await;
}

#[tokio::test]
async fn accepted_queue_messages_survive_a_restart_and_are_processed() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let registry = open(dir.path());
        let probe = registry.client().get_or_create::<Probe>(["queued"]);
        let id = probe.resolve().within().await.unwrap();
        // Hold the actor in one turn so that three sends wait in its mailbox together; they
        // are then all stored before the first is processed. The first task holds its handler,
        // so the next two are stored but not processed when the registry shuts down.
        let held = {
            let probe = probe.clone();
            tokio::spawn(async move { probe.hold("queued-turn".to_owned()).within().await })
        };
        entered("queued-turn")
            .acquire()
            .within()
            .await
            .unwrap()
            .forget();
        let first = Task {
            hold: Some("queued-task".to_owned()),
            ..Task::add(1)
        };
        let sends: Vec<_> = [first, Task::add(2), Task::add(3)]
            .into_iter()
            .map(|task| {
                let probe = probe.clone();
                tokio::spawn(async move { probe.send_tasks(task).within().await })
            })
            .collect();
        tokio::task::yield_now().within().await;
        gate("queued-turn").add_permits(1);
        held.within().await.unwrap().unwrap();
        for send in sends {
            send.within().await.unwrap().unwrap();
        }
        entered("queued-task")
            .acquire()
            .within()
            .await
            .unwrap()
            .forget();
        let shutdown = {
            let registry = registry.clone();
            tokio::spawn(async move { registry.shutdown().within().await })
        };
        tokio::task::yield_now().within().await;
        gate("queued-task").add_permits(1);
        shutdown.within().await.unwrap();
        id
    };
    let registry = rivet_examples::registry()
        .with::<Probe>()
        .data_dir(dir.path())
        .sleep_timeout(std::time::Duration::from_millis(50))
        .build()
        .unwrap();
    // Nothing calls the actor: it wakes by itself for its queued messages, processes them, and
    // sleeps again.
    let mut events = registry.lifecycle_events();
    wait_for(&mut events, &id, LifecycleKind::Woke).await;
    wait_for(&mut events, &id, LifecycleKind::Slept).await;
    let probe = registry.client().get::<Probe>(["queued"]);
    assert_eq!(probe.processed().within().await.unwrap(), [1, 2, 3]);
    assert_eq!(probe.snapshot().within().await.unwrap().value, 6);
    registry.shutdown().within().await;
}

#[tokio::test]
async fn a_second_registry_on_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let first = open(dir.path());
    let second = rivet_examples::registry().data_dir(dir.path()).build();
    let err = second.expect_err("the directory is locked");
    assert!(err.to_string().contains("in use"), "{err}");
    first.shutdown().within().await;
    let third = open(dir.path());
    third.shutdown().within().await;
}

#[tokio::test]
async fn worker_totals_are_durable() {
    let dir = tempfile::tempdir().unwrap();
    {
        let registry = open(dir.path());
        let worker = registry.client().get_or_create::<Worker>(["w"]);
        for n in 1..=5 {
            worker
                .send_jobs(Job { n })
                .wait(PATIENCE)
                .within()
                .await
                .unwrap();
        }
        registry.shutdown().within().await;
    }
    let registry = open(dir.path());
    let worker = registry.client().get::<Worker>(["w"]);
    assert_eq!(worker.get_total().within().await.unwrap(), 15);
    assert_eq!(worker.get_processed().within().await.unwrap(), 5);
    registry.shutdown().within().await;
}
