//! `errorHandlingActor`, `customTimeoutActor` (error-handling.ts): user errors, internal errors
//! and actions slower than the actor's action timeout.

use std::time::Duration;

use rivet_core::prelude::*;

/// Errors the test logged.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ErrorHandlingActor {
    error_log: Vec<String>,
}

#[actor(
    name = "errorHandlingActor",
    options = ActorOptions::new().action_timeout(Duration::from_millis(500))
)]
impl ErrorHandlingActor {
    #[action]
    fn throw_simple_error(&self) -> Result<(), UserError> {
        Err(UserError::message("Simple error message"))
    }

    #[action]
    fn throw_detailed_error(&self) -> Result<(), UserError> {
        let timestamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        Err(UserError::new("detailed_error", "Detailed error message")
            .with_metadata(serde_json::json!({ "reason": "test", "timestamp": timestamp })))
    }

    /// An error that is not a user error: the client sees only `internal_error`.
    #[action]
    fn throw_internal_error(&self) -> Result<(), Error> {
        Err(Error::internal("This is an internal error"))
    }

    #[action]
    fn successful_action(&self) -> String {
        "success".to_owned()
    }

    #[action]
    async fn timeout_action(&self) -> String {
        tokio::time::sleep(Duration::from_secs(10)).await;
        "This should not be reached if timeout works".to_owned()
    }

    #[action]
    async fn delayed_action(&self, delay_ms: u64) -> String {
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        format!("Completed after {delay_ms}ms")
    }

    #[action]
    fn log_error(&mut self, error: String) -> Vec<String> {
        self.error_log.push(error);
        self.error_log.clone()
    }

    #[action]
    fn get_error_log(&self) -> Vec<String> {
        self.error_log.clone()
    }

    #[action]
    fn clear_error_log(&mut self) -> bool {
        self.error_log.clear();
        true
    }
}

/// No state.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct CustomTimeoutActor {}

#[actor(
    name = "customTimeoutActor",
    options = ActorOptions::new().action_timeout(Duration::from_millis(200))
)]
impl CustomTimeoutActor {
    #[action]
    async fn quick_action(&self) -> String {
        tokio::time::sleep(Duration::from_millis(50)).await;
        "Quick action completed".to_owned()
    }

    #[action]
    async fn slow_action(&self) -> String {
        tokio::time::sleep(Duration::from_millis(300)).await;
        "Slow action completed".to_owned()
    }
}
