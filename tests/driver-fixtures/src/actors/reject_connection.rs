//! `rejectConnectionActor` (reject-connection.ts): refuses connections that ask for it, after a
//! delay.

use std::time::Duration;

use rivet_core::prelude::*;

/// Connection parameters.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RejectParams {
    #[serde(default)]
    reject: bool,
}

/// No state.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct RejectConnectionActor {}

#[actor(name = "rejectConnectionActor")]
impl RejectConnectionActor {
    #[on_before_connect]
    async fn check(&self, params: Option<RejectParams>) -> Result<(), UserError> {
        if params.is_some_and(|p| p.reject) {
            tokio::time::sleep(Duration::from_millis(500)).await;
            return Err(UserError::new("rejected", "Rejected connection"));
        }
        Ok(())
    }

    #[action]
    fn ping(&self) -> String {
        "pong".to_owned()
    }
}
