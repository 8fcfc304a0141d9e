//! Atomic turns on the engine's KV, whose requests are atomic only one at a time and are limited
//! (128 keys, about 976 KiB of puts, values of 128 KiB): a turn's batch that one request can
//! carry goes as that request; any other batch (puts and deletes mixed, or too large) is first
//! written as a journal, whose last written key (the head) commits it, then applied, then the
//! journal is deleted. Waking an actor replays a committed journal and drops an uncommitted one,
//! so every batch is seen whole or not at all.
//!
//! The journal lives under [`JOURNAL`] (`0xf0`), outside the runtime's key layout
//! (`storage/keys.rs`): the head at `[0xf0, 0]` (chunk count, u32 BE), the record in chunks at
//! `[0xf0, 1]` + index (u32 BE). The record lists the batch's final puts and deletes.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::storage::{Batch, KvOp};

/// Most keys in one request.
pub(crate) const MAX_KEYS: usize = 128;
/// Most bytes (keys and values) in one put; the engine's limit is 976 KiB.
pub(crate) const MAX_PUT_BYTES: usize = 960 * 1024;
/// Largest value the engine stores.
pub(crate) const MAX_VALUE: usize = 128 * 1024;
/// Largest key the engine stores.
pub(crate) const MAX_KEY: usize = 2048;

/// The journal's prefix.
pub(crate) const JOURNAL: &[u8] = &[0xf0];
const HEAD: &[u8] = &[0xf0, 0];
const CHUNKS: &[u8] = &[0xf0, 1];

/// A batch's final writes: puts, then deletes.
type Record = (Vec<(Bytes, Bytes)>, Vec<Bytes>);

/// One request to the engine's KV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// Sets these keys, atomically.
    Put(Vec<(Bytes, Bytes)>),
    /// Removes these keys, atomically.
    Delete(Vec<Bytes>),
    /// Removes the whole journal.
    DropJournal,
}

/// A batch that the engine cannot store at all.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum PlanError {
    /// A key over the engine's 2 KiB.
    #[error("a key of {0} bytes is over the engine's limit of {MAX_KEY}")]
    KeyTooLarge(usize),
    /// A value over the engine's 128 KiB.
    #[error("a value of {0} bytes is over the engine's limit of {MAX_VALUE}")]
    ValueTooLarge(usize),
}

/// The requests that apply `batch` atomically, in order. When there is more than one, the
/// request that writes the journal's head is the commit point: before it nothing of the batch
/// is visible after a wake ([`recover`]), after it all of it is.
pub(crate) fn plan(batch: &Batch) -> Result<Vec<Step>, PlanError> {
    let (puts, deletes) = final_writes(batch)?;
    if puts.is_empty() && deletes.is_empty() {
        return Ok(Vec::new());
    }
    if deletes.is_empty() && fits_one_put(&puts) {
        return Ok(vec![Step::Put(puts)]);
    }
    if puts.is_empty() && deletes.len() <= MAX_KEYS {
        return Ok(vec![Step::Delete(deletes)]);
    }
    let record = encode_record(&puts, &deletes);
    let mut journal: Vec<(Bytes, Bytes)> = record
        .chunks(MAX_VALUE)
        .enumerate()
        .map(|(index, chunk)| (chunk_key(index), Bytes::copy_from_slice(chunk)))
        .collect();
    let count = u32::try_from(journal.len()).unwrap_or(u32::MAX);
    journal.push((
        Bytes::from_static(HEAD),
        Bytes::copy_from_slice(&count.to_be_bytes()),
    ));
    // The head goes last, in the last of the journal's requests: the commit point.
    let mut steps: Vec<Step> = group_puts(journal).into_iter().map(Step::Put).collect();
    steps.extend(apply_steps(puts, deletes));
    Ok(steps)
}

/// What to do on waking, given every entry under [`JOURNAL`]: replay a committed journal (its
/// head and all its chunks are there) and delete it, or delete an uncommitted one.
pub(crate) fn recover(entries: &[(Bytes, Bytes)]) -> Result<Vec<Step>, String> {
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    let Some((_, head)) = entries.iter().find(|(key, _)| key.as_ref() == HEAD) else {
        // Chunks without a head: a batch that never committed.
        return Ok(vec![Step::DropJournal]);
    };
    let count: [u8; 4] = head
        .as_ref()
        .try_into()
        .map_err(|_| "the journal's head is not a chunk count".to_owned())?;
    let count = u32::from_be_bytes(count) as usize;
    let mut record = Vec::new();
    for index in 0..count {
        let key = chunk_key(index);
        let (_, chunk) = entries
            .iter()
            .find(|(k, _)| *k == key)
            .ok_or_else(|| format!("the journal's chunk {index} of {count} is missing"))?;
        record.extend_from_slice(chunk);
    }
    let (puts, deletes) = decode_record(&record).ok_or("the journal's record is malformed")?;
    let mut steps = apply_steps(puts, deletes);
    steps.push(Step::DropJournal);
    Ok(steps)
}

/// The batch's last write to each key, as puts and deletes in key order.
fn final_writes(batch: &Batch) -> Result<Record, PlanError> {
    let mut last: BTreeMap<&Bytes, Option<&Bytes>> = BTreeMap::new();
    for op in &batch.ops {
        match op {
            KvOp::Put(key, value) => {
                if value.len() > MAX_VALUE {
                    return Err(PlanError::ValueTooLarge(value.len()));
                }
                last.insert(key, Some(value))
            }
            KvOp::Delete(key) => last.insert(key, None),
        };
    }
    let mut puts = Vec::new();
    let mut deletes = Vec::new();
    for (key, value) in last {
        if key.len() > MAX_KEY {
            return Err(PlanError::KeyTooLarge(key.len()));
        }
        match value {
            Some(value) => puts.push((key.clone(), value.clone())),
            None => deletes.push(key.clone()),
        }
    }
    Ok((puts, deletes))
}

fn put_size(entry: &(Bytes, Bytes)) -> usize {
    entry.0.len() + entry.1.len()
}

fn fits_one_put(puts: &[(Bytes, Bytes)]) -> bool {
    puts.len() <= MAX_KEYS && puts.iter().map(put_size).sum::<usize>() <= MAX_PUT_BYTES
}

/// Splits puts into requests within the engine's limits, in order.
fn group_puts(puts: Vec<(Bytes, Bytes)>) -> Vec<Vec<(Bytes, Bytes)>> {
    let mut groups: Vec<Vec<(Bytes, Bytes)>> = Vec::new();
    let mut size = 0;
    for entry in puts {
        let entry_size = put_size(&entry);
        match groups.last_mut() {
            Some(group) if group.len() < MAX_KEYS && size + entry_size <= MAX_PUT_BYTES => {
                size += entry_size;
                group.push(entry);
            }
            _ => {
                size = entry_size;
                groups.push(vec![entry]);
            }
        }
    }
    groups
}

fn apply_steps(puts: Vec<(Bytes, Bytes)>, deletes: Vec<Bytes>) -> Vec<Step> {
    let mut steps: Vec<Step> = group_puts(puts).into_iter().map(Step::Put).collect();
    steps.extend(
        deletes
            .chunks(MAX_KEYS)
            .map(|keys| Step::Delete(keys.to_vec())),
    );
    steps
}

fn chunk_key(index: usize) -> Bytes {
    let mut key = CHUNKS.to_vec();
    key.extend_from_slice(&u32::try_from(index).unwrap_or(u32::MAX).to_be_bytes());
    Bytes::from(key)
}

fn push_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// The record: the count of puts (u32 BE), each key and value length-prefixed (u32 BE), then
/// the count of deletes and each key.
fn encode_record(puts: &[(Bytes, Bytes)], deletes: &[Bytes]) -> Vec<u8> {
    let size = puts.iter().map(|p| put_size(p) + 8).sum::<usize>()
        + deletes.iter().map(|d| d.len() + 4).sum::<usize>()
        + 8;
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(&u32::try_from(puts.len()).unwrap_or(u32::MAX).to_be_bytes());
    for (key, value) in puts {
        push_bytes(&mut out, key);
        push_bytes(&mut out, value);
    }
    out.extend_from_slice(
        &u32::try_from(deletes.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    for key in deletes {
        push_bytes(&mut out, key);
    }
    out
}

fn decode_record(mut record: &[u8]) -> Option<Record> {
    fn take<'a>(input: &mut &'a [u8], len: usize) -> Option<&'a [u8]> {
        let (head, rest) = input.split_at_checked(len)?;
        *input = rest;
        Some(head)
    }
    fn number(input: &mut &[u8]) -> Option<usize> {
        let bytes: [u8; 4] = take(input, 4)?.try_into().ok()?;
        usize::try_from(u32::from_be_bytes(bytes)).ok()
    }
    fn bytes(input: &mut &[u8]) -> Option<Bytes> {
        let len = number(input)?;
        Some(Bytes::copy_from_slice(take(input, len)?))
    }
    let mut puts = Vec::new();
    for _ in 0..number(&mut record)? {
        puts.push((bytes(&mut record)?, bytes(&mut record)?));
    }
    let mut deletes = Vec::new();
    for _ in 0..number(&mut record)? {
        deletes.push(bytes(&mut record)?);
    }
    record.is_empty().then_some((puts, deletes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The engine's KV as a map, applying one request at a time, as each request is atomic.
    #[derive(Debug, Clone, Default, PartialEq)]
    struct Kv(BTreeMap<Bytes, Bytes>);

    impl Kv {
        fn apply(&mut self, step: &Step) {
            match step {
                Step::Put(entries) => {
                    assert!(entries.len() <= MAX_KEYS, "{} keys", entries.len());
                    let size: usize = entries.iter().map(put_size).sum();
                    assert!(size <= MAX_PUT_BYTES, "{size} bytes");
                    for (key, value) in entries {
                        assert!(value.len() <= MAX_VALUE);
                        self.0.insert(key.clone(), value.clone());
                    }
                }
                Step::Delete(keys) => {
                    assert!(keys.len() <= MAX_KEYS);
                    for key in keys {
                        self.0.remove(key);
                    }
                }
                Step::DropJournal => self.0.retain(|key, _| !key.starts_with(JOURNAL)),
            }
        }

        fn journal(&self) -> Vec<(Bytes, Bytes)> {
            self.0
                .iter()
                .filter(|(key, _)| key.starts_with(JOURNAL))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        }

        /// What an actor waking now would see.
        fn woken(mut self) -> Self {
            for step in recover(&self.journal()).expect("recovers") {
                self.apply(&step);
            }
            assert!(self.journal().is_empty(), "the journal outlived its wake");
            self
        }
    }

    fn key(i: usize) -> Bytes {
        Bytes::from(format!("k{i:04}").into_bytes())
    }

    fn value(i: usize, size: usize) -> Bytes {
        Bytes::from(vec![u8::try_from(i % 251).expect("small"); size])
    }

    fn before() -> Kv {
        let mut kv = Kv::default();
        for i in 0..300 {
            kv.0.insert(key(i), value(i, 10));
        }
        kv
    }

    fn batches() -> Vec<(&'static str, Batch)> {
        let mut mixed = Batch::default();
        mixed.put(key(1), value(7, 20));
        mixed.delete(key(2));
        let mut many = Batch::default();
        for i in 0..300 {
            many.put(key(i), value(i + 1, 100));
        }
        many.delete(key(5));
        let mut large = Batch::default();
        for i in 0..12 {
            large.put(key(400 + i), value(i, MAX_VALUE));
        }
        let mut deletes = Batch::default();
        for i in 0..200 {
            deletes.delete(key(i));
        }
        let mut rewritten = Batch::default();
        rewritten.delete(key(9));
        rewritten.put(key(9), value(3, 5));
        rewritten.put(key(10), value(3, 5));
        rewritten.delete(key(10));
        vec![
            ("mixed", mixed),
            ("300 puts and a delete", many),
            ("1.5 MiB of values", large),
            ("200 deletes", deletes),
            ("put after delete, delete after put", rewritten),
        ]
    }

    #[test]
    fn every_crash_point_leaves_the_batch_whole_or_absent() {
        for (name, batch) in batches() {
            let steps = plan(&batch).expect("plans");
            assert!(steps.len() > 1, "{name} needs the journal");
            let mut after = before();
            for op in &batch.ops {
                match op {
                    KvOp::Put(k, v) => after.0.insert(k.clone(), v.clone()),
                    KvOp::Delete(k) => after.0.remove(k),
                };
            }
            for crash in 0..=steps.len() {
                let mut kv = before();
                for step in &steps[..crash] {
                    kv.apply(step);
                }
                let woken = kv.woken();
                assert!(
                    woken == before() || woken == after,
                    "{name}: a crash after request {crash} of {} left a partial batch",
                    steps.len()
                );
                // Waking again changes nothing: the replay itself can be interrupted.
                assert_eq!(woken.clone().woken(), woken, "{name}");
            }
            // The commit point is the request with the head: the batch is there from it on.
            let head = steps
                .iter()
                .position(
                    |s| matches!(s, Step::Put(e) if e.iter().any(|(k, _)| k.as_ref() == HEAD)),
                )
                .expect("a head");
            let mut kv = before();
            for step in &steps[..=head] {
                kv.apply(step);
            }
            assert_eq!(kv.woken(), after, "{name}");
        }
    }

    #[test]
    fn batches_one_request_can_carry_skip_the_journal() {
        let mut puts = Batch::default();
        puts.put(key(1), value(1, 10));
        puts.put(key(2), value(2, 10));
        assert!(matches!(&plan(&puts).expect("plans")[..], [Step::Put(e)] if e.len() == 2));
        let mut deletes = Batch::default();
        deletes.delete(key(1));
        assert_eq!(plan(&deletes).expect("plans"), [Step::Delete(vec![key(1)])]);
        assert!(plan(&Batch::default()).expect("plans").is_empty());
    }

    #[test]
    fn what_the_engine_cannot_store_is_refused_before_writing() {
        let mut batch = Batch::default();
        batch.put(key(1), value(1, MAX_VALUE + 1));
        assert_eq!(plan(&batch), Err(PlanError::ValueTooLarge(MAX_VALUE + 1)));
        let mut batch = Batch::default();
        batch.delete(vec![0; MAX_KEY + 1]);
        assert_eq!(plan(&batch), Err(PlanError::KeyTooLarge(MAX_KEY + 1)));
    }

    #[test]
    fn a_damaged_journal_is_an_error_not_a_guess() {
        let head = (Bytes::from_static(HEAD), Bytes::from_static(&[0, 0, 0, 2]));
        let error = recover(&[head.clone(), (chunk_key(0), Bytes::new())]).unwrap_err();
        assert!(error.contains("chunk 1 of 2"), "{error}");
        let error = recover(&[
            (Bytes::from_static(HEAD), Bytes::from_static(&[0, 0, 0, 1])),
            (chunk_key(0), Bytes::from_static(&[0, 0, 0, 9])),
        ])
        .unwrap_err();
        assert!(error.contains("malformed"), "{error}");
    }
}
