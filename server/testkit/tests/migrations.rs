//! The migrator on both engines: round trips, dirty state, locking, parity.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use essp_store::Database;
use essp_store::migrate::{MigrationSet, Migrator, SchemaVersion};
use essp_testkit::{Backend, TestDb, on_both_engines};

/// Table name → sorted column names, from the engine's catalogue.
async fn schema(db: &dyn Database) -> BTreeMap<String, Vec<String>> {
    let rows = match db.engine() {
        essp_store::Engine::Postgres => db
            .fetch_all(
                "SELECT table_name::text AS t, column_name::text AS c FROM information_schema.columns \
                 WHERE table_schema = 'public' ORDER BY 1, 2",
                &[],
            )
            .await
            .unwrap(),
        essp_store::Engine::Sqlite => db
            .fetch_all(
                "SELECT m.name AS t, p.name AS c FROM sqlite_master m JOIN pragma_table_info(m.name) p \
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY 1, 2",
                &[],
            )
            .await
            .unwrap(),
    };
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in rows {
        out.entry(r.text("t").unwrap()).or_default().push(r.text("c").unwrap());
    }
    out
}

async fn up_down_up_round_trip(backend: Backend) {
    let t = TestDb::empty(backend).await;
    let m = Migrator::embedded(t.db.as_ref()).unwrap();
    let latest = m.set().latest().unwrap();
    assert_eq!(m.version().await.unwrap(), None);
    assert_eq!(m.check().await.unwrap(), m.set().migrations().len());

    let applied = m.up(None).await.unwrap();
    assert_eq!(applied.len(), m.set().migrations().len());
    assert_eq!(
        m.version().await.unwrap(),
        Some(SchemaVersion {
            version: latest,
            dirty: false
        })
    );
    let full = schema(t.db.as_ref()).await;
    assert!(full.contains_key("incidents"));
    assert!(m.up(None).await.unwrap().is_empty(), "up is idempotent");

    m.down(None).await.unwrap();
    assert_eq!(m.version().await.unwrap(), None);
    let empty = schema(t.db.as_ref()).await;
    assert_eq!(
        empty.keys().collect::<Vec<_>>(),
        vec!["schema_migrations"],
        "every down undoes its up"
    );

    m.up(None).await.unwrap();
    assert_eq!(schema(t.db.as_ref()).await, full);
}

async fn steps_goto_and_force(backend: Backend) {
    let t = TestDb::empty(backend).await;
    let m = Migrator::embedded(t.db.as_ref()).unwrap();
    let versions: Vec<i64> = m.set().migrations().iter().map(|m| m.version).collect();
    assert!(versions.len() >= 2);
    assert_eq!(m.up(Some(1)).await.unwrap(), vec![versions[0]]);
    assert_eq!(m.version().await.unwrap().unwrap().version, versions[0]);
    m.up(None).await.unwrap();
    assert_eq!(m.down(Some(1)).await.unwrap(), vec![*versions.last().unwrap()]);
    m.goto(versions[0]).await.unwrap();
    assert_eq!(m.version().await.unwrap().unwrap().version, versions[0]);
    m.goto(*versions.last().unwrap()).await.unwrap();
    assert_eq!(m.check().await.unwrap(), 0);
    assert!(m.goto(9999).await.is_err());
    assert!(m.force(9999).await.is_err());
    m.force(versions[0]).await.unwrap();
    assert_eq!(
        m.version().await.unwrap(),
        Some(SchemaVersion {
            version: versions[0],
            dirty: false
        })
    );
}

async fn failed_migration_leaves_dirty_and_blocks(backend: Backend) {
    let t = TestDb::empty(backend).await;
    let files = vec![
        (
            "0001_ok.up.sql".to_string(),
            "CREATE TABLE ok_table (id TEXT PRIMARY KEY);".to_string(),
        ),
        ("0001_ok.down.sql".to_string(), "DROP TABLE ok_table;".to_string()),
        (
            "0002_bad.up.sql".to_string(),
            "CREATE TABLE half (id TEXT); THIS IS NOT SQL;".to_string(),
        ),
        ("0002_bad.down.sql".to_string(), "DROP TABLE half;".to_string()),
    ];
    let m = Migrator::new(t.db.as_ref(), MigrationSet::from_files(files).unwrap());
    let err = m.up(None).await.unwrap_err().to_string();
    assert!(err.contains("0002_bad"), "{err}");
    assert_eq!(
        m.version().await.unwrap(),
        Some(SchemaVersion {
            version: 2,
            dirty: true
        })
    );
    // The failed body rolled back entirely.
    assert!(!schema(t.db.as_ref()).await.contains_key("half"));

    for blocked in [
        m.check().await.unwrap_err().to_string(),
        m.up(None).await.unwrap_err().to_string(),
    ] {
        assert!(
            blocked.contains("dirty at version 2") && blocked.contains("essp migrate force"),
            "{blocked}"
        );
    }
    m.force(1).await.unwrap();
    assert_eq!(m.check().await.unwrap(), 1);
}

async fn concurrent_migrations_do_not_race(backend: Backend) {
    let t = TestDb::empty(backend).await;
    let (a, b) = (t.reopen().await, t.reopen().await);
    let run = |db: std::sync::Arc<dyn Database>| {
        tokio::spawn(async move { Migrator::embedded(db.as_ref()).unwrap().up(None).await })
    };
    let (ra, rb) = tokio::join!(run(a), run(b));
    let (ra, rb) = (ra.unwrap().unwrap(), rb.unwrap().unwrap());
    // Exactly one of them applied everything; the other found nothing to do.
    let total = Migrator::embedded(t.db.as_ref()).unwrap().set().migrations().len();
    assert_eq!(ra.len() + rb.len(), total, "{ra:?} {rb:?}");
    assert!(ra.is_empty() || rb.is_empty());
    assert_eq!(Migrator::embedded(t.db.as_ref()).unwrap().check().await.unwrap(), 0);
}

on_both_engines!(
    up_down_up_round_trip,
    steps_goto_and_force,
    failed_migration_leaves_dirty_and_blocks,
    concurrent_migrations_do_not_race,
    replicated_tables_match_the_catalog,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_engines_have_the_same_tables_and_columns() {
    let pg = TestDb::migrated(Backend::Postgres).await;
    let lite = TestDb::migrated(Backend::Sqlite).await;
    let (a, b) = (schema(pg.db.as_ref()).await, schema(lite.db.as_ref()).await);
    assert!(a.len() > 1);
    assert_eq!(a, b, "schema parity between migrations/postgres and migrations/sqlite");
}

/// The Postgres `data_type` a catalog type is stored as.
fn pg_types(ty: essp_store::SqlType) -> &'static [&'static str] {
    use essp_store::SqlType;
    match ty {
        SqlType::Text => &["text", "character varying"],
        SqlType::I64 => &["bigint", "integer", "smallint"],
        SqlType::F64 => &["double precision", "numeric", "real"],
        SqlType::Bool => &["boolean"],
        SqlType::Timestamp => &["timestamp with time zone"],
        SqlType::Json => &["jsonb", "json"],
    }
}

/// The SQLite declared type a catalog type is stored as (no bool, timestamp
/// or JSON there).
fn sqlite_types(ty: essp_store::SqlType) -> &'static [&'static str] {
    use essp_store::SqlType;
    match ty {
        SqlType::Text | SqlType::Timestamp | SqlType::Json => &["TEXT"],
        SqlType::I64 | SqlType::Bool => &["INTEGER"],
        SqlType::F64 => &["REAL"],
    }
}

/// Every table edge↔central sync replicates has exactly the columns the
/// catalog names (replicated or local-only): a column added by a migration
/// without updating `essp_store::sync::catalog` fails here.
async fn replicated_tables_match_the_catalog(backend: Backend) {
    use std::collections::BTreeSet;

    use essp_store::sync::catalog::TABLES;

    let t = TestDb::migrated(backend).await;
    let mut problems = Vec::new();
    for table in TABLES.iter() {
        let sql = match backend {
            Backend::Postgres => format!(
                "SELECT column_name::text AS name, data_type::text AS type FROM information_schema.columns \
                 WHERE table_schema = 'public' AND table_name = '{}' ORDER BY ordinal_position",
                table.name
            ),
            Backend::Sqlite => format!(
                "SELECT name, type FROM pragma_table_info('{}') ORDER BY cid",
                table.name
            ),
        };
        let real: Vec<(String, String)> =
            t.db.fetch_all(&sql, &[])
                .await
                .unwrap()
                .iter()
                .map(|r| (r.text("name").unwrap(), r.text("type").unwrap()))
                .collect();
        if real.is_empty() {
            problems.push(format!(
                "{}: the catalog lists it but the schema has no such table",
                table.name
            ));
            continue;
        }
        if table.columns.first().map(|c| c.name) != Some("id") {
            problems.push(format!("{}: the catalog's first column must be `id`", table.name));
        }

        let real_names: BTreeSet<&str> = real.iter().map(|(n, _)| n.as_str()).collect();
        let known: BTreeSet<&str> = table
            .columns
            .iter()
            .map(|c| c.name)
            .chain(table.local_only.iter().copied())
            .collect();
        for c in real_names.difference(&known) {
            problems.push(format!(
                "{}.{c}: the column exists in the schema but not in the catalog \
                 (add it to `columns` or `local_only` in server/store/src/sync/catalog.rs)",
                table.name
            ));
        }
        for c in known.difference(&real_names) {
            problems.push(format!(
                "{}.{c}: the catalog lists the column but the schema has no such column",
                table.name
            ));
        }

        for (name, ty) in &real {
            let Some(col) = table.column(name) else { continue };
            let allowed = match backend {
                Backend::Postgres => pg_types(col.ty),
                Backend::Sqlite => sqlite_types(col.ty),
            };
            if !allowed.contains(&ty.as_str()) {
                problems.push(format!(
                    "{}.{name}: the schema's type {ty:?} does not map to the catalog's {:?}",
                    table.name, col.ty
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "the sync catalog and the {backend:?} schema disagree:\n  {}",
        problems.join("\n  ")
    );
}
