//! `rawWebSocketActor`, `rawWebSocketBinaryActor` (raw-websocket.ts): raw WebSockets that
//! echo, count and answer a few JSON requests.

use std::collections::HashMap;

use rivet_core::prelude::*;

use crate::js::now_ms;
use rivet_core::raw::{RawMessage, WebSocketEvent};

/// Open sockets and messages received.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawWebSocketActor {
    connection_count: i64,
    message_count: i64,
}

#[actor(name = "rawWebSocketActor")]
impl RawWebSocketActor {
    /// Each open socket's upgrade path and query, for `getRequestInfo`.
    #[vars]
    fn vars() -> HashMap<String, (String, String)> {
        HashMap::new()
    }

    #[on_websocket]
    fn socket(&mut self, cx: &mut Cx<Self>, event: WebSocketEvent) {
        match event {
            WebSocketEvent::Open { socket, request } => {
                self.connection_count += 1;
                let uri = request.uri();
                let search = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
                cx.vars_mut()
                    .insert(socket.id().to_owned(), (uri.path().to_owned(), search));
                socket.send_text(
                    serde_json::json!({ "type": "welcome", "connectionCount": self.connection_count })
                        .to_string(),
                );
            }
            WebSocketEvent::Message { socket, message } => {
                self.message_count += 1;
                let RawMessage::Text(text) = message else {
                    socket.send_binary(match message {
                        RawMessage::Binary(data) => data,
                        RawMessage::Text(_) => bytes::Bytes::new(),
                    });
                    return;
                };
                let parsed: Option<serde_json::Value> = serde_json::from_str(&text).ok();
                let kind = parsed
                    .as_ref()
                    .and_then(|p| p.get("type"))
                    .and_then(|t| t.as_str());
                let reply = match kind {
                    Some("ping") => serde_json::json!({ "type": "pong", "timestamp": now_ms() }),
                    Some("getStats") => serde_json::json!({
                        "type": "stats",
                        "connectionCount": self.connection_count,
                        "messageCount": self.message_count,
                    }),
                    Some("getRequestInfo") => {
                        let (path, search) =
                            cx.vars().get(socket.id()).cloned().unwrap_or_default();
                        serde_json::json!({
                            "type": "requestInfo",
                            "url": format!("ws://actor{path}{search}"),
                            "pathname": path,
                            "search": search,
                        })
                    }
                    _ => {
                        socket.send_text(text);
                        return;
                    }
                };
                socket.send_text(reply.to_string());
            }
            WebSocketEvent::Close { socket, .. } => {
                self.connection_count -= 1;
                cx.vars_mut().remove(socket.id());
            }
            _ => {}
        }
    }

    #[action]
    fn get_stats(&self) -> serde_json::Value {
        serde_json::json!({
            "connectionCount": self.connection_count,
            "messageCount": self.message_count,
        })
    }
}

/// Answers each binary message with its bytes reversed.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct RawWebSocketBinaryActor {}

#[actor(name = "rawWebSocketBinaryActor")]
impl RawWebSocketBinaryActor {
    #[on_websocket]
    fn socket(&self, event: WebSocketEvent) {
        if let WebSocketEvent::Message {
            socket,
            message: RawMessage::Binary(data),
        } = event
        {
            let mut reversed = data.to_vec();
            reversed.reverse();
            socket.send_binary(reversed);
        }
    }
}
