//! `cx.db()`: each actor's own SQLite database, migrated on wake, committed with the turn (or
//! not at all), surviving sleep and restarts, with clear errors for bad SQL; a failed migration
//! takes the good ones of its wake with it. The database is kept in the actor's storage, so
//! each test runs on both; a restart is a new registry on the same storage.

use rivet_core::{LifecycleKind, Registry, codes};
use rivet_tests::{
    Backend, Entry, FlaggedEntry, Ledger, LedgerV2, Schema, SchemaBroken, SchemaFixed,
    SchemaInspect, SchemaV1, Within, on_each_backend, registry_on, wait_for,
};

fn v1(backend: &Backend) -> Registry {
    backend.build(Registry::builder().with::<Ledger>())
}

fn entry(id: i64, memo: &str, amount: i64) -> Entry {
    Entry {
        id,
        memo: memo.to_owned(),
        amount,
    }
}

async fn rows_commit_with_the_state_and_survive_sleep_and_restart(backend: Backend) {
    {
        let registry = v1(&backend);
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
    let registry = v1(&backend);
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
    let registry = v1(&backend);
    let ledger = registry.client().get::<Ledger>(["books"]);
    assert_eq!(ledger.entries().within().await.unwrap().len(), 202);
    assert_eq!(ledger.totals().within().await.unwrap(), (1350, 1350));
    registry.shutdown().within().await;
}

async fn a_failed_turn_writes_no_rows(backend: Backend) {
    let registry = v1(&backend);
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

async fn bad_sql_is_a_clear_error_and_the_actor_keeps_running(backend: Backend) {
    let registry = v1(&backend);
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

async fn a_new_migration_runs_once_on_the_next_wake(backend: Backend) {
    {
        let registry = v1(&backend);
        let ledger = registry.client().get_or_create::<Ledger>(["schema"]);
        ledger.add("old".into(), 3).within().await.unwrap();
        registry.shutdown().within().await;
    }
    for _ in 0..2 {
        let registry = backend.build(Registry::builder().with::<LedgerV2>());
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
    let registry = v1(&backend);
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

async fn an_actor_without_migrations_has_no_database(backend: Backend) {
    let registry = registry_on(&backend);
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

fn schema(version: i64, tables: &[&str]) -> Schema {
    Schema {
        version,
        tables: tables.iter().map(|&t| t.to_owned()).collect(),
    }
}

async fn a_failed_migration_takes_the_good_ones_of_its_wake_with_it(backend: Backend) {
    // Two actors at version 1.
    let registry = backend.build(Registry::builder().with::<SchemaV1>());
    for key in ["fixed", "inspected"] {
        let actor = registry.client().get_or_create::<SchemaV1>([key]);
        assert_eq!(actor.schema().within().await.unwrap(), schema(1, &["a"]));
    }
    registry.shutdown().within().await;

    // The code adds a good migration (`b`) and one that fails after creating its table (`c`):
    // waking fails, saying which migration and why.
    let registry = backend.build(Registry::builder().with::<SchemaBroken>());
    for key in ["fixed", "inspected"] {
        let actor = registry.client().get::<SchemaBroken>([key]);
        for _ in 0..2 {
            let err = actor.schema().within().await.unwrap_err();
            assert!(err.is(codes::db::MIGRATION_FAILED), "{err}");
            assert!(
                err.message.contains("Migration 3 failed")
                    && err.message.contains("no such table: missing"),
                "{err}"
            );
        }
    }
    registry.shutdown().within().await;

    // The database was left at version 1, without `b` or `c`: a list whose second migration
    // differs runs it, and sees only the first one's table.
    let registry = backend.build(Registry::builder().with::<SchemaInspect>());
    let inspected = registry.client().get::<SchemaInspect>(["inspected"]);
    assert_eq!(
        inspected.schema().within().await.unwrap(),
        schema(2, &["a", "inspected"]),
        "the good migration was rolled back with the failed one"
    );
    registry.shutdown().within().await;

    // The fixed list applies both.
    let registry = backend.build(Registry::builder().with::<SchemaFixed>());
    let fixed = registry.client().get::<SchemaFixed>(["fixed"]);
    assert_eq!(
        fixed.schema().within().await.unwrap(),
        schema(3, &["a", "b", "c"])
    );
    registry.shutdown().within().await;
}

on_each_backend!(
    rows_commit_with_the_state_and_survive_sleep_and_restart,
    a_failed_turn_writes_no_rows,
    bad_sql_is_a_clear_error_and_the_actor_keeps_running,
    a_new_migration_runs_once_on_the_next_wake,
    an_actor_without_migrations_has_no_database,
    a_failed_migration_takes_the_good_ones_of_its_wake_with_it,
);
