//! Small shared helpers of the integration tests, one file per kind.

pub mod backend;
pub mod browser;
pub mod engine;
pub mod log;
pub mod net;
pub mod node;
pub mod power_loss;
pub mod process;
pub mod storage;
pub mod sync;
pub mod tls;
