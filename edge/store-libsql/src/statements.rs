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

/// Longer SQL is generated bulk work (multi-row inserts, long IN lists).
/// Its prepared form is large, so only a few such statements are kept:
/// a bulk apply repeats a handful of shapes (one full-size insert per
/// table), and preparing them afresh was ~9 % of an edge's down apply.
const LONG: usize = 2048;
const LONG_CAPACITY: usize = 8;

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
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if sql.len() > LONG && cache.keys().filter(|k| k.len() > LONG).count() >= LONG_CAPACITY {
            cache.retain(|k, _| k.len() <= LONG);
        }
        if cache.len() >= CAPACITY {
            cache.clear();
        }
        cache.insert(sql.to_owned(), stmt);
    }

    /// How many statements are kept: (all, long ones).
    #[cfg(test)]
    fn kept(&self) -> (usize, usize) {
        let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        (cache.len(), cache.keys().filter(|k| k.len() > LONG).count())
    }
}

impl Deref for Conn {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        &self.raw
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    async fn conn() -> Conn {
        let db = libsql::Builder::new_local(":memory:").build().await.unwrap();
        let raw = db.connect().unwrap();
        raw.execute("CREATE TABLE t (a INTEGER)", ()).await.unwrap();
        Conn::new(raw)
    }

    /// `SELECT a FROM t WHERE a IN ($1, …)` with `n` placeholders.
    fn in_list(n: usize) -> String {
        let marks: Vec<String> = (1..=n).map(|i| format!("${i}")).collect();
        format!("SELECT a FROM t WHERE a IN ({})", marks.join(", "))
    }

    async fn run(c: &Conn, sql: &str, n: usize) {
        let params: Vec<libsql::Value> = (0..n).map(|i| libsql::Value::Integer(i as i64)).collect();
        c.rows(sql, params, async |mut rows| {
            while rows.next().await?.is_some() {}
            Ok(())
        })
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn statements_are_reused_and_the_cache_stays_bounded() {
        let c = conn().await;
        // The same text twice is one cached statement.
        run(&c, "SELECT a FROM t WHERE a = $1", 1).await;
        run(&c, "SELECT a FROM t WHERE a = $1", 1).await;
        assert_eq!(c.kept(), (1, 0));

        // Long texts are kept, but only a few of them: the next one past
        // the limit drops the long ones and keeps the short.
        let long: Vec<String> = (400..400 + LONG_CAPACITY + 1).map(in_list).collect();
        assert!(long.iter().all(|sql| sql.len() > LONG));
        for sql in &long[..LONG_CAPACITY] {
            run(&c, sql, sql.matches('$').count()).await;
        }
        assert_eq!(c.kept(), (1 + LONG_CAPACITY, LONG_CAPACITY));
        let last = &long[LONG_CAPACITY];
        run(&c, last, last.matches('$').count()).await;
        assert_eq!(c.kept(), (2, 1));

        // Past the overall capacity the cache starts over.
        for n in 1..=CAPACITY {
            run(&c, &in_list(n), n).await;
        }
        let (all, _) = c.kept();
        assert!(all <= CAPACITY, "{all} statements kept");
    }
}
