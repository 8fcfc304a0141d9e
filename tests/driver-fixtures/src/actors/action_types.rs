//! `syncActionActor`, `asyncActionActor`, `promiseActor` (action-types.ts): actions that are
//! plain functions, async ones, and ones that fail.

use rivet_core::prelude::*;

use crate::js::now_ms;

/// A value.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SyncActionActor {
    value: i64,
}

#[actor(name = "syncActionActor")]
impl SyncActionActor {
    /// Adds `amount` (1 when absent) and returns the value.
    #[action]
    fn increment(&mut self, amount: Option<i64>) -> i64 {
        self.value += amount.unwrap_or(1);
        self.value
    }

    /// The value and the time.
    #[action]
    fn get_info(&self) -> serde_json::Value {
        serde_json::json!({ "currentValue": self.value, "timestamp": now_ms() })
    }

    /// Back to 0; returns nothing.
    #[action]
    fn reset(&mut self) {
        self.value = 0;
    }
}

/// A value and the last fetched data.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct AsyncActionActor {
    value: i64,
    data: Option<serde_json::Value>,
}

#[actor(name = "asyncActionActor")]
impl AsyncActionActor {
    /// Adds `amount` (1 when absent) after yielding once.
    #[action]
    async fn delayed_increment(&mut self, amount: Option<i64>) -> i64 {
        tokio::task::yield_now().await;
        self.value += amount.unwrap_or(1);
        self.value
    }

    /// `{ id, timestamp }`, kept as the last data.
    #[action]
    async fn fetch_data(&mut self, id: String) -> serde_json::Value {
        tokio::task::yield_now().await;
        let data = serde_json::json!({ "id": id, "timestamp": now_ms() });
        self.data = Some(data.clone());
        data
    }

    /// `Success`, or a `user_error` when asked to fail.
    #[action]
    async fn async_with_error(&self, should_error: bool) -> Result<String, UserError> {
        tokio::task::yield_now().await;
        if should_error {
            return Err(UserError::message("Intentional error"));
        }
        Ok("Success".to_owned())
    }
}

/// What the delayed action recorded.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct PromiseActor {
    results: Vec<String>,
}

#[actor(name = "promiseActor")]
impl PromiseActor {
    #[action]
    async fn resolved_promise(&self) -> String {
        "resolved value".to_owned()
    }

    /// Records `delayed`.
    #[action]
    async fn delayed_promise(&mut self) -> String {
        self.results.push("delayed".to_owned());
        "delayed value".to_owned()
    }

    #[action]
    async fn rejected_promise(&self) -> Result<(), UserError> {
        Err(UserError::message("promised rejection"))
    }

    #[action]
    fn get_results(&self) -> Vec<String> {
        self.results.clone()
    }
}
