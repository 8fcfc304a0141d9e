//! The envoy's bookkeeping of what the engine and it have acknowledged: the engine replays its
//! commands until the envoy acks them (so a command is applied once, by its checkpoint), and the
//! envoy resends its events until the engine acks them (each actor generation's events are
//! numbered from 0).

use std::collections::{BTreeMap, VecDeque};

use rivet_envoy_protocol as p;

/// One actor generation: the engine's actor id and the generation it was started as.
type Generation = (String, u32);

/// Acknowledgement state of one envoy connection's commands and events, kept across reconnects.
#[derive(Debug, Default)]
pub struct Ledger {
    /// The last command index applied, per actor generation.
    commands: BTreeMap<Generation, i64>,
    /// Commands applied since the last ack was sent, as the checkpoints to ack.
    unacked_commands: BTreeMap<Generation, i64>,
    /// Events per actor generation: the next index and those not yet acknowledged, in order.
    events: BTreeMap<Generation, Events>,
}

#[derive(Debug, Default)]
struct Events {
    next: i64,
    unacked: VecDeque<p::EventWrapper>,
}

fn checkpoint((actor_id, generation): &Generation, index: i64) -> p::ActorCheckpoint {
    p::ActorCheckpoint {
        actor_id: actor_id.clone().into(),
        generation: *generation,
        index,
    }
}

fn generation_of(checkpoint: &p::ActorCheckpoint) -> Generation {
    (checkpoint.actor_id.to_string(), checkpoint.generation)
}

impl Ledger {
    /// Whether `command` is new and is to be applied (`true`), or a replay of one already
    /// applied (`false`). Either way it will be acked by the next [`command_acks`](Self::command_acks).
    pub fn take_command(&mut self, command: &p::CommandWrapper) -> bool {
        let generation = generation_of(&command.checkpoint);
        let index = command.checkpoint.index;
        let last = self
            .unacked_commands
            .entry(generation.clone())
            .or_insert(index);
        *last = (*last).max(index);
        match self.commands.get(&generation) {
            Some(&seen) if index <= seen => false,
            _ => {
                self.commands.insert(generation, index);
                true
            }
        }
    }

    /// The checkpoints to ack (the last command taken per actor generation since the previous
    /// call), or `None` if there is nothing to ack.
    pub fn command_acks(&mut self) -> Option<p::ToRivetAckCommands> {
        if self.unacked_commands.is_empty() {
            return None;
        }
        let acks = std::mem::take(&mut self.unacked_commands)
            .iter()
            .map(|(generation, index)| checkpoint(generation, *index))
            .collect();
        Some(p::ToRivetAckCommands {
            last_command_checkpoints: acks,
        })
    }

    /// Records an event of an actor generation under its next index; returns it to send. It is
    /// kept until the engine acks it.
    pub fn event(&mut self, actor_id: &str, generation: u32, inner: p::Event) -> p::EventWrapper {
        let key = (actor_id.to_owned(), generation);
        let events = self.events.entry(key.clone()).or_default();
        let event = p::EventWrapper {
            checkpoint: checkpoint(&key, events.next),
            inner,
        };
        events.next += 1;
        events.unacked.push_back(event.clone());
        event
    }

    /// Forgets the events the engine acknowledged: each checkpoint acks its generation's events
    /// up to and including its index.
    pub fn events_acked(&mut self, acks: &[p::ActorCheckpoint]) {
        for ack in acks {
            if let Some(events) = self.events.get_mut(&generation_of(ack)) {
                while events
                    .unacked
                    .front()
                    .is_some_and(|event| event.checkpoint.index <= ack.index)
                {
                    events.unacked.pop_front();
                }
            }
        }
    }

    /// Every event not acknowledged yet, in the order each generation sent them: what to send
    /// again after a reconnect.
    pub fn unacked_events(&self) -> Vec<p::EventWrapper> {
        self.events
            .values()
            .flat_map(|events| events.unacked.iter().cloned())
            .collect()
    }

    /// Forgets an actor generation that has stopped, once its events are all acknowledged;
    /// returns whether it did.
    pub fn forget(&mut self, actor_id: &str, generation: u32) -> bool {
        let key = (actor_id.to_owned(), generation);
        if self
            .events
            .get(&key)
            .is_some_and(|events| !events.unacked.is_empty())
        {
            return false;
        }
        self.events.remove(&key);
        self.commands.remove(&key);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(actor: &str, generation: u32, index: i64) -> p::CommandWrapper {
        p::CommandWrapper {
            checkpoint: p::ActorCheckpoint {
                actor_id: actor.to_owned().into(),
                generation,
                index,
            },
            inner: p::Command::CommandStopActor(p::CommandStopActor {
                reason: p::StopActorReason::SleepIntent,
            }),
        }
    }

    fn running() -> p::Event {
        p::Event::EventActorStateUpdate(p::EventActorStateUpdate {
            state: p::ActorState::ActorStateRunning,
        })
    }

    fn indexes(events: &[p::EventWrapper]) -> Vec<(String, u32, i64)> {
        events
            .iter()
            .map(|e| {
                let c = &e.checkpoint;
                (c.actor_id.to_string(), c.generation, c.index)
            })
            .collect()
    }

    #[test]
    fn a_replayed_command_is_skipped_and_every_command_is_acked() {
        let mut ledger = Ledger::default();
        assert!(ledger.take_command(&command("a", 1, 0)));
        assert!(ledger.take_command(&command("a", 1, 1)));
        // The engine replays what it has no ack for yet.
        assert!(!ledger.take_command(&command("a", 1, 0)));
        assert!(!ledger.take_command(&command("a", 1, 1)));
        // A new generation of the same actor counts from 0 again.
        assert!(ledger.take_command(&command("a", 2, 0)));
        assert!(ledger.take_command(&command("b", 1, 0)));
        let acks = ledger.command_acks().expect("acks");
        let acked: Vec<_> = acks
            .last_command_checkpoints
            .iter()
            .map(|c| (c.actor_id.to_string(), c.generation, c.index))
            .collect();
        assert_eq!(
            acked,
            [("a".into(), 1, 1), ("a".into(), 2, 0), ("b".into(), 1, 0)]
        );
        assert!(ledger.command_acks().is_none());
        // A replay after the ack is skipped, and acked again (the engine missed the ack).
        assert!(!ledger.take_command(&command("a", 1, 1)));
        assert_eq!(
            ledger.command_acks().expect("ack").last_command_checkpoints[0].index,
            1
        );
    }

    #[test]
    fn events_are_numbered_per_generation_and_kept_until_acked() {
        let mut ledger = Ledger::default();
        ledger.event("a", 1, running());
        ledger.event("a", 1, running());
        ledger.event("a", 1, running());
        ledger.event("a", 2, running());
        assert_eq!(
            indexes(&ledger.unacked_events()),
            [
                ("a".into(), 1, 0),
                ("a".into(), 1, 1),
                ("a".into(), 1, 2),
                ("a".into(), 2, 0)
            ]
        );
        ledger.events_acked(&[p::ActorCheckpoint {
            actor_id: "a".to_owned().into(),
            generation: 1,
            index: 1,
        }]);
        assert_eq!(
            indexes(&ledger.unacked_events()),
            [("a".into(), 1, 2), ("a".into(), 2, 0)]
        );
        // Not forgotten while an event waits for its ack.
        assert!(!ledger.forget("a", 1));
        ledger.events_acked(&[p::ActorCheckpoint {
            actor_id: "a".to_owned().into(),
            generation: 1,
            index: 2,
        }]);
        assert!(ledger.forget("a", 1));
        // An ack for something unknown changes nothing.
        ledger.events_acked(&[p::ActorCheckpoint {
            actor_id: "zz".to_owned().into(),
            generation: 9,
            index: 9,
        }]);
        assert_eq!(indexes(&ledger.unacked_events()), [("a".into(), 2, 0)]);
    }
}
