//! SQLite storage under a running registry, watched from outside it: group commit (the writes
//! of many actors acknowledged after one fsync) and a real SQLite failure (a trigger that
//! aborts one actor's writes). Each test runs in a child process of this binary loaded with the
//! power-loss shim ([`SyncShim`]), which counts the WAL's fsyncs and can hold one: while the
//! storage's writer waits inside a commit, the writes submitted meanwhile line up for the next
//! one, on any machine. Linux only, like the shim.
#![cfg(target_os = "linux")]

use rivet_core::storage::sqlite::Durability;
use rivet_core::{ActorError, LifecycleKind, Registry, codes};
use rivet_tests::{
    Marker, MarkerClient, PATIENCE, SyncShim, WAL, Within, acquire, entered, gate, wait_for,
    within_for,
};
use tokio::task::JoinHandle;

/// Runs test `name` of this binary, ignored in a normal run, in a child process under the shim
/// on a fresh data directory; fails if it does not pass there.
async fn run_under_shim(name: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let shim = SyncShim::build(dir.path());
    let output = tokio::process::Command::new(std::env::current_exe().expect("this binary"))
        .args([
            "--exact",
            name,
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .envs(shim.env())
        .kill_on_drop(true)
        .output();
    // The child bounds each of its waits by PATIENCE; this only catches a child that hangs.
    let output = within_for(PATIENCE * 3, output)
        .await
        .expect("run the child");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{name} under the shim:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn concurrent_writes_of_many_actors_share_one_fsync() {
    run_under_shim("under_shim::concurrent_writes_of_many_actors_share_one_fsync").await;
}

#[tokio::test]
async fn a_write_sqlite_refuses_fails_only_its_actor_which_restarts_from_storage() {
    run_under_shim(
        "under_shim::a_write_sqlite_refuses_fails_only_its_actor_which_restarts_from_storage",
    )
    .await;
}

/// A registry on the shim's data directory, with the durability whose commits fsync the WAL.
fn registry(shim: &SyncShim) -> Registry {
    Registry::builder()
        .with::<Marker>()
        .data_dir(shim.dir())
        .durability(Durability::PowerLoss)
        .build()
        .expect("registry")
}

/// Calls running in tasks of their own.
type Calls<T> = Vec<JoinHandle<Result<T, ActorError>>>;

/// Marks every actor (`entered({prefix}-{i})` from inside each turn), then has each start a
/// `hold` turn (`{prefix}-after-{i}`); returns the marks' and the holds' tasks once every hold
/// has started, when every mark has been handed to storage. Gates `{prefix}-after-{i}` end the
/// holds.
async fn mark_all(markers: &[MarkerClient], prefix: &str) -> (Calls<u64>, Calls<()>) {
    let marks: Vec<_> = markers
        .iter()
        .enumerate()
        .map(|(i, marker)| {
            let marker = marker.clone();
            let name = format!("{prefix}-{i}");
            tokio::spawn(async move { marker.mark(name).await })
        })
        .collect();
    let mut holds = Vec::new();
    for (i, marker) in markers.iter().enumerate() {
        // The mark's turn runs, so the hold sent now comes after it.
        acquire(entered(&format!("{prefix}-{i}"))).await;
        let marker = marker.clone();
        let name = format!("{prefix}-after-{i}");
        holds.push(tokio::spawn(async move { marker.hold(name).await }));
    }
    for i in 0..markers.len() {
        acquire(entered(&format!("{prefix}-after-{i}"))).await;
    }
    (marks, holds)
}

/// Opens the gates of [`mark_all`]'s holds and waits for them to end.
async fn end_holds(holds: Calls<()>, prefix: &str) {
    for (i, hold) in holds.into_iter().enumerate() {
        gate(&format!("{prefix}-after-{i}")).add_permits(1);
        // An actor whose write failed may answer its hold with an error; it ended all the same.
        let _ = hold.within().await.expect("hold task");
    }
}

/// The tests that [`run_under_shim`] runs.
mod under_shim {
    use super::*;

    const ACTORS: usize = 32;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "run under the power-loss shim by concurrent_writes_of_many_actors_share_one_fsync"]
    async fn concurrent_writes_of_many_actors_share_one_fsync() {
        let shim = SyncShim::loaded();
        let registry = registry(&shim);
        let client = registry.client();
        let markers: Vec<MarkerClient> = (0..ACTORS)
            .map(|i| client.get_or_create::<Marker>([format!("group-{i}")]))
            .collect();
        // Created, awake and marked once: below, only the marks wait for the writer.
        for (i, marker) in markers.iter().enumerate() {
            let first = marker.mark(format!("group-first-{i}")).within().await;
            assert_eq!(first.expect("first mark"), 1);
        }
        let before = shim.syncs(WAL);
        let held = shim.hold();
        let (marks, holds) = mark_all(&markers, "group-mark").await;
        // Each mark is in the commit held in its fsync or waits for the writer, which takes
        // everything waiting into its next commit.
        held.release().await;
        for mark in marks {
            assert_eq!(mark.within().await.expect("task").expect("mark"), 2);
        }
        // One fsync per commit: the WAL stays far below the 1000 pages at which SQLite would
        // checkpoint, which syncs it once more.
        let syncs = shim.syncs(WAL) - before;
        assert!(
            syncs <= 2,
            "{ACTORS} writes, all submitted while the writer was held in a commit, took {syncs} \
             fsyncs of the WAL: more than that commit's and the next one's"
        );
        end_holds(holds, "group-mark").await;
        registry.shutdown().within().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "run under the power-loss shim by \
                a_write_sqlite_refuses_fails_only_its_actor_which_restarts_from_storage"]
    async fn a_write_sqlite_refuses_fails_only_its_actor_which_restarts_from_storage() {
        let shim = SyncShim::loaded();
        let registry = registry(&shim);
        let mut events = registry.lifecycle_events();
        let client = registry.client();
        let blocker = client.get_or_create::<Marker>(["refused-blocker"]);
        // The first is refused; the others share its commit.
        let markers: Vec<MarkerClient> = (0..4)
            .map(|i| client.get_or_create::<Marker>([format!("refused-{i}")]))
            .collect();
        for (i, marker) in markers.iter().chain([&blocker]).enumerate() {
            let first = marker.mark(format!("refused-first-{i}")).within().await;
            assert_eq!(first.expect("first mark"), 1);
        }
        let refused_id = markers[0].resolve().within().await.expect("id");

        // From now on SQLite itself aborts every row written for the first actor.
        let db = rusqlite::Connection::open(shim.dir().join("rivet.db")).expect("open rivet.db");
        db.busy_timeout(PATIENCE).expect("busy timeout");
        let storage_id: i64 = db
            .query_row(
                "SELECT storage_id FROM actors WHERE id = ?1",
                [&refused_id],
                |row| row.get(0),
            )
            .expect("the actor's storage id");
        db.execute_batch(&format!(
            "CREATE TRIGGER refuse BEFORE INSERT ON kv WHEN NEW.actor = {storage_id}
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;"
        ))
        .expect("create the trigger");

        // The blocker's commit waits in its fsync, so the marks below share the next commit.
        let held = shim.hold();
        let blocked = {
            let blocker = blocker.clone();
            tokio::spawn(async move { blocker.mark("refused-blocker".to_owned()).await })
        };
        held.reached().await;
        let (mut marks, holds) = mark_all(&markers, "refused-mark").await;
        held.release().await;

        let refused = marks.remove(0).within().await.expect("task");
        let error = refused.expect_err("SQLite refused the write");
        assert!(error.is(codes::INTERNAL_ERROR), "{error}");
        for mark in marks {
            let written = mark.within().await.expect("task");
            assert_eq!(written.expect("a write of the same commit"), 2);
        }
        assert_eq!(blocked.within().await.expect("task").expect("blocker"), 2);
        end_holds(holds, "refused-mark").await;

        // The activation that lost its write stopped, and the next call finds the actor as
        // storage has it: one mark, not the refused second.
        wait_for(&mut events, &refused_id, LifecycleKind::Crashed).await;
        let refused = &markers[0];
        let marks = refused.marks().within().await.expect("read");
        assert_eq!(marks, (1, vec![1]));
        db.execute_batch("DROP TRIGGER refuse")
            .expect("drop the trigger");
        assert_eq!(
            refused
                .mark("refused-again".to_owned())
                .within()
                .await
                .expect("mark"),
            2
        );
        assert_eq!(
            refused.marks().within().await.expect("read"),
            (2, vec![1, 2])
        );
        for other in &markers[1..] {
            assert_eq!(other.marks().within().await.expect("read"), (2, vec![1, 2]));
        }
        registry.shutdown().within().await;
    }
}
