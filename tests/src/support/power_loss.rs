//! Power loss without pulling the plug: the shim of `power_loss.c`, which keeps what a disk
//! would hold of a data directory, and the cut that puts it in place of a killed process's
//! files.

use std::ffi::OsString;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::sync::eventually;

/// The environment variable naming the data directory the shim watches.
const DIR_ENV: &str = "RIVET_SHIM_DIR";
/// The files SQLite keeps under the data directory that must survive power loss.
const DURABLE: [&str; 2] = ["rivet.db", "rivet.db-wal"];
/// The WAL, whose syncs make commits durable.
pub const WAL: &str = "rivet.db-wal";
/// The line the shim logs as it starts holding a sync.
const HELD: &str = "held";

/// The shim on one data directory: what a process started with [`env`](Self::env) synced there
/// is what [`cut_power`](Self::cut_power) leaves after the process is killed.
#[derive(Debug)]
pub struct SyncShim {
    dir: PathBuf,
    /// The compiled shim, in a directory of its own; none in the process the shim is loaded in.
    library: Option<(tempfile::TempDir, PathBuf)>,
}

impl SyncShim {
    /// Compiles the shim with the system's C compiler for the data directory `dir` (created if
    /// missing).
    pub fn build(dir: &Path) -> Self {
        std::fs::create_dir_all(dir).expect("create the data directory");
        // The shim compares the paths of the files being synced, which are canonical.
        let dir = dir.canonicalize().expect("canonical data directory");
        let out = tempfile::tempdir().expect("tempdir");
        let library = out.path().join("power_loss.so");
        let source = concat!(env!("CARGO_MANIFEST_DIR"), "/src/support/power_loss.c");
        let status = Command::new("cc")
            .args(["-shared", "-fPIC", "-O2", "-Wall", "-Werror", "-o"])
            .arg(&library)
            .arg(source)
            .arg("-ldl")
            .status()
            .expect("run cc, which compiles the power-loss shim");
        assert!(status.success(), "cc could not compile {source}");
        Self {
            dir,
            library: Some((out, library)),
        }
    }

    /// The shim as seen from a process it is loaded in (started with [`env`](Self::env)).
    pub fn loaded() -> Self {
        let dir = std::env::var_os(DIR_ENV)
            .map(PathBuf::from)
            .unwrap_or_else(|| panic!("{DIR_ENV} is not set: not started under the shim"));
        // The shim makes the FIFO as it loads.
        assert!(
            dir.join("shim.fifo").exists(),
            "the shim is not loaded (no FIFO in {})",
            dir.display()
        );
        Self { dir, library: None }
    }

    /// The data directory, canonical.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The environment that loads the shim into a child process.
    pub fn env(&self) -> [(&'static str, OsString); 2] {
        let (_, library) = self
            .library
            .as_ref()
            .expect("the process that built the shim");
        [
            ("LD_PRELOAD", library.clone().into_os_string()),
            (DIR_ENV, self.dir.clone().into_os_string()),
        ]
    }

    /// What a power cut leaves of the data directory, once the process using it is dead: each
    /// durable file as it was at its last sync (gone if never synced), and no shared-memory
    /// index (SQLite rebuilds it from the WAL).
    pub fn cut_power(&self) {
        for name in DURABLE {
            let live = self.dir.join(name);
            let synced = self.dir.join(format!("{name}.synced"));
            if synced.exists() {
                // A copy, not a rename: the shadow stays what the disk holds until the next
                // sync changes it.
                std::fs::copy(&synced, &live).expect("restore the synced content");
            } else if live.exists() {
                std::fs::remove_file(&live).expect("remove a file never synced");
            }
        }
        let shm = self.dir.join("rivet.db-shm");
        if shm.exists() {
            std::fs::remove_file(shm).expect("remove the shared-memory index");
        }
    }

    /// How many times `file` (a name under the data directory, such as [`WAL`]) was synced.
    pub fn syncs(&self, file: &str) -> usize {
        self.logged(file)
    }

    /// Makes the next sync of the WAL wait until [`Held::release`]: the storage's writer stays
    /// inside that commit, and the commits submitted meanwhile wait for the next.
    pub fn hold(&self) -> Held<'_> {
        let held_before = self.logged(HELD);
        std::fs::write(self.dir.join("shim.hold"), b"").expect("arm the hold");
        Held {
            shim: self,
            held_before,
            released: false,
        }
    }

    /// How many lines of the shim's log are `line`.
    fn logged(&self, line: &str) -> usize {
        std::fs::read_to_string(self.dir.join("shim.log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| *l == line)
            .count()
    }

    /// Lets the sync waiting in the shim go on.
    fn let_go(&self) {
        let _ = std::fs::remove_file(self.dir.join("shim.hold"));
        // Read and write, as the shim opened it: never blocks.
        let mut fifo = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(self.dir.join("shim.fifo"))
            .expect("open the shim's FIFO");
        fifo.write_all(b"x").expect("release the held sync");
    }
}

/// A hold on the WAL's next sync (see [`SyncShim::hold`]); released when dropped, so a failing
/// test leaves no writer stuck.
#[derive(Debug)]
pub struct Held<'a> {
    shim: &'a SyncShim,
    held_before: usize,
    released: bool,
}

impl Held<'_> {
    /// Waits until a sync of the WAL is held.
    pub async fn reached(&self) {
        let before = self.held_before;
        eventually(|| async move { (self.shim.logged(HELD) > before).then_some(()) }).await;
    }

    /// Waits until a sync is held, then lets it go on; later syncs are not held.
    pub async fn release(mut self) {
        self.reached().await;
        self.released = true;
        self.shim.let_go();
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if !self.released {
            // A token the shim may never read, if nothing was held: the test is failing anyway.
            self.shim.let_go();
        }
    }
}
