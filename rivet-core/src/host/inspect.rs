//! The inspector's view of an awake actor: its state, connections and queue as RivetKit's
//! inspector API shapes them (JSON), and a state replaced from the inspector, committed like
//! any turn.

use bytes::Bytes;
use rivet_client::protocol::compat::cbor_to_plain_json;
use rivet_client::{ActorError, codes};
use serde_json::{Value, json};
use tokio::sync::oneshot;

use super::Host;
use super::turn::decode_state;
use crate::actor::{Actor, Dispatch};
use crate::mailbox::Inspect;

impl<A: Actor> Host<A> {
    /// Answers an inspector request.
    pub(super) fn inspect(
        &mut self,
        request: Inspect,
        reply: oneshot::Sender<Result<Value, ActorError>>,
    ) {
        let answer = match request {
            Inspect::SetState(state) => return self.set_state(&state, reply),
            Inspect::State => self
                .state_json()
                .map(|state| json!({ "state": state, "isStateEnabled": true })),
            Inspect::Connections => Ok(json!({ "connections": self.connections_json() })),
            Inspect::Queue { limit } => Ok(self.queue_json(limit)),
            Inspect::Summary => self.state_json().map(|state| {
                let meta = A::metadata();
                json!({
                    "state": state,
                    "isStateEnabled": true,
                    "connections": self.connections_json(),
                    "rpcs": meta.actions.iter().map(|a| a.name).collect::<Vec<_>>(),
                    "queueSize": self.queue.len(),
                    "isDatabaseEnabled": !A::migrations().is_empty(),
                    "isWorkflowEnabled": false,
                    "workflowHistory": Value::Null,
                })
            }),
        };
        let _ = reply.send(answer);
    }

    /// The state as plain JSON (CBOR byte strings become arrays of numbers).
    fn state_json(&self) -> Result<Value, ActorError> {
        let encoded = rivet_client::codec::to_cbor(&self.state)?;
        cbor_to_plain_json(&encoded).map_err(|e| {
            codes::INTERNAL_ERROR.with_message(format!("The state has no JSON form: {e}"))
        })
    }

    fn connections_json(&self) -> Vec<Value> {
        self.cx
            .connections()
            .iter()
            .map(|conn| {
                let params = conn
                    .raw_params()
                    .and_then(|p| cbor_to_plain_json(p).ok())
                    .unwrap_or(Value::Null);
                json!({
                    "type": Value::Null,
                    "id": conn.id(),
                    "details": {
                        "type": Value::Null,
                        "params": params,
                        // Connection state is the actor's own type, not necessarily JSON.
                        "stateEnabled": false,
                        "state": Value::Null,
                        "subscriptions": conn.subscription_count(),
                        "isHibernatable": false,
                    },
                })
            })
            .collect()
    }

    fn queue_json(&self, limit: usize) -> Value {
        let messages: Vec<Value> = self
            .queue
            .listing()
            .take(limit)
            .map(|(id, name)| json!({ "id": id, "name": name, "createdAtMs": Value::Null }))
            .collect();
        json!({
            "size": self.queue.len(),
            "maxSize": self.runtime.config().max_queue_size,
            "truncated": self.queue.len() > messages.len(),
            "messages": messages,
        })
    }

    /// Replaces the state with `encoded` (CBOR), which must decode as the actor's state type,
    /// in a turn of its own: `#[on_state_change]` runs, and the answer waits for the commit.
    fn set_state(&mut self, encoded: &[u8], reply: oneshot::Sender<Result<Value, ActorError>>) {
        let state = match decode_state::<A>(encoded) {
            Ok(state) => state,
            Err(_) => {
                let error = codes::INVALID_REQUEST
                    .with_message("The state does not match the actor's state type.");
                let _ = reply.send(Err(error));
                return;
            }
        };
        self.state = state;
        let dispatch = Dispatch {
            result: Ok(Bytes::new()),
            mutates: true,
        };
        let batch = self.gate.batch();
        self.finish_turn(dispatch, batch, "inspector state change", move |result| {
            let _ = reply.send(result.map(|_| json!({ "ok": true })));
        });
    }
}
