//! Postgres adapter for the ESSP store: a sqlx pool, typed binds, row
//! mapping and SQLSTATE interpretation. No SQL of its own beyond locking.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use essp_store::{Database, Engine, Executor, LockGuard, Row, SqlType, StoreError, Transaction, Value};
use sqlx::pool::PoolOptions;
use sqlx::postgres::{PgArguments, PgConnection, PgPool, PgRow};
use sqlx::query::Query;
use sqlx::{Column, Connection, Postgres, Row as _, TypeInfo};
use tokio::sync::Mutex;

type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A pooled Postgres database.
#[derive(Clone)]
pub struct PgDatabase {
    pool: PgPool,
}

impl PgDatabase {
    /// Connects to `dsn` (any libpq-style URL, `sslmode` honoured).
    pub async fn connect(dsn: &str, max_connections: u32) -> Result<Self> {
        let pool = PoolOptions::<Postgres>::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            // No ping before every checkout: a dead connection fails its
            // query, is dropped, and readiness reports the outage.
            .test_before_acquire(false)
            .connect(dsn)
            .await
            .map_err(map_err)?;
        Ok(Self { pool })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

fn bind<'q>(mut q: Query<'q, Postgres, PgArguments>, params: &'q [Value]) -> Query<'q, Postgres, PgArguments> {
    for p in params {
        q = match p {
            Value::Text(s) => q.bind(s.as_str()),
            Value::I64(n) => q.bind(*n),
            Value::F64(n) => q.bind(*n),
            Value::Bool(b) => q.bind(*b),
            Value::Timestamp(t) => q.bind(*t),
            Value::Json(j) => q.bind(sqlx::types::Json(j)),
            Value::Null(t) => match t {
                SqlType::Text => q.bind(None::<String>),
                SqlType::I64 => q.bind(None::<i64>),
                SqlType::F64 => q.bind(None::<f64>),
                SqlType::Bool => q.bind(None::<bool>),
                SqlType::Timestamp => q.bind(None::<DateTime<Utc>>),
                SqlType::Json => q.bind(None::<sqlx::types::Json<serde_json::Value>>),
            },
        };
    }
    q
}

fn decode_row(row: &PgRow, columns: &Arc<[String]>) -> Result<Row> {
    let mut values = Vec::with_capacity(columns.len());
    for (i, col) in row.columns().iter().enumerate() {
        let name = col.name();
        let err = |e: sqlx::Error| StoreError::decode(name, e.to_string());
        let v = match col.type_info().name() {
            "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" => row.try_get::<Option<String>, _>(i).map_err(err)?.into(),
            "INT8" => row.try_get::<Option<i64>, _>(i).map_err(err)?.into(),
            "INT4" => row.try_get::<Option<i32>, _>(i).map_err(err)?.map(i64::from).into(),
            "INT2" => row.try_get::<Option<i16>, _>(i).map_err(err)?.map(i64::from).into(),
            "FLOAT8" => row.try_get::<Option<f64>, _>(i).map_err(err)?.into(),
            "FLOAT4" => row.try_get::<Option<f32>, _>(i).map_err(err)?.map(f64::from).into(),
            "BOOL" => row.try_get::<Option<bool>, _>(i).map_err(err)?.into(),
            "TIMESTAMPTZ" => row.try_get::<Option<DateTime<Utc>>, _>(i).map_err(err)?.into(),
            "JSON" | "JSONB" => row
                .try_get::<Option<sqlx::types::Json<serde_json::Value>>, _>(i)
                .map_err(err)?
                .map(|j| j.0)
                .into(),
            other => return Err(StoreError::decode(name, format!("unsupported column type {other}"))),
        };
        values.push(v);
    }
    Ok(Row::new(columns.clone(), values))
}

fn decode_rows(rows: &[PgRow]) -> Result<Vec<Row>> {
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    let columns: Arc<[String]> = first.columns().iter().map(|c| c.name().to_owned()).collect();
    rows.iter().map(|r| decode_row(r, &columns)).collect()
}

/// Interprets driver errors once, by SQLSTATE.
fn map_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) => {
            let constraint = db.constraint().unwrap_or_default().to_owned();
            match db.code().as_deref() {
                Some("23505") => StoreError::UniqueViolation { constraint },
                Some("23503" | "23502" | "23514") => StoreError::ConstraintViolation { constraint },
                Some("40001" | "40P01" | "55P03") => StoreError::Busy(db.message().to_owned()),
                // Invalid or untranslatable characters (a NUL in text).
                Some("22021" | "22P05") => StoreError::InvalidValue(db.message().to_owned()),
                Some(code) if code.starts_with("08") || code.starts_with("57P") => {
                    StoreError::Unavailable(db.message().to_owned())
                }
                _ => StoreError::Other(e.to_string()),
            }
        }
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => {
            StoreError::Unavailable(e.to_string())
        }
        _ => StoreError::Other(e.to_string()),
    }
}

/// Runs one statement on any sqlx executor, timing it.
macro_rules! run {
    ($exec:expr, execute, $sql:expr, $params:expr) => {{
        let started = Instant::now();
        let r = bind(sqlx::query($sql), $params).execute($exec).await.map_err(map_err);
        essp_store::telemetry::observe_query(Engine::Postgres, started);
        r.map(|done| done.rows_affected())
    }};
    ($exec:expr, fetch_all, $sql:expr, $params:expr) => {{
        let started = Instant::now();
        let r = bind(sqlx::query($sql), $params).fetch_all($exec).await.map_err(map_err);
        essp_store::telemetry::observe_query(Engine::Postgres, started);
        decode_rows(&r?)
    }};
    ($exec:expr, script, $sql:expr) => {{
        let started = Instant::now();
        // A plain &str runs as a simple query: several statements allowed.
        let r = sqlx::Executor::execute($exec, $sql).await.map_err(map_err);
        essp_store::telemetry::observe_query(Engine::Postgres, started);
        r.map(|_| ())
    }};
}

#[async_trait]
impl Executor for PgDatabase {
    fn engine(&self) -> Engine {
        Engine::Postgres
    }

    async fn execute(&self, sql: &str, params: &[Value]) -> Result<u64> {
        run!(&self.pool, execute, sql, params)
    }

    async fn fetch_all(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        run!(&self.pool, fetch_all, sql, params)
    }

    async fn execute_script(&self, sql: &str) -> Result<()> {
        run!(&self.pool, script, sql)
    }
}

#[async_trait]
impl Database for PgDatabase {
    async fn begin(&self) -> Result<Box<dyn Transaction>> {
        // sqlx 0.8's begin is not cancel-safe: dropped between sending
        // BEGIN and reading its answer (a client hanging up, a timeout), it
        // hands the connection back to the pool inside the server's
        // transaction without knowing it, and the next auto-commit write on
        // that connection is acknowledged but never committed. On its own
        // task it always finishes; a transaction nobody waits for any more
        // is then dropped there, which rolls it back.
        let pool = self.pool.clone();
        let tx = to_completion(async move { pool.begin().await }).await?;
        Ok(Box::new(PgTransaction { tx: Mutex::new(tx) }))
    }

    async fn lock(&self, name: &str) -> Result<Box<dyn LockGuard>> {
        // A session-level advisory lock on a connection taken out of the
        // pool: if this process dies, the server drops the session and the
        // lock with it.
        let mut conn = self.pool.acquire().await.map_err(map_err)?.detach();
        let key = lock_key(name);
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(key)
            .execute(&mut conn)
            .await
            .map_err(map_err)?;
        Ok(Box::new(PgLock { conn, key }))
    }

    async fn try_lock(&self, name: &str) -> Result<Option<Box<dyn LockGuard>>> {
        let mut conn = self.pool.acquire().await.map_err(map_err)?.detach();
        let key = lock_key(name);
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(key)
            .fetch_one(&mut conn)
            .await
            .map_err(map_err)?;
        if got {
            Ok(Some(Box::new(PgLock { conn, key })))
        } else {
            let _ = conn.close().await;
            Ok(None)
        }
    }

    async fn wait_for_open_transactions(&self, limit: Duration) -> Result<bool> {
        // Every transaction holds the lock on its own virtual transaction
        // id until it ends, whether or not it has written yet (the way
        // CREATE INDEX CONCURRENTLY waits for older transactions).
        let open: Vec<String> = sqlx::query_scalar(
            "SELECT l.virtualxid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'virtualxid' AND l.granted AND a.datname = current_database() \
             AND l.pid <> pg_backend_pid()",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        let deadline = Instant::now() + limit;
        loop {
            let left: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'virtualxid' AND granted AND virtualxid = ANY($1)",
            )
            .bind(&open)
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
            if left == 0 {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(map_err)
            .map(|_| ())
    }

    fn connections_active(&self) -> u64 {
        u64::from(self.pool.size()).saturating_sub(self.pool.num_idle() as u64)
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

/// Runs `work` on its own task, so it finishes even when the caller stops
/// waiting for it.
async fn to_completion<T: Send + 'static>(
    work: impl std::future::Future<Output = std::result::Result<T, sqlx::Error>> + Send + 'static,
) -> Result<T> {
    tokio::spawn(work)
        .await
        .map_err(|e| StoreError::Other(format!("a database task failed: {e}")))?
        .map_err(map_err)
}

/// Stable 64-bit key for a lock name (FNV-1a), identical in every process.
fn lock_key(name: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

struct PgLock {
    conn: PgConnection,
    key: i64,
}

#[async_trait]
impl LockGuard for PgLock {
    async fn release(self: Box<Self>) -> Result<()> {
        let PgLock { mut conn, key } = *self;
        sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(key)
            .execute(&mut conn)
            .await
            .map_err(map_err)?;
        conn.close().await.map_err(map_err)
    }
}

struct PgTransaction {
    tx: Mutex<sqlx::Transaction<'static, Postgres>>,
}

#[async_trait]
impl Executor for PgTransaction {
    fn engine(&self) -> Engine {
        Engine::Postgres
    }

    async fn execute(&self, sql: &str, params: &[Value]) -> Result<u64> {
        let mut tx = self.tx.lock().await;
        run!(&mut **tx, execute, sql, params)
    }

    async fn fetch_all(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        let mut tx = self.tx.lock().await;
        run!(&mut **tx, fetch_all, sql, params)
    }

    async fn execute_script(&self, sql: &str) -> Result<()> {
        let mut tx = self.tx.lock().await;
        run!(&mut **tx, script, sql)
    }
}

#[async_trait]
impl Transaction for PgTransaction {
    async fn commit(self: Box<Self>) -> Result<()> {
        // Like BEGIN: a COMMIT abandoned half-way would be followed by the
        // ROLLBACK sqlx queues on drop ("no transaction in progress").
        let tx = self.tx.into_inner();
        to_completion(async move { tx.commit().await }).await
    }

    async fn rollback(self: Box<Self>) -> Result<()> {
        self.tx.into_inner().rollback().await.map_err(map_err)
    }
}
