//! The workflow worker example (`taskWorker`: loop -> queue.next -> step) killed with SIGKILL
//! while it works through its queue: after every restart it resumes by itself, and in the end
//! each task was processed exactly once (count, sum, and the loop's iteration count all match).
//! Each kill comes as soon as every worker has been seen taking a task in that process, not
//! after a delay, so the kills land in the middle of the work on a fast machine as on a slow one.

use futures_util::future::join_all;
use rivet_core::workflow::EntryKind;
use rivet_core::{Client, Registry};
use rivet_examples::task_worker::{Task, TaskDone, TaskWorker, TaskWorkerClient};
use rivet_tests::{PATIENCE, ServerProcess, TaskBacklog, Within, eventually};

const WORKERS: u64 = 2;
/// Per worker (a queue holds up to 1000). A kill costs a few tasks (4 per worker when measured;
/// polling and processing slow down together, so not more on a slower machine), so most of the
/// backlog still waits after the last kill.
const TASKS: u64 = 400;
const KILLS: usize = 12;

fn key(w: u64) -> String {
    format!("crash-{w}")
}

async fn processed(workers: &[TaskWorkerClient]) -> Vec<u64> {
    let mut counts = Vec::with_capacity(workers.len());
    for worker in workers {
        counts.push(worker.get_processed().within().await.expect("processed"));
    }
    counts
}

/// Queues `TASKS` tasks per worker while no worker runs (see [`TaskBacklog`]); every send is
/// acknowledged, so stored.
async fn fill(dir: &std::path::Path) {
    let registry = Registry::builder()
        .with::<TaskBacklog>()
        .data_dir(dir)
        .build()
        .expect("registry");
    let client = registry.client();
    for w in 0..WORKERS {
        let backlog = client.get_or_create::<TaskBacklog>([key(w)]);
        let sends = (1..=TASKS).map(|id| backlog.send_tasks(Task { id, amount: id }).into_future());
        for sent in join_all(sends).within().await {
            sent.expect("queued");
        }
    }
    registry.shutdown().within().await;
}

/// Starts the server (again, after `kills` kills); checks where the last kill left each worker
/// against what it was last `seen` to have processed, and returns that.
async fn restart(
    dir: &std::path::Path,
    seen: &[u64],
    kills: usize,
) -> (ServerProcess, Vec<TaskWorkerClient>, Vec<u64>) {
    let (server, endpoint) = ServerProcess::start(env!("CARGO_BIN_EXE_crash_server"), dir).await;
    let client = Client::new(endpoint);
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| client.get_or_create::<TaskWorker>([key(w)]))
        .collect();
    // The workers resumed at start-up: read at once.
    let now = processed(&workers).await;
    for (w, (now, seen)) in now.iter().zip(seen).enumerate() {
        // What a read returned was committed, so a kill cannot take it back.
        assert!(
            now >= seen,
            "after {kills} kills, worker {w}: processed went back from {seen} to {now}"
        );
        assert!(
            *now < TASKS,
            "after {kills} kills, worker {w}: the work was done before the kill; raise TASKS"
        );
    }
    (server, workers, now)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_finishes_each_task_exactly_once_across_kills() {
    let dir = tempfile::tempdir().expect("tempdir");
    fill(dir.path()).await;
    let mut seen = vec![0u64; usize::try_from(WORKERS).expect("workers")];
    for kills in 0..KILLS {
        let (mut server, workers, before) = restart(dir.path(), &seen, kills).await;
        // Every worker takes at least one task in this process, then the kill comes at once,
        // in the middle of its work.
        let (workers, before) = (&workers, &before);
        seen = eventually(move || async move {
            let now = processed(workers).await;
            now.iter().zip(before).all(|(n, b)| n > b).then_some(now)
        })
        .await;
        server.kill();
    }

    let (_server, workers, _) = restart(dir.path(), &seen, KILLS).await;
    for (w, worker) in workers.iter().enumerate() {
        // FIFO: once this last task is answered, every earlier one was processed.
        let last_id = TASKS + 1;
        let done = worker
            .send_tasks(Task {
                id: last_id,
                amount: last_id,
            })
            .wait(PATIENCE)
            .within()
            .await
            .unwrap();
        assert_eq!(done, TaskDone { id: last_id });
        assert_eq!(
            worker.get_processed().within().await.unwrap(),
            last_id,
            "worker {w}"
        );
        assert_eq!(
            worker.get_total().within().await.unwrap(),
            last_id * (last_id + 1) / 2,
            "worker {w}: a task was lost or counted twice"
        );
        let history = worker.history().within().await.unwrap().expect("history");
        let iterations = match history.entry("task-loop").map(|e| &e.kind) {
            Some(EntryKind::Loop { iteration, .. }) => *iteration,
            other => panic!("no loop entry: {other:?}"),
        };
        assert_eq!(iterations, last_id, "worker {w}: one iteration per task");
    }
}
