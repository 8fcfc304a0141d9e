//! Errors as log lines: an error followed by its chain of sources, so a log shows why, not only
//! what (`storage backend error: SQLite: disk I/O error`).

use std::error::Error as StdError;
use std::fmt;

/// Shows an error with its chain of sources; log with `error = %chain(&error)`.
pub(crate) struct Chain<'a>(pub(crate) &'a (dyn StdError + 'static));

/// `error` with its chain of sources, for a log line.
pub(crate) fn chain<'a>(error: &'a (dyn StdError + 'static)) -> Chain<'a> {
    Chain(error)
}

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(s) = source {
            write!(f, ": {s}")?;
            source = s.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_chain_shows_every_source() {
        let io = std::io::Error::other("disk I/O error");
        let error = crate::storage::StorageError::backend("SQLite", io);
        assert_eq!(
            super::chain(&error).to_string(),
            "storage backend error: SQLite: disk I/O error"
        );
    }
}
