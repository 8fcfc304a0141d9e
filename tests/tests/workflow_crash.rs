//! The workflow worker example (`taskWorker`: loop -> queue.next -> step) killed with SIGKILL
//! at random moments while it works through its queue: after every restart it resumes by
//! itself, and in the end each task was processed exactly once (count, sum, and the loop's
//! iteration count all match).

use std::time::Duration;

use rivet_core::Client;
use rivet_core::workflow::EntryKind;
use rivet_examples::task_worker::{Task, TaskDone, TaskWorker};
use rivet_tests::ServerProcess;

const WORKERS: u64 = 2;
const TASKS: u64 = 400;
const MAX_ROUNDS: usize = 40;

async fn start(dir: &std::path::Path) -> (ServerProcess, Client) {
    let (server, endpoint) = ServerProcess::start(env!("CARGO_BIN_EXE_crash_server"), dir).await;
    (server, Client::new(endpoint))
}

fn worker(client: &Client, w: u64) -> <TaskWorker as rivet_core::client::ActorDescriptor>::Client {
    client.get_or_create::<TaskWorker>([format!("crash-{w}")])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_finishes_each_task_exactly_once_across_kills() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, client) = start(dir.path()).await;
    // Every send is acknowledged (so stored) before the first kill; the worker takes about a
    // millisecond per task, so most of the queue is still waiting then.
    let senders: Vec<_> = (0..WORKERS)
        .map(|w| {
            let worker = worker(&client, w);
            tokio::spawn(async move {
                for id in 1..=TASKS {
                    worker.send_tasks(Task { id, amount: id }).await.unwrap();
                }
            })
        })
        .collect();
    for sender in senders {
        sender.await.expect("sender");
    }
    let mut server = Some(server);
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut last = vec![0u64; usize::try_from(WORKERS).expect("workers")];
    let mut cut_midway = 0;
    for round in 0..MAX_ROUNDS {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        // 5 to 65 ms of work, then SIGKILL.
        tokio::time::sleep(Duration::from_millis(5 + (seed >> 33) % 60)).await;
        drop(server.take());
        let (next, client) = start(dir.path()).await;
        server = Some(next);
        let mut done = true;
        for w in 0..WORKERS {
            let processed = worker(&client, w).get_processed().await.unwrap();
            let slot = &mut last[usize::try_from(w).expect("worker")];
            assert!(
                processed >= *slot && processed <= TASKS,
                "round {round}, worker {w}: processed went from {slot} to {processed}"
            );
            if processed > 0 && processed < TASKS {
                cut_midway += 1;
            }
            *slot = processed;
            done &= processed == TASKS;
        }
        if done {
            break;
        }
    }
    assert!(
        cut_midway >= 3,
        "only {cut_midway} kills landed in the middle of the work"
    );

    drop(server.take());
    let (_server, client) = start(dir.path()).await;
    for w in 0..WORKERS {
        let worker = worker(&client, w);
        // FIFO: once this last task is answered, every earlier one was processed.
        let last_id = TASKS + 1;
        let done = worker
            .send_tasks(Task {
                id: last_id,
                amount: last_id,
            })
            .wait(Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(done, TaskDone { id: last_id });
        assert_eq!(worker.get_processed().await.unwrap(), last_id, "worker {w}");
        assert_eq!(
            worker.get_total().await.unwrap(),
            last_id * (last_id + 1) / 2,
            "worker {w}: a task was lost or counted twice"
        );
        let history = worker.history().await.unwrap().expect("history");
        let iterations = match history.entry("task-loop").map(|e| &e.kind) {
            Some(EntryKind::Loop { iteration, .. }) => *iteration,
            other => panic!("no loop entry: {other:?}"),
        };
        assert_eq!(iterations, last_id, "worker {w}: one iteration per task");
    }
}
