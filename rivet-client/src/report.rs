//! Errors as text with their chain of sources, so a log line or an error message shows why, not
//! only what (`storage backend error: SQLite: disk I/O error`, `request failed: error sending
//! request: invalid peer certificate: UnknownIssuer`). rivet-core's logs use it too.

use std::error::Error as StdError;
use std::fmt;

/// Shows an error with its chain of sources; log with `error = %chain(&error)`.
#[derive(Debug)]
pub struct Chain<'a>(pub &'a (dyn StdError + 'static));

/// `error` with its chain of sources.
pub fn chain<'a>(error: &'a (dyn StdError + 'static)) -> Chain<'a> {
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
