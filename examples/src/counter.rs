//! `counter`: a number that clients increment, with a `newCount` event on every change.

use rivet_core::prelude::*;

/// Optional creation input: where the count starts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CounterInput {
    /// The initial count.
    pub start: i64,
}

/// The counter's persisted state.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Counter {
    count: i64,
}

#[actor(name = "counter", icon = "calculator")]
impl Counter {
    /// Starts at `input.start`, or 0 without input.
    #[create]
    fn create(input: Option<CounterInput>) -> Self {
        Self {
            count: input.map_or(0, |i| i.start),
        }
    }

    /// Adds `amount` and returns the new count; `user.overflow` (and no change) past the range
    /// of an `i64`, in release builds as in debug ones.
    #[action]
    pub fn increment(&mut self, cx: &mut Cx<Self>, amount: i64) -> Result<i64, UserError> {
        self.count = self.count.checked_add(amount).ok_or_else(|| {
            UserError::new(
                "overflow",
                "the count would leave the range of a 64-bit integer",
            )
            .with_metadata(serde_json::json!({ "count": self.count, "amount": amount }))
        })?;
        cx.broadcast(CounterEvent::NewCount(self.count));
        Ok(self.count)
    }

    /// The current count.
    #[action]
    pub fn get_count(&self) -> i64 {
        self.count
    }

    /// Always fails with a `UserError` carrying `code` and some metadata.
    #[action]
    pub fn fail_with(&self, code: String) -> Result<(), UserError> {
        Err(
            UserError::new(code.clone(), format!("failed on purpose with `{code}`"))
                .with_metadata(serde_json::json!({ "code": code, "count": self.count })),
        )
    }

    /// Sent after every change, with the new count.
    #[event]
    fn new_count(count: i64);
}
