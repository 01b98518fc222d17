//! libsql (SQLite) adapter for the ESSP store, run as SQLite wants to be
//! run: WAL, `synchronous=FULL` (an acknowledged write survives power loss),
//! a busy timeout, foreign keys on, ONE writer connection and a small pool
//! of readers. Calls run on the blocking pool so an fsync never stalls the
//! async workers.

mod rewrite;
mod statements;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use essp_store::value::sqlite_timestamp;
use essp_store::{Database, Engine, Executor, LockGuard, Row, SqlType, StoreError, Transaction, Value};
use statements::Conn;
use tokio::sync::{Mutex, OwnedMutexGuard};

pub use rewrite::dollar_to_question;

type Result<T, E = StoreError> = std::result::Result<T, E>;

const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
const READERS: usize = 4;

/// A SQLite database file opened for one process.
#[derive(Clone)]
pub struct LibsqlDatabase {
    inner: Arc<Inner>,
}

struct Inner {
    // Keeps the libsql database object alive as long as its connections.
    _db: libsql::Database,
    path: PathBuf,
    writer: Arc<Mutex<Conn>>,
    readers: std::sync::Mutex<Vec<Conn>>,
    reader_slots: tokio::sync::Semaphore,
    active: AtomicU64,
}

impl LibsqlDatabase {
    /// Opens (creating if needed) the database file at `path`.
    pub async fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Unavailable(format!("cannot create {}: {e}", dir.display())))?;
        }
        let db = libsql::Builder::new_local(path).build().await.map_err(map_err)?;
        let writer = db.connect().map_err(map_err)?;
        configure(
            &writer,
            // temp_store: savepoints' undo pages (group commit runs each
            // request in one) stay in memory instead of a temp file.
            // wal_autocheckpoint: the checkpointer below copies the WAL
            // back, not the writer inside its COMMITs.
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
             PRAGMA temp_store = MEMORY; PRAGMA wal_autocheckpoint = 0;",
        )
        .await?;
        let checkpointer = Conn::new(db.connect().map_err(map_err)?);
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let r = db.connect().map_err(map_err)?;
            configure(&r, "PRAGMA query_only = ON;").await?;
            readers.push(Conn::new(r));
        }
        let inner = Arc::new(Inner {
            _db: db,
            path: path.to_owned(),
            writer: Arc::new(Mutex::new(Conn::new(writer))),
            readers: std::sync::Mutex::new(readers),
            reader_slots: tokio::sync::Semaphore::new(READERS),
            active: AtomicU64::new(0),
        });
        spawn_checkpointer(Arc::downgrade(&inner), checkpointer);
        Ok(Self { inner })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// One lock file per name beside the database: an OS lock, so it holds
    /// across processes (e.g. `essp migrate` next to `essp serve`) and is
    /// released by the kernel if the holder dies. `wait = false` tries once.
    async fn lock_file(&self, name: &str, wait: bool) -> Result<Option<std::fs::File>> {
        let safe: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let path = self.inner.path.with_extension(format!("{safe}.lock"));
        tokio::task::spawn_blocking(move || -> std::io::Result<Option<std::fs::File>> {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)?;
            if wait {
                f.lock()?;
                return Ok(Some(f));
            }
            match f.try_lock() {
                Ok(()) => Ok(Some(f)),
                Err(std::fs::TryLockError::WouldBlock) => Ok(None),
                Err(std::fs::TryLockError::Error(e)) => Err(e),
            }
        })
        .await
        .map_err(|e| StoreError::Other(e.to_string()))?
        .map_err(|e| StoreError::Unavailable(format!("lock {name}: {e}")))
    }

    /// Waits for the single writer connection, rolling back any transaction
    /// a dropped handle left open so it cannot leak into the next user.
    async fn writer(&self) -> Result<OwnedMutexGuard<Conn>> {
        let conn = self.inner.writer.clone().lock_owned().await;
        if !conn.is_autocommit() {
            tracing::warn!("rolling back a transaction left open on the SQLite writer");
            call(&self.inner.active, conn.clone(), |c| async move {
                c.execute("ROLLBACK", ()).await.map(|_| ())
            })
            .await?;
        }
        Ok(conn)
    }

    async fn with_reader<T: Send + 'static, F, Fut>(&self, f: F) -> Result<T>
    where
        F: FnOnce(Conn) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = libsql::Result<T>>,
    {
        let slot = self
            .inner
            .reader_slots
            .acquire()
            .await
            .map_err(|_| StoreError::Unavailable("database closed".into()))?;
        let conn = self.inner.readers.lock().ok().and_then(|mut r| r.pop());
        let Some(conn) = conn else {
            return Err(StoreError::Other("reader pool empty".into()));
        };
        // The blocking task gives the connection and its slot back when the
        // query is done, even if the caller stopped waiting (a client that
        // hung up): returning them here would lose both on cancellation,
        // and four lost readers stop every read.
        slot.forget();
        let inner = self.inner.clone();
        call(&self.inner.active, conn, move |c| async move {
            let result = f(c.clone()).await;
            if let Ok(mut readers) = inner.readers.lock() {
                readers.push(c);
            }
            inner.reader_slots.add_permits(1);
            result
        })
        .await
    }
}

/// How often the WAL is copied back into the database file. SQLite's own
/// automatic checkpoint runs inside a COMMIT, with the one writer held
/// (8 % of an edge's down apply); this runs beside the writer instead.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// Checkpoints the WAL on its own connection until the database is dropped.
fn spawn_checkpointer(inner: Weak<Inner>, conn: Conn) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(inner) = inner.upgrade() else { return };
            // PASSIVE copies what no reader still needs; it never waits
            // for the writer nor blocks it.
            let done = call(&inner.active, conn.clone(), |c| async move {
                c.execute_batch("PRAGMA wal_checkpoint(PASSIVE);").await.map(|_| ())
            })
            .await;
            if let Err(e) = done {
                tracing::warn!(error = %e, "SQLite WAL checkpoint failed; retrying");
            }
        }
    });
}

async fn configure(conn: &libsql::Connection, pragmas: &str) -> Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT).map_err(map_err)?;
    conn.execute_batch(pragmas).await.map_err(map_err)?;
    Ok(())
}

/// Runs a libsql call on the blocking pool. libsql's local futures do their
/// work synchronously (including fsync), so they must not run on an async
/// worker thread.
async fn call<T, F, Fut>(active: &AtomicU64, conn: Conn, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(Conn) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = libsql::Result<T>>,
{
    active.fetch_add(1, Ordering::Relaxed);
    let started = Instant::now();
    let joined = tokio::task::spawn_blocking(move || futures::executor::block_on(f(conn))).await;
    essp_store::telemetry::observe_query(Engine::Sqlite, started);
    active.fetch_sub(1, Ordering::Relaxed);
    match joined {
        Ok(r) => r.map_err(map_err),
        Err(e) => Err(StoreError::Other(format!("database task failed: {e}"))),
    }
}

/// Runs a libsql call on the current task. For statements inside a
/// transaction: they touch only the page cache (microseconds); the fsync
/// happens at COMMIT, which goes through [`call`]. Saves a thread hand-off
/// per statement while the single writer is held.
async fn inline<T, Fut>(active: &AtomicU64, fut: Fut) -> Result<T>
where
    Fut: std::future::Future<Output = libsql::Result<T>>,
{
    active.fetch_add(1, Ordering::Relaxed);
    let started = Instant::now();
    let r = fut.await;
    essp_store::telemetry::observe_query(Engine::Sqlite, started);
    active.fetch_sub(1, Ordering::Relaxed);
    r.map_err(map_err)
}

fn to_libsql(params: &[Value]) -> Vec<libsql::Value> {
    params.iter().cloned().map(into_libsql).collect()
}

fn into_libsql(v: Value) -> libsql::Value {
    match v {
        Value::Null(_) => libsql::Value::Null,
        Value::Text(s) => libsql::Value::Text(s),
        Value::I64(n) => libsql::Value::Integer(n),
        Value::F64(n) => libsql::Value::Real(n),
        Value::Bool(b) => libsql::Value::Integer(i64::from(b)),
        Value::Timestamp(t) => libsql::Value::Text(sqlite_timestamp(&t)),
        Value::Json(j) => libsql::Value::Text(j.to_string()),
    }
}

fn from_libsql(v: libsql::Value) -> Value {
    match v {
        libsql::Value::Null => Value::Null(SqlType::Text),
        libsql::Value::Integer(n) => Value::I64(n),
        libsql::Value::Real(n) => Value::F64(n),
        libsql::Value::Text(s) => Value::Text(s),
        libsql::Value::Blob(b) => Value::Text(String::from_utf8_lossy(&b).into_owned()),
    }
}

async fn query_rows(conn: Conn, sql: String, params: Vec<libsql::Value>) -> libsql::Result<Vec<Row>> {
    conn.rows(&sql, params, read_rows).await
}

async fn read_rows(mut rows: libsql::Rows) -> libsql::Result<Vec<Row>> {
    let columns: Arc<[String]> = (0..rows.column_count())
        .map(|i| rows.column_name(i).unwrap_or_default().to_owned())
        .collect();
    let mut out = Vec::new();
    while let Some(row) = rows.next().await? {
        let mut values = Vec::with_capacity(columns.len());
        for i in 0..columns.len() {
            values.push(from_libsql(row.get_value(i as i32)?));
        }
        out.push(Row::new(columns.clone(), values));
    }
    Ok(out)
}

/// Interprets SQLite (extended) result codes once.
fn map_err(e: libsql::Error) -> StoreError {
    match &e {
        libsql::Error::SqliteFailure(code, msg) => match code & 0xff {
            // SQLITE_CONSTRAINT: 2067 UNIQUE, 1555 PRIMARYKEY.
            19 if *code == 2067 || *code == 1555 => StoreError::UniqueViolation {
                constraint: constraint_name(msg),
            },
            19 => StoreError::ConstraintViolation {
                constraint: constraint_name(msg),
            },
            5 | 6 => StoreError::Busy(msg.clone()),
            14 => StoreError::Unavailable(msg.clone()),
            _ => StoreError::Other(e.to_string()),
        },
        libsql::Error::ConnectionFailed(m) => StoreError::Unavailable(m.clone()),
        _ => StoreError::Other(e.to_string()),
    }
}

/// "UNIQUE constraint failed: incidents.id" → "incidents.id".
fn constraint_name(msg: &str) -> String {
    msg.rsplit_once(": ").map_or(msg, |(_, c)| c).to_owned()
}

/// Reads can use a reader connection; anything else needs the writer.
fn is_read_only(sql: &str) -> bool {
    let head = sql.trim_start().get(..6).unwrap_or_default();
    head.eq_ignore_ascii_case("select")
}

#[async_trait]
impl Executor for LibsqlDatabase {
    fn engine(&self) -> Engine {
        Engine::Sqlite
    }

    async fn execute(&self, sql: &str, params: &[Value]) -> Result<u64> {
        let (sql, params) = (sql.to_owned(), to_libsql(params));
        let conn = self.writer().await?;
        call(&self.inner.active, conn.clone(), |c| async move {
            c.run(&sql, params).await
        })
        .await
    }

    async fn fetch_all(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        let (sql, params) = (sql.to_owned(), to_libsql(params));
        if is_read_only(&sql) {
            return self.with_reader(|c| query_rows(c, sql, params)).await;
        }
        let conn = self.writer().await?;
        call(&self.inner.active, conn.clone(), |c| query_rows(c, sql, params)).await
    }

    async fn execute_script(&self, sql: &str) -> Result<()> {
        let sql = sql.to_owned();
        let conn = self.writer().await?;
        call(&self.inner.active, conn.clone(), |c| async move {
            c.execute_batch(&sql).await.map(|_| ())
        })
        .await
    }
}

#[async_trait]
impl Database for LibsqlDatabase {
    async fn begin(&self) -> Result<Box<dyn Transaction>> {
        let conn = self.writer().await?;
        // We hold the only writer of this process, so BEGIN IMMEDIATE can
        // wait only on another process (bounded by busy_timeout).
        let c = (*conn).clone();
        inline(&self.inner.active, async move {
            c.execute("BEGIN IMMEDIATE", ()).await.map(|_| ())
        })
        .await?;
        Ok(Box::new(LibsqlTransaction {
            conn: Some(conn),
            db: self.clone(),
        }))
    }

    async fn lock(&self, name: &str) -> Result<Box<dyn LockGuard>> {
        let file = self
            .lock_file(name, true)
            .await?
            .ok_or_else(|| StoreError::Other("lock not taken".into()))?;
        Ok(Box::new(FileLock(file)))
    }

    async fn try_lock(&self, name: &str) -> Result<Option<Box<dyn LockGuard>>> {
        Ok(self
            .lock_file(name, false)
            .await?
            .map(|f| Box::new(FileLock(f)) as Box<dyn LockGuard>))
    }

    async fn wait_for_open_transactions(&self, _limit: std::time::Duration) -> Result<bool> {
        // Write transactions run one at a time (one writer here, the file
        // lock across processes): once a write returned, every write
        // transaction begun before it has ended.
        Ok(true)
    }

    async fn ping(&self) -> Result<()> {
        self.fetch_all("SELECT 1", &[]).await.map(|_| ())
    }

    fn connections_active(&self) -> u64 {
        self.inner.active.load(Ordering::Relaxed)
    }

    async fn close(&self) {
        // Checkpoint the WAL so a copied database file is complete on its own.
        if let Ok(conn) = self.writer().await {
            let _ = call(&self.inner.active, conn.clone(), |c| async move {
                c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").await.map(|_| ())
            })
            .await;
        }
    }
}

struct FileLock(std::fs::File);

#[async_trait]
impl LockGuard for FileLock {
    async fn release(self: Box<Self>) -> Result<()> {
        self.0.unlock().map_err(|e| StoreError::Other(format!("unlock: {e}")))
    }
}

/// The writer connection held for the life of a transaction.
struct LibsqlTransaction {
    conn: Option<OwnedMutexGuard<Conn>>,
    db: LibsqlDatabase,
}

impl LibsqlTransaction {
    fn conn(&self) -> Result<Conn> {
        self.conn
            .as_ref()
            .map(|c| (**c).clone())
            .ok_or_else(|| StoreError::Other("transaction already finished".into()))
    }

    /// Runs one statement inline (it only touches the page cache).
    async fn run(&self, sql: &str, params: Vec<libsql::Value>) -> Result<u64> {
        let conn = self.conn()?;
        inline(&self.db.inner.active, async move { conn.run(sql, params).await }).await
    }

    /// Runs one statement inline and returns its rows.
    async fn rows(&self, sql: &str, params: Vec<libsql::Value>) -> Result<Vec<Row>> {
        let conn = self.conn()?;
        inline(&self.db.inner.active, query_rows(conn, sql.to_owned(), params)).await
    }

    async fn finish(mut self: Box<Self>, sql: &'static str) -> Result<()> {
        let conn = self.conn()?;
        // The writer is released by the blocking task once the statement
        // ran, even if our caller stopped waiting meanwhile: released
        // before, the next transaction could begin first and be ended by
        // this COMMIT. On a failed COMMIT the next user of the writer rolls
        // back whatever is left open.
        let writer = self.conn.take();
        call(&self.db.inner.active, conn, move |c| async move {
            let done = c.execute(sql, ()).await.map(|_| ());
            drop(writer);
            done
        })
        .await
    }
}

#[async_trait]
impl Executor for LibsqlTransaction {
    fn engine(&self) -> Engine {
        Engine::Sqlite
    }

    async fn execute(&self, sql: &str, params: &[Value]) -> Result<u64> {
        self.run(sql, to_libsql(params)).await
    }

    async fn fetch_all(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        self.rows(sql, to_libsql(params)).await
    }

    async fn execute_owned(&self, sql: &str, params: Vec<Value>) -> Result<u64> {
        self.run(sql, params.into_iter().map(into_libsql).collect()).await
    }

    async fn fetch_all_owned(&self, sql: &str, params: Vec<Value>) -> Result<Vec<Row>> {
        self.rows(sql, params.into_iter().map(into_libsql).collect()).await
    }

    async fn execute_script(&self, sql: &str) -> Result<()> {
        let sql = sql.to_owned();
        call(&self.db.inner.active, self.conn()?, |c| async move {
            c.execute_batch(&sql).await.map(|_| ())
        })
        .await
    }
}

#[async_trait]
impl Transaction for LibsqlTransaction {
    async fn commit(self: Box<Self>) -> Result<()> {
        self.finish("COMMIT").await
    }

    async fn rollback(self: Box<Self>) -> Result<()> {
        self.finish("ROLLBACK").await
    }
}
