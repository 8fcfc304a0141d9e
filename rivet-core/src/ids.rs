//! Random ids: actors, connections, schedules, raw sockets and workflow wake-ups, and the
//! trace and span ids of the actor's traces.

use std::cell::Cell;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// A new random id: 24 lowercase hex characters.
pub(crate) fn new_id() -> String {
    let mut bytes = [0u8; 12];
    if getrandom::fill(&mut bytes).is_err() {
        // No OS randomness: fall back to time and a counter, still unique within the process.
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        bytes[..8].copy_from_slice(&crate::time::now_ms().to_be_bytes());
        bytes[8..].copy_from_slice(&(n as u32).to_be_bytes());
    }
    hex(&bytes)
}

/// A new secret: 32 random bytes from the OS as 64 hex characters; `None` without OS
/// randomness (a guessable secret would be worse than none).
pub(crate) fn new_secret() -> Option<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).ok()?;
    Some(hex(&bytes))
}

/// `bytes` as lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// A random, non-zero 64-bit number from a per-thread generator (SplitMix64) seeded from the
/// OS: for trace and span ids, made on every turn, where a system call each would cost more
/// than the turn's bookkeeping. Not for secrets.
pub(crate) fn random_u64() -> u64 {
    thread_local! {
        static STATE: Cell<u64> = Cell::new(getrandom::u64().unwrap_or_else(|_| {
            // No OS randomness: the time and the thread still differ between generators.
            static COUNTER: AtomicU64 = AtomicU64::new(0);
            crate::time::now_ms().cast_unsigned() ^ COUNTER.fetch_add(1, Ordering::Relaxed).rotate_left(32)
        }));
    }
    STATE.with(|state| {
        loop {
            let next = state.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
            state.set(next);
            let mut z = next;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            if z != 0 {
                return z;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_24_hex_characters_and_differ() {
        let (a, b) = (super::new_id(), super::new_id());
        assert_eq!(a.len(), 24);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a, b);
    }
}
