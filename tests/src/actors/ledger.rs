//! `ledger`: an actor with a database (`cx.db()`), in two versions of its schema.

use rivet_core::prelude::*;

/// The first version of [`Ledger`]'s schema.
pub const LEDGER_V1: &[&str] =
    &["CREATE TABLE entry (id INTEGER PRIMARY KEY, memo TEXT NOT NULL, amount INTEGER NOT NULL)"];
/// The second version adds a flag and a blob.
pub const LEDGER_V2: &[&str] = &[
    "CREATE TABLE entry (id INTEGER PRIMARY KEY, memo TEXT NOT NULL, amount INTEGER NOT NULL)",
    "ALTER TABLE entry ADD COLUMN flagged INTEGER NOT NULL DEFAULT 0; ALTER TABLE entry ADD COLUMN note BLOB",
];

/// A row of [`Ledger`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Row id.
    pub id: i64,
    /// What it is for.
    pub memo: String,
    /// How much.
    pub amount: i64,
}

/// A row of the second schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlaggedEntry {
    /// Row id.
    pub id: i64,
    /// Flag (stored as 0/1).
    pub flagged: bool,
    /// Optional bytes.
    pub note: Option<Vec<u8>>,
}

/// An actor with a database: entries, and a running total in its state.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Ledger {
    /// Sum of the amounts, kept in the state next to the rows.
    pub total: i64,
}

#[actor(name = "ledger", migrations = LEDGER_V1)]
impl Ledger {
    /// Adds an entry; fails after writing when `amount` is negative.
    #[action]
    fn add(&mut self, cx: &mut Cx<Self>, memo: String, amount: i64) -> Result<i64, Error> {
        let db = cx.db()?;
        db.execute(
            "INSERT INTO entry (memo, amount) VALUES (?1, ?2)",
            (&memo, amount),
        )?;
        let id = db.last_insert_rowid();
        self.total += amount;
        if amount < 0 {
            return Err(UserError::new("negative", "negative amounts are refused").into());
        }
        Ok(id)
    }

    /// Every entry.
    #[action]
    fn entries(&self, cx: &mut Cx<Self>) -> Result<Vec<Entry>, Error> {
        cx.db()?
            .query("SELECT id, memo, amount FROM entry ORDER BY id", ())
    }

    /// The total in the state and the sum in the database.
    #[action]
    fn totals(&self, cx: &mut Cx<Self>) -> Result<(i64, i64), Error> {
        let sum = cx
            .db()?
            .query_column::<i64, _>("SELECT COALESCE(SUM(amount), 0) FROM entry", ())?;
        Ok((self.total, sum.first().copied().unwrap_or(0)))
    }

    /// Runs arbitrary SQL.
    #[action]
    fn run(&self, cx: &mut Cx<Self>, sql: String) -> Result<usize, Error> {
        cx.db()?.execute(&sql, ())
    }

    /// Adds two entries in a transaction that fails on the second when `fail`.
    #[action]
    fn add_pair(&self, cx: &mut Cx<Self>, fail: bool) -> Result<(), Error> {
        let db = cx.db()?;
        let inner = db.transaction(|db| {
            db.execute("INSERT INTO entry (memo, amount) VALUES ('pair', 1)", ())?;
            if fail {
                return Err(Error::from(UserError::new(
                    "pair_failed",
                    "the second half failed",
                )));
            }
            db.execute("INSERT INTO entry (memo, amount) VALUES ('pair', 1)", ())?;
            Ok(())
        });
        // The failure is swallowed: the turn succeeds, the transaction's rows are gone.
        let _ = inner;
        Ok(())
    }

    /// Leaves a transaction open.
    #[action]
    fn leave_open(&self, cx: &mut Cx<Self>) -> Result<(), Error> {
        let db = cx.db()?;
        db.execute_batch("BEGIN; INSERT INTO entry (memo, amount) VALUES ('open', 1)")
    }

    /// Sleeps after this turn.
    #[action]
    fn nap(&self, cx: &mut Cx<Self>) {
        cx.sleep();
    }
}

/// [`Ledger`] after a schema change: the same actor type name, two migrations.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct LedgerV2 {
    /// As in [`Ledger`].
    pub total: i64,
}

#[actor(name = "ledger", migrations = LEDGER_V2)]
impl LedgerV2 {
    /// Flags an entry and attaches a note.
    #[action]
    fn flag(&self, cx: &mut Cx<Self>, id: i64, note: Vec<u8>) -> Result<usize, Error> {
        cx.db()?.execute(
            "UPDATE entry SET flagged = 1, note = ?2 WHERE id = ?1",
            (id, note),
        )
    }

    /// The flags and notes.
    #[action]
    fn flags(&self, cx: &mut Cx<Self>) -> Result<Vec<FlaggedEntry>, Error> {
        cx.db()?
            .query("SELECT id, flagged, note FROM entry ORDER BY id", ())
    }
}
