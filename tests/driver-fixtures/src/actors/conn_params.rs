//! `counterWithParams` (conn-params.ts): each connection's name from its parameters.

use rivet_core::prelude::*;

/// Connection parameters.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NameParams {
    name: Option<String>,
}

/// `newCount`'s payload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewCount {
    count: i64,
    by: String,
}

/// The count and the names of the connections, in order.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct CounterWithParams {
    count: i64,
    initializers: Vec<String>,
}

#[actor(name = "counterWithParams")]
impl CounterWithParams {
    #[conn_state]
    fn name(&self, params: Option<NameParams>) -> String {
        params
            .and_then(|p| p.name)
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "anonymous".to_owned())
    }

    #[on_connect]
    fn connected(&mut self, cx: &mut Cx<Self>) {
        if let Some(conn) = cx.conn() {
            self.initializers.push(conn.state().clone());
        }
    }

    /// Adds `x`, broadcasts the count with the caller's name.
    #[action]
    fn increment(&mut self, cx: &mut Cx<Self>, x: i64) -> i64 {
        self.count += x;
        let by = cx.conn().map(|c| c.state().clone()).unwrap_or_default();
        cx.broadcast(CounterWithParamsEvent::NewCount(NewCount {
            count: self.count,
            by,
        }));
        self.count
    }

    #[action]
    fn get_initializers(&self) -> Vec<String> {
        self.initializers.clone()
    }

    /// The count and who changed it.
    #[event]
    fn new_count(count: NewCount);
}
