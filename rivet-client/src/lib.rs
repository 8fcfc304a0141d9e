//! The client side of Rivet for Rust: typed handles to actors, independent of the transport.
//!
//! `#[actor]` (in `rivet-core`) generates an `{Actor}Client` and an `{Actor}Connection` for every
//! actor. They call only the [`Transport`] trait, so the same stubs work in-process
//! (`registry.client()`) and over the network.
//!
//! Every call returns `Result<_, ActorError>`; the error carries RivetKit's stable `group.code`
//! (see [`codes`]), and errors raised by actors with `UserError` arrive intact.

mod client;
pub mod codec;
pub mod codes;
mod connection;
mod error;
mod handle;
mod key;
#[cfg(feature = "net")]
pub mod net;
pub mod protocol;
#[doc(hidden)]
pub mod report;
pub mod tls;
pub mod transport;

pub use client::{ActorDescriptor, Client};
pub use connection::{ActorConnection, Subscription};
pub use error::{ActorError, ErrorCode, USER_GROUP};
pub use handle::{ActorHandle, QueueSend};
pub use key::ActorKey;
#[cfg(feature = "net")]
pub use net::ClientBuilder;
pub use protocol::Encoding;
pub use transport::{ActorAddr, ActorTarget, Transport};
