//! `statelessActor` (stateless.ts): actions only, no state or database.

use rivet_core::prelude::*;

/// No state.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct StatelessActor;

#[actor(name = "statelessActor")]
impl StatelessActor {
    #[action]
    fn ping(&self) -> String {
        "pong".to_owned()
    }

    #[action]
    fn echo(&self, message: String) -> String {
        message
    }

    #[action]
    fn get_actor_id(&self, cx: &Cx<Self>) -> String {
        cx.actor_id().to_owned()
    }

    /// RivetKit's stateless actors throw `StateNotEnabled` on `c.state`; a Rust actor always has
    /// its (here empty) state, so the access succeeds.
    #[action]
    fn try_get_state(&self) -> serde_json::Value {
        serde_json::json!({ "success": true, "state": null })
    }

    /// The database of an actor without migrations is not enabled.
    #[action]
    fn try_get_db(&self, cx: &mut Cx<Self>) -> serde_json::Value {
        match cx.db() {
            Ok(_) => serde_json::json!({ "success": true }),
            Err(e) => serde_json::json!({ "success": false, "error": e.to_actor_error().message }),
        }
    }
}
