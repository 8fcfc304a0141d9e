//! Finding, creating, starting and destroying actors by id or address, for the server's REST
//! API (`/actors`) and gateway.

use std::sync::Arc;

use bytes::Bytes;
use rivet_client::{ActorAddr, ActorError, ActorTarget, codes};
use tokio::sync::oneshot;

use super::{RegistryInner, internal};
use crate::mailbox::Envelope;
use crate::storage::{ActorRecord, Lookup};

impl RegistryInner {
    /// The type name of the actor with this id, if it exists.
    pub(crate) async fn actor_name(&self, id: &str) -> Result<Option<String>, ActorError> {
        if let Some(slot) = self.live().by_id.get(id) {
            return Ok(Some(slot.addr.name.clone()));
        }
        Ok(self.lookup_id(id).await?.map(|r| r.name))
    }

    /// The inspector token of the actor with this id (made when it was created), read from
    /// storage without waking the actor; `None` for no such actor, or one made before actors
    /// had tokens.
    #[cfg_attr(not(feature = "server"), allow(dead_code))]
    pub(crate) async fn inspector_token(&self, id: &str) -> Result<Option<String>, ActorError> {
        let Some(record) = self.lookup_id(id).await? else {
            return Ok(None);
        };
        let stored = self
            .storage
            .get(record.storage_id, crate::storage::keys::INSPECTOR_TOKEN)
            .await
            .map_err(internal)?;
        Ok(stored.and_then(|token| String::from_utf8(token.to_vec()).ok()))
    }

    /// The actor with this id, from storage.
    pub(crate) async fn lookup_id(&self, id: &str) -> Result<Option<ActorRecord>, ActorError> {
        self.storage.lookup(Lookup::Id(id)).await.map_err(internal)
    }

    /// The actor at this address, from storage.
    pub(crate) async fn lookup_addr(
        &self,
        addr: &ActorAddr,
    ) -> Result<Option<ActorRecord>, ActorError> {
        self.storage
            .lookup(Lookup::Addr(&addr.name, &addr.key))
            .await
            .map_err(internal)
    }

    /// Up to `limit` actors of a type.
    pub(crate) async fn list_actors(
        &self,
        name: &str,
        limit: usize,
    ) -> Result<Vec<ActorRecord>, ActorError> {
        self.storage
            .list_actors(name, limit)
            .await
            .map_err(internal)
    }

    /// Gets or creates the actor at `addr`, starting it so that a failing `#[create]` is reported;
    /// the flag tells whether it was created.
    pub(crate) async fn get_or_create_record(
        self: &Arc<Self>,
        addr: &ActorAddr,
        input: Option<Bytes>,
    ) -> Result<(ActorRecord, bool), ActorError> {
        if let Some(record) = self.lookup_addr(addr).await? {
            return Ok((record, false));
        }
        let record = self.create_record(addr, input, false).await?;
        let target = ActorTarget::Id {
            name: record.name.clone(),
            id: record.id.clone(),
        };
        self.ping(&target).await?;
        Ok((record, true))
    }

    /// Creates the actor at `addr` (`actor.duplicate_key` if it exists) and starts it.
    pub(crate) async fn create_started(
        self: &Arc<Self>,
        addr: &ActorAddr,
        input: Option<Bytes>,
    ) -> Result<ActorRecord, ActorError> {
        let record = self.create_record(addr, input, true).await?;
        let target = ActorTarget::Id {
            name: record.name.clone(),
            id: record.id.clone(),
        };
        self.ping(&target).await?;
        Ok(record)
    }

    /// Wakes the target (creating it for get-or-create) and waits until it is ready.
    pub(crate) async fn ping(
        self: &Arc<Self>,
        target: &ActorTarget,
    ) -> Result<Arc<str>, ActorError> {
        let (tx, rx) = oneshot::channel();
        let id = self.deliver(target, Envelope::Ping { reply: tx }).await;
        rx.await
            .unwrap_or_else(|_| Err(codes::DROPPED_REPLY.error()))?;
        id.map_err(|()| codes::DROPPED_REPLY.error())
    }

    /// Destroys the actor with this id, running its `#[on_destroy]`.
    pub(crate) async fn destroy_by_id(self: &Arc<Self>, id: &str) -> Result<(), ActorError> {
        let name = self.actor_name(id).await?.ok_or_else(|| {
            codes::ACTOR_NOT_FOUND.with_message(format!("No actor with id `{id}`."))
        })?;
        let target = ActorTarget::Id {
            name,
            id: id.to_owned(),
        };
        let (tx, rx) = oneshot::channel();
        let _ = self.deliver(&target, Envelope::Destroy { reply: tx }).await;
        rx.await
            .unwrap_or_else(|_| Err(codes::DROPPED_REPLY.error()))
    }
}
