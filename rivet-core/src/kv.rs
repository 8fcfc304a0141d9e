//! [`Kv`]: the actor's own key-value store (`cx.kv()`), binary keys and values without bound on
//! their number, in the actor's key space next to its state.
//!
//! Writes are part of the turn: they commit with the state in one atomic batch, are visible to
//! the turn's own reads at once, and vanish if the turn fails. Reads see the turn's writes, then
//! writes of earlier turns still being committed, then storage.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::storage::{Batch, KeyRange, Storage, keys, prefix_end};
use crate::sync::lock;

/// The longest key, in bytes (as RivetKit's engine).
pub const MAX_KEY_SIZE: usize = 2 * 1024;
/// The largest value, in bytes (as RivetKit's engine).
pub const MAX_VALUE_SIZE: usize = 128 * 1024;
/// The most keys in one batch call.
pub const MAX_BATCH_KEYS: usize = 128;

pub use rivet_client::codes::kv as codes;

/// Options of [`Kv::list_prefix`] and [`Kv::list_range`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ListOptions {
    /// At most this many entries.
    pub limit: Option<usize>,
    /// Highest keys first.
    pub reverse: bool,
}

impl ListOptions {
    /// At most `limit` entries.
    #[must_use]
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Highest keys first.
    #[must_use]
    pub fn reverse(mut self) -> Self {
        self.reverse = true;
        self
    }
}

/// A write not yet in storage: a value, or `None` for a deletion.
type Overlay = BTreeMap<Bytes, Option<Bytes>>;

/// Writes submitted to storage and not committed yet, each with the number of its batch, so a
/// commit removes only what it wrote.
type Pending = BTreeMap<Bytes, (u64, Option<Bytes>)>;

/// The actor's key-value store; see the [module docs](self).
///
/// ```
/// use rivet_core::prelude::*;
///
/// #[derive(Default, Serialize, Deserialize)]
/// pub struct Notes;
///
/// #[actor(name = "notes")]
/// impl Notes {
///     #[action]
///     async fn add(&self, cx: &mut Cx<Self>, id: u32, text: String) -> Result<usize, Error> {
///         cx.kv().put(format!("note/{id:08}"), text)?;
///         Ok(cx.kv().list_prefix("note/", ListOptions::default()).await?.len())
///     }
///
///     #[action]
///     async fn get(&self, cx: &mut Cx<Self>, id: u32) -> Result<Option<String>, Error> {
///         let value = cx.kv().get(format!("note/{id:08}")).await?;
///         Ok(value.map(|v| String::from_utf8_lossy(&v).into_owned()))
///     }
/// }
/// ```
pub struct Kv {
    storage: Arc<dyn Storage>,
    actor: i64,
    turn: Overlay,
    pending: Arc<Mutex<Pending>>,
    next_batch: u64,
    /// Recently read or written values (`None`: known absent). The actor is the only writer
    /// of its keys, so the cache is never stale; it is bounded and cleared when full.
    cache: std::collections::HashMap<Bytes, Option<Bytes>>,
    cache_bytes: usize,
}

/// The most entries the read cache holds.
const CACHE_ENTRIES: usize = 256;
/// The most bytes of keys and values the read cache holds.
const CACHE_BYTES: usize = 64 * 1024;

impl std::fmt::Debug for Kv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kv")
            .field("actor", &self.actor)
            .field("turn_writes", &self.turn.len())
            .finish_non_exhaustive()
    }
}

/// A value written by `put_value`, decoded; `kv.invalid_value` if it is not a `T`.
fn decode_value<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    rivet_client::codec::decode(bytes)
        .map_err(|e| Error::public(codes::INVALID_VALUE.with_message(e.to_string())))
}

fn check_key(key: &[u8]) -> Result<(), Error> {
    if key.len() > MAX_KEY_SIZE {
        return Err(Error::public(codes::KEY_TOO_LARGE.with_message(format!(
            "The key is {} bytes; the limit is {MAX_KEY_SIZE}.",
            key.len()
        ))));
    }
    Ok(())
}

fn check_batch(len: usize) -> Result<(), Error> {
    if len > MAX_BATCH_KEYS {
        return Err(Error::public(codes::BATCH_TOO_LARGE.with_message(format!(
            "The batch has {len} keys; the limit is {MAX_BATCH_KEYS}."
        ))));
    }
    Ok(())
}

impl Kv {
    pub(crate) fn new(storage: Arc<dyn Storage>, actor: i64) -> Self {
        Self {
            storage,
            actor,
            turn: Overlay::new(),
            pending: Arc::new(Mutex::new(Pending::new())),
            next_batch: 0,
            cache: std::collections::HashMap::new(),
            cache_bytes: 0,
        }
    }

    fn remember(&mut self, key: Bytes, value: Option<Bytes>) {
        let size = key.len() + value.as_ref().map_or(0, Bytes::len);
        if size > CACHE_BYTES / 4 {
            self.cache.remove(&key);
            return;
        }
        if self.cache.len() >= CACHE_ENTRIES || self.cache_bytes + size > CACHE_BYTES {
            self.cache.clear();
            self.cache_bytes = 0;
        }
        self.cache_bytes += size;
        self.cache.insert(key, value);
    }

    /// The value at `key`.
    pub async fn get(&mut self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>, Error> {
        let key = key.as_ref();
        check_key(key)?;
        if let Some(value) = self.overlaid(key) {
            return Ok(value);
        }
        if let Some(value) = self.cache.get(key) {
            return Ok(value.clone());
        }
        let value = self.storage.get(self.actor, &keys::kv(key)).await?;
        self.remember(Bytes::copy_from_slice(key), value.clone());
        Ok(value)
    }

    /// The values at `keys`, in order.
    pub async fn get_batch<K: AsRef<[u8]>>(
        &mut self,
        keys: &[K],
    ) -> Result<Vec<Option<Bytes>>, Error> {
        check_batch(keys.len())?;
        let mut values = Vec::with_capacity(keys.len());
        for key in keys {
            values.push(self.get(key).await?);
        }
        Ok(values)
    }

    /// The value at `key`, decoded from CBOR (as written by [`put_value`](Self::put_value)).
    pub async fn get_value<T: DeserializeOwned>(
        &mut self,
        key: impl AsRef<[u8]>,
    ) -> Result<Option<T>, Error> {
        match self.get(key).await? {
            Some(bytes) => decode_value(&bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Sets `key` to `value` when the turn commits.
    pub fn put(&mut self, key: impl Into<Bytes>, value: impl Into<Bytes>) -> Result<(), Error> {
        let (key, value) = (key.into(), value.into());
        check_key(&key)?;
        if value.len() > MAX_VALUE_SIZE {
            return Err(Error::public(codes::VALUE_TOO_LARGE.with_message(format!(
                "The value is {} bytes; the limit is {MAX_VALUE_SIZE}.",
                value.len()
            ))));
        }
        self.turn.insert(key, Some(value));
        Ok(())
    }

    /// Sets `key` to the CBOR encoding of `value` when the turn commits.
    pub fn put_value<T: Serialize + ?Sized>(
        &mut self,
        key: impl Into<Bytes>,
        value: &T,
    ) -> Result<(), Error> {
        let encoded = rivet_client::codec::to_cbor(value).map_err(Error::public)?;
        self.put(key, encoded)
    }

    /// Sets several keys; all or none (a limit error changes nothing).
    pub fn put_batch<K, V>(
        &mut self,
        entries: impl IntoIterator<Item = (K, V)>,
    ) -> Result<(), Error>
    where
        K: Into<Bytes>,
        V: Into<Bytes>,
    {
        let entries: Vec<(Bytes, Bytes)> = entries
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        check_batch(entries.len())?;
        let before = self.turn.clone();
        for (key, value) in entries {
            if let Err(error) = self.put(key, value) {
                self.turn = before;
                return Err(error);
            }
        }
        Ok(())
    }

    /// Removes `key` when the turn commits.
    pub fn delete(&mut self, key: impl Into<Bytes>) -> Result<(), Error> {
        let key = key.into();
        check_key(&key)?;
        self.turn.insert(key, None);
        Ok(())
    }

    /// Removes several keys.
    pub fn delete_batch<K: Into<Bytes>>(
        &mut self,
        keys: impl IntoIterator<Item = K>,
    ) -> Result<(), Error> {
        let keys: Vec<Bytes> = keys.into_iter().map(Into::into).collect();
        check_batch(keys.len())?;
        for key in &keys {
            check_key(key)?;
        }
        for key in keys {
            self.turn.insert(key, None);
        }
        Ok(())
    }

    /// The entries whose keys start with `prefix`, in key order.
    pub async fn list_prefix(
        &self,
        prefix: impl AsRef<[u8]>,
        options: ListOptions,
    ) -> Result<Vec<(Bytes, Bytes)>, Error> {
        let prefix = prefix.as_ref();
        let end = prefix_end(prefix);
        self.list(prefix, end.as_deref(), options).await
    }

    /// The entries whose keys start with `prefix`, in key order, with their values decoded
    /// from CBOR (as [`put_value`](Self::put_value) writes them): the typed form of
    /// [`list_prefix`](Self::list_prefix).
    ///
    /// ```
    /// # use rivet_core::prelude::*;
    /// # #[derive(Default, Serialize, Deserialize)]
    /// # struct Mailer;
    /// #[derive(Serialize, Deserialize)]
    /// struct Draft {
    ///     to: String,
    /// }
    ///
    /// #[actor]
    /// impl Mailer {
    ///     #[action]
    ///     async fn drafts(&self, cx: &mut Cx<Self>) -> Result<Vec<String>, Error> {
    ///         let drafts = cx
    ///             .kv()
    ///             .list_prefix_values::<Draft>("draft/", ListOptions::default())
    ///             .await?;
    ///         Ok(drafts.into_iter().map(|(_key, draft)| draft.to).collect())
    ///     }
    /// }
    /// ```
    ///
    /// # Errors
    ///
    /// `kv.invalid_value` if a value under the prefix does not decode as `T`.
    pub async fn list_prefix_values<T: DeserializeOwned>(
        &self,
        prefix: impl AsRef<[u8]>,
        options: ListOptions,
    ) -> Result<Vec<(Bytes, T)>, Error> {
        self.list_prefix(prefix, options)
            .await?
            .into_iter()
            .map(|(key, value)| Ok((key, decode_value(&value)?)))
            .collect()
    }

    /// The entries from `start` (inclusive) to `end` (exclusive), in key order.
    pub async fn list_range(
        &self,
        start: impl AsRef<[u8]>,
        end: impl AsRef<[u8]>,
        options: ListOptions,
    ) -> Result<Vec<(Bytes, Bytes)>, Error> {
        self.list(start.as_ref(), Some(end.as_ref()), options).await
    }

    /// Removes every key from `start` (inclusive) to `end` (exclusive) when the turn commits;
    /// returns how many there were.
    pub async fn delete_range(
        &mut self,
        start: impl AsRef<[u8]>,
        end: impl AsRef<[u8]>,
    ) -> Result<usize, Error> {
        let found = self
            .list(start.as_ref(), Some(end.as_ref()), ListOptions::default())
            .await?;
        let count = found.len();
        for (key, _) in found {
            self.turn.insert(key, None);
        }
        Ok(count)
    }

    /// A key's value as the turn sees it, if it was written since the last commit.
    fn overlaid(&self, key: &[u8]) -> Option<Option<Bytes>> {
        if let Some(value) = self.turn.get(key) {
            return Some(value.clone());
        }
        lock(&self.pending).get(key).map(|(_, value)| value.clone())
    }

    async fn list(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        options: ListOptions,
    ) -> Result<Vec<(Bytes, Bytes)>, Error> {
        for bound in [Some(start), end].into_iter().flatten() {
            check_key(bound)?;
        }
        // The turn's and in-flight writes in the range, the turn's winning.
        let mut overlay: Overlay = Overlay::new();
        let bounds = (
            Bound::Included(start),
            end.map_or(Bound::Unbounded, Bound::Excluded),
        );
        for (key, (_, value)) in lock(&self.pending).range::<[u8], _>(bounds) {
            overlay.insert(key.clone(), value.clone());
        }
        for (key, value) in self.turn.range::<[u8], _>(bounds) {
            overlay.insert(key.clone(), value.clone());
        }
        // Each deletion can hide one stored entry, so read that many more: then at least `limit`
        // entries up to the last one read survive the merge, and an overlay write past it
        // sorts after them and is cut by the limit, as it should be.
        let hidden = overlay.values().filter(|v| v.is_none()).count();
        let full_start = keys::kv(start);
        let full_end = match end {
            Some(end) => Some(keys::kv(end)),
            None => prefix_end(keys::KV).map(Bytes::from),
        };
        let range = KeyRange {
            start: &full_start,
            end: full_end.as_deref(),
            limit: options.limit.map(|l| l.saturating_add(hidden)),
            reverse: options.reverse,
        };
        let stored = self.storage.scan_range(self.actor, range).await?;
        let mut merged: BTreeMap<Bytes, Bytes> = stored
            .into_iter()
            .map(|(key, value)| (key.slice(keys::KV.len()..), value))
            .collect();
        for (key, value) in overlay {
            match value {
                Some(value) => merged.insert(key, value),
                None => merged.remove(&key),
            };
        }
        let limit = options.limit.unwrap_or(usize::MAX);
        Ok(if options.reverse {
            merged.into_iter().rev().take(limit).collect()
        } else {
            merged.into_iter().take(limit).collect()
        })
    }

    /// Moves the turn's writes into `batch`; they stay visible as pending until the returned
    /// callback runs after the batch commits.
    pub(crate) fn finish_turn(
        &mut self,
        batch: &mut Batch,
    ) -> Option<impl FnOnce() + Send + 'static + use<>> {
        if self.turn.is_empty() {
            return None;
        }
        self.next_batch += 1;
        let seq = self.next_batch;
        let writes = std::mem::take(&mut self.turn);
        let mut pending = lock(&self.pending);
        for (key, value) in &writes {
            let full = keys::kv(key);
            match value {
                Some(v) => batch.put(full, v.clone()),
                None => batch.delete(full),
            }
            pending.insert(key.clone(), (seq, value.clone()));
        }
        drop(pending);
        // Pending entries shadow the cache until they commit; then the cache has them.
        for (key, value) in writes {
            self.remember(key, value);
        }
        let pending = Arc::clone(&self.pending);
        Some(move || {
            // Keys written again by a later batch stay pending until that one commits.
            lock(&pending).retain(|_, (s, _)| *s != seq);
        })
    }

    /// Drops the turn's writes (the turn failed).
    pub(crate) fn discard_turn(&mut self) {
        self.turn.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::held::Held;

    fn store() -> (Arc<Held>, Kv) {
        let storage = Arc::new(Held::default());
        let kv = Kv::new(Arc::clone(&storage) as Arc<dyn Storage>, 1);
        (storage, kv)
    }

    /// Ends the turn as the host does: its writes join a batch, which goes to storage; the
    /// returned callback runs once that batch committed.
    fn end_turn(storage: &Held, kv: &mut Kv) -> Option<impl FnOnce() + use<>> {
        let mut batch = Batch::default();
        let done = kv.finish_turn(&mut batch);
        storage.commit(crate::storage::Commit {
            actor: 1,
            batch,
            poisoned: Arc::default(),
            done: Box::new(|_| {}),
        });
        done
    }

    fn keys_of(entries: &[(Bytes, Bytes)]) -> Vec<&[u8]> {
        entries.iter().map(|(k, _)| k.as_ref()).collect()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_turn_reads_its_own_writes_and_a_failed_turn_leaves_nothing() {
        let (_storage, mut kv) = store();
        kv.put("a", "1").expect("put");
        assert_eq!(kv.get("a").await.expect("get").as_deref(), Some(&b"1"[..]));
        kv.delete("a").expect("delete");
        assert_eq!(kv.get("a").await.expect("get"), None);
        kv.put("b", "2").expect("put");
        kv.discard_turn();
        assert_eq!(kv.get("b").await.expect("get"), None);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn writes_in_flight_are_seen_by_later_turns_until_they_commit() {
        let (storage, mut kv) = store();
        kv.put("a", "1").expect("put");
        let committed = end_turn(&storage, &mut kv).expect("writes");
        // The batch is held: storage has nothing, the pending overlay has the value.
        assert_eq!(
            storage.inner.get(1, &keys::kv(b"a")).await.expect("get"),
            None
        );
        assert_eq!(kv.get("a").await.expect("get").as_deref(), Some(&b"1"[..]));
        let listed = kv
            .list_prefix("", ListOptions::default())
            .await
            .expect("list");
        assert_eq!(keys_of(&listed), [b"a"]);
        storage.release_all();
        committed();
        assert_eq!(
            storage
                .inner
                .get(1, &keys::kv(b"a"))
                .await
                .expect("get")
                .as_deref(),
            Some(&b"1"[..])
        );
        assert_eq!(kv.get("a").await.expect("get").as_deref(), Some(&b"1"[..]));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_earlier_commit_does_not_drop_a_later_batch_of_the_same_key() {
        let (storage, mut kv) = store();
        kv.put("a", "1").expect("put");
        let first = end_turn(&storage, &mut kv).expect("first");
        kv.put("a", "2").expect("put");
        let second = end_turn(&storage, &mut kv).expect("second");
        // The first batch commits (its callback runs) while the second is still held back:
        // simulate by running the first callback alone.
        first();
        kv.cache.clear();
        assert_eq!(kv.get("a").await.expect("get").as_deref(), Some(&b"2"[..]));
        storage.release_all();
        second();
        kv.cache.clear();
        assert_eq!(kv.get("a").await.expect("get").as_deref(), Some(&b"2"[..]));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn listings_merge_turn_pending_and_stored_entries_exactly() {
        let (storage, mut kv) = store();
        for key in ["k1", "k2", "k3", "k4", "k5"] {
            kv.put(key, "stored").expect("put");
        }
        let committed = end_turn(&storage, &mut kv).expect("writes");
        storage.release_all();
        committed();
        // In flight: k2 deleted, k6 added. In the turn: k1 deleted, k0 added.
        kv.delete("k2").expect("delete");
        kv.put("k6", "pending").expect("put");
        let _in_flight = end_turn(&storage, &mut kv).expect("writes");
        kv.delete("k1").expect("delete");
        kv.put("k0", "turn").expect("put");
        let all = kv
            .list_prefix("k", ListOptions::default())
            .await
            .expect("list");
        assert_eq!(keys_of(&all), [&b"k0"[..], b"k3", b"k4", b"k5", b"k6"]);
        // Two deletions hide stored entries: a limit still returns exactly the first ones.
        let first = kv
            .list_prefix("k", ListOptions::default().limit(3))
            .await
            .expect("list");
        assert_eq!(keys_of(&first), [&b"k0"[..], b"k3", b"k4"]);
        let last = kv
            .list_prefix("k", ListOptions::default().limit(2).reverse())
            .await
            .expect("list");
        assert_eq!(keys_of(&last), [&b"k6"[..], b"k5"]);
        let range = kv
            .list_range("k1", "k4", ListOptions::default())
            .await
            .expect("range");
        assert_eq!(keys_of(&range), [b"k3"]);
        assert_eq!(kv.delete_range("k3", "k5").await.expect("delete range"), 2);
        let all = kv
            .list_prefix("k", ListOptions::default())
            .await
            .expect("list");
        assert_eq!(keys_of(&all), [&b"k0"[..], b"k5", b"k6"]);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn limits_refuse_without_changing_anything() {
        let (_storage, mut kv) = store();
        let long_key = vec![b'k'; MAX_KEY_SIZE + 1];
        let code = |e: Error| e.to_actor_error().full_code();
        assert_eq!(
            kv.put(long_key.clone(), "v").map_err(code),
            Err("kv.key_too_large".to_owned())
        );
        assert_eq!(
            kv.put("k", vec![0u8; MAX_VALUE_SIZE + 1]).map_err(code),
            Err("kv.value_too_large".to_owned())
        );
        let batch: Vec<(String, &str)> = (0..=MAX_BATCH_KEYS)
            .map(|i| (format!("{i}"), "v"))
            .collect();
        assert_eq!(
            kv.put_batch(batch).map_err(code),
            Err("kv.batch_too_large".to_owned())
        );
        // One bad entry in a batch: none of it is written.
        let mixed = vec![
            (Bytes::from("ok"), Bytes::from("v")),
            (Bytes::from(long_key), Bytes::from("v")),
        ];
        assert!(kv.put_batch(mixed).is_err());
        assert_eq!(kv.get("ok").await.expect("get"), None);
        let got = kv.get_batch(&["ok", "missing"]).await.expect("batch");
        assert_eq!(got, [None, None]);
        kv.put_batch([("x", "1"), ("y", "2")]).expect("batch");
        kv.delete_batch(["x"]).expect("delete batch");
        let got = kv.get_batch(&["x", "y"]).await.expect("batch");
        assert_eq!(got, [None, Some(Bytes::from("2"))]);
    }
}
