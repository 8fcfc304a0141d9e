//! `onStateChangeActor` (actor-onstatechange.ts): counts the turns that changed the state.
//!
//! RivetKit calls `onStateChange` on every assignment to the state; a Rust actor's state changes
//! commit per turn, so the hook runs once per changing turn. The count lives in the vars: the
//! hook sees the state it reports on, not a copy it could change.

use rivet_core::prelude::*;

/// A value.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct OnStateChangeActor {
    value: i64,
}

#[actor(name = "onStateChangeActor")]
impl OnStateChangeActor {
    /// How many times the hook ran.
    #[vars]
    fn vars() -> u64 {
        0
    }

    #[on_state_change]
    fn changed(&self, cx: &mut Cx<Self>) {
        *cx.vars_mut() += 1;
    }

    #[action]
    fn set_value(&mut self, new_value: i64) -> i64 {
        self.value = new_value;
        self.value
    }

    #[action]
    fn increment_multiple(&mut self, times: i64) -> i64 {
        for _ in 0..times {
            self.value += 1;
        }
        self.value
    }

    #[action]
    fn get_value(&self) -> i64 {
        self.value
    }

    #[action]
    fn get_doubled(&self) -> i64 {
        self.value * 2
    }

    #[action]
    fn get_change_count(&self, cx: &Cx<Self>) -> u64 {
        *cx.vars()
    }

    #[action]
    fn reset_change_count(&self, cx: &mut Cx<Self>) {
        *cx.vars_mut() = 0;
    }
}
