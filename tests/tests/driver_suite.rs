//! A slice of RivetKit 2.2.1's own driver test suite (tests/driver-suite), run from its npm
//! package against the Rust fixture server (`driver_fixtures`, the actors of
//! tests/driver-fixtures) in json, cbor and bare: a few files that cover actions, connections and
//! events, raw HTTP and WebSockets, schedules, the database, calls between actors, per-actor
//! options, vars and KV. The full
//! suite is `scripts/driver-suite`; COMPATIBILITY.md keeps its pass table. Needs Node 20 or
//! later; installs the locked packages the first time (or when the lockfile changed).

use std::path::{Path, PathBuf};
use std::time::Duration;

use rivet_tests::support::node::{check_node, install};
use rivet_tests::support::process::run;
use rivet_tests::within_for;
use tokio::process::Command;

/// The files of the slice: every test in them passes in every encoding, every run
/// (`actor-conn-state` is left out: one of its tests fails now and then, COMPATIBILITY.md).
const SLICE: &[&str] = &[
    "actor-state",
    "actor-conn",
    "actor-handle",
    "request-access",
    "raw-http",
    "raw-websocket",
    "actor-schedule",
    "actor-inline-client",
    "actor-db-pragma-migration",
    "action-features",
    "actor-vars",
    "actor-kv",
    "conn-error-serialization",
    "actor-state-zod-coercion",
];

/// How many tests the slice has in one encoding: a run that ran fewer did not run them all.
const SLICE_TESTS: u64 = 3 + 23 + 12 + 4 + 15 + 10 + 4 + 5 + 4 + 11 + 5 + 3 + 2 + 3;

/// A bound only a hang reaches: the slice takes well under a minute.
const SUITE_LIMIT: Duration = Duration::from_secs(600);

fn suite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("driver-suite")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rivetkits_driver_suite_passes_its_slice() {
    check_node().await;
    let dir = suite_dir();
    install(&dir).await;
    let report = tempfile::tempdir().expect("tempdir");
    let report_path = report.path().join("vitest.json");
    let mut vitest = Command::new("npx");
    vitest
        .args(["vitest", "run", "--reporter=default", "--reporter=json"])
        .arg(format!("--outputFile.json={}", report_path.display()))
        .env("RIVET_DRIVER_SERVER", env!("CARGO_BIN_EXE_driver_fixtures"))
        .env("DRIVER_FILES", SLICE.join(","))
        .current_dir(&dir);
    let out = within_for(SUITE_LIMIT, run(&mut vitest)).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "driver suite failures:\n{stdout}\n{stderr}"
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report_path).expect("vitest's JSON report"))
            .expect("JSON");
    let passed = report["numPassedTests"].as_u64().unwrap_or(0);
    assert_eq!(
        passed,
        SLICE_TESTS * 3,
        "not every test of the slice ran and passed in the three encodings:\n{stdout}"
    );
}
