//! Crash safety: a server process is killed with SIGKILL while clients increment counters,
//! write KV entries and insert database rows over the network; after every restart, every write
//! a client saw acknowledged is there, state and database agree, and the storage opens cleanly.
//! 20 rounds. A kill comes after a number of acknowledged writes that varies between rounds,
//! never after a delay, so it lands in the middle of the writing on any machine.
//!
//! A SIGKILL leaves the OS page cache, so it cannot tell a synced write from an unsynced one.
//! Under the power-loss shim ([`SyncShim`]), each kill is followed by a power cut that drops
//! every write the server did not sync: the same rounds keep every acknowledged write with
//! `Durability::PowerLoss`, and `Durability::ProcessCrash`, which keeps them across a kill,
//! does lose acknowledged writes to a power cut. (The shim is Linux-only: an LD_PRELOAD library
//! that finds the files being synced through /proc.)

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use rivet_core::Client;
use rivet_examples::counter::Counter;
use rivet_tests::{KvStep, Ledger, ServerProcess, Store, SyncShim, Within, numbered_keys, within};
use tokio::sync::Semaphore;

const ROUNDS: usize = 20;
const WRITERS: usize = 4;

/// What one writer saw acknowledged, and how far it went.
#[derive(Debug, Default, Clone)]
struct Acked {
    /// The last count an increment returned.
    count: i64,
    /// Increments sent (acknowledged or not).
    attempted: i64,
    /// KV keys whose put was acknowledged.
    keys: BTreeSet<u64>,
    next_key: u64,
    /// Database rows whose insert was acknowledged.
    rows: BTreeSet<i64>,
}

/// Starts the server on `dir` with `durability` (an argument of `crash_server`), under `shim`
/// if given.
async fn start(dir: &Path, durability: &str, shim: Option<&SyncShim>) -> (ServerProcess, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_crash_server"));
    command.arg(dir).arg(durability);
    if let Some(shim) = shim {
        command.envs(shim.env());
    }
    ServerProcess::spawn(command).await
}

/// Increments, puts and inserts until the first failure (the kill); adds a permit to `acks` for
/// each acknowledged write.
async fn write(client: Client, writer: usize, mut acked: Acked, acks: Arc<Semaphore>) -> Acked {
    let counter = client.get_or_create::<Counter>([format!("crash-{writer}")]);
    let store = client.get_or_create::<Store>([format!("crash-{writer}")]);
    let ledger = client.get_or_create::<Ledger>([format!("crash-{writer}")]);
    loop {
        acked.attempted += 1;
        match counter.increment(1).within().await {
            Ok(count) => acked.count = count,
            Err(_) => return acked,
        }
        acks.add_permits(1);
        let key = acked.next_key;
        acked.next_key += 1;
        let step = KvStep::Put(format!("k/{key:08}"), format!("v{key}"));
        match store.script(vec![step], false).within().await {
            Ok(_) => {
                acked.keys.insert(key);
            }
            Err(_) => return acked,
        }
        acks.add_permits(1);
        // A database row and the state's total, in one turn.
        match ledger.add(format!("row {key}"), 1).within().await {
            Ok(id) => {
                acked.rows.insert(id);
            }
            Err(_) => return acked,
        }
        acks.add_permits(1);
    }
}

/// Checks that everything acknowledged is stored.
async fn verify(client: &Client, writers: &[Acked], round: usize) {
    for (writer, acked) in writers.iter().enumerate() {
        let counter = client.get_or_create::<Counter>([format!("crash-{writer}")]);
        let count = counter
            .get_count()
            .within()
            .await
            .expect("read the counter");
        assert!(
            count >= acked.count && count <= acked.attempted,
            "round {round}, writer {writer}: count {count}, acknowledged {}, attempted {}",
            acked.count,
            acked.attempted
        );
        let store = client.get_or_create::<Store>([format!("crash-{writer}")]);
        let stored = numbered_keys(&store).await;
        let lost: Vec<&u64> = acked.keys.difference(&stored).collect();
        assert!(
            lost.is_empty(),
            "round {round}, writer {writer}: acknowledged keys lost: {lost:?}"
        );
        let ledger = client.get_or_create::<Ledger>([format!("crash-{writer}")]);
        let rows: BTreeSet<i64> = ledger
            .entries()
            .within()
            .await
            .expect("read the rows")
            .iter()
            .map(|e| e.id)
            .collect();
        let lost: Vec<&i64> = acked.rows.difference(&rows).collect();
        assert!(
            lost.is_empty(),
            "round {round}, writer {writer}: acknowledged rows lost: {lost:?}"
        );
        // The state's total and the rows were committed together.
        let (total, sum) = ledger.totals().within().await.expect("read the totals");
        assert_eq!(
            total, sum,
            "round {round}, writer {writer}: state and database disagree"
        );
    }
}

/// [`ROUNDS`] rounds on `dir`: start the server, check every write acknowledged so far, write
/// until a kill; after each kill, cut the power if `shim` is given.
async fn kill_rounds(dir: &Path, durability: &str, shim: Option<&SyncShim>) {
    let mut writers = vec![Acked::default(); WRITERS];
    // A fixed seed: the kill points differ between rounds and are the same on every run.
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    for round in 0..ROUNDS {
        let (mut server, endpoint) = start(dir, durability, shim).await;
        let client = Client::new(endpoint);
        verify(&client, &writers, round).await;
        let acks = Arc::new(Semaphore::new(0));
        let tasks: Vec<_> = writers
            .iter()
            .enumerate()
            .map(|(i, acked)| {
                let acks = Arc::clone(&acks);
                tokio::spawn(write(client.clone(), i, acked.clone(), acks))
            })
            .collect();
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        // What varies between rounds is how far the writers got: 1 to 120 acknowledged writes
        // (of all writers together), then the kill, with more writes in flight.
        let target = 1 + u32::try_from((seed >> 33) % 120).expect("small");
        within(acks.acquire_many(target))
            .await
            .expect("never closed")
            .forget();
        server.kill();
        if let Some(shim) = shim {
            shim.cut_power();
        }
        for (i, task) in tasks.into_iter().enumerate() {
            writers[i] = task.within().await.expect("writer");
        }
    }
    let (_server, endpoint) = start(dir, durability, shim).await;
    verify(&Client::new(endpoint), &writers, ROUNDS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().expect("tempdir");
    kill_rounds(dir.path(), "power-loss", None).await;
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_power_loss() {
    let dir = tempfile::tempdir().expect("tempdir");
    let shim = SyncShim::build(dir.path());
    kill_rounds(shim.dir(), "power-loss", Some(&shim)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_crash_mode_keeps_acknowledged_writes_across_sigkill() {
    let dir = tempfile::tempdir().expect("tempdir");
    kill_rounds(dir.path(), "process-crash", None).await;
}

/// Increments per writer in [`increments_kept_after_a_power_cut`]: 40 small commits in all,
/// which fill far less than the 1000 WAL pages after which SQLite checkpoints.
#[cfg(target_os = "linux")]
const INCREMENTS: i64 = 10;

/// [`WRITERS`] writers increment counters [`INCREMENTS`] times each on a fresh data directory,
/// each increment acknowledged; then the server is killed and the power cut. Returns the
/// increments acknowledged and those still counted after a restart.
#[cfg(target_os = "linux")]
async fn increments_kept_after_a_power_cut(durability: &str) -> (i64, i64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let shim = SyncShim::build(dir.path());
    let (mut server, endpoint) = start(shim.dir(), durability, Some(&shim)).await;
    let client = Client::new(endpoint);
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let counter = client.get_or_create::<Counter>([format!("cut-{writer}")]);
            tokio::spawn(async move {
                for _ in 0..INCREMENTS {
                    counter.increment(1).within().await.expect("increment");
                }
            })
        })
        .collect();
    for writer in writers {
        writer.within().await.expect("writer");
    }
    server.kill();
    shim.cut_power();
    let (_server, endpoint) = start(shim.dir(), durability, None).await;
    let client = Client::new(endpoint);
    let mut kept = 0;
    for writer in 0..WRITERS {
        let counter = client.get_or_create::<Counter>([format!("cut-{writer}")]);
        kept += counter.get_count().within().await.expect("read the count");
    }
    (i64::try_from(WRITERS).expect("small") * INCREMENTS, kept)
}

/// What shows that the shim drops what was not synced: the same writes, acknowledged alike, are
/// all kept with `PowerLoss` and lost with `ProcessCrash`, whose WAL is synced only at
/// checkpoints, and none comes before the cut.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_crash_mode_loses_acknowledged_writes_to_power_loss() {
    let (acked, kept) = increments_kept_after_a_power_cut("power-loss").await;
    assert_eq!(kept, acked, "power-loss mode lost acknowledged increments");
    let (acked, kept) = increments_kept_after_a_power_cut("process-crash").await;
    assert!(
        kept < acked,
        "process-crash mode kept all {acked} acknowledged increments through a power cut: \
         the shim does not drop unsynced writes"
    );
}
