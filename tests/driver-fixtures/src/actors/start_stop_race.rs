//! `startStopRaceActor` and `lifecycleObserver` (start-stop-race.ts): a slow start raced by
//! stops and destroys, and an actor that records lifecycle events.

use std::time::Duration;

use rivet_core::prelude::*;

use crate::js::now_ms;

/// How far the start got, and whether destroy ran.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartStopRaceActor {
    initialized: bool,
    start_time: f64,
    destroy_called: bool,
    start_completed: bool,
}

#[actor(name = "startStopRaceActor")]
impl StartStopRaceActor {
    /// A slow start (100 ms), to give stops a window to race it.
    #[on_wake]
    async fn woke(&mut self) {
        self.start_time = now_ms();
        tokio::time::sleep(Duration::from_millis(100)).await;
        self.initialized = true;
        self.start_completed = true;
    }

    #[on_destroy]
    fn destroyed(&mut self) {
        self.destroy_called = true;
    }

    #[action]
    fn get_state(&self) -> serde_json::Value {
        serde_json::json!({
            "initialized": self.initialized,
            "startTime": self.start_time,
            "destroyCalled": self.destroy_called,
            "startCompleted": self.start_completed,
        })
    }

    #[action]
    fn ping(&self) -> String {
        "pong".to_owned()
    }

    #[action]
    fn destroy(&self, cx: &mut Cx<Self>) {
        cx.destroy();
    }
}

/// One recorded event.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LifecycleEvent {
    actor_key: String,
    event: String,
    #[serde(default)]
    timestamp: f64,
}

/// The events recorded so far.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct LifecycleObserver {
    events: Vec<LifecycleEvent>,
}

#[actor(name = "lifecycleObserver")]
impl LifecycleObserver {
    #[action]
    fn record_event(&mut self, params: LifecycleEvent) {
        self.events.push(LifecycleEvent {
            timestamp: now_ms(),
            ..params
        });
    }

    #[action]
    fn get_events(&self) -> Vec<LifecycleEvent> {
        self.events.clone()
    }

    #[action]
    fn clear_events(&mut self) {
        self.events.clear();
    }
}
