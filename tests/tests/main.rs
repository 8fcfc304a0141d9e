//! The integration tests that can share a process, one module per `<area>_<behaviour>.rs` file,
//! linked into one binary. Tests that change process-wide state (`registry_data_dir_env`) or
//! run other programs (`crash_safety`, `workflow_crash`, `interop_js`) have binaries of their
//! own (see Cargo.toml). Tests here run in parallel in one process: the hook log and the named
//! semaphores of `rivet_tests` are shared, so each test uses actor keys and names of its own.
// Everything here is test code, but the bodies that `on_each_backend!` runs twice are plain
// `async fn`s, which clippy's `allow-unwrap-in-tests` does not count as tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod actions_typed;
mod actor_calls;
mod actor_db;
mod actor_options;
mod async_send_sync;
mod bad_input;
mod bad_input_catalogue;
mod connections;
mod create_input;
mod errors_user;
mod events_broadcast;
mod inspector_api;
mod keys_compound;
mod kv_store;
mod lifecycle_destroy;
mod lifecycle_sleep_wake;
mod names_renamed;
mod net_actions;
mod net_bad_input;
mod output_gate;
mod queue_handlers;
mod queue_paging;
mod run_loop;
mod schedules;
mod server_access;
mod server_limits;
mod server_routes;
mod state_durability;
mod storage_failures;
mod workflows;
