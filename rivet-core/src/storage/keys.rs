//! The layout of an actor's key space: every key the runtime stores for an actor is built and
//! read here (the layout follows RivetKit's).
//!
//! | key | what |
//! | --- | --- |
//! | `[1]` | the state (CBOR) |
//! | `[3]` | the actor's inspector token (UTF-8), made when it is created; the Rivet dashboard reads it through the engine's KV API |
//! | `[4]` + key | `cx.kv()` entries |
//! | `[5,1,1]` | the queue's next message id (u64 BE) |
//! | `[5,1,2]` + id (u64 BE) | a queue message: CBOR `(name, body bytes, sent at ms)` (older records lack the time) |
//! | `[5,1,3]` | the queue is dormant: its messages wait for a consumer the actor's code lacks (the code's consumer signature) |
//! | `[6,1]` + location | a workflow history entry (CBOR record) |
//! | `[6,2]` | a finished workflow's output (CBOR) |
//! | `[8]` + id (UTF-8) | a schedule: CBOR `(at_ms, action, args bytes)` |
//! | `[9,0]` | the actor database's length in bytes (u64 BE) |
//! | `[9,1]` + page (u32 BE) | a page of the actor database |
//!
//! A workflow location is a sequence of segments: a name (`1`, UTF-8, `0`) or a loop iteration
//! (`2`, u64 BE), so everything inside a scope shares its prefix.

use bytes::Bytes;

/// The actor's state, CBOR.
pub const STATE: &[u8] = &[1];
/// The actor's own inspector token (RivetKit's key: the Rivet dashboard reads it).
pub(crate) const INSPECTOR_TOKEN: &[u8] = &[3];
/// The user key-value store (`cx.kv()`): this prefix then the user's key.
pub const KV: &[u8] = &[4];
/// Queue metadata: the next message id.
pub const QUEUE_META: &[u8] = &[5, 1, 1];
/// Queue messages: this prefix then the message id as 8 big-endian bytes.
pub const QUEUE_PREFIX: &[u8] = &[5, 1, 2];
/// Set while the actor sleeps with messages nobody can take: start-up does not wake it for
/// them (ours; RivetKit has no such key).
pub(crate) const QUEUE_DORMANT: &[u8] = &[5, 1, 3];
/// Workflow history (`RunCx::workflow`): entries under `[6, 1]` then their location, the
/// finished workflow's output under `[6, 2]`.
pub const WORKFLOW: &[u8] = &[6];
/// Workflow history entries: this prefix then the entry's location.
pub(crate) const WORKFLOW_ENTRIES: &[u8] = &[6, 1];
/// A finished workflow's output.
pub(crate) const WORKFLOW_OUTPUT: &[u8] = &[6, 2];
/// Schedules (`cx.schedule()`): this prefix then the schedule's id.
pub const SCHEDULES: &[u8] = &[8];
/// The actor's SQLite database (`cx.db()`): its length under `[9, 0]`, its pages under
/// `[9, 1]` then the page number.
pub const DB: &[u8] = &[9];
/// The actor database's length.
pub(crate) const DB_META: &[u8] = &[9, 0];
/// The actor database's pages: this prefix then the page number (from 0) as 4 BE bytes.
pub(crate) const DB_PAGES: &[u8] = &[9, 1];

const _: () = assert!(WORKFLOW_ENTRIES[0] == WORKFLOW[0] && WORKFLOW_OUTPUT[0] == WORKFLOW[0]);
const _: () = assert!(DB_META[0] == DB[0] && DB_PAGES[0] == DB[0]);

fn prefixed(prefix: &[u8], rest: &[u8]) -> Bytes {
    let mut key = Vec::with_capacity(prefix.len() + rest.len());
    key.extend_from_slice(prefix);
    key.extend_from_slice(rest);
    Bytes::from(key)
}

/// The stored key of the user's KV key `key`.
pub(crate) fn kv(key: &[u8]) -> Bytes {
    prefixed(KV, key)
}

/// The stored key of queue message `id`.
pub(crate) fn queue_message(id: u64) -> Bytes {
    prefixed(QUEUE_PREFIX, &id.to_be_bytes())
}

/// The id of a queue message from its stored key.
pub(crate) fn queue_message_id(key: &[u8]) -> Option<u64> {
    let bytes: [u8; 8] = key.strip_prefix(QUEUE_PREFIX)?.try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}

/// The stored key of the schedule `id`.
pub(crate) fn schedule(id: &str) -> Bytes {
    prefixed(SCHEDULES, id.as_bytes())
}

/// The id of a schedule from its stored key.
pub(crate) fn schedule_id(key: &[u8]) -> Option<&str> {
    std::str::from_utf8(key.strip_prefix(SCHEDULES)?).ok()
}

/// The stored key of database page `index`.
#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
pub(crate) fn db_page(index: usize) -> Bytes {
    prefixed(
        DB_PAGES,
        &u32::try_from(index).unwrap_or(u32::MAX).to_be_bytes(),
    )
}

/// The page number of a database page from its stored key.
#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
pub(crate) fn db_page_index(key: &[u8]) -> Option<usize> {
    let bytes: [u8; 4] = key.strip_prefix(DB_PAGES)?.try_into().ok()?;
    usize::try_from(u32::from_be_bytes(bytes)).ok()
}

/// The stored key of the workflow history entry at `location`.
pub(crate) fn workflow_entry(location: &[u8]) -> Bytes {
    prefixed(WORKFLOW_ENTRIES, location)
}

const SEG_NAME: u8 = 1;
const SEG_ITERATION: u8 = 2;

/// One segment of a workflow location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    /// A named entry, branch or loop.
    Name(String),
    /// An iteration of a loop.
    Iteration(u64),
}

/// Appends a name segment to a location.
pub(crate) fn push_name(location: &mut Vec<u8>, name: &str) {
    location.push(SEG_NAME);
    location.extend_from_slice(name.as_bytes());
    location.push(0);
}

/// Appends a loop-iteration segment to a location.
pub(crate) fn push_iteration(location: &mut Vec<u8>, iteration: u64) {
    location.push(SEG_ITERATION);
    location.extend_from_slice(&iteration.to_be_bytes());
}

/// Splits a location into its segments, each with the length of the prefix that ends it;
/// `None` if it is malformed.
pub(crate) fn segments(mut location: &[u8]) -> Option<Vec<(Segment, usize)>> {
    let total = location.len();
    let mut out = Vec::new();
    while let Some((&tag, rest)) = location.split_first() {
        match tag {
            SEG_NAME => {
                let end = rest.iter().position(|&b| b == 0)?;
                let name = std::str::from_utf8(&rest[..end]).ok()?.to_owned();
                location = &rest[end + 1..];
                out.push((Segment::Name(name), total - location.len()));
            }
            SEG_ITERATION => {
                let bytes: [u8; 8] = rest.get(..8)?.try_into().ok()?;
                location = &rest[8..];
                out.push((
                    Segment::Iteration(u64::from_be_bytes(bytes)),
                    total - location.len(),
                ));
            }
            _ => return None,
        }
    }
    Some(out)
}

/// The first key after every key that starts with `prefix`; `None` when there is none (the
/// prefix is empty or all `0xff`).
pub(crate) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_skips_ff() {
        assert_eq!(prefix_end(&[5, 1]), Some(vec![5, 2]));
        assert_eq!(prefix_end(&[5, 0xff]), Some(vec![6]));
        assert_eq!(prefix_end(&[0xff, 0xff]), None);
        assert_eq!(prefix_end(&[]), None);
    }

    #[test]
    fn keys_round_trip_and_stay_in_their_ranges() {
        assert_eq!(&kv(b"a")[..], &[4, b'a']);
        let key = queue_message(258);
        assert_eq!(&key[..], &[5, 1, 2, 0, 0, 0, 0, 0, 0, 1, 2]);
        assert_eq!(queue_message_id(&key), Some(258));
        assert_eq!(queue_message_id(QUEUE_META), None);
        assert_eq!(schedule_id(&schedule("ab")), Some("ab"));
        assert_eq!(db_page_index(&db_page(7)), Some(7));
        assert_eq!(db_page_index(DB_META), None);
        // Queue ids sort numerically, so a prefix scan returns messages in order.
        assert!(queue_message(255) < queue_message(256));
        for key in [queue_message(u64::MAX), Bytes::from_static(QUEUE_META)] {
            assert!(key.as_ref() < prefix_end(&[5]).expect("end").as_slice());
        }
    }

    #[test]
    fn locations_nest_by_prefix() {
        let mut parent = Vec::new();
        push_name(&mut parent, "loop");
        let mut iteration = parent.clone();
        push_iteration(&mut iteration, 3);
        let mut child = iteration.clone();
        push_name(&mut child, "step");
        let parsed = segments(&child).expect("segments");
        assert_eq!(
            parsed.iter().map(|(s, _)| s.clone()).collect::<Vec<_>>(),
            [
                Segment::Name("loop".into()),
                Segment::Iteration(3),
                Segment::Name("step".into())
            ]
        );
        assert_eq!(parsed[1].1, iteration.len());
        assert!(child.starts_with(&iteration));
        // A name that extends another is not inside it.
        let mut sibling = Vec::new();
        push_name(&mut sibling, "loopy");
        assert!(!sibling.starts_with(&parent));
        assert_eq!(segments(&[9]), None);
    }
}
