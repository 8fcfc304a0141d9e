//! Actor types with their type erased, so one registry hosts many.

use std::marker::PhantomData;
use std::sync::Arc;

use bytes::Bytes;
use rivet_client::ActorError;
use rivet_client::transport::BoxFuture;

use crate::actor::{Actor, ActorMetadata};
use crate::host;
use crate::mailbox::MailboxRx;
use crate::runtime::ActorRuntime;
use crate::storage::ActorRecord;

/// An actor type, with its type erased.
pub(super) trait ActorFactory: Send + Sync {
    fn metadata(&self) -> &'static ActorMetadata;
    fn check_input(&self, input: Option<Bytes>) -> Result<Option<Bytes>, ActorError>;
    /// What the actor's code takes from its queue (see [`host::consumer_signature`]).
    fn queue_consumers(&self) -> Bytes;
    fn run(
        &self,
        runtime: Arc<dyn ActorRuntime>,
        record: ActorRecord,
        generation: u64,
        rx: MailboxRx,
    ) -> BoxFuture<'static, ()>;
}

pub(super) struct Factory<A>(PhantomData<fn() -> A>);

impl<A> Factory<A> {
    pub(super) fn new() -> Self {
        Self(PhantomData)
    }
}

impl<A: Actor> ActorFactory for Factory<A> {
    fn metadata(&self) -> &'static ActorMetadata {
        A::metadata()
    }

    fn check_input(&self, input: Option<Bytes>) -> Result<Option<Bytes>, ActorError> {
        if !A::metadata().takes_input {
            // RivetKit ignores input given to an actor that takes none.
            return Ok(None);
        }
        crate::actor::decode_input::<A>(input.as_deref()).map_err(|e| e.to_actor_error())?;
        Ok(input)
    }

    fn queue_consumers(&self) -> Bytes {
        host::consumer_signature(A::metadata(), A::queue_has_handler)
    }

    fn run(
        &self,
        runtime: Arc<dyn ActorRuntime>,
        record: ActorRecord,
        generation: u64,
        rx: MailboxRx,
    ) -> BoxFuture<'static, ()> {
        Box::pin(host::run::<A>(runtime, record, generation, rx))
    }
}
