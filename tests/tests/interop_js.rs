//! The official RivetKit JavaScript client (pinned in `tests/interop/package-lock.json`: 2.3.19,
//! and 2.2.1 for protocol v3) against this server, in json, cbor and bare: the scenarios of
//! `tests/interop/interop.mjs`. Needs Node 20 or later; installs the locked clients the first
//! time (or when the lockfile changed).

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use rivet_tests::{Within, serve, within_for};
use tokio::process::Command;

/// Bounds that only a hang reaches: a first `npm install` downloads the clients; the suite takes
/// well under a minute.
const INSTALL_LIMIT: Duration = Duration::from_secs(600);
const SUITE_LIMIT: Duration = Duration::from_secs(300);

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("interop")
}

/// Runs `command` to its end; it is killed if the test stops waiting for it.
async fn run(command: &mut Command) -> Output {
    command
        .kill_on_drop(true)
        .output()
        .await
        .unwrap_or_else(|e| {
            panic!("cannot run {command:?} ({e}); the interop tests need Node 20+ and npm")
        })
}

async fn check_node() {
    let out = run(Command::new("node").arg("--version")).within().await;
    let version = String::from_utf8_lossy(&out.stdout);
    let major: u32 = version
        .trim()
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    assert!(
        major >= 20,
        "the interop tests need Node 20 or later, found `{}`",
        version.trim()
    );
}

/// Installs the locked packages unless `node_modules` already matches the lockfile.
///
/// `npm install`, not `npm ci`: the lockfile lacks some optional platform packages of rivetkit's
/// server-side dependencies (the registry this project installs from does not have them), which
/// `npm ci` refuses; `npm install` installs exactly the locked versions and leaves the lockfile
/// as it is.
async fn install(dir: &Path) {
    let lock =
        std::fs::read(dir.join("package-lock.json")).expect("tests/interop/package-lock.json");
    let stamp = dir.join("node_modules").join(".rivet-lock-stamp");
    if std::fs::read(&stamp).is_ok_and(|s| s == lock) {
        return;
    }
    let mut npm = Command::new("npm");
    npm.args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir);
    let out = within_for(INSTALL_LIMIT, run(&mut npm)).await;
    assert!(
        out.status.success(),
        "npm install failed in {}:\n{}{}",
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&stamp, &lock).expect("stamp");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_javascript_client_works_unchanged() {
    check_node().await;
    let dir = interop_dir();
    install(&dir).await;

    // The main job's setup: the example actors on durable embedded storage.
    let data = tempfile::tempdir().expect("tempdir");
    let registry = rivet_examples::registry()
        .data_dir(data.path())
        .build()
        .expect("registry");
    let (registry, endpoint) = serve(registry).await;

    let mut suite = Command::new("node");
    suite
        .arg("interop.mjs")
        .env("RIVET_ENDPOINT", endpoint)
        .current_dir(&dir);
    let out = within_for(SUITE_LIMIT, run(&mut suite)).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    registry.shutdown().within().await;
    assert!(
        out.status.success(),
        "interop failures:\n{stdout}\n{stderr}"
    );
    // A suite that ran nothing must not pass: 10 scenarios x 2 client versions x 3 encodings.
    let passed = stdout.lines().filter(|l| l.starts_with("ok - ")).count();
    assert!(passed >= 60, "only {passed} scenarios passed:\n{stdout}");
}
