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

/// Builds a CBOR array one element at a time: the arguments of a call or an event. Elements are
/// encoded separately, so a type error names the element that caused it.
///
/// ```
/// use rivet_client::codec::ArrayEncoder;
///
/// let mut args = ArrayEncoder::new(2);
/// args.push(&5).unwrap();
/// args.push("a").unwrap();
/// assert_eq!(&args.finish()[..], &[0x82, 0x05, 0x61, b'a']);
/// ```
#[derive(Debug)]
pub struct ArrayEncoder {
    out: Vec<u8>,
}

impl ArrayEncoder {
    /// Starts an array of `len` elements.
    pub fn new(len: usize) -> Self {
        let mut out = Vec::with_capacity(16);
        write_head(&mut out, 4, len as u64);
        Self { out }
    }

    /// Appends one element.
    pub fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ActorError> {
        ciborium::into_writer(value, &mut self.out).map_err(|e| {
            codes::CLIENT_CODEC.with_message(format!("cannot encode value as CBOR: {e}"))
        })
    }

    /// The encoded array.
    pub fn finish(self) -> Bytes {
        Bytes::from(self.out)
    }
}

/// Writes a CBOR head: major type and argument, in the shortest form.
fn write_head(out: &mut Vec<u8>, major: u8, value: u64) {
    let major = major << 5;
    match value {
        0..=23 => out.push(major | value as u8),
        24..=0xff => out.extend_from_slice(&[major | 24, value as u8]),
        0x100..=0xffff => {
            out.push(major | 25);
            out.extend_from_slice(&(value as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(major | 26);
            out.extend_from_slice(&(value as u32).to_be_bytes());
        }
        _ => {
            out.push(major | 27);
            out.extend_from_slice(&value.to_be_bytes());
        }
    }
}

/// Reads a CBOR array one element at a time, each into its own type.
#[derive(Debug)]
pub struct ArrayDecoder {
    values: std::vec::IntoIter<ciborium::Value>,
    len: usize,
}

impl ArrayDecoder {
    /// Parses `bytes`, which must hold one CBOR array.
    pub fn new(bytes: &[u8]) -> Result<Self, String> {
        match ciborium::from_reader::<ciborium::Value, _>(bytes) {
            Ok(ciborium::Value::Array(values)) => Ok(Self {
                len: values.len(),
                values: values.into_iter(),
            }),
            Ok(_) => Err("expected an array".to_owned()),
            Err(e) => Err(format!("not valid CBOR: {}", describe_de_error(&e))),
        }
    }

    /// How many elements the array has.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the array is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Decodes the next element; `None` when there are no more.
    pub fn next_as<T: DeserializeOwned>(&mut self) -> Option<Result<T, String>> {
        let value = self.values.next()?;
        Some(value.deserialized::<T>().map_err(|e| e.to_string()))
    }

    /// Decodes the next element; a missing one decodes as `null` (so an `Option` may be left
    /// out, as in JavaScript) and otherwise is an error.
    pub fn next_or_null<T: DeserializeOwned>(&mut self) -> Result<T, String> {
        match self.next_as() {
            Some(result) => result,
            None => T::deserialize(
                serde::de::IntoDeserializer::<serde::de::value::Error>::into_deserializer(()),
            )
            .map_err(|_| "missing value".to_owned()),
        }
    }
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
    fn array_encoder_matches_tuple_encoding() {
        for len in [0usize, 1, 23, 24, 255, 256, 70_000] {
            let items: Vec<u8> = (0..len).map(|i| (i % 7) as u8).collect();
            let mut enc = ArrayEncoder::new(len);
            for item in &items {
                enc.push(item).unwrap();
            }
            assert_eq!(enc.finish(), to_cbor(&items).unwrap(), "len {len}");
        }
    }

    #[test]
    fn array_decoder_takes_typed_elements() {
        let bytes = to_cbor(&(1, "two", Some(3))).unwrap();
        let mut dec = ArrayDecoder::new(&bytes).unwrap();
        assert_eq!(dec.len(), 3);
        assert_eq!(dec.next_as::<i64>(), Some(Ok(1)));
        assert!(dec.next_as::<i64>().unwrap().is_err());
        assert_eq!(dec.next_or_null::<Option<i64>>(), Ok(Some(3)));
        assert_eq!(dec.next_or_null::<Option<i64>>(), Ok(None));
        assert!(dec.next_or_null::<i64>().is_err());
        assert!(ArrayDecoder::new(&[0x05]).is_err());
        assert!(ArrayDecoder::new(&[0x82, 0x01]).is_err());
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
