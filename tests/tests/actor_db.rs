//! `cx.db()`: each actor's own SQLite database, migrated on wake, committed with the turn (or
//! not at all), surviving sleep and restarts, with clear errors for bad SQL.

use rivet_core::{LifecycleKind, Registry};
use rivet_tests::{Entry, FlaggedEntry, Ledger, LedgerV2, Within, wait_for};

fn v1(dir: &std::path::Path) -> Registry {
    Registry::builder()
        .with::<Ledger>()
        .data_dir(dir)
        .build()
        .expect("registry")
}

fn entry(id: i64, memo: &str, amount: i64) -> Entry {
    Entry {
        id,
        memo: memo.to_owned(),
        amount,
    }
}

#[tokio::test]
async fn rows_commit_with_the_state_and_survive_sleep_and_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let registry = v1(dir.path());
        let mut events = registry.lifecycle_events();
        let ledger = registry.client().get_or_create::<Ledger>(["books"]);
        assert_eq!(ledger.add("rent".into(), 900).within().await.unwrap(), 1);
        assert_eq!(ledger.add("food".into(), 250).within().await.unwrap(), 2);
        let id = ledger.resolve().within().await.unwrap();
        ledger.nap().within().await.unwrap();
        wait_for(&mut events, &id, LifecycleKind::Slept).await;
        assert_eq!(
            ledger.entries().within().await.unwrap(),
            [entry(1, "rent", 900), entry(2, "food", 250)]
        );
        registry.shutdown().within().await;
    }
    let registry = v1(dir.path());
    let ledger = registry.client().get::<Ledger>(["books"]);
    assert_eq!(ledger.totals().within().await.unwrap(), (1150, 1150));
    // Many rows: the database grows past one page.
    for i in 0..200 {
        ledger
            .add(format!("item {i} {}", "x".repeat(40)), 1)
            .within()
            .await
            .unwrap();
    }
    registry.shutdown().within().await;
    let registry = v1(dir.path());
    let ledger = registry.client().get::<Ledger>(["books"]);
    assert_eq!(ledger.entries().within().await.unwrap().len(), 202);
    assert_eq!(ledger.totals().within().await.unwrap(), (1350, 1350));
    registry.shutdown().within().await;
}

#[tokio::test]
async fn a_failed_turn_writes_no_rows() {
    let registry = Registry::builder()
        .with::<Ledger>()
        .in_memory()
        .build()
        .expect("registry");
    let ledger = registry.client().get_or_create::<Ledger>(["fail"]);
    ledger.add("ok".into(), 5).within().await.unwrap();
    let err = ledger.add("refused".into(), -5).within().await.unwrap_err();
    assert_eq!(err.code, "negative");
    assert_eq!(
        ledger.entries().within().await.unwrap(),
        [entry(1, "ok", 5)]
    );
    assert_eq!(
        ledger.totals().within().await.unwrap(),
        (5, 5),
        "state and rows rolled back together"
    );
    // A transaction that fails inside a successful turn rolls back alone.
    ledger.add_pair(true).within().await.unwrap();
    assert_eq!(ledger.entries().within().await.unwrap().len(), 1);
    ledger.add_pair(false).within().await.unwrap();
    assert_eq!(ledger.entries().within().await.unwrap().len(), 3);
}

#[tokio::test]
async fn bad_sql_is_a_clear_error_and_the_actor_keeps_running() {
    let registry = Registry::builder()
        .with::<Ledger>()
        .in_memory()
        .build()
        .expect("registry");
    let ledger = registry.client().get_or_create::<Ledger>(["sql"]);
    ledger.add("one".into(), 1).within().await.unwrap();
    let err = ledger
        .run("INSERT INTO nowhere VALUES (1)".into())
        .within()
        .await
        .unwrap_err();
    assert_eq!(
        (err.group.as_str(), err.code.as_str()),
        ("db", "sql_error"),
        "{err}"
    );
    assert!(err.message.contains("no such table: nowhere"), "{err}");
    let err = ledger.run("SELEC 1".into()).within().await.unwrap_err();
    assert_eq!(err.code, "sql_error");
    let err = ledger.leave_open().within().await.unwrap_err();
    assert_eq!(
        (err.group.as_str(), err.code.as_str()),
        ("db", "transaction_open"),
        "{err}"
    );
    assert_eq!(
        ledger
            .run("UPDATE entry SET amount = 2".into())
            .within()
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        ledger.entries().within().await.unwrap(),
        [entry(1, "one", 2)]
    );
}

#[tokio::test]
async fn a_new_migration_runs_once_on_the_next_wake() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let registry = v1(dir.path());
        let ledger = registry.client().get_or_create::<Ledger>(["schema"]);
        ledger.add("old".into(), 3).within().await.unwrap();
        registry.shutdown().within().await;
    }
    for _ in 0..2 {
        let registry = Registry::builder()
            .with::<LedgerV2>()
            .data_dir(dir.path())
            .build()
            .expect("registry");
        let ledger = registry.client().get::<LedgerV2>(["schema"]);
        ledger.flag(1, vec![1, 2, 3]).within().await.unwrap();
        let flags = ledger.flags().within().await.unwrap();
        assert_eq!(
            flags,
            [FlaggedEntry {
                id: 1,
                flagged: true,
                note: Some(vec![1, 2, 3])
            }]
        );
        registry.shutdown().within().await;
    }
    // Going back to fewer migrations is refused rather than silently wrong.
    let registry = v1(dir.path());
    let err = registry
        .client()
        .get::<Ledger>(["schema"])
        .entries()
        .within()
        .await
        .unwrap_err();
    assert!(
        err.message.contains("migrations must never be removed") || err.code == "migration_failed",
        "{err}"
    );
    registry.shutdown().within().await;
}

#[tokio::test]
async fn an_actor_without_migrations_has_no_database() {
    let registry = rivet_tests::memory_registry();
    let store = registry
        .client()
        .get_or_create::<rivet_tests::Store>(["nodb"]);
    let err = store.use_db().within().await.unwrap_err();
    assert_eq!(
        (err.group.as_str(), err.code.as_str()),
        ("db", "not_configured"),
        "{err}"
    );
}
