//! The child processes of the crash and runner-mode tests (`src/bin/crash_server.rs`,
//! `src/bin/envoy_server.rs`), and programs a test runs to their end (npm, node, apt-get).

use std::io::BufRead as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::support::sync::within;

/// Runs `command` to its end; it is killed if the test stops waiting for it.
pub async fn run(command: &mut tokio::process::Command) -> std::process::Output {
    command
        .kill_on_drop(true)
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"))
}

/// A server child process of the crash tests; killed with SIGKILL when dropped, so a failing
/// test leaves none behind.
#[derive(Debug)]
pub struct ServerProcess(Child);

impl ServerProcess {
    /// Starts `binary` (a test passes `env!("CARGO_BIN_EXE_crash_server")`) on the data
    /// directory `dir`; returns it with its endpoint once it listens.
    pub async fn start(binary: &str, dir: &Path) -> (Self, String) {
        let mut command = Command::new(binary);
        command.arg(dir);
        Self::spawn(command).await
    }

    /// Starts `command`, a server's binary with its arguments and environment (a test that
    /// picks the durability or loads the power-loss shim); returns it with its endpoint once
    /// it listens.
    pub async fn spawn(command: Command) -> (Self, String) {
        let (server, line) = Self::spawn_announced(command).await;
        (server, format!("http://{line}"))
    }

    /// Starts `command` and returns it with the first line it prints (what it announces once
    /// it is ready: an address, an envoy key).
    pub async fn spawn_announced(mut command: Command) -> (Self, String) {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the server");
        let stdout = child.stdout.take().expect("stdout");
        // Owned before the wait: if the wait fails, the drop kills the child, which ends the
        // blocking read as well.
        let server = Self(child);
        let read = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            std::io::BufReader::new(stdout)
                .read_line(&mut line)
                .map(|_| line)
        });
        let line = within(read)
            .await
            .expect("the reading task")
            .expect("the server's address");
        assert!(
            !line.trim().is_empty(),
            "the server exited before listening"
        );
        (server, line.trim().to_owned())
    }

    /// Sends SIGTERM (a graceful stop) and waits until it exited; returns whether it exited
    /// successfully.
    pub async fn terminate(&mut self) -> bool {
        let pid = self.0.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -TERM {pid}");
        let mut child = std::mem::replace(
            &mut self.0,
            Command::new("true").spawn().expect("a placeholder process"),
        );
        let status = within(tokio::task::spawn_blocking(move || child.wait()))
            .await
            .expect("the waiting task");
        status.is_ok_and(|s| s.success())
    }

    /// Its resident memory now and at its peak so far, in KiB (Linux: `/proc/{pid}/status`).
    pub fn memory(&self) -> Memory {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.0.id()))
            .expect("/proc/{pid}/status (these tests need Linux)");
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or_else(|| panic!("no {name} in /proc/{{pid}}/status"))
        };
        Memory {
            rss_kib: field("VmRSS:"),
            peak_kib: field("VmHWM:"),
        }
    }

    /// Kills it (SIGKILL on Unix) and waits for it.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A process's resident memory, in KiB.
#[derive(Debug, Clone, Copy)]
pub struct Memory {
    /// Resident now.
    pub rss_kib: u64,
    /// The most it was resident since it started.
    pub peak_kib: u64,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
