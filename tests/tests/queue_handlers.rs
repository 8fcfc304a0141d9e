//! `#[queue]` handlers: messages are stored durably, processed in order one at a time between
//! other turns, and can be waited on for their completion value.

use rivet_core::codes;
use rivet_examples::worker::{Job, JobDone, Worker};
use rivet_tests::{PATIENCE, Probe, Task, Within, entered, gate, memory_registry};

#[tokio::test]
async fn send_and_wait_returns_the_completion() {
    let registry = memory_registry();
    let worker = registry.client().get_or_create::<Worker>(["wait"]);
    let done = worker
        .send_jobs(Job { n: 4 })
        .wait(PATIENCE)
        .within()
        .await
        .unwrap();
    assert_eq!(done, JobDone { total: 4 });
    let done = worker
        .send_jobs(Job { n: 6 })
        .wait(PATIENCE)
        .within()
        .await
        .unwrap();
    assert_eq!(done, JobDone { total: 10 });
}

#[tokio::test]
async fn messages_are_processed_in_order_between_turns() {
    let registry = memory_registry();
    let probe = registry.client().get_or_create::<Probe>(["order"]);
    for add in 1..=20 {
        probe.send_tasks(Task::add(add)).within().await.unwrap();
    }
    // The last one, waited on, completes after all before it.
    let value = probe
        .send_tasks(Task::add(21))
        .wait(PATIENCE)
        .within()
        .await
        .unwrap();
    assert_eq!(value, (1..=21).sum::<i64>());
    assert_eq!(
        probe.processed().within().await.unwrap(),
        (1..=21).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_failing_handler_reports_to_the_waiter_and_the_queue_goes_on() {
    let registry = memory_registry();
    let probe = registry.client().get_or_create::<Probe>(["failing"]);
    let err = probe
        .send_tasks(Task {
            fail: true,
            ..Task::default()
        })
        .wait(PATIENCE)
        .within()
        .await
        .unwrap_err();
    assert_eq!(err.code, "task_failed");
    let value = probe
        .send_tasks(Task::add(3))
        .wait(PATIENCE)
        .within()
        .await
        .unwrap();
    assert_eq!(value, 3, "the failed handler's change was rolled back");
}

#[tokio::test]
async fn invalid_messages_and_unknown_queues_are_refused() {
    let registry = memory_registry();
    let worker = registry.client().get_or_create::<Worker>(["invalid"]);
    let handle = worker.handle();
    let err = handle
        .queue_send::<(), _>("jobs", &"not a job")
        .within()
        .await
        .unwrap_err();
    assert!(err.is(codes::VALIDATION_ERROR), "{err}");
    let err = handle
        .queue_send::<(), _>("nope", &1)
        .within()
        .await
        .unwrap_err();
    assert!(err.is(codes::QUEUE_NOT_FOUND), "{err}");
    assert_eq!(worker.get_total().within().await.unwrap(), 0);
}

#[tokio::test]
async fn queue_limits_are_enforced() {
    let registry = rivet_examples::registry()
        .in_memory()
        .max_queue_message_size(64)
        .build()
        .unwrap();
    let worker = registry.client().get_or_create::<Worker>(["limits"]);
    let err = worker
        .handle()
        .queue_send::<(), _>(
            "jobs",
            &serde_json::json!({ "n": 1, "pad": "x".repeat(100) }),
        )
        .within()
        .await
        .unwrap_err();
    assert!(err.is(codes::QUEUE_MESSAGE_TOO_LARGE), "{err}");
}

#[tokio::test]
async fn a_full_queue_refuses_more() {
    let registry = rivet_examples::registry()
        .with::<Probe>()
        .in_memory()
        .max_queue_size(3)
        .build()
        .unwrap();
    let probe = registry.client().get_or_create::<Probe>(["full"]);
    // Hold the actor inside one turn, so that five sends wait in its mailbox together.
    let held = {
        let probe = probe.clone();
        tokio::spawn(async move { probe.hold("full".to_owned()).within().await })
    };
    entered("full").acquire().within().await.unwrap().forget();
    let sends: Vec<_> = (0..5)
        .map(|add| {
            let probe = probe.clone();
            tokio::spawn(async move { probe.send_tasks(Task::add(add)).within().await })
        })
        .collect();
    // On this single-threaded runtime, one yield lets every spawned send reach the mailbox.
    tokio::task::yield_now().within().await;
    gate("full").add_permits(1);
    held.within().await.unwrap().unwrap();
    let mut accepted = 0;
    let mut refused = 0;
    for send in sends {
        match send.within().await.unwrap() {
            Ok(()) => accepted += 1,
            Err(e) if e.is(codes::QUEUE_FULL) => refused += 1,
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!((accepted, refused), (3, 2));
    let value = probe
        .send_tasks(Task::add(100))
        .wait(PATIENCE)
        .within()
        .await
        .unwrap();
    // The three accepted tasks added 0, 1 and 2.
    assert_eq!(value, 3 + 100);
}
