//! `turns`: an actor that records the order in which its action and queue-handler turns ran, so
//! a test can see how the host interleaves its mailbox and its queue.

use rivet_core::prelude::*;

use crate::support::sync::{entered, gate};

/// Records each turn: `a{n}` for the action `note(n)`, `q{n}` for the queue message `n`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Turns {
    /// The turns, in the order they ran.
    pub order: Vec<String>,
}

#[actor(name = "turns")]
impl Turns {
    /// Holds the actor inside this turn until `gate(name)` opens; signals `entered(name)`.
    #[action]
    async fn hold(&mut self, name: String) {
        entered(&name).add_permits(1);
        if let Ok(permit) = gate(&name).acquire().await {
            permit.forget();
        }
    }

    /// Records `a{n}`.
    #[action]
    fn note(&mut self, n: u32) {
        self.order.push(format!("a{n}"));
    }

    /// Records `q{n}`.
    #[queue]
    fn jobs(&mut self, n: u32) {
        self.order.push(format!("q{n}"));
    }

    /// The turns so far.
    #[action]
    fn order(&self) -> Vec<String> {
        self.order.clone()
    }
}
