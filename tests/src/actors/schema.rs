//! `schema`: one actor name with a database, in four migration lists, to show that a failed
//! migration takes the good ones of the same wake with it.

use rivet_core::prelude::*;

/// The first migration of every `schema` version.
const A: &str = "CREATE TABLE a (x INTEGER)";
/// A good second migration.
const B: &str = "CREATE TABLE b (x INTEGER); INSERT INTO b VALUES (1)";
/// A third migration that fails half-way: its table is created, then an insert fails.
const C_BROKEN: &str = "CREATE TABLE c (x INTEGER); INSERT INTO missing VALUES (1)";
/// The third migration, fixed.
const C_FIXED: &str = "CREATE TABLE c (x INTEGER)";
/// A second migration that only runs when the database is still at version 1, and says so.
const INSPECT: &str = "CREATE TABLE inspected (x INTEGER)";

/// `schema` with the first migration.
pub const SCHEMA_V1: &[&str] = &[A];
/// `schema` with a good and a failing migration added.
pub const SCHEMA_BROKEN: &[&str] = &[A, B, C_BROKEN];
/// `schema` with both added migrations good.
pub const SCHEMA_FIXED: &[&str] = &[A, B, C_FIXED];
/// `schema` whose second migration differs from the others': it runs (and leaves the table
/// `inspected`) only if the database was stored at version 1, so the tables it sees tell what
/// an earlier wake left in storage.
pub const SCHEMA_INSPECT: &[&str] = &[A, INSPECT];

/// What a `schema` actor's database holds: its version (`PRAGMA user_version`) and its tables,
/// by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema {
    /// How many migrations were applied.
    pub version: i64,
    /// The tables, sorted.
    pub tables: Vec<String>,
}

fn schema(db: &mut rivet_core::db::Db) -> Result<Schema, Error> {
    let version = db.query_column::<i64, _>("PRAGMA user_version", ())?;
    let tables = db.query_column::<String, _>(
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
        (),
    )?;
    Ok(Schema {
        version: version.first().copied().unwrap_or(0),
        tables,
    })
}

/// `schema` at [`SCHEMA_V1`].
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SchemaV1;

#[actor(name = "schema", migrations = SCHEMA_V1)]
impl SchemaV1 {
    /// The database's version and tables.
    #[action]
    fn schema(&self, cx: &mut Cx<Self>) -> Result<Schema, Error> {
        schema(cx.db()?)
    }
}

/// `schema` at [`SCHEMA_BROKEN`].
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SchemaBroken;

#[actor(name = "schema", migrations = SCHEMA_BROKEN)]
impl SchemaBroken {
    /// The database's version and tables.
    #[action]
    fn schema(&self, cx: &mut Cx<Self>) -> Result<Schema, Error> {
        schema(cx.db()?)
    }
}

/// `schema` at [`SCHEMA_FIXED`].
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SchemaFixed;

#[actor(name = "schema", migrations = SCHEMA_FIXED)]
impl SchemaFixed {
    /// The database's version and tables.
    #[action]
    fn schema(&self, cx: &mut Cx<Self>) -> Result<Schema, Error> {
        schema(cx.db()?)
    }
}

/// `schema` at [`SCHEMA_INSPECT`].
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SchemaInspect;

#[actor(name = "schema", migrations = SCHEMA_INSPECT)]
impl SchemaInspect {
    /// The database's version and tables.
    #[action]
    fn schema(&self, cx: &mut Cx<Self>) -> Result<Schema, Error> {
        schema(cx.db()?)
    }
}
