//! `stateZodCoercionActor` (state-zod-coercion.ts): state whose missing fields get defaults when
//! it is read back after sleep (RivetKit parses it with a zod schema on wake; serde's
//! `#[serde(default)]` does the same when the state is decoded).

use std::time::Duration;

use rivet_core::prelude::*;

fn default_label() -> String {
    "default".to_owned()
}

/// A count and a label, each with its default.
#[derive(Debug, Serialize, Deserialize)]
pub struct StateZodCoercionActor {
    #[serde(default)]
    count: i64,
    #[serde(default = "default_label")]
    label: String,
}

impl Default for StateZodCoercionActor {
    fn default() -> Self {
        Self {
            count: 0,
            label: default_label(),
        }
    }
}

#[actor(
    name = "stateZodCoercionActor",
    options = ActorOptions::new().sleep_timeout(Duration::from_millis(100))
)]
impl StateZodCoercionActor {
    #[action]
    fn get_state(&self) -> serde_json::Value {
        serde_json::json!({ "count": self.count, "label": self.label })
    }

    #[action]
    fn set_count(&mut self, count: i64) {
        self.count = count;
    }

    #[action]
    fn set_label(&mut self, label: String) {
        self.label = label;
    }

    #[action]
    fn trigger_sleep(&self, cx: &mut Cx<Self>) {
        cx.sleep();
    }
}
