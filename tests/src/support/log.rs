//! The hook log: what test actors' hooks and workflow steps did, per actor key, for effects that
//! are otherwise invisible (`on_destroy`, a step body that ran again).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use rivet_core::prelude::ActorKey;

/// Hook calls seen per actor key (the key's first part). The log is process-wide: a test reads
/// it only for keys that no other test uses.
pub fn hook_log(key: &str) -> Vec<String> {
    log_store()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(key)
        .cloned()
        .unwrap_or_default()
}

/// Appends `what` to the log of `key`.
pub(crate) fn record(key: &ActorKey, what: &str) {
    let key = key.parts().first().cloned().unwrap_or_default();
    log_store()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .entry(key)
        .or_default()
        .push(what.to_owned());
}

fn log_store() -> &'static Mutex<HashMap<String, Vec<String>>> {
    static LOG: OnceLock<Mutex<HashMap<String, Vec<String>>>> = OnceLock::new();
    LOG.get_or_init(Default::default)
}
