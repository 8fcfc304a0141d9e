//! `relay`: an actor that calls other actors with `cx.client()`.

use rivet_core::prelude::*;

/// An actor that calls other actors with `cx.client()`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Relay {
    /// Calls it answered.
    pub answered: u64,
}

#[actor(name = "relay")]
impl Relay {
    /// Passes the call along `path` (relay keys); the last relay answers with its key, and each
    /// one before it prefixes its own.
    #[action]
    async fn relay(&mut self, cx: &mut Cx<Self>, path: Vec<String>) -> Result<String, Error> {
        self.answered += 1;
        let me = cx.key().parts().first().cloned().unwrap_or_default();
        let Some((next, rest)) = path.split_first() else {
            return Ok(me);
        };
        let answer = cx
            .client()
            .get_or_create::<Relay>([next.clone()])
            .relay(rest.to_vec())
            .await?;
        Ok(format!("{me}>{answer}"))
    }

    /// Adds to a counter through its typed client.
    #[action]
    async fn bump(&self, cx: &mut Cx<Self>, counter: String, amount: i64) -> Result<i64, Error> {
        Ok(cx
            .client()
            .get_or_create::<rivet_examples::counter::Counter>([counter])
            .increment(amount)
            .await?)
    }

    /// How many calls it answered.
    #[action]
    fn answered(&self) -> u64 {
        self.answered
    }
}
