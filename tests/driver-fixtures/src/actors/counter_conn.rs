//! `counterConn` (counter-conn.ts): a count per connection, and how many are open.

use rivet_core::prelude::*;

/// How many connections are open.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct CounterConn {
    connection_count: i64,
}

#[actor(name = "counterConn")]
impl CounterConn {
    /// Each connection's count starts at 0.
    #[conn_state]
    fn conn_count(&self) -> i64 {
        0
    }

    #[on_connect]
    fn connected(&mut self) {
        self.connection_count += 1;
    }

    #[on_disconnect]
    fn disconnected(&mut self) {
        self.connection_count -= 1;
    }

    /// Adds `x` to the calling connection's count and broadcasts it.
    #[action]
    fn increment(&mut self, cx: &mut Cx<Self>, x: i64) {
        if let Some(conn) = cx.conn_mut() {
            *conn.state_mut() += x;
            let count = *conn.state();
            cx.broadcast(CounterConnEvent::NewCount(count));
        }
    }

    /// Sets the calling connection's count and broadcasts it.
    #[action]
    fn set_count(&mut self, cx: &mut Cx<Self>, x: i64) {
        if let Some(conn) = cx.conn_mut() {
            *conn.state_mut() = x;
        }
        cx.broadcast(CounterConnEvent::NewCount(x));
    }

    /// The calling connection's count.
    #[action]
    fn get_count(&self, cx: &Cx<Self>) -> i64 {
        cx.conn().map_or(0, |c| *c.state())
    }

    /// How many connections are open.
    #[action]
    fn get_connection_count(&self) -> i64 {
        self.connection_count
    }

    /// A connection's new count.
    #[event]
    fn new_count(count: i64);
}
