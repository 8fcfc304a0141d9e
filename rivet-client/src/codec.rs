//! CBOR, the payload format between clients and actors: arguments, outputs, events and messages.

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::codes;
use crate::error::ActorError;

mod fast;

/// The CBOR encoding of an empty array: the arguments of a call that takes none.
pub const EMPTY_ARRAY: &[u8] = &[0x80];

/// Encodes a value as CBOR.
///
/// ```
/// let bytes = rivet_client::codec::to_cbor(&(5,)).unwrap();
/// assert_eq!(&bytes[..], &[0x81, 0x05]);
/// ```
pub fn to_cbor<T: Serialize + ?Sized>(value: &T) -> Result<Bytes, ActorError> {
    encode(value).map_err(encode_failure)
}

/// A value the caller gave that cannot be encoded (`client.codec`).
fn encode_failure(error: ciborium::ser::Error<std::io::Error>) -> ActorError {
    codes::CLIENT_CODEC.with_message(CborError::from(error).to_string())
}

/// Encodes a value as CBOR into exactly sized `Bytes`.
pub fn encode<T: Serialize + ?Sized>(
    value: &T,
) -> Result<Bytes, ciborium::ser::Error<std::io::Error>> {
    with_buffer(|buf| {
        write(value, buf)?;
        Ok(Bytes::copy_from_slice(buf))
    })
}

/// Appends the CBOR encoding of `value` to `out`. The output is what ciborium writes, produced
/// without ciborium's per-item overhead for everything but its tag types.
pub fn write<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
) -> Result<(), ciborium::ser::Error<std::io::Error>> {
    let start = out.len();
    match fast::write(value, out) {
        Ok(()) => Ok(()),
        Err(fast::FastError::Custom(message)) => Err(ciborium::ser::Error::Value(message)),
        Err(fast::FastError::Unsupported) => {
            out.truncate(start);
            ciborium::into_writer(value, out)
        }
    }
}

/// Writes a CBOR head: major type and argument, in the shortest form.
pub fn write_head(out: &mut Vec<u8>, major: u8, value: u64) {
    fast::write_head(out, major, value);
}

/// Runs `f` with an empty per-thread scratch buffer. Encoding into it and copying the result out
/// costs one exact allocation, where a fresh `Vec` turned into `Bytes` costs two (the vector,
/// then the shared header `Bytes` adds when capacity and length differ).
pub fn with_buffer<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    thread_local! {
        static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BUFFER.with(|buffer| match buffer.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            let result = f(&mut buf);
            if buf.capacity() > 64 * 1024 {
                // Do not keep a large buffer alive for the life of the thread.
                *buf = Vec::new();
            }
            result
        }
        // Re-entered (a `Serialize` impl that encodes CBOR itself): use a fresh buffer.
        Err(_) => f(&mut Vec::new()),
    })
}

/// Why bytes are not the CBOR a caller expected, or why a value could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CborError {
    /// The input ends inside an item.
    #[error("truncated CBOR")]
    Truncated,
    /// An initial byte whose additional information is reserved.
    #[error("malformed CBOR head 0x{0:02x}")]
    MalformedHead(u8),
    /// A chunk of an indefinite-length string that is not a definite string of the same type.
    #[error("malformed indefinite-length string")]
    MalformedIndefiniteString,
    /// An indefinite-length map with an odd number of items.
    #[error("map with a key and no value")]
    KeyWithoutValue,
    /// A break code outside an indefinite-length item.
    #[error("unexpected CBOR break")]
    UnexpectedBreak,
    /// Arrays, maps or tags nested deeper than the decoders accept.
    #[error("CBOR nested too deeply")]
    TooDeep,
    /// Bytes after the one item expected.
    #[error("trailing bytes after the CBOR item")]
    TrailingBytes,
    /// Not an array where one is required.
    #[error("expected an array")]
    NotAnArray,
    /// Input the decoder could not parse, at this byte offset.
    #[error("malformed CBOR at byte {offset}")]
    Syntax {
        /// The offset of the offending byte.
        offset: usize,
    },
    /// Well-formed CBOR that does not match the requested type (`invalid type: ...`).
    #[error("{message}")]
    Mismatch {
        /// The byte offset, when the decoder knows it.
        offset: Option<usize>,
        /// What did not match, as serde words it.
        message: String,
    },
    /// The input ended while the decoder was reading it.
    #[error("truncated CBOR ({detail})")]
    Read {
        /// The reader's error.
        detail: String,
    },
    /// A value that cannot be encoded as CBOR (a `Serialize` impl failed).
    #[error("cannot encode value as CBOR: {message}")]
    Encode {
        /// The serializer's message.
        message: String,
    },
}

impl CborError {
    /// The typed form of a ciborium decoding error.
    pub fn from_de<E: std::fmt::Debug>(error: &ciborium::de::Error<E>) -> Self {
        match error {
            ciborium::de::Error::Semantic(offset, message) => Self::Mismatch {
                offset: *offset,
                message: message.clone(),
            },
            ciborium::de::Error::Syntax(offset) => Self::Syntax { offset: *offset },
            ciborium::de::Error::Io(e) => Self::Read {
                detail: format!("{e:?}"),
            },
            ciborium::de::Error::RecursionLimitExceeded => Self::TooDeep,
        }
    }
}

impl<E: std::fmt::Debug> From<ciborium::de::Error<E>> for CborError {
    fn from(error: ciborium::de::Error<E>) -> Self {
        Self::from_de(&error)
    }
}

impl From<ciborium::ser::Error<std::io::Error>> for CborError {
    fn from(error: ciborium::ser::Error<std::io::Error>) -> Self {
        let message = match error {
            ciborium::ser::Error::Value(message) => message,
            ciborium::ser::Error::Io(e) => e.to_string(),
        };
        Self::Encode { message }
    }
}

/// Decodes a CBOR value; the error says what did not match.
pub fn from_cbor<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CborError> {
    decode(bytes).map_err(CborError::from)
}

/// Decodes a CBOR value with ciborium, reusing a per-thread scratch buffer (ciborium's own
/// `from_reader` zeroes a fresh 4 KiB buffer on every call).
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ciborium::de::Error<std::io::Error>> {
    thread_local! {
        static SCRATCH: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; 4096]);
    }
    if let Some(scalar) = fast::Scalar::parse(bytes)
        && let Ok(value) = T::deserialize(scalar)
    {
        return Ok(value);
    }
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut scratch) => ciborium::de::from_reader_with_buffer(bytes, &mut scratch[..]),
        // A `Deserialize` impl that decodes CBOR itself: give the inner call its own buffer.
        Err(_) => ciborium::from_reader(bytes),
    })
}

/// Decodes the CBOR output of an action, mapping failure to `client.codec`.
pub fn decode_output<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ActorError> {
    from_cbor(bytes)
        .map_err(|e| codes::CLIENT_CODEC.with_message(format!("cannot decode response: {e}")))
}

/// Builds a CBOR array one element at a time (the arguments of a call or an event), in a reused
/// buffer. Elements are encoded separately, so a type error names the element that caused it.
///
/// ```
/// use rivet_client::codec::encode_array;
///
/// let bytes = encode_array(2, |args| {
///     args.push(&5)?;
///     args.push("a")
/// })
/// .unwrap();
/// assert_eq!(&bytes[..], &[0x82, 0x05, 0x61, b'a']);
/// ```
pub fn encode_array<F>(len: usize, fill: F) -> Result<Bytes, ActorError>
where
    F: FnOnce(&mut ArrayEncoder<'_>) -> Result<(), ActorError>,
{
    with_buffer(|out| {
        fast::write_head(out, 4, len as u64);
        fill(&mut ArrayEncoder { out })?;
        Ok(Bytes::copy_from_slice(out))
    })
}

/// The elements of an array being built by [`encode_array`].
#[derive(Debug)]
pub struct ArrayEncoder<'a> {
    out: &'a mut Vec<u8>,
}

impl ArrayEncoder<'_> {
    /// Appends one element.
    pub fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ActorError> {
        write(value, self.out).map_err(encode_failure)
    }
}

/// Reads a CBOR array one element at a time, each into its own type, without building an
/// intermediate value tree.
#[derive(Debug)]
pub struct ArrayDecoder<'a> {
    rest: &'a [u8],
    len: usize,
    taken: usize,
}

impl<'a> ArrayDecoder<'a> {
    /// Checks that `bytes` holds exactly one well-formed CBOR array.
    ///
    /// The error is text because the code `#[actor]` generates for event decoders returns it as
    /// such.
    pub fn new(bytes: &'a [u8]) -> Result<Self, String> {
        Self::scan(bytes).map_err(|e| e.to_string())
    }

    fn scan(bytes: &'a [u8]) -> Result<Self, CborError> {
        let (head, value, body) = read_head(bytes)?;
        if head >> 5 != 4 {
            return Err(CborError::NotAnArray);
        }
        let mut rest = body;
        let mut len = 0usize;
        match value {
            Some(n) => {
                for _ in 0..n {
                    rest = &rest[item_len(rest, 0)?..];
                    len += 1;
                }
            }
            // Indefinite length: items until a break.
            None => loop {
                match rest.first() {
                    Some(0xff) => {
                        rest = &rest[1..];
                        break;
                    }
                    Some(_) => {
                        rest = &rest[item_len(rest, 0)?..];
                        len += 1;
                    }
                    None => return Err(CborError::Truncated),
                }
            },
        }
        if !rest.is_empty() {
            return Err(CborError::TrailingBytes);
        }
        let items = &body[..body.len() - rest.len()];
        Ok(Self {
            rest: items,
            len,
            taken: 0,
        })
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
        if self.taken == self.len {
            return None;
        }
        self.taken += 1;
        // `new` checked every element, so this cannot fail; stay defensive anyway.
        let end = match item_len(self.rest, 0) {
            Ok(end) => end,
            Err(e) => return Some(Err(e.to_string())),
        };
        let (item, rest) = self.rest.split_at(end);
        self.rest = rest;
        Some(decode(item).map_err(|e| describe_de_error(&e)))
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

/// How deep arrays, maps and tags may nest before input is refused (stack safety).
const MAX_DEPTH: usize = 256;

/// Reads an item head: the initial byte, its argument (`None` for indefinite length) and the
/// bytes after the head.
fn read_head(bytes: &[u8]) -> Result<(u8, Option<u64>, &[u8]), CborError> {
    let (&initial, rest) = bytes.split_first().ok_or(CborError::Truncated)?;
    let info = initial & 0x1f;
    let size = match info {
        0..=23 => return Ok((initial, Some(u64::from(info)), rest)),
        24 => 1,
        25 => 2,
        26 => 4,
        27 => 8,
        31 => return Ok((initial, None, rest)),
        _ => return Err(CborError::MalformedHead(initial)),
    };
    if rest.len() < size {
        return Err(CborError::Truncated);
    }
    let mut value = 0u64;
    for byte in &rest[..size] {
        value = (value << 8) | u64::from(*byte);
    }
    Ok((initial, Some(value), &rest[size..]))
}

/// The length in bytes of the first CBOR item in `bytes`, checking it is well formed.
fn item_len(bytes: &[u8], depth: usize) -> Result<usize, CborError> {
    walk(bytes, depth, &mut false)
}

/// Whether `bytes` (one well-formed CBOR item) contains an array of two elements whose first is
/// a text starting with `$`: the shape RivetKit's JSON-compat layer uses for tagged values, which
/// must be escaped or revived at the wire boundary. Malformed input answers `true`, sending the
/// caller down its full (and validating) path.
pub(crate) fn has_dollar_pair(bytes: &[u8]) -> bool {
    let mut found = false;
    walk(bytes, 0, &mut found).is_err() || found
}

/// Is this item a text string starting with `$`? (Indefinite texts count, conservatively.)
fn is_dollar_text(item: &[u8]) -> bool {
    match read_head(item) {
        Ok((initial, Some(_), body)) if initial >> 5 == 3 => body.first() == Some(&b'$'),
        Ok((initial, None, _)) => initial >> 5 == 3,
        _ => false,
    }
}

/// Walks the first CBOR item, returning its length; sets `dollar` when it meets a `$` pair.
fn walk(bytes: &[u8], depth: usize, dollar: &mut bool) -> Result<usize, CborError> {
    if depth > MAX_DEPTH {
        return Err(CborError::TooDeep);
    }
    let (initial, value, rest) = read_head(bytes)?;
    let head_len = bytes.len() - rest.len();
    let major = initial >> 5;
    let body_len = match (major, value) {
        (0 | 1, Some(_)) => 0,
        (2 | 3, Some(n)) => {
            let n = usize::try_from(n).map_err(|_| CborError::Truncated)?;
            if rest.len() < n {
                return Err(CborError::Truncated);
            }
            n
        }
        // Indefinite strings: definite chunks of the same major type, then a break.
        (2 | 3, None) => {
            let mut at = 0;
            loop {
                match rest.get(at) {
                    Some(0xff) => break at + 1,
                    Some(b) if b >> 5 == major && b & 0x1f != 31 => {
                        at += walk(&rest[at..], depth + 1, dollar)?
                    }
                    Some(_) => return Err(CborError::MalformedIndefiniteString),
                    None => return Err(CborError::Truncated),
                }
            }
        }
        (4 | 5, Some(n)) => {
            if major == 4 && n == 2 && is_dollar_text(rest) {
                *dollar = true;
            }
            let items = if major == 5 { n.saturating_mul(2) } else { n };
            let mut at = 0;
            for _ in 0..items {
                at += walk(&rest[at..], depth + 1, dollar)?;
            }
            at
        }
        (4 | 5, None) => {
            let mut at = 0;
            let mut count = 0u64;
            loop {
                match rest.get(at) {
                    Some(0xff) => break,
                    Some(_) => {
                        at += walk(&rest[at..], depth + 1, dollar)?;
                        count += 1;
                    }
                    None => return Err(CborError::Truncated),
                }
            }
            if major == 4 && count == 2 && is_dollar_text(rest) {
                *dollar = true;
            }
            if major == 5 && count % 2 == 1 {
                return Err(CborError::KeyWithoutValue);
            }
            at + 1
        }
        (6, Some(_)) => walk(rest, depth + 1, dollar)?,
        // Simple values and floats: the head is the whole item.
        (7, Some(_)) => 0,
        (7, None) => return Err(CborError::UnexpectedBreak),
        _ => return Err(CborError::MalformedHead(initial)),
    };
    Ok(head_len + body_len)
}

/// Checks that `bytes` is exactly one well-formed CBOR item.
pub fn check_item(bytes: &[u8]) -> Result<(), CborError> {
    let len = item_len(bytes, 0)?;
    if len == bytes.len() {
        Ok(())
    } else {
        Err(CborError::TrailingBytes)
    }
}

/// Renders a ciborium decoding error without its Rust debug noise (see [`CborError::from_de`]).
pub fn describe_de_error<E: std::fmt::Debug>(error: &ciborium::de::Error<E>) -> String {
    CborError::from_de(error).to_string()
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
    fn array_encoder_writes_the_length_head_then_the_items() {
        // RFC 8949 3.1: major type 4; lengths below 24 in the head byte, then 1, 2 or 4 bytes.
        let heads: [(usize, &[u8]); 7] = [
            (0, &[0x80]),
            (1, &[0x81]),
            (23, &[0x97]),
            (24, &[0x98, 24]),
            (255, &[0x98, 0xff]),
            (256, &[0x99, 0x01, 0x00]),
            (70_000, &[0x9a, 0x00, 0x01, 0x11, 0x70]),
        ];
        for (len, head) in heads {
            let items: Vec<u8> = (0..len).map(|i| (i % 7) as u8).collect();
            let encoded = encode_array(len, |enc| items.iter().try_for_each(|item| enc.push(item)));
            // Each item below 24 is one byte: itself.
            let expected = [head, &items[..]].concat();
            assert_eq!(&encoded.unwrap()[..], &expected[..], "len {len}");
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
        assert!(
            ArrayDecoder::new(&[0x81, 0x01, 0x01]).is_err(),
            "trailing bytes"
        );
    }

    #[test]
    fn array_decoder_accepts_every_well_formed_shape() {
        // Indefinite array of: a nested map, an indefinite text, a tagged bignum, a float.
        let bytes = [
            0x9f, 0xa1, 0x61, b'k', 0x82, 0x01, 0x02, 0x7f, 0x61, b'a', 0x61, b'b', 0xff, 0xc2,
            0x41, 0x05, 0xfb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0xff,
        ];
        let mut dec = ArrayDecoder::new(&bytes).unwrap();
        assert_eq!(dec.len(), 4);
        let map: std::collections::BTreeMap<String, Vec<u8>> = dec.next_as().unwrap().unwrap();
        assert_eq!(map["k"], [1, 2]);
        assert_eq!(dec.next_as::<String>().unwrap().unwrap(), "ab");
        assert!(dec.next_as::<ciborium::Value>().unwrap().is_ok());
        assert_eq!(dec.next_as::<f64>().unwrap().unwrap(), 1.5);
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing_the_stack() {
        let mut bytes = vec![0x81; 100_000];
        bytes.push(0x01);
        assert!(ArrayDecoder::new(&bytes).is_err());
    }

    #[test]
    fn a_value_that_cannot_be_encoded_is_a_codec_error() {
        struct Fails;
        impl Serialize for Fails {
            fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
                Err(serde::ser::Error::custom("boom"))
            }
        }
        let error = to_cbor(&(1, Fails)).unwrap_err();
        assert!(error.is(codes::CLIENT_CODEC), "{error}");
        assert_eq!(error.message, "cannot encode value as CBOR: boom");
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        assert!(from_cbor::<i64>(&[0xff, 0x00]).is_err());
        assert!(from_cbor::<i64>(&[]).is_err());
        let mismatch = from_cbor::<String>(&[0x05]).unwrap_err();
        assert!(
            matches!(&mismatch, CborError::Mismatch { message, .. } if message.contains("invalid type")),
            "{mismatch:?}"
        );
        assert_eq!(check_item(&[0x01, 0x01]), Err(CborError::TrailingBytes));
        assert_eq!(check_item(&[0x82, 0x01]), Err(CborError::Truncated));
        assert_eq!(check_item(&[0x1c]), Err(CborError::MalformedHead(0x1c)));
    }
}

#[cfg(test)]
mod fast_path_tests {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Serialize};

    use super::*;

    fn ciborium_bytes<T: Serialize>(value: &T) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::into_writer(value, &mut out).unwrap();
        out
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Shape {
        Unit,
        Newtype(i64),
        Tuple(u8, String),
        Struct { a: Option<bool>, b: Vec<u16> },
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Everything {
        small: u8,
        neg: i64,
        big: u64,
        wide: i128,
        text: String,
        ch: char,
        bytes: serde_bytes_like::Buf,
        list: Vec<Shape>,
        map: BTreeMap<String, Option<i32>>,
        tuple: (bool, (), f64),
        unit: (),
    }

    mod serde_bytes_like {
        use serde::{Deserialize, Deserializer, Serialize, Serializer};

        #[derive(Debug, PartialEq)]
        pub(super) struct Buf(pub(super) Vec<u8>);

        impl Serialize for Buf {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for Buf {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Ok(Buf(ciborium::Value::deserialize(d)?
                    .into_bytes()
                    .map_err(|_| serde::de::Error::custom("bytes"))?))
            }
        }
    }

    fn sample() -> Everything {
        Everything {
            small: 7,
            neg: -1_000_000,
            big: u64::MAX,
            wide: -(1i128 << 70),
            text: "héllo".to_owned(),
            ch: 'é',
            bytes: serde_bytes_like::Buf(vec![0, 1, 255]),
            list: vec![
                Shape::Unit,
                Shape::Newtype(-5),
                Shape::Tuple(3, "x".to_owned()),
                Shape::Struct {
                    a: None,
                    b: vec![1, 300, 70_000u32 as u16],
                },
            ],
            map: [("a".to_owned(), Some(-1)), ("b".to_owned(), None)].into(),
            tuple: (true, (), 0.1),
            unit: (),
        }
    }

    #[test]
    fn fast_encoding_decodes_back_with_ciborium() {
        let value = sample();
        let fast = encode(&value).unwrap();
        let back: Everything = ciborium::from_reader(&fast[..]).unwrap();
        assert_eq!(back, value);
        let back: Everything = decode(&fast).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn fast_encoding_matches_ciborium_byte_for_byte_without_floats() {
        for value in [
            Shape::Unit,
            Shape::Newtype(i64::MIN),
            Shape::Tuple(255, String::new()),
            Shape::Struct {
                a: Some(true),
                b: vec![0, 23, 24, 255, 256, 65535],
            },
        ] {
            assert_eq!(encode(&value).unwrap(), ciborium_bytes(&value), "{value:?}");
        }
        let ints: Vec<i64> = vec![0, 23, 24, -1, -24, -25, 1 << 40, i64::MIN, i64::MAX];
        assert_eq!(encode(&ints).unwrap(), ciborium_bytes(&ints));
    }

    #[test]
    fn scalars_take_the_fast_path_and_agree_with_ciborium() {
        assert_eq!(decode::<i64>(&ciborium_bytes(&-42i64)).unwrap(), -42);
        assert_eq!(decode::<u8>(&ciborium_bytes(&200u8)).unwrap(), 200);
        assert!(decode::<u8>(&ciborium_bytes(&300u16)).is_err());
        assert_eq!(decode::<Option<i64>>(&[0xf6]).unwrap(), None);
        assert_eq!(decode::<Option<i64>>(&[0x05]).unwrap(), Some(5));
        assert_eq!(decode::<String>(&ciborium_bytes(&"hi")).unwrap(), "hi");
        assert_eq!(
            decode::<Shape>(&ciborium_bytes(&Shape::Unit)).unwrap(),
            Shape::Unit
        );
        assert_eq!(decode::<f64>(&ciborium_bytes(&1.5f64)).unwrap(), 1.5);
        // JavaScript sends whole numbers as integers, also where a float is meant.
        assert_eq!(decode::<f64>(&[0x05]).unwrap(), 5.0);
        assert!(decode::<bool>(&[0xf5]).unwrap());
        assert!(decode::<bool>(&[0x01]).is_err());
        assert!(decode::<i64>(&[0x18]).is_err(), "truncated");
        assert!(
            decode::<String>(&[0x62, 0xff, 0xfe]).is_err(),
            "invalid UTF-8"
        );
    }
}
