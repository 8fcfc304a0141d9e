//! `worker`: a durable queue `jobs` of `{ n }`, processed one at a time, adding to a total.

use rivet_core::prelude::*;

/// A job: add `n` to the total.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    /// The amount to add.
    pub n: i64,
}

/// What a job completes with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobDone {
    /// The total after this job.
    pub total: i64,
}

/// The worker's persisted state.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Worker {
    total: i64,
    processed: u64,
}

#[actor(name = "worker", icon = "gears")]
impl Worker {
    /// Processes one job.
    #[queue]
    pub fn jobs(&mut self, job: Job) -> JobDone {
        self.total += job.n;
        self.processed += 1;
        JobDone { total: self.total }
    }

    /// The total so far.
    #[action]
    pub fn get_total(&self) -> i64 {
        self.total
    }

    /// How many jobs were processed.
    #[action]
    pub fn get_processed(&self) -> u64 {
        self.processed
    }
}
