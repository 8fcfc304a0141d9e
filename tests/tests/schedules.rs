//! `cx.schedule()`: calls of the actor's own actions later, written with the turn, run once,
//! waking a sleeping actor, and surviving a restart (missed ones run at start-up).

use rivet_core::{LifecycleKind, Registry, codes};
use rivet_tests::{
    Timer, Within, acquire, entered, eventually, fired, gate, memory_registry, wait_for,
};

#[tokio::test]
async fn a_schedule_runs_its_action_once() {
    let registry = memory_registry();
    let timer = registry.client().get_or_create::<Timer>(["once"]);
    let id = timer.remind("once-a".into(), 20).within().await.unwrap();
    acquire(fired("once-a")).await;
    assert_eq!(timer.log().within().await.unwrap(), ["once-a"]);
    assert_eq!(timer.list().within().await.unwrap(), []);
    assert_eq!(timer.get(id).within().await.unwrap(), None);
    // A time in the past runs right after the turn.
    timer.remind_at("once-b".into(), 1).within().await.unwrap();
    acquire(fired("once-b")).await;
    assert_eq!(timer.log().within().await.unwrap(), ["once-a", "once-b"]);
}

#[tokio::test]
async fn list_get_and_cancel() {
    let registry = memory_registry();
    let timer = registry.client().get_or_create::<Timer>(["cancel"]);
    let later = timer
        .remind("cancel-later".into(), 3_600_000)
        .within()
        .await
        .unwrap();
    let sooner = timer
        .remind("cancel-sooner".into(), 1_800_000)
        .within()
        .await
        .unwrap();
    let listed = timer.list().within().await.unwrap();
    assert_eq!(
        listed,
        [
            (sooner.clone(), "record".into()),
            (later.clone(), "record".into())
        ]
    );
    assert!(timer.cancel(later.clone()).within().await.unwrap());
    assert!(!timer.cancel(later.clone()).within().await.unwrap());
    assert_eq!(
        timer.list().within().await.unwrap(),
        [(sooner, "record".into())]
    );
    assert_eq!(timer.get(later).within().await.unwrap(), None);
}

#[tokio::test]
async fn a_failed_turn_schedules_nothing_and_a_failed_action_runs_once() {
    let registry = memory_registry();
    let timer = registry.client().get_or_create::<Timer>(["fail"]);
    let err = timer
        .remind_then_fail("fail-never".into())
        .within()
        .await
        .unwrap_err();
    assert_eq!(err.code, "failed");
    assert_eq!(timer.list().within().await.unwrap(), []);
    // `explode` fails when it runs; it is not retried, and later schedules still run.
    timer
        .explode_then("fail-after".into())
        .within()
        .await
        .unwrap();
    acquire(fired("fail-after")).await;
    assert_eq!(
        timer.log().within().await.unwrap(),
        ["fail-after"],
        "a failed action's writes are rolled back"
    );
    assert_eq!(timer.list().within().await.unwrap(), []);
    assert_eq!(fired("fail-never").available_permits(), 0);
}

#[tokio::test]
async fn a_schedule_wakes_a_sleeping_actor() {
    let registry = memory_registry();
    let mut events = registry.lifecycle_events();
    let timer = registry.client().get_or_create::<Timer>(["wake"]);
    let id = timer.resolve().within().await.unwrap();
    // Scheduled in the turn after which the actor sleeps: only the schedule can wake it.
    timer
        .remind_then_nap("wake-up".into(), 20)
        .within()
        .await
        .unwrap();
    wait_for(&mut events, &id, LifecycleKind::Slept).await;
    wait_for(&mut events, &id, LifecycleKind::Woke).await;
    acquire(fired("wake-up")).await;
    assert_eq!(timer.log().within().await.unwrap(), ["wake-up"]);
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
    {
        let registry = sqlite(dir.path());
        let timer = registry.client().get_or_create::<Timer>(["restart"]);
        timer
            .remind("restart-later".into(), 3_600_000)
            .within()
            .await
            .unwrap();
        // The last turn of this process schedules a call that is already due, once the shutdown
        // has begun: nothing can wake the actor to run it before the process ends.
        let last = tokio::spawn({
            let timer = timer.clone();
            async move {
                let name = "restart-last".to_owned();
                timer
                    .remind_at_when_let_go("restart-missed".into(), 1, name)
                    .within()
                    .await
            }
        });
        acquire(entered("restart-last")).await;
        let shutdown = tokio::spawn({
            let registry = registry.clone();
            async move { registry.shutdown().within().await }
        });
        // The shutdown has begun once the registry refuses to wake actors.
        let client = registry.client();
        eventually(|| async {
            let err = client
                .get_or_create::<Timer>(["restart-probe"])
                .log()
                .within()
                .await
                .err()?;
            err.is(codes::SHUT_DOWN).then_some(())
        })
        .await;
        gate("restart-last").add_permits(1);
        last.within().await.unwrap().unwrap();
        shutdown.within().await.unwrap();
    }
    assert_eq!(
        fired("restart-missed").available_permits(),
        0,
        "ran before the shutdown"
    );
    // Nothing calls the actor: start-up finds the missed schedule and wakes it.
    let registry = sqlite(dir.path());
    acquire(fired("restart-missed")).await;
    let timer = registry.client().get::<Timer>(["restart"]);
    assert_eq!(timer.log().within().await.unwrap(), ["restart-missed"]);
    let left: Vec<String> = timer
        .list()
        .within()
        .await
        .unwrap()
        .into_iter()
        .map(|(_, a)| a)
        .collect();
    assert_eq!(left, ["record"], "the later schedule is still there");
    registry.shutdown().within().await;

    // Once: it was deleted when it ran, so another start-up has only the later one.
    let registry = sqlite(dir.path());
    let timer = registry.client().get::<Timer>(["restart"]);
    assert_eq!(timer.list().within().await.unwrap().len(), 1);
    assert_eq!(timer.log().within().await.unwrap(), ["restart-missed"]);
    registry.shutdown().within().await;
}
