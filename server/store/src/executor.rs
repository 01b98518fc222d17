//! The narrow interface both database adapters implement.

use async_trait::async_trait;

use crate::error::Result;
use crate::value::{Row, Value};

/// Which engine a [`Database`] runs on. Repositories never branch on it;
/// only [`Dialect`] and the migrator's folder choice do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Postgres,
    Sqlite,
}

impl Engine {
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Postgres => "postgres",
            Engine::Sqlite => "sqlite",
        }
    }
}

/// The handful of SQL spellings that differ between engines.
#[derive(Debug, Clone, Copy)]
pub struct Dialect {
    /// Case-insensitive `LIKE` operator (`ILIKE` / SQLite's ASCII-insensitive `LIKE`).
    pub ilike: &'static str,
    /// Null-safe "differs from" comparison.
    pub distinct_from: &'static str,
    /// Whether a long bulk load must refresh table statistics as it goes.
    /// Postgres plans from statistics that do not yet count the rows the
    /// transaction inserted (it would scan the whole table for each batch's
    /// key lookup); `ANALYZE` inside the transaction does count them.
    pub analyze_during_bulk: bool,
    /// The audit rows waiting to be sealed, read through their partial
    /// index. Without statistics SQLite prefers the `(tenant_id, seq)`
    /// unique index (`seq IS NULL` looks like an equality) and sorts every
    /// unsealed row for each batch: a backlog of 800,000 rows (a bulk load,
    /// a long stop) then sealed at ~2,000 rows/s instead of tens of
    /// thousands.
    pub unsealed_audit_rows: &'static str,
    /// A script that refreshes the planner's statistics where they are
    /// missing or stale, cheap enough to run every few minutes. SQLite
    /// only has statistics after `ANALYZE`; `optimize` with these flags
    /// looks at every table and analyzes the ones that need it, sampling
    /// at most 1,000 rows per index. Postgres's autovacuum does this itself.
    pub refresh_statistics: Option<&'static str>,
    /// Written before a column in a condition, keeps the planner from
    /// searching an index led by that column (SQLite's unary `+`; Postgres
    /// plans from statistics and has no such operator on text). Paging a
    /// school's rows by id uses it: without statistics SQLite searches a
    /// `(tenant_id, school_id, …)` index and sorts the whole school for
    /// every page, where walking the id key is linear.
    pub not_indexed: &'static str,
}

impl Dialect {
    pub const POSTGRES: Dialect = Dialect {
        ilike: "ILIKE",
        distinct_from: "IS DISTINCT FROM",
        analyze_during_bulk: true,
        unsealed_audit_rows: "audit_logs",
        refresh_statistics: None,
        not_indexed: "",
    };
    pub const SQLITE: Dialect = Dialect {
        ilike: "LIKE",
        distinct_from: "IS NOT",
        analyze_during_bulk: false,
        unsealed_audit_rows: "audit_logs INDEXED BY audit_logs_unsealed_idx",
        refresh_statistics: Some("PRAGMA analysis_limit = 1000; PRAGMA optimize = 0x10002;"),
        not_indexed: "+",
    };
}

/// Runs statements. Implemented by a database handle (auto-commit, one
/// statement each) and by an open transaction.
#[async_trait]
pub trait Executor: Send + Sync {
    /// The engine behind this executor.
    fn engine(&self) -> Engine;

    fn dialect(&self) -> Dialect {
        match self.engine() {
            Engine::Postgres => Dialect::POSTGRES,
            Engine::Sqlite => Dialect::SQLITE,
        }
    }

    /// Runs one statement; returns the number of rows it changed.
    async fn execute(&self, sql: &str, params: &[Value]) -> Result<u64>;

    /// Runs one statement and returns every row.
    async fn fetch_all(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>>;

    /// [`Executor::execute`] with its parameters given away, so an engine
    /// that binds owned values (libsql) moves them instead of copying them:
    /// a sync catch-up binds megabytes of text a second.
    async fn execute_owned(&self, sql: &str, params: Vec<Value>) -> Result<u64> {
        self.execute(sql, &params).await
    }

    /// [`Executor::fetch_all`] with its parameters given away (see
    /// [`Executor::execute_owned`]).
    async fn fetch_all_owned(&self, sql: &str, params: Vec<Value>) -> Result<Vec<Row>> {
        self.fetch_all(sql, &params).await
    }

    /// Runs one statement and returns its first row, if any.
    async fn fetch_optional(&self, sql: &str, params: &[Value]) -> Result<Option<Row>> {
        Ok(self.fetch_all(sql, params).await?.into_iter().next())
    }

    /// Runs a `SELECT COUNT(*) AS n …` and returns `n`.
    async fn count(&self, sql: &str, params: &[Value]) -> Result<i64> {
        self.fetch_optional(sql, params).await?.map_or(Ok(0), |r| r.i64("n"))
    }

    /// Runs a script of several statements without parameters (migrations).
    async fn execute_script(&self, sql: &str) -> Result<()>;
}

/// An open transaction; dropped without `commit` it rolls back.
#[async_trait]
pub trait Transaction: Executor {
    async fn commit(self: Box<Self>) -> Result<()>;
    async fn rollback(self: Box<Self>) -> Result<()>;
}

/// Held while a named cluster-wide lock is owned; released on `release` or drop.
#[async_trait]
pub trait LockGuard: Send {
    async fn release(self: Box<Self>) -> Result<()>;
}

/// A database handle shared by the whole process.
#[async_trait]
pub trait Database: Executor {
    /// Starts a transaction that takes the write lock up front (SQLite
    /// `BEGIN IMMEDIATE`), so it cannot fail later on lock upgrade.
    async fn begin(&self) -> Result<Box<dyn Transaction>>;

    /// Waits for a named lock shared by every process on this database
    /// (Postgres advisory lock; on SQLite, the database's one writer).
    async fn lock(&self, name: &str) -> Result<Box<dyn LockGuard>>;

    /// Takes a named lock if nobody holds it (a leader lease for singleton
    /// jobs); `None` when another process has it.
    async fn try_lock(&self, name: &str) -> Result<Option<Box<dyn LockGuard>>>;

    /// Waits until every transaction that was open on this database when
    /// it was called has ended, for at most `limit`; false if some still
    /// were. A write that began before an edge enrolled may have decided
    /// its change needs no capture, so the enrollment copy must start
    /// after it committed.
    async fn wait_for_open_transactions(&self, limit: std::time::Duration) -> Result<bool>;

    /// Cheap round trip for readiness checks.
    async fn ping(&self) -> Result<()>;

    /// Connections currently checked out (for `db_connections_active`).
    fn connections_active(&self) -> u64;

    /// Closes connections; used on graceful shutdown.
    async fn close(&self);
}
