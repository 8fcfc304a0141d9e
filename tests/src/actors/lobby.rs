//! `lobby`: an actor that exercises connections: parameters, state, hooks, targeted sends,
//! kicks, and raw HTTP and WebSocket handlers.

use rivet_core::ConnKind;
use rivet_core::prelude::*;

/// Connection parameters of [`Lobby`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LobbyParams {
    /// Who connects.
    pub user: String,
    /// Refused when `"bad"`.
    pub token: Option<String>,
}

/// Per-connection state of [`Lobby`].
#[derive(Debug, Clone)]
pub struct Member {
    /// Who is connected.
    pub user: String,
}

/// Vars of [`Lobby`]: who is online (not persisted: connections do not survive a restart).
#[derive(Debug, Default)]
pub struct LobbyVars {
    /// Connected users, in order.
    pub online: Vec<String>,
    /// Open raw sockets.
    pub sockets: Vec<rivet_core::raw::RawWebSocket>,
}

/// An actor that exercises connections: parameters, state, hooks, targeted sends, kicks, and
/// raw HTTP and WebSocket handlers.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Lobby {
    joins: u64,
}

#[actor(name = "lobby")]
impl Lobby {
    #[vars]
    fn vars() -> LobbyVars {
        LobbyVars::default()
    }

    #[on_before_connect]
    fn check(&self, params: Option<LobbyParams>) -> Result<(), UserError> {
        match params {
            Some(LobbyParams {
                token: Some(token), ..
            }) if token == "bad" => Err(UserError::new("forbidden", "this token is not welcome")
                .with_metadata(serde_json::json!({ "token": token }))),
            _ => Ok(()),
        }
    }

    #[conn_state]
    fn member(&mut self, params: Option<LobbyParams>) -> Member {
        self.joins += 1;
        Member {
            user: params.map_or_else(|| "anonymous".to_owned(), |p| p.user),
        }
    }

    #[on_connect]
    fn connected(&self, cx: &mut Cx<Self>) {
        // Only lasting connections are "online"; stateless calls come and go.
        let Some(user) = cx
            .conn()
            .filter(|c| c.kind() != ConnKind::Http)
            .map(|c| c.state().user.clone())
        else {
            return;
        };
        cx.vars_mut().online.push(user.clone());
        cx.broadcast(LobbyEvent::Joined(user));
    }

    #[on_disconnect]
    fn disconnected(&self, cx: &mut Cx<Self>) {
        if let Some(user) = cx
            .conn()
            .filter(|c| c.kind() != ConnKind::Http)
            .map(|c| c.state().user.clone())
        {
            let online = &mut cx.vars_mut().online;
            if let Some(i) = online.iter().position(|u| *u == user) {
                online.remove(i);
            }
            cx.broadcast(LobbyEvent::Left(user));
        }
    }

    /// The user of the calling connection.
    #[action]
    fn whoami(&self, cx: &Cx<Self>) -> Option<String> {
        cx.conn().map(|c| c.state().user.clone())
    }

    /// Users online.
    #[action]
    fn online(&self, cx: &Cx<Self>) -> Vec<String> {
        cx.vars().online.clone()
    }

    /// Connections made so far (persisted).
    #[action]
    fn joins(&self) -> u64 {
        self.joins
    }

    /// Broadcasts a message from the caller.
    #[action]
    fn shout(&self, cx: &mut Cx<Self>, text: String) {
        let from = cx
            .conn()
            .map_or_else(|| "server".to_owned(), |c| c.state().user.clone());
        cx.broadcast(LobbyEvent::Said { from, text });
    }

    /// Sends a message to one user only.
    #[action]
    fn whisper(&self, cx: &mut Cx<Self>, to: String, text: String) -> bool {
        let from = cx
            .conn()
            .map_or_else(|| "server".to_owned(), |c| c.state().user.clone());
        let target = cx
            .conns()
            .find(|c| c.state().user == to)
            .map(|c| c.id().to_owned());
        match target {
            Some(id) => {
                cx.send(&id, LobbyEvent::Said { from, text });
                true
            }
            None => false,
        }
    }

    /// Disconnects a user with a reason.
    #[action]
    fn kick(&self, cx: &mut Cx<Self>, user: String) {
        let ids: Vec<String> = cx
            .conns()
            .filter(|c| c.state().user == user)
            .map(|c| c.id().to_owned())
            .collect();
        for id in ids {
            cx.disconnect(
                &id,
                Some(UserError::new("kicked", "you were kicked").into()),
            );
        }
    }

    #[on_request]
    fn http(&mut self, request: rivet_core::raw::Request) -> rivet_core::raw::Response {
        let body = format!(
            "{} {} {}",
            request.method(),
            request.uri(),
            String::from_utf8_lossy(request.body())
        );
        http::Response::builder()
            .status(201)
            .header("x-lobby", "yes")
            .body(bytes::Bytes::from(body))
            .unwrap_or_default()
    }

    #[on_websocket]
    fn socket(&mut self, cx: &mut Cx<Self>, event: rivet_core::raw::WebSocketEvent) {
        use rivet_core::raw::{RawMessage, WebSocketEvent};
        match event {
            WebSocketEvent::Open { socket, request } => {
                socket.send_text(format!("welcome {}", request.uri()));
                cx.vars_mut().sockets.push(socket);
            }
            WebSocketEvent::Message { socket, message } => match message {
                RawMessage::Text(text) if text == "bye" => socket.close(4000, "bye"),
                RawMessage::Text(text) => {
                    socket.send_text(text.to_uppercase());
                }
                RawMessage::Binary(bytes) => {
                    socket.send_binary(bytes);
                }
            },
            WebSocketEvent::Close { socket, .. } => {
                cx.vars_mut().sockets.retain(|s| s.id() != socket.id());
            }
            _ => {}
        }
    }

    /// Someone connected.
    #[event]
    fn joined(user: String);

    /// Someone disconnected.
    #[event]
    fn left(user: String);

    /// A message.
    #[event]
    fn said(from: String, text: String);
}
