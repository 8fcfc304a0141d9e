//! Waiting in tests: every wait is on an event (a semaphore, a lifecycle event, a message) and
//! bounded by [`PATIENCE`], which only a hang reaches; the named semaphores through which test
//! actors and tests signal each other.

use std::collections::HashMap;
use std::panic::Location;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use rivet_core::{LifecycleEvent, LifecycleKind};
use tokio::sync::{Semaphore, broadcast, mpsc};

/// How long a test waits for anything before it fails. Only a hang reaches it, on any machine:
/// it is a guard, never a synchronisation point.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Awaits `future`; fails the test, naming the caller's line, if it takes longer than
/// [`PATIENCE`].
#[track_caller]
pub fn within<F: IntoFuture>(future: F) -> impl Future<Output = F::Output> {
    within_for(PATIENCE, future)
}

/// [`within`] with another bound, for work that is slow by nature (installing packages, a whole
/// external test suite).
#[track_caller]
pub fn within_for<F: IntoFuture>(limit: Duration, future: F) -> impl Future<Output = F::Output> {
    // Taken now: once the future runs, the caller is no longer on the stack.
    let caller = Location::caller();
    let future = future.into_future();
    async move {
        match tokio::time::timeout(limit, future).await {
            Ok(output) => output,
            Err(_) => panic!("{caller}: still waiting after {limit:?}; something hangs"),
        }
    }
}

/// [`within`] as a method, so a call reads in order: `counter.increment(1).within().await`.
pub trait Within: IntoFuture + Sized {
    /// See [`within`].
    #[track_caller]
    fn within(self) -> impl Future<Output = Self::Output> {
        within(self)
    }
}

impl<F: IntoFuture> Within for F {}

/// The next value sent on `rx`; fails the test if the channel closes or nothing comes within
/// [`PATIENCE`].
#[track_caller]
pub fn recv<T>(rx: &mut mpsc::UnboundedReceiver<T>) -> impl Future<Output = T> + '_ {
    let received = within(rx.recv());
    async move { received.await.expect("the sender is gone") }
}

/// Takes one permit of `semaphore` (one signal); fails the test if none comes within
/// [`PATIENCE`].
#[track_caller]
pub fn acquire(semaphore: Arc<Semaphore>) -> impl Future<Output = ()> {
    let permit = within(semaphore.acquire_owned());
    async move {
        permit
            .await
            .expect("test semaphores are never closed")
            .forget()
    }
}

/// Calls `check` until it returns `Some`, and returns that; fails the test if it has not within
/// [`PATIENCE`]. For conditions that no event announces (a counter read over the network).
#[track_caller]
pub fn eventually<T, F, Fut>(mut check: F) -> impl Future<Output = T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    within(async move {
        loop {
            if let Some(value) = check().await {
                return value;
            }
            // Only so that polling does not crowd out the work it watches; nothing depends on
            // its length.
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
}

/// Waits for lifecycle event `kind` of actor `id`.
pub async fn wait_for(rx: &mut broadcast::Receiver<LifecycleEvent>, id: &str, kind: LifecycleKind) {
    let found = tokio::time::timeout(PATIENCE, async {
        loop {
            match rx.recv().await {
                Ok(event) if event.actor_id == id && event.kind == kind => return,
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => panic!("lifecycle channel closed"),
            }
        }
    })
    .await;
    assert!(found.is_ok(), "actor {id} did not reach {kind:?}");
}

/// A named gate that [`Probe`](crate::Probe)'s `hold` action waits on: `gate(name).add_permits(1)`
/// opens it.
pub fn gate(name: &str) -> Arc<Semaphore> {
    semaphore(&format!("gate:{name}"))
}

/// For a test actor's `#[run]` loop that goes one step per signal from the test: takes one
/// permit of [`gate`]`(name)` and returns `true`, or returns `false` if `aborted` (the loop's
/// request to stop) comes first.
pub async fn opened_or_aborted(name: &str, aborted: impl Future<Output = ()>) -> bool {
    tokio::select! {
        permit = gate(name).acquire_owned() => {
            if let Ok(permit) = permit {
                permit.forget();
            }
            true
        }
        () = aborted => false,
    }
}

/// Gets a permit when `hold(name)` has started, so a test knows the actor is inside that turn.
pub fn entered(name: &str) -> Arc<Semaphore> {
    semaphore(&format!("entered:{name}"))
}

/// The process-wide semaphore called `name`. Names are shared by every test in a binary, so a
/// test uses names (and actor keys, which name most signals) that no other test uses.
pub(crate) fn semaphore(name: &str) -> Arc<Semaphore> {
    static ALL: OnceLock<Mutex<HashMap<String, Arc<Semaphore>>>> = OnceLock::new();
    let mut all = ALL
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Arc::clone(
        all.entry(name.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(0))),
    )
}
