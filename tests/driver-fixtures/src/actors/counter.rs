//! `counter` (RivetKit's fixtures/driver-test-suite/counter.ts): a count with a `newCount` event.

use rivet_core::prelude::*;

/// The count.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Counter {
    count: i64,
}

#[actor(name = "counter")]
impl Counter {
    /// Adds `x`, broadcasts and returns the new count.
    #[action]
    fn increment(&mut self, cx: &mut Cx<Self>, x: i64) -> i64 {
        self.count += x;
        cx.broadcast(CounterEvent::NewCount(self.count));
        self.count
    }

    /// Sets the count to `x`, broadcasts and returns it.
    #[action]
    fn set_count(&mut self, cx: &mut Cx<Self>, x: i64) -> i64 {
        self.count = x;
        cx.broadcast(CounterEvent::NewCount(x));
        self.count
    }

    /// The count.
    #[action]
    fn get_count(&self) -> i64 {
        self.count
    }

    /// The actor's key.
    #[action]
    fn get_key(&self, cx: &Cx<Self>) -> Vec<String> {
        cx.key().parts().to_vec()
    }

    /// The new count, after every change.
    #[event]
    fn new_count(count: i64);
}
