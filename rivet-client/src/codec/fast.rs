//! A fast CBOR path for the values most calls carry. The encoder writes CBOR straight into a
//! vector for every serde data model construct ciborium writes the same way; for anything it does
//! not handle (ciborium's tag types) it steps aside and ciborium encodes the value. The decoder
//! handles a lone integer, float, boolean, null or text string without setting up ciborium;
//! everything else, and anything it fails on, goes to ciborium, so the accepted inputs are
//! ciborium's (plus integers where a float is expected, as JavaScript clients send them).

use serde::de::{self, Deserializer, Visitor};
use serde::ser::{self, Serialize};

/// Why the fast encoder stopped.
#[derive(Debug)]
pub(super) enum FastError {
    /// A construct it leaves to ciborium.
    Unsupported,
    /// The value's `Serialize` impl failed.
    Custom(String),
}

impl std::fmt::Display for FastError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unsupported => f.write_str("unsupported by the fast encoder"),
            Self::Custom(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for FastError {}

impl ser::Error for FastError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Self::Custom(msg.to_string())
    }
}

/// Appends the CBOR encoding of `value` to `out`.
pub(super) fn write<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), FastError> {
    value.serialize(Encoder { out })
}

/// Writes a CBOR head: major type and argument, in the shortest form.
pub(super) fn write_head(out: &mut Vec<u8>, major: u8, value: u64) {
    let major = major << 5;
    if value < 24 {
        out.push(major | value as u8);
    } else if let Ok(v) = u8::try_from(value) {
        out.extend_from_slice(&[major | 24, v]);
    } else if let Ok(v) = u16::try_from(value) {
        out.push(major | 25);
        out.extend_from_slice(&v.to_be_bytes());
    } else if let Ok(v) = u32::try_from(value) {
        out.push(major | 26);
        out.extend_from_slice(&v.to_be_bytes());
    } else {
        out.push(major | 27);
        out.extend_from_slice(&value.to_be_bytes());
    }
}

struct Encoder<'a> {
    out: &'a mut Vec<u8>,
}

impl Encoder<'_> {
    fn text(&mut self, s: &str) {
        write_head(self.out, 3, s.len() as u64);
        self.out.extend_from_slice(s.as_bytes());
    }

    fn int(&mut self, v: i128) -> Result<(), FastError> {
        if v >= 0 {
            let v = u64::try_from(v).map_err(|_| FastError::Unsupported)?;
            write_head(self.out, 0, v);
        } else {
            let v = u64::try_from(-1 - v).map_err(|_| FastError::Unsupported)?;
            write_head(self.out, 1, v);
        }
        Ok(())
    }

    fn collection(self, major: u8, len: Option<usize>) -> Compound<Self> {
        match len {
            Some(n) => write_head(self.out, major, n as u64),
            None => self.out.push((major << 5) | 31),
        }
        Compound {
            encoder: self,
            indefinite: len.is_none(),
        }
    }

    /// `{variant: ...}`: how ciborium writes enum variants that carry data.
    fn variant(&mut self, variant: &str) {
        self.out.push(0xa1);
        self.text(variant);
    }
}

impl<'a> ser::Serializer for Encoder<'a> {
    type Ok = ();
    type Error = FastError;
    type SerializeSeq = Compound<Encoder<'a>>;
    type SerializeTuple = Compound<Encoder<'a>>;
    type SerializeTupleStruct = Compound<Encoder<'a>>;
    type SerializeTupleVariant = Compound<Encoder<'a>>;
    type SerializeMap = Compound<Encoder<'a>>;
    type SerializeStruct = Compound<Encoder<'a>>;
    type SerializeStructVariant = Compound<Encoder<'a>>;

    fn serialize_bool(self, v: bool) -> Result<(), FastError> {
        self.out.push(if v { 0xf5 } else { 0xf4 });
        Ok(())
    }
    fn serialize_i8(mut self, v: i8) -> Result<(), FastError> {
        self.int(v.into())
    }
    fn serialize_i16(mut self, v: i16) -> Result<(), FastError> {
        self.int(v.into())
    }
    fn serialize_i32(mut self, v: i32) -> Result<(), FastError> {
        self.int(v.into())
    }
    fn serialize_i64(mut self, v: i64) -> Result<(), FastError> {
        self.int(v.into())
    }
    fn serialize_i128(mut self, v: i128) -> Result<(), FastError> {
        self.int(v)
    }
    fn serialize_u8(self, v: u8) -> Result<(), FastError> {
        write_head(self.out, 0, v.into());
        Ok(())
    }
    fn serialize_u16(self, v: u16) -> Result<(), FastError> {
        write_head(self.out, 0, v.into());
        Ok(())
    }
    fn serialize_u32(self, v: u32) -> Result<(), FastError> {
        write_head(self.out, 0, v.into());
        Ok(())
    }
    fn serialize_u64(self, v: u64) -> Result<(), FastError> {
        write_head(self.out, 0, v);
        Ok(())
    }
    fn serialize_u128(self, v: u128) -> Result<(), FastError> {
        let v = u64::try_from(v).map_err(|_| FastError::Unsupported)?;
        write_head(self.out, 0, v);
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Result<(), FastError> {
        self.out.push(0xfa);
        self.out.extend_from_slice(&v.to_bits().to_be_bytes());
        Ok(())
    }
    fn serialize_f64(self, v: f64) -> Result<(), FastError> {
        // Like ciborium, use single precision when it loses nothing.
        let single = v as f32;
        if f64::from(single) == v || v.is_nan() {
            return self.serialize_f32(single);
        }
        self.out.push(0xfb);
        self.out.extend_from_slice(&v.to_bits().to_be_bytes());
        Ok(())
    }
    fn serialize_char(mut self, v: char) -> Result<(), FastError> {
        let mut buf = [0u8; 4];
        self.text(v.encode_utf8(&mut buf));
        Ok(())
    }
    fn serialize_str(mut self, v: &str) -> Result<(), FastError> {
        self.text(v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), FastError> {
        write_head(self.out, 2, v.len() as u64);
        self.out.extend_from_slice(v);
        Ok(())
    }
    fn serialize_none(self) -> Result<(), FastError> {
        self.out.push(0xf6);
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), FastError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), FastError> {
        self.out.push(0xf6);
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), FastError> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(
        mut self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), FastError> {
        self.text(variant);
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), FastError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        mut self,
        name: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), FastError> {
        if name == "@@TAG@@" {
            return Err(FastError::Unsupported);
        }
        self.variant(variant);
        value.serialize(self)
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Self::SerializeSeq, FastError> {
        Ok(self.collection(4, len))
    }
    fn serialize_tuple(self, len: usize) -> Result<Self::SerializeTuple, FastError> {
        Ok(self.collection(4, Some(len)))
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleStruct, FastError> {
        Ok(self.collection(4, Some(len)))
    }
    fn serialize_tuple_variant(
        mut self,
        name: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleVariant, FastError> {
        if name == "@@TAG@@" {
            return Err(FastError::Unsupported);
        }
        self.variant(variant);
        Ok(self.collection(4, Some(len)))
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Self::SerializeMap, FastError> {
        Ok(self.collection(5, len))
    }
    fn serialize_struct(
        self,
        _: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStruct, FastError> {
        Ok(self.collection(5, Some(len)))
    }
    fn serialize_struct_variant(
        mut self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStructVariant, FastError> {
        self.variant(variant);
        Ok(self.collection(5, Some(len)))
    }
    fn is_human_readable(&self) -> bool {
        false
    }
}

struct Compound<E> {
    encoder: E,
    indefinite: bool,
}

impl Compound<Encoder<'_>> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), FastError> {
        value.serialize(Encoder {
            out: &mut *self.encoder.out,
        })
    }

    fn finish(self) -> Result<(), FastError> {
        if self.indefinite {
            self.encoder.out.push(0xff);
        }
        Ok(())
    }
}

/// Serde's sequence-like compounds are all a CBOR array (or a variant's payload) whose items
/// are written in turn: one impl, generated for each trait.
macro_rules! sequence_compound {
    ($($name:ident::$method:ident),*) => {$(
        impl ser::$name for Compound<Encoder<'_>> {
            type Ok = ();
            type Error = FastError;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), FastError> {
                self.element(value)
            }
            fn end(self) -> Result<(), FastError> {
                self.finish()
            }
        }
    )*};
}

sequence_compound!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

/// Structs and struct variants are CBOR maps keyed by field name.
macro_rules! struct_compound {
    ($($name:ident),*) => {$(
        impl ser::$name for Compound<Encoder<'_>> {
            type Ok = ();
            type Error = FastError;
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<(), FastError> {
                self.encoder.text(key);
                self.element(value)
            }
            fn end(self) -> Result<(), FastError> {
                self.finish()
            }
        }
    )*};
}

struct_compound!(SerializeStruct, SerializeStructVariant);

impl ser::SerializeMap for Compound<Encoder<'_>> {
    type Ok = ();
    type Error = FastError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), FastError> {
        self.element(key)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), FastError> {
        self.element(value)
    }
    fn end(self) -> Result<(), FastError> {
        self.finish()
    }
}

/// A lone scalar CBOR item, decoded without ciborium.
#[derive(Debug, Clone, Copy)]
pub(super) enum Scalar<'a> {
    Unsigned(u64),
    Signed(i64),
    Float(f64),
    Bool(bool),
    Null,
    Text(&'a str),
}

impl<'a> Scalar<'a> {
    /// `Some` when `bytes` is exactly one scalar item this path handles.
    pub(super) fn parse(bytes: &'a [u8]) -> Option<Self> {
        let (&initial, rest) = bytes.split_first()?;
        let info = initial & 0x1f;
        let (value, rest) = match info {
            0..=23 => (u64::from(info), rest),
            24..=27 => {
                let size = 1usize << (info - 24);
                if rest.len() < size {
                    return None;
                }
                let mut value = 0u64;
                for byte in &rest[..size] {
                    value = (value << 8) | u64::from(*byte);
                }
                (value, &rest[size..])
            }
            _ => return None,
        };
        let scalar = match initial >> 5 {
            0 if rest.is_empty() => Self::Unsigned(value),
            1 if rest.is_empty() => Self::Signed(-1 - i64::try_from(value).ok()?),
            3 => {
                let len = usize::try_from(value).ok()?;
                if rest.len() != len {
                    return None;
                }
                Self::Text(std::str::from_utf8(rest).ok()?)
            }
            7 if rest.is_empty() => match (initial, info) {
                (0xf4, _) => Self::Bool(false),
                (0xf5, _) => Self::Bool(true),
                (0xf6, _) => Self::Null,
                (_, 26) => Self::Float(f64::from(f32::from_bits(u32::try_from(value).ok()?))),
                (_, 27) => Self::Float(f64::from_bits(value)),
                _ => return None,
            },
            _ => return None,
        };
        Some(scalar)
    }
}

impl<'de> Deserializer<'de> for Scalar<'de> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self {
            Self::Unsigned(n) => visitor.visit_u64(n),
            Self::Signed(n) => visitor.visit_i64(n),
            Self::Float(f) => visitor.visit_f64(f),
            Self::Bool(b) => visitor.visit_bool(b),
            Self::Null => visitor.visit_unit(),
            Self::Text(s) => visitor.visit_borrowed_str(s),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self {
            Self::Null => visitor.visit_none(),
            other => visitor.visit_some(other),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        match self {
            Self::Text(s) => visitor.visit_enum(de::value::BorrowedStrDeserializer::new(s)),
            _ => Err(de::Error::custom("not a unit variant")),
        }
    }

    fn is_human_readable(&self) -> bool {
        false
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}
