//! Headless Chromium for the browser tests: Debian's `chromium` package, installed by the test
//! itself (`apt-get`) when the machine does not have it, so the README's test command works on
//! a clean machine; `CHROMIUM` names another binary.

use std::path::PathBuf;
use std::time::Duration;

use tokio::process::Command;

use crate::support::process::run;
use crate::support::sync::within_for;

/// A bound only a hang reaches: a first install downloads about 100 MB of packages.
const INSTALL_LIMIT: Duration = Duration::from_secs(900);

/// Where Debian's package puts the browser.
const DEBIAN_CHROMIUM: &str = "/usr/bin/chromium";

/// The Chromium binary to drive, installed first if needed.
pub async fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return PathBuf::from(path);
    }
    static INSTALLING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _one_at_a_time = INSTALLING.lock().await;
    let path = PathBuf::from(DEBIAN_CHROMIUM);
    if path.exists() {
        return path;
    }
    let install = async || {
        let mut apt = Command::new("apt-get");
        apt.args(["install", "-y", "--no-install-recommends", "chromium"])
            .env("DEBIAN_FRONTEND", "noninteractive");
        within_for(INSTALL_LIMIT, run(&mut apt)).await
    };
    let mut out = install().await;
    if !out.status.success() {
        // A machine whose package lists were never fetched.
        let mut update = Command::new("apt-get");
        within_for(INSTALL_LIMIT, run(update.arg("update"))).await;
        out = install().await;
    }
    assert!(
        out.status.success() && path.exists(),
        "cannot install Debian's chromium (apt-get install chromium, as root):\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    path
}
