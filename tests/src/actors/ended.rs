//! How the test workflows report their end: a line in the hook log and a signal.

use std::sync::Arc;

use rivet_core::prelude::*;
use tokio::sync::Semaphore;

use crate::support::log::record;
use crate::support::sync::semaphore;

/// Signalled (one permit) when the workflow of the test actor with key `key` finished or failed.
pub fn workflow_ended(key: &str) -> Arc<Semaphore> {
    semaphore(&format!("workflow-ended:{key}"))
}

/// Logs how a test workflow ended (`ended:ok` or `ended:{code}`, see [`hook_log`](crate::hook_log)) and signals
/// [`workflow_ended`]; a workflow stopped by its actor's stop ended nothing.
pub(crate) fn report_end<T>(key: &ActorKey, result: Result<T, Error>) -> Result<(), Error> {
    match &result {
        Err(error) if error.is(rivet_core::client::codes::SHUT_DOWN) => return Ok(()),
        Err(error) => record(
            key,
            &format!("ended:{}", error.to_actor_error().full_code()),
        ),
        Ok(_) => record(key, "ended:ok"),
    }
    workflow_ended(&key.parts().first().cloned().unwrap_or_default()).add_permits(1);
    result.map(|_| ())
}
