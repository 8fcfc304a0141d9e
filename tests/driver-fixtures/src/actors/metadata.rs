//! `metadataActor` (metadata.ts): the actor's name, and tags and a region the test sets.

use std::collections::BTreeMap;

use rivet_core::prelude::*;

/// What the test stored and the name seen on wake.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct MetadataActor {
    last_metadata: Option<serde_json::Value>,
    actor_name: String,
    stored_tags: BTreeMap<String, String>,
    stored_region: Option<String>,
}

#[actor(name = "metadataActor")]
impl MetadataActor {
    #[on_wake]
    fn woke(&mut self, cx: &mut Cx<Self>) {
        self.actor_name = cx.name().to_owned();
    }

    #[action]
    fn setup_test_tags(&mut self, tags: BTreeMap<String, String>) -> BTreeMap<String, String> {
        self.stored_tags = tags.clone();
        tags
    }

    #[action]
    fn setup_test_region(&mut self, region: String) -> String {
        self.stored_region = Some(region.clone());
        region
    }

    /// `{ name, tags, region }`, kept as the last metadata.
    #[action]
    fn get_metadata(&mut self, cx: &mut Cx<Self>) -> serde_json::Value {
        let metadata = serde_json::json!({
            "name": cx.name(),
            "tags": self.stored_tags,
            "region": self.stored_region,
        });
        self.last_metadata = Some(metadata.clone());
        metadata
    }

    #[action]
    fn get_actor_name(&self, cx: &Cx<Self>) -> String {
        cx.name().to_owned()
    }

    #[action]
    fn get_tag(&self, key: String) -> Option<String> {
        self.stored_tags.get(&key).cloned()
    }

    #[action]
    fn get_tags(&self) -> BTreeMap<String, String> {
        self.stored_tags.clone()
    }

    #[action]
    fn get_region(&self) -> Option<String> {
        self.stored_region.clone()
    }

    #[action]
    fn get_stored_actor_name(&self) -> String {
        self.actor_name.clone()
    }

    #[action]
    fn get_last_metadata(&self) -> Option<serde_json::Value> {
        self.last_metadata.clone()
    }
}
