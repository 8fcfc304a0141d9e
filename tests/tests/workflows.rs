//! Durable workflows: recorded steps replay without running again, a restart in the middle of
//! a step runs only that step again, renaming a recorded step is refused and `removed` is the
//! way out, retries and timeouts, join and race (a failed join branch cancels its siblings), a
//! durable sleep across an actor's sleep, `sleep_until` a past time and its replay, loop
//! iterations pruned from the history, and the example workflows (`taskWorker`, `order`). Each
//! runs on both storages; a restart is a new registry on the same one.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rivet_core::workflow::{EntryKind, WorkflowStatus};
use rivet_core::{LifecycleKind, Registry};
use rivet_examples::order::{Inventory, Order, OrderStatus, PlaceOrder, Receipt};
use rivet_examples::task_worker::{Task, TaskDone, TaskWorker};
use rivet_tests::{
    Backend, Bloat, CHORES_REST, Chores, Flow, FlowVersion, Joiner, PATIENCE, Racer, Sleeper,
    Within, acquire, entered, eventually, gate, hook_log, on_each_backend, set_flow_version,
    set_sleeper_time, wait_for, workflow_ended,
};

/// The registry of these tests on `backend`; called again once the last one shut down, a
/// restart.
fn registry(backend: &Backend) -> Registry {
    backend.build(
        rivet_examples::registry()
            .with::<Flow>()
            .with::<Chores>()
            .with::<Bloat>()
            .with::<Racer>()
            .with::<Sleeper>()
            .with::<Joiner>()
            .sleep_grace_period(Duration::from_millis(50)),
    )
}

async fn a_workflow_runs_each_entry_once_and_records_its_history(backend: Backend) {
    let key = backend.key("once");
    let registry = registry(&backend);
    gate(&format!("flow:{key}")).add_permits(1);
    let flow = registry.client().get_or_create::<Flow>([key.as_str()]);
    // 2 * 10, then the loop adds 1, 2 and 3.
    assert_eq!(
        flow.send_start(2).wait(PATIENCE).within().await.unwrap(),
        26
    );
    acquire(workflow_ended(&key)).await;
    assert_eq!(
        flow.log().within().await.unwrap(),
        ["prepare", "gated", "add:0", "add:1", "add:2", "finish:26"]
    );
    assert_eq!(
        hook_log(&key),
        ["prepare", "gated", "add:0", "add:1", "add:2", "ended:ok"]
    );

    let history = flow.history().within().await.unwrap().expect("history");
    assert_eq!(history.status, WorkflowStatus::Completed);
    assert_eq!(history.output, Some(serde_json::json!(26)));
    let paths: Vec<&str> = history.entries.iter().map(|e| e.path.as_str()).collect();
    // In the order reached; the loop's finished iterations are gone.
    assert_eq!(paths, ["start", "prepare", "gated", "sum", "finish"]);
    assert_eq!(
        history.entry("prepare").expect("prepare").kind,
        EntryKind::Step {
            output: serde_json::json!(20)
        }
    );
    assert_eq!(history.entry("prepare").expect("prepare").attempts, 1);
    assert!(matches!(
        &history.entry("start").expect("start").kind,
        EntryKind::Message { name: Some(name), body: Some(body) } if name == "start" && body == &serde_json::json!(2)
    ));
    assert!(matches!(
        &history.entry("sum").expect("sum").kind,
        EntryKind::Loop { iteration: 3, output: Some(out), .. } if out == &serde_json::json!(26)
    ));

    // A finished workflow does not run again when the actor wakes: it returns its recorded
    // output at once, running no step.
    registry.shutdown().within().await;
    let registry = self::registry(&backend);
    let flow = registry.client().get::<Flow>([key.as_str()]);
    assert_eq!(flow.log().within().await.unwrap().len(), 6);
    acquire(workflow_ended(&key)).await;
    assert_eq!(
        hook_log(&key),
        [
            "prepare", "gated", "add:0", "add:1", "add:2", "ended:ok", "ended:ok"
        ]
    );
}

async fn a_restart_inside_a_step_replays_the_recorded_entries_and_runs_only_that_step_again(
    backend: Backend,
) {
    let key = backend.key("cut");
    let registry = registry(&backend);
    let flow = registry.client().get_or_create::<Flow>([key.as_str()]);
    flow.send_start(1).within().await.unwrap();
    // Inside `gated`, after `start` and `prepare` were recorded: stop the process there.
    acquire(entered(&format!("flow:{key}"))).await;
    registry.shutdown().within().await;

    gate(&format!("flow:{key}")).add_permits(1);
    // Start-up wakes the actor, whose workflow is unfinished; nothing else calls it.
    let registry = self::registry(&backend);
    acquire(workflow_ended(&key)).await;
    assert_eq!(
        hook_log(&key),
        [
            "prepare", "gated", "gated", "add:0", "add:1", "add:2", "ended:ok"
        ],
        "prepare ran once; the gated step cut off ran again"
    );
    let flow = registry.client().get::<Flow>([key.as_str()]);
    assert_eq!(
        flow.log().within().await.unwrap(),
        ["prepare", "gated", "add:0", "add:1", "add:2", "finish:16"],
        "each state change happened once"
    );
}

async fn renaming_a_recorded_step_diverges_and_removed_is_the_way_to_drop_it(backend: Backend) {
    let key = backend.key("renamed");
    let registry = registry(&backend);
    let flow = registry.client().get_or_create::<Flow>([key.as_str()]);
    flow.send_start(3).within().await.unwrap();
    acquire(entered(&format!("flow:{key}"))).await;
    registry.shutdown().within().await;

    // The new code calls the recorded `prepare` step `setup`.
    set_flow_version(&key, FlowVersion::Renamed);
    let registry = self::registry(&backend);
    acquire(workflow_ended(&key)).await;
    assert_eq!(
        hook_log(&key).last().map(String::as_str),
        Some("ended:workflow.history_diverged")
    );
    let flow = registry.client().get::<Flow>([key.as_str()]);
    let history = flow.history().within().await.unwrap().expect("history");
    match &history.status {
        WorkflowStatus::Failed { code, message } => {
            assert_eq!(code, "workflow.history_diverged");
            assert!(
                message.contains("`prepare`") && message.contains("`setup`"),
                "{message}"
            );
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    assert_eq!(
        flow.log().within().await.unwrap(),
        ["prepare"],
        "setup did not run"
    );
    registry.shutdown().within().await;

    // `removed("prepare")` skips the recorded step; the rest resumes.
    set_flow_version(&key, FlowVersion::Removed);
    gate(&format!("flow:{key}")).add_permits(1);
    let registry = self::registry(&backend);
    acquire(workflow_ended(&key)).await;
    assert_eq!(
        hook_log(&key),
        [
            "prepare",
            "gated",
            "ended:workflow.history_diverged",
            "gated",
            "add:0",
            "add:1",
            "add:2",
            "ended:ok"
        ]
    );
    let flow = registry.client().get::<Flow>([key.as_str()]);
    assert_eq!(
        flow.log().within().await.unwrap(),
        ["prepare", "gated", "add:0", "add:1", "add:2", "finish:36"]
    );

    // A workflow that never recorded the step gets a placeholder in its place.
    let fresh_key = backend.key("fresh");
    set_flow_version(&fresh_key, FlowVersion::Removed);
    gate(&format!("flow:{fresh_key}")).add_permits(1);
    let fresh = registry
        .client()
        .get_or_create::<Flow>([fresh_key.as_str()]);
    assert_eq!(
        fresh.send_start(1).wait(PATIENCE).within().await.unwrap(),
        16
    );
    let history = fresh.history().within().await.unwrap().expect("history");
    assert_eq!(
        history.entry("prepare").expect("placeholder").kind,
        EntryKind::Removed
    );
    assert_eq!(history.entry("gated").expect("gated").index, 2);
}

async fn retries_timeouts_join_race_and_a_durable_sleep_through_an_actor_sleep(backend: Backend) {
    let key = backend.key("chores");
    let registry = backend.build(
        rivet_examples::registry()
            .with::<Chores>()
            // Short, to keep the test fast: the workflow keeps the actor awake except in its
            // waits, which last many times longer.
            .sleep_timeout(Duration::from_millis(100)),
    );
    let mut events = registry.lifecycle_events();
    let chores = registry.client().get_or_create::<Chores>([key.as_str()]);
    // Queued before the race starts, so the message branch wins it.
    chores.send_pokes(7).within().await.unwrap();
    let id = chores.resolve().within().await.unwrap();
    // The workflow waits out `quiet` (a queue wait with a timeout), then `rest` (a durable
    // sleep), and the actor sleeps in each: the recorded deadline wakes it, twice.
    for _ in 0..2 {
        wait_for(&mut events, &id, LifecycleKind::Slept).await;
        wait_for(&mut events, &id, LifecycleKind::Woke).await;
    }
    acquire(workflow_ended(&key)).await;
    assert_eq!(
        hook_log(&key),
        [
            "flaky:1",
            "flaky:2",
            "flaky:3",
            "slow:1",
            "slow:2",
            "l",
            "r",
            "before-rest",
            "doomed:1",
            "doomed:2",
            "ended:workflow.step_failed"
        ],
        "after the wake, the recorded steps were not run again"
    );
    assert_eq!(chores.log().within().await.unwrap(), ["3 2 [1, 2] 7 true"]);

    // Idle since the end, the actor may have slept. Then a call wakes it, and the new
    // activation's workflow (a failure is not stored) replays its history and fails again: its
    // history shows once loaded, and its status once the replay has ended.
    let history = eventually(|| async {
        let history = chores.history().within().await.unwrap()?;
        (history.status != WorkflowStatus::Running).then_some(history)
    })
    .await;
    match &history.status {
        WorkflowStatus::Failed { code, message } => {
            assert_eq!(code, "workflow.step_failed");
            assert!(
                message.contains("doomed") && message.contains("2 attempt"),
                "{message}"
            );
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    assert_eq!(history.entry("flaky").expect("flaky").attempts, 3);
    assert_eq!(history.entry("slow").expect("slow").attempts, 2);
    assert!(history.entry("both/left/l").is_some() && history.entry("both/right/r").is_some());
    assert!(matches!(
        &history.entry("first").expect("race").kind,
        EntryKind::Race { winner: Some(w), output: Some(o) } if w == "message" && o == &serde_json::json!(7)
    ));
    // Clock readings are compared only where their order is certain: the sleep's end was taken
    // after the step before it completed and before the sleep's record was made.
    let rest_ms = i64::try_from(CHORES_REST.as_millis()).expect("ms");
    let rest = history.entry("rest").expect("rest");
    let EntryKind::Sleep { until_ms } = rest.kind else {
        panic!("rest is not a sleep");
    };
    let before_rest = history.entry("before-rest").expect("before-rest");
    let after = before_rest.completed_at_ms.expect("completed");
    assert!(
        after + rest_ms <= until_ms && until_ms <= rest.created_at_ms + rest_ms,
        "the sleep ends at {until_ms}, {rest_ms} ms after neither {after} nor {}",
        rest.created_at_ms
    );
    let quiet = history.entry("quiet").expect("quiet");
    assert_eq!(
        quiet.kind,
        EntryKind::Message {
            name: None,
            body: None
        }
    );
    // The wait began after the race was decided, and timed out no earlier than its length.
    let decided = history
        .entry("first")
        .and_then(|e| e.completed_at_ms)
        .expect("decided");
    let waited = quiet.completed_at_ms.expect("ended") - decided;
    assert!(
        waited >= rest_ms,
        "the wait ended {waited} ms after the race"
    );
    assert!(
        history.entry("doomed").is_none(),
        "a failed step records nothing"
    );
}

async fn the_task_worker_answers_each_task_and_keeps_only_the_current_iteration(backend: Backend) {
    let registry = registry(&backend);
    let worker = registry.client().get_or_create::<TaskWorker>(["tasks"]);
    for id in 1..=20 {
        let done = worker
            .send_tasks(Task { id, amount: id })
            .wait(PATIENCE)
            .within()
            .await
            .unwrap();
        assert_eq!(done, TaskDone { id });
    }
    assert_eq!(worker.get_processed().within().await.unwrap(), 20);
    assert_eq!(worker.get_total().within().await.unwrap(), 210);
    let history = worker.history().within().await.unwrap().expect("history");
    assert_eq!(history.status, WorkflowStatus::Running);
    let loop_entry = history.entry("task-loop").expect("loop");
    assert!(matches!(
        loop_entry.kind,
        EntryKind::Loop { iteration: 20, .. }
    ));
    // The loop entry, and at most the current iteration's wait.
    assert!(history.entries.len() <= 2, "{:?}", history.entries);
}

async fn an_order_reserves_in_another_actor_then_charges_or_releases(backend: Backend) {
    let registry = registry(&backend);
    let client = registry.client();
    let inventory = client.get_or_create::<Inventory>(["lamp"]);
    assert_eq!(inventory.get_stock().within().await.unwrap(), 10);

    let place = |quantity, window_ms| PlaceOrder {
        item: "lamp".into(),
        quantity,
        unit_cents: 250,
        payment_window_ms: window_ms,
    };
    // Paid within the window: charged. Nothing completes the `pay` message; its sender is
    // answered (with nothing) when the workflow that received it ends.
    let paid = client.get_or_create::<Order>(["paid"]);
    let (placed, payment) = tokio::join!(
        paid.send_place(place(3, 60_000)).wait(PATIENCE),
        paid.send_pay(750).wait(PATIENCE)
    );
    assert_eq!(
        placed.unwrap(),
        Receipt {
            status: OrderStatus::Charged,
            charged_cents: 750
        }
    );
    payment.unwrap();
    assert_eq!(inventory.get_stock().within().await.unwrap(), 7);

    // Never paid: the window closes and the stock goes back.
    let unpaid = client.get_or_create::<Order>(["unpaid"]);
    let receipt = unpaid
        .send_place(place(4, 50))
        .wait(PATIENCE)
        .within()
        .await
        .unwrap();
    assert_eq!(receipt.status, OrderStatus::Expired);
    assert_eq!(
        unpaid.get_status().within().await.unwrap(),
        OrderStatus::Expired
    );
    assert_eq!(inventory.get_stock().within().await.unwrap(), 7);

    // More than is left: rejected without waiting.
    let greedy = client.get_or_create::<Order>(["greedy"]);
    let receipt = greedy
        .send_place(place(8, 60_000))
        .wait(PATIENCE)
        .within()
        .await
        .unwrap();
    assert_eq!(receipt.status, OrderStatus::Rejected);
    assert_eq!(inventory.get_stock().within().await.unwrap(), 7);

    let history = paid.history().within().await.unwrap().expect("history");
    let paths: Vec<&str> = history.entries.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "placed",
            "reserve",
            "mark-reserved",
            "await-payment",
            "await-payment/expired/payment-window",
            "await-payment/paid/payment",
            "settle"
        ]
    );
}

async fn a_step_whose_state_change_cannot_be_committed_does_not_count_as_done(backend: Backend) {
    let key = backend.key("bloat");
    let registry = registry(&backend);
    let bloat = registry.client().get_or_create::<Bloat>([key.as_str()]);
    // The first call wakes the actor; the workflow starts with it.
    assert_eq!(bloat.blob_len().within().await.unwrap(), 0);
    acquire(workflow_ended(&key)).await;
    assert_eq!(hook_log(&key), ["ended:workflow.step_failed"]);
    assert_eq!(
        bloat.blob_len().within().await.unwrap(),
        0,
        "the state change was refused"
    );
    let history = bloat.history().within().await.unwrap().expect("history");
    assert!(history.entries.is_empty(), "{:?}", history.entries);
    assert!(
        matches!(
            &history.status,
            WorkflowStatus::Failed { code, message }
                if code == "workflow.step_failed" && message.contains("actor.state_too_large")
        ),
        "{:?}",
        history.status
    );
}

async fn a_message_a_losing_branch_received_last_goes_back_to_the_queue(backend: Backend) {
    let key = backend.key("loser");
    let registry = registry(&backend);
    let racer = registry.client().get_or_create::<Racer>([key.as_str()]);
    // `listen` records the message, then `work` wins the race: the message is given back, and
    // the wait after the race gets it; its sender, still waiting, gets the answer from there.
    let doubled = racer
        .send_numbers(21)
        .wait(PATIENCE)
        .within()
        .await
        .unwrap();
    assert_eq!(doubled, 42);
    assert_eq!(racer.got().within().await.unwrap(), [21]);
    acquire(workflow_ended(&key)).await;
    assert_eq!(hook_log(&key), ["ended:ok"]);
}

async fn sleep_until_a_past_time_completes_at_once_and_replay_keeps_the_recorded_time(
    backend: Backend,
) {
    let key = backend.key("sleeper");
    set_sleeper_time(&key, UNIX_EPOCH + Duration::from_secs(1));
    let registry = registry(&backend);
    let sleeper = registry.client().get_or_create::<Sleeper>([key.as_str()]);
    // Creating the actor wakes it, and its workflow starts. A time in the past does not wait:
    // the step after the sleep runs.
    sleeper.resolve().within().await.unwrap();
    acquire(entered(&format!("sleeper:{key}"))).await;
    assert_eq!(hook_log(&key), ["before", "after"]);
    let history = sleeper.history().within().await.unwrap().expect("history");
    let until = history.entry("until").expect("the sleep is recorded");
    assert_eq!(until.kind, EntryKind::Sleep { until_ms: 1000 });
    registry.shutdown().within().await;

    // The code now computes a time an hour ahead. Replay keeps the recorded time, which has
    // passed: it does not sleep again (an hour is far past the wait below), and runs no step
    // again.
    set_sleeper_time(&key, SystemTime::now() + Duration::from_secs(3600));
    let registry = self::registry(&backend);
    let sleeper = registry.client().get::<Sleeper>([key.as_str()]);
    assert_eq!(
        sleeper
            .send_finish(5)
            .wait(PATIENCE)
            .within()
            .await
            .unwrap(),
        5
    );
    acquire(workflow_ended(&key)).await;
    assert_eq!(hook_log(&key), ["before", "after", "done", "ended:ok"]);
    let history = sleeper.history().within().await.unwrap().expect("history");
    assert_eq!(
        history.entry("until").expect("until").kind,
        EntryKind::Sleep { until_ms: 1000 }
    );
}

async fn a_failed_join_branch_cancels_its_siblings(backend: Backend) {
    let key = backend.key("joiner");
    let registry = registry(&backend);
    let joiner = registry.client().get_or_create::<Joiner>([key.as_str()]);
    // Creating the actor wakes it, and its workflow starts. `broken` fails once `slow` is
    // inside its step, waiting for a gate that this test never opens: the workflow can only
    // end if the join gave up on `slow`.
    joiner.resolve().within().await.unwrap();
    acquire(workflow_ended(&key)).await;
    assert_eq!(
        hook_log(&key),
        ["blocked:start", "broken", "ended:user.branch_broke"],
        "the workflow failed with the failed branch's error; the step cut off did not finish"
    );
    let history = eventually(|| async {
        let history = joiner.history().within().await.unwrap()?;
        (history.status != WorkflowStatus::Running).then_some(history)
    })
    .await;
    match &history.status {
        WorkflowStatus::Failed { code, message } => {
            assert_eq!(code, "user.branch_broke");
            assert!(message.contains("the broken branch failed"), "{message}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    assert!(history.entry("both").is_some(), "{:?}", history.entries);
    assert!(
        history.entry("both/slow/blocked").is_none(),
        "the cancelled step recorded nothing: {:?}",
        history.entries
    );
    assert!(joiner.log().within().await.unwrap().is_empty());
}

on_each_backend!(
    sleep_until_a_past_time_completes_at_once_and_replay_keeps_the_recorded_time,
    a_failed_join_branch_cancels_its_siblings,
    a_workflow_runs_each_entry_once_and_records_its_history,
    a_restart_inside_a_step_replays_the_recorded_entries_and_runs_only_that_step_again,
    renaming_a_recorded_step_diverges_and_removed_is_the_way_to_drop_it,
    retries_timeouts_join_race_and_a_durable_sleep_through_an_actor_sleep,
    the_task_worker_answers_each_task_and_keeps_only_the_current_iteration,
    an_order_reserves_in_another_actor_then_charges_or_releases,
    a_step_whose_state_change_cannot_be_committed_does_not_count_as_done,
    a_message_a_losing_branch_received_last_goes_back_to_the_queue,
);
