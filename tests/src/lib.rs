//! Test actors and helpers shared by the integration tests in `tests/tests/`, re-exported at
//! the root so that a test file imports what it uses from one place.

pub mod actors;
pub mod registries;
pub mod support;

pub use actors::*;
pub use registries::{memory_registry, registry_on, serve_memory, serve_on, test_actors};
pub use support::backend::Backend;
pub use support::log::hook_log;
pub use support::net::{
    ENCODINGS, Socket, check_lobby_socket, http_json, init, network_client, open_socket, query_url,
    read_message, send_message, serve, serve_router,
};
pub use support::power_loss::{Held, SyncShim, WAL};
pub use support::process::{Memory, ServerProcess};
pub use support::storage::{CommitPolicy, TestStorage};
pub use support::sync::{
    PATIENCE, Within, acquire, entered, eventually, gate, recv, wait_for, within, within_for,
};
