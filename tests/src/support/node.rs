//! Node and npm for the tests that run JavaScript or npm-installed programs (the official
//! client in `tests/interop`, the pinned Rivet Engine in `tests/engine`): each folder's locked
//! packages are installed by the test itself, once per lockfile.

use std::path::Path;
use std::time::Duration;

use tokio::process::Command;

use crate::support::process::run;
use crate::support::sync::{within, within_for};

/// A bound only a hang reaches: a first `npm install` downloads the packages.
const INSTALL_LIMIT: Duration = Duration::from_secs(600);

/// Fails the test unless Node 20 or later is installed.
pub async fn check_node() {
    let mut node = Command::new("node");
    node.arg("--version").kill_on_drop(true);
    let out = within(node.output()).await.unwrap_or_else(|e| {
        panic!("cannot run node ({e}); these tests need Node 20 or later and npm")
    });
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
        "these tests need Node 20 or later, found `{}`",
        version.trim()
    );
}

/// Installs the packages locked in `dir` unless its `node_modules` already matches the lockfile.
///
/// `npm install`, not `npm ci`: the interop lockfile lacks some optional platform packages of
/// rivetkit's server-side dependencies (the registry this project installs from does not have
/// them), which `npm ci` refuses; `npm install` installs exactly the locked versions and leaves
/// the lockfile as it is.
pub async fn install(dir: &Path) {
    // One install at a time in this process: tests that run in parallel would otherwise each
    // run npm, and one could rewrite a binary (the engine's) while another starts it
    // (`ETXTBSY`). The first writes the stamp; the others find it.
    static INSTALLING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _one_at_a_time = INSTALLING.lock().await;
    let lock = std::fs::read(dir.join("package-lock.json"))
        .unwrap_or_else(|e| panic!("{}/package-lock.json: {e}", dir.display()));
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
