//! Random ids: actors, connections, schedules, raw sockets and workflow wake-ups.

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
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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
