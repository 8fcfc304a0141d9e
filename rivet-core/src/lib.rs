//! # Rivet for Rust
//!
//! Durable, addressable, stateful actors. Put `#[actor]` on an `impl` block of a serde type and
//! get typed actions, events and queue handlers, a dispatch table for the runtime, and a typed
//! client (`{Actor}Client`, `{Actor}Connection`).
//!
//! ```
//! use rivet_core::prelude::*;
//!
//! #[derive(Default, Serialize, Deserialize)]
//! pub struct Counter {
//!     count: i64,
//! }
//!
//! #[actor(name = "counter", icon = "calculator")]
//! impl Counter {
//!     #[action]
//!     fn increment(&mut self, cx: &mut Cx<Self>, amount: i64) -> i64 {
//!         self.count += amount;
//!         cx.broadcast(CounterEvent::NewCount(self.count));
//!         self.count
//!     }
//!
//!     #[action]
//!     fn get_count(&self) -> i64 {
//!         self.count
//!     }
//!
//!     #[event]
//!     fn new_count(count: i64);
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let registry = Registry::builder().with::<Counter>().in_memory().build()?;
//! let client = registry.client();
//! let counter = client.get_or_create::<Counter>(["org-acme", "general"]);
//! assert_eq!(counter.increment(5).await?, 5);
//! assert_eq!(counter.get_count().await?, 5);
//! # Ok(()) }
//! ```
//!
//! Every awake actor is one task that owns its state and handles one message at a time; an
//! action's reply is sent only after its state change is committed to storage. See the
//! repository's `ARCHITECTURE.md` for the full picture.

pub mod actor;
mod awake;
mod cbor;
mod config;
mod conn;
pub mod context;
#[cfg(feature = "sqlite")]
pub mod db;
mod dispatch;
mod effects;
#[cfg(feature = "engine")]
pub mod envoy;
pub mod error;
// Its pages use the database, the server, the network client and telemetry.
#[cfg(all(
    feature = "sqlite",
    feature = "server",
    feature = "net",
    feature = "otlp"
))]
pub mod guide;
mod host;
mod ids;
pub mod kv;
mod lifecycle;
mod mailbox;
mod message;
mod metrics;
pub mod raw;
mod registry;
mod report;
pub mod run;
mod runtime;
pub mod schedule;
#[cfg(feature = "server")]
pub mod server;
pub mod storage;
mod sync;
#[cfg(feature = "otlp")]
pub mod telemetry;
mod time;
mod trace;
#[cfg(any(feature = "server", feature = "engine"))]
mod url;
pub mod workflow;
mod writes;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use actor::{Actor, ActorMetadata, ActorOptions, Hook, HookSet};
pub use context::{Conn, ConnKind, CreateCx, Cx, KeepAwake};
pub use error::{Error, Result, UserError};
pub use lifecycle::{LifecycleEvent, LifecycleKind};
pub use registry::{DATA_DIR_ENV, DEFAULT_DATA_DIR, Registry, RegistryBuilder};
pub use rivet_client::{
    ActorConnection, ActorDescriptor, ActorError, ActorHandle, ActorKey, Client, ErrorCode,
    QueueSend, Subscription, codes,
};
pub use rivet_macros::actor;

/// The client crate, re-exported: transports and codecs.
pub use rivet_client as client;

/// What actor code usually needs: `use rivet_core::prelude::*;`.
pub mod prelude {
    pub use crate::kv::ListOptions;
    pub use crate::{
        ActorError, ActorKey, ActorOptions, Client, CreateCx, Cx, Error, Registry, UserError, actor,
    };
    pub use serde::{Deserialize, Serialize};
}
