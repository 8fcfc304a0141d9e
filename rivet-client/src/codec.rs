//! CBOR, the payload format between clients and actors: arguments, outputs, events and messages.

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{ActorError, codes};

/// The CBOR encoding of an empty array: the arguments of a call that takes none.
pub const EMPTY_ARRAY: &[u8] = &[0x80];

/// Encodes a value as CBOR.
///
/// ```
/// let bytes = rivet_client::codec::to_cbor(&(5,)).unwrap();
/// assert_eq!(&bytes[..], &[0x81, 0x05]);
/// ```
pub fn to_cbor<T: Serialize + ?Sized>(value: &T) -> Result<Bytes, ActorError> {
    let mut out = Vec::with_capacity(16);
    ciborium::into_writer(value, &mut out).map_err(|e| {
        codes::CLIENT_CODEC.with_message(format!("cannot encode value as CBOR: {e}"))
    })?;
    Ok(Bytes::from(out))
}

/// Decodes a CBOR value; the error text says what did not match.
pub fn from_cbor<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    ciborium::from_reader(bytes).map_err(|e| describe_de_error(&e))
}

/// Decodes the CBOR output of an action, mapping failure to `client.codec`.
pub fn decode_output<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ActorError> {
    from_cbor(bytes)
        .map_err(|e| codes::CLIENT_CODEC.with_message(format!("cannot decode response: {e}")))
}

/// Renders a ciborium decoding error without its Rust debug noise.
pub fn describe_de_error<E: std::fmt::Debug>(error: &ciborium::de::Error<E>) -> String {
    match error {
        ciborium::de::Error::Semantic(_, msg) => msg.clone(),
        ciborium::de::Error::Syntax(offset) => format!("malformed CBOR at byte {offset}"),
        ciborium::de::Error::Io(e) => format!("truncated CBOR ({e:?})"),
        ciborium::de::Error::RecursionLimitExceeded => "CBOR nested too deeply".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuples_encode_as_arrays() {
        assert_eq!(
            &to_cbor(&(1u8, "a")).unwrap()[..],
            &[0x82, 0x01, 0x61, b'a']
        );
        let empty: [u8; 0] = [];
        assert_eq!(&to_cbor(&empty).unwrap()[..], EMPTY_ARRAY);
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        assert!(from_cbor::<i64>(&[0xff, 0x00]).is_err());
        assert!(from_cbor::<i64>(&[]).is_err());
        assert!(
            from_cbor::<String>(&[0x05])
                .unwrap_err()
                .contains("invalid type")
        );
    }
}
