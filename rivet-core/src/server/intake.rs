//! What every actor route does before it reaches the actor: resolving the gateway's target
//! to an actor, and reading the request body within its limit and the server's budget for
//! bodies being read at once.

use axum::body::{Body, to_bytes};
use bytes::Bytes;
use http::header;
use rivet_client::{ActorAddr, ActorError, ActorTarget, codes};

use super::gateway::GatewayTarget;
use crate::registry::Registry;

/// The metadata of the registered actor type `name` (`actor.not_registered` if none).
pub(super) fn actor_type(
    registry: &Registry,
    name: &str,
) -> Result<&'static crate::actor::ActorMetadata, ActorError> {
    registry
        .actors()
        .find(|meta| meta.name == name)
        .ok_or_else(|| {
            codes::NOT_REGISTERED
                .with_message(format!("No actor type named `{name}` is registered."))
        })
}

/// Resolves a gateway target to the registry's actor target.
pub(crate) async fn actor_target(
    registry: &Registry,
    target: GatewayTarget,
) -> Result<ActorTarget, ActorError> {
    Ok(match target {
        GatewayTarget::Direct { actor_id } => {
            let name = registry
                .inner()
                .actor_name(&actor_id)
                .await?
                .ok_or_else(|| {
                    codes::ACTOR_NOT_FOUND.with_message(format!("No actor with id `{actor_id}`."))
                })?;
            ActorTarget::Id { name, id: actor_id }
        }
        GatewayTarget::Get { name, key } => ActorTarget::Get(ActorAddr { name, key }),
        GatewayTarget::GetOrCreate { name, key, input } => ActorTarget::GetOrCreate {
            addr: ActorAddr { name, key },
            input,
        },
    })
}

/// Reads a request body of at most `limit` bytes, within the server's budget for bodies being
/// read at once: a request reserves its `content-length` (or `limit`, without one) first, and
/// waits while the budget is spent, so many large uploads at once cannot exhaust memory.
pub(super) async fn read_body(
    registry: &Registry,
    headers: &http::HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, ActorError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_long(limit));
    }
    let config = registry.server_config();
    let budget = &config.bodies_in_flight;
    // Never more than the whole budget, or it would wait forever.
    let reserve = declared
        .map_or(limit, |n| n as usize)
        .clamp(1, config.bodies_in_flight_max);
    let reserve = u32::try_from(reserve).unwrap_or(u32::MAX);
    let _reserved = match budget.try_acquire_many(reserve) {
        Ok(permit) => permit,
        Err(_) => {
            tracing::warn!(
                bytes = reserve,
                "the budget for request bodies being read is spent: this request waits"
            );
            budget
                .acquire_many(reserve)
                .await
                .map_err(|_| codes::SHUT_DOWN.error())?
        }
    };
    to_bytes(body, limit).await.map_err(|error| {
        if caused_by::<tower_http::timeout::TimeoutError>(&error) {
            tracing::warn!("a request body stalled past the body read timeout");
            return codes::INCOMING_TIMED_OUT.error();
        }
        if caused_by::<http_body_util::LengthLimitError>(&error) {
            return too_long(limit);
        }
        codes::INVALID_REQUEST.with_message(format!("The request body could not be read: {error}"))
    })
}

/// Reads an action or queue body, within the incoming message limit.
pub(super) async fn read_message(
    registry: &Registry,
    request: axum::extract::Request,
) -> Result<Bytes, ActorError> {
    let limit = registry.server_config().max_incoming_message_size;
    let (parts, body) = request.into_parts();
    read_body(registry, &parts.headers, body, limit).await
}

fn too_long(limit: usize) -> ActorError {
    tracing::warn!(
        limit,
        "refused a request body past the limit (message.incoming_too_long)"
    );
    codes::INCOMING_TOO_LONG.with_message(format!("The request body is larger than {limit} bytes."))
}

/// Whether `E` is somewhere in the chain of `error`.
fn caused_by<E: std::error::Error + 'static>(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if error.is::<E>() {
            return true;
        }
        current = error.source();
    }
    false
}
