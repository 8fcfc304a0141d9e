//! The `guestbook` actor, split so that clients need only its contract.
//!
//! Without the `server` feature this crate is the contract: the state and [`Entry`] types, the
//! `GuestbookEvent` enum and the typed `GuestbookClient` and `GuestbookConnection`, which
//! `#[actor]` always generates. The implementation (the method bodies, the `Actor` impl, the
//! SQLite they use) is compiled only with the feature, as `implementation(feature = "server")`
//! tells the macro. `contract-client` depends on this crate without it; `contract-server` with.

use rivet_core::prelude::*;

/// One signature in the guestbook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Who signed.
    pub name: String,
    /// What they wrote.
    pub message: String,
}

/// The guestbook's persisted state; the entries themselves are rows of its database.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Guestbook {
    signatures: u64,
}

/// The database schema (part of the implementation).
#[cfg(feature = "server")]
const MIGRATIONS: &[&str] =
    &["CREATE TABLE entry (id INTEGER PRIMARY KEY, name TEXT NOT NULL, message TEXT NOT NULL)"];

#[actor(name = "guestbook", migrations = MIGRATIONS, implementation(feature = "server"))]
impl Guestbook {
    /// Signs the book; returns how many have signed.
    #[action]
    fn sign(&mut self, cx: &mut Cx<Self>, entry: Entry) -> Result<u64, Error> {
        cx.db()?.execute(
            "INSERT INTO entry (name, message) VALUES (?1, ?2)",
            (&entry.name, &entry.message),
        )?;
        self.signatures += 1;
        cx.broadcast(GuestbookEvent::Signed(entry));
        Ok(self.signatures)
    }

    /// The latest `limit` entries, newest first.
    #[action]
    fn latest(&self, cx: &mut Cx<Self>, limit: u32) -> Result<Vec<Entry>, Error> {
        cx.db()?.query(
            "SELECT name, message FROM entry ORDER BY id DESC LIMIT ?1",
            (limit,),
        )
    }

    /// Someone signed.
    #[event]
    fn signed(entry: Entry);
}
