//! `destroyActor` and `destroyObserver` (destroy.ts): an actor that tells an observer when it
//! is destroyed, reached by actions, raw HTTP, raw WebSockets and its queue.

use rivet_core::prelude::*;
use rivet_core::raw::{Request, Response, WebSocketEvent};

use crate::js::{json, text};

/// The keys of the actors destroyed so far.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DestroyObserver {
    destroyed_actors: Vec<String>,
}

#[actor(name = "destroyObserver")]
impl DestroyObserver {
    #[action]
    fn notify_destroyed(&mut self, actor_key: String) {
        self.destroyed_actors.push(actor_key);
    }

    #[action]
    fn was_destroyed(&self, actor_key: String) -> bool {
        self.destroyed_actors.contains(&actor_key)
    }

    #[action]
    fn reset(&mut self) {
        self.destroyed_actors.clear();
    }
}

/// A value, the actor's key, and the `values` queue's messages not yet received.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct DestroyActor {
    value: i64,
    key: String,
    received: std::collections::VecDeque<i64>,
}

#[actor(name = "destroyActor")]
impl DestroyActor {
    #[on_wake]
    fn woke(&mut self, cx: &mut Cx<Self>) {
        self.key = cx.key().parts().join("/");
    }

    /// Tells the observer, through the actor's own client.
    #[on_destroy]
    async fn destroyed(&self, cx: &mut Cx<Self>) -> Result<(), ActorError> {
        cx.client()
            .get_or_create::<DestroyObserver>(["observer"])
            .notify_destroyed(self.key.clone())
            .await
    }

    #[on_request]
    fn request(&self, request: Request) -> Response {
        if request.uri().path() == "/state" {
            let body = serde_json::json!({ "key": self.key, "value": self.value });
            return json(http::StatusCode::OK, &body);
        }
        text(http::StatusCode::NOT_FOUND, "Not Found")
    }

    #[on_websocket]
    fn socket(&self, event: WebSocketEvent) {
        if let WebSocketEvent::Open { socket, .. } = event {
            socket.send_text(
                serde_json::json!({ "type": "welcome", "key": self.key, "value": self.value })
                    .to_string(),
            );
        }
    }

    /// Keeps each message for `receiveValue`. RivetKit's fixture pulls messages inside the
    /// action (`c.queue.next`); a Rust action cannot wait for a message during its turn, so the
    /// queue's handler takes them as they come.
    #[queue]
    fn values(&mut self, value: i64) {
        self.received.push_back(value);
    }

    /// Sets the value (each turn's state commits before it answers, as RivetKit's
    /// `saveState({ immediate: true })` asks).
    #[action]
    fn set_value(&mut self, new_value: i64) -> i64 {
        self.value = new_value;
        self.value
    }

    #[action]
    fn get_value(&self) -> i64 {
        self.value
    }

    /// The oldest message of `values` not yet received, if any.
    #[action]
    fn receive_value(&mut self) -> Option<i64> {
        self.received.pop_front()
    }

    #[action]
    fn destroy(&self, cx: &mut Cx<Self>) {
        cx.destroy();
    }
}
