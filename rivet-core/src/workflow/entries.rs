//! The entries a workflow body calls: steps, loops, durable sleeps, queue waits, joins, races
//! and removed placeholders.

use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::api::{Cancel, Loop, Step, StepCx, StepShared, Workflow, WorkflowMessage};
use super::engine::Op;
use super::record::{
    Record, RecordKind, check_name, display_path, from_value, to_value, unexpected,
};
use crate::actor::Actor;
use crate::error::Error;
use crate::ids::new_id;
use crate::run::{Next, stopping};
use crate::storage::keys::{push_iteration, push_name};
use crate::sync::lock;
use crate::time::{now_ms, to_ms};
use rivet_client::codes::workflow as codes;

/// The actor's queue as a workflow waits on it ([`Workflow::queue`]).
#[derive(Debug)]
pub struct WorkflowQueue<'a, A: Actor> {
    workflow: &'a Workflow<A>,
}

/// A queue wait in progress: its record so far, and the deadline with the wake-up that ends it
/// in a sleeping actor, if it is timed.
struct Wait {
    record: Record,
    deadline_ms: Option<i64>,
    wake: Option<String>,
}

impl<A: Actor> WorkflowQueue<'_, A> {
    /// Waits for the next message (of [`Next::names`], within [`Next::timeout`]) as an entry
    /// called `name`: the message leaves the queue in the commit that records it, and replay
    /// returns it again. `None` when the timeout passed (recorded too). A timed wait records
    /// its deadline first, like a durable [`sleep`](Workflow::sleep): the actor may sleep
    /// meanwhile, is woken at the deadline, and a replay waits only for what is left.
    pub async fn next(&self, name: &str, mut next: Next) -> Result<Option<WorkflowMessage>, Error> {
        let wf = self.workflow;
        let (key, index, prior) = wf.visit(name, Some("message"))?;
        let wait = match prior {
            Some(record) => match record.kind {
                RecordKind::Message { message, .. } if record.completed_ms.is_some() => {
                    return Ok(message.map(|(id, name, body)| {
                        let body = match body {
                            ciborium::Value::Bytes(bytes) => Bytes::from(bytes),
                            _ => Bytes::new(),
                        };
                        WorkflowMessage { id, name, body }
                    }));
                }
                // A timed wait cut off by a stop: it goes on until its recorded deadline.
                RecordKind::Message {
                    deadline_ms,
                    ref wake,
                    ..
                } => Wait {
                    wake: wake.clone(),
                    deadline_ms,
                    record,
                },
                _ => return Err(unexpected(&key)),
            },
            None => self.begin(&key, index, next.timeout).await?,
        };
        if let Some(deadline_ms) = wait.deadline_ms {
            next.timeout = Some(crate::time::until_ms(deadline_ms));
        }
        let queue = wf.shared.run.queue();
        let taken = if next.timeout.is_some_and(|t| t.is_zero()) {
            // Past the deadline (or no wait asked for): still take a message already queued,
            // as a wait that had not been cut off would have.
            queue.try_next(next.names).await?
        } else {
            queue.next(next).await?
        };
        if taken.is_none() && wf.shared.run.is_aborted() {
            return Err(stopping());
        }
        let message = taken.as_ref().map(|m| WorkflowMessage::clone(m));
        self.record(key, wait, message.as_ref()).await?;
        // Recorded and out of the queue: the held message must not go back when dropped.
        if let Some(taken) = taken {
            taken.forget();
        }
        Ok(message)
    }

    /// Starts a new wait. A timed one records its deadline and a wake-up first (one more
    /// commit), so it survives a stop; a wait that does not wait has nothing to survive.
    async fn begin(
        &self,
        key: &[u8],
        index: u32,
        timeout: Option<Duration>,
    ) -> Result<Wait, Error> {
        let (deadline_ms, wake) = match timeout {
            Some(timeout) if !timeout.is_zero() => {
                let deadline_ms =
                    now_ms().saturating_add(i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX));
                (Some(deadline_ms), Some(new_id()))
            }
            _ => (None, None),
        };
        let record = Record::new(
            index,
            RecordKind::Message {
                message: None,
                deadline_ms,
                wake: wake.clone(),
            },
        );
        if let (Some(deadline_ms), Some(wake)) = (deadline_ms, &wake) {
            let ops = vec![
                Op::put(key.to_vec(), record.clone())?,
                Op::Wake(wake.clone(), deadline_ms),
            ];
            self.workflow.commit(ops, Vec::new()).await?;
        }
        Ok(Wait {
            record,
            deadline_ms,
            wake,
        })
    }

    /// Records the end of a wait: the message it received (which leaves the queue in this
    /// commit), or none.
    async fn record(
        &self,
        key: Vec<u8>,
        wait: Wait,
        message: Option<&WorkflowMessage>,
    ) -> Result<(), Error> {
        let wf = self.workflow;
        let mut ops = Vec::with_capacity(3);
        if let Some(m) = message {
            ops.push(Op::Take(wf.scope.to_vec(), m.id));
        }
        let recorded = message.map(|m| {
            (
                m.id,
                m.name.clone(),
                ciborium::Value::Bytes(m.body.to_vec()),
            )
        });
        let mut record = wait.record;
        record.kind = RecordKind::Message {
            message: recorded,
            deadline_ms: wait.deadline_ms,
            wake: wait.wake,
        };
        // A message that came before the deadline: its wake-up is no longer needed.
        ops.push(Op::CancelWakes(key.clone()));
        // Not held to the size limit: the queue's own limit already bounds the message.
        ops.push(Op::put_unchecked(key, record.completed(1))?);
        wf.commit(ops, Vec::new()).await
    }
}

/// A branch of a [`Workflow::join`] or [`Workflow::race`]: a name and the code to run in its
/// own scope.
pub struct Branch<'a, A: Actor, T> {
    name: String,
    start: BranchStart<'a, A, T>,
}

type BranchStart<'a, A, T> =
    Box<dyn FnOnce(Workflow<A>) -> BoxFuture<'a, Result<T, Error>> + Send + 'a>;

impl<A: Actor, T> std::fmt::Debug for Branch<'_, A, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Branch")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<'a, A: Actor, T> Branch<'a, A, T> {
    /// A branch called `name` that runs `f` with its own workflow scope.
    pub fn new<F, Fut>(name: impl Into<String>, f: F) -> Self
    where
        F: FnOnce(Workflow<A>) -> Fut + Send + 'a,
        Fut: Future<Output = Result<T, Error>> + Send + 'a,
    {
        Self {
            name: name.into(),
            start: Box::new(move |wf| Box::pin(f(wf))),
        }
    }
}

impl<A: Actor> Workflow<A> {
    /// The actor's queue, to wait on as a recorded entry.
    pub fn queue(&self) -> WorkflowQueue<'_, A> {
        WorkflowQueue { workflow: self }
    }

    /// A step with the default retries and timeout; see [`step_with`](Self::step_with).
    pub async fn step<T, F>(&self, name: &str, body: F) -> Result<T, Error>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        F: AsyncFnMut(StepCx<A>) -> Result<T, Error>,
    {
        self.step_with(Step::named(name), body).await
    }

    /// Runs `body` as a recorded step: once it succeeds, its result, its
    /// [state changes](StepCx::update) and its [answers](StepCx::complete) commit together, and
    /// replay returns the result without running it. A failed or timed-out attempt is retried
    /// with backoff; after the last, this fails with `workflow.step_failed`.
    ///
    /// Use an `async move` closure: the body may run several times, so it owns what it uses.
    pub async fn step_with<T, F>(&self, options: Step, mut body: F) -> Result<T, Error>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        F: AsyncFnMut(StepCx<A>) -> Result<T, Error>,
    {
        let (key, index, prior) = self.visit(&options.name, Some("step"))?;
        if let Some(record) = prior {
            return match &record.kind {
                RecordKind::Step { output } => from_value(output, &display_path(&key)),
                _ => Err(unexpected(&key)),
            };
        }
        let _awake = self.shared.run.keep_awake();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let pending = Arc::new(Mutex::new(StepShared {
                updates: Vec::new(),
                answers: Vec::new(),
            }));
            let step = StepCx {
                workflow: self.clone(),
                attempt,
                pending: Arc::clone(&pending),
            };
            let outcome = match options.timeout {
                Some(limit) => match tokio::time::timeout(limit, body(step)).await {
                    Ok(outcome) => outcome,
                    Err(_) => Err(Error::public(codes::STEP_TIMED_OUT.with_message(format!(
                        "Attempt {attempt} of step `{}` ran longer than {limit:?}.",
                        display_path(&key)
                    )))),
                },
                None => body(step).await,
            };
            let failure = match outcome {
                Ok(value) => {
                    let StepShared { updates, answers } = std::mem::replace(
                        &mut *lock(&pending),
                        StepShared {
                            updates: Vec::new(),
                            answers: Vec::new(),
                        },
                    );
                    let mut ops: Vec<Op> = answers
                        .into_iter()
                        .map(|(id, response)| Op::Answer(id, response))
                        .collect();
                    ops.push(Op::put(
                        key.clone(),
                        Record::new(
                            index,
                            RecordKind::Step {
                                output: to_value(&value)?,
                            },
                        )
                        .completed(attempt),
                    )?);
                    match self.commit(ops, updates).await {
                        Ok(()) => return Ok(value),
                        Err(error) if error.is(rivet_client::codes::SHUT_DOWN) => {
                            return Err(error);
                        }
                        // An update failed, or its change could not be committed: the attempt
                        // failed.
                        Err(error) => error,
                    }
                }
                Err(error) => error,
            };
            if self.shared.run.is_aborted() {
                return Err(stopping());
            }
            if attempt > options.max_retries {
                let reported = failure.to_actor_error();
                return Err(Error::public(codes::STEP_FAILED.with_message(format!(
                    "Step `{}` failed after {attempt} attempt(s): {} ({})",
                    display_path(&key),
                    reported.message,
                    reported.full_code()
                ))));
            }
            tracing::warn!(step = %display_path(&key), attempt, error = %failure, "workflow step failed; retrying");
            self.pause(options.backoff_for(attempt)).await?;
        }
    }

    /// A loop (RivetKit's `ctx.loop`): runs `body` with a scope of its own for each iteration
    /// and the state carried into it, until it returns [`Loop::Break`]. Each finished iteration
    /// commits the next one's state and deletes its own entries, so replay resumes in the
    /// current iteration with its state.
    pub async fn repeat<S, B, F>(&self, name: &str, init: S, mut body: F) -> Result<B, Error>
    where
        S: Serialize + DeserializeOwned + Send + 'static,
        B: Serialize + DeserializeOwned + Send + 'static,
        F: AsyncFnMut(Workflow<A>, S) -> Result<Loop<S, B>, Error>,
    {
        let (key, index, prior) = self.visit(name, Some("loop"))?;
        let (record, mut iteration, mut state) = match prior {
            Some(record) => match &record.kind {
                RecordKind::Loop {
                    output: Some(output),
                    ..
                } => return from_value(output, &display_path(&key)),
                RecordKind::Loop {
                    iteration, state, ..
                } => {
                    let state = from_value(state, &display_path(&key))?;
                    let iteration = *iteration;
                    (record, iteration, state)
                }
                _ => return Err(unexpected(&key)),
            },
            None => {
                let record = Record::new(
                    index,
                    RecordKind::Loop {
                        iteration: 0,
                        state: to_value(&init)?,
                        output: None,
                    },
                );
                self.commit(vec![Op::put(key.clone(), record.clone())?], Vec::new())
                    .await?;
                (record, 0, init)
            }
        };
        loop {
            if self.shared.run.is_aborted() {
                return Err(stopping());
            }
            let mut scope = key.clone();
            push_iteration(&mut scope, iteration);
            let next = body(self.child(scope.clone()), state).await?;
            let mut updated = record.clone();
            let (kind, result) = match next {
                Loop::Continue(next) => (
                    RecordKind::Loop {
                        iteration: iteration + 1,
                        state: to_value(&next)?,
                        output: None,
                    },
                    Err(next),
                ),
                Loop::Break(output) => (
                    RecordKind::Loop {
                        iteration,
                        state: ciborium::Value::Null,
                        output: Some(to_value(&output)?),
                    },
                    Ok(output),
                ),
            };
            updated.kind = kind;
            if result.is_ok() {
                updated = updated.completed(0);
            }
            self.commit(
                vec![Op::Prune(scope), Op::put(key.clone(), updated)?],
                Vec::new(),
            )
            .await?;
            match result {
                Ok(output) => return Ok(output),
                Err(next) => {
                    state = next;
                    iteration += 1;
                }
            }
        }
    }

    /// Sleeps durably for `duration` (RivetKit's `ctx.sleep`): the end time is recorded, the
    /// actor may sleep meanwhile and is woken when it is due, and replay waits only for what is
    /// left.
    pub async fn sleep(&self, name: &str, duration: Duration) -> Result<(), Error> {
        let until = SystemTime::now().checked_add(duration).ok_or_else(|| {
            Error::public(rivet_client::codes::INVALID_REQUEST.with_message(format!(
                "Sleep `{name}` of {duration:?} ends past the end of time."
            )))
        })?;
        self.sleep_until(name, until).await
    }

    /// Sleeps durably until `time` (RivetKit's `ctx.sleepUntil`); see [`sleep`](Self::sleep).
    pub async fn sleep_until(&self, name: &str, time: SystemTime) -> Result<(), Error> {
        let (key, index, prior) = self.visit(name, Some("sleep"))?;
        let until_ms = match prior.map(|r| r.kind) {
            Some(RecordKind::Sleep { until_ms, .. }) => until_ms,
            Some(_) => return Err(unexpected(&key)),
            None => {
                let until_ms = to_ms(time);
                let wake = new_id();
                let record = Record::new(
                    index,
                    RecordKind::Sleep {
                        until_ms,
                        wake: Some(wake.clone()),
                    },
                );
                self.commit(
                    vec![Op::put(key, record)?, Op::Wake(wake, until_ms)],
                    Vec::new(),
                )
                .await?;
                until_ms
            }
        };
        let left = crate::time::until_ms(until_ms);
        if !left.is_zero() {
            self.pause(left).await?;
        }
        Ok(())
    }

    /// Runs branches concurrently, each in its own scope, and returns their results in order
    /// (RivetKit's `ctx.join`). The first error fails the join and cancels the others (what they
    /// had not recorded yet is not recorded); replay runs every branch again, returning what
    /// each recorded.
    pub async fn join<'a, T: Send + 'a>(
        &self,
        name: &str,
        branches: Vec<Branch<'a, A, T>>,
    ) -> Result<Vec<T>, Error> {
        let (key, index, prior) = self.visit(name, Some("join"))?;
        let scopes = branch_scopes(&key, &branches)?;
        if prior.is_none() {
            let record = Record::new(index, RecordKind::Join);
            self.commit(vec![Op::put(key, record)?], Vec::new()).await?;
        }
        let cancel = Cancel::new(self.cancel.clone());
        let running = branches
            .into_iter()
            .zip(scopes)
            .map(|(branch, scope)| (branch.start)(self.branch(scope, Some(Arc::clone(&cancel)))));
        let joined = futures_util::future::try_join_all(running).await;
        if joined.is_err() {
            cancel.set();
        }
        joined
    }

    /// Runs branches concurrently until the first finishes (RivetKit's `ctx.race`); the others
    /// are cancelled: what they had not recorded yet is not recorded (a queue message they had
    /// not recorded stays queued), a message one received as the last thing it did goes back
    /// to the queue (its sender keeps waiting), and their pending durable sleeps and timed waits
    /// no longer wake the actor. A message a losing branch went on to use stays consumed.
    /// Returns the winner's name and result, which are recorded, so replay returns the same
    /// winner without running the branches.
    pub async fn race<'a, T>(
        &self,
        name: &str,
        branches: Vec<Branch<'a, A, T>>,
    ) -> Result<(String, T), Error>
    where
        T: Serialize + DeserializeOwned + Send + 'a,
    {
        let (key, index, prior) = self.visit(name, Some("race"))?;
        let scopes = branch_scopes(&key, &branches)?;
        if branches.is_empty() {
            return Err(Error::public(codes::NO_BRANCHES.with_message(format!(
                "Race `{}` has no branches.",
                display_path(&key)
            ))));
        }
        let record =
            match prior {
                Some(record) => {
                    if let RecordKind::Race {
                        winner: Some((winner, output)),
                    } = &record.kind
                    {
                        if !branches.iter().any(|b| &b.name == winner) {
                            return Err(Error::public(codes::HISTORY_DIVERGED.with_message(format!(
                            "Race `{}` was won by branch `{winner}`, which it no longer has.",
                            display_path(&key)
                        ))));
                        }
                        return Ok((winner.clone(), from_value(output, &display_path(&key))?));
                    }
                    record
                }
                None => {
                    let record = Record::new(index, RecordKind::Race { winner: None });
                    self.commit(vec![Op::put(key.clone(), record.clone())?], Vec::new())
                        .await?;
                    record
                }
            };
        let cancel = Cancel::new(self.cancel.clone());
        let running: Vec<BoxFuture<'a, (String, Result<T, Error>)>> = branches
            .into_iter()
            .zip(scopes)
            .map(|(branch, scope)| {
                let name = branch.name;
                let future = (branch.start)(self.branch(scope, Some(Arc::clone(&cancel))));
                Box::pin(async move { (name, future.await) }) as BoxFuture<'a, _>
            })
            .collect();
        let ((winner, result), _, losers) = futures_util::future::select_all(running).await;
        // Before the losers go: a record of theirs already on its way is refused.
        cancel.set();
        drop(losers);
        let output = result?;
        let mut updated = record;
        updated.kind = RecordKind::Race {
            winner: Some((winner.clone(), to_value(&output)?)),
        };
        let ops = vec![
            Op::CancelWakes(key.clone()),
            Op::ReturnLosers(key.clone(), {
                let mut scope = key.clone();
                push_name(&mut scope, &winner);
                scope
            }),
            Op::put(key, updated.completed(0))?,
        ];
        self.commit(ops, Vec::new()).await?;
        Ok((winner, output))
    }

    /// Marks where a removed entry called `name` used to be (RivetKit's `ctx.removed`): a
    /// recorded entry there is skipped, and a workflow that never reached it records a
    /// placeholder, so the entries after it keep their positions.
    pub async fn removed(&self, name: &str) -> Result<(), Error> {
        let (key, index, prior) = self.visit(name, None)?;
        if prior.is_none() {
            let record = Record::new(index, RecordKind::Removed).completed(0);
            self.commit(vec![Op::put(key, record)?], Vec::new()).await?;
        }
        Ok(())
    }
}

/// The scope of each branch under entry `key`, checking the names.
fn branch_scopes<A: Actor, T>(
    key: &[u8],
    branches: &[Branch<'_, A, T>],
) -> Result<Vec<Vec<u8>>, Error> {
    let mut seen = HashSet::new();
    branches
        .iter()
        .map(|branch| {
            check_name(&branch.name)?;
            if !seen.insert(branch.name.as_str()) {
                return Err(Error::public(codes::DUPLICATE_NAME.with_message(format!(
                    "`{}` has two branches called `{}`.",
                    display_path(key),
                    branch.name
                ))));
            }
            let mut scope = key.to_vec();
            push_name(&mut scope, &branch.name);
            Ok(scope)
        })
        .collect()
}
