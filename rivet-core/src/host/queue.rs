//! The actor's durable queue: messages stored in its key space, handed to `#[queue]` handlers
//! between other turns or taken by the `#[run]` loop, and the senders waiting for an answer.
//!
//! An awake actor keeps an index of its queue (each message's id, queue name and size) and
//! the bodies of its oldest messages, within its share of the queue memory
//! ([`QueueMemory`]); the other bodies stay in storage and are read, a page at a time, when a
//! handler or the run loop takes their messages. An actor whose messages nobody can take (no
//! handler, and no run loop asking for them) may sleep: it leaves a dormant marker, and
//! start-up wakes it only if its code can now take them ([`consumer_signature`]).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use rivet_client::transport::QueueSendOutcome;
use rivet_client::{ActorError, codes};
use tokio::sync::{OwnedSemaphorePermit, oneshot};

use super::Host;
use super::turn::Work;
use crate::actor::{Actor, ActorMetadata, HookSet};
use crate::config::QueueMemory;
use crate::error::Error;
use crate::message::{Message, queue_not_found};
use crate::report::chain;
use crate::storage::{Batch, KeyRange, Storage, StorageError, keys, prefix_end};
use crate::time::now_ms;

/// A sender waiting for its message to be processed.
type Waiter = oneshot::Sender<Result<QueueSendOutcome, ActorError>>;

/// Where the run loop's messages go.
type Reply = oneshot::Sender<Vec<Message>>;

/// How many stored messages one read brings in.
const PAGE: usize = 8;

/// A message just added: its id, when it was sent (ms since the epoch), and the batch that
/// stores it.
pub(super) struct Pushed {
    pub(super) id: u64,
    pub(super) sent_at_ms: i64,
    pub(super) batch: Batch,
}

/// A run-loop request waiting for messages.
struct NextWaiter {
    names: Option<Vec<String>>,
    count: usize,
    reply: Reply,
}

/// A message of the index. Its body is in memory while it holds its share of the memory
/// budget; otherwise it is read from storage when the message is taken.
#[derive(Debug)]
struct Entry {
    id: u64,
    name: String,
    size: usize,
    /// When it was sent (ms since the epoch); unknown for messages stored before that was kept.
    sent_at_ms: Option<i64>,
    body: Option<Resident>,
}

/// A body kept in memory, and the share of the registry's queue memory it holds.
#[derive(Debug)]
struct Resident {
    body: Bytes,
    _permit: OwnedSemaphorePermit,
}

/// A message out of the index: taken by a handler or the run loop, or on its way to it. Its
/// body, when it was not in memory, is read before use ([`Host::read_bodies`]).
#[derive(Debug, Clone)]
pub(super) struct Taken {
    id: u64,
    name: String,
    size: usize,
    sent_at_ms: Option<i64>,
    body: Option<Bytes>,
}

impl Taken {
    fn into_message(self) -> Option<Message> {
        Some(Message {
            id: self.id,
            name: self.name,
            body: self.body?,
        })
    }

    fn from_message(message: Message, sent_at_ms: Option<i64>) -> Self {
        Self {
            id: message.id,
            name: message.name,
            size: message.body.len(),
            sent_at_ms,
            body: Some(message.body),
        }
    }
}

/// What `actor` can take from its queue, as its code declares it: whether it has a `#[run]`
/// loop, and which of its queues have a `#[queue]` handler. A dormant actor's marker holds it;
/// start-up wakes the actor anyway when its code changed since (a new consumer may take the
/// messages). A run loop that asks for other queues than before is not seen here: its
/// messages wait for the actor's next wake.
pub(crate) fn consumer_signature(actor: &ActorMetadata, has_handler: fn(&str) -> bool) -> Bytes {
    let mut signature = vec![u8::from(actor.hooks.contains(HookSet::RUN))];
    for queue in actor.queues {
        signature.extend_from_slice(queue.as_bytes());
        signature.push(0);
        signature.push(u8::from(has_handler(queue)));
    }
    Bytes::from(signature)
}

/// The queue of one activation: the index of what is stored, what the run loop holds, who
/// waits.
pub(super) struct DurableQueue {
    /// Stored messages nobody took yet, oldest first.
    messages: VecDeque<Entry>,
    next_id: u64,
    /// Whether a queue has a `#[queue]` handler (its messages are not for the run loop).
    has_handler: fn(&str) -> bool,
    /// How many of `messages` have a handler.
    handled: usize,
    memory: QueueMemory,
    /// Bytes of bodies of `messages` kept in memory.
    resident: usize,
    /// Messages handed to the run loop and not completed yet (still stored).
    taken: HashMap<u64, Taken>,
    /// Messages a workflow took out of the queue and recorded in this activation (their
    /// senders may still be waiting for an answer).
    recorded: HashSet<u64>,
    waiters: HashMap<u64, Waiter>,
    /// Run-loop requests waiting for messages.
    next_waiters: VecDeque<NextWaiter>,
    /// Messages taken for run-loop requests, to send once their bodies are read.
    handovers: VecDeque<(Vec<Taken>, Reply)>,
    /// The dormant marker as stored (see [`consumer_signature`]).
    dormant: Option<Bytes>,
}

impl DurableQueue {
    pub(super) fn new(has_handler: fn(&str) -> bool, memory: QueueMemory) -> Self {
        Self {
            messages: VecDeque::new(),
            next_id: 1,
            has_handler,
            handled: 0,
            memory,
            resident: 0,
            taken: HashMap::new(),
            recorded: HashSet::new(),
            waiters: HashMap::new(),
            next_waiters: VecDeque::new(),
            handovers: VecDeque::new(),
            dormant: None,
        }
    }

    /// Loads the index of actor `actor`'s stored messages, a page at a time, keeping the
    /// bodies of the oldest within the memory budget.
    pub(super) async fn load(
        storage: &Arc<dyn Storage>,
        actor: i64,
        has_handler: fn(&str) -> bool,
        memory: QueueMemory,
    ) -> Result<Self, StorageError> {
        let mut queue = Self::new(has_handler, memory);
        if let Some(meta) = storage.get(actor, keys::QUEUE_META).await? {
            let next: [u8; 8] = meta[..]
                .try_into()
                .map_err(|_| StorageError::corrupt("the queue's next message id"))?;
            queue.next_id = u64::from_be_bytes(next);
        }
        let end = prefix_end(keys::QUEUE_PREFIX);
        let mut start = Bytes::from_static(keys::QUEUE_PREFIX);
        loop {
            let range = KeyRange {
                start: &start,
                end: end.as_deref(),
                limit: Some(PAGE),
                reverse: false,
            };
            let page = storage.scan_range(actor, range).await?;
            let full = page.len() == PAGE;
            let mut last = None;
            for (key, value) in page {
                let id = message_id(&key)?;
                let (message, sent_at_ms) = Message::decode_record(id, &value)?;
                let size = message.body.len();
                let body = queue.keep(message.body);
                queue.push_back(Entry {
                    id,
                    name: message.name,
                    size,
                    sent_at_ms,
                    body,
                });
                last = Some(id);
            }
            match last.and_then(|id| id.checked_add(1)) {
                Some(next) if full => start = keys::queue_message(next),
                _ => break,
            }
        }
        if !queue.messages.is_empty() {
            queue.dormant = storage.get(actor, keys::QUEUE_DORMANT).await?;
        }
        Ok(queue)
    }

    /// Keeps `body` in memory if the actor's share and the registry's budget allow.
    fn keep(&mut self, body: Bytes) -> Option<Resident> {
        let size = body.len();
        if self.resident + size > self.memory.per_actor {
            return None;
        }
        let permit = Arc::clone(&self.memory.budget)
            .try_acquire_many_owned(u32::try_from(size).ok()?)
            .ok()?;
        self.resident += size;
        Some(Resident {
            body,
            _permit: permit,
        })
    }

    fn entry(&mut self, message: Taken) -> Entry {
        let body = message.body.and_then(|body| self.keep(body));
        Entry {
            id: message.id,
            name: message.name,
            size: message.size,
            sent_at_ms: message.sent_at_ms,
            body,
        }
    }

    fn push_back(&mut self, entry: Entry) {
        if (self.has_handler)(&entry.name) {
            self.handled += 1;
        }
        self.messages.push_back(entry);
    }

    /// Takes the message at `index` out of the index (its body, if in memory, goes with it
    /// and no longer counts against the budget).
    fn detach(&mut self, index: usize) -> Option<Taken> {
        let entry = self.messages.remove(index)?;
        if (self.has_handler)(&entry.name) {
            self.handled -= 1;
        }
        let body = entry.body.map(|resident| {
            self.resident -= entry.size;
            resident.body
        });
        Some(Taken {
            id: entry.id,
            name: entry.name,
            size: entry.size,
            sent_at_ms: entry.sent_at_ms,
            body,
        })
    }

    /// Messages stored, taken or not: what counts against the queue's size limit.
    pub(super) fn len(&self) -> usize {
        self.messages.len() + self.taken.len()
    }

    /// The messages waiting, oldest first: id, queue name and when it was sent.
    pub(crate) fn listing(&self) -> impl Iterator<Item = (u64, &str, Option<i64>)> {
        self.messages
            .iter()
            .map(|m| (m.id, m.name.as_str(), m.sent_at_ms))
    }

    /// Whether no message waits to be taken.
    pub(super) fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// Whether a message with a `#[queue]` handler waits.
    pub(super) fn has_handled(&self) -> bool {
        self.handled > 0
    }

    /// Whether a run-loop request waits for messages: then every message there is one it
    /// does not ask for.
    pub(super) fn run_loop_waits(&self) -> bool {
        self.next_waiters.iter().any(|w| !w.reply.is_closed())
    }

    /// The id the next message gets.
    pub(super) fn next_id(&self) -> u64 {
        self.next_id
    }

    /// Adds a message and returns what stores it; a waiting run loop gets it.
    pub(super) fn push(&mut self, name: String, body: Bytes) -> Result<Pushed, Error> {
        let id = self.next_id;
        let message = Message { id, name, body };
        let sent_at_ms = now_ms();
        let record = message.encode_record(sent_at_ms)?;
        self.next_id += 1;
        let mut batch = Batch::default();
        batch.put(keys::queue_message(id), record);
        batch.put(
            keys::QUEUE_META,
            Bytes::copy_from_slice(&self.next_id.to_be_bytes()),
        );
        // A new message may be one the actor's code takes: start-up must wake it again.
        if self.dormant.take().is_some() {
            batch.delete(keys::QUEUE_DORMANT);
        }
        let entry = self.entry(Taken::from_message(message, Some(sent_at_ms)));
        self.push_back(entry);
        self.serve_next_waiters();
        Ok(Pushed {
            id,
            sent_at_ms,
            batch,
        })
    }

    /// Removes every waiting message (not those the run loop holds) in `batch`; returns the
    /// senders that waited on them.
    pub(super) fn purge(&mut self, batch: &mut Batch) -> Vec<Waiter> {
        let mut waiters = Vec::new();
        for entry in self.messages.drain(..) {
            batch.delete(keys::queue_message(entry.id));
            if let Some(waiter) = self.waiters.remove(&entry.id) {
                waiters.push(waiter);
            }
        }
        self.handled = 0;
        self.resident = 0;
        waiters
    }

    /// Takes the oldest message that has a handler.
    pub(super) fn take_handled(&mut self) -> Option<Taken> {
        let position = self
            .messages
            .iter()
            .position(|m| (self.has_handler)(&m.name))?;
        self.detach(position)
    }

    pub(super) fn wait_for(&mut self, id: u64, waiter: Waiter) {
        self.waiters.insert(id, waiter);
    }

    pub(super) fn waiter(&mut self, id: u64) -> Option<Waiter> {
        self.waiters.remove(&id)
    }

    /// A run-loop request for up to `count` messages (of `names`): answered now, or when
    /// messages come if `wait` and there are none. The answer goes out with
    /// [`Host::hand_over`].
    pub(super) fn next(
        &mut self,
        names: Option<Vec<String>>,
        count: usize,
        wait: bool,
        reply: Reply,
    ) {
        let taken = self.take_for_run(names.as_deref(), count);
        if taken.is_empty() && wait {
            self.next_waiters.push_back(NextWaiter {
                names,
                count,
                reply,
            });
        } else {
            self.handovers.push_back((taken, reply));
        }
    }

    /// Takes up to `count` messages of run-loop queues (of `names`, if given).
    fn take_for_run(&mut self, names: Option<&[String]>, count: usize) -> Vec<Taken> {
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
            let Some(message) = self.detach(index) else {
                break;
            };
            self.taken.insert(message.id, message.clone());
            taken.push(message);
        }
        taken
    }

    /// Whether answers to run-loop requests wait to be sent.
    pub(super) fn has_handovers(&self) -> bool {
        !self.handovers.is_empty()
    }

    /// The next answer to a run-loop request, to send once its bodies are read.
    fn next_handover(&mut self) -> Option<(Vec<Taken>, Reply)> {
        self.handovers.pop_front()
    }

    /// Sends messages to a run-loop request; if it stopped waiting, they go back.
    fn send(&mut self, messages: Vec<Message>, reply: Reply) {
        for message in &messages {
            // Held by the run loop: if it releases one, its body need not be read again.
            if let Some(held) = self.taken.get_mut(&message.id) {
                held.body = Some(message.body.clone());
            }
        }
        if let Err(unsent) = reply.send(messages) {
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
            self.handovers.push_back((taken, waiter.reply));
        }
    }

    /// A message the run loop held goes back to the front of the queue.
    pub(super) fn release(&mut self, id: u64) {
        if let Some(message) = self.taken.remove(&id) {
            let entry = self.entry(message);
            if (self.has_handler)(&entry.name) {
                self.handled += 1;
            }
            self.messages.push_front(entry);
            self.serve_next_waiters();
        }
    }

    /// The body of stored message `id`, read while taking others: kept if the message waits
    /// in the index without its body and the budget allows.
    fn page_in(&mut self, id: u64, record: &[u8]) -> Result<(), StorageError> {
        let Some(index) = self
            .messages
            .iter()
            .position(|m| m.id == id && m.body.is_none())
        else {
            return Ok(());
        };
        if self.resident + self.messages[index].size > self.memory.per_actor {
            return Ok(());
        }
        let body = Message::decode_record(id, record)?.0.body;
        let kept = self.keep(body);
        if let Some(entry) = self.messages.get_mut(index) {
            entry.body = kept;
        }
        Ok(())
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
            // Sent again, in effect: the workflow's record does not keep the first time.
            let sent_at_ms = now_ms();
            match message.encode_record(sent_at_ms) {
                Ok(value) => batch.put(keys::queue_message(message.id), value),
                Err(error) => tracing::error!(%error, "cannot store a returned queue message"),
            }
            let at = self
                .messages
                .iter()
                .position(|m| m.id > message.id)
                .unwrap_or(self.messages.len());
            let entry = self.entry(Taken::from_message(message, Some(sent_at_ms)));
            if (self.has_handler)(&entry.name) {
                self.handled += 1;
            }
            self.messages.insert(at, entry);
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

    /// The batch that stores whether the actor sleeps with messages nobody can take
    /// (`Some(signature)`, see [`consumer_signature`]) or not; `None` if that is stored
    /// already.
    pub(super) fn mark_dormant(&mut self, marker: Option<Bytes>) -> Option<Batch> {
        if marker == self.dormant {
            return None;
        }
        let mut batch = Batch::default();
        match &marker {
            Some(signature) => batch.put(keys::QUEUE_DORMANT, signature.clone()),
            None => batch.delete(keys::QUEUE_DORMANT),
        }
        self.dormant = marker;
        Some(batch)
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

/// The id in a stored queue message's key.
fn message_id(key: &[u8]) -> Result<u64, StorageError> {
    keys::queue_message_id(key)
        .ok_or_else(|| StorageError::corrupt(format!("a queue message key {key:?}")))
}

impl<A: Actor> Host<A> {
    /// A queue send: checked, stored, and acknowledged once committed (or, with `wait`,
    /// answered once processed).
    pub(super) fn enqueue(&mut self, name: String, body: Bytes, wait: bool, reply: Waiter) {
        let Pushed { id, batch, .. } = match self.queue_send(name, &body) {
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

    /// Adds the messages a turn sent to its own queue (`cx.enqueue`) to the turn's batch: every
    /// one checked first, so either all are queued or none.
    pub(super) fn enqueue_own(
        &mut self,
        messages: Vec<(String, Bytes)>,
        batch: &mut Batch,
    ) -> Result<(), Error> {
        let mut checked = Vec::with_capacity(messages.len());
        for (name, body) in messages {
            let typed = self.check_queue_send(&name, &body)?;
            checked.push((name, typed));
        }
        let max = self.runtime.config().max_queue_size;
        if self.queue.len() + checked.len() > max {
            return Err(Error::public(codes::QUEUE_FULL.with_message(format!(
                "Queue holds its maximum of {max} messages."
            ))));
        }
        for (name, typed) in checked {
            let mut pushed = self.queue.push(name, typed)?;
            batch.ops.append(&mut pushed.batch.ops);
        }
        Ok(())
    }

    /// A send, checked and added to the queue (its batch not yet submitted).
    pub(super) fn queue_send(&mut self, name: String, body: &[u8]) -> Result<Pushed, Error> {
        let typed = self.check_queue_send(&name, body)?;
        self.queue.push(name, typed)
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

    /// Whether every message waiting is one nobody takes now: none has a handler, and the run
    /// loop (if it still runs) waits for others. Such an actor may sleep.
    pub(super) fn queue_settled(&self) -> bool {
        !self.queue.has_handled()
            && (self.queue.is_empty()
                || self.queue.run_loop_waits()
                || self.run_loop.as_ref().is_none_or(|run| run.is_finished()))
    }

    /// Sends the run loop the messages taken for its requests, their bodies read first.
    pub(super) async fn hand_over(&mut self) {
        while let Some((mut taken, reply)) = self.queue.next_handover() {
            if reply.is_closed() {
                // Nobody waits any more: back to the front, the last first to keep the order.
                for message in taken.iter().rev() {
                    self.queue.release(message.id);
                }
                continue;
            }
            if let Err(error) = self.read_bodies(&mut taken).await {
                self.queue_read_failed(&error);
                return;
            }
            let messages = taken.into_iter().filter_map(Taken::into_message).collect();
            self.queue.send(messages, reply);
        }
    }

    /// Reads the bodies of `taken` that are not in memory: a page from the oldest of them,
    /// which also brings back the bodies of the messages after it within the budget, then
    /// any still missing one by one.
    async fn read_bodies(&mut self, taken: &mut [Taken]) -> Result<(), StorageError> {
        let Some(first) = taken
            .iter()
            .filter(|t| t.body.is_none())
            .map(|t| t.id)
            .min()
        else {
            return Ok(());
        };
        // A message sent a moment ago may not be committed yet: storage serves only what is.
        self.gate.flush().await?;
        let storage = Arc::clone(self.runtime.storage());
        let actor = self.record.storage_id;
        let start = keys::queue_message(first);
        let end = prefix_end(keys::QUEUE_PREFIX);
        let range = KeyRange {
            start: &start,
            end: end.as_deref(),
            limit: Some(PAGE),
            reverse: false,
        };
        for (key, value) in storage.scan_range(actor, range).await? {
            let id = message_id(&key)?;
            match taken.iter_mut().find(|t| t.id == id && t.body.is_none()) {
                Some(message) => message.body = Some(Message::decode_record(id, &value)?.0.body),
                None => self.queue.page_in(id, &value)?,
            }
        }
        for message in taken.iter_mut().filter(|t| t.body.is_none()) {
            let value = storage
                .get(actor, &keys::queue_message(message.id))
                .await?
                .ok_or_else(|| {
                    StorageError::corrupt(format!(
                        "queue message {} is in the queue's index but not stored",
                        message.id
                    ))
                })?;
            message.body = Some(Message::decode_record(message.id, &value)?.0.body);
        }
        Ok(())
    }

    /// A stored message could not be read: the activation restarts from storage, where the
    /// message still is.
    fn queue_read_failed(&mut self, error: &StorageError) {
        tracing::error!(error = %chain(error), "cannot read queued messages; restarting the actor");
        self.gate.poison();
    }

    /// Runs the oldest message that has a `#[queue]` handler as a turn. A failed message is
    /// dropped rather than retried, so one bad message cannot block the queue forever; its
    /// waiting sender gets the error.
    pub(super) async fn process_queue_message(&mut self) {
        let Some(mut taken) = self.queue.take_handled() else {
            return;
        };
        if let Err(error) = self.read_bodies(std::slice::from_mut(&mut taken)).await {
            self.queue_read_failed(&error);
            return;
        }
        let Some(message) = taken.into_message() else {
            return;
        };
        let timeout = self.action_timeout();
        let work = Work::Queue {
            name: &message.name,
            body: &message.body,
        };
        let ran = self.execute(work, timeout).await;
        if let Err(error) = &ran.dispatch.result {
            tracing::warn!(queue = %message.name, id = message.id, %error, "queue handler failed; message dropped");
        }
        let mut always = Batch::default();
        always.delete(keys::queue_message(message.id));
        let waiter = self.queue.waiter(message.id);
        self.finish_turn(ran, always, "queue handler", move |result| {
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

    const MIB: usize = 1024 * 1024;

    fn memory() -> QueueMemory {
        QueueMemory::new(MIB, MIB)
    }

    fn queue_with(names: &[&str]) -> DurableQueue {
        let mut queue = DurableQueue::new(handled, memory());
        for name in names {
            queue.push((*name).to_owned(), Bytes::new()).expect("push");
        }
        queue
    }

    fn next(queue: &mut DurableQueue, count: usize, wait: bool) -> oneshot::Receiver<Vec<Message>> {
        let (tx, rx) = oneshot::channel();
        queue.next(None, count, wait, tx);
        hand_over(queue);
        rx
    }

    /// What [`Host::hand_over`] does, for messages whose bodies are all in memory.
    fn hand_over(queue: &mut DurableQueue) {
        while let Some((taken, reply)) = queue.next_handover() {
            let messages = taken
                .into_iter()
                .map(|t| t.into_message().expect("in memory"))
                .collect();
            queue.send(messages, reply);
        }
    }

    fn push(queue: &mut DurableQueue, name: &str, body: &'static [u8]) -> Batch {
        let batch = queue
            .push(name.to_owned(), Bytes::from_static(body))
            .expect("push")
            .batch;
        hand_over(queue);
        batch
    }

    fn ids(rx: &mut oneshot::Receiver<Vec<Message>>) -> Vec<u64> {
        rx.try_recv()
            .map(|m| m.iter().map(Message::id).collect())
            .unwrap_or_default()
    }

    #[test]
    fn pushes_are_stored_with_the_next_id() {
        let mut queue = DurableQueue::new(handled, memory());
        let Pushed { id, batch, .. } = queue.push("tasks".to_owned(), Bytes::new()).expect("push");
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
                .id,
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
        push(&mut queue, "tasks", b"");
        assert_eq!(ids(&mut waiting), [1]);
        push(&mut queue, "tasks", b"");
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
        push(&mut queue, "tasks", b"");
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
        hand_over(&mut queue);
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
                message.encode_record(0).expect("encode"),
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
        let mut loaded = DurableQueue::load(&storage, 1, handled, memory())
            .await
            .expect("load");
        assert!(loaded.has_handled());
        assert_eq!(
            loaded
                .push("tasks".to_owned(), Bytes::new())
                .expect("push")
                .id,
            3
        );
        let mut rx = next(&mut loaded, 10, false);
        assert_eq!(ids(&mut rx), [1, 3]);
    }

    fn resident_ids(queue: &DurableQueue) -> Vec<u64> {
        queue
            .messages
            .iter()
            .filter(|m| m.body.is_some())
            .map(|m| m.id)
            .collect()
    }

    #[test]
    fn bodies_stay_in_memory_only_within_the_actors_share() {
        let mut queue = DurableQueue::new(handled, QueueMemory::new(1000, MIB));
        for _ in 0..3 {
            push(&mut queue, "tasks", &[7; 400]);
        }
        assert_eq!(
            resident_ids(&queue),
            [1, 2],
            "the third is beyond 1000 bytes"
        );
        assert_eq!(queue.resident, 800);
        let taken = queue.take_for_run(None, 1);
        assert_eq!(taken[0].body.as_deref(), Some(&[7; 400][..]));
        assert_eq!(queue.resident, 400, "a taken body no longer counts");
        let rest = queue.take_for_run(None, 2);
        assert_eq!(rest[1].id, 3);
        assert!(rest[0].body.is_some());
        assert!(rest[1].body.is_none(), "read from storage when taken");
        queue.release(3);
        assert!(
            resident_ids(&queue).is_empty(),
            "released without its body, it stays in storage"
        );
        assert_eq!(queue.len(), 3, "taken or not, all three count");
    }

    #[test]
    fn the_registry_budget_is_shared_and_given_back() {
        let shared = QueueMemory::new(MIB, 1000);
        let mut first = DurableQueue::new(handled, shared.clone());
        let mut second = DurableQueue::new(handled, shared.clone());
        push(&mut first, "tasks", &[1; 600]);
        push(&mut second, "tasks", &[2; 600]);
        assert_eq!(resident_ids(&first), [1]);
        assert!(
            resident_ids(&second).is_empty(),
            "the first actor holds 600 of the registry's 1000 bytes"
        );
        drop(first);
        assert_eq!(shared.budget.available_permits(), 1000);
        push(&mut second, "tasks", &[2; 600]);
        assert_eq!(resident_ids(&second), [2]);
    }

    #[test]
    fn a_new_message_clears_the_dormant_marker_and_markers_are_written_on_change() {
        let mut queue = queue_with(&["tasks"]);
        let signature = Bytes::from_static(b"sig");
        let batch = queue
            .mark_dormant(Some(signature.clone()))
            .expect("changed");
        assert_eq!(
            batch.ops,
            [crate::storage::KvOp::Put(
                Bytes::from_static(keys::QUEUE_DORMANT),
                signature.clone()
            )]
        );
        assert!(
            queue.mark_dormant(Some(signature)).is_none(),
            "stored already"
        );
        let batch = push(&mut queue, "tasks", b"");
        assert!(
            batch
                .ops
                .contains(&crate::storage::KvOp::Delete(Bytes::from_static(
                    keys::QUEUE_DORMANT
                ))),
            "{batch:?}"
        );
        assert!(queue.mark_dormant(None).is_none(), "cleared by the push");
    }

    #[test]
    fn the_consumer_signature_changes_with_the_run_loop_and_the_handlers() {
        fn none(_: &str) -> bool {
            false
        }
        let meta =
            |hooks| ActorMetadata::new("a", None, None, &[], &[], &["jobs", "tasks"], false, hooks);
        let (plain, with_run) = (meta(HookSet::empty()), meta(HookSet::RUN));
        let signatures = [
            consumer_signature(&plain, none),
            consumer_signature(&plain, handled),
            consumer_signature(&with_run, none),
        ];
        assert_ne!(signatures[0], signatures[1]);
        assert_ne!(signatures[0], signatures[2]);
        assert_ne!(signatures[1], signatures[2]);
        assert_eq!(signatures[0], consumer_signature(&plain, none));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_long_queue_loads_page_by_page_with_only_the_oldest_bodies() {
        let storage: Arc<dyn Storage> = Arc::new(crate::storage::memory::MemoryStorage::new());
        let poisoned = std::sync::atomic::AtomicBool::new(false);
        let count = 3 * PAGE as u64 + 5;
        let mut batch = Batch::default();
        for id in 1..=count {
            let message = Message {
                id,
                name: "tasks".to_owned(),
                body: Bytes::from(vec![0; 100]),
            };
            batch.put(
                keys::queue_message(id),
                message.encode_record(0).expect("encode"),
            );
        }
        storage
            .commit_now(1, &mut batch, &poisoned)
            .expect("sync")
            .expect("commit");
        let loaded = DurableQueue::load(&storage, 1, handled, QueueMemory::new(1000, MIB))
            .await
            .expect("load");
        let ids: Vec<u64> = loaded.messages.iter().map(|m| m.id).collect();
        assert_eq!(ids, (1..=count).collect::<Vec<_>>());
        assert_eq!(resident_ids(&loaded), (1..=10).collect::<Vec<_>>());
        assert_eq!(loaded.next_id, 1, "no stored next id: the default");
    }
}
