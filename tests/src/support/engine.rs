//! The pinned Rivet Engine (`tests/engine/package-lock.json`: `@rivetkit/engine-cli@2.3.19`,
//! installed by the test that needs it), started on free loopback ports: single node on its
//! embedded store in a temporary directory, or two nodes sharing a fresh PostgreSQL database
//! (dropped afterwards) and the machine's NATS.

use std::net::TcpListener;
use std::path::{Path, PathBuf};

use tempfile::TempDir;
use tokio::process::{Child, Command};

use rivet_core::RegistryBuilder;
use rivet_core::envoy::Envoy;
use rivet_core::envoy::connect::EngineEndpoint;

use crate::support::node::install;
use crate::support::sync::{Within, eventually};

/// A running engine, killed when dropped.
#[derive(Debug)]
pub struct Engine {
    /// Its public endpoint (guard: the gateway and the API): `http://127.0.0.1:<port>`.
    pub endpoint: String,
    process: Child,
    config: PathBuf,
    _data: TempDir,
}

fn engine_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("engine")
}

/// A loopback port nobody listens on now.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

impl Engine {
    /// Installs the pinned engine if needed, starts it, and returns once it serves its
    /// `default` namespace.
    pub async fn start() -> Self {
        install(&engine_dir()).await;
        Self::node(|data| serde_json::json!({ "file_system": { "path": data.join("db") } })).await
    }

    /// Starts one node on free ports, its data directory a new temporary one, with the storage
    /// `storage(data directory)` returns (config entries); returns once it serves.
    async fn node(storage: impl FnOnce(&Path) -> serde_json::Value) -> Self {
        let data = tempfile::tempdir().expect("tempdir");
        let (guard, peer, metrics) = (free_port(), free_port(), free_port());
        let endpoint = format!("http://127.0.0.1:{guard}");
        let mut config = serde_json::json!({
            "guard": { "host": "127.0.0.1", "port": guard },
            "api_peer": { "host": "127.0.0.1", "port": peer },
            "metrics": { "host": "127.0.0.1", "port": metrics },
            "telemetry": { "enabled": false },
            "topology": {
                "datacenter_label": 1,
                "datacenters": { "default": {
                    "datacenter_label": 1,
                    "is_leader": true,
                    "public_url": endpoint,
                    "peer_url": format!("http://127.0.0.1:{peer}"),
                } },
            },
        });
        if let (Some(config), serde_json::Value::Object(entries)) =
            (config.as_object_mut(), storage(data.path()))
        {
            config.extend(entries);
        }
        let config_path = data.path().join("engine.json");
        std::fs::write(&config_path, config.to_string()).expect("engine config");
        let process = launch(&config_path, &endpoint).await;
        Self {
            endpoint,
            process,
            config: config_path,
            _data: data,
        }
    }

    /// Registers `pool` as a normal pool (an envoy of another runtime then connects to it).
    pub async fn register_pool(&self, pool: &str) {
        register_pool(&crate::support::net::http(), &self.endpoint, pool).await;
    }

    /// An envoy in this process serving `builder`'s actors in the `default` pool.
    pub async fn envoy(&self, builder: RegistryBuilder) -> Envoy {
        Envoy::start(builder, EngineEndpoint::new(&self.endpoint))
            .within()
            .await
            .expect("an envoy")
    }

    /// Stops the engine (SIGTERM, as a deploy does) and starts it again on the same ports and
    /// data; returns once it serves again.
    pub async fn restart(&mut self) {
        if let Some(pid) = self.process.id() {
            let pid = pid.to_string();
            let sent = std::process::Command::new("kill")
                .args(["-TERM", &pid])
                .status();
            assert!(sent.is_ok_and(|s| s.success()), "kill -TERM {pid}");
        }
        let _ = crate::support::sync::within(self.process.wait()).await;
        self.process = launch(&self.config, &self.endpoint).await;
    }
}

/// Two engine nodes on PostgreSQL (a database of their own on 127.0.0.1:5432, dropped when
/// this is) and NATS (127.0.0.1:4222).
#[derive(Debug)]
pub struct Cluster {
    /// The nodes; each is an endpoint of the same engine.
    pub nodes: Vec<Engine>,
    database: String,
}

impl Cluster {
    /// Creates the database and starts two nodes on it; returns once both serve.
    pub async fn start() -> Self {
        install(&engine_dir()).await;
        let database = format!("rivet_engine_test_{}", uuid_like());
        psql(&format!("CREATE DATABASE {database}"));
        let url = format!("postgresql://postgres@127.0.0.1:5432/{database}?sslmode=disable");
        let mut nodes = Vec::new();
        for _ in 0..2 {
            let storage = serde_json::json!({
                "postgres": { "url": url },
                "nats": { "addresses": ["127.0.0.1:4222"] },
            });
            nodes.push(Engine::node(|_| storage).await);
        }
        Self { nodes, database }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            let _ = node.process.start_kill();
        }
        // The nodes' connections end with them; FORCE closes any still open.
        psql(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.database
        ));
    }
}

/// Runs one statement as `postgres` on the machine's PostgreSQL.
fn psql(statement: &str) {
    let out = std::process::Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
        ])
        .args(["-c", statement])
        .output()
        .unwrap_or_else(|e| panic!("cannot run psql ({e}); this test needs PostgreSQL"));
    assert!(
        out.status.success(),
        "psql {statement}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A name part no other run uses.
fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{}_{nanos}", std::process::id())
}

/// Registers `pool` as a normal pool of the engine at `endpoint`, asking until the engine takes
/// it (a starting engine fails it with a 500 for a moment).
async fn register_pool(http: &reqwest::Client, endpoint: &str, pool: &str) {
    let url = format!("{endpoint}/runner-configs/{pool}?namespace=default");
    let config = serde_json::json!({ "datacenters": { "default": { "normal": {} } } }).to_string();
    eventually(|| {
        let request = http
            .put(&url)
            .header("content-type", "application/json")
            .body(config.clone())
            .send();
        async move { request.await.ok()?.status().is_success().then_some(()) }
    })
    .await;
}

/// Starts the engine with `config` and waits until `endpoint` serves the `default` namespace.
async fn launch(config: &Path, endpoint: &str) -> Child {
    let binary = engine_dir().join("node_modules/@rivetkit/engine-cli-linux-x64-musl/rivet-engine");
    // `RIVET_ENGINE_LOG=<file>` keeps the engine's log there, for debugging a test.
    let log = || match std::env::var_os("RIVET_ENGINE_LOG") {
        Some(path) => std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_or_else(|_| std::process::Stdio::null(), std::process::Stdio::from),
        None => std::process::Stdio::null(),
    };
    let process = Command::new(&binary)
        .arg("start")
        .arg("--config")
        .arg(config)
        .stdout(log())
        .stderr(log())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
    let http = crate::support::net::http();
    let namespaces = format!("{endpoint}/namespaces");
    // Nothing announces that the engine is ready: ask until it answers and has created its
    // `default` namespace (a moment after it starts listening)...
    eventually(|| {
        let request = http.get(&namespaces).send();
        async move {
            let body = request.await.ok()?.text().await.ok()?;
            body.contains("\"name\":\"default\"").then_some(())
        }
    })
    .await;
    // ...and until it takes a runner config, which it fails with a 500 for a moment after that
    // when several engines start at once.
    register_pool(&http, endpoint, "readiness-probe").await;
    process
}
