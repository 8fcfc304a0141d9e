//! [`Client`]: the entry point for reaching actors by type, key or id.

use std::sync::Arc;

use serde::Serialize;

use crate::codec::to_cbor;
use crate::error::ActorError;
use crate::handle::ActorHandle;
use crate::key::ActorKey;
use crate::transport::{ActorAddr, ActorTarget, Transport};

/// An actor type as clients know it. `#[actor]` implements this for the actor's state type.
pub trait ActorDescriptor: 'static {
    /// The registered name, such as `counter`.
    const NAME: &'static str;
    /// The creation input (RivetKit's `createState(c, input)`); `()` when the actor takes none.
    type Input: Serialize;
    /// The generated typed client, `{Actor}Client`.
    type Client: From<ActorHandle>;
}

/// Reaches actors over one transport and hands out typed clients.
///
/// ```ignore
/// let counter = client.get_or_create::<Counter>(["org-acme", "general"]);
/// let count = counter.increment(5).await?;
/// ```
#[derive(Clone, Debug)]
pub struct Client {
    transport: Arc<dyn Transport>,
}

impl Client {
    /// A client over `transport`.
    pub fn from_transport(transport: Arc<dyn Transport>) -> Self {
        Self { transport }
    }

    /// The transport calls go through.
    pub fn transport(&self) -> &Arc<dyn Transport> {
        &self.transport
    }

    /// The actor of type `A` at `key`. Nothing is looked up until the first call, which fails with
    /// `actor.not_found` if the actor does not exist.
    pub fn get<A: ActorDescriptor>(&self, key: impl Into<ActorKey>) -> A::Client {
        self.handle(ActorTarget::Get(addr::<A>(key))).into()
    }

    /// The actor of type `A` at `key`, created (without input) by the first call if needed.
    pub fn get_or_create<A: ActorDescriptor>(&self, key: impl Into<ActorKey>) -> A::Client {
        self.handle(ActorTarget::GetOrCreate {
            addr: addr::<A>(key),
            input: None,
        })
        .into()
    }

    /// The actor of type `A` at `key`, created with `input` by the first call if needed. The input
    /// is ignored when the actor already exists.
    pub fn get_or_create_with_input<A: ActorDescriptor>(
        &self,
        key: impl Into<ActorKey>,
        input: &A::Input,
    ) -> Result<A::Client, ActorError> {
        Ok(self
            .handle(ActorTarget::GetOrCreate {
                addr: addr::<A>(key),
                input: Some(to_cbor(input)?),
            })
            .into())
    }

    /// Creates the actor of type `A` at `key` now, failing with `actor.duplicate_key` if it exists.
    pub async fn create<A: ActorDescriptor>(
        &self,
        key: impl Into<ActorKey>,
    ) -> Result<A::Client, ActorError> {
        self.create_inner::<A>(key.into(), None).await
    }

    /// Creates the actor of type `A` at `key` with `input`, failing with `actor.duplicate_key` if it
    /// exists.
    pub async fn create_with_input<A: ActorDescriptor>(
        &self,
        key: impl Into<ActorKey>,
        input: &A::Input,
    ) -> Result<A::Client, ActorError> {
        self.create_inner::<A>(key.into(), Some(to_cbor(input)?))
            .await
    }

    async fn create_inner<A: ActorDescriptor>(
        &self,
        key: ActorKey,
        input: Option<bytes::Bytes>,
    ) -> Result<A::Client, ActorError> {
        let addr = ActorAddr {
            name: A::NAME.to_owned(),
            key,
        };
        let id = self.transport.create(&addr, input).await?;
        Ok(self.get_for_id::<A>(id))
    }

    /// The actor of type `A` with this id.
    pub fn get_for_id<A: ActorDescriptor>(&self, id: impl Into<String>) -> A::Client {
        self.handle(ActorTarget::Id {
            name: A::NAME.to_owned(),
            id: id.into(),
        })
        .into()
    }

    /// An untyped handle, for actors whose Rust type this program does not have.
    pub fn handle(&self, target: ActorTarget) -> ActorHandle {
        ActorHandle::new(Arc::clone(&self.transport), target)
    }
}

fn addr<A: ActorDescriptor>(key: impl Into<ActorKey>) -> ActorAddr {
    ActorAddr {
        name: A::NAME.to_owned(),
        key: key.into(),
    }
}
