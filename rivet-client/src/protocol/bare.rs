//! The parts of [BARE](https://baremessages.org) the client protocol uses, with the two-byte
//! little-endian version prefix of `vbare`. Readers check every length and never panic.

/// Why a BARE message did not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BareError {
    /// Fewer than the two bytes of the `vbare` version prefix.
    #[error("malformed BARE message: missing version prefix")]
    MissingVersion,
    /// The message ends inside a value.
    #[error("malformed BARE message: truncated (needed {needed} more bytes, {left} left)")]
    Truncated {
        /// The bytes the value needs.
        needed: usize,
        /// The bytes left in the message.
        left: usize,
    },
    /// A `uint` whose value does not fit 64 bits.
    #[error("malformed BARE message: uint overflows 64 bits")]
    UintOverflow,
    /// A `uint` of more than ten bytes.
    #[error("malformed BARE message: uint too long")]
    UintTooLong,
    /// A `bool` byte other than 0 or 1.
    #[error("malformed BARE message: invalid bool {0}")]
    InvalidBool(u8),
    /// An `optional` presence byte other than 0 or 1.
    #[error("malformed BARE message: invalid optional tag {0}")]
    InvalidOptionalTag(u8),
    /// A `data` length larger than this platform's address space.
    #[error("malformed BARE message: length too large")]
    LengthTooLarge,
    /// A `str` that is not UTF-8.
    #[error("malformed BARE message: invalid UTF-8 in str")]
    InvalidUtf8,
    /// Bytes after the message.
    #[error("malformed BARE message: {0} trailing bytes")]
    TrailingBytes(usize),
}

/// Builds a BARE message.
#[derive(Debug, Default)]
pub struct Writer {
    out: Vec<u8>,
}

impl Writer {
    /// A message that starts with the `vbare` version prefix.
    pub fn versioned(version: u16) -> Self {
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(&version.to_le_bytes());
        Self { out }
    }

    /// `uint`: LEB128.
    pub fn uint(&mut self, mut value: u64) -> &mut Self {
        loop {
            let byte = (value & 0x7f) as u8;
            value >>= 7;
            if value == 0 {
                self.out.push(byte);
                return self;
            }
            self.out.push(byte | 0x80);
        }
    }

    /// `u64`: eight bytes, little endian.
    pub fn u64(&mut self, value: u64) -> &mut Self {
        self.out.extend_from_slice(&value.to_le_bytes());
        self
    }

    /// `u32`: four bytes, little endian.
    pub fn u32(&mut self, value: u32) -> &mut Self {
        self.out.extend_from_slice(&value.to_le_bytes());
        self
    }

    /// `bool`.
    pub fn bool(&mut self, value: bool) -> &mut Self {
        self.out.push(u8::from(value));
        self
    }

    /// `data`: length, then bytes.
    pub fn data(&mut self, value: &[u8]) -> &mut Self {
        self.uint(value.len() as u64);
        self.out.extend_from_slice(value);
        self
    }

    /// `str`.
    pub fn str(&mut self, value: &str) -> &mut Self {
        self.data(value.as_bytes())
    }

    /// `optional<T>`: a presence byte, then the value.
    pub fn optional<T>(&mut self, value: Option<T>, write: impl FnOnce(&mut Self, T)) -> &mut Self {
        match value {
            Some(v) => {
                self.out.push(1);
                write(self, v);
            }
            None => self.out.push(0),
        }
        self
    }

    /// The message.
    pub fn finish(self) -> Vec<u8> {
        self.out
    }
}

/// Reads a BARE message.
#[derive(Debug)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over a message without version prefix.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    /// A reader over a `vbare` message; returns its version.
    pub fn versioned(bytes: &'a [u8]) -> Result<(u16, Self), BareError> {
        match bytes {
            [low, high, rest @ ..] => Ok((u16::from_le_bytes([*low, *high]), Self { rest })),
            _ => Err(BareError::MissingVersion),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], BareError> {
        if self.rest.len() < n {
            return Err(BareError::Truncated {
                needed: n,
                left: self.rest.len(),
            });
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(head)
    }

    fn byte(&mut self) -> Result<u8, BareError> {
        match self.take(1)? {
            [byte] => Ok(*byte),
            _ => Err(BareError::Truncated { needed: 1, left: 0 }),
        }
    }

    /// `uint`.
    pub fn uint(&mut self) -> Result<u64, BareError> {
        let mut value = 0u64;
        for shift in (0..70).step_by(7) {
            let byte = self.byte()?;
            if shift == 63 && byte > 1 {
                return Err(BareError::UintOverflow);
            }
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(BareError::UintTooLong)
    }

    /// `u64`.
    pub fn u64(&mut self) -> Result<u64, BareError> {
        let bytes = self.take(8)?;
        let mut array = [0u8; 8];
        array.copy_from_slice(bytes);
        Ok(u64::from_le_bytes(array))
    }

    /// `bool`.
    pub fn bool(&mut self) -> Result<bool, BareError> {
        match self.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(BareError::InvalidBool(other)),
        }
    }

    /// `data`.
    pub fn data(&mut self) -> Result<&'a [u8], BareError> {
        let len = usize::try_from(self.uint()?).map_err(|_| BareError::LengthTooLarge)?;
        self.take(len)
    }

    /// `str`.
    pub fn str(&mut self) -> Result<&'a str, BareError> {
        std::str::from_utf8(self.data()?).map_err(|_| BareError::InvalidUtf8)
    }

    /// `optional<T>`.
    pub fn optional<T>(
        &mut self,
        read: impl FnOnce(&mut Self) -> Result<T, BareError>,
    ) -> Result<Option<T>, BareError> {
        match self.byte()? {
            0 => Ok(None),
            1 => read(self).map(Some),
            other => Err(BareError::InvalidOptionalTag(other)),
        }
    }

    /// Fails unless the whole message was read.
    pub fn end(self) -> Result<(), BareError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(BareError::TrailingBytes(self.rest.len()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uint_round_trips_and_rejects_overflow() {
        for value in [0u64, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let mut w = Writer::default();
            w.uint(value);
            let bytes = w.finish();
            let mut r = Reader::new(&bytes);
            assert_eq!(r.uint().unwrap(), value);
            r.end().unwrap();
        }
        let too_big = [0xff; 10];
        assert_eq!(Reader::new(&too_big).uint(), Err(BareError::UintOverflow));
        assert_eq!(
            Reader::new(&[0x80]).uint(),
            Err(BareError::Truncated { needed: 1, left: 0 })
        );
    }

    #[test]
    fn truncated_data_is_an_error() {
        assert_eq!(
            Reader::new(&[5, b'a']).data(),
            Err(BareError::Truncated { needed: 5, left: 1 })
        );
        assert!(Reader::new(&[0xff, 0xff, 0xff, 0xff, 0x0f]).data().is_err());
        assert_eq!(
            Reader::versioned(&[4]).err(),
            Some(BareError::MissingVersion)
        );
        assert_eq!(Reader::new(&[2]).bool(), Err(BareError::InvalidBool(2)));
        assert_eq!(
            Reader::new(&[2]).optional(Reader::bool),
            Err(BareError::InvalidOptionalTag(2))
        );
        assert_eq!(Reader::new(&[1, 2]).end(), Err(BareError::TrailingBytes(2)));
    }
}
