//! The official RivetKit JavaScript client (pinned in `tests/interop/package-lock.json`: 2.3.19,
//! and 2.2.1 for protocol v3) against this server, in json, cbor and bare: the scenarios of
//! `tests/interop/interop.mjs`. Needs Node 20 or later; installs the locked clients the first
//! time (or when the lockfile changed). The server requires a token, which the clients pass
//! with their `token` option. The same scenarios run again through the pinned Rivet
//! Engine's gateway, with the actors served by an envoy (runner mode).

use std::path::{Path, PathBuf};
use std::time::Duration;

use rivet_tests::support::engine::Engine;
use rivet_tests::support::node::{check_node, install};
use rivet_tests::support::process::run;
use rivet_tests::{Within, serve, within_for};
use tokio::process::Command;

/// The server's token in the direct run.
const TOKEN: &str = "interop-token";

/// A bound that only a hang reaches: the suite takes well under a minute.
const SUITE_LIMIT: Duration = Duration::from_secs(300);

/// One suite at a time: each runs Node against a server (and the other an engine as well), and
/// both at once on two cores pushed the engine's own timeouts (route resolution, 5 s queue
/// waits) past their limits.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("interop")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_javascript_client_works_unchanged() {
    let _alone = ONE_AT_A_TIME.lock().await;
    check_node().await;
    let dir = interop_dir();
    install(&dir).await;

    // The main job's setup: the example actors on durable embedded storage, here with a token
    // that the clients pass with their `token` option (and one scenario leaves out).
    let data = tempfile::tempdir().expect("tempdir");
    let registry = rivet_examples::registry()
        .data_dir(data.path())
        .token(TOKEN)
        .build()
        .expect("registry");
    let (registry, endpoint) = serve(registry).await;

    let mut suite = Command::new("node");
    suite
        .arg("interop.mjs")
        .env("RIVET_ENDPOINT", endpoint)
        .env("RIVET_SERVER_TOKEN", TOKEN)
        .current_dir(&dir);
    let out = within_for(SUITE_LIMIT, run(&mut suite)).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    registry.shutdown().within().await;
    assert!(
        out.status.success(),
        "interop failures:\n{stdout}\n{stderr}"
    );
    // A suite that ran nothing must not pass: 11 scenarios x 2 client versions x 3 encodings.
    let passed = stdout.lines().filter(|l| l.starts_with("ok - ")).count();
    assert!(passed >= 66, "only {passed} scenarios passed:\n{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_javascript_client_works_unchanged_through_the_engine() {
    let _alone = ONE_AT_A_TIME.lock().await;
    check_node().await;
    let dir = interop_dir();
    install(&dir).await;
    // The same actors served by an envoy of the pinned Rivet Engine; the clients talk to the
    // engine's endpoint, whose gateway tunnels to the envoy.
    let engine = Engine::start().await;
    let envoy = engine.envoy(rivet_examples::registry()).await;

    let mut suite = Command::new("node");
    suite
        .arg("interop.mjs")
        .env("RIVET_ENDPOINT", &engine.endpoint)
        .env("RIVET_VIA_ENGINE", "1")
        .current_dir(&dir);
    let out = within_for(SUITE_LIMIT, run(&mut suite)).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    envoy.shutdown().within().await;
    assert!(
        out.status.success(),
        "interop failures through the engine:\n{stdout}\n{stderr}"
    );
    let passed = stdout.lines().filter(|l| l.starts_with("ok - ")).count();
    assert!(passed >= 60, "only {passed} scenarios passed:\n{stdout}");
}

/// The inspector's token in the inspector suites.
const INSPECTOR_TOKEN: &str = "inspector-token";

/// Runs `inspector.mjs` against `endpoint` (a server with `server_token`, or an engine);
/// returns its output once every scenario passed.
async fn inspector_suite(endpoint: &str, server_token: Option<&str>) -> String {
    let mut suite = Command::new("node");
    suite
        .arg("inspector.mjs")
        .env("RIVET_ENDPOINT", endpoint)
        .env("RIVET_INSPECTOR_TOKEN", INSPECTOR_TOKEN)
        .current_dir(interop_dir());
    match server_token {
        Some(token) => suite.env("RIVET_SERVER_TOKEN", token),
        None => suite.env("RIVET_VIA_ENGINE", "1"),
    };
    let out = within_for(SUITE_LIMIT, run(&mut suite)).await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "inspector failures:\n{stdout}\n{stderr}"
    );
    stdout
}

/// The inspector WebSocket as the Rivet dashboard speaks it, every byte through the codec of
/// the npm `rivetkit` package (`tests/interop/inspector.mjs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboards_inspector_protocol_works_unchanged() {
    let _alone = ONE_AT_A_TIME.lock().await;
    check_node().await;
    install(&interop_dir()).await;
    let data = tempfile::tempdir().expect("tempdir");
    let registry = rivet_examples::registry()
        .data_dir(data.path())
        .token(TOKEN)
        .inspector_token(INSPECTOR_TOKEN)
        .build()
        .expect("registry");
    let (registry, endpoint) = serve(registry).await;
    let stdout = inspector_suite(&endpoint, Some(TOKEN)).await;
    registry.shutdown().within().await;
    let passed = stdout.lines().filter(|l| l.starts_with("ok - ")).count();
    assert!(passed >= 4, "only {passed} scenarios passed:\n{stdout}");
}

/// The same, through the pinned Rivet Engine's gateway to an envoy (runner mode): the socket
/// is tunnelled, as the engine's dashboard reaches an actor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboards_inspector_protocol_works_through_the_engine() {
    let _alone = ONE_AT_A_TIME.lock().await;
    check_node().await;
    install(&interop_dir()).await;
    let engine = Engine::start().await;
    let envoy = engine
        .envoy(rivet_examples::registry().inspector_token(INSPECTOR_TOKEN))
        .await;
    let stdout = inspector_suite(&engine.endpoint, None).await;
    envoy.shutdown().within().await;
    let passed = stdout.lines().filter(|l| l.starts_with("ok - ")).count();
    assert!(passed >= 5, "only {passed} scenarios passed:\n{stdout}");
}
