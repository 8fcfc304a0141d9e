//! `staticVarActor`, `nestedVarActor`, `dynamicVarActor`, `uniqueVarActor`, `driverCtxActor`
//! (vars.ts): ephemeral vars, fixed or made when the actor wakes.

use rivet_core::prelude::*;

fn random() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.finish()
}

/// `{ counter: 42, name: "test-actor" }`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct StaticVarActor {
    value: i64,
}

#[actor(name = "staticVarActor")]
impl StaticVarActor {
    #[vars]
    fn vars() -> serde_json::Value {
        serde_json::json!({ "counter": 42, "name": "test-actor" })
    }

    #[action]
    fn get_vars(&self, cx: &Cx<Self>) -> serde_json::Value {
        cx.vars().clone()
    }

    #[action]
    fn get_name(&self, cx: &Cx<Self>) -> serde_json::Value {
        cx.vars()["name"].clone()
    }
}

/// Nested vars that an action changes in place.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct NestedVarActor {
    value: i64,
}

#[actor(name = "nestedVarActor")]
impl NestedVarActor {
    #[vars]
    fn vars() -> serde_json::Value {
        serde_json::json!({
            "counter": 42,
            "nested": { "value": "original", "array": [1, 2, 3], "obj": { "key": "value" } },
        })
    }

    #[action]
    fn get_vars(&self, cx: &Cx<Self>) -> serde_json::Value {
        cx.vars().clone()
    }

    /// Changes the nested value, array and object; returns the vars.
    #[action]
    fn modify_nested(&self, cx: &mut Cx<Self>) -> serde_json::Value {
        let nested = &mut cx.vars_mut()["nested"];
        nested["value"] = "modified".into();
        if let Some(array) = nested["array"].as_array_mut() {
            array.push(4.into());
        }
        nested["obj"]["key"] = "new-value".into();
        cx.vars().clone()
    }
}

/// Vars computed when the actor wakes.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct DynamicVarActor {
    value: i64,
}

#[actor(name = "dynamicVarActor")]
impl DynamicVarActor {
    #[vars]
    fn vars() -> serde_json::Value {
        let r = random();
        #[allow(clippy::cast_precision_loss)]
        let unit = (r >> 11) as f64 / (1u64 << 53) as f64;
        serde_json::json!({ "random": unit, "computed": format!("Actor-{}", r % 1000) })
    }

    #[action]
    fn get_vars(&self, cx: &Cx<Self>) -> serde_json::Value {
        cx.vars().clone()
    }
}

/// An id drawn per instance.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct UniqueVarActor {
    value: i64,
}

#[actor(name = "uniqueVarActor")]
impl UniqueVarActor {
    #[vars]
    fn vars() -> serde_json::Value {
        serde_json::json!({ "id": random() % 1_000_000 })
    }

    #[action]
    fn get_vars(&self, cx: &Cx<Self>) -> serde_json::Value {
        cx.vars().clone()
    }
}

/// RivetKit passes its driver's context to `createVars`; here there is none to pass.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct DriverCtxActor {
    value: i64,
}

#[actor(name = "driverCtxActor")]
impl DriverCtxActor {
    #[vars]
    fn vars() -> serde_json::Value {
        serde_json::json!({ "hasDriverCtx": false })
    }

    #[action]
    fn get_vars(&self, cx: &Cx<Self>) -> serde_json::Value {
        cx.vars().clone()
    }
}
