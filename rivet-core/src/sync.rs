//! The one way the runtime takes a `std::sync::Mutex`.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, ignoring poisoning. The runtime's mutexes guard maps and counters that every
/// critical section leaves consistent before anything can panic (user code never runs under
/// them), so a panic elsewhere must not turn every later lock into a second panic.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
