//! `inlineClientActor` (inline-client.ts): calls another actor (`counter`) through the actor's
//! own client, with and without a connection.

use std::sync::{Arc, Mutex};

use rivet_core::prelude::*;

use super::counter::Counter;

/// What the calls returned, as messages.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct InlineClientActor {
    messages: Vec<String>,
}

#[actor(name = "inlineClientActor")]
impl InlineClientActor {
    /// `counter["inline-test"].increment(amount)`, without a connection.
    #[action]
    async fn call_counter_increment(
        &mut self,
        cx: &mut Cx<Self>,
        amount: i64,
    ) -> Result<i64, ActorError> {
        let result = cx
            .client()
            .get_or_create::<Counter>(["inline-test"])
            .increment(amount)
            .await?;
        self.messages.push(format!(
            "Called counter.increment({amount}), result: {result}"
        ));
        Ok(result)
    }

    #[action]
    async fn get_counter_state(&mut self, cx: &mut Cx<Self>) -> Result<i64, ActorError> {
        let count = cx
            .client()
            .get_or_create::<Counter>(["inline-test"])
            .get_count()
            .await?;
        self.messages.push(format!("Got counter state: {count}"));
        Ok(count)
    }

    /// Increments `counter["inline-test-stateful"]` by `amount` then twice that through a
    /// connection, and returns both results with the `newCount` events it heard.
    #[action]
    async fn connect_to_counter_and_increment(
        &mut self,
        cx: &mut Cx<Self>,
        amount: i64,
    ) -> Result<serde_json::Value, ActorError> {
        let connection = cx
            .client()
            .get_or_create::<Counter>(["inline-test-stateful"])
            .connect()
            .await?;
        let events = Arc::new(Mutex::new(Vec::new()));
        let heard = Arc::clone(&events);
        let subscription = connection.on_new_count(move |count| {
            if let Ok(mut heard) = heard.lock() {
                heard.push(count);
            }
        });
        let result1 = connection.increment(amount).await?;
        let result2 = connection.increment(amount * 2).await?;
        drop(subscription);
        connection.disconnect();
        let events = events.lock().map(|e| e.clone()).unwrap_or_default();
        let list = serde_json::to_string(&events).unwrap_or_default();
        self.messages.push(format!(
            "Connected to counter, incremented by {amount} and {}, results: {result1}, {result2}, events: {list}",
            amount * 2
        ));
        Ok(serde_json::json!({ "result1": result1, "result2": result2, "events": events }))
    }

    #[action]
    fn get_messages(&self) -> Vec<String> {
        self.messages.clone()
    }

    #[action]
    fn clear_messages(&mut self) {
        self.messages.clear();
    }
}
