//! In-memory storage, for tests and ephemeral actors: the same semantics, nothing on disk.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;
use rivet_client::ActorKey;
use rivet_client::transport::BoxFuture;
use rustc_hash::FxHashMap;

use super::{ActorRecord, Batch, Commit, KeyRange, KvOp, Lookup, NewActor, Storage, StorageError};

/// Storage that lives in memory and is lost with the process.
#[derive(Debug, Default)]
pub struct MemoryStorage {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    next_storage_id: i64,
    actors: HashMap<String, ActorRecord>,
    by_addr: HashMap<(String, ActorKey), String>,
    /// Each actor's key space.
    kv: FxHashMap<i64, BTreeMap<Bytes, Bytes>>,
}

impl MemoryStorage {
    /// Empty storage.
    pub fn new() -> Self {
        Self::default()
    }

    fn apply(
        &self,
        actor: i64,
        batch: &mut Batch,
        poisoned: &AtomicBool,
    ) -> Result<(), StorageError> {
        if poisoned.load(Ordering::Acquire) {
            batch.ops.clear();
            return Err(StorageError::Poisoned);
        }
        let mut inner = self.lock();
        let space = inner.kv.entry(actor).or_default();
        for op in batch.ops.drain(..) {
            match op {
                KvOp::Put(k, v) => {
                    space.insert(k, v);
                }
                KvOp::Delete(k) => {
                    space.remove(&k);
                }
            }
        }
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        crate::sync::lock(&self.inner)
    }
}

impl Storage for MemoryStorage {
    fn lookup<'a>(
        &'a self,
        lookup: Lookup<'a>,
    ) -> BoxFuture<'a, Result<Option<ActorRecord>, StorageError>> {
        let inner = self.lock();
        let found = match lookup {
            Lookup::Id(id) => inner.actors.get(id).cloned(),
            Lookup::Addr(name, key) => inner
                .by_addr
                .get(&(name.to_owned(), key.clone()))
                .and_then(|id| inner.actors.get(id))
                .cloned(),
        };
        Box::pin(std::future::ready(Ok(found)))
    }

    fn create(&self, actor: NewActor) -> BoxFuture<'_, Result<(ActorRecord, bool), StorageError>> {
        let mut inner = self.lock();
        let result = {
            let addr = (actor.name.clone(), actor.key.clone());
            if let Some(existing) = inner.by_addr.get(&addr).and_then(|id| inner.actors.get(id)) {
                Ok((existing.clone(), false))
            } else {
                inner.next_storage_id += 1;
                let record = ActorRecord {
                    id: actor.id,
                    storage_id: inner.next_storage_id,
                    name: actor.name,
                    key: actor.key,
                    input: actor.input,
                    created_at_ms: actor.created_at_ms,
                };
                inner.by_addr.insert(addr, record.id.clone());
                inner.actors.insert(record.id.clone(), record.clone());
                Ok((record, true))
            }
        };
        Box::pin(std::future::ready(result))
    }

    fn destroy(&self, storage_id: i64) -> BoxFuture<'_, Result<(), StorageError>> {
        let mut inner = self.lock();
        let id = inner
            .actors
            .values()
            .find(|r| r.storage_id == storage_id)
            .map(|r| r.id.clone());
        if let Some(id) = id
            && let Some(record) = inner.actors.remove(&id)
        {
            inner.by_addr.remove(&(record.name, record.key));
        }
        inner.kv.remove(&storage_id);
        Box::pin(std::future::ready(Ok(())))
    }

    fn get<'a>(
        &'a self,
        storage_id: i64,
        key: &'a [u8],
    ) -> BoxFuture<'a, Result<Option<Bytes>, StorageError>> {
        let value = self
            .lock()
            .kv
            .get(&storage_id)
            .and_then(|space| space.get(key))
            .cloned();
        Box::pin(std::future::ready(Ok(value)))
    }

    fn scan_range<'a>(
        &'a self,
        storage_id: i64,
        range: KeyRange<'a>,
    ) -> BoxFuture<'a, Result<Vec<(Bytes, Bytes)>, StorageError>> {
        use std::ops::Bound;
        let inner = self.lock();
        let rows = inner
            .kv
            .get(&storage_id)
            .map(|space| {
                let end = range.end.map_or(Bound::Unbounded, Bound::Excluded);
                let entries = space.range::<[u8], _>((Bound::Included(range.start), end));
                let limit = range.limit.unwrap_or(usize::MAX);
                let pair = |(k, v): (&Bytes, &Bytes)| (k.clone(), v.clone());
                if range.reverse {
                    entries.rev().take(limit).map(pair).collect()
                } else {
                    entries.take(limit).map(pair).collect()
                }
            })
            .unwrap_or_default();
        Box::pin(std::future::ready(Ok(rows)))
    }

    fn list_actors<'a>(
        &'a self,
        name: &'a str,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<ActorRecord>, StorageError>> {
        let inner = self.lock();
        let mut found: Vec<ActorRecord> = inner
            .actors
            .values()
            .filter(|r| r.name == name)
            .cloned()
            .collect();
        found.sort_by_key(|r| r.storage_id);
        found.truncate(limit);
        Box::pin(std::future::ready(Ok(found)))
    }

    fn count_actors(&self) -> BoxFuture<'_, Result<Option<super::ActorCounts>, StorageError>> {
        let mut counts = std::collections::BTreeMap::<String, u64>::new();
        for record in self.lock().actors.values() {
            *counts.entry(record.name.clone()).or_default() += 1;
        }
        Box::pin(std::future::ready(Ok(Some(counts.into_iter().collect()))))
    }

    fn actors_with_prefix<'a>(
        &'a self,
        prefix: &'a [u8],
    ) -> BoxFuture<'a, Result<Vec<ActorRecord>, StorageError>> {
        let inner = self.lock();
        let found = inner
            .actors
            .values()
            .filter(|r| {
                inner
                    .kv
                    .get(&r.storage_id)
                    .is_some_and(|space| with_prefix(space, prefix).next().is_some())
            })
            .cloned()
            .collect();
        Box::pin(std::future::ready(Ok(found)))
    }

    fn commit(&self, mut commit: Commit) {
        let result = self.apply(commit.actor, &mut commit.batch, &commit.poisoned);
        (commit.done)(result);
    }

    fn commit_now(
        &self,
        actor: i64,
        batch: &mut Batch,
        poisoned: &AtomicBool,
    ) -> Option<Result<(), StorageError>> {
        Some(self.apply(actor, batch, poisoned))
    }

    fn close(&self) -> BoxFuture<'_, Result<(), StorageError>> {
        // Writes apply synchronously, so there is nothing to flush; the data stays usable by a
        // later registry given the same storage.
        Box::pin(std::future::ready(Ok(())))
    }
}

/// The entries of `space` whose keys start with `prefix`, in key order.
fn with_prefix<'a>(
    space: &'a BTreeMap<Bytes, Bytes>,
    prefix: &'a [u8],
) -> impl Iterator<Item = (&'a Bytes, &'a Bytes)> + 'a {
    space
        .range::<[u8], _>((
            std::ops::Bound::Included(prefix),
            std::ops::Bound::Unbounded,
        ))
        .take_while(move |(key, _)| key.starts_with(prefix))
}
