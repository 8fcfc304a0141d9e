//! `connErrorSerializationActor` (conn-error-serialization.ts): a public error of its own group
//! from the connection-state hook reaches the client whole.

use rivet_core::prelude::*;

/// Connection parameters.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThrowParams {
    #[serde(default)]
    should_throw: bool,
}

/// A value.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ConnErrorSerializationActor {
    value: i64,
}

#[actor(name = "connErrorSerializationActor")]
impl ConnErrorSerializationActor {
    #[conn_state]
    fn initialized(&self, params: Option<ThrowParams>) -> Result<bool, Error> {
        if params.is_some_and(|p| p.should_throw) {
            return Err(Error::public(ActorError::new(
                "connection",
                "custom_error",
                "Test error from createConnState",
            )));
        }
        Ok(true)
    }

    #[action]
    fn get_value(&self) -> i64 {
        self.value
    }
}
