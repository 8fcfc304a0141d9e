//! The stores a turn writes besides the state — the actor's KV, its schedules and its database —
//! and how their writes join the turn's batch when it commits, or vanish when it fails.

use crate::error::Error;
use crate::kv::Kv;
use crate::schedule::Schedules;
use crate::storage::Batch;

/// An activation's KV, schedules and database.
#[derive(Debug)]
pub(crate) struct Stores {
    pub(crate) kv: Kv,
    pub(crate) schedules: Schedules,
    #[cfg(feature = "sqlite")]
    pub(crate) db: Option<crate::db::Db>,
}

/// A turn's database changes, prepared before the rest of the turn is known to commit.
#[derive(Debug, Default)]
pub(crate) struct Prepared {
    #[cfg(feature = "sqlite")]
    db_pages: Batch,
    #[cfg(feature = "sqlite")]
    db_image: Option<Vec<u8>>,
}

impl Stores {
    pub(crate) fn new(kv: Kv) -> Self {
        Self {
            kv,
            schedules: Schedules::default(),
            #[cfg(feature = "sqlite")]
            db: None,
        }
    }

    /// The database's changed pages, kept apart until the state is persisted too; an error
    /// (a transaction left open) refuses the turn.
    pub(crate) fn prepare(&mut self) -> Result<Prepared, Error> {
        #[cfg(feature = "sqlite")]
        if let Some(db) = self.db.as_mut() {
            let mut db_pages = Batch::default();
            let db_image = db.prepare_turn(&mut db_pages)?;
            return Ok(Prepared { db_pages, db_image });
        }
        Ok(Prepared::default())
    }

    /// Moves the turn's writes into `batch`. The KV's writes stay visible to later turns as
    /// pending until the returned callback runs, after the batch committed (or failed).
    pub(crate) fn commit(
        &mut self,
        prepared: Prepared,
        batch: &mut Batch,
    ) -> Option<impl FnOnce() + Send + 'static + use<>> {
        #[cfg(feature = "sqlite")]
        if let (Some(db), Some(image)) = (self.db.as_mut(), prepared.db_image) {
            let mut pages = prepared.db_pages;
            batch.ops.append(&mut pages.ops);
            db.adopt(image);
        }
        #[cfg(not(feature = "sqlite"))]
        let _ = prepared;
        let kv_committed = self.kv.finish_turn(batch);
        self.schedules.finish_turn(batch);
        kv_committed
    }

    /// Drops the turn's writes. An error means the committed database could not be restored,
    /// and the activation must restart from storage.
    pub(crate) fn discard(&mut self) -> Result<(), Error> {
        self.kv.discard_turn();
        self.schedules.discard_turn();
        #[cfg(feature = "sqlite")]
        if let Some(db) = self.db.as_mut() {
            db.discard_turn()?;
        }
        Ok(())
    }
}
