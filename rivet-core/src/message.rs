//! Queue messages: what an actor's durable queue holds, how a message is stored, and how its
//! body decodes.

use bytes::Bytes;
use rivet_client::codec::describe_de_error;
use rivet_client::codes;
use serde::de::DeserializeOwned;

use crate::cbor::ByteStr;
use crate::error::Error;
use crate::storage::StorageError;

/// A queue message: its id, its queue's wire name and its CBOR body. What the host hands to the
/// run loop, what a [`QueueMessage`](crate::run::QueueMessage) holds, and what a workflow records
/// ([`WorkflowMessage`](crate::workflow::WorkflowMessage)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub(crate) id: u64,
    pub(crate) name: String,
    pub(crate) body: Bytes,
}

impl Message {
    /// The message's id in its actor's queue.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The queue's wire name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The body, CBOR.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The body decoded as the queue's message type.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, Error> {
        decode_message(&self.body, &self.name)
    }

    /// The stored form: CBOR `(name, body bytes, sent at)`, the time in ms since the epoch.
    pub(crate) fn encode_record(&self, sent_at_ms: i64) -> Result<Bytes, Error> {
        let mut out = Vec::with_capacity(self.body.len() + self.name.len() + 16);
        ciborium::into_writer(&(&self.name, ByteStr(&self.body), sent_at_ms), &mut out)
            .map_err(|e| Error::internal(format!("cannot encode queue message: {e}")))?;
        Ok(Bytes::from(out))
    }

    /// Reads message `id` from its stored form, with the time it was sent (none in a record
    /// stored before that was kept).
    pub(crate) fn decode_record(
        id: u64,
        record: &[u8],
    ) -> Result<(Self, Option<i64>), StorageError> {
        use ciborium::Value;
        let corrupt = || StorageError::corrupt(format!("queue message {id}"));
        let fields: Vec<Value> = rivet_client::codec::decode(record)
            .map_err(|e| StorageError::corrupt_because(format!("queue message {id}"), e))?;
        let mut fields = fields.into_iter();
        let (Some(Value::Text(name)), Some(Value::Bytes(body))) = (fields.next(), fields.next())
        else {
            return Err(corrupt());
        };
        let sent_at_ms = match fields.next() {
            None => None,
            Some(Value::Integer(at)) => Some(i64::try_from(at).map_err(|_| corrupt())?),
            Some(_) => return Err(corrupt()),
        };
        let message = Self {
            id,
            name,
            body: Bytes::from(body),
        };
        Ok((message, sent_at_ms))
    }
}

/// Decodes a queue message body for queue `queue`.
pub fn decode_message<T: DeserializeOwned>(bytes: &[u8], queue: &str) -> Result<T, Error> {
    rivet_client::codec::decode(bytes).map_err(|e| {
        Error::public(codes::VALIDATION_ERROR.with_message(format!(
            "message for queue `{queue}`: {}",
            describe_de_error(&e)
        )))
    })
}

/// A queue message body as what is stored: decoded as the queue's message type `T` and encoded
/// again, so a message keeps only what its type holds (fields the type does not know are not
/// stored, whatever a client sends).
pub fn typed_message<T: DeserializeOwned + serde::Serialize>(
    bytes: &[u8],
    queue: &str,
) -> Result<Bytes, Error> {
    let value: T = decode_message(bytes, queue)?;
    rivet_client::codec::to_cbor(&value).map_err(|e| {
        Error::public(codes::VALIDATION_ERROR.with_message(format!(
            "message for queue `{queue}` cannot be encoded again: {e}"
        )))
    })
}

/// The error for an unknown queue.
pub fn queue_not_found(name: &str) -> Error {
    Error::public(codes::QUEUE_NOT_FOUND.with_message(format!("Queue `{name}` was not found.")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_bad_ones_are_corrupt() {
        let message = Message {
            id: 7,
            name: "jobs".to_owned(),
            body: Bytes::from_static(&[0x18, 42]),
        };
        let record = message.encode_record(1_700_000_000_000).expect("encode");
        assert_eq!(
            Message::decode_record(7, &record).expect("decode"),
            (message.clone(), Some(1_700_000_000_000))
        );
        // As stored before the time was kept: `(name, body)`.
        let mut old = Vec::new();
        ciborium::into_writer(&("jobs", ByteStr(&[0x18, 42])), &mut old).expect("encode");
        assert_eq!(
            Message::decode_record(7, &old).expect("decode"),
            (message.clone(), None)
        );
        assert_eq!(message.decode::<u8>().expect("body"), 42);
        let error = Message::decode_record(7, &[0xff]).expect_err("corrupt");
        assert!(matches!(error, StorageError::Corrupt { .. }), "{error}");
        let error = message.decode::<String>().expect_err("wrong type");
        assert_eq!(error.to_actor_error().full_code(), "actor.validation_error");
    }
}
