//! The awake actors: one activation per actor, found by id or by address, and the delivery
//! of a message to an actor's mailbox, waking (or creating) the actor when it has none.

use std::sync::Arc;
use std::sync::MutexGuard;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use rivet_client::{ActorAddr, ActorError, ActorTarget, codes};
use rustc_hash::FxHashMap;
use tokio::sync::mpsc;

use super::{ActiveGuard, RegistryInner, internal};
use crate::ids::new_id;
use crate::mailbox::{Envelope, Leftovers, Mailbox, MailboxRx, call_cycle};
use crate::runtime::ActorRuntime;
use crate::storage::{ActorRecord, Lookup, NewActor};
use crate::sync::lock;
use crate::time::now_ms;

/// The activations, by id and by address.
#[derive(Default)]
pub(super) struct Live {
    pub(super) by_id: FxHashMap<Arc<str>, Slot>,
    /// The same activations by address, with their mailbox, so a call by address costs one
    /// lookup.
    pub(super) by_addr: FxHashMap<ActorAddr, (Arc<str>, Mailbox)>,
}

pub(super) struct Slot {
    pub(super) tx: Mailbox,
    pub(super) generation: u64,
    pub(super) addr: ActorAddr,
}

impl Live {
    fn find(&self, target: &ActorTarget) -> Option<(Arc<str>, Mailbox)> {
        match target {
            // The address includes the name, so no name check is needed.
            ActorTarget::Get(addr) | ActorTarget::GetOrCreate { addr, .. } => {
                let (id, tx) = self.by_addr.get(addr)?;
                Some((Arc::clone(id), tx.clone()))
            }
            ActorTarget::Id { id, name } => {
                let (id, slot) = self.by_id.get_key_value(id.as_str())?;
                (&slot.addr.name == name).then(|| (Arc::clone(id), slot.tx.clone()))
            }
        }
    }
}

impl RegistryInner {
    pub(super) fn live(&self) -> MutexGuard<'_, Live> {
        lock(&self.live)
    }

    /// Sends the actor `target` names an envelope built around a reply channel, and waits for
    /// the answer; returns the actor's id with it.
    pub(crate) async fn request<T>(
        self: &Arc<Self>,
        target: &ActorTarget,
        make: impl FnOnce(tokio::sync::oneshot::Sender<Result<T, ActorError>>) -> Envelope,
    ) -> Result<(Arc<str>, T), ActorError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let id = self.deliver(target, make(tx)).await;
        let value = rx
            .await
            .unwrap_or_else(|_| Err(codes::DROPPED_REPLY.error()))?;
        // `deliver` fails only after failing the envelope, whose error was returned just above.
        let id = id.map_err(|()| codes::DROPPED_REPLY.error())?;
        Ok((id, value))
    }

    /// Hands `envelope` to the activation of `target` if it is awake, without waking or
    /// creating it: for what only concerns the activation that is running (a closing
    /// connection's disconnect means nothing to a later one).
    pub(crate) fn deliver_if_awake(&self, target: &ActorTarget, envelope: Envelope) {
        let found = self.live().find(target);
        if let Some((_, tx)) = found {
            let _ = tx.send(Box::new(envelope));
        }
    }

    /// Delivers an envelope to the actor `target` names, waking or creating it as needed.
    pub(crate) async fn deliver(
        self: &Arc<Self>,
        target: &ActorTarget,
        envelope: Envelope,
    ) -> Result<Arc<str>, ()> {
        let mut envelope = Box::new(envelope);
        loop {
            match self.mailbox(target).await {
                Ok((id, tx)) => {
                    // Checked before queuing: the target is blocked in the turn that waits for
                    // this call, so it would never get to the message.
                    if let Envelope::Action {
                        chain: Some(chain), ..
                    } = &*envelope
                        && chain.iter().any(|waiting| **waiting == *id)
                    {
                        let error = call_cycle(&id, chain);
                        (*envelope).fail(error);
                        return Err(());
                    }
                    match tx.send(envelope) {
                        Ok(()) => return Ok(id),
                        Err(mpsc::error::SendError(returned)) => {
                            // That activation stopped after we looked it up; look again.
                            envelope = returned;
                            self.forget_closed(&id);
                        }
                    }
                }
                Err(error) => {
                    envelope.fail(error);
                    return Err(());
                }
            }
        }
    }

    pub(super) async fn mailbox(
        self: &Arc<Self>,
        target: &ActorTarget,
    ) -> Result<(Arc<str>, Mailbox), ActorError> {
        if self.shutting_down.load(Ordering::Acquire) {
            return Err(codes::SHUT_DOWN.error());
        }
        super::limits::check_target(&self.config, target)?;
        if let Some(found) = self.live().find(target) {
            return Ok(found);
        }
        let record = match target {
            ActorTarget::Get(addr) => self
                .storage
                .lookup(Lookup::Addr(&addr.name, &addr.key))
                .await
                .map_err(internal)?
                .ok_or_else(|| not_found_at(addr))?,
            ActorTarget::GetOrCreate { addr, input } => {
                match self
                    .storage
                    .lookup(Lookup::Addr(&addr.name, &addr.key))
                    .await
                    .map_err(internal)?
                {
                    Some(record) => record,
                    None => self.create_record(addr, input.clone(), false).await?,
                }
            }
            ActorTarget::Id { name, id } => self
                .storage
                .lookup(Lookup::Id(id))
                .await
                .map_err(internal)?
                .filter(|record| &record.name == name)
                .ok_or_else(|| {
                    codes::ACTOR_NOT_FOUND
                        .with_message(format!("No actor `{name}` with id `{id}`."))
                })?,
        };
        self.wake(record)
    }

    pub(super) async fn create_record(
        &self,
        addr: &ActorAddr,
        input: Option<Bytes>,
        fail_if_exists: bool,
    ) -> Result<ActorRecord, ActorError> {
        super::limits::check_addr(&self.config, addr)?;
        let factory = self.factory(&addr.name)?;
        let input = factory.check_input(input)?;
        self.creations.take()?;
        let created = self
            .storage
            .create(NewActor {
                id: new_id(),
                name: addr.name.clone(),
                key: addr.key.clone(),
                input,
                created_at_ms: now_ms(),
            })
            .await;
        if !matches!(created, Ok((_, true))) {
            self.creations.refund();
        }
        let (record, created) = created.map_err(internal)?;
        if fail_if_exists && !created {
            return Err(codes::DUPLICATE_KEY.with_message(format!(
                "An actor `{}` with key {:?} already exists.",
                addr.name, addr.key
            )));
        }
        Ok(record)
    }

    /// Returns the mailbox of the actor's activation, starting one if there is none.
    pub(super) fn wake(
        self: &Arc<Self>,
        record: ActorRecord,
    ) -> Result<(Arc<str>, Mailbox), ActorError> {
        let factory = Arc::clone(self.factory(&record.name)?);
        let mut live = self.live();
        if self.shutting_down.load(Ordering::Acquire) {
            return Err(codes::SHUT_DOWN.error());
        }
        if let Some((id, slot)) = live.by_id.get_key_value(record.id.as_str()) {
            return Ok((Arc::clone(id), slot.tx.clone()));
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let generation = self.next_generation.fetch_add(1, Ordering::Relaxed);
        let addr = ActorAddr {
            name: record.name.clone(),
            key: record.key.clone(),
        };
        let id: Arc<str> = Arc::from(record.id.as_str());
        live.by_addr
            .insert(addr.clone(), (Arc::clone(&id), tx.clone()));
        live.by_id.insert(
            Arc::clone(&id),
            Slot {
                tx: tx.clone(),
                generation,
                addr,
            },
        );
        drop(live);
        self.active.fetch_add(1, Ordering::AcqRel);
        let task = factory.run(
            Arc::clone(self) as Arc<dyn ActorRuntime>,
            record,
            generation,
            rx,
        );
        let inner = Arc::clone(self);
        self.runtime.spawn(async move {
            let _active = ActiveGuard(inner);
            task.await;
        });
        Ok((id, tx))
    }

    /// Removes an activation from the live map and closes its mailbox, then deals with whatever
    /// reached it in the meantime.
    pub(crate) fn deregister(
        self: &Arc<Self>,
        record: &ActorRecord,
        generation: u64,
        rx: &mut MailboxRx,
        leftovers: Leftovers,
    ) {
        {
            let mut live = self.live();
            if live
                .by_id
                .get(record.id.as_str())
                .is_some_and(|s| s.generation == generation)
                && let Some(slot) = live.by_id.remove(record.id.as_str())
            {
                live.by_addr.remove(&slot.addr);
                // After a crowd of actors went to sleep, give back the maps' memory.
                if live.by_id.capacity() > 1024 && live.by_id.len() < live.by_id.capacity() / 4 {
                    live.by_id.shrink_to_fit();
                    live.by_addr.shrink_to_fit();
                }
            }
            rx.close();
        }
        let mut pending = Vec::new();
        while let Ok(envelope) = rx.try_recv() {
            pending.push(*envelope);
        }
        if pending.is_empty() {
            return;
        }
        match leftovers {
            Leftovers::Fail(error) => {
                for envelope in pending {
                    envelope.fail(error.clone());
                }
            }
            Leftovers::Redeliver => {
                let target = ActorTarget::Id {
                    name: record.name.clone(),
                    id: record.id.clone(),
                };
                let inner = Arc::clone(self);
                self.runtime.spawn(async move {
                    for envelope in pending {
                        let _ = inner.deliver(&target, envelope).await;
                    }
                });
            }
        }
    }

    pub(super) fn forget_closed(&self, id: &str) {
        let mut live = self.live();
        if live.by_id.get(id).is_some_and(|slot| slot.tx.is_closed())
            && let Some(slot) = live.by_id.remove(id)
        {
            live.by_addr.remove(&slot.addr);
        }
    }
}

fn not_found_at(addr: &ActorAddr) -> ActorError {
    codes::ACTOR_NOT_FOUND
        .with_message(format!("No actor `{}` with key {:?}.", addr.name, addr.key))
}
