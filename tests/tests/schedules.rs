//! `cx.schedule()`: calls of the actor's own actions later, written with the turn, run once,
//! waking a sleeping actor, and surviving a restart (missed ones run at start-up).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rivet_core::{LifecycleKind, Registry};
use rivet_tests::{PATIENCE, Timer, fired, memory_registry, wait_for};

async fn until_fired(text: &str) {
    let signal = fired(text);
    let permit = tokio::time::timeout(PATIENCE, signal.acquire())
        .await
        .unwrap_or_else(|_| panic!("`{text}` did not fire in time"))
        .expect("semaphore");
    permit.forget();
}

fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[tokio::test]
async fn a_schedule_runs_its_action_once() {
    let registry = memory_registry();
    let timer = registry.client().get_or_create::<Timer>(["once"]);
    let id = timer.remind("once-a".into(), 20).await.unwrap();
    assert_eq!(
        timer.get(id.clone()).await.unwrap().as_deref(),
        Some("record")
    );
    until_fired("once-a").await;
    assert_eq!(timer.log().await.unwrap(), ["once-a"]);
    assert_eq!(timer.list().await.unwrap(), []);
    assert_eq!(timer.get(id).await.unwrap(), None);
    // A time in the past runs right after the turn.
    timer.remind_at("once-b".into(), 1).await.unwrap();
    until_fired("once-b").await;
    assert_eq!(timer.log().await.unwrap(), ["once-a", "once-b"]);
}

#[tokio::test]
async fn list_get_and_cancel() {
    let registry = memory_registry();
    let timer = registry.client().get_or_create::<Timer>(["cancel"]);
    let later = timer
        .remind("cancel-later".into(), 3_600_000)
        .await
        .unwrap();
    let sooner = timer
        .remind("cancel-sooner".into(), 1_800_000)
        .await
        .unwrap();
    let listed = timer.list().await.unwrap();
    assert_eq!(
        listed,
        [
            (sooner.clone(), "record".into()),
            (later.clone(), "record".into())
        ]
    );
    assert!(timer.cancel(later.clone()).await.unwrap());
    assert!(!timer.cancel(later.clone()).await.unwrap());
    assert_eq!(timer.list().await.unwrap(), [(sooner, "record".into())]);
    assert_eq!(timer.get(later).await.unwrap(), None);
}

#[tokio::test]
async fn a_failed_turn_schedules_nothing_and_a_failed_action_runs_once() {
    let registry = memory_registry();
    let timer = registry.client().get_or_create::<Timer>(["fail"]);
    let err = timer
        .remind_then_fail("fail-never".into())
        .await
        .unwrap_err();
    assert_eq!(err.code, "failed");
    assert_eq!(timer.list().await.unwrap(), []);
    // `explode` fails when it runs; it is not retried, and later schedules still run.
    timer.explode_then("fail-after".into()).await.unwrap();
    until_fired("fail-after").await;
    assert_eq!(
        timer.log().await.unwrap(),
        ["fail-after"],
        "a failed action's writes are rolled back"
    );
    assert_eq!(timer.list().await.unwrap(), []);
    assert_eq!(fired("fail-never").available_permits(), 0);
}

#[tokio::test]
async fn a_schedule_wakes_a_sleeping_actor() {
    let registry = memory_registry();
    let mut events = registry.lifecycle_events();
    let timer = registry.client().get_or_create::<Timer>(["wake"]);
    timer.remind("wake-up".into(), 300).await.unwrap();
    let id = timer.resolve().await.unwrap();
    timer.nap().await.unwrap();
    wait_for(&mut events, &id, LifecycleKind::Slept).await;
    wait_for(&mut events, &id, LifecycleKind::Woke).await;
    until_fired("wake-up").await;
    assert_eq!(timer.log().await.unwrap(), ["wake-up"]);
}

fn sqlite(dir: &std::path::Path) -> Registry {
    rivet_examples::registry()
        .with::<Timer>()
        .data_dir(dir)
        .build()
        .expect("registry")
}

#[tokio::test]
async fn schedules_missed_while_down_run_once_at_start_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let due = SystemTime::now() + Duration::from_millis(400);
    {
        let registry = sqlite(dir.path());
        let timer = registry.client().get_or_create::<Timer>(["restart"]);
        timer
            .remind_at("restart-missed".into(), unix_ms(due))
            .await
            .unwrap();
        timer
            .remind("restart-later".into(), 3_600_000)
            .await
            .unwrap();
        registry.shutdown().await;
    }
    assert_eq!(
        fired("restart-missed").available_permits(),
        0,
        "ran before the shutdown"
    );
    // The clock must pass the due time while no process runs: that is what is tested.
    if let Ok(left) = due.duration_since(SystemTime::now()) {
        tokio::time::sleep(left + Duration::from_millis(20)).await;
    }
    // Nothing calls the actor: start-up finds the missed schedule and wakes it.
    let registry = sqlite(dir.path());
    until_fired("restart-missed").await;
    let timer = registry.client().get::<Timer>(["restart"]);
    assert_eq!(timer.log().await.unwrap(), ["restart-missed"]);
    let left: Vec<String> = timer
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|(_, a)| a)
        .collect();
    assert_eq!(left, ["record"], "the later schedule is still there");
    registry.shutdown().await;

    // Once: another start-up does not run it again.
    let registry = sqlite(dir.path());
    let timer = registry.client().get::<Timer>(["restart"]);
    assert_eq!(timer.log().await.unwrap(), ["restart-missed"]);
    registry.shutdown().await;
}
