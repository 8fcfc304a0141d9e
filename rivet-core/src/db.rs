//! [`Db`]: each actor's own SQLite database (`cx.db()`), with versioned migrations, whose pages
//! live in the actor's key space and commit with the turn.
//!
//! While the actor is awake its database runs in memory (SQLite's `memdb` VFS), loaded from the
//! pages stored under the actor; at the end of a turn that used it, the pages that changed go into
//! the turn's batch, so state, KV, queue, schedules and database commit together, or not at all:
//! a failed turn reloads the database as it was committed. Migrations, declared with
//! `#[actor(migrations = ...)]`, run once each, in a transaction, when the actor wakes.

use std::collections::BTreeMap;

use bytes::Bytes;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, MAIN_DB, OpenFlags};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::storage::{Batch, Storage, StorageError, keys};

pub use rivet_client::codes::db as codes;

/// The page size an SQLite image declares (bytes 16–17 of its header; 1 means 65536).
fn page_size(image: &[u8]) -> usize {
    match image.get(16..18) {
        Some(&[hi, lo]) => match u16::from_be_bytes([hi, lo]) {
            1 => 65536,
            0 => 4096,
            size => usize::from(size),
        },
        _ => 4096,
    }
}

fn sql_error(error: rusqlite::Error) -> Error {
    Error::public(codes::SQL_ERROR.with_message(error.to_string()))
}

/// An actor's database; see the [module docs](self).
///
/// ```
/// use rivet_core::prelude::*;
///
/// const MIGRATIONS: &[&str] = &[
///     "CREATE TABLE todo (id INTEGER PRIMARY KEY, title TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0)",
///     "CREATE INDEX todo_done ON todo (done)",
/// ];
///
/// #[derive(Serialize, Deserialize)]
/// pub struct Todo {
///     id: i64,
///     title: String,
///     done: bool,
/// }
///
/// #[derive(Default, Serialize, Deserialize)]
/// pub struct TodoList;
///
/// #[actor(name = "todoList", migrations = MIGRATIONS)]
/// impl TodoList {
///     #[action]
///     fn add(&self, cx: &mut Cx<Self>, title: String) -> Result<i64, Error> {
///         let db = cx.db()?;
///         db.execute("INSERT INTO todo (title) VALUES (?1)", (title,))?;
///         Ok(db.last_insert_rowid())
///     }
///
///     #[action]
///     fn open(&self, cx: &mut Cx<Self>) -> Result<Vec<Todo>, Error> {
///         cx.db()?.query("SELECT id, title, done FROM todo WHERE done = ?1 ORDER BY id", (false,))
///     }
/// }
/// ```
pub struct Db {
    /// In a mutex only to make `Db` `Sync` (contexts are shared across awaits); every use
    /// goes through `&mut self`, so it is never contended.
    conn: std::sync::Mutex<Connection>,
    /// The database as committed, page for page.
    committed: Vec<u8>,
    /// Whether this turn may have changed it.
    touched: bool,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("bytes", &self.committed.len())
            .finish_non_exhaustive()
    }
}

/// Opens an in-memory (`memdb`) database holding `image`.
fn open_image(image: &[u8]) -> Result<Connection, rusqlite::Error> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags("file:actor?vfs=memdb", flags)?;
    if !image.is_empty() {
        conn.deserialize_read_exact(MAIN_DB, image, image.len(), false)?;
    }
    Ok(conn)
}

impl Db {
    /// Loads an actor's database from storage and runs its pending migrations.
    pub(crate) async fn open(
        storage: &dyn Storage,
        actor: i64,
        migrations: &[&str],
    ) -> Result<Self, Error> {
        let stored = storage.scan_prefix(actor, keys::DB).await?;
        let mut len = 0usize;
        let mut pages: BTreeMap<usize, Bytes> = BTreeMap::new();
        for (key, value) in stored {
            if key[..] == *keys::DB_META {
                let bytes: [u8; 8] = value[..]
                    .try_into()
                    .map_err(|_| StorageError::corrupt("the database length"))?;
                len = usize::try_from(u64::from_be_bytes(bytes))
                    .map_err(|_| StorageError::corrupt("the database length"))?;
            } else if key.starts_with(keys::DB_PAGES) {
                let index = keys::db_page_index(&key)
                    .ok_or_else(|| StorageError::corrupt("a database page key"))?;
                pages.insert(index, value);
            }
        }
        let mut image = Vec::with_capacity(len);
        for (expected, (index, page)) in pages.into_iter().enumerate() {
            if index != expected {
                return Err(
                    StorageError::corrupt(format!("database page {expected} is missing")).into(),
                );
            }
            image.extend_from_slice(&page);
        }
        if image.len() != len {
            return Err(StorageError::corrupt(format!(
                "database has {} bytes of pages, expected {len}",
                image.len()
            ))
            .into());
        }
        let conn = open_image(&image)
            .map_err(|e| Error::internal(format!("cannot open the actor database: {e}")))?;
        let mut db = Self {
            conn: std::sync::Mutex::new(conn),
            committed: image,
            touched: false,
        };
        db.migrate(migrations)?;
        Ok(db)
    }

    /// Runs the migrations after `PRAGMA user_version`, each in its own transaction.
    fn migrate(&mut self, migrations: &[&str]) -> Result<(), Error> {
        let applied: i64 = self
            .conn()
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(sql_error)?;
        let applied = usize::try_from(applied).unwrap_or(0);
        if applied > migrations.len() {
            return Err(Error::public(codes::MIGRATION_FAILED.with_message(format!(
                "The database is at version {applied} but the actor declares only {} migrations; migrations must never be removed.",
                migrations.len()
            ))));
        }
        for (index, sql) in migrations.iter().enumerate().skip(applied) {
            self.touched = true;
            let version = index + 1;
            let script = format!("BEGIN;\n{sql};\nPRAGMA user_version = {version};\nCOMMIT;");
            if let Err(error) = self.conn().execute_batch(&script) {
                let _ = self.conn().execute_batch("ROLLBACK");
                return Err(Error::public(
                    codes::MIGRATION_FAILED
                        .with_message(format!("Migration {version} failed: {error}")),
                ));
            }
        }
        Ok(())
    }

    /// Runs one statement with `params` (a tuple or a single value, bound by position; a
    /// struct or map, bound by name to `:name`; `()` for none); returns the number of rows
    /// changed. Numbers, text, booleans (as 0 and 1), `None` (NULL) and byte strings
    /// (`Vec<u8>` or `serde_bytes`) bind; lists and maps as values are refused.
    ///
    /// ```
    /// # use rivet_core::prelude::*;
    /// # #[derive(Default, Serialize, Deserialize)]
    /// # struct Notes;
    /// #[derive(Serialize)]
    /// struct Note<'a> {
    ///     title: &'a str,
    ///     pinned: bool,
    /// }
    ///
    /// #[actor(migrations = &["CREATE TABLE note (title TEXT, pinned INTEGER)"])]
    /// impl Notes {
    ///     #[action]
    ///     fn add(&self, cx: &mut Cx<Self>, title: String) -> Result<usize, Error> {
    ///         let db = cx.db()?;
    ///         db.execute("INSERT INTO note VALUES (?, ?)", (&title, false))?;
    ///         let note = Note { title: &title, pinned: true };
    ///         db.execute("INSERT INTO note VALUES (:title, :pinned)", &note)
    ///     }
    /// }
    /// ```
    pub fn execute<P: Serialize>(&mut self, sql: &str, params: P) -> Result<usize, Error> {
        let params = to_sql_params(&params)?;
        self.touched = true;
        let mut stmt = self.conn().prepare(sql).map_err(sql_error)?;
        params.bind(&mut stmt)?;
        stmt.raw_execute().map_err(sql_error)
    }

    /// Runs several statements separated by semicolons, without parameters.
    pub fn execute_batch(&mut self, sql: &str) -> Result<(), Error> {
        self.touched = true;
        self.conn().execute_batch(sql).map_err(sql_error)
    }

    /// Runs a query and decodes each row into `T`, a struct (or map) whose fields are the
    /// column names. SQL integers decode as booleans too, and NULL as `None`.
    pub fn query<T: DeserializeOwned, P: Serialize>(
        &mut self,
        sql: &str,
        params: P,
    ) -> Result<Vec<T>, Error> {
        self.query_with(sql, params, |names, mut cells| {
            let fields = names.iter().cloned().zip(cells.drain(..));
            T::deserialize(serde::de::value::MapDeserializer::new(fields))
        })
    }

    /// Runs a query and decodes the first column of each row into `T`.
    pub fn query_column<T: DeserializeOwned, P: Serialize>(
        &mut self,
        sql: &str,
        params: P,
    ) -> Result<Vec<T>, Error> {
        self.query_with(sql, params, |_, mut cells| match cells.drain(..).next() {
            Some(cell) => T::deserialize(cell),
            None => Err(serde::de::Error::custom("the query returns no column")),
        })
    }

    /// The first row of a query, if any (see [`query`](Self::query)).
    pub fn query_one<T: DeserializeOwned, P: Serialize>(
        &mut self,
        sql: &str,
        params: P,
    ) -> Result<Option<T>, Error> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    fn query_with<T, P: Serialize>(
        &mut self,
        sql: &str,
        params: P,
        decode: impl Fn(&[String], Vec<Cell>) -> Result<T, serde::de::value::Error>,
    ) -> Result<Vec<T>, Error> {
        let params = to_sql_params(&params)?;
        // A query can write too (`INSERT ... RETURNING`, functions).
        self.touched = true;
        let mut stmt = self.conn().prepare(sql).map_err(sql_error)?;
        let names: Vec<String> = stmt.column_names().map(str::to_owned).collect();
        params.bind(&mut stmt)?;
        let mut rows = stmt.raw_query();
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(sql_error)? {
            let cells = (0..names.len())
                .map(|i| row.get::<_, SqlValue>(i).map(Cell))
                .collect::<Result<Vec<_>, _>>()
                .map_err(sql_error)?;
            let decoded = decode(&names, cells)
                .map_err(|e| Error::public(codes::INVALID_ROW.with_message(e.to_string())))?;
            out.push(decoded);
        }
        Ok(out)
    }

    /// Runs `f` in a transaction: committed if it returns `Ok`, rolled back if it fails.
    pub fn transaction<R>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<R, Error>,
    ) -> Result<R, Error> {
        self.touched = true;
        self.conn().execute_batch("BEGIN").map_err(sql_error)?;
        match f(self) {
            Ok(value) => {
                self.conn().execute_batch("COMMIT").map_err(sql_error)?;
                Ok(value)
            }
            Err(error) => {
                if let Err(rollback) = self.conn().execute_batch("ROLLBACK") {
                    tracing::warn!(%rollback, "rollback failed");
                }
                Err(error)
            }
        }
    }

    /// The rowid of the last row inserted.
    pub fn last_insert_rowid(&mut self) -> i64 {
        self.conn().last_insert_rowid()
    }

    fn conn(&mut self) -> &mut Connection {
        self.conn
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Writes the pages this turn changed into `batch`, and returns the new image to
    /// [`adopt`](Self::adopt) once the whole turn is known to succeed (`None`: no change).
    pub(crate) fn prepare_turn(&mut self, batch: &mut Batch) -> Result<Option<Vec<u8>>, Error> {
        if !self.touched {
            return Ok(None);
        }
        if !self.conn().is_autocommit() {
            return Err(Error::public(codes::TRANSACTION_OPEN.error()));
        }
        let conn = self
            .conn
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let image = conn
            .serialize(MAIN_DB)
            .map_err(|e| Error::internal(format!("cannot read the actor database: {e}")))?;
        let (new, old) = (&image[..], &self.committed[..]);
        if new == old {
            self.touched = false;
            return Ok(None);
        }
        let size = page_size(new);
        let pages = new.len().div_ceil(size);
        for index in 0..pages {
            let range = index * size..((index + 1) * size).min(new.len());
            if old.get(range.clone()) != Some(&new[range.clone()]) {
                batch.put(keys::db_page(index), Bytes::copy_from_slice(&new[range]));
            }
        }
        let old_pages = old.len().div_ceil(page_size(old).max(1));
        for index in pages..old_pages {
            batch.delete(keys::db_page(index));
        }
        batch.put(
            Bytes::from_static(keys::DB_META),
            Bytes::copy_from_slice(&(new.len() as u64).to_be_bytes()),
        );
        Ok(Some(new.to_vec()))
    }

    /// Takes `image` (from [`prepare_turn`](Self::prepare_turn)) as the committed database.
    pub(crate) fn adopt(&mut self, image: Vec<u8>) {
        self.committed = image;
        self.touched = false;
    }

    /// Forgets this turn's changes: reloads the committed database.
    pub(crate) fn discard_turn(&mut self) -> Result<(), Error> {
        if !self.touched {
            return Ok(());
        }
        self.touched = false;
        let conn = open_image(&self.committed)
            .map_err(|e| Error::internal(format!("cannot reload the actor database: {e}")))?;
        *self.conn() = conn;
        Ok(())
    }
}

/// A statement's parameters: by position, or by name.
enum SqlParams {
    Positional(Vec<SqlValue>),
    Named(Vec<(String, SqlValue)>),
}

impl SqlParams {
    fn bind(self, stmt: &mut rusqlite::Statement<'_>) -> Result<(), Error> {
        match self {
            Self::Positional(values) => {
                let expected = stmt.parameter_count();
                if values.len() != expected {
                    return Err(Error::public(codes::INVALID_PARAMETER.with_message(
                        format!(
                            "The statement takes {expected} parameters; {} were given.",
                            values.len()
                        ),
                    )));
                }
                for (i, value) in values.into_iter().enumerate() {
                    stmt.raw_bind_parameter(i + 1, value).map_err(sql_error)?;
                }
            }
            Self::Named(values) => {
                let mut bound = vec![false; stmt.parameter_count()];
                for (name, value) in values {
                    // `:name` unless the name carries its own prefix (`@name`, `$name`).
                    let name = if name.starts_with([':', '@', '$']) {
                        name
                    } else {
                        format!(":{name}")
                    };
                    let index =
                        stmt.parameter_index(&name)
                            .map_err(sql_error)?
                            .ok_or_else(|| {
                                Error::public(codes::INVALID_PARAMETER.with_message(format!(
                                    "The statement has no parameter `{name}`."
                                )))
                            })?;
                    stmt.raw_bind_parameter(index, value).map_err(sql_error)?;
                    if let Some(slot) = bound.get_mut(index - 1) {
                        *slot = true;
                    }
                }
                // An unbound parameter would be NULL: a missing field is a mistake, not a NULL.
                if let Some(missing) = bound.iter().position(|b| !b) {
                    let name = stmt
                        .parameter_name(missing + 1)
                        .map_or_else(|| format!("?{}", missing + 1), str::to_owned);
                    return Err(Error::public(codes::INVALID_PARAMETER.with_message(
                        format!("The statement's parameter `{name}` was not given."),
                    )));
                }
            }
        }
        Ok(())
    }
}

/// Parameters as SQL values: a tuple or sequence gives one per position, a struct or map one
/// per name, `()` none, anything else one.
fn to_sql_params<P: Serialize>(params: &P) -> Result<SqlParams, Error> {
    let value = ciborium::Value::serialized(params)
        .map_err(|e| Error::public(codes::INVALID_PARAMETER.with_message(e.to_string())))?;
    Ok(match value {
        ciborium::Value::Array(items) => SqlParams::Positional(
            items
                .into_iter()
                .map(to_sql_value)
                .collect::<Result<_, _>>()?,
        ),
        ciborium::Value::Map(entries) => SqlParams::Named(
            entries
                .into_iter()
                .map(|(name, value)| match name {
                    ciborium::Value::Text(name) => Ok((name, to_sql_value(value)?)),
                    _ => Err(Error::public(
                        codes::INVALID_PARAMETER.with_message("A parameter name is not text."),
                    )),
                })
                .collect::<Result<_, _>>()?,
        ),
        ciborium::Value::Null => SqlParams::Positional(Vec::new()),
        other => SqlParams::Positional(vec![to_sql_value(other)?]),
    })
}

fn is_byte(value: &ciborium::Value) -> bool {
    value.as_integer().is_some_and(|i| u8::try_from(i).is_ok())
}

fn to_sql_value(value: ciborium::Value) -> Result<SqlValue, Error> {
    Ok(match value {
        ciborium::Value::Null => SqlValue::Null,
        ciborium::Value::Bool(b) => SqlValue::Integer(i64::from(b)),
        ciborium::Value::Integer(i) => SqlValue::Integer(i64::try_from(i).map_err(|_| {
            Error::public(
                codes::INVALID_PARAMETER
                    .with_message("An integer parameter does not fit in 64 bits."),
            )
        })?),
        ciborium::Value::Float(f) => SqlValue::Real(f),
        ciborium::Value::Text(t) => SqlValue::Text(t),
        ciborium::Value::Bytes(b) => SqlValue::Blob(b),
        ciborium::Value::Tag(_, inner) => to_sql_value(*inner)?,
        // serde writes `Vec<u8>` and `[u8; N]` as lists of numbers: bind them as a BLOB.
        ciborium::Value::Array(items) if items.iter().all(is_byte) => SqlValue::Blob(
            items
                .iter()
                .filter_map(|i| i.as_integer().and_then(|i| u8::try_from(i).ok()))
                .collect(),
        ),
        ciborium::Value::Array(_) | ciborium::Value::Map(_) => {
            return Err(Error::public(codes::INVALID_PARAMETER.with_message(
                "A parameter is a list or a map; bind each value, or encode it as JSON text.",
            )));
        }
        _ => return Err(Error::public(codes::INVALID_PARAMETER.error())),
    })
}

/// One SQL value as a serde deserializer: integers read as booleans too (SQLite stores booleans
/// as 0 and 1), and NULL as `None`.
struct Cell(SqlValue);

impl<'de> serde::Deserializer<'de> for Cell {
    type Error = serde::de::value::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        match self.0 {
            SqlValue::Null => visitor.visit_unit(),
            SqlValue::Integer(i) => visitor.visit_i64(i),
            SqlValue::Real(f) => visitor.visit_f64(f),
            SqlValue::Text(t) => visitor.visit_string(t),
            SqlValue::Blob(b) => visitor.visit_byte_buf(b),
        }
    }

    fn deserialize_bool<V: serde::de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        match self.0 {
            SqlValue::Integer(i) => visitor.visit_bool(i != 0),
            other => Cell(other).deserialize_any(visitor),
        }
    }

    fn deserialize_option<V: serde::de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        match self.0 {
            SqlValue::Null => visitor.visit_none(),
            other => visitor.visit_some(Cell(other)),
        }
    }

    fn deserialize_seq<V: serde::de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        match self.0 {
            // A BLOB reads as `Vec<u8>` as well as a byte buffer.
            SqlValue::Blob(b) => {
                visitor.visit_seq(serde::de::value::SeqDeserializer::new(b.into_iter()))
            }
            other => Cell(other).deserialize_any(visitor),
        }
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

impl<'de> serde::de::IntoDeserializer<'de, serde::de::value::Error> for Cell {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}
