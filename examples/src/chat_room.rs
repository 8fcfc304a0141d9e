//! `chatRoom`: a room addressed by the compound key `[org, room]`, keeping its history and
//! broadcasting every new message. Connections say who they are in their parameters
//! (`{ "username": "ana" }`); the name lives in the connection's state.

use rivet_core::prelude::*;

/// One chat message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Who sent it.
    pub sender: String,
    /// What they wrote.
    pub text: String,
}

/// The room's persisted state: its history.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ChatRoom {
    messages: Vec<Message>,
}

/// Connection parameters: who is connecting.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChatParams {
    /// The name messages from this connection carry.
    pub username: String,
}

/// Per-connection state, built from [`ChatParams`].
#[derive(Debug, Clone)]
pub struct Member {
    /// The connection's name; `guest` without parameters.
    pub username: String,
}

/// The longest username a room accepts.
pub const MAX_USERNAME: usize = 32;

/// How much history a room keeps (state stays small; RivetKit advises under 128 KiB).
pub const HISTORY_LIMIT: usize = 100;

#[actor(name = "chatRoom", icon = "comments")]
impl ChatRoom {
    /// Refuses empty or overlong usernames before any state is created.
    #[on_before_connect]
    fn check(&self, params: Option<ChatParams>) -> Result<(), UserError> {
        match params {
            Some(p)
                if p.username.trim().is_empty() || p.username.chars().count() > MAX_USERNAME =>
            {
                Err(
                    UserError::new("invalid_username", "usernames have 1 to 32 characters")
                        .with_metadata(serde_json::json!({ "max": MAX_USERNAME })),
                )
            }
            _ => Ok(()),
        }
    }

    #[conn_state]
    fn member(&self, params: Option<ChatParams>) -> Member {
        Member {
            username: params.map_or_else(|| "guest".to_owned(), |p| p.username),
        }
    }

    /// The calling connection's username.
    #[action]
    pub fn whoami(&self, cx: &Cx<Self>) -> String {
        cx.conn()
            .map_or_else(|| "guest".to_owned(), |c| c.state().username.clone())
    }

    /// Posts a message as the calling connection's user.
    #[action]
    pub fn say(&mut self, cx: &mut Cx<Self>, text: String) -> Message {
        let sender = self.whoami(cx);
        self.send_message(cx, sender, text)
    }

    /// Adds a message to the history and broadcasts it.
    #[action]
    pub fn send_message(&mut self, cx: &mut Cx<Self>, sender: String, text: String) -> Message {
        let message = Message { sender, text };
        self.messages.push(message.clone());
        if self.messages.len() > HISTORY_LIMIT {
            self.messages.remove(0);
        }
        cx.broadcast(ChatRoomEvent::NewMessage(message.clone()));
        message
    }

    /// The most recent messages, oldest first.
    #[action]
    pub fn get_history(&self) -> Vec<Message> {
        self.messages.clone()
    }

    /// The room's `[org, room]` key.
    #[action]
    pub fn get_room_info(&self, cx: &Cx<Self>) -> Vec<String> {
        cx.key().parts().to_vec()
    }

    /// A new message in the room.
    #[event]
    fn new_message(message: Message);
}
