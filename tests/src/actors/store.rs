//! `store`: an actor that exercises `cx.kv()` through scripts of steps.

use rivet_core::prelude::*;

/// One step of [`Store::script`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum KvStep {
    /// Put a key.
    Put(String, String),
    /// Delete a key.
    Delete(String),
    /// Read a key.
    Get(String),
    /// List a prefix with a limit, maybe reversed.
    List(String, Option<usize>, bool),
    /// Delete a range.
    DeleteRange(String, String),
    /// Read several keys at once.
    GetBatch(Vec<String>),
    /// Delete several keys at once.
    DeleteBatch(Vec<String>),
    /// List from a key (inclusive) to another (exclusive) with a limit, maybe reversed.
    ListRange(String, String, Option<usize>, bool),
}

/// What a [`KvStep`] returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum KvOutcome {
    /// Put or delete.
    Done,
    /// A read.
    Value(Option<String>),
    /// A listing.
    Entries(Vec<(String, String)>),
    /// A range deletion's count.
    Removed(usize),
    /// A batch read.
    Values(Vec<Option<String>>),
}

fn entries(listed: &[(bytes::Bytes, bytes::Bytes)]) -> KvOutcome {
    KvOutcome::Entries(listed.iter().map(|(k, v)| (text(k), text(v))).collect())
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// An actor that exercises `cx.kv()`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Store {
    turns: u64,
}

#[actor(name = "store")]
impl Store {
    /// Runs `steps` in one turn; fails after them when `fail` (so none of the writes stick).
    #[action]
    async fn script(
        &mut self,
        cx: &mut Cx<Self>,
        steps: Vec<KvStep>,
        fail: bool,
    ) -> Result<Vec<KvOutcome>, Error> {
        self.turns += 1;
        let mut out = Vec::with_capacity(steps.len());
        for step in steps {
            out.push(match step {
                KvStep::Put(k, v) => {
                    cx.kv().put(k, v)?;
                    KvOutcome::Done
                }
                KvStep::Delete(k) => {
                    cx.kv().delete(k)?;
                    KvOutcome::Done
                }
                KvStep::Get(k) => KvOutcome::Value(cx.kv().get(k).await?.map(|v| text(&v))),
                KvStep::List(prefix, limit, reverse) => {
                    let options = ListOptions { limit, reverse };
                    entries(&cx.kv().list_prefix(prefix, options).await?)
                }
                KvStep::DeleteRange(start, end) => {
                    KvOutcome::Removed(cx.kv().delete_range(start, end).await?)
                }
                KvStep::GetBatch(keys) => {
                    let values = cx.kv().get_batch(&keys).await?;
                    KvOutcome::Values(values.iter().map(|v| v.as_deref().map(text)).collect())
                }
                KvStep::DeleteBatch(keys) => {
                    cx.kv().delete_batch(keys)?;
                    KvOutcome::Done
                }
                KvStep::ListRange(start, end, limit, reverse) => {
                    let options = ListOptions { limit, reverse };
                    entries(&cx.kv().list_range(start, end, options).await?)
                }
            });
        }
        if fail {
            return Err(UserError::new("failed", "failed after the steps").into());
        }
        Ok(out)
    }

    /// Puts a key of `key_len` bytes with a value of `value_len` bytes.
    #[action]
    fn put_sized(&self, cx: &mut Cx<Self>, key_len: usize, value_len: usize) -> Result<(), Error> {
        cx.kv().put(vec![b'k'; key_len], vec![b'v'; value_len])
    }

    /// Puts `n` keys in one batch call.
    #[action]
    fn put_many(&self, cx: &mut Cx<Self>, n: usize) -> Result<(), Error> {
        cx.kv()
            .put_batch((0..n).map(|i| (format!("many/{i:05}"), format!("{i}"))))
    }

    /// Stores and reads back a typed value.
    #[action]
    async fn typed(
        &self,
        cx: &mut Cx<Self>,
        key: String,
        value: Vec<u32>,
    ) -> Result<Option<Vec<u32>>, Error> {
        cx.kv().put_value(key.clone(), &value)?;
        cx.kv().get_value(key).await
    }

    /// Puts each of `values` as a typed value under `prefix` + its index, then lists the
    /// prefix typed (`list_prefix_values`), keys as text.
    #[action]
    async fn typed_list(
        &self,
        cx: &mut Cx<Self>,
        prefix: String,
        values: Vec<Vec<u32>>,
    ) -> Result<Vec<(String, Vec<u32>)>, Error> {
        for (i, value) in values.iter().enumerate() {
            cx.kv().put_value(format!("{prefix}{i}"), value)?;
        }
        let listed = cx
            .kv()
            .list_prefix_values::<Vec<u32>>(prefix, ListOptions::default())
            .await?;
        Ok(listed.into_iter().map(|(k, v)| (text(&k), v)).collect())
    }

    /// Turns taken (persisted state next to the KV entries).
    #[action]
    fn turns(&self) -> u64 {
        self.turns
    }

    /// Destroys the actor after this turn.
    #[action]
    fn destroy_me(&self, cx: &mut Cx<Self>) {
        cx.destroy();
    }

    /// Asks for the database this actor does not declare.
    #[action]
    fn use_db(&self, cx: &mut Cx<Self>) -> Result<(), Error> {
        cx.db().map(|_| ())
    }
}

/// The numbers `n` of the keys `k/n` that hold `vn` in `store`: what the crash tests' writers
/// stored (each writes `k/n = vn` for n = 0, 1, ...).
pub async fn numbered_keys(store: &StoreClient) -> std::collections::BTreeSet<u64> {
    let listed = crate::support::sync::within(
        store.script(vec![KvStep::List("k/".into(), None, false)], false),
    )
    .await
    .expect("list the keys");
    let [KvOutcome::Entries(entries)] = &listed[..] else {
        panic!("unexpected answer {listed:?}");
    };
    entries
        .iter()
        .filter_map(|(k, v)| {
            let n: u64 = k.strip_prefix("k/")?.parse().ok()?;
            (v == &format!("v{n}")).then_some(n)
        })
        .collect()
}
