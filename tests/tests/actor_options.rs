//! Per-actor options (`#[actor(options = ..)]`) replace the registry's settings for one actor
//! type only: its action timeout, its sleep timeout, and `no_sleep`.

use std::time::Duration;

use rivet_core::prelude::*;
use rivet_core::{LifecycleKind, codes};
use rivet_tests::{Backend, Within, on_each_backend, wait_for};

/// Its own action timeout (50 ms) and sleep timeout (30 ms).
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Brisk {
    value: u64,
}

#[actor(
    name = "brisk",
    options = ActorOptions::new()
        .action_timeout(Duration::from_millis(50))
        .sleep_timeout(Duration::from_millis(30))
)]
impl Brisk {
    /// Sets the value, then takes `ms` milliseconds.
    #[action]
    async fn set_slowly(&mut self, value: u64, ms: u64) -> u64 {
        self.value = value;
        tokio::time::sleep(Duration::from_millis(ms)).await;
        self.value
    }

    #[action]
    fn value(&self) -> u64 {
        self.value
    }
}

/// Never sleeps for being idle, however short its sleep timeout.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Wakeful {
    calls: u64,
}

#[actor(
    name = "wakeful",
    options = ActorOptions::new().sleep_timeout(Duration::from_millis(1)).no_sleep()
)]
impl Wakeful {
    #[action]
    fn call(&mut self) -> u64 {
        self.calls += 1;
        self.calls
    }

    #[action]
    fn nap(&self, cx: &mut Cx<Self>) {
        cx.sleep();
    }
}

/// The registry's settings are generous; `brisk`'s own are not.
fn registry(backend: &Backend) -> Registry {
    backend.build(
        Registry::builder()
            .with::<Brisk>()
            .with::<Wakeful>()
            .action_timeout(Duration::from_secs(60))
            .sleep_timeout(Duration::from_secs(3600)),
    )
}

async fn an_actors_own_action_timeout_replaces_the_registrys(backend: Backend) {
    let registry = registry(&backend);
    let brisk = registry.client().get_or_create::<Brisk>(["timeout"]);
    assert_eq!(brisk.set_slowly(1, 0).within().await.unwrap(), 1);
    let err = brisk.set_slowly(2, 60_000).within().await.unwrap_err();
    assert!(err.is(codes::ACTION_TIMED_OUT), "{err}");
    assert!(err.message.starts_with("Action timed out"), "{err}");
    assert_eq!(brisk.value().within().await.unwrap(), 1, "rolled back");
    registry.shutdown().within().await;
}

async fn an_actors_own_sleep_timeout_and_no_sleep(backend: Backend) {
    let registry = registry(&backend);
    let mut events = registry.lifecycle_events();
    let client = registry.client();
    let brisk = client.get_or_create::<Brisk>(["sleepy"]);
    let wakeful = client.get_or_create::<Wakeful>(["wakeful"]);
    assert_eq!(wakeful.call().within().await.unwrap(), 1);
    let wakeful_id = wakeful.resolve().within().await.unwrap();
    brisk.value().within().await.unwrap();
    let brisk_id = brisk.resolve().within().await.unwrap();
    // `brisk` sleeps after its own 30 ms, not the registry's hour.
    wait_for(&mut events, &brisk_id, LifecycleKind::Slept).await;
    // `wakeful`, idle for as long (its timeout is 1 ms), is still awake; it sleeps when asked.
    assert_eq!(registry.awake_count(), 1);
    wakeful.nap().within().await.unwrap();
    wait_for(&mut events, &wakeful_id, LifecycleKind::Slept).await;
    assert_eq!(registry.awake_count(), 0);
    registry.shutdown().within().await;
}

on_each_backend!(
    an_actors_own_action_timeout_replaces_the_registrys,
    an_actors_own_sleep_timeout_and_no_sleep,
);
