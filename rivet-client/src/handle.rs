//! [`ActorHandle`]: an untyped reference to one actor, wrapped by the generated `{Actor}Client`.

use std::borrow::Cow;
use std::future::IntoFuture;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::codec::{decode_output, to_cbor};
use crate::codes;
use crate::connection::ActorConnection;
use crate::error::ActorError;
use crate::transport::{ActorTarget, BoxFuture, QueueSendOutcome, Transport};

/// An untyped reference to an actor, by address or id, over some [`Transport`].
///
/// The generated `{Actor}Client` wraps one and gives it typed methods; use it directly only to
/// reach an actor whose type you do not have.
#[derive(Clone, Debug)]
pub struct ActorHandle {
    transport: Arc<dyn Transport>,
    target: Arc<ActorTarget>,
    params: Option<Bytes>,
}

impl ActorHandle {
    /// A handle to `target` over `transport`.
    pub fn new(transport: Arc<dyn Transport>, target: ActorTarget) -> Self {
        Self {
            transport,
            target: Arc::new(target),
            params: None,
        }
    }

    /// What this handle points at.
    pub fn target(&self) -> &ActorTarget {
        &self.target
    }

    /// The transport calls go through.
    pub fn transport(&self) -> &Arc<dyn Transport> {
        &self.transport
    }

    /// Connection parameters sent with every call and connection from this handle (RivetKit's
    /// `params`); the actor sees them when it creates connection state.
    pub fn with_params<P: Serialize + ?Sized>(mut self, params: &P) -> Result<Self, ActorError> {
        self.params = Some(to_cbor(params)?);
        Ok(self)
    }

    /// Calls an action with `args` (a tuple, encoded as a CBOR array) and decodes its output.
    pub async fn action<A, R>(
        &self,
        name: impl Into<Cow<'static, str>>,
        args: &A,
    ) -> Result<R, ActorError>
    where
        A: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        let output = self.action_raw(name, to_cbor(args)?).await?;
        decode_output(&output)
    }

    /// Calls an action with CBOR arguments and returns its CBOR output.
    pub async fn action_raw(
        &self,
        name: impl Into<Cow<'static, str>>,
        args: Bytes,
    ) -> Result<Bytes, ActorError> {
        self.transport
            .action(&self.target, self.params.as_ref(), name.into(), args)
            .await
    }

    /// Sends a message to the queue `name`. Await the result to enqueue, or call
    /// [`QueueSend::wait`] to wait for a handler to complete it.
    pub fn queue_send<C: DeserializeOwned, M: Serialize + ?Sized>(
        &self,
        name: &'static str,
        body: &M,
    ) -> QueueSend<'_, C> {
        QueueSend {
            handle: self,
            name,
            body: to_cbor(body),
            _completion: PhantomData,
        }
    }

    /// Resolves the handle to the actor's id, creating the actor for get-or-create handles.
    pub async fn resolve(&self) -> Result<String, ActorError> {
        self.transport.resolve(&self.target).await
    }

    /// Opens a connection for events and connection-bound actions.
    pub async fn connect(&self) -> Result<ActorConnection, ActorError> {
        ActorConnection::open(self).await
    }

    pub(crate) fn params(&self) -> Option<&Bytes> {
        self.params.as_ref()
    }
}

/// A queue message on its way; see [`ActorHandle::queue_send`].
///
/// `.await` it to enqueue (it resolves once the message is stored durably), or
/// `.wait(timeout).await` for the completion value `C` of the handler that processes it.
#[derive(Debug)]
#[must_use = "a queue message is sent only when awaited"]
pub struct QueueSend<'a, C> {
    handle: &'a ActorHandle,
    name: &'static str,
    body: Result<Bytes, ActorError>,
    _completion: PhantomData<fn() -> C>,
}

impl<'a, C: DeserializeOwned + 'a> QueueSend<'a, C> {
    /// Sends the message and waits up to `timeout` for a handler to complete it.
    ///
    /// Fails with `queue.timed_out` when it is not completed in time; the message then stays
    /// queued and will still be processed.
    pub async fn wait(self, timeout: Duration) -> Result<C, ActorError> {
        {
            let body = self.body?;
            let outcome = self
                .handle
                .transport
                .queue_send(&self.handle.target, self.name, body, Some(timeout))
                .await?;
            match outcome {
                QueueSendOutcome::Completed(Some(value)) => decode_output(&value),
                QueueSendOutcome::Completed(None) => decode_output(&[0xf6]),
                QueueSendOutcome::TimedOut => Err(codes::QUEUE_TIMED_OUT.error()),
                QueueSendOutcome::Queued => Err(codes::CLIENT_CODEC
                    .with_message("the transport did not wait for the queue completion")),
            }
        }
    }
}

impl<'a, C: 'a> IntoFuture for QueueSend<'a, C> {
    type Output = Result<(), ActorError>;
    type IntoFuture = BoxFuture<'a, Result<(), ActorError>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let body = self.body?;
            self.handle
                .transport
                .queue_send(&self.handle.target, self.name, body, None)
                .await
                .map(|_| ())
        })
    }
}
