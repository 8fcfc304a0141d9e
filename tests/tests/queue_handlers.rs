//! `#[queue]` handlers: messages are stored durably, processed in order one at a time between
//! other turns, and can be waited on for their completion value.

use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use rivet_core::codes;
use rivet_examples::worker::{Job, JobDone, Worker};
use rivet_tests::{
    Backend, PATIENCE, Probe, Task, Turns, Within, acquire, entered, gate, on_each_backend,
    registry_on, test_actors,
};

/// Polls `future` once, so that a call to an awake actor is in its mailbox when this returns;
/// fails the test if the call already finished (the actor was meant to be held).
async fn start<F: Future + Unpin>(future: &mut F) {
    std::future::poll_fn(|cx| {
        assert!(
            Pin::new(&mut *future).poll(cx).is_pending(),
            "the call finished while the actor was held"
        );
        Poll::Ready(())
    })
    .await;
}

/// Adds to a total; actions queue work for it with `cx.enqueue`.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct Enqueuer {
    total: u64,
}

#[rivet_core::actor(name = "enqueuer")]
impl Enqueuer {
    /// Adds `n`; completes with the total.
    #[queue]
    fn jobs(&mut self, n: u64) -> u64 {
        self.total += n;
        self.total
    }

    /// Queues one job per number, then fails if asked to (which takes the jobs back).
    #[action]
    fn enqueue_jobs(
        &self,
        cx: &mut rivet_core::Cx<Self>,
        ns: Vec<u64>,
        fail: bool,
    ) -> Result<(), rivet_core::Error> {
        for n in ns {
            cx.enqueue("jobs", &n)?;
        }
        if fail {
            return Err(rivet_core::UserError::new("failed", "on purpose").into());
        }
        Ok(())
    }

    /// Queues to a queue the actor does not declare.
    #[action]
    fn enqueue_nowhere(&self, cx: &mut rivet_core::Cx<Self>) -> Result<(), rivet_core::Error> {
        cx.enqueue("nowhere", &1)
    }
}

/// `cx.enqueue` adds to the actor's own queue with the turn: the jobs of a turn that commits
/// are taken in order before a later send, those of a failed turn never.
async fn cx_enqueue_joins_the_turn(backend: Backend) {
    let registry = backend.build(rivet_core::Registry::builder().with::<Enqueuer>());
    let enqueuer = registry.client().get_or_create::<Enqueuer>(["own"]);
    enqueuer
        .enqueue_jobs(vec![1, 2], false)
        .within()
        .await
        .unwrap();
    let err = enqueuer
        .enqueue_jobs(vec![100], true)
        .within()
        .await
        .unwrap_err();
    assert_eq!(err.code, "failed");
    let err = enqueuer.enqueue_nowhere().within().await.unwrap_err();
    assert!(err.is(codes::QUEUE_NOT_FOUND), "{err}");
    // FIFO: the completion of a later send counts every job queued before it.
    let total = enqueuer
        .send_jobs(10)
        .wait(PATIENCE)
        .within()
        .await
        .unwrap();
    assert_eq!(
        total, 13,
        "1 + 2 + 10: the failed turn's 100 was not queued"
    );
    registry.shutdown().within().await;
}

async fn send_and_wait_returns_the_completion(backend: Backend) {
    let registry = registry_on(&backend);
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

async fn messages_are_processed_in_order_between_turns(backend: Backend) {
    let registry = registry_on(&backend);
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

async fn a_failing_handler_reports_to_the_waiter_and_the_queue_goes_on(backend: Backend) {
    let registry = registry_on(&backend);
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

async fn invalid_messages_and_unknown_queues_are_refused(backend: Backend) {
    let registry = registry_on(&backend);
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

async fn queue_limits_are_enforced(backend: Backend) {
    let registry = backend.build(test_actors().max_queue_message_size(64));
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

async fn a_full_queue_refuses_more(backend: Backend) {
    let registry = backend.build(test_actors().max_queue_size(3));
    let full = backend.key("full");
    let probe = registry.client().get_or_create::<Probe>(["full"]);
    // Hold the actor inside one turn, so that five sends wait in its mailbox together.
    let held = {
        let probe = probe.clone();
        let full = full.clone();
        tokio::spawn(async move { probe.hold(full).within().await })
    };
    entered(&full).acquire().within().await.unwrap().forget();
    let sends: Vec<_> = (0..5)
        .map(|add| {
            let probe = probe.clone();
            tokio::spawn(async move { probe.send_tasks(Task::add(add)).within().await })
        })
        .collect();
    // On this single-threaded runtime, one yield lets every spawned send reach the mailbox.
    tokio::task::yield_now().within().await;
    gate(&full).add_permits(1);
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

async fn a_wait_that_expires_is_timed_out_and_the_message_still_runs(backend: Backend) {
    let registry = registry_on(&backend);
    let name = backend.key("slow-task");
    let probe = registry.client().get_or_create::<Probe>(["slow-task"]);
    // The handler holds the message until the gate opens, which happens only after the wait
    // ended: it cannot complete in time, however fast the machine.
    let slow = Task {
        add: 5,
        hold: Some(name.clone()),
        ..Task::default()
    };
    let err = probe
        .send_tasks(slow)
        .wait(Duration::from_millis(50))
        .within()
        .await
        .unwrap_err();
    assert!(err.is(codes::QUEUE_TIMED_OUT), "{err}");
    // The message stayed queued: the handler takes it, and finishes once the gate opens.
    acquire(entered(&name)).await;
    gate(&name).add_permits(1);
    let value = probe
        .send_tasks(Task::add(1))
        .wait(PATIENCE)
        .within()
        .await
        .unwrap();
    assert_eq!(value, 6);
    assert_eq!(probe.processed().within().await.unwrap(), [5, 1]);
}

async fn a_busy_mailbox_lets_a_waiting_queue_message_run_within_32_calls(backend: Backend) {
    let registry = registry_on(&backend);
    let name = backend.key("fair");
    let turns = registry.client().get_or_create::<Turns>(["fair"]);
    // Hold the actor in a turn, so that the queue message and then 100 calls line up in its
    // mailbox before any of them runs.
    let held = {
        let turns = turns.clone();
        let name = name.clone();
        tokio::spawn(async move { turns.hold(name).within().await })
    };
    acquire(entered(&name)).await;
    let mut send = std::pin::pin!(turns.send_jobs(1).into_future());
    start(&mut send).await;
    let mut calls: Vec<_> = (1..=100).map(|n| Box::pin(turns.note(n))).collect();
    for call in &mut calls {
        start(call).await;
    }
    gate(&name).add_permits(1);
    held.within().await.unwrap().unwrap();
    send.within().await.unwrap();
    for call in calls {
        call.within().await.unwrap();
    }
    let mut order = turns.order().within().await.unwrap();
    let queued = order
        .iter()
        .position(|turn| turn == "q1")
        .expect("the queue message ran");
    // The calls ran in order, and the queue message between them: after at least one (the
    // mailbox was not empty when it was accepted) and at most 32 (the streak limit), not after
    // all 100.
    assert!(
        (1..=32).contains(&queued),
        "{queued} calls first: {order:?}"
    );
    order.remove(queued);
    let calls: Vec<String> = (1..=100).map(|n| format!("a{n}")).collect();
    assert_eq!(order, calls);
}

on_each_backend!(
    cx_enqueue_joins_the_turn,
    a_wait_that_expires_is_timed_out_and_the_message_still_runs,
    a_busy_mailbox_lets_a_waiting_queue_message_run_within_32_calls,
    send_and_wait_returns_the_completion,
    messages_are_processed_in_order_between_turns,
    a_failing_handler_reports_to_the_waiter_and_the_queue_goes_on,
    invalid_messages_and_unknown_queues_are_refused,
    queue_limits_are_enforced,
    a_full_queue_refuses_more,
);

/// A queue message is stored as its type holds it: fields the type does not know, however large,
/// are not kept.
#[tokio::test]
async fn queue_messages_are_stored_as_their_type_holds_them() {
    let dir = tempfile::tempdir().unwrap();
    let registry = rivet_core::Registry::builder()
        .with::<rivet_tests::TaskBacklog>()
        .data_dir(dir.path())
        .build()
        .unwrap();
    let (registry, endpoint) = rivet_tests::serve(registry).await;
    let url = rivet_tests::query_url(
        &endpoint,
        "taskWorker",
        "typed",
        "getOrCreate",
        "/queue/tasks",
    );
    let body = serde_json::json!({"body": {"id": 1, "amount": 2, "junk": "j".repeat(50_000)}});
    let sent = rivet_tests::support::net::http()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .within()
        .await
        .unwrap();
    assert_eq!(sent.status().as_u16(), 200);
    registry.shutdown().within().await;
    let db = rusqlite::Connection::open(dir.path().join("rivet.db")).unwrap();
    let stored: Vec<Vec<u8>> = db
        .prepare("SELECT value FROM kv WHERE substr(key, 1, 3) = x'050102'")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(stored.len(), 1, "one queued message");
    assert!(stored[0].len() < 64, "{} bytes stored", stored[0].len());
    assert!(!stored[0].windows(4).any(|w| w == b"junk"));
}
