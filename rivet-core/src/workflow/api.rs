//! The workflow API: [`Workflow`] scopes, their options and contexts, and
//! [`RunCx::workflow`], the entry point; entries are in `entries.rs`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::engine::{Engine, Op};
use super::record::{Record, display_path, from_value, to_value};
use crate::actor::Actor;
use crate::context::Cx;
use crate::error::Error;
use crate::run::{RunCx, stopping};
use crate::storage::keys;
use crate::sync::lock;
use rivet_client::codes::workflow as codes;

pub(super) struct Shared<A: Actor> {
    pub(super) run: RunCx<A>,
    pub(super) engine: Arc<Mutex<Engine>>,
}

/// A workflow scope (the workflow itself, a loop iteration or a branch) where entries are
/// called; see the [module docs](self). Cheap to clone.
pub struct Workflow<A: Actor> {
    pub(super) shared: Arc<Shared<A>>,
    pub(super) scope: Arc<[u8]>,
    /// Set for the branches of a race once it is decided (or of a join once one failed): their
    /// records that did not run yet are refused.
    pub(super) cancel: Option<Arc<Cancel>>,
}

impl<A: Actor> Clone for Workflow<A> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
            scope: Arc::clone(&self.scope),
            cancel: self.cancel.clone(),
        }
    }
}

/// The cancellation of a set of branches, and of the branches they are nested in.
#[derive(Debug)]
pub(super) struct Cancel {
    set: AtomicBool,
    outer: Option<Arc<Cancel>>,
}

impl Cancel {
    pub(super) fn new(outer: Option<Arc<Cancel>>) -> Arc<Self> {
        Arc::new(Self {
            set: AtomicBool::new(false),
            outer,
        })
    }

    pub(super) fn is_set(&self) -> bool {
        self.set.load(Ordering::Acquire) || self.outer.as_ref().is_some_and(|o| o.is_set())
    }

    pub(super) fn set(&self) {
        self.set.store(true, Ordering::Release);
    }
}

impl<A: Actor> std::fmt::Debug for Workflow<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workflow")
            .field("scope", &display_path(&self.scope))
            .finish_non_exhaustive()
    }
}

/// What a [`Workflow::repeat`] iteration asks for: another iteration with this state, or the
/// end of the loop with this result (RivetKit's `Loop.continue` / `Loop.break`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loop<S, B> {
    /// Run another iteration, carrying this state into it.
    Continue(S),
    /// End the loop; [`Workflow::repeat`] returns this.
    Break(B),
}

/// A step's retry and timeout settings; [`Workflow::step`] uses the defaults.
#[derive(Debug, Clone)]
pub struct Step {
    pub(super) name: String,
    pub(super) max_retries: u32,
    pub(super) backoff_base: Duration,
    pub(super) backoff_max: Duration,
    pub(super) timeout: Option<Duration>,
}

impl Step {
    /// A step called `name` with RivetKit's defaults: 3 retries, backoff from 100 ms doubling
    /// up to 30 s, and a 30 s timeout per attempt.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            max_retries: 3,
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_secs(30),
            timeout: Some(Duration::from_secs(30)),
        }
    }

    /// How many times a failed attempt is retried (0: run once).
    #[must_use]
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The wait before retry `n` is `base * 2^(n-1)`, at most `max`.
    #[must_use]
    pub fn backoff(mut self, base: Duration, max: Duration) -> Self {
        self.backoff_base = base;
        self.backoff_max = max;
        self
    }

    /// How long one attempt may run; `None` for no limit.
    #[must_use]
    pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    pub(super) fn backoff_for(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.backoff_base
            .saturating_mul(factor)
            .min(self.backoff_max)
    }
}

/// A state change a step asks for, applied in the turn that records the step.
pub(super) type Update<A> = Box<dyn FnOnce(&mut A, &mut Cx<A>) -> Result<(), Error> + Send>;

pub(super) struct StepShared<A: Actor> {
    pub(super) updates: Vec<Update<A>>,
    pub(super) answers: Vec<(u64, Option<Bytes>)>,
}

/// What a step's body gets: its attempt number, and the way to change the state and answer
/// messages atomically with the step's record.
pub struct StepCx<A: Actor> {
    pub(super) workflow: Workflow<A>,
    pub(super) attempt: u32,
    pub(super) pending: Arc<Mutex<StepShared<A>>>,
}

impl<A: Actor> std::fmt::Debug for StepCx<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StepCx")
            .field("attempt", &self.attempt)
            .finish_non_exhaustive()
    }
}

impl<A: Actor> StepCx<A> {
    /// Which attempt this is, from 1.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Changes the state when the step is recorded, in the same commit: the change happens
    /// exactly once, however often the body runs. Changes of a failed attempt are dropped.
    pub fn update<F>(&self, f: F)
    where
        F: FnOnce(&mut A, &mut Cx<A>) -> Result<(), Error> + Send + 'static,
    {
        lock(&self.pending).updates.push(Box::new(f));
    }

    /// Answers the sender waiting on `message` (`send(.., wait)`) with `response` once the step
    /// is recorded. A received message nobody completes is answered with `null` when the loop
    /// iteration (or workflow) that received it ends.
    pub fn complete<T: Serialize + ?Sized>(
        &self,
        message: &WorkflowMessage,
        response: &T,
    ) -> Result<(), Error> {
        let response = rivet_client::codec::to_cbor(response).map_err(Error::public)?;
        lock(&self.pending)
            .answers
            .push((message.id, Some(response)));
        Ok(())
    }

    /// A client for calling other actors (see [`RunCx::client`]).
    pub fn client(&self) -> rivet_client::Client {
        self.workflow.shared.run.client()
    }

    /// The run loop's context.
    pub fn run_cx(&self) -> &RunCx<A> {
        &self.workflow.shared.run
    }
}

/// A queue message a workflow received; recorded, so replay returns the same one.
pub type WorkflowMessage = crate::message::Message;

impl<A: Actor> RunCx<A> {
    /// Runs `body` as this actor's durable workflow (RivetKit's `run: workflow(..)`); see the
    /// [workflow module](crate::workflow). Returns the workflow's output; once it completed,
    /// later wakes return the recorded output without running `body`. When the actor stops in
    /// the middle, this returns the `actor.shut_down` error, and the next wake resumes.
    pub async fn workflow<T, F>(self, body: F) -> Result<T, Error>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        F: AsyncFnOnce(Workflow<A>) -> Result<T, Error>,
    {
        let runtime = self.identity().runtime().ok_or_else(stopping)?;
        let storage = Arc::clone(runtime.storage());
        drop(runtime);
        let stored = storage
            .scan_prefix(self.identity().storage_id, keys::WORKFLOW)
            .await?;
        let engine = Arc::new(Mutex::new(Engine::load(stored)?));
        self.identity().set_workflow(Arc::clone(&engine));
        if let Some(output) = lock(&engine).output().cloned() {
            return from_value(&output, "the workflow");
        }
        let workflow = Workflow {
            shared: Arc::new(Shared {
                run: self,
                engine: Arc::clone(&engine),
            }),
            scope: Arc::from(Vec::new()),
            cancel: None,
        };
        let result = body(workflow.clone()).await;
        match result {
            Ok(output) => {
                workflow
                    .commit(vec![Op::Output(to_value(&output)?)], Vec::new())
                    .await?;
                Ok(output)
            }
            Err(error) => {
                if !error.is(rivet_client::codes::SHUT_DOWN) {
                    let reported = error.to_actor_error();
                    lock(&engine).set_failed(reported.full_code(), reported.message.clone());
                }
                Err(error)
            }
        }
    }
}

impl<A: Actor> Workflow<A> {
    /// The run loop's context: the actor's id, a client, [`RunCx::turn`].
    pub fn run_cx(&self) -> &RunCx<A> {
        &self.shared.run
    }

    pub(super) fn visit(
        &self,
        name: &str,
        tag: Option<&'static str>,
    ) -> Result<(Vec<u8>, u32, Option<Record>), Error> {
        if self.shared.run.is_aborted() {
            return Err(stopping());
        }
        lock(&self.shared.engine).visit(&self.scope, name, tag)
    }

    /// Waits `duration`, or fails with the stopping error as soon as the actor stops.
    pub(super) async fn pause(&self, duration: Duration) -> Result<(), Error> {
        tokio::select! {
            () = tokio::time::sleep(duration) => Ok(()),
            () = self.shared.run.aborted() => Err(stopping()),
        }
    }

    pub(super) fn child(&self, scope: Vec<u8>) -> Self {
        self.branch(scope, self.cancel.clone())
    }

    pub(super) fn branch(&self, scope: Vec<u8>, cancel: Option<Arc<Cancel>>) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
            scope: Arc::from(scope),
            cancel,
        }
    }

    /// Runs `updates` and records `ops` in one turn.
    ///
    /// The ops reach the engine inside the host, once the turn's state change was accepted for
    /// commit, so the engine always matches what the actor's turns wrote, in their order (even
    /// a cancelled branch's turn that ran after its future was gone), and a refused turn
    /// changes nothing.
    pub(super) async fn commit(&self, ops: Vec<Op>, updates: Vec<Update<A>>) -> Result<(), Error> {
        let engine = Arc::clone(&self.shared.engine);
        let cancel = self.cancel.clone();
        self.shared
            .run
            .turn(move |state, cx| {
                if cancel.is_some_and(|c| c.is_set()) {
                    return Err(Error::public(codes::BRANCH_CANCELLED.error()));
                }
                for update in updates {
                    update(state, cx)?;
                }
                cx.effects_mut().workflow = Some(Box::new(move |schedules| {
                    lock(&engine).apply(ops, schedules)
                }));
                Ok(())
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let step = Step::named("s").backoff(Duration::from_millis(100), Duration::from_millis(350));
        let waits: Vec<u128> = (1..=4).map(|n| step.backoff_for(n).as_millis()).collect();
        assert_eq!(waits, [100, 200, 350, 350]);
    }
}
