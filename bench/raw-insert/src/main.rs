//! `raw-insert`: the raw engine baseline of `bench/run.sh`.
//!
//! Inserts rows shaped exactly like the ones `POST /v1/incidents` writes
//! (same table, created by the same migration text; same 20 columns; a fresh
//! `inc_<ULID>` id; timestamps in the same representation), one row per
//! transaction, straight through libsql / sqlx — never through ESSP's store
//! crates — and prints one JSON line:
//! `{"engine","ops","seconds","ops_per_sec","p50_ms","p99_ms","writers"}`.
//!
//! SQLite: one connection with the adapter's settings (WAL,
//! `synchronous=FULL`, `foreign_keys=ON`, busy timeout) and a loop of
//! `BEGIN IMMEDIATE; INSERT; COMMIT`. SQLite has a single writer, so 16
//! concurrent writers would only queue for it: `--concurrency` does not
//! change the rate and is not used (the output says `"writers":1`). The
//! latencies are therefore per-commit service times, without queueing.
//!
//! Postgres: `--concurrency` connections, each looping
//! `BEGIN; INSERT; COMMIT` with the server's own durability settings.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use chrono::{DateTime, SubsecRound, Utc};
use clap::{Parser, ValueEnum};
use sqlx::{Connection, PgConnection};

const SQLITE_MIGRATION: &str = include_str!("../../../migrations/sqlite/0001_incidents.up.sql");
const POSTGRES_MIGRATION: &str = include_str!("../../../migrations/postgres/0001_incidents.up.sql");

/// The column list of `essp_store::incidents::insert`, in the same order.
const SQLITE_INSERT: &str = "INSERT INTO incidents (id, tenant_id, school_id, device_id, category, severity, status, \
     title, description, reported_by, sla_due_at, sla_breached, breached_at, acknowledged_at, resolved_at, \
     closed_at, status_reason, created_at, updated_at, version) \
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
const POSTGRES_INSERT: &str = "INSERT INTO incidents (id, tenant_id, school_id, device_id, category, severity, status, \
     title, description, reported_by, sla_due_at, sla_breached, breached_at, acknowledged_at, resolved_at, \
     closed_at, status_reason, created_at, updated_at, version) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)";

const TENANT: &str = "bench-tenant";
const SCHOOL: &str = "bench-school";
const TITLE: &str = "Bench incident";
const CATEGORY: &str = "hardware";
const SEVERITY: &str = "medium";
/// The API's default SLA for `medium` (`ESSP_SLA_MEDIUM`, 48 h).
const SLA_MEDIUM_HOURS: i64 = 48;
/// The identity every API request acts as until token auth lands.
const REPORTED_BY: &str = "dev-user";
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Engine {
    Sqlite,
    Postgres,
}

#[derive(Debug, Parser)]
#[command(
    name = "raw-insert",
    about = "Raw single-row transactional insert baseline for bench/run.sh"
)]
struct Args {
    #[arg(long, value_enum)]
    engine: Engine,
    /// SQLite database file (must not hold an `incidents` table yet).
    #[arg(long, required_if_eq("engine", "sqlite"))]
    path: Option<PathBuf>,
    /// Postgres URL (its database must not hold an `incidents` table yet).
    #[arg(long, required_if_eq("engine", "postgres"))]
    dsn: Option<String>,
    /// Measured duration.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Unmeasured run before the measurement, same workload.
    #[arg(long, default_value_t = 0)]
    warmup: u64,
    /// Concurrent writers (Postgres; SQLite always has one writer).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
}

/// One incident as the API would build it for the benchmark's request body.
struct NewRow {
    id: String,
    device_id: String,
    created_at: DateTime<Utc>,
    sla_due_at: DateTime<Utc>,
}

impl NewRow {
    fn new(n: u64) -> Self {
        // essp_domain::now(): microsecond precision, like the stored text.
        let now = Utc::now().trunc_subsecs(6);
        Self {
            id: format!("inc_{}", ulid::Ulid::new()),
            device_id: format!("dev_{n}"),
            created_at: now,
            sla_due_at: now + chrono::Duration::hours(SLA_MEDIUM_HOURS),
        }
    }
}

/// `essp_store::value::sqlite_timestamp`: fixed-width RFC 3339 UTC text.
fn sqlite_ts(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

struct Stats {
    engine: &'static str,
    writers: usize,
    latencies: Vec<Duration>,
    elapsed: Duration,
}

impl Stats {
    fn percentile_ms(sorted: &[Duration], q: f64) -> f64 {
        if sorted.is_empty() {
            return f64::NAN;
        }
        let rank = (q * sorted.len() as f64).ceil() as usize;
        let i = rank.clamp(1, sorted.len()) - 1;
        sorted[i].as_secs_f64() * 1000.0
    }

    fn to_json(&self) -> Result<serde_json::Value> {
        ensure!(!self.latencies.is_empty(), "no insert completed in the measured window");
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        let ops = sorted.len();
        let seconds = self.elapsed.as_secs_f64();
        let round = |x: f64| (x * 1000.0).round() / 1000.0;
        Ok(serde_json::json!({
            "engine": self.engine,
            "ops": ops,
            "seconds": round(seconds),
            "ops_per_sec": round(ops as f64 / seconds),
            "p50_ms": round(Self::percentile_ms(&sorted, 0.50)),
            "p99_ms": round(Self::percentile_ms(&sorted, 0.99)),
            "writers": self.writers,
        }))
    }
}

async fn sqlite(path: &Path, warmup: Duration, measure: Duration) -> Result<Stats> {
    let db = libsql::Builder::new_local(path)
        .build()
        .await
        .with_context(|| format!("open {}", path.display()))?;
    let conn = db.connect()?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // The libsql adapter's writer settings, verbatim.
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
        .await?;
    let journal = sqlite_pragma(&conn, "PRAGMA journal_mode").await?;
    let synchronous = sqlite_pragma(&conn, "PRAGMA synchronous").await?;
    ensure!(
        journal.eq_ignore_ascii_case("wal") && synchronous == "2",
        "SQLite did not accept WAL + synchronous=FULL (journal_mode={journal}, synchronous={synchronous})"
    );
    conn.execute_batch(SQLITE_MIGRATION)
        .await
        .context("creating the incidents table (is the database fresh?)")?;

    let stmt = conn.prepare(SQLITE_INSERT).await?;
    let mut n: u64 = 0;
    let mut latencies = Vec::new();
    let warm_end = Instant::now() + warmup;
    while Instant::now() < warm_end {
        n += 1;
        sqlite_insert_tx(&conn, &stmt, n).await?;
    }
    let start = Instant::now();
    let end = start + measure;
    while Instant::now() < end {
        n += 1;
        let t = Instant::now();
        sqlite_insert_tx(&conn, &stmt, n).await?;
        latencies.push(t.elapsed());
    }
    let elapsed = start.elapsed();
    Ok(Stats {
        engine: "sqlite",
        writers: 1,
        latencies,
        elapsed,
    })
}

async fn sqlite_pragma(conn: &libsql::Connection, sql: &str) -> Result<String> {
    let mut rows = conn.query(sql, ()).await?;
    let Some(row) = rows.next().await? else {
        bail!("{sql} returned no row");
    };
    Ok(match row.get_value(0)? {
        libsql::Value::Text(s) => s,
        libsql::Value::Integer(i) => i.to_string(),
        other => format!("{other:?}"),
    })
}

/// `BEGIN IMMEDIATE; INSERT; COMMIT`, as the libsql adapter runs a create.
async fn sqlite_insert_tx(conn: &libsql::Connection, stmt: &libsql::Statement, n: u64) -> Result<()> {
    use libsql::Value::{Integer, Null, Text};
    let row = NewRow::new(n);
    let created = sqlite_ts(&row.created_at);
    let params = vec![
        Text(row.id),
        Text(TENANT.into()),
        Text(SCHOOL.into()),
        Text(row.device_id),
        Text(CATEGORY.into()),
        Text(SEVERITY.into()),
        Text("new".into()),
        Text(TITLE.into()),
        Text(String::new()),
        Text(REPORTED_BY.into()),
        Text(sqlite_ts(&row.sla_due_at)),
        Integer(0),
        Null,
        Null,
        Null,
        Null,
        Text(String::new()),
        Text(created.clone()),
        Text(created),
        Integer(1),
    ];
    conn.execute("BEGIN IMMEDIATE", ()).await?;
    let inserted = stmt.execute(params).await;
    stmt.reset();
    if let Err(e) = inserted {
        conn.execute("ROLLBACK", ()).await?;
        return Err(e.into());
    }
    conn.execute("COMMIT", ()).await?;
    Ok(())
}

async fn postgres(dsn: &str, writers: usize, warmup: Duration, measure: Duration) -> Result<Stats> {
    ensure!(writers > 0, "--concurrency must be at least 1");
    let mut setup = PgConnection::connect(dsn).await.context("connect to Postgres")?;
    let sync_commit: String = sqlx::query_scalar("SHOW synchronous_commit")
        .fetch_one(&mut setup)
        .await?;
    let fsync: String = sqlx::query_scalar("SHOW fsync").fetch_one(&mut setup).await?;
    eprintln!("raw-insert: postgres synchronous_commit={sync_commit} fsync={fsync}");
    sqlx::raw_sql(POSTGRES_MIGRATION)
        .execute(&mut setup)
        .await
        .context("creating the incidents table (is the database fresh?)")?;
    setup.close().await?;

    let mut conns = Vec::with_capacity(writers);
    for _ in 0..writers {
        conns.push(PgConnection::connect(dsn).await.context("connect to Postgres")?);
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(writers));
    let mut tasks = Vec::with_capacity(writers);
    for (w, mut conn) in conns.into_iter().enumerate() {
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let warm_end = Instant::now() + warmup;
            let mut n = (w as u64) << 40;
            while Instant::now() < warm_end {
                n += 1;
                postgres_insert_tx(&mut conn, n).await?;
            }
            let start = Instant::now();
            let end = start + measure;
            let mut latencies = Vec::new();
            let mut last = start;
            while Instant::now() < end {
                n += 1;
                let t = Instant::now();
                postgres_insert_tx(&mut conn, n).await?;
                last = Instant::now();
                latencies.push(last - t);
            }
            conn.close().await?;
            anyhow::Ok((start, last, latencies))
        }));
    }
    let mut first_start: Option<Instant> = None;
    let mut last_done: Option<Instant> = None;
    let mut latencies = Vec::new();
    for task in tasks {
        let (start, last, lat) = task.await.context("writer task")??;
        first_start = Some(first_start.map_or(start, |s| s.min(start)));
        last_done = Some(last_done.map_or(last, |l| l.max(last)));
        latencies.extend(lat);
    }
    let (Some(start), Some(end)) = (first_start, last_done) else {
        bail!("no writer ran");
    };
    Ok(Stats {
        engine: "postgres",
        writers,
        latencies,
        elapsed: end - start,
    })
}

/// `BEGIN; INSERT; COMMIT` on one connection.
async fn postgres_insert_tx(conn: &mut PgConnection, n: u64) -> Result<()> {
    let row = NewRow::new(n);
    let mut tx = conn.begin().await?;
    sqlx::query(POSTGRES_INSERT)
        .bind(row.id)
        .bind(TENANT)
        .bind(SCHOOL)
        .bind(row.device_id)
        .bind(CATEGORY)
        .bind(SEVERITY)
        .bind("new")
        .bind(TITLE)
        .bind("")
        .bind(REPORTED_BY)
        .bind(row.sla_due_at)
        .bind(false)
        .bind(None::<DateTime<Utc>>)
        .bind(None::<DateTime<Utc>>)
        .bind(None::<DateTime<Utc>>)
        .bind(None::<DateTime<Utc>>)
        .bind("")
        .bind(row.created_at)
        .bind(row.created_at)
        .bind(1_i64)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    ensure!(args.seconds > 0, "--seconds must be at least 1");
    let warmup = Duration::from_secs(args.warmup);
    let measure = Duration::from_secs(args.seconds);
    let stats = match args.engine {
        Engine::Sqlite => {
            let path = args.path.context("--path is required for sqlite")?;
            if args.concurrency != 1 {
                eprintln!(
                    "raw-insert: sqlite has one writer; {} concurrent writers would only queue for it, \
                     so this is one connection looping single-row transactions",
                    args.concurrency
                );
            }
            sqlite(&path, warmup, measure).await?
        }
        Engine::Postgres => {
            let dsn = args.dsn.context("--dsn is required for postgres")?;
            postgres(&dsn, args.concurrency, warmup, measure).await?
        }
    };
    println!("{}", stats.to_json()?);
    Ok(())
}
