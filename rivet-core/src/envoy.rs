//! Runner mode, under construction: serving this registry's actors from a Rivet Engine, to which
//! the process connects as an "envoy" (feature `engine`). So far: the engine's wire protocol
//! ([`protocol`]) and the check of the engine's `/metadata` that refuses a protocol we do not
//! speak, opening the envoy's connection ([`connect`]), and the bookkeeping of acknowledged
//! commands and events ([`ledger`]). Serving actors over it (storage on the engine's KV,
//! lifecycle, tunnelled traffic) is not built yet.

pub mod connect;
pub mod ledger;
pub mod protocol;
