//! `inputActor` (action-inputs.ts): keeps the creation input, as `createState` and `onCreate`
//! saw it.

use rivet_core::prelude::*;

/// The input as the two creation hooks received it.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InputActor {
    initial_input: Option<serde_json::Value>,
    on_create_input: Option<serde_json::Value>,
}

#[actor(name = "inputActor")]
impl InputActor {
    #[create]
    fn create(input: Option<serde_json::Value>) -> Self {
        Self {
            initial_input: input,
            on_create_input: None,
        }
    }

    /// `onCreate` sees the same input: the state keeps it as `initialInput` already, and
    /// RivetKit's fixture copies it again.
    #[on_create]
    fn created(&mut self) {
        self.on_create_input = self.initial_input.clone();
    }

    /// Both inputs; an absent one is left out (`undefined` to a JavaScript client).
    #[action]
    fn get_inputs(&self) -> serde_json::Value {
        let mut inputs = serde_json::Map::new();
        if let Some(input) = &self.initial_input {
            inputs.insert("initialInput".to_owned(), input.clone());
        }
        if let Some(input) = &self.on_create_input {
            inputs.insert("onCreateInput".to_owned(), input.clone());
        }
        inputs.into()
    }
}
