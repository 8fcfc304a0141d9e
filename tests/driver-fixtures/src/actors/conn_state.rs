//! `connStateActor` (conn-state.ts): per-connection state, direct messages and disconnects.

use rivet_core::prelude::*;

/// Connection parameters.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnParams {
    username: Option<String>,
    role: Option<String>,
    #[serde(default)]
    no_count: bool,
}

/// One connection's state.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnState {
    username: String,
    role: String,
    counter: i64,
    created_at: u64,
    no_count: bool,
}

/// What `updateConnection` may change.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ConnUpdates {
    username: Option<String>,
    role: Option<String>,
}

/// `userConnected`'s payload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserConnected {
    id: String,
    username: String,
    role: String,
}

/// `userDisconnected`'s payload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserDisconnected {
    id: String,
}

/// `directMessage`'s payload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DirectMessage {
    from: String,
    message: String,
}

/// A shared counter and how many connections closed.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnStateActor {
    shared_counter: i64,
    disconnection_count: i64,
}

fn with_id(id: &str, state: &ConnState) -> serde_json::Value {
    let mut value = serde_json::to_value(state).unwrap_or_default();
    value["id"] = id.into();
    value
}

#[actor(name = "connStateActor")]
impl ConnStateActor {
    #[conn_state]
    fn conn_state(&self, params: Option<ConnParams>) -> ConnState {
        let params = params.unwrap_or_default();
        ConnState {
            username: params
                .username
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| "anonymous".to_owned()),
            role: params
                .role
                .filter(|r| !r.is_empty())
                .unwrap_or_else(|| "user".to_owned()),
            counter: 0,
            created_at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            no_count: params.no_count,
        }
    }

    /// Announces the connection (RivetKit's fixture names every one `anonymous`, `user`).
    #[on_connect]
    fn connected(&mut self, cx: &mut Cx<Self>) {
        if let Some(id) = cx.conn().map(|c| c.id().to_owned()) {
            cx.broadcast(ConnStateActorEvent::UserConnected(UserConnected {
                id,
                username: "anonymous".to_owned(),
                role: "user".to_owned(),
            }));
        }
    }

    #[on_disconnect]
    fn disconnected(&mut self, cx: &mut Cx<Self>) {
        let Some((id, no_count)) = cx.conn().map(|c| (c.id().to_owned(), c.state().no_count))
        else {
            return;
        };
        if !no_count {
            self.disconnection_count += 1;
            cx.broadcast(ConnStateActorEvent::UserDisconnected(UserDisconnected {
                id,
            }));
        }
    }

    #[action]
    fn increment_conn_counter(&self, cx: &mut Cx<Self>, amount: Option<i64>) {
        if let Some(conn) = cx.conn_mut() {
            conn.state_mut().counter += amount.unwrap_or(1);
        }
    }

    #[action]
    fn increment_shared_counter(&mut self, amount: Option<i64>) -> i64 {
        self.shared_counter += amount.unwrap_or(1);
        self.shared_counter
    }

    #[action]
    fn get_connection_state(&self, cx: &Cx<Self>) -> serde_json::Value {
        cx.conn()
            .map_or(serde_json::Value::Null, |c| with_id(c.id(), c.state()))
    }

    #[action]
    fn get_connection_ids(&self, cx: &Cx<Self>) -> Vec<String> {
        cx.conns()
            .filter(|c| !c.state().no_count)
            .map(|c| c.id().to_owned())
            .collect()
    }

    #[action]
    fn get_disconnection_count(&self) -> i64 {
        self.disconnection_count
    }

    #[action]
    fn get_all_connection_states(&self, cx: &Cx<Self>) -> Vec<serde_json::Value> {
        cx.conns().map(|c| with_id(c.id(), c.state())).collect()
    }

    /// Sends `directMessage` to the connection `target_id`, if it is open.
    #[action]
    fn send_to_connection(&self, cx: &mut Cx<Self>, target_id: String, message: String) -> bool {
        let from = cx.conn().map(|c| c.id().to_owned()).unwrap_or_default();
        if !cx.conns().any(|c| c.id() == target_id) {
            return false;
        }
        cx.send(
            &target_id,
            ConnStateActorEvent::DirectMessage(DirectMessage { from, message }),
        );
        true
    }

    #[action]
    fn update_connection(&self, cx: &mut Cx<Self>, updates: ConnUpdates) -> serde_json::Value {
        let Some(conn) = cx.conn_mut() else {
            return serde_json::Value::Null;
        };
        if let Some(username) = updates.username.filter(|u| !u.is_empty()) {
            conn.state_mut().username = username;
        }
        if let Some(role) = updates.role.filter(|r| !r.is_empty()) {
            conn.state_mut().role = role;
        }
        serde_json::to_value(conn.state()).unwrap_or_default()
    }

    /// Closes the calling connection with `reason` (`test.disconnect` by default).
    #[action]
    fn disconnect_self(&self, cx: &mut Cx<Self>, reason: Option<String>) -> bool {
        let reason = reason.unwrap_or_else(|| "test.disconnect".to_owned());
        if let Some(id) = cx.conn().map(|c| c.id().to_owned()) {
            let (group, code) = reason.split_once('.').unwrap_or(("actor", reason.as_str()));
            cx.disconnect(&id, Some(ActorError::new(group, code, reason.clone())));
        }
        true
    }

    #[event]
    fn user_connected(user: UserConnected);

    #[event]
    fn user_disconnected(user: UserDisconnected);

    #[event]
    fn direct_message(message: DirectMessage);
}
