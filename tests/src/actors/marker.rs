//! `marker`: writes that tell a test when they have been handed to storage.

use rivet_core::prelude::*;

use crate::support::sync::{entered, gate};

/// An actor whose writes signal from inside their turn, and whose `hold` tells a test that every
/// earlier turn has ended. An actor runs one turn at a time and hands a turn's writes to storage
/// as the turn ends, so once `hold` has signalled, the writes of the turns before it are on
/// their way to storage, committed or not.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Marker {
    /// Marks made.
    pub count: u64,
}

#[actor(name = "marker")]
impl Marker {
    /// Counts one more, puts KV entry `mark/<count>`, signals `entered(name)`; returns the count.
    #[action]
    fn mark(&mut self, cx: &mut Cx<Self>, name: String) -> Result<u64, Error> {
        self.count += 1;
        cx.kv()
            .put(format!("mark/{:08}", self.count), self.count.to_string())?;
        entered(&name).add_permits(1);
        Ok(self.count)
    }

    /// Signals `entered(name)`, then waits for `gate(name)`; writes nothing.
    #[action]
    async fn hold(&self, name: String) {
        entered(&name).add_permits(1);
        if let Ok(permit) = gate(&name).acquire().await {
            permit.forget();
        }
    }

    /// The count in the state and the counts of the KV entries; writes nothing.
    #[action]
    async fn marks(&self, cx: &mut Cx<Self>) -> Result<(u64, Vec<u64>), Error> {
        let entries = cx.kv().list_prefix("mark/", ListOptions::default()).await?;
        let counts = entries
            .iter()
            .filter_map(|(_, v)| std::str::from_utf8(v).ok()?.parse().ok())
            .collect();
        Ok((self.count, counts))
    }
}
