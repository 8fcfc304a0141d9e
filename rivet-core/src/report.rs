//! Errors as log lines: an error followed by its chain of sources, so a log shows why, not only
//! what (`storage backend error: SQLite: disk I/O error`). The formatting is rivet-client's
//! (`report.rs`), which its network errors use as well.

pub(crate) use rivet_client::report::chain;

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
