//! `renamer`: a queue and an event whose wire names are not their Rust names.

use rivet_core::prelude::*;

/// An actor with a queue and an event renamed with `name = "..."`: `add_job` is the queue
/// `renamedQueue` (not `addJob`), `job_done` the event `renamedEvent` (not `jobDone`).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Renamer {
    /// Sum of the jobs handled.
    pub total: u32,
}

#[actor(name = "renamer")]
impl Renamer {
    /// Adds `n` to the total, broadcasts the new total as `renamedEvent`, and completes the
    /// message with it.
    #[queue(name = "renamedQueue")]
    fn add_job(&mut self, cx: &mut Cx<Self>, n: u32) -> u32 {
        self.total += n;
        cx.broadcast(RenamerEvent::JobDone(self.total));
        self.total
    }

    /// The total after each job.
    #[event(name = "renamedEvent")]
    fn job_done(total: u32);

    /// The total.
    #[action]
    fn total(&self) -> u32 {
        self.total
    }
}
