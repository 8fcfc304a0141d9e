//! `dbPragmaMigrationActor` (db-pragma-migration.ts): a schema that grows through migrations
//! counted by `PRAGMA user_version` (RivetKit's fixture reads and sets it in `onMigrate`; the
//! `migrations` list does the same, one version per entry).

use std::time::Duration;

use rivet_core::prelude::*;

/// One row of `items`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Item {
    id: i64,
    name: String,
    status: String,
}

/// No state: everything is in the database.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct DbPragmaMigrationActor {}

#[actor(
    name = "dbPragmaMigrationActor",
    migrations = &[
        "CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL)",
        "ALTER TABLE items ADD COLUMN status TEXT NOT NULL DEFAULT 'active'",
    ],
    options = ActorOptions::new()
        .action_timeout(Duration::from_secs(120))
        .sleep_timeout(Duration::from_millis(100))
)]
impl DbPragmaMigrationActor {
    #[action]
    fn insert_item(&self, cx: &mut Cx<Self>, name: String) -> Result<serde_json::Value, Error> {
        let db = cx.db()?;
        db.execute("INSERT INTO items (name) VALUES (?)", (name,))?;
        Ok(serde_json::json!({ "id": db.last_insert_rowid() }))
    }

    #[action]
    fn insert_item_with_status(
        &self,
        cx: &mut Cx<Self>,
        name: String,
        status: String,
    ) -> Result<serde_json::Value, Error> {
        let db = cx.db()?;
        db.execute(
            "INSERT INTO items (name, status) VALUES (?, ?)",
            (name, status),
        )?;
        Ok(serde_json::json!({ "id": db.last_insert_rowid() }))
    }

    #[action]
    fn get_items(&self, cx: &mut Cx<Self>) -> Result<Vec<Item>, Error> {
        cx.db()?
            .query("SELECT id, name, status FROM items ORDER BY id", ())
    }

    #[action]
    fn get_user_version(&self, cx: &mut Cx<Self>) -> Result<i64, Error> {
        Ok(cx
            .db()?
            .query_column::<i64, _>("PRAGMA user_version", ())?
            .first()
            .copied()
            .unwrap_or(0))
    }

    #[action]
    fn get_columns(&self, cx: &mut Cx<Self>) -> Result<Vec<String>, Error> {
        cx.db()?
            .query_column("SELECT name FROM pragma_table_info('items')", ())
    }

    #[action]
    fn trigger_sleep(&self, cx: &mut Cx<Self>) {
        cx.sleep();
    }
}
