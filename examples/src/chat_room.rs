//! `chatRoom`: a room addressed by the compound key `[org, room]`, keeping its history and
//! broadcasting every new message.

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

/// How much history a room keeps (state stays small; RivetKit advises under 128 KiB).
pub const HISTORY_LIMIT: usize = 100;

#[actor(name = "chatRoom", icon = "comments")]
impl ChatRoom {
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
