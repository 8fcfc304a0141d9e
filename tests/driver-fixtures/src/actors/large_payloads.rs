//! `largePayloadActor`, `largePayloadConnActor` (large-payloads.ts): large requests and
//! responses, with and without a connection.

use rivet_core::prelude::*;

/// A request with many items.
#[derive(Debug, Serialize, Deserialize)]
pub struct Items {
    items: Vec<String>,
}

fn summary(data: &Items) -> serde_json::Value {
    serde_json::json!({
        "itemCount": data.items.len(),
        "firstItem": data.items.first(),
        "lastItem": data.items.last(),
    })
}

fn large_response(item_count: usize) -> serde_json::Value {
    let items: Vec<String> = (0..item_count)
        .map(|i| format!("Item {i} with some additional text to increase size"))
        .collect();
    serde_json::json!({ "items": items })
}

/// No state.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct LargePayloadActor {}

#[actor(name = "largePayloadActor")]
impl LargePayloadActor {
    #[action]
    fn process_large_request(&self, data: Items) -> serde_json::Value {
        summary(&data)
    }

    #[action]
    fn get_large_response(&self, item_count: usize) -> serde_json::Value {
        large_response(item_count)
    }

    #[action]
    fn echo(&self, data: serde_json::Value) -> serde_json::Value {
        data
    }
}

/// No state; each connection remembers its last request's size.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct LargePayloadConnActor {}

#[actor(name = "largePayloadConnActor")]
impl LargePayloadConnActor {
    #[conn_state]
    fn last_request_size(&self) -> usize {
        0
    }

    #[action]
    fn process_large_request(&self, cx: &mut Cx<Self>, data: Items) -> serde_json::Value {
        if let Some(conn) = cx.conn_mut() {
            *conn.state_mut() = data.items.len();
        }
        summary(&data)
    }

    #[action]
    fn get_large_response(&self, item_count: usize) -> serde_json::Value {
        large_response(item_count)
    }

    #[action]
    fn echo(&self, data: serde_json::Value) -> serde_json::Value {
        data
    }

    #[action]
    fn get_last_request_size(&self, cx: &Cx<Self>) -> usize {
        cx.conn().map_or(0, |c| *c.state())
    }
}
