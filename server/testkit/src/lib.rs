//! Test-only helpers: a fresh database per test on either engine, against
//! the real servers (never mocks), and a macro that runs one scenario on
//! both engines.
//!
//! Postgres is the machine's server (`ESSP_TEST_PG_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`). A missing Postgres fails
//! the test loudly; it is never skipped.

#![allow(clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use essp_store::Database;
use essp_store::migrate::Migrator;
use essp_store_libsql::LibsqlDatabase;
use essp_store_postgres::PgDatabase;
use sqlx::Connection;

pub mod oidc;
mod private_moto;
mod private_nats;
mod private_postgres;
pub use private_moto::PrivateMoto;
pub use private_nats::PrivateNats;
pub use private_postgres::PrivatePostgres;

/// Which engine a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database that exists for one test and is removed afterwards.
pub struct TestDb {
    pub db: Arc<dyn Database>,
    /// URL (Postgres DSN or SQLite file path) for handing to a subprocess.
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

pub fn pg_admin_url() -> String {
    std::env::var("ESSP_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A URL for database `name` on the same server as `admin`.
pub fn url_for(admin: &str, name: &str) -> String {
    match admin.rsplit_once('/') {
        Some((base, rest)) => {
            let query = rest.split_once('?').map(|(_, q)| format!("?{q}")).unwrap_or_default();
            format!("{base}/{name}{query}")
        }
        None => panic!("ESSP_TEST_PG_URL {admin:?} has no database path"),
    }
}

impl TestDb {
    /// An empty database (no migrations applied).
    pub async fn empty(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("tempdir");
                let path = dir.path().join("essp.db");
                let db = LibsqlDatabase::open(&path).await.expect("open sqlite");
                TestDb {
                    db: Arc::new(db),
                    url: path.display().to_string(),
                    cleanup: Cleanup::Sqlite(dir),
                }
            }
            Backend::Postgres => Self::postgres_on(&pg_admin_url()).await,
        }
    }

    /// A new SQLite database holding a copy of the database file at `path`
    /// (another box cloned from this one's disk).
    pub async fn sqlite_copy_of(path: &std::path::Path) -> TestDb {
        let dir = tempfile::tempdir().expect("tempdir");
        let copy = dir.path().join("essp.db");
        std::fs::copy(path, &copy).expect("copy the database file");
        let db = LibsqlDatabase::open(&copy).await.expect("open sqlite");
        TestDb {
            db: Arc::new(db),
            url: copy.display().to_string(),
            cleanup: Cleanup::Sqlite(dir),
        }
    }

    /// A fresh, empty database on the Postgres server behind `admin_url`.
    pub async fn postgres_on(admin_url: &str) -> TestDb {
        let admin_url = admin_url.to_owned();
        let name = format!("essp_test_{}", ulid::Ulid::new().to_string().to_lowercase());
        let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap_or_else(|e| {
            panic!("Postgres is required for these tests and is not reachable at {admin_url}: {e}")
        });
        sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("create test database");
        let url = url_for(&admin_url, &name);
        let db = PgDatabase::connect(&url, 8).await.expect("connect to test database");
        TestDb {
            db: Arc::new(db),
            url,
            cleanup: Cleanup::Postgres { admin_url, name },
        }
    }

    /// A database with every embedded migration applied.
    pub async fn migrated(backend: Backend) -> TestDb {
        let t = Self::empty(backend).await;
        Migrator::embedded(t.db.as_ref())
            .expect("embedded migrations")
            .up(None)
            .await
            .expect("migrate up");
        t
    }

    /// Opens a second, independent handle on the same database (another
    /// "process" for concurrency tests).
    pub async fn reopen(&self) -> Arc<dyn Database> {
        match &self.cleanup {
            Cleanup::Sqlite(_) => Arc::new(
                LibsqlDatabase::open(std::path::Path::new(&self.url))
                    .await
                    .expect("reopen"),
            ),
            Cleanup::Postgres { .. } => Arc::new(PgDatabase::connect(&self.url, 8).await.expect("reconnect")),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Cleanup::Postgres { admin_url, name } = &self.cleanup {
            // Drop runs outside async; use a private runtime on a thread.
            let (admin_url, name) = (admin_url.clone(), name.clone());
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                rt.block_on(async {
                    let mut admin = sqlx::PgConnection::connect(&admin_url).await.ok()?;
                    sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut admin)
                        .await
                        .ok()
                })
            })
            .join();
        }
    }
}

/// Generates one `#[tokio::test]` per engine for each scenario function
/// `async fn name(backend: Backend)`.
#[macro_export]
macro_rules! on_both_engines {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() { super::$name($crate::Backend::Sqlite).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() { super::$name($crate::Backend::Postgres).await }
        }
    )+};
}
