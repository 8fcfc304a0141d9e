//! Embedded durable storage: one SQLite database under the data directory, with group commit.
//!
//! A single writer thread owns the write connection. It takes every batch that is waiting,
//! applies them all in one transaction and commits once, then runs each batch's callback: one
//! fsync serves every actor whose turn finished meanwhile. Reads use a small pool of separate
//! connections (WAL lets them run beside the writer).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use bytes::Bytes;
use rivet_client::ActorKey;
use rivet_client::transport::BoxFuture;
use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::oneshot;

use super::{
    ActorRecord, Commit, KeyRange, KvOp, Lookup, NewActor, Storage, StorageError, prefix_end,
};
use crate::report::chain;
use crate::sync::lock;

/// How much a commit survives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Durability {
    /// Committed writes survive power loss and OS crashes (`synchronous=FULL`: fsync on every
    /// group commit). The default.
    #[default]
    PowerLoss,
    /// Committed writes survive a crash of the process but may be lost on power loss or an OS
    /// crash (`synchronous=NORMAL` in WAL mode: no fsync per commit).
    ProcessCrash,
}

/// Options for [`SqliteStorage::open`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SqliteOptions {
    /// What a commit survives.
    pub durability: Durability,
    /// The most batches one group commit takes.
    pub max_group: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            durability: Durability::PowerLoss,
            max_group: 4096,
        }
    }
}

/// The file name of the database inside the data directory.
pub const DB_FILE: &str = "rivet.db";
const LOCK_FILE: &str = "rivet.lock";

/// SQLite storage under a data directory.
#[derive(Debug)]
pub struct SqliteStorage {
    writer: Mutex<Option<std_mpsc::Sender<WriterMsg>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    readers: Arc<ReaderPool>,
    lock: Mutex<Option<File>>,
    path: PathBuf,
}

enum WriterMsg {
    Commit(Commit),
    Create(
        NewActor,
        oneshot::Sender<Result<(ActorRecord, bool), StorageError>>,
    ),
    Destroy(i64, oneshot::Sender<Result<(), StorageError>>),
    Flush(oneshot::Sender<()>),
    /// Reads a pragma of the writer's own connection (tests check what a commit survives).
    #[cfg(test)]
    Pragma(&'static str, oneshot::Sender<Result<String, StorageError>>),
}

impl SqliteStorage {
    /// Opens (creating if needed) the storage in `dir`. Fails if another process uses it.
    pub fn open(dir: impl AsRef<Path>, options: SqliteOptions) -> Result<Self, StorageError> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| {
            StorageError::backend(format!("cannot create data directory {}", dir.display()), e)
        })?;
        let lock = File::create(dir.join(LOCK_FILE))
            .map_err(|e| StorageError::backend("cannot create lock file", e))?;
        lock.try_lock().map_err(|e| {
            StorageError::backend(
                format!(
                    "data directory {} is in use by another process",
                    dir.display()
                ),
                e,
            )
        })?;
        let path = dir.join(DB_FILE);
        let conn = open_connection(&path)?;
        let sync = match options.durability {
            Durability::PowerLoss => "FULL",
            Durability::ProcessCrash => "NORMAL",
        };
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = {sync};
             CREATE TABLE IF NOT EXISTS actors (
                 storage_id INTEGER PRIMARY KEY AUTOINCREMENT,
                 id TEXT NOT NULL UNIQUE,
                 name TEXT NOT NULL,
                 key BLOB NOT NULL,
                 input BLOB,
                 created_at INTEGER NOT NULL,
                 UNIQUE (name, key)
             );
             CREATE TABLE IF NOT EXISTS kv (
                 actor INTEGER NOT NULL,
                 key BLOB NOT NULL,
                 value BLOB NOT NULL,
                 PRIMARY KEY (actor, key)
             ) WITHOUT ROWID;"
        ))
        .map_err(backend)?;
        let (tx, rx) = std_mpsc::channel();
        let max_group = options.max_group.max(1);
        let thread = std::thread::Builder::new()
            .name("rivet-sqlite-writer".to_owned())
            .spawn(move || writer_loop(conn, rx, max_group))
            .map_err(|e| StorageError::backend("cannot start writer thread", e))?;
        Ok(Self {
            writer: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
            readers: Arc::new(ReaderPool {
                path: path.clone(),
                idle: Mutex::new(Readers::default()),
                returned: std::sync::Condvar::new(),
            }),
            lock: Mutex::new(Some(lock)),
            path,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn send(&self, msg: WriterMsg) -> Result<(), WriterMsg> {
        match lock(&self.writer).as_ref() {
            Some(tx) => tx.send(msg).map_err(|e| e.0),
            None => Err(msg),
        }
    }

    async fn read<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StorageError> + Send + 'static,
    {
        let readers = Arc::clone(&self.readers);
        tokio::task::spawn_blocking(move || readers.with(f))
            .await
            .map_err(|e| StorageError::backend("read task failed", e))?
    }
}

impl Storage for SqliteStorage {
    fn lookup<'a>(
        &'a self,
        lookup: Lookup<'a>,
    ) -> BoxFuture<'a, Result<Option<ActorRecord>, StorageError>> {
        enum Owned {
            Id(String),
            Addr(String, Vec<u8>),
        }
        let owned = match lookup {
            Lookup::Id(id) => Ok(Owned::Id(id.to_owned())),
            Lookup::Addr(name, key) => encode_key(key).map(|k| Owned::Addr(name.to_owned(), k)),
        };
        Box::pin(async move {
            let owned = owned?;
            self.read(move |conn| {
                const SELECT: &str =
                    "SELECT storage_id, id, name, key, input, created_at FROM actors";
                let found = match owned {
                    Owned::Id(id) => conn
                        .prepare_cached(&format!("{SELECT} WHERE id = ?1"))
                        .and_then(|mut s| s.query_row(params![id], read_record).optional()),
                    Owned::Addr(name, key) => conn
                        .prepare_cached(&format!("{SELECT} WHERE name = ?1 AND key = ?2"))
                        .and_then(|mut s| s.query_row(params![name, key], read_record).optional()),
                };
                found.map_err(backend)?.transpose()
            })
            .await
        })
    }

    fn create(&self, actor: NewActor) -> BoxFuture<'_, Result<(ActorRecord, bool), StorageError>> {
        let (tx, rx) = oneshot::channel();
        let sent = self.send(WriterMsg::Create(actor, tx));
        Box::pin(async move {
            if sent.is_err() {
                return Err(StorageError::Closed);
            }
            rx.await.unwrap_or(Err(StorageError::Closed))
        })
    }

    fn destroy(&self, storage_id: i64) -> BoxFuture<'_, Result<(), StorageError>> {
        let (tx, rx) = oneshot::channel();
        let sent = self.send(WriterMsg::Destroy(storage_id, tx));
        Box::pin(async move {
            if sent.is_err() {
                return Err(StorageError::Closed);
            }
            rx.await.unwrap_or(Err(StorageError::Closed))
        })
    }

    fn get<'a>(
        &'a self,
        storage_id: i64,
        key: &'a [u8],
    ) -> BoxFuture<'a, Result<Option<Bytes>, StorageError>> {
        let key = key.to_vec();
        Box::pin(self.read(move |conn| {
            conn.prepare_cached("SELECT value FROM kv WHERE actor = ?1 AND key = ?2")
                .map_err(backend)?
                .query_row(params![storage_id, key], |row| row.get::<_, Vec<u8>>(0))
                .optional()
                .map(|v| v.map(Bytes::from))
                .map_err(backend)
        }))
    }

    fn scan_range<'a>(
        &'a self,
        storage_id: i64,
        range: KeyRange<'a>,
    ) -> BoxFuture<'a, Result<Vec<(Bytes, Bytes)>, StorageError>> {
        let start = range.start.to_vec();
        let end = range.end.map(<[u8]>::to_vec);
        // SQLite reads a negative limit as none.
        let limit = range
            .limit
            .map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
        let sql = if range.reverse {
            "SELECT key, value FROM kv WHERE actor = ?1 AND key >= ?2 AND (?3 IS NULL OR key < ?3) ORDER BY key DESC LIMIT ?4"
        } else {
            "SELECT key, value FROM kv WHERE actor = ?1 AND key >= ?2 AND (?3 IS NULL OR key < ?3) ORDER BY key LIMIT ?4"
        };
        Box::pin(self.read(move |conn| {
            let mut stmt = conn.prepare_cached(sql).map_err(backend)?;
            let rows = stmt
                .query_map(params![storage_id, start, end, limit], |row| {
                    Ok((
                        Bytes::from(row.get::<_, Vec<u8>>(0)?),
                        Bytes::from(row.get::<_, Vec<u8>>(1)?),
                    ))
                })
                .map_err(backend)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(backend)
        }))
    }

    fn list_actors<'a>(
        &'a self,
        name: &'a str,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<ActorRecord>, StorageError>> {
        let name = name.to_owned();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        Box::pin(self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT storage_id, id, name, key, input, created_at FROM actors WHERE name = ?1 ORDER BY storage_id LIMIT ?2",
                )
                .map_err(backend)?;
            let rows = stmt.query_map(params![name, limit], read_record).map_err(backend)?;
            let mut found = Vec::new();
            for row in rows {
                found.push(row.map_err(backend)??);
            }
            Ok(found)
        }))
    }

    fn count_actors(&self) -> BoxFuture<'_, Result<Option<super::ActorCounts>, StorageError>> {
        Box::pin(self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached("SELECT name, COUNT(*) FROM actors GROUP BY name")
                .map_err(backend)?;
            let rows = stmt
                .query_map([], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, i64>(1)?.max(0).cast_unsigned(),
                    ))
                })
                .map_err(backend)?;
            let mut counts = Vec::new();
            for row in rows {
                counts.push(row.map_err(backend)?);
            }
            Ok(Some(counts))
        }))
    }

    fn actors_with_prefix<'a>(
        &'a self,
        prefix: &'a [u8],
    ) -> BoxFuture<'a, Result<Vec<ActorRecord>, StorageError>> {
        let start = prefix.to_vec();
        let end = prefix_end(prefix);
        Box::pin(self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT storage_id, id, name, key, input, created_at FROM actors a WHERE EXISTS (
                         SELECT 1 FROM kv WHERE actor = a.storage_id AND key >= ?1 AND (?2 IS NULL OR key < ?2)
                     )",
                )
                .map_err(backend)?;
            let rows = stmt.query_map(params![start, end], read_record).map_err(backend)?;
            let mut found = Vec::new();
            for row in rows {
                found.push(row.map_err(backend)??);
            }
            Ok(found)
        }))
    }

    fn commit(&self, commit: Commit) {
        if let Err(WriterMsg::Commit(commit)) = self.send(WriterMsg::Commit(commit)) {
            (commit.done)(Err(StorageError::Closed));
        }
    }

    fn close(&self) -> BoxFuture<'_, Result<(), StorageError>> {
        Box::pin(async move {
            let (tx, rx) = oneshot::channel();
            if self.send(WriterMsg::Flush(tx)).is_ok() {
                let _ = rx.await;
            }
            // Dropping the sender ends the writer loop once it has drained its queue.
            lock(&self.writer).take();
            let thread = lock(&self.thread).take();
            if let Some(thread) = thread {
                let _ = tokio::task::spawn_blocking(move || thread.join()).await;
            }
            lock(&self.readers.idle).idle.clear();
            if let Some(file) = lock(&self.lock).take() {
                let _ = file.unlock();
            }
            Ok(())
        })
    }
}

#[derive(Debug)]
struct ReaderPool {
    path: PathBuf,
    idle: Mutex<Readers>,
    returned: std::sync::Condvar,
}

/// The most read connections open at once. A bound matters beyond memory: SQLite keeps the
/// file descriptor of a closed connection open while another connection of the process holds a
/// lock on the file (the writer always does), so a pool that opened one connection per
/// concurrent read would hold one descriptor per read ever in flight at once.
const MAX_READERS: usize = 8;

#[derive(Debug, Default)]
struct Readers {
    idle: Vec<Connection>,
    open: usize,
}

impl ReaderPool {
    /// Runs `f` on a read connection, waiting (on a blocking thread) for one when all are busy.
    fn with<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        let conn = {
            let mut readers = lock(&self.idle);
            loop {
                if let Some(conn) = readers.idle.pop() {
                    break Some(conn);
                }
                if readers.open < MAX_READERS {
                    readers.open += 1;
                    break None;
                }
                readers = self
                    .returned
                    .wait(readers)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        };
        let conn = match conn {
            Some(conn) => conn,
            None => match open_connection(&self.path) {
                Ok(conn) => conn,
                Err(error) => {
                    lock(&self.idle).open -= 1;
                    self.returned.notify_one();
                    return Err(error);
                }
            },
        };
        let result = f(&conn);
        lock(&self.idle).idle.push(conn);
        self.returned.notify_one();
        result
    }
}

fn open_connection(path: &Path) -> Result<Connection, StorageError> {
    let conn = Connection::open(path).map_err(|e| {
        StorageError::backend(format!("cannot open database {}", path.display()), e)
    })?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(backend)?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

fn writer_loop(conn: Connection, rx: std_mpsc::Receiver<WriterMsg>, max_group: usize) {
    while let Ok(first) = rx.recv() {
        #[cfg(test)]
        let first = match first {
            WriterMsg::Pragma(name, tx) => {
                let value = conn
                    .query_row(&format!("PRAGMA {name}"), [], |row| {
                        row.get::<_, rusqlite::types::Value>(0)
                    })
                    .map(|v| format!("{v:?}"))
                    .map_err(backend);
                let _ = tx.send(value);
                continue;
            }
            other => other,
        };
        let mut group = vec![first];
        while group.len() < max_group {
            match rx.try_recv() {
                Ok(msg) => group.push(msg),
                Err(_) => break,
            }
        }
        run_group(&conn, group);
    }
}

/// What to do for one message once its transaction is over.
enum Outcome {
    Commit(Commit, Result<(), StorageError>),
    Create(
        oneshot::Sender<Result<(ActorRecord, bool), StorageError>>,
        Result<(ActorRecord, bool), StorageError>,
    ),
    Destroy(
        oneshot::Sender<Result<(), StorageError>>,
        Result<(), StorageError>,
    ),
    Flush(oneshot::Sender<()>),
}

fn run_group(conn: &Connection, group: Vec<WriterMsg>) {
    match apply_all(conn, &group) {
        Ok(results) => {
            for (msg, result) in group.into_iter().zip(results) {
                finish(msg, result);
            }
        }
        Err(error) => {
            // Something failed: find out what by applying each message in its own transaction,
            // so one bad batch does not fail the others.
            tracing::warn!(error = %chain(&error), "group commit failed; retrying its batches one by one");
            for msg in group {
                let result = apply_all(conn, std::slice::from_ref(&msg))
                    .map(|mut r| r.pop().unwrap_or(Applied::Done))
                    .unwrap_or_else(Applied::Failed);
                finish(msg, result);
            }
        }
    }
}

enum Applied {
    Done,
    Created(ActorRecord, bool),
    Refused,
    Failed(StorageError),
}

/// Applies messages in one transaction; any error rolls it all back.
fn apply_all(conn: &Connection, group: &[WriterMsg]) -> Result<Vec<Applied>, StorageError> {
    conn.execute_batch("BEGIN IMMEDIATE").map_err(backend)?;
    let applied = (|| {
        let mut results = Vec::with_capacity(group.len());
        for msg in group {
            results.push(apply(conn, msg)?);
        }
        Ok(results)
    })();
    match applied {
        Ok(results) => match conn.execute_batch("COMMIT") {
            Ok(()) => Ok(results),
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                Err(backend(e))
            }
        },
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

fn apply(conn: &Connection, msg: &WriterMsg) -> Result<Applied, StorageError> {
    match msg {
        WriterMsg::Commit(commit) => {
            if commit.poisoned.load(Ordering::Acquire) {
                return Ok(Applied::Refused);
            }
            let mut put = conn
                .prepare_cached("INSERT OR REPLACE INTO kv (actor, key, value) VALUES (?1, ?2, ?3)")
                .map_err(backend)?;
            let mut delete = conn
                .prepare_cached("DELETE FROM kv WHERE actor = ?1 AND key = ?2")
                .map_err(backend)?;
            for op in &commit.batch.ops {
                match op {
                    KvOp::Put(k, v) => put.execute(params![commit.actor, &k[..], &v[..]]),
                    KvOp::Delete(k) => delete.execute(params![commit.actor, &k[..]]),
                }
                .map_err(backend)?;
            }
            Ok(Applied::Done)
        }
        WriterMsg::Create(actor, _) => {
            let key = encode_key(&actor.key)?;
            let inserted = conn
                .prepare_cached(
                    "INSERT INTO actors (id, name, key, input, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (name, key) DO NOTHING",
                )
                .map_err(backend)?
                .execute(params![
                    actor.id,
                    actor.name,
                    key,
                    actor.input.as_deref(),
                    actor.created_at_ms
                ])
                .map_err(backend)?;
            let record = conn
                .prepare_cached(
                    "SELECT storage_id, id, name, key, input, created_at FROM actors WHERE name = ?1 AND key = ?2",
                )
                .map_err(backend)?
                .query_row(params![actor.name, key], read_record)
                .map_err(backend)??;
            Ok(Applied::Created(record, inserted == 1))
        }
        WriterMsg::Destroy(storage_id, _) => {
            conn.prepare_cached("DELETE FROM kv WHERE actor = ?1")
                .map_err(backend)?
                .execute(params![storage_id])
                .map_err(backend)?;
            conn.prepare_cached("DELETE FROM actors WHERE storage_id = ?1")
                .map_err(backend)?
                .execute(params![storage_id])
                .map_err(backend)?;
            Ok(Applied::Done)
        }
        WriterMsg::Flush(_) => Ok(Applied::Done),
        // Answered by the writer loop before any group.
        #[cfg(test)]
        WriterMsg::Pragma(..) => Ok(Applied::Done),
    }
}

fn finish(msg: WriterMsg, applied: Applied) {
    let outcome = match (msg, applied) {
        (WriterMsg::Commit(c), Applied::Done) => Outcome::Commit(c, Ok(())),
        (WriterMsg::Commit(c), Applied::Refused) => Outcome::Commit(c, Err(StorageError::Poisoned)),
        (WriterMsg::Commit(c), other) => {
            c.poisoned.store(true, Ordering::Release);
            Outcome::Commit(c, Err(failure(other)))
        }
        (WriterMsg::Create(_, tx), Applied::Created(r, created)) => {
            Outcome::Create(tx, Ok((r, created)))
        }
        (WriterMsg::Create(_, tx), other) => Outcome::Create(tx, Err(failure(other))),
        (WriterMsg::Destroy(_, tx), Applied::Done) => Outcome::Destroy(tx, Ok(())),
        (WriterMsg::Destroy(_, tx), other) => Outcome::Destroy(tx, Err(failure(other))),
        (WriterMsg::Flush(tx), _) => Outcome::Flush(tx),
        #[cfg(test)]
        (WriterMsg::Pragma(..), _) => return,
    };
    match outcome {
        Outcome::Commit(c, result) => (c.done)(result),
        Outcome::Create(tx, result) => {
            let _ = tx.send(result);
        }
        Outcome::Destroy(tx, result) => {
            let _ = tx.send(result);
        }
        Outcome::Flush(tx) => {
            let _ = tx.send(());
        }
    }
}

fn failure(applied: Applied) -> StorageError {
    match applied {
        Applied::Failed(e) => e,
        Applied::Refused => StorageError::Poisoned,
        Applied::Done | Applied::Created(..) => {
            StorageError::backend("write", "unexpected write outcome")
        }
    }
}

fn read_record(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<ActorRecord, StorageError>> {
    let key: Vec<u8> = row.get(3)?;
    let input: Option<Vec<u8>> = row.get(4)?;
    Ok(decode_key(&key).map(|key| ActorRecord {
        storage_id: row.get(0).unwrap_or_default(),
        id: row.get(1).unwrap_or_default(),
        name: row.get(2).unwrap_or_default(),
        key,
        input: input.map(Bytes::from),
        created_at_ms: row.get(5).unwrap_or_default(),
    }))
}

/// Keys are stored as a CBOR array of strings: exact and unambiguous, never joined.
fn encode_key(key: &ActorKey) -> Result<Vec<u8>, StorageError> {
    let mut out = Vec::new();
    ciborium::into_writer(key.parts(), &mut out)
        .map_err(|e| StorageError::corrupt_because("an actor key", e))?;
    Ok(out)
}

fn decode_key(bytes: &[u8]) -> Result<ActorKey, StorageError> {
    ciborium::from_reader::<Vec<String>, _>(bytes)
        .map(ActorKey::from)
        .map_err(|e| StorageError::corrupt_because("a stored actor key", e))
}

fn backend(error: rusqlite::Error) -> StorageError {
    StorageError::backend("SQLite", error)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use super::*;
    use crate::storage::Batch;

    impl SqliteStorage {
        async fn pragma(&self, name: &'static str) -> String {
            let (tx, rx) = oneshot::channel();
            assert!(
                self.send(WriterMsg::Pragma(name, tx)).is_ok(),
                "writer gone"
            );
            rx.await.expect("answer").expect("pragma")
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_durability_sets_the_writer_s_sync_mode() {
        // SQLite's `synchronous`: 2 = FULL (fsync the WAL on every commit), 1 = NORMAL (fsync
        // only at checkpoints: a commit survives the process, not the machine).
        for (durability, expected) in [
            (Durability::PowerLoss, "Integer(2)"),
            (Durability::ProcessCrash, "Integer(1)"),
        ] {
            let dir = tempfile::tempdir().expect("tempdir");
            let options = SqliteOptions {
                durability,
                ..SqliteOptions::default()
            };
            let storage = SqliteStorage::open(dir.path(), options).expect("open");
            assert_eq!(
                storage.pragma("synchronous").await,
                expected,
                "{durability:?}"
            );
            assert_eq!(storage.pragma("journal_mode").await, "Text(\"wal\")");
            storage.close().await.expect("close");
        }
        assert_eq!(SqliteOptions::default().durability, Durability::PowerLoss);
    }

    fn commit(
        storage: &SqliteStorage,
        actor: i64,
        key: &'static [u8],
        poisoned: &Arc<AtomicBool>,
    ) -> oneshot::Receiver<Result<(), StorageError>> {
        let (tx, rx) = oneshot::channel();
        let mut batch = Batch::default();
        batch.put(Bytes::from_static(key), Bytes::from_static(b"v"));
        storage.commit(Commit {
            actor,
            batch,
            poisoned: Arc::clone(poisoned),
            done: Box::new(move |result| {
                let _ = tx.send(result);
            }),
        });
        rx
    }

    /// A real SQLite failure in the middle of a group commit: a trigger refuses one key, as a
    /// full disk or a constraint would.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_batch_is_isolated_poisons_its_activation_and_spares_the_others() {
        let dir = tempfile::tempdir().expect("tempdir");
        let storage = SqliteStorage::open(dir.path(), SqliteOptions::default()).expect("open");
        let other = Connection::open(storage.path()).expect("second connection");
        other
            .execute_batch(
                "CREATE TRIGGER refuse BEFORE INSERT ON kv WHEN NEW.key = X'626164'
                 BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;",
            )
            .expect("trigger");
        // Hold the database so that the writer waits in its first transaction while the next
        // batches queue up behind it: they then form one group.
        other.execute_batch("BEGIN IMMEDIATE").expect("lock");
        let (healthy, failing) = (Arc::default(), Arc::default());
        let first = commit(&storage, 1, b"first", &healthy);
        let bad = commit(&storage, 2, b"bad", &failing);
        let good = commit(&storage, 3, b"good", &healthy);
        other.execute_batch("COMMIT").expect("unlock");
        assert!(first.await.expect("answer").is_ok());
        let refused = bad.await.expect("answer");
        assert!(
            matches!(&refused, Err(StorageError::Backend { .. })),
            "{refused:?}"
        );
        assert!(
            failing.load(Ordering::Acquire),
            "the failing activation is poisoned"
        );
        assert!(
            good.await.expect("answer").is_ok(),
            "its group's other batch commits"
        );
        // A later batch of the poisoned activation is refused without being written.
        let later = commit(&storage, 2, b"later", &failing)
            .await
            .expect("answer");
        assert!(matches!(later, Err(StorageError::Poisoned)), "{later:?}");
        for (actor, key, stored) in [
            (1, &b"first"[..], true),
            (2, b"bad", false),
            (2, b"later", false),
            (3, b"good", true),
        ] {
            let found = storage.get(actor, key).await.expect("read").is_some();
            assert_eq!(found, stored, "actor {actor} key {key:?}");
        }
        storage.close().await.expect("close");
    }
}
