//! The inspector page (`/ui`) in headless Chromium (Debian's `chromium`, installed by the test
//! when missing), driven by `tests/browser/ui.mjs` through playwright-core (pinned in
//! `tests/browser/package-lock.json`): the page asks for the server's token, then shows an
//! actor's state, connections, queue, recent turns and workflow history, calls an action, and
//! follows a change made elsewhere. Needs Node 20 or later. With `RIVET_UI_SCREENSHOT=<png>`,
//! it saves the counter's view there (docs/inspector-ui.png was made so).

use std::path::Path;
use std::time::Duration;

use rivet_examples::counter::Counter;
use rivet_examples::task_worker::{Task, TaskWorker};
use rivet_tests::support::browser::chromium;
use rivet_tests::support::engine::Engine;
use rivet_tests::support::node::{check_node, install};
use rivet_tests::support::process::run;
use rivet_tests::{PATIENCE, Within, serve, within_for};
use tokio::process::Command;

const TOKEN: &str = "ui-token";

/// A bound only a hang reaches: the page's checks take seconds.
const PAGE_LIMIT: Duration = Duration::from_secs(300);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inspector_page_shows_and_operates_actors_in_chromium() {
    check_node().await;
    let chromium = chromium().await;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("browser");
    install(&dir).await;

    let registry = rivet_examples::registry()
        .in_memory()
        .token(TOKEN)
        .build()
        .expect("registry");
    let (registry, endpoint) = serve(registry).await;
    let client = registry.client();
    let counter = client.get_or_create::<Counter>(["ui-counter"]);
    assert_eq!(counter.increment(5).within().await.unwrap(), 5);
    let counter_id = counter.resolve().within().await.unwrap();
    // Open while the page looks: it lists one connection.
    let conn = counter.connect().within().await.unwrap();
    let worker = client.get_or_create::<TaskWorker>(["ui-worker"]);
    worker
        .send_tasks(Task { id: 1, amount: 1 })
        .wait(PATIENCE)
        .within()
        .await
        .unwrap();
    let worker_id = worker.resolve().within().await.unwrap();

    let mut page = Command::new("node");
    page.arg("ui.mjs")
        .env("RIVET_ENDPOINT", &endpoint)
        .env("RIVET_TOKEN", TOKEN)
        .env("COUNTER_ID", &counter_id)
        .env("WORKER_ID", &worker_id)
        .env("CHROMIUM", &chromium)
        .current_dir(&dir);
    // How the screenshot in docs/ was made.
    if let Some(path) = std::env::var_os("RIVET_UI_SCREENSHOT") {
        page.env("SCREENSHOT", path);
    }
    let out = within_for(PAGE_LIMIT, run(&mut page)).await;
    conn.disconnect();
    registry.shutdown().within().await;
    assert!(
        out.status.success(),
        "the page failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The Rivet Engine's own dashboard (the pinned engine serves it at `/ui`) shows the state of a
/// counter that one of our envoys serves, and follows a change: the dashboard reads the actor's
/// own inspector token from the engine's KV and speaks the inspector WebSocket through the
/// engine's gateway (`tests/browser/dashboard.mjs`). With `RIVET_DASHBOARD_SCREENSHOT=<png>`,
/// it saves the state view there (docs/engine-dashboard.png was made so).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engines_dashboard_shows_an_actors_live_state_in_chromium() {
    check_node().await;
    let chromium = chromium().await;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("browser");
    install(&dir).await;
    let engine = Engine::start().await;
    // No inspector token configured: the actor's own token is what lets the dashboard in.
    let envoy = engine.envoy(rivet_examples::registry()).await;
    let client = rivet_core::Client::new(engine.endpoint.clone());
    let counter = client.get_or_create::<Counter>(["dashboard"]);
    assert_eq!(counter.increment(41).within().await.unwrap(), 41);
    let counter_id = counter.resolve().within().await.unwrap();
    // Open while the page looks, so the actor stays awake.
    let conn = counter.connect().within().await.unwrap();

    let mut page = Command::new("node");
    page.arg("dashboard.mjs")
        .env("ENGINE_ENDPOINT", &engine.endpoint)
        .env("ACTOR_ID", &counter_id)
        .env("COUNT", "41")
        .env("CHROMIUM", &chromium)
        .current_dir(&dir);
    if let Some(path) = std::env::var_os("RIVET_DASHBOARD_SCREENSHOT") {
        page.env("SCREENSHOT", path);
    }
    let out = within_for(PAGE_LIMIT, run(&mut page)).await;
    conn.disconnect();
    envoy.shutdown().within().await;
    assert!(
        out.status.success(),
        "the dashboard failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
