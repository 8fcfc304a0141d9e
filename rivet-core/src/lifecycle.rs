//! What happens to actors, as [`Registry::lifecycle_events`](crate::Registry::lifecycle_events)
//! reports it.

use rivet_client::ActorKey;

/// Something that happened to an actor.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LifecycleEvent {
    /// The actor id.
    pub actor_id: String,
    /// The actor type name.
    pub name: String,
    /// The actor key.
    pub key: ActorKey,
    /// What happened.
    pub kind: LifecycleKind,
}

/// The kinds of [`LifecycleEvent`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LifecycleKind {
    /// The actor woke (or was created) and is ready.
    Woke,
    /// The actor went to sleep; its state is committed and it holds no memory.
    Slept,
    /// The actor was destroyed with its data.
    Destroyed,
    /// The actor failed to start, or stopped after a failed write; it restarts from storage on
    /// the next request.
    Crashed,
}
