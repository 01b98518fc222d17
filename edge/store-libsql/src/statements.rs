//! A connection with a cache of prepared statements. libsql prepares every
//! statement it is given afresh; parsing and planning were ~23 % of the
//! CPU an incident create costs on SQLite (`perf`, bench/run.sh), for SQL
//! that is the same on every call.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex, PoisonError};

use libsql::{Connection, Statement};

use crate::rewrite::dollar_to_question;

/// Statements kept per connection. The store's SQL is a few hundred fixed
/// texts plus some generated ones (IN lists of varying length); when
/// generated ones fill the cache it starts over.
const CAPACITY: usize = 256;

/// Longer SQL is not kept: it is generated bulk work (multi-row inserts,
/// long IN lists) that rarely repeats exactly, and its prepared form is
/// large.
const LONGEST_KEPT: usize = 2048;

/// A libsql connection and its prepared statements, keyed by the store's
/// SQL text (`$n` placeholders, before the rewrite).
#[derive(Clone)]
pub struct Conn {
    raw: Connection,
    cache: Arc<Mutex<HashMap<String, Statement>>>,
}

impl Conn {
    pub fn new(raw: Connection) -> Self {
        Conn {
            raw,
            cache: Arc::default(),
        }
    }

    /// Runs one statement; returns the number of rows it changed.
    pub async fn run(&self, sql: &str, params: Vec<libsql::Value>) -> libsql::Result<u64> {
        let stmt = self.take(sql).await?;
        let changed = stmt.execute(params).await;
        self.give_back(sql, stmt);
        changed.map(|n| n as u64)
    }

    /// Runs one query and hands its rows to `read` (which must read them
    /// all, so the statement can be reused).
    pub async fn rows<T>(
        &self,
        sql: &str,
        params: Vec<libsql::Value>,
        read: impl AsyncFnOnce(libsql::Rows) -> libsql::Result<T>,
    ) -> libsql::Result<T> {
        let stmt = self.take(sql).await?;
        let result = match stmt.query(params).await {
            Ok(rows) => read(rows).await,
            Err(e) => Err(e),
        };
        self.give_back(sql, stmt);
        result
    }

    /// The cached statement for `sql`, taken out while in use (a second user
    /// of the same text meanwhile prepares its own), or a new one.
    async fn take(&self, sql: &str) -> libsql::Result<Statement> {
        let cached = self.cache.lock().unwrap_or_else(PoisonError::into_inner).remove(sql);
        match cached {
            Some(stmt) => Ok(stmt),
            None => self.raw.prepare(&dollar_to_question(sql)).await,
        }
    }

    fn give_back(&self, sql: &str, stmt: Statement) {
        // Reset releases what the statement holds (read snapshot, locks) and
        // readies it for new bindings.
        stmt.reset();
        if sql.len() > LONGEST_KEPT {
            return;
        }
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= CAPACITY {
            cache.clear();
        }
        cache.insert(sql.to_owned(), stmt);
    }
}

impl Deref for Conn {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        &self.raw
    }
}
