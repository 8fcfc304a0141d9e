//! Actor storage on the engine's KV: the [`Storage`] of a registry in runner mode. The engine
//! owns the actors (it creates them, starts them on an envoy, keeps their KV); this storage knows
//! the actors the engine started on this envoy, and sends each one's reads and writes as KV
//! requests over the envoy connection, one at a time per actor, in order, each batch made atomic
//! by the journal (`journal.rs`). Reads queue behind the writes before them, so a read never
//! sees half of a batch.
//!
//! Waking reads the state, the queue, the schedules, the workflow history and the database
//! pages. The envoy asks the engine to send those with `StartActor` (the `preload` of each
//! actor name's metadata, [`preload_metadata`]), and until the actor's first write its reads
//! that the preload covers are answered from it, without a round trip.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

use bytes::Bytes;
use rivet_client::ActorKey;
use rivet_client::transport::BoxFuture;
use rivet_envoy_protocol as p;
use tokio::sync::{mpsc, oneshot};

use super::journal::{self, JOURNAL, Step};
use super::link::Link;
use crate::storage::{
    ActorRecord, Commit, KeyRange, Lookup, NewActor, Storage, StorageError, keys, prefix_end,
};
use crate::sync::lock;

/// The storage of the actors the engine started on this envoy.
#[derive(Debug)]
pub(crate) struct EngineStorage {
    link: Link,
    actors: Mutex<Actors>,
    next_storage_id: AtomicI64,
    /// KV reads answered from the engine's preload (`rivet_engine_kv_preloaded_reads_total`).
    preloaded_reads: prometheus_client::metrics::counter::Counter,
}

/// The actors hosted here, by engine id, and the engine id of each storage id (which every read
/// and write names).
#[derive(Debug, Default)]
struct Actors {
    by_id: HashMap<String, Hosted>,
    ids: HashMap<i64, String>,
}

impl Actors {
    fn by_storage(&mut self, storage_id: i64) -> Option<&mut Hosted> {
        let id = self.ids.get(&storage_id)?;
        self.by_id.get_mut(id)
    }
}

#[derive(Debug)]
struct Hosted {
    record: ActorRecord,
    generation: u32,
    ops: mpsc::UnboundedSender<Op>,
    /// The engine is stopping it: no new activation, though the last one still writes.
    leaving: bool,
    /// When the engine is to wake it once it sleeps.
    alarm: Option<i64>,
}

/// An actor that left this envoy.
#[derive(Debug)]
pub(crate) struct Left {
    pub(crate) generation: u32,
    pub(crate) alarm: Option<i64>,
}

type Reply<T> = oneshot::Sender<Result<T, StorageError>>;

enum Op {
    Get(Bytes, Reply<Option<Bytes>>),
    Scan(OwnedRange, Reply<Vec<(Bytes, Bytes)>>),
    Commit(Commit),
    Drop(Reply<()>),
}

struct OwnedRange {
    start: Bytes,
    end: Option<Bytes>,
    limit: Option<usize>,
    reverse: bool,
}

impl EngineStorage {
    pub(crate) fn new(link: Link) -> Self {
        Self {
            link,
            actors: Mutex::new(Actors::default()),
            next_storage_id: AtomicI64::new(1),
            preloaded_reads: prometheus_client::metrics::counter::Counter::default(),
        }
    }

    /// The counter of reads answered from a preload, for the registry's metrics.
    pub(crate) fn preloaded_reads(&self) -> prometheus_client::metrics::counter::Counter {
        self.preloaded_reads.clone()
    }

    /// Takes on an actor the engine started here as `generation`, in connection `epoch`, with
    /// what the engine preloaded of its KV; its first KV work is to finish or drop a batch a
    /// crash left half written. Returns its record.
    pub(crate) fn host(
        &self,
        actor_id: &str,
        generation: u32,
        config: &p::ActorConfig,
        epoch: u64,
        preloaded: Option<p::PreloadedKv>,
    ) -> ActorRecord {
        let record = ActorRecord {
            id: actor_id.to_owned(),
            storage_id: self.next_storage_id.fetch_add(1, Ordering::Relaxed),
            name: config.name.to_string(),
            key: config
                .key
                .as_deref()
                .map_or_else(ActorKey::default, ActorKey::deserialize),
            input: config.input.clone(),
            created_at_ms: config.create_ts,
        };
        let (ops, rx) = mpsc::unbounded_channel();
        let kv = ActorKv {
            link: self.link.clone(),
            epoch,
            actor_id: actor_id.to_owned(),
            preload: preloaded.map(Preload::new),
            preloaded_reads: self.preloaded_reads.clone(),
        };
        tokio::spawn(serve(kv, rx));
        let hosted = Hosted {
            record: record.clone(),
            generation,
            ops,
            leaving: false,
            alarm: None,
        };
        let mut actors = lock(&self.actors);
        actors.ids.insert(record.storage_id, actor_id.to_owned());
        if let Some(old) = actors.by_id.insert(actor_id.to_owned(), hosted) {
            actors.ids.remove(&old.record.storage_id);
        }
        drop(actors);
        record
    }

    /// Forgets an actor (stopped, or fenced off); its queued reads and writes fail.
    pub(crate) fn unhost(&self, actor_id: &str) -> Option<Left> {
        let mut actors = lock(&self.actors);
        let hosted = actors.by_id.remove(actor_id)?;
        actors.ids.remove(&hosted.record.storage_id);
        Some(Left {
            generation: hosted.generation,
            alarm: hosted.alarm,
        })
    }

    /// Marks an actor the engine is stopping: lookups no longer find it (a message for it
    /// wakes no new activation here), while its last activation finishes its writes.
    pub(crate) fn leave(&self, actor_id: &str) {
        if let Some(hosted) = lock(&self.actors).by_id.get_mut(actor_id) {
            hosted.leaving = true;
        }
    }

    /// The generation an actor runs as here.
    pub(crate) fn generation(&self, actor_id: &str) -> Option<u32> {
        lock(&self.actors).by_id.get(actor_id).map(|h| h.generation)
    }

    /// Every actor hosted here, with its generation.
    pub(crate) fn hosted(&self) -> Vec<(String, u32)> {
        lock(&self.actors)
            .by_id
            .iter()
            .map(|(id, hosted)| (id.clone(), hosted.generation))
            .collect()
    }

    fn send(&self, storage_id: i64, op: Op) -> Result<(), Op> {
        let mut actors = lock(&self.actors);
        match actors.by_storage(storage_id) {
            Some(hosted) => hosted.ops.send(op).map_err(|e| e.0),
            None => Err(op),
        }
    }

    fn ask<T: Send + 'static>(
        &self,
        storage_id: i64,
        op: impl FnOnce(Reply<T>) -> Op,
    ) -> BoxFuture<'_, Result<T, StorageError>> {
        let (reply, answer) = oneshot::channel();
        let sent = self.send(storage_id, op(reply)).is_ok();
        Box::pin(async move {
            if !sent {
                return Err(StorageError::Closed);
            }
            answer.await.map_err(|_| StorageError::Closed)?
        })
    }
}

impl Storage for EngineStorage {
    fn lookup<'a>(
        &'a self,
        lookup: Lookup<'a>,
    ) -> BoxFuture<'a, Result<Option<ActorRecord>, StorageError>> {
        let actors = lock(&self.actors);
        let found = match lookup {
            Lookup::Id(id) => actors.by_id.get(id).filter(|h| !h.leaving),
            Lookup::Addr(name, key) => actors
                .by_id
                .values()
                .find(|h| !h.leaving && h.record.name == name && &h.record.key == key),
        };
        let found = found.map(|h| h.record.clone());
        Box::pin(std::future::ready(Ok(found)))
    }

    fn create(&self, actor: NewActor) -> BoxFuture<'_, Result<(ActorRecord, bool), StorageError>> {
        let error = StorageError::backend(
            "creating an actor",
            format!(
                "on a Rivet Engine, actors are created through the engine (`{}` with key {:?} is \
                 not running on this envoy)",
                actor.name, actor.key
            ),
        );
        Box::pin(std::future::ready(Err(error)))
    }

    fn destroy(&self, storage_id: i64) -> BoxFuture<'_, Result<(), StorageError>> {
        self.ask(storage_id, Op::Drop)
    }

    fn get<'a>(
        &'a self,
        storage_id: i64,
        key: &'a [u8],
    ) -> BoxFuture<'a, Result<Option<Bytes>, StorageError>> {
        self.ask(storage_id, |reply| {
            Op::Get(Bytes::copy_from_slice(key), reply)
        })
    }

    fn scan_range<'a>(
        &'a self,
        storage_id: i64,
        range: KeyRange<'a>,
    ) -> BoxFuture<'a, Result<Vec<(Bytes, Bytes)>, StorageError>> {
        let range = OwnedRange {
            start: Bytes::copy_from_slice(range.start),
            end: range.end.map(Bytes::copy_from_slice),
            limit: range.limit,
            reverse: range.reverse,
        };
        self.ask(storage_id, |reply| Op::Scan(range, reply))
    }

    fn list_actors<'a>(
        &'a self,
        name: &'a str,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<ActorRecord>, StorageError>> {
        let mut found: Vec<ActorRecord> = lock(&self.actors)
            .by_id
            .values()
            .filter(|h| h.record.name == name)
            .map(|h| h.record.clone())
            .collect();
        found.sort_by_key(|record| record.created_at_ms);
        found.truncate(limit);
        Box::pin(std::future::ready(Ok(found)))
    }

    fn actors_with_prefix<'a>(
        &'a self,
        _prefix: &'a [u8],
    ) -> BoxFuture<'a, Result<Vec<ActorRecord>, StorageError>> {
        // The engine starts the actors with work waiting (their alarms); nothing to resume here.
        Box::pin(std::future::ready(Ok(Vec::new())))
    }

    fn commit(&self, commit: Commit) {
        if let Err(Op::Commit(commit)) = self.send(commit.actor, Op::Commit(commit)) {
            (commit.done)(Err(StorageError::Closed));
        }
    }

    fn alarm(&self, storage_id: i64, at_ms: Option<i64>) -> bool {
        if let Some(hosted) = lock(&self.actors).by_storage(storage_id) {
            hosted.alarm = at_ms;
        }
        // The engine wakes the actors it placed; none is woken by the registry here.
        true
    }

    fn close(&self) -> BoxFuture<'_, Result<(), StorageError>> {
        Box::pin(std::future::ready(Ok(())))
    }
}

/// The engine's preload of each actor's KV: the keys and prefixes waking reads, with the byte
/// budgets beyond which the engine sends none of a prefix (the database's pages may come in
/// part: a page read is a single key).
pub(crate) fn preload() -> serde_json::Value {
    let prefix = |prefix: &[u8], max_bytes: u64, partial: bool| serde_json::json!({ "prefix": prefix, "maxBytes": max_bytes, "partial": partial });
    serde_json::json!({
        "keys": [keys::STATE, keys::QUEUE_META, keys::WORKFLOW_OUTPUT, keys::DB_META],
        "prefixes": [
            prefix(JOURNAL, 64 * 1024, false),
            prefix(keys::SCHEDULES, 64 * 1024, false),
            prefix(keys::QUEUE_PREFIX, 256 * 1024, false),
            prefix(keys::WORKFLOW_ENTRIES, 256 * 1024, false),
            prefix(keys::DB_PAGES, 1024 * 1024, true),
        ],
    })
}

/// [`preload`] as an envoy's actor-name metadata (`{"preload": ...}`). Engine 2.3.19 stores it
/// but sends a preload only to serverless pools (`/start`, `serverless.rs`).
pub(crate) fn preload_metadata() -> String {
    serde_json::json!({ "preload": preload() }).to_string()
}

/// What the engine preloaded: the entries of the keys and prefixes it read.
struct Preload {
    entries: BTreeMap<Bytes, Bytes>,
    keys: Vec<Bytes>,
    prefixes: Vec<Bytes>,
}

impl Preload {
    fn new(preloaded: p::PreloadedKv) -> Self {
        Self {
            entries: preloaded
                .entries
                .into_iter()
                .map(|entry| (entry.key, entry.value))
                .collect(),
            keys: preloaded.requested_get_keys,
            prefixes: preloaded.requested_prefixes,
        }
    }

    /// The value of `key`, if the preload covers it (`Some(None)`: it does, and there is none).
    fn get(&self, key: &[u8]) -> Option<Option<Bytes>> {
        let covered = self.keys.iter().any(|k| k.as_ref() == key)
            || self.prefixes.iter().any(|p| key.starts_with(p));
        covered.then(|| self.entries.get(key).cloned())
    }

    /// The entries of a range, if it lies within one preloaded prefix.
    fn scan(&self, range: &OwnedRange) -> Option<Vec<(Bytes, Bytes)>> {
        let end = range.end.as_ref()?;
        self.prefixes.iter().find(|p| {
            range.start.starts_with(p)
                && prefix_end(p).is_some_and(|p_end| end.as_ref() <= p_end.as_slice())
        })?;
        let entries = self
            .entries
            .range::<[u8], _>((
                std::ops::Bound::Included(range.start.as_ref()),
                std::ops::Bound::Excluded(end.as_ref()),
            ))
            .map(|(k, v)| (k.clone(), v.clone()));
        let limit = range.limit.unwrap_or(usize::MAX);
        Some(if range.reverse {
            entries.rev().take(limit).collect()
        } else {
            entries.take(limit).collect()
        })
    }
}

/// One actor's KV work, in order: first the journal a crash may have left, then each read and
/// write as it comes. After a failed write nothing more is written (the batch is poisoned).
async fn serve(mut kv: ActorKv, mut ops: mpsc::UnboundedReceiver<Op>) {
    let mut broken = kv.recover().await.err();
    if let Some(error) = &broken {
        tracing::error!(actor = %kv.actor_id, %error, "the actor's journal could not be replayed");
    }
    while let Some(op) = ops.recv().await {
        fn failed<T>() -> Result<T, StorageError> {
            Err(StorageError::backend(
                "the engine's KV",
                "an earlier request of this actor failed",
            ))
        }
        match op {
            Op::Get(key, reply) => {
                let result = match broken {
                    Some(_) => failed(),
                    None => kv.get(key).await,
                };
                let _ = reply.send(result);
            }
            Op::Scan(range, reply) => {
                let result = match broken {
                    Some(_) => failed(),
                    None => kv.scan(range).await,
                };
                let _ = reply.send(result);
            }
            Op::Drop(reply) => {
                let _ = reply.send(kv.drop_all().await);
            }
            Op::Commit(commit) => {
                // The preload is what storage held at the start; from the first write on, the
                // engine is asked.
                kv.preload = None;
                let poisoned = commit.poisoned.load(Ordering::Acquire) || broken.is_some();
                let result = if poisoned {
                    Err(StorageError::Poisoned)
                } else {
                    kv.commit(&commit.batch).await
                };
                if let Err(error) = &result
                    && !poisoned
                {
                    commit.poisoned.store(true, Ordering::Release);
                    broken = Some(StorageError::backend("the engine's KV", error.to_string()));
                }
                (commit.done)(result);
            }
        }
    }
}

struct ActorKv {
    link: Link,
    epoch: u64,
    actor_id: String,
    preload: Option<Preload>,
    preloaded_reads: prometheus_client::metrics::counter::Counter,
}

impl ActorKv {
    async fn request(&self, data: p::KvRequestData) -> Result<p::KvResponseData, StorageError> {
        let what = "the engine's KV";
        match self.link.kv(self.epoch, &self.actor_id, data).await {
            Ok(p::KvResponseData::KvErrorResponse(error)) => {
                Err(StorageError::backend(what, error.message.to_string()))
            }
            Ok(response) => Ok(response),
            Err(failure) => Err(StorageError::backend(what, failure)),
        }
    }

    async fn get(&self, key: Bytes) -> Result<Option<Bytes>, StorageError> {
        if let Some(found) = self.preload.as_ref().and_then(|p| p.get(&key)) {
            self.preloaded_reads.inc();
            return Ok(found);
        }
        let request = p::KvGetRequest { keys: vec![key] };
        match self
            .request(p::KvRequestData::KvGetRequest(request))
            .await?
        {
            p::KvResponseData::KvGetResponse(found) => Ok(found.values.into_iter().next()),
            other => Err(unexpected(&other)),
        }
    }

    async fn list(&self, request: p::KvListRequest) -> Result<Vec<(Bytes, Bytes)>, StorageError> {
        match self
            .request(p::KvRequestData::KvListRequest(request))
            .await?
        {
            p::KvResponseData::KvListResponse(found) => Ok(found
                .keys
                .into_iter()
                .zip(found.values)
                .filter(|(key, _)| !key.starts_with(JOURNAL))
                .collect()),
            other => Err(unexpected(&other)),
        }
    }

    async fn scan(&self, range: OwnedRange) -> Result<Vec<(Bytes, Bytes)>, StorageError> {
        if let Some(found) = self.preload.as_ref().and_then(|p| p.scan(&range)) {
            self.preloaded_reads.inc();
            return Ok(found);
        }
        // A range with no end ends before the journal, which no scan of the runtime's reaches.
        let end = range.end.unwrap_or_else(|| Bytes::from_static(JOURNAL));
        let query = p::KvListQuery::KvListRangeQuery(p::KvListRangeQuery {
            start: range.start,
            end,
            exclusive: true,
        });
        self.list(p::KvListRequest {
            query,
            reverse: Some(range.reverse),
            limit: range.limit.map(|l| u64::try_from(l).unwrap_or(u64::MAX)),
        })
        .await
    }

    async fn step(&self, step: Step) -> Result<(), StorageError> {
        let data = match step {
            Step::Put(entries) => {
                let (keys, values) = entries.into_iter().unzip();
                p::KvRequestData::KvPutRequest(p::KvPutRequest { keys, values })
            }
            Step::Delete(keys) => p::KvRequestData::KvDeleteRequest(p::KvDeleteRequest { keys }),
            Step::DropJournal => {
                let end = prefix_end(JOURNAL).unwrap_or_default();
                p::KvRequestData::KvDeleteRangeRequest(p::KvDeleteRangeRequest {
                    start: Bytes::from_static(JOURNAL),
                    end: end.into(),
                })
            }
        };
        self.request(data).await.map(|_| ())
    }

    async fn commit(&self, batch: &crate::storage::Batch) -> Result<(), StorageError> {
        let steps = journal::plan(batch)
            .map_err(|error| StorageError::backend("a turn's writes", error))?;
        for step in steps {
            self.step(step).await?;
        }
        Ok(())
    }

    async fn recover(&mut self) -> Result<(), StorageError> {
        let journal = OwnedRange {
            start: Bytes::from_static(JOURNAL),
            end: prefix_end(JOURNAL).map(Bytes::from),
            limit: None,
            reverse: false,
        };
        let preloaded = self.preload.as_ref().and_then(|p| p.scan(&journal));
        let entries = match preloaded {
            Some(entries) => {
                self.preloaded_reads.inc();
                entries
            }
            None => {
                let query = p::KvListQuery::KvListPrefixQuery(p::KvListPrefixQuery {
                    key: Bytes::from_static(JOURNAL),
                });
                let request = p::KvListRequest {
                    query,
                    reverse: None,
                    limit: None,
                };
                match self
                    .request(p::KvRequestData::KvListRequest(request))
                    .await?
                {
                    p::KvResponseData::KvListResponse(found) => {
                        found.keys.into_iter().zip(found.values).collect::<Vec<_>>()
                    }
                    other => return Err(unexpected(&other)),
                }
            }
        };
        if !entries.is_empty() {
            // Replaying writes: what was preloaded is stale from here on.
            self.preload = None;
        }
        let steps = journal::recover(&entries).map_err(StorageError::corrupt)?;
        if !steps.is_empty() {
            tracing::info!(actor = %self.actor_id, "finishing a batch a crash interrupted");
        }
        for step in steps {
            self.step(step).await?;
        }
        Ok(())
    }

    async fn drop_all(&self) -> Result<(), StorageError> {
        self.request(p::KvRequestData::KvDropRequest)
            .await
            .map(|_| ())
    }
}

fn unexpected(response: &p::KvResponseData) -> StorageError {
    StorageError::corrupt(format!(
        "the engine answered a KV request with {response:?}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn preload() -> Preload {
        let entry = |key: &[u8], value: &[u8]| p::PreloadedKvEntry {
            key: Bytes::copy_from_slice(key),
            value: Bytes::copy_from_slice(value),
            metadata: p::KvMetadata {
                version: Bytes::new(),
                update_ts: 0,
            },
        };
        Preload::new(p::PreloadedKv {
            entries: vec![
                entry(&[1], b"state"),
                entry(&[8, b'a'], b"a"),
                entry(&[8, b'b'], b"b"),
                entry(&[8, b'c'], b"c"),
            ],
            requested_get_keys: vec![Bytes::from_static(&[1]), Bytes::from_static(&[5, 1, 1])],
            requested_prefixes: vec![Bytes::from_static(&[8])],
        })
    }

    fn range(start: &[u8], end: Option<&[u8]>, limit: Option<usize>, reverse: bool) -> OwnedRange {
        OwnedRange {
            start: Bytes::copy_from_slice(start),
            end: end.map(Bytes::copy_from_slice),
            limit,
            reverse,
        }
    }

    #[test]
    fn the_preload_answers_only_what_the_engine_read() {
        let preload = preload();
        assert_eq!(preload.get(&[1]), Some(Some(Bytes::from_static(b"state"))));
        // Read by the engine and absent: known absent, no round trip.
        assert_eq!(preload.get(&[5, 1, 1]), Some(None));
        assert_eq!(preload.get(&[8, b'z']), Some(None));
        // Not read by the engine: unknown, so asked of the engine.
        assert_eq!(preload.get(&[4, b'k']), None);
        assert_eq!(preload.get(&[5, 1, 2]), None);
    }

    #[test]
    fn a_scan_inside_a_preloaded_prefix_is_answered_in_order_with_limit() {
        let preload = preload();
        let keys = |found: Option<Vec<(Bytes, Bytes)>>| {
            found.map(|entries| entries.into_iter().map(|(_, v)| v).collect::<Vec<_>>())
        };
        let all = keys(preload.scan(&range(&[8], Some(&[9]), None, false)));
        assert_eq!(
            all,
            Some(vec![Bytes::from("a"), Bytes::from("b"), Bytes::from("c")])
        );
        let last = keys(preload.scan(&range(&[8], Some(&[9]), Some(1), true)));
        assert_eq!(last, Some(vec![Bytes::from("c")]));
        let inner = keys(preload.scan(&range(&[8, b'b'], Some(&[8, b'c']), None, false)));
        assert_eq!(inner, Some(vec![Bytes::from("b")]));
        // Ranges that leave the prefix, or have no end, go to the engine.
        assert_eq!(preload.scan(&range(&[8], Some(&[10]), None, false)), None);
        assert_eq!(preload.scan(&range(&[8], None, None, false)), None);
        assert_eq!(preload.scan(&range(&[4], Some(&[5]), None, false)), None);
    }
}
