//! Storage: one ordered key-value space per actor, written in atomic batches.
//!
//! Everything an actor persists lives in its own key space, laid out by [`keys`] (state under
//! [`keys::STATE`], queue messages under [`keys::QUEUE_PREFIX`], ...). A turn's writes go out as
//! one [`Batch`]; the backend commits batches of one actor in submission order and calls each
//! batch's callback after its commit, which is when the turn's reply and events are released (the
//! output gate).

use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use bytes::Bytes;
use rivet_client::ActorKey;
use rivet_client::transport::BoxFuture;

#[cfg(test)]
pub(crate) mod held;
pub mod keys;
pub mod memory;
#[cfg(feature = "sqlite")]
pub mod sqlite;

pub(crate) use keys::prefix_end;

/// Keys to read in order: from `start` (inclusive) to `end` (exclusive; `None`: to the end of
/// the key space), at most `limit` of them, from the end when `reverse`.
#[derive(Debug, Clone, Copy)]
pub struct KeyRange<'a> {
    /// The first key.
    pub start: &'a [u8],
    /// The key after the last one.
    pub end: Option<&'a [u8]>,
    /// How many entries at most.
    pub limit: Option<usize>,
    /// Highest keys first.
    pub reverse: bool,
}

/// A boxed error, the source of a [`StorageError`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A storage failure. The runtime reports it to callers as `core.internal_error` and logs it
/// with its chain of sources.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The backend failed (I/O, a database error) while doing `what`.
    #[error("storage backend error: {what}")]
    Backend {
        /// What the backend was doing.
        what: String,
        /// Why it failed.
        #[source]
        source: BoxError,
    },
    /// The storage is closed.
    #[error("storage is closed")]
    Closed,
    /// Stored data (`what`) could not be decoded.
    #[error("stored data is invalid: {what}")]
    Corrupt {
        /// What could not be read.
        what: String,
        /// Why, when a decoder said.
        #[source]
        source: Option<BoxError>,
    },
    /// An earlier batch of this actor activation failed, so this one was not applied.
    #[error("an earlier write of this actor failed; the actor restarts from storage")]
    Poisoned,
}

impl StorageError {
    /// A backend failure while doing `what`.
    pub fn backend(what: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self::Backend {
            what: what.into(),
            source: source.into(),
        }
    }

    /// Stored data that is invalid, as `what` says.
    pub fn corrupt(what: impl Into<String>) -> Self {
        Self::Corrupt {
            what: what.into(),
            source: None,
        }
    }

    /// Stored data (`what`) that a decoder refused with `source`.
    pub fn corrupt_because(what: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self::Corrupt {
            what: what.into(),
            source: Some(source.into()),
        }
    }
}

/// An actor as storage knows it.
#[derive(Debug, Clone)]
pub struct ActorRecord {
    /// The public actor id.
    pub id: String,
    /// The backend's compact id for the actor's key space.
    pub storage_id: i64,
    /// The actor type name.
    pub name: String,
    /// The actor key.
    pub key: ActorKey,
    /// The CBOR creation input, if any.
    pub input: Option<Bytes>,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_at_ms: i64,
}

/// A new actor to record.
#[derive(Debug, Clone)]
pub struct NewActor {
    /// The id to give it.
    pub id: String,
    /// Its type name.
    pub name: String,
    /// Its key.
    pub key: ActorKey,
    /// Its CBOR creation input.
    pub input: Option<Bytes>,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_at_ms: i64,
}

/// How to find an actor.
#[derive(Debug, Clone, Copy)]
pub enum Lookup<'a> {
    /// By public id.
    Id(&'a str),
    /// By type name and key.
    Addr(&'a str, &'a ActorKey),
}

/// One write in a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum KvOp {
    /// Sets a key.
    Put(Bytes, Bytes),
    /// Removes a key.
    Delete(Bytes),
}

/// How many actors of each type a storage holds, by type name.
pub type ActorCounts = Vec<(String, u64)>;

/// The writes of one turn, applied atomically.
#[derive(Debug, Default, Clone)]
pub struct Batch {
    /// The writes, in order.
    pub ops: Vec<KvOp>,
}

impl Batch {
    /// Whether the batch writes nothing.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Adds a put.
    pub fn put(&mut self, key: impl Into<Bytes>, value: impl Into<Bytes>) {
        self.ops.push(KvOp::Put(key.into(), value.into()));
    }

    /// Adds a delete.
    pub fn delete(&mut self, key: impl Into<Bytes>) {
        self.ops.push(KvOp::Delete(key.into()));
    }
}

/// Called once a batch is committed, or has failed.
pub type CommitCallback = Box<dyn FnOnce(Result<(), StorageError>) + Send>;

/// A batch on its way to storage.
pub struct Commit {
    /// The actor's storage id.
    pub actor: i64,
    /// The writes.
    pub batch: Batch,
    /// Set by the backend when a batch of this activation fails; later batches of the same
    /// activation are then refused, so nothing is written on top of a lost write.
    pub poisoned: Arc<AtomicBool>,
    /// Called after commit.
    pub done: CommitCallback,
}

impl Debug for Commit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Commit")
            .field("actor", &self.actor)
            .field("batch", &self.batch)
            .finish_non_exhaustive()
    }
}

/// A storage backend. Implemented by [`memory::MemoryStorage`] and, with the `sqlite` feature,
/// [`sqlite::SqliteStorage`].
pub trait Storage: Send + Sync + Debug + 'static {
    /// Finds an actor.
    fn lookup<'a>(
        &'a self,
        lookup: Lookup<'a>,
    ) -> BoxFuture<'a, Result<Option<ActorRecord>, StorageError>>;

    /// Records a new actor, or returns the existing one at the same name and key. The flag tells
    /// whether it was created.
    fn create(&self, actor: NewActor) -> BoxFuture<'_, Result<(ActorRecord, bool), StorageError>>;

    /// Deletes an actor and its whole key space. Ordered after the actor's submitted batches.
    fn destroy(&self, storage_id: i64) -> BoxFuture<'_, Result<(), StorageError>>;

    /// Reads one key.
    fn get<'a>(
        &'a self,
        storage_id: i64,
        key: &'a [u8],
    ) -> BoxFuture<'a, Result<Option<Bytes>, StorageError>>;

    /// Reads the entries of a key range, in key order (reversed with `range.reverse`).
    fn scan_range<'a>(
        &'a self,
        storage_id: i64,
        range: KeyRange<'a>,
    ) -> BoxFuture<'a, Result<Vec<(Bytes, Bytes)>, StorageError>>;

    /// Reads every key starting with `prefix`, in key order.
    fn scan_prefix<'a>(
        &'a self,
        storage_id: i64,
        prefix: &'a [u8],
    ) -> BoxFuture<'a, Result<Vec<(Bytes, Bytes)>, StorageError>> {
        Box::pin(async move {
            let end = prefix_end(prefix);
            let range = KeyRange {
                start: prefix,
                end: end.as_deref(),
                limit: None,
                reverse: false,
            };
            self.scan_range(storage_id, range).await
        })
    }

    /// Up to `limit` actors of type `name`, oldest first.
    fn list_actors<'a>(
        &'a self,
        name: &'a str,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<ActorRecord>, StorageError>>;

    /// How many actors of each type the storage holds; `None` (the default) when it cannot
    /// tell (the Rivet Engine keeps that itself). Read when metrics are scraped.
    fn count_actors(&self) -> BoxFuture<'_, Result<Option<ActorCounts>, StorageError>> {
        Box::pin(std::future::ready(Ok(None)))
    }

    /// Every actor with at least one key starting with `prefix` (used at start-up to wake actors
    /// that have work waiting, such as queued messages).
    fn actors_with_prefix<'a>(
        &'a self,
        prefix: &'a [u8],
    ) -> BoxFuture<'a, Result<Vec<ActorRecord>, StorageError>>;

    /// Submits a batch. Batches of one actor commit in submission order; `done` runs after.
    fn commit(&self, commit: Commit);

    /// Applies a batch right now, for backends that commit synchronously, and empties it; `None`
    /// (the default) when the backend commits asynchronously through [`commit`](Self::commit).
    /// Only called when the actor has no batch in flight.
    fn commit_now(
        &self,
        actor: i64,
        batch: &mut Batch,
        poisoned: &AtomicBool,
    ) -> Option<Result<(), StorageError>> {
        let _ = (actor, batch, poisoned);
        None
    }

    /// Takes the alarm of an actor going to sleep (`at_ms`, ms since the epoch; `None`: no
    /// alarm) and returns `true` if the backend's host wakes the actor itself then (the Rivet
    /// Engine does); `false` (the default) leaves the alarm to the registry.
    fn alarm(&self, storage_id: i64, at_ms: Option<i64>) -> bool {
        let _ = (storage_id, at_ms);
        false
    }

    /// Commits everything submitted so far and stops accepting writes.
    fn close(&self) -> BoxFuture<'_, Result<(), StorageError>>;
}
