//! `counterWithLifecycle` (lifecycle.ts): records the lifecycle hooks of connections that ask
//! for it (`trackLifecycle`).

use rivet_core::prelude::*;

/// Connection parameters.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LifecycleParams {
    #[serde(default)]
    track_lifecycle: bool,
}

/// The count and the hooks seen.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct CounterWithLifecycle {
    count: i64,
    events: Vec<String>,
}

fn tracks<A: rivet_core::Actor>(cx: &Cx<A>) -> bool {
    cx.conn()
        .and_then(|c| c.params::<LifecycleParams>().ok().flatten())
        .is_some_and(|p| p.track_lifecycle)
}

#[actor(name = "counterWithLifecycle")]
impl CounterWithLifecycle {
    #[on_wake]
    fn woke(&mut self) {
        self.events.push("onWake".to_owned());
    }

    #[on_before_connect]
    fn before_connect(&mut self, params: Option<LifecycleParams>) {
        if params.is_some_and(|p| p.track_lifecycle) {
            self.events.push("onBeforeConnect".to_owned());
        }
    }

    #[on_connect]
    fn connected(&mut self, cx: &mut Cx<Self>) {
        if tracks(cx) {
            self.events.push("onConnect".to_owned());
        }
    }

    #[on_disconnect]
    fn disconnected(&mut self, cx: &mut Cx<Self>) {
        if tracks(cx) {
            self.events.push("onDisconnect".to_owned());
        }
    }

    #[action]
    fn get_events(&self) -> Vec<String> {
        self.events.clone()
    }

    #[action]
    fn increment(&mut self, x: i64) -> i64 {
        self.count += x;
        self.count
    }
}
