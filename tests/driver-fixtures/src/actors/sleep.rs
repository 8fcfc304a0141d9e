//! The actors of RivetKit's sleep.ts: when actors sleep (idle timeout, `cx.sleep()`, never),
//! what keeps them awake (calls, alarms, raw requests and sockets, `keep_awake`), and what
//! their hooks can still do while they go to sleep.

use std::time::Duration;

use rivet_core::KeepAwake;
use rivet_core::prelude::*;
use rivet_core::raw::{RawMessage, Request, Response, WebSocketEvent};

use crate::js::{json, text};

/// RivetKit's `SLEEP_TIMEOUT`.
const SLEEP_TIMEOUT: Duration = Duration::from_millis(1000);
/// RivetKit's `PREVENT_SLEEP_TIMEOUT`: the grace period of `sleepWithPreventSleep`.
const PREVENT_SLEEP_TIMEOUT: Duration = Duration::from_millis(250);
/// RivetKit's `RAW_WS_HANDLER_SLEEP_TIMEOUT` and `RAW_WS_HANDLER_DELAY`.
const RAW_WS_HANDLER_SLEEP_TIMEOUT: Duration = Duration::from_millis(100);
const RAW_WS_HANDLER_DELAY: Duration = Duration::from_millis(250);

/// Wakes and sleeps, counted.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    pub(crate) start_count: u64,
    pub(crate) sleep_count: u64,
}

/// `sleep`: counts wakes and sleeps; an alarm wakes it.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Sleep {
    #[serde(flatten)]
    counts: Counts,
}

#[actor(name = "sleep", options = ActorOptions::new().sleep_timeout(SLEEP_TIMEOUT))]
impl Sleep {
    #[on_wake]
    fn woke(&mut self) {
        self.counts.start_count += 1;
    }

    #[on_sleep]
    fn slept(&mut self) {
        self.counts.sleep_count += 1;
    }

    #[action]
    fn trigger_sleep(&self, cx: &mut Cx<Self>) {
        cx.sleep();
    }

    #[action]
    fn get_counts(&self) -> Counts {
        self.counts.clone()
    }

    /// Calls `onAlarm` after `duration` ms.
    #[action]
    fn set_alarm(&self, cx: &mut Cx<Self>, duration: u64) -> Result<(), Error> {
        cx.schedule()
            .after(Duration::from_millis(duration), SleepCall::on_alarm())?;
        Ok(())
    }

    #[action]
    fn on_alarm(&self) {
        tracing::info!("alarm called");
    }
}

/// `sleepWithNoSleepOption`: never sleeps for being idle.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SleepWithNoSleepOption {
    #[serde(flatten)]
    counts: Counts,
}

#[actor(
    name = "sleepWithNoSleepOption",
    options = ActorOptions::new().sleep_timeout(SLEEP_TIMEOUT).no_sleep()
)]
impl SleepWithNoSleepOption {
    #[on_wake]
    fn woke(&mut self) {
        self.counts.start_count += 1;
    }

    #[on_sleep]
    fn slept(&mut self) {
        self.counts.sleep_count += 1;
    }

    #[action]
    fn get_counts(&self) -> Counts {
        self.counts.clone()
    }
}

/// `sleepWithRawHttp`: a long raw request keeps it awake.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SleepWithRawHttp {
    start_count: u64,
    sleep_count: u64,
    request_count: u64,
}

#[actor(name = "sleepWithRawHttp", options = ActorOptions::new().sleep_timeout(SLEEP_TIMEOUT))]
impl SleepWithRawHttp {
    #[on_wake]
    fn woke(&mut self) {
        self.start_count += 1;
    }

    #[on_sleep]
    fn slept(&mut self) {
        self.sleep_count += 1;
    }

    /// `/long-request?duration=ms` answers `{ completed: true }` after that long.
    #[on_request]
    async fn request(&mut self, request: Request) -> Response {
        self.request_count += 1;
        if request.uri().path() != "/long-request" {
            return text(http::StatusCode::NOT_FOUND, "Not Found");
        }
        let duration = request
            .uri()
            .query()
            .and_then(|q| {
                q.split('&')
                    .find_map(|kv| kv.strip_prefix("duration="))
                    .and_then(|v| v.parse().ok())
            })
            .unwrap_or(1000);
        tokio::time::sleep(Duration::from_millis(duration)).await;
        json(
            http::StatusCode::OK,
            &serde_json::json!({ "completed": true }),
        )
    }

    #[action]
    fn get_counts(&self) -> serde_json::Value {
        serde_json::json!({
            "startCount": self.start_count,
            "sleepCount": self.sleep_count,
            "requestCount": self.request_count,
        })
    }
}

/// `sleepWithRawWebSocket`: an open raw WebSocket keeps it awake.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SleepWithRawWebSocket {
    start_count: u64,
    sleep_count: u64,
    connection_count: i64,
}

#[actor(
    name = "sleepWithRawWebSocket",
    options = ActorOptions::new().sleep_timeout(SLEEP_TIMEOUT)
)]
impl SleepWithRawWebSocket {
    #[on_wake]
    fn woke(&mut self) {
        self.start_count += 1;
    }

    #[on_sleep]
    fn slept(&mut self) {
        self.sleep_count += 1;
    }

    #[on_websocket]
    fn socket(&mut self, event: WebSocketEvent) {
        match event {
            WebSocketEvent::Open { socket, .. } => {
                self.connection_count += 1;
                socket.send_text(
                    serde_json::json!({ "type": "connected", "connectionCount": self.connection_count })
                        .to_string(),
                );
            }
            WebSocketEvent::Message {
                socket,
                message: RawMessage::Text(text),
            } => match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(parsed) => match parsed["type"].as_str() {
                    Some("getCounts") => {
                        socket.send_text(
                            serde_json::json!({
                                "type": "counts",
                                "startCount": self.start_count,
                                "sleepCount": self.sleep_count,
                                "connectionCount": self.connection_count,
                            })
                            .to_string(),
                        );
                    }
                    Some("keepAlive") => {
                        socket.send_text(r#"{"type":"ack"}"#);
                    }
                    _ => {}
                },
                Err(_) => {
                    socket.send_text(text);
                }
            },
            WebSocketEvent::Close { .. } => self.connection_count -= 1,
            _ => {}
        }
    }

    #[action]
    fn get_counts(&self) -> serde_json::Value {
        serde_json::json!({
            "startCount": self.start_count,
            "sleepCount": self.sleep_count,
            "connectionCount": self.connection_count,
        })
    }
}

macro_rules! send_on_sleep_actor {
    ($ty:ident, $name:literal, $pause:expr) => {
        /// Tells its raw WebSockets that it is going to sleep (after `$pause`, and waits as
        /// long again before it finishes sleeping).
        #[derive(Debug, Default, Serialize, Deserialize)]
        pub struct $ty {
            #[serde(flatten)]
            counts: Counts,
        }

        #[actor(name = $name, options = ActorOptions::new().sleep_timeout(SLEEP_TIMEOUT))]
        impl $ty {
            #[on_wake]
            fn woke(&mut self) {
                self.counts.start_count += 1;
            }

            #[on_sleep]
            async fn slept(&mut self, cx: &mut Cx<Self>) {
                self.counts.sleep_count += 1;
                let pause: Duration = $pause;
                if !pause.is_zero() {
                    tokio::time::sleep(pause).await;
                }
                let message = serde_json::json!({
                    "type": "sleeping",
                    "sleepCount": self.counts.sleep_count,
                })
                .to_string();
                for socket in cx.raw_sockets() {
                    socket.send_text(message.clone());
                }
                if !pause.is_zero() {
                    tokio::time::sleep(pause).await;
                }
            }

            #[on_websocket]
            fn socket(&self, event: WebSocketEvent) {
                if let WebSocketEvent::Open { socket, .. } = event {
                    socket.send_text(r#"{"type":"connected"}"#);
                }
            }

            #[action]
            fn trigger_sleep(&self, cx: &mut Cx<Self>) {
                cx.sleep();
            }

            #[action]
            fn get_counts(&self) -> Counts {
                self.counts.clone()
            }
        }
    };
}

send_on_sleep_actor!(
    SleepRawWsSendOnSleep,
    "sleepRawWsSendOnSleep",
    Duration::ZERO
);
send_on_sleep_actor!(
    SleepRawWsDelayedSendOnSleep,
    "sleepRawWsDelayedSendOnSleep",
    Duration::from_millis(100)
);

/// What the slow raw WebSocket handlers did.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AsyncRawWebSocketState {
    start_count: u64,
    sleep_count: u64,
    message_started: u64,
    message_finished: u64,
    close_started: u64,
    close_finished: u64,
}

macro_rules! async_raw_ws_actor {
    ($ty:ident, $name:literal, $on_close:literal) => {
        /// A raw WebSocket handler that takes a while (on a `track-message` message, or on
        /// close), which the actor's sleep waits for. RivetKit registers the handler with
        /// `addEventListener` or `onmessage`/`onclose`; a Rust actor has one hook for both.
        #[derive(Debug, Default, Serialize, Deserialize)]
        pub struct $ty {
            #[serde(flatten)]
            state: AsyncRawWebSocketState,
        }

        #[actor(
                    name = $name,
                    options = ActorOptions::new().sleep_timeout(RAW_WS_HANDLER_SLEEP_TIMEOUT)
                )]
        impl $ty {
            #[on_wake]
            fn woke(&mut self) {
                self.state.start_count += 1;
            }

            #[on_sleep]
            fn slept(&mut self) {
                self.state.sleep_count += 1;
            }

            #[on_websocket]
            async fn socket(&mut self, event: WebSocketEvent) {
                match event {
                    WebSocketEvent::Open { socket, .. } => {
                        socket.send_text(r#"{"type":"connected"}"#);
                    }
                    WebSocketEvent::Message {
                        socket,
                        message: RawMessage::Text(text),
                    } if !$on_close && text == "track-message" => {
                        self.state.message_started += 1;
                        socket.send_text(r#"{"type":"message-started"}"#);
                        tokio::time::sleep(RAW_WS_HANDLER_DELAY).await;
                        self.state.message_finished += 1;
                    }
                    WebSocketEvent::Close { .. } if $on_close => {
                        self.state.close_started += 1;
                        tokio::time::sleep(RAW_WS_HANDLER_DELAY).await;
                        self.state.close_finished += 1;
                    }
                    _ => {}
                }
            }

            #[action]
            fn trigger_sleep(&self, cx: &mut Cx<Self>) {
                cx.sleep();
            }

            #[action]
            fn get_status(&self) -> AsyncRawWebSocketState {
                self.state.clone()
            }
        }
    };
}

async_raw_ws_actor!(
    SleepRawWsAddEventListenerMessage,
    "sleepRawWsAddEventListenerMessage",
    false
);
async_raw_ws_actor!(
    SleepRawWsAddEventListenerClose,
    "sleepRawWsAddEventListenerClose",
    true
);
async_raw_ws_actor!(SleepRawWsOnMessage, "sleepRawWsOnMessage", false);
async_raw_ws_actor!(SleepRawWsOnClose, "sleepRawWsOnClose", true);

/// `sleepWithPreventSleep`: `setPreventSleep` holds a `keep_awake` guard (RivetKit's
/// `c.setPreventSleep`), optionally taken again on every wake.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SleepWithPreventSleep {
    start_count: u64,
    sleep_count: u64,
    prevent_sleep_on_wake: bool,
    delay_prevent_sleep_during_shutdown: bool,
    prevent_sleep_cleared_during_shutdown: bool,
}

#[actor(
    name = "sleepWithPreventSleep",
    options = ActorOptions::new()
        .sleep_timeout(SLEEP_TIMEOUT)
        .sleep_grace_period(PREVENT_SLEEP_TIMEOUT)
)]
impl SleepWithPreventSleep {
    /// The guard, while sleep is prevented.
    #[vars]
    fn vars() -> Option<KeepAwake> {
        None
    }

    #[on_wake]
    fn woke(&mut self, cx: &mut Cx<Self>) {
        self.start_count += 1;
        let guard = self.prevent_sleep_on_wake.then(|| cx.keep_awake());
        *cx.vars_mut() = guard;
    }

    #[on_sleep]
    fn slept(&mut self) {
        self.sleep_count += 1;
    }

    #[action]
    fn trigger_sleep(&self, cx: &mut Cx<Self>) {
        cx.sleep();
    }

    #[action]
    fn get_status(&self, cx: &Cx<Self>) -> serde_json::Value {
        serde_json::json!({
            "startCount": self.start_count,
            "sleepCount": self.sleep_count,
            "preventSleep": cx.vars().is_some(),
            "preventSleepOnWake": self.prevent_sleep_on_wake,
            "delayPreventSleepDuringShutdown": self.delay_prevent_sleep_during_shutdown,
            "preventSleepClearedDuringShutdown": self.prevent_sleep_cleared_during_shutdown,
        })
    }

    #[action]
    fn set_prevent_sleep(&self, cx: &mut Cx<Self>, prevent: bool) -> bool {
        let guard = prevent.then(|| cx.keep_awake());
        *cx.vars_mut() = guard;
        prevent
    }

    #[action]
    fn set_prevent_sleep_on_wake(&mut self, prevent: bool) -> bool {
        self.prevent_sleep_on_wake = prevent;
        prevent
    }

    #[action]
    fn set_delay_prevent_sleep_during_shutdown(&mut self, enabled: bool) -> bool {
        self.delay_prevent_sleep_during_shutdown = enabled;
        self.prevent_sleep_cleared_during_shutdown = false;
        enabled
    }
}
