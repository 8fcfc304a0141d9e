//! `dbActorRaw` (actor-db-raw.ts) and `dbActorDrizzle` (actor-db-drizzle.ts): one table,
//! written and read in many shapes. RivetKit's two fixtures differ only in how they reach the
//! database (raw SQL, or the Drizzle ORM over the same schema); the Rust actors share one
//! implementation through `db_actor!`.

use std::time::Duration;

use rivet_core::prelude::*;

use crate::js::now_ms_int as now_ms;

/// The table both actors use.
const MIGRATIONS: &[&str] = &["CREATE TABLE IF NOT EXISTS test_data (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    value TEXT NOT NULL,
    payload TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
)"];

fn payload(size: i64) -> String {
    "x".repeat(usize::try_from(size.max(0)).unwrap_or(0))
}

fn count(db: &mut rivet_core::db::Db, sql: &str) -> Result<i64, Error> {
    Ok(db
        .query_column::<i64, _>(sql, ())?
        .first()
        .copied()
        .unwrap_or(0))
}

/// A row of `test_data`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Row {
    id: i64,
    value: String,
    payload: String,
    created_at: i64,
}

/// An id and a value.
#[derive(Debug, Serialize, Deserialize)]
pub struct IdValue {
    id: i64,
    value: String,
}

macro_rules! db_actor {
    ($ty:ident, $name:literal) => {
        /// Whether a closing connection leaves a row behind, and after how long.
        #[derive(Debug, Default, Serialize, Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub struct $ty {
            disconnect_insert_enabled: bool,
            disconnect_insert_delay_ms: u64,
        }

        #[actor(
            name = $name,
            migrations = MIGRATIONS,
            options = ActorOptions::new()
                .action_timeout(Duration::from_secs(120))
                .sleep_timeout(Duration::from_millis(100))
        )]
        impl $ty {
            #[on_disconnect]
            async fn disconnected(&mut self, cx: &mut Cx<Self>) -> Result<(), Error> {
                if !self.disconnect_insert_enabled {
                    return Ok(());
                }
                if self.disconnect_insert_delay_ms > 0 {
                    tokio::time::sleep(Duration::from_millis(self.disconnect_insert_delay_ms))
                        .await;
                }
                cx.db()?.execute(
                    "INSERT INTO test_data (value, payload, created_at) VALUES ('__disconnect__', '', ?)",
                    (now_ms(),),
                )?;
                Ok(())
            }

            #[action]
            fn configure_disconnect_insert(&mut self, enabled: bool, delay_ms: f64) {
                self.disconnect_insert_enabled = enabled;
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let delay = delay_ms.max(0.0).floor() as u64;
                self.disconnect_insert_delay_ms = delay;
            }

            #[action]
            fn get_disconnect_insert_count(&self, cx: &mut Cx<Self>) -> Result<i64, Error> {
                count(
                    cx.db()?,
                    "SELECT COUNT(*) FROM test_data WHERE value = '__disconnect__'",
                )
            }

            #[action]
            fn reset(&self, cx: &mut Cx<Self>) -> Result<(), Error> {
                cx.db()?.execute("DELETE FROM test_data", ())?;
                Ok(())
            }

            #[action]
            fn insert_value(&self, cx: &mut Cx<Self>, value: String) -> Result<serde_json::Value, Error> {
                let db = cx.db()?;
                db.execute(
                    "INSERT INTO test_data (value, payload, created_at) VALUES (?, '', ?)",
                    (value, now_ms()),
                )?;
                Ok(serde_json::json!({ "id": db.last_insert_rowid() }))
            }

            #[action]
            fn get_values(&self, cx: &mut Cx<Self>) -> Result<Vec<Row>, Error> {
                cx.db()?.query("SELECT * FROM test_data ORDER BY id", ())
            }

            #[action]
            fn get_value(&self, cx: &mut Cx<Self>, id: i64) -> Result<Option<String>, Error> {
                Ok(cx
                    .db()?
                    .query_column::<String, _>("SELECT value FROM test_data WHERE id = ?", (id,))?
                    .into_iter()
                    .next())
            }

            #[action]
            fn get_count(&self, cx: &mut Cx<Self>) -> Result<i64, Error> {
                count(cx.db()?, "SELECT COUNT(*) FROM test_data")
            }

            #[action]
            fn raw_select_count(&self, cx: &mut Cx<Self>) -> Result<i64, Error> {
                count(cx.db()?, "SELECT COUNT(*) FROM test_data")
            }

            #[action]
            fn insert_many(&self, cx: &mut Cx<Self>, n: i64) -> Result<serde_json::Value, Error> {
                if n <= 0 {
                    return Ok(serde_json::json!({ "count": 0 }));
                }
                let now = now_ms();
                let db = cx.db()?;
                db.transaction(|db| {
                    for i in 0..n {
                        db.execute(
                            "INSERT INTO test_data (value, payload, created_at) VALUES (?, '', ?)",
                            (format!("User {i}"), now),
                        )?;
                    }
                    Ok(())
                })?;
                Ok(serde_json::json!({ "count": n }))
            }

            #[action]
            fn update_value(&self, cx: &mut Cx<Self>, id: i64, value: String) -> Result<serde_json::Value, Error> {
                cx.db()?
                    .execute("UPDATE test_data SET value = ? WHERE id = ?", (value, id))?;
                Ok(serde_json::json!({ "success": true }))
            }

            #[action]
            fn delete_value(&self, cx: &mut Cx<Self>, id: i64) -> Result<(), Error> {
                cx.db()?.execute("DELETE FROM test_data WHERE id = ?", (id,))?;
                Ok(())
            }

            #[action]
            fn transaction_commit(&self, cx: &mut Cx<Self>, value: String) -> Result<(), Error> {
                cx.db()?.transaction(|db| {
                    db.execute(
                        "INSERT INTO test_data (value, payload, created_at) VALUES (?, '', ?)",
                        (value, now_ms()),
                    )?;
                    Ok(())
                })
            }

            /// Inserts in a transaction that rolls back, so nothing stays.
            #[action]
            fn transaction_rollback(&self, cx: &mut Cx<Self>, value: String) -> Result<(), Error> {
                let db = cx.db()?;
                db.execute_batch("BEGIN")?;
                db.execute(
                    "INSERT INTO test_data (value, payload, created_at) VALUES (?, '', ?)",
                    (value, now_ms()),
                )?;
                db.execute_batch("ROLLBACK")
            }

            #[action]
            fn insert_payload_of_size(&self, cx: &mut Cx<Self>, size: i64) -> Result<serde_json::Value, Error> {
                let db = cx.db()?;
                db.execute(
                    "INSERT INTO test_data (value, payload, created_at) VALUES ('payload', ?, ?)",
                    (payload(size), now_ms()),
                )?;
                Ok(serde_json::json!({ "id": db.last_insert_rowid(), "size": size }))
            }

            #[action]
            fn get_payload_size(&self, cx: &mut Cx<Self>, id: i64) -> Result<i64, Error> {
                Ok(cx
                    .db()?
                    .query_column::<i64, _>("SELECT length(payload) FROM test_data WHERE id = ?", (id,))?
                    .first()
                    .copied()
                    .unwrap_or(0))
            }

            #[action]
            fn insert_payload_rows(&self, cx: &mut Cx<Self>, n: i64, payload_size: i64) -> Result<serde_json::Value, Error> {
                let n = n.max(0);
                let body = payload(payload_size);
                let now = now_ms();
                let db = cx.db()?;
                for i in 0..n {
                    db.execute(
                        "INSERT INTO test_data (value, payload, created_at) VALUES (?, ?, ?)",
                        (format!("bulk-{i}"), body.clone(), now),
                    )?;
                }
                Ok(serde_json::json!({ "count": n }))
            }

            #[action]
            fn round_robin_update_values(&self, cx: &mut Cx<Self>, row_ids: Vec<i64>, iterations: i64) -> Result<Vec<IdValue>, Error> {
                let mut ids: Vec<i64> = Vec::new();
                for id in row_ids.into_iter().filter(|id| *id > 0) {
                    if !ids.contains(&id) {
                        ids.push(id);
                    }
                }
                if ids.is_empty() || iterations <= 0 {
                    return Ok(Vec::new());
                }
                let db = cx.db()?;
                for i in 0..iterations {
                    let id = ids[usize::try_from(i).unwrap_or(0) % ids.len()];
                    db.execute("UPDATE test_data SET value = ? WHERE id = ?", (format!("v-{i}"), id))?;
                }
                let list = ids.iter().map(ToString::to_string).collect::<Vec<_>>().join(",");
                db.query(&format!("SELECT id, value FROM test_data WHERE id IN ({list}) ORDER BY id"), ())
            }

            #[action]
            fn get_page_count(&self, cx: &mut Cx<Self>) -> Result<i64, Error> {
                count(cx.db()?, "PRAGMA page_count")
            }

            #[action]
            fn vacuum(&self, cx: &mut Cx<Self>) -> Result<(), Error> {
                cx.db()?.execute_batch("VACUUM")
            }

            #[action]
            fn integrity_check(&self, cx: &mut Cx<Self>) -> Result<String, Error> {
                Ok(cx
                    .db()?
                    .query_column::<String, _>("PRAGMA integrity_check", ())?
                    .into_iter()
                    .next()
                    .unwrap_or_default())
            }

            #[action]
            fn run_mixed_workload(&self, cx: &mut Cx<Self>, seed_count: i64, churn_count: i64) -> Result<(), Error> {
                let seed_count = seed_count.max(1);
                let churn_count = churn_count.max(0);
                let now = now_ms();
                let db = cx.db()?;
                for i in 0..seed_count {
                    db.execute(
                        "INSERT OR REPLACE INTO test_data (id, value, payload, created_at) VALUES (?, ?, ?, ?)",
                        (i + 1, format!("seed-{i}"), payload(1024 + (i % 5) * 128), now),
                    )?;
                }
                for i in 0..churn_count {
                    let id = (i % seed_count) + 1;
                    if i % 9 == 0 {
                        db.execute("DELETE FROM test_data WHERE id = ?", (id,))?;
                    } else {
                        db.execute(
                            "INSERT OR REPLACE INTO test_data (id, value, payload, created_at) VALUES (?, ?, ?, ?)",
                            (id, format!("upd-{i}"), payload(768 + (i % 7) * 96), now + i),
                        )?;
                    }
                }
                Ok(())
            }

            #[action]
            fn repeat_update(&self, cx: &mut Cx<Self>, id: i64, n: i64) -> Result<serde_json::Value, Error> {
                if n <= 0 {
                    return Ok(serde_json::json!({ "value": "" }));
                }
                let value = cx.db()?.transaction(|db| {
                    let mut value = String::new();
                    for i in 0..n {
                        value = format!("Updated {i}");
                        db.execute("UPDATE test_data SET value = ? WHERE id = ?", (value.clone(), id))?;
                    }
                    Ok(value)
                })?;
                Ok(serde_json::json!({ "value": value }))
            }

            #[action]
            fn multi_statement_insert(&self, cx: &mut Cx<Self>, value: String) -> Result<Option<String>, Error> {
                let db = cx.db()?;
                db.transaction(|db| {
                    db.execute(
                        "INSERT INTO test_data (value, payload, created_at) VALUES (?, '', ?)",
                        (value.clone(), now_ms()),
                    )?;
                    db.execute(
                        "UPDATE test_data SET value = ? WHERE id = last_insert_rowid()",
                        (format!("{value}-updated"),),
                    )?;
                    Ok(())
                })?;
                Ok(db
                    .query_column::<String, _>("SELECT value FROM test_data ORDER BY id DESC LIMIT 1", ())?
                    .into_iter()
                    .next())
            }

            #[action]
            fn trigger_sleep(&self, cx: &mut Cx<Self>) {
                cx.sleep();
            }
        }
    };
}

db_actor!(DbActorRaw, "dbActorRaw");
db_actor!(DbActorDrizzle, "dbActorDrizzle");
