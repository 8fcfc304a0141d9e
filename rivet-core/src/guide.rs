//! The guide: Rivet for Rust from a first actor to deployment, one page per concept. Every
//! example on these pages is compiled and run as a doctest. The attribute reference (every
//! attribute with the signatures it accepts) is on [`#[actor]`](macro@crate::actor).

#[doc = include_str!("../../docs/guide/getting-started.md")]
pub mod getting_started {}
#[doc = include_str!("../../docs/guide/state.md")]
pub mod state {}
#[doc = include_str!("../../docs/guide/actions.md")]
pub mod actions {}
#[doc = include_str!("../../docs/guide/events.md")]
pub mod events {}
#[doc = include_str!("../../docs/guide/lifecycle.md")]
pub mod lifecycle {}
#[doc = include_str!("../../docs/guide/storage.md")]
pub mod storage {}
#[doc = include_str!("../../docs/guide/schedules.md")]
pub mod schedules {}
#[doc = include_str!("../../docs/guide/queues.md")]
pub mod queues {}
#[doc = include_str!("../../docs/guide/workflows.md")]
pub mod workflows {}
#[doc = include_str!("../../docs/guide/calls.md")]
pub mod calls {}
#[doc = include_str!("../../docs/guide/raw.md")]
pub mod raw {}
#[doc = include_str!("../../docs/guide/testing.md")]
pub mod testing {}
#[doc = include_str!("../../docs/guide/serving.md")]
pub mod serving {}
#[doc = include_str!("../../docs/guide/rivetkit.md")]
pub mod rivetkit {}
