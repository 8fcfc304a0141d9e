//! The actor's durable queue: messages stored in its key space, handed to `#[queue]` handlers
//! between other turns or taken by the `#[run]` loop, and the senders waiting for an answer.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use rivet_client::transport::QueueSendOutcome;
use rivet_client::{ActorError, codes};
use tokio::sync::oneshot;

use super::Host;
use super::turn::Work;
use crate::actor::Actor;
use crate::error::Error;
use crate::message::{Message, queue_not_found};
use crate::storage::{Batch, Storage, StorageError, keys};

/// A sender waiting for its message to be processed.
type Waiter = oneshot::Sender<Result<QueueSendOutcome, ActorError>>;

/// A run-loop request waiting for messages.
struct NextWaiter {
    names: Option<Vec<String>>,
    count: usize,
    reply: oneshot::Sender<Vec<Message>>,
}

/// The queue of one activation: what is stored, what the run loop holds, who waits.
pub(super) struct DurableQueue {
    /// Stored messages nobody took yet, oldest first.
    messages: VecDeque<Message>,
    next_id: u64,
    /// Whether a queue has a `#[queue]` handler (its messages are not for the run loop).
    has_handler: fn(&str) -> bool,
    /// How many of `messages` have a handler.
    handled: usize,
    /// Messages handed to the run loop and not completed yet (still stored).
    taken: HashMap<u64, Message>,
    /// Messages a workflow took out of the queue and recorded in this activation (their
    /// senders may still be waiting for an answer).
    recorded: HashSet<u64>,
    waiters: HashMap<u64, Waiter>,
    /// Run-loop requests waiting for messages.
    next_waiters: VecDeque<NextWaiter>,
}

impl DurableQueue {
    pub(super) fn new(has_handler: fn(&str) -> bool) -> Self {
        Self {
            messages: VecDeque::new(),
            next_id: 1,
            has_handler,
            handled: 0,
            taken: HashMap::new(),
            recorded: HashSet::new(),
            waiters: HashMap::new(),
            next_waiters: VecDeque::new(),
        }
    }

    /// Loads the stored messages of actor `actor`.
    pub(super) async fn load(
        storage: &Arc<dyn Storage>,
        actor: i64,
        has_handler: fn(&str) -> bool,
    ) -> Result<Self, StorageError> {
        let mut queue = Self::new(has_handler);
        if let Some(meta) = storage.get(actor, keys::QUEUE_META).await? {
            let next: [u8; 8] = meta[..]
                .try_into()
                .map_err(|_| StorageError::corrupt("the queue's next message id"))?;
            queue.next_id = u64::from_be_bytes(next);
        }
        for (key, value) in storage.scan_prefix(actor, keys::QUEUE_PREFIX).await? {
            let id = keys::queue_message_id(&key).ok_or_else(|| {
                StorageError::corrupt(format!("a queue message key {:?}", &key[..]))
            })?;
            queue.push_back(Message::decode_record(id, &value)?);
        }
        Ok(queue)
    }

    fn push_back(&mut self, message: Message) {
        if (self.has_handler)(&message.name) {
            self.handled += 1;
        }
        self.messages.push_back(message);
    }

    /// Messages stored, taken or not: what counts against the queue's size limit.
    pub(super) fn len(&self) -> usize {
        self.messages.len() + self.taken.len()
    }

    /// Whether no message waits to be taken.
    pub(super) fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// Whether a message with a `#[queue]` handler waits.
    pub(super) fn has_handled(&self) -> bool {
        self.handled > 0
    }

    /// Adds a message and returns the batch that stores it; a waiting run loop gets it.
    pub(super) fn push(&mut self, name: String, body: Bytes) -> Result<(u64, Batch), Error> {
        let id = self.next_id;
        let message = Message { id, name, body };
        let record = message.encode_record()?;
        self.next_id += 1;
        let mut batch = Batch::default();
        batch.put(keys::queue_message(id), record);
        batch.put(
            keys::QUEUE_META,
            Bytes::copy_from_slice(&self.next_id.to_be_bytes()),
        );
        self.push_back(message);
        self.serve_next_waiters();
        Ok((id, batch))
    }

    /// Takes the oldest message that has a handler.
    pub(super) fn take_handled(&mut self) -> Option<Message> {
        let position = self
            .messages
            .iter()
            .position(|m| (self.has_handler)(&m.name))?;
        let message = self.messages.remove(position)?;
        self.handled -= 1;
        Some(message)
    }

    pub(super) fn wait_for(&mut self, id: u64, waiter: Waiter) {
        self.waiters.insert(id, waiter);
    }

    pub(super) fn waiter(&mut self, id: u64) -> Option<Waiter> {
        self.waiters.remove(&id)
    }

    /// A run-loop request for up to `count` messages (of `names`): answered now, or when
    /// messages come if `wait` and there are none.
    pub(super) fn next(
        &mut self,
        names: Option<Vec<String>>,
        count: usize,
        wait: bool,
        reply: oneshot::Sender<Vec<Message>>,
    ) {
        let taken = self.take_for_run(names.as_deref(), count);
        if taken.is_empty() && wait {
            self.next_waiters.push_back(NextWaiter {
                names,
                count,
                reply,
            });
        } else {
            self.hand_over(taken, reply);
        }
    }

    /// Takes up to `count` messages of run-loop queues (of `names`, if given).
    fn take_for_run(&mut self, names: Option<&[String]>, count: usize) -> Vec<Message> {
        let mut taken = Vec::new();
        let mut index = 0;
        while index < self.messages.len() && taken.len() < count {
            let message = &self.messages[index];
            let wanted = !(self.has_handler)(&message.name)
                && names.is_none_or(|names| names.contains(&message.name));
            if !wanted {
                index += 1;
                continue;
            }
            let Some(message) = self.messages.remove(index) else {
                break;
            };
            taken.push(message.clone());
            self.taken.insert(message.id, message);
        }
        taken
    }

    /// Sends messages to a run-loop request; if it stopped waiting, they go back.
    fn hand_over(&mut self, taken: Vec<Message>, reply: oneshot::Sender<Vec<Message>>) {
        if let Err(unsent) = reply.send(taken) {
            for message in unsent.into_iter().rev() {
                self.release(message.id);
            }
        }
    }

    /// Gives newly queued messages to run-loop requests waiting for them, in order.
    fn serve_next_waiters(&mut self) {
        while let Some(waiter) = self.next_waiters.pop_front() {
            if waiter.reply.is_closed() {
                continue;
            }
            let taken = self.take_for_run(waiter.names.as_deref(), waiter.count);
            if taken.is_empty() {
                self.next_waiters.push_front(waiter);
                return;
            }
            self.hand_over(taken, waiter.reply);
        }
    }

    /// A message the run loop held goes back to the front of the queue.
    pub(super) fn release(&mut self, id: u64) {
        if let Some(message) = self.taken.remove(&id) {
            self.messages.push_front(message);
            self.serve_next_waiters();
        }
    }

    /// The run loop completed message `id`: the batch deleting it, and its waiting sender.
    pub(super) fn complete(&mut self, id: u64) -> Result<(Batch, Option<Waiter>), ActorError> {
        if self.taken.remove(&id).is_none() {
            return Err(codes::INVALID_REQUEST.with_message(format!(
                "Queue message {id} is not held by the run loop (already completed?)."
            )));
        }
        let mut batch = Batch::default();
        batch.delete(keys::queue_message(id));
        Ok((batch, self.waiters.remove(&id)))
    }

    /// Whether the run loop holds message `id`.
    pub(super) fn holds(&self, id: u64) -> bool {
        self.taken.contains_key(&id)
    }

    /// A workflow recorded message `id`: it leaves the queue in `batch`; its sender keeps
    /// waiting for the workflow's answer.
    pub(super) fn record_taken(&mut self, id: u64, batch: &mut Batch) {
        if self.taken.remove(&id).is_some() {
            batch.delete(keys::queue_message(id));
            self.recorded.insert(id);
        }
    }

    /// A workflow gives back a message it had recorded: stored and queued again in id order.
    pub(super) fn give_back(&mut self, messages: Vec<Message>, batch: &mut Batch) {
        if messages.is_empty() {
            return;
        }
        for message in messages {
            self.recorded.remove(&message.id);
            match message.encode_record() {
                Ok(value) => batch.put(keys::queue_message(message.id), value),
                Err(error) => tracing::error!(%error, "cannot store a returned queue message"),
            }
            let at = self
                .messages
                .iter()
                .position(|m| m.id > message.id)
                .unwrap_or(self.messages.len());
            if (self.has_handler)(&message.name) {
                self.handled += 1;
            }
            self.messages.insert(at, message);
        }
        self.serve_next_waiters();
    }

    /// The run loop is stopping: its waiting requests get nothing (it takes no new messages,
    /// but may still complete or release those it holds).
    pub(super) fn refuse_waiting(&mut self) {
        for waiter in self.next_waiters.drain(..) {
            let _ = waiter.reply.send(Vec::new());
        }
    }

    /// The run loop ended: what it held and did not complete stays stored for the next
    /// activation.
    pub(super) fn forget_taken(&mut self) {
        self.taken.clear();
    }

    /// The activation stops: every waiting sender hears that its answer will not come from it.
    pub(super) fn fail_waiters(&mut self) {
        for (id, waiter) in self.waiters.drain() {
            let message = if self.recorded.contains(&id) {
                "The actor stopped before answering; its workflow received the message and goes on with it when the actor wakes."
            } else {
                "The actor stopped before the message was processed; it stays queued."
            };
            let _ = waiter.send(Err(codes::DROPPED_REPLY.with_message(message)));
        }
    }
}

impl<A: Actor> Host<A> {
    /// A queue send: checked, stored, and acknowledged once committed (or, with `wait`,
    /// answered once processed).
    pub(super) fn enqueue(&mut self, name: String, body: Bytes, wait: bool, reply: Waiter) {
        let pushed = self
            .check_queue_send(&name, &body)
            .and_then(|typed| self.queue.push(name, typed));
        let (id, batch) = match pushed {
            Ok(pushed) => pushed,
            Err(error) => {
                let _ = reply.send(Err(error.into_reply("queue send")));
                return;
            }
        };
        if wait {
            // Answered when a handler or the run loop completes the message.
            self.queue.wait_for(id, reply);
            self.gate.submit(batch, |_| {});
        } else {
            self.gate.submit(batch, move |result| {
                let _ = reply.send(match result {
                    Ok(()) => Ok(QueueSendOutcome::Queued),
                    Err(e) => Err(super::turn::storage_failure(&e)),
                });
            });
        }
    }

    /// Checks a send and returns the message to store: as its type encodes it (see
    /// [`Actor::check_queue_message`]), within the size limit either way.
    fn check_queue_send(&self, name: &str, body: &[u8]) -> Result<Bytes, Error> {
        let config = self.runtime.config();
        let too_large = |len: usize| {
            Error::public(codes::QUEUE_MESSAGE_TOO_LARGE.with_message(format!(
                "Queue message is {len} bytes; the limit is {}.",
                config.max_queue_message_size
            )))
        };
        if !A::metadata().queues.contains(&name) {
            return Err(queue_not_found(name));
        }
        if body.len() > config.max_queue_message_size {
            return Err(too_large(body.len()));
        }
        if self.queue.len() >= config.max_queue_size {
            tracing::warn!(
                queue = name,
                max_queue_size = config.max_queue_size,
                "refused a queue message: the queue is full (queue.full)"
            );
            return Err(Error::public(codes::QUEUE_FULL.with_message(format!(
                "Queue holds its maximum of {} messages.",
                config.max_queue_size
            ))));
        }
        let typed = A::check_queue_message(name, body)?;
        if typed.len() > config.max_queue_message_size {
            return Err(too_large(typed.len()));
        }
        Ok(typed)
    }

    /// Runs the oldest message that has a `#[queue]` handler as a turn. A failed message is
    /// dropped rather than retried, so one bad message cannot block the queue forever; its
    /// waiting sender gets the error.
    pub(super) async fn process_queue_message(&mut self) {
        let Some(message) = self.queue.take_handled() else {
            return;
        };
        let timeout = self.runtime.config().action_timeout;
        let work = Work::Queue {
            name: &message.name,
            body: &message.body,
        };
        let dispatch = self.execute(work, timeout).await;
        if let Err(error) = &dispatch.result {
            tracing::warn!(queue = %message.name, id = message.id, %error, "queue handler failed; message dropped");
        }
        let mut always = Batch::default();
        always.delete(keys::queue_message(message.id));
        let waiter = self.queue.waiter(message.id);
        self.finish_turn(dispatch, always, "queue handler", move |result| {
            if let Some(waiter) = waiter {
                let _ = waiter.send(result.map(|v| QueueSendOutcome::Completed(Some(v))));
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handled(name: &str) -> bool {
        name == "jobs"
    }

    fn queue_with(names: &[&str]) -> DurableQueue {
        let mut queue = DurableQueue::new(handled);
        for name in names {
            queue.push((*name).to_owned(), Bytes::new()).expect("push");
        }
        queue
    }

    fn next(queue: &mut DurableQueue, count: usize, wait: bool) -> oneshot::Receiver<Vec<Message>> {
        let (tx, rx) = oneshot::channel();
        queue.next(None, count, wait, tx);
        rx
    }

    fn ids(rx: &mut oneshot::Receiver<Vec<Message>>) -> Vec<u64> {
        rx.try_recv()
            .map(|m| m.iter().map(Message::id).collect())
            .unwrap_or_default()
    }

    #[test]
    fn pushes_are_stored_with_the_next_id() {
        let mut queue = DurableQueue::new(handled);
        let (id, batch) = queue.push("tasks".to_owned(), Bytes::new()).expect("push");
        assert_eq!(id, 1);
        let keys: Vec<_> = batch
            .ops
            .iter()
            .map(|op| match op {
                crate::storage::KvOp::Put(k, _) => k.clone(),
                crate::storage::KvOp::Delete(k) => k.clone(),
            })
            .collect();
        assert_eq!(
            keys,
            [keys::queue_message(1), Bytes::from_static(keys::QUEUE_META)]
        );
        assert_eq!(
            queue
                .push("tasks".to_owned(), Bytes::new())
                .expect("push")
                .0,
            2
        );
    }

    #[test]
    fn handler_messages_and_run_loop_messages_are_kept_apart() {
        let mut queue = queue_with(&["tasks", "jobs", "tasks"]);
        assert!(queue.has_handled());
        assert_eq!(queue.take_handled().map(|m| m.id), Some(2));
        assert!(!queue.has_handled());
        let mut rx = next(&mut queue, 10, false);
        assert_eq!(ids(&mut rx), [1, 3]);
        assert_eq!(
            queue.len(),
            2,
            "taken messages still count against the limit"
        );
        assert!(queue.is_empty());
    }

    #[test]
    fn a_waiting_request_gets_the_next_message_and_released_ones_come_back_first() {
        let mut queue = queue_with(&[]);
        let mut waiting = next(&mut queue, 1, true);
        assert!(waiting.try_recv().is_err(), "nothing yet");
        queue.push("tasks".to_owned(), Bytes::new()).expect("push");
        assert_eq!(ids(&mut waiting), [1]);
        queue.push("tasks".to_owned(), Bytes::new()).expect("push");
        queue.release(1);
        let mut rx = next(&mut queue, 10, false);
        assert_eq!(
            ids(&mut rx),
            [1, 2],
            "a released message goes back to the front"
        );
    }

    #[test]
    fn messages_handed_to_a_request_that_stopped_waiting_go_back() {
        let mut queue = queue_with(&[]);
        let gone = next(&mut queue, 1, true);
        drop(gone);
        queue.push("tasks".to_owned(), Bytes::new()).expect("push");
        let mut rx = next(&mut queue, 1, false);
        assert_eq!(ids(&mut rx), [1]);
    }

    #[test]
    fn completing_deletes_and_answers_once() {
        let mut queue = queue_with(&["tasks"]);
        let (tx, _rx) = oneshot::channel();
        queue.wait_for(1, tx);
        let mut taken = next(&mut queue, 1, false);
        assert_eq!(ids(&mut taken), [1]);
        let (batch, waiter) = queue.complete(1).expect("held");
        assert!(waiter.is_some());
        assert!(
            matches!(&batch.ops[..], [crate::storage::KvOp::Delete(k)] if *k == keys::queue_message(1))
        );
        let again = queue.complete(1).map(|_| ()).map_err(|e| e.full_code());
        assert_eq!(again, Err("actor.invalid_request".to_owned()));
        assert_eq!(queue.len(), 0);
    }

    #[test]
    fn recorded_messages_leave_and_given_back_ones_return_in_id_order() {
        let mut queue = queue_with(&["tasks", "tasks", "tasks"]);
        let mut rx = next(&mut queue, 2, false);
        assert_eq!(ids(&mut rx), [1, 2]);
        let mut batch = Batch::default();
        queue.record_taken(1, &mut batch);
        queue.record_taken(2, &mut batch);
        assert!(!queue.holds(1));
        let returned = Message {
            id: 2,
            name: "tasks".to_owned(),
            body: Bytes::new(),
        };
        queue.give_back(vec![returned], &mut batch);
        let mut rx = next(&mut queue, 10, false);
        assert_eq!(ids(&mut rx), [2, 3]);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn stored_messages_load_in_order_with_the_next_id() {
        let storage: Arc<dyn Storage> = Arc::new(crate::storage::memory::MemoryStorage::new());
        let poisoned = std::sync::atomic::AtomicBool::new(false);
        for id in [1u64, 2] {
            let message = Message {
                id,
                name: if id == 1 { "tasks" } else { "jobs" }.to_owned(),
                body: Bytes::new(),
            };
            let mut batch = Batch::default();
            batch.put(
                keys::queue_message(id),
                message.encode_record().expect("encode"),
            );
            batch.put(
                keys::QUEUE_META,
                Bytes::copy_from_slice(&3u64.to_be_bytes()),
            );
            storage
                .commit_now(1, &mut batch, &poisoned)
                .expect("sync")
                .expect("commit");
        }
        let mut loaded = DurableQueue::load(&storage, 1, handled)
            .await
            .expect("load");
        assert!(loaded.has_handled());
        assert_eq!(
            loaded
                .push("tasks".to_owned(), Bytes::new())
                .expect("push")
                .0,
            3
        );
        let mut rx = next(&mut loaded, 10, false);
        assert_eq!(ids(&mut rx), [1, 3]);
    }
}
