//! CBOR byte strings in the runtime's own stored records (queue messages, schedules): serde
//! writes `&[u8]` as a list of numbers unless told it is bytes.

use serde::de::{Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// Serializes as a CBOR byte string.
pub(crate) struct ByteStr<'a>(pub(crate) &'a [u8]);

impl Serialize for ByteStr<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

/// Deserializes a CBOR byte string.
pub(crate) struct ByteBuf(pub(crate) Vec<u8>);

impl<'de> Deserialize<'de> for ByteBuf {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ByteBuf;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<ByteBuf, E> {
                Ok(ByteBuf(v.to_vec()))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<ByteBuf, E> {
                Ok(ByteBuf(v))
            }
        }
        d.deserialize_byte_buf(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_a_cbor_byte_string() {
        let mut out = Vec::new();
        ciborium::into_writer(&("q", ByteStr(&[1, 2])), &mut out).expect("encode");
        // An array of 2: text "q", then bytes(2) 01 02.
        assert_eq!(out, [0x82, 0x61, b'q', 0x42, 1, 2]);
        let (name, body): (String, ByteBuf) = ciborium::from_reader(&out[..]).expect("decode");
        assert_eq!((name.as_str(), body.0), ("q", vec![1, 2]));
    }
}
