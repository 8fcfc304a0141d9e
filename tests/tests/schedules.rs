//! `cx.schedule()`: calls of the actor's own actions later, written with the turn, run once,
//! waking a sleeping actor, and surviving a restart (missed ones run at start-up); on both
//! storages, a restart being a new registry on the same one.

use rivet_core::{LifecycleKind, codes};
use rivet_tests::{
    Backend, Timer, Within, acquire, entered, eventually, fired, gate, on_each_backend,
    registry_on, wait_for,
};

async fn a_schedule_runs_its_action_once(backend: Backend) {
    let (a, b, c) = (
        backend.key("once-a"),
        backend.key("once-b"),
        backend.key("once-c"),
    );
    let registry = registry_on(&backend);
    let timer = registry.client().get_or_create::<Timer>(["once"]);
    let id = timer.remind(a.clone(), 20).within().await.unwrap();
    acquire(fired(&a)).await;
    assert_eq!(timer.list().within().await.unwrap(), []);
    assert_eq!(timer.get(id).within().await.unwrap(), None);
    // A time in the past runs right after the turn.
    timer.remind_at(b.clone(), 1).within().await.unwrap();
    acquire(fired(&b)).await;
    // A schedule that ran is gone from storage too: after a restart, a schedule due later than
    // both runs, and the actor runs its due schedules earliest first, at once when it wakes; so
    // a copy of either left behind would run again before this one.
    registry.shutdown().within().await;
    let registry = registry_on(&backend);
    let timer = registry.client().get::<Timer>(["once"]);
    timer.remind(c.clone(), 1).within().await.unwrap();
    acquire(fired(&c)).await;
    // `record` logs every run in the state and adds a permit to `fired` per run.
    assert_eq!(
        timer.log().within().await.unwrap(),
        [a.as_str(), b.as_str(), c.as_str()],
        "each schedule ran once"
    );
    for text in [&a, &b, &c] {
        assert_eq!(fired(text).available_permits(), 0, "{text} ran again");
    }
    assert_eq!(timer.list().within().await.unwrap(), []);
}

async fn list_get_and_cancel(backend: Backend) {
    let registry = registry_on(&backend);
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

async fn a_failed_turn_schedules_nothing_and_a_failed_action_runs_once(backend: Backend) {
    let registry = registry_on(&backend);
    let (never, after) = (backend.key("fail-never"), backend.key("fail-after"));
    let timer = registry.client().get_or_create::<Timer>(["fail"]);
    let err = timer
        .remind_then_fail(never.clone())
        .within()
        .await
        .unwrap_err();
    assert_eq!(err.code, "failed");
    assert_eq!(timer.list().within().await.unwrap(), []);
    // `explode` fails when it runs; it is not retried, and later schedules still run.
    timer.explode_then(after.clone()).within().await.unwrap();
    acquire(fired(&after)).await;
    assert_eq!(
        timer.log().within().await.unwrap(),
        [after],
        "a failed action's writes are rolled back"
    );
    assert_eq!(timer.list().within().await.unwrap(), []);
    assert_eq!(fired(&never).available_permits(), 0);
}

async fn a_schedule_wakes_a_sleeping_actor(backend: Backend) {
    let registry = registry_on(&backend);
    let mut events = registry.lifecycle_events();
    let text = backend.key("wake-up");
    let timer = registry.client().get_or_create::<Timer>(["wake"]);
    let id = timer.resolve().within().await.unwrap();
    // Scheduled in the turn after which the actor sleeps: only the schedule can wake it.
    timer
        .remind_then_nap(text.clone(), 20)
        .within()
        .await
        .unwrap();
    wait_for(&mut events, &id, LifecycleKind::Slept).await;
    wait_for(&mut events, &id, LifecycleKind::Woke).await;
    acquire(fired(&text)).await;
    assert_eq!(timer.log().within().await.unwrap(), [text]);
}

async fn schedules_missed_while_down_run_once_at_start_up(backend: Backend) {
    let (missed, held) = (backend.key("restart-missed"), backend.key("restart-last"));
    {
        let registry = registry_on(&backend);
        let timer = registry.client().get_or_create::<Timer>(["restart"]);
        timer
            .remind("restart-later".into(), 3_600_000)
            .within()
            .await
            .unwrap();
        // The last turn of this process schedules a call that is already due, once the shutdown
        // has begun: nothing can wake the actor to run it before the process ends.
        let last = tokio::spawn({
            let (timer, missed, held) = (timer.clone(), missed.clone(), held.clone());
            async move { timer.remind_at_when_let_go(missed, 1, held).within().await }
        });
        acquire(entered(&held)).await;
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
        gate(&held).add_permits(1);
        last.within().await.unwrap().unwrap();
        shutdown.within().await.unwrap();
    }
    assert_eq!(
        fired(&missed).available_permits(),
        0,
        "ran before the shutdown"
    );
    // Nothing calls the actor: start-up finds the missed schedule and wakes it.
    let registry = registry_on(&backend);
    acquire(fired(&missed)).await;
    let timer = registry.client().get::<Timer>(["restart"]);
    assert_eq!(timer.log().within().await.unwrap(), [missed.as_str()]);
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
    let registry = registry_on(&backend);
    let timer = registry.client().get::<Timer>(["restart"]);
    assert_eq!(timer.list().within().await.unwrap().len(), 1);
    assert_eq!(timer.log().within().await.unwrap(), [missed.as_str()]);
    registry.shutdown().within().await;
}

on_each_backend!(
    a_schedule_runs_its_action_once,
    list_get_and_cancel,
    a_failed_turn_schedules_nothing_and_a_failed_action_runs_once,
    a_schedule_wakes_a_sleeping_actor,
    schedules_missed_while_down_run_once_at_start_up,
);
