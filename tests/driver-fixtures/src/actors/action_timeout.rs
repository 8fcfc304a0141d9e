//! `shortTimeoutActor`, `longTimeoutActor`, `defaultTimeoutActor`, `syncTimeoutActor`
//! (action-timeout.ts): per-actor action timeouts.

use std::time::Duration;

use rivet_core::prelude::*;

/// Times out after 50 ms.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ShortTimeoutActor {
    value: i64,
}

#[actor(
    name = "shortTimeoutActor",
    options = ActorOptions::new().action_timeout(Duration::from_millis(50))
)]
impl ShortTimeoutActor {
    #[action]
    async fn quick_action(&self) -> String {
        "quick response".to_owned()
    }

    #[action]
    async fn slow_action(&self) -> String {
        tokio::time::sleep(Duration::from_millis(100)).await;
        "slow response".to_owned()
    }
}

/// Times out after 200 ms.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct LongTimeoutActor {
    value: i64,
}

#[actor(
    name = "longTimeoutActor",
    options = ActorOptions::new().action_timeout(Duration::from_millis(200))
)]
impl LongTimeoutActor {
    #[action]
    async fn delayed_action(&self) -> String {
        tokio::time::sleep(Duration::from_millis(100)).await;
        "delayed response".to_owned()
    }
}

/// The registry's timeout.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct DefaultTimeoutActor {
    value: i64,
}

#[actor(name = "defaultTimeoutActor")]
impl DefaultTimeoutActor {
    #[action]
    async fn normal_action(&self) -> String {
        tokio::time::sleep(Duration::from_millis(50)).await;
        "normal response".to_owned()
    }
}

/// A 50 ms timeout that a synchronous action never reaches.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SyncTimeoutActor {
    value: i64,
}

#[actor(
    name = "syncTimeoutActor",
    options = ActorOptions::new().action_timeout(Duration::from_millis(50))
)]
impl SyncTimeoutActor {
    #[action]
    fn sync_action(&self) -> String {
        "sync response".to_owned()
    }
}
