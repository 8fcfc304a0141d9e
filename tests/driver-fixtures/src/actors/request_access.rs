//! `requestAccessActor` (request-access.ts): what the connection hooks, raw requests and raw
//! WebSockets see of the HTTP request behind them (`cx.request()`).

use std::collections::BTreeMap;

use rivet_core::prelude::*;
use rivet_core::raw::{RawMessage, Request, Response, WebSocketEvent};

use crate::js::json;

/// What one hook saw of its request.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestInfo {
    has_request: bool,
    request_url: Option<String>,
    request_method: Option<String>,
    request_headers: BTreeMap<String, String>,
}

impl RequestInfo {
    fn of<B>(request: &http::Request<B>) -> Self {
        Self {
            has_request: true,
            request_url: Some(request.uri().to_string()),
            request_method: Some(request.method().to_string()),
            request_headers: request
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
        }
    }
}

/// Connection parameters.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrackParams {
    #[serde(default)]
    track_request: bool,
}

/// A connection's state: whether it tracks, and what `#[conn_state]` saw.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrackState {
    track_request: bool,
    request_info: Option<RequestInfo>,
}

/// What each hook saw.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestAccessActor {
    on_before_connect_request: RequestInfo,
    create_conn_state_request: RequestInfo,
    on_request_request: RequestInfo,
    on_web_socket_request: RequestInfo,
}

#[actor(name = "requestAccessActor")]
impl RequestAccessActor {
    #[on_before_connect]
    fn before_connect(&mut self, cx: &mut Cx<Self>, params: Option<TrackParams>) {
        if params.is_some_and(|p| p.track_request) {
            self.on_before_connect_request = cx.request().map(RequestInfo::of).unwrap_or_default();
        }
    }

    #[conn_state]
    fn conn_state(&self, cx: &mut Cx<Self>, params: Option<TrackParams>) -> TrackState {
        let track_request = params.is_some_and(|p| p.track_request);
        TrackState {
            track_request,
            request_info: cx.request().filter(|_| track_request).map(RequestInfo::of),
        }
    }

    #[on_connect]
    fn connected(&mut self, cx: &mut Cx<Self>) {
        if let Some(info) = cx.conn().and_then(|c| c.state().request_info.clone()) {
            self.create_conn_state_request = info;
        }
    }

    #[on_request]
    fn request(&mut self, request: Request) -> Response {
        let info = RequestInfo::of(&request);
        self.on_request_request = info.clone();
        json(
            http::StatusCode::OK,
            &serde_json::to_value(&info).unwrap_or_default(),
        )
    }

    #[on_websocket]
    fn socket(&mut self, event: WebSocketEvent) {
        match event {
            WebSocketEvent::Open { socket, request } => {
                let info = RequestInfo::of(&request);
                self.on_web_socket_request = info.clone();
                socket.send_text(serde_json::to_string(&info).unwrap_or_default());
            }
            WebSocketEvent::Message { socket, message } => match message {
                RawMessage::Text(text) => {
                    socket.send_text(text);
                }
                RawMessage::Binary(data) => {
                    socket.send_binary(data);
                }
            },
            _ => {}
        }
    }

    #[action]
    fn ping(&self) -> String {
        "pong".to_owned()
    }

    #[action]
    fn get_request_info(&self) -> serde_json::Value {
        serde_json::json!({
            "onBeforeConnect": self.on_before_connect_request,
            "createConnState": self.create_conn_state_request,
            "onRequest": self.on_request_request,
            "onWebSocket": self.on_web_socket_request,
        })
    }
}
