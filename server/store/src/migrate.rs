//! A small golang-migrate compatible migrator over the executor trait.
//!
//! Files are `NNNN_name.up.sql` / `NNNN_name.down.sql`, embedded in the
//! binary; state is the one-row table `schema_migrations(version, dirty)`, so
//! the `migrate` CLI and our own binary can take turns on one database.
//!
//! Each step first records the target version as dirty, then runs the
//! migration body and marks the version clean in one transaction. A body that
//! fails rolls back and leaves the dirty mark for an operator to resolve with
//! `essp migrate force`, exactly as golang-migrate does.

use std::collections::BTreeMap;

use rust_embed::RustEmbed;

use crate::error::{Result, StoreError};
use crate::executor::{Database, Engine, Executor};

#[derive(RustEmbed)]
#[folder = "../../migrations/postgres"]
struct PostgresFiles;

#[derive(RustEmbed)]
#[folder = "../../migrations/sqlite"]
struct SqliteFiles;

/// golang-migrate's spelling of "no version" in a dirty row.
const NIL_VERSION: i64 = -1;
const LOCK_NAME: &str = "essp:schema_migrations";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    pub version: i64,
    pub name: String,
    pub up: String,
    pub down: String,
}

/// The recorded state: `None` when no migration has been applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaVersion {
    pub version: i64,
    pub dirty: bool,
}

/// An ordered, validated set of migrations.
#[derive(Debug, Clone)]
pub struct MigrationSet(Vec<Migration>);

impl MigrationSet {
    /// The migrations compiled into this binary for `engine`.
    pub fn embedded(engine: Engine) -> Result<Self> {
        let files: Vec<(String, String)> = match engine {
            Engine::Postgres => embedded_files::<PostgresFiles>(),
            Engine::Sqlite => embedded_files::<SqliteFiles>(),
        };
        Self::from_files(files)
    }

    /// Builds a set from (file name, contents) pairs; every version needs
    /// both an up and a down file with the same name.
    pub fn from_files(files: impl IntoIterator<Item = (String, String)>) -> Result<Self> {
        let mut by_version: BTreeMap<i64, (String, Option<String>, Option<String>)> = BTreeMap::new();
        for (file, body) in files {
            let bad = || StoreError::Migration(format!("migration file {file:?} is not NNNN_name.(up|down).sql"));
            let (stem, direction) = if let Some(s) = file.strip_suffix(".up.sql") {
                (s, true)
            } else if let Some(s) = file.strip_suffix(".down.sql") {
                (s, false)
            } else {
                return Err(bad());
            };
            let (num, name) = stem.split_once('_').ok_or_else(bad)?;
            let version: i64 = num.parse().map_err(|_| bad())?;
            if version < 0 || name.is_empty() {
                return Err(bad());
            }
            let entry = by_version
                .entry(version)
                .or_insert_with(|| (name.to_owned(), None, None));
            if entry.0 != name {
                return Err(StoreError::Migration(format!(
                    "migration {version} has two names: {:?} and {name:?}",
                    entry.0
                )));
            }
            let slot = if direction { &mut entry.1 } else { &mut entry.2 };
            *slot = Some(body);
        }
        let mut out = Vec::with_capacity(by_version.len());
        for (version, (name, up, down)) in by_version {
            let (Some(up), Some(down)) = (up, down) else {
                return Err(StoreError::Migration(format!(
                    "migration {version}_{name} needs both an .up.sql and a .down.sql file"
                )));
            };
            out.push(Migration {
                version,
                name,
                up,
                down,
            });
        }
        Ok(Self(out))
    }

    pub fn migrations(&self) -> &[Migration] {
        &self.0
    }

    pub fn latest(&self) -> Option<i64> {
        self.0.last().map(|m| m.version)
    }

    fn index_of(&self, version: i64) -> Option<usize> {
        self.0.iter().position(|m| m.version == version)
    }
}

fn embedded_files<E: RustEmbed>() -> Vec<(String, String)> {
    E::iter()
        .filter_map(|name| {
            let file = E::get(&name)?;
            Some((name.to_string(), String::from_utf8_lossy(&file.data).into_owned()))
        })
        .collect()
}

/// Runs migrations against one database while holding the migration lock,
/// so concurrent pods and the Helm migration job cannot race.
pub struct Migrator<'a> {
    db: &'a dyn Database,
    set: MigrationSet,
}

impl<'a> Migrator<'a> {
    pub fn new(db: &'a dyn Database, set: MigrationSet) -> Self {
        Self { db, set }
    }

    /// The embedded migrations for this database's engine.
    pub fn embedded(db: &'a dyn Database) -> Result<Self> {
        Ok(Self::new(db, MigrationSet::embedded(db.engine())?))
    }

    pub fn set(&self) -> &MigrationSet {
        &self.set
    }

    pub async fn version(&self) -> Result<Option<SchemaVersion>> {
        self.ensure_table().await?;
        read_version(self.db).await
    }

    /// Fails with an operator-facing message when the schema is dirty or
    /// newer than this binary; otherwise returns how many migrations are pending.
    pub async fn check(&self) -> Result<usize> {
        let current = self.version().await?;
        if let Some(v) = current {
            refuse_dirty(v)?;
            if self.set.index_of(v.version).is_none() && v.version != NIL_VERSION {
                return Err(StoreError::Migration(format!(
                    "database schema is at version {}, which this binary does not know (latest known: {}); \
                     run a newer essp or roll back with the newer binary's `essp migrate goto`",
                    v.version,
                    self.set.latest().unwrap_or(0)
                )));
            }
        }
        Ok(self.pending_after(current.map(|v| v.version)))
    }

    fn pending_after(&self, current: Option<i64>) -> usize {
        self.set
            .migrations()
            .iter()
            .filter(|m| current.is_none_or(|c| m.version > c))
            .count()
    }

    /// Applies up to `limit` pending migrations (all when `None`); returns
    /// the versions applied.
    pub async fn up(&self, limit: Option<usize>) -> Result<Vec<i64>> {
        self.locked(|current| {
            let start = current.map_or(0, |c| self.position_after(c));
            let end = limit.map_or(self.set.0.len(), |n| (start + n).min(self.set.0.len()));
            (start..end).map(Step::Up).collect()
        })
        .await
    }

    /// Reverts up to `limit` applied migrations (all when `None`).
    pub async fn down(&self, limit: Option<usize>) -> Result<Vec<i64>> {
        self.locked(|current| {
            let Some(c) = current else { return Vec::new() };
            let applied = self.position_after(c);
            let stop = limit.map_or(0, |n| applied.saturating_sub(n));
            (stop..applied).rev().map(Step::Down).collect()
        })
        .await
    }

    /// Migrates up or down until `target` is the current version.
    pub async fn goto(&self, target: i64) -> Result<Vec<i64>> {
        let Some(target_idx) = self.set.index_of(target) else {
            return Err(StoreError::Migration(format!("no migration with version {target}")));
        };
        self.locked(|current| {
            let applied = current.map_or(0, |c| self.position_after(c));
            if applied <= target_idx {
                (applied..=target_idx).map(Step::Up).collect()
            } else {
                (target_idx + 1..applied).rev().map(Step::Down).collect()
            }
        })
        .await
    }

    /// Records `version` as current and clean without running anything
    /// (`-1` clears the version). For repairing a dirty database by hand.
    pub async fn force(&self, version: i64) -> Result<()> {
        if version != NIL_VERSION && self.set.index_of(version).is_none() {
            return Err(StoreError::Migration(format!("no migration with version {version}")));
        }
        let guard = self.db.lock(LOCK_NAME).await?;
        let result = async {
            self.ensure_table().await?;
            write_version(self.db, version, false).await
        }
        .await;
        guard.release().await?;
        result
    }

    /// Index of the first migration after version `c`.
    fn position_after(&self, c: i64) -> usize {
        self.set.0.iter().take_while(|m| m.version <= c).count()
    }

    async fn ensure_table(&self) -> Result<()> {
        let ddl = match self.db.engine() {
            Engine::Postgres => {
                "CREATE TABLE IF NOT EXISTS schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)"
            }
            Engine::Sqlite => {
                "CREATE TABLE IF NOT EXISTS schema_migrations (version uint64, dirty bool); \
                 CREATE UNIQUE INDEX IF NOT EXISTS version_unique ON schema_migrations (version)"
            }
        };
        self.db.execute_script(ddl).await
    }

    /// Takes the lock, reads the version, plans steps from it and runs them.
    async fn locked(&self, plan: impl FnOnce(Option<i64>) -> Vec<Step>) -> Result<Vec<i64>> {
        let guard = self.db.lock(LOCK_NAME).await?;
        let result = async {
            self.ensure_table().await?;
            let current = read_version(self.db).await?;
            if let Some(v) = current {
                refuse_dirty(v)?;
            }
            let mut done = Vec::new();
            for step in plan(current.map(|v| v.version)) {
                done.push(self.run(step).await?);
            }
            Ok(done)
        }
        .await;
        guard.release().await?;
        result
    }

    async fn run(&self, step: Step) -> Result<i64> {
        let (migration, body, target) = match step {
            Step::Up(i) => {
                let m = &self.set.0[i];
                (m, &m.up, m.version)
            }
            Step::Down(i) => {
                let m = &self.set.0[i];
                let prev = i.checked_sub(1).map_or(NIL_VERSION, |p| self.set.0[p].version);
                (m, &m.down, prev)
            }
        };
        tracing::info!(version = migration.version, name = %migration.name, up = matches!(step, Step::Up(_)), "migrating");
        write_version(self.db, target, true).await?;
        let tx = self.db.begin().await?;
        let applied = async {
            tx.execute_script(body).await?;
            write_version(tx.as_ref(), target, false).await
        }
        .await;
        match applied {
            Ok(()) => tx.commit().await?,
            Err(e) => {
                // The dirty mark stays: an operator must look before retrying.
                let _ = tx.rollback().await;
                return Err(StoreError::Migration(format!(
                    "migration {:04}_{} failed: {e}; the schema is marked dirty at version {target}",
                    migration.version, migration.name
                )));
            }
        }
        Ok(migration.version)
    }
}

#[derive(Debug, Clone, Copy)]
enum Step {
    Up(usize),
    Down(usize),
}

fn refuse_dirty(v: SchemaVersion) -> Result<()> {
    if !v.dirty {
        return Ok(());
    }
    Err(StoreError::Migration(format!(
        "database schema is dirty at version {v}: a migration failed part-way. Inspect the schema, fix it by hand, \
         then run `essp migrate force {v}` if that migration is now fully applied, or `essp migrate force <previous version>` \
         if it is not (then `essp migrate up`).",
        v = v.version
    )))
}

async fn read_version(ex: &dyn Executor) -> Result<Option<SchemaVersion>> {
    let row = ex
        .fetch_optional("SELECT version, dirty FROM schema_migrations LIMIT 1", &[])
        .await?;
    row.map(|r| {
        Ok(SchemaVersion {
            version: r.i64("version")?,
            dirty: r.bool("dirty")?,
        })
    })
    .transpose()
    .map(|v| v.filter(|v| v.version != NIL_VERSION || v.dirty))
}

async fn write_version(ex: &dyn Executor, version: i64, dirty: bool) -> Result<()> {
    ex.execute("DELETE FROM schema_migrations", &[]).await?;
    if version != NIL_VERSION || dirty {
        ex.execute(
            "INSERT INTO schema_migrations (version, dirty) VALUES ($1, $2)",
            &[version.into(), dirty.into()],
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn files(names: &[&str]) -> Vec<(String, String)> {
        names.iter().map(|n| (n.to_string(), String::new())).collect()
    }

    #[test]
    fn embedded_sets_parse_and_line_up() {
        let pg = MigrationSet::embedded(Engine::Postgres).unwrap();
        let lite = MigrationSet::embedded(Engine::Sqlite).unwrap();
        let names = |s: &MigrationSet| {
            s.migrations()
                .iter()
                .map(|m| (m.version, m.name.clone()))
                .collect::<Vec<_>>()
        };
        assert!(!pg.migrations().is_empty());
        assert_eq!(
            names(&pg),
            names(&lite),
            "postgres and sqlite migrations must have the same versions and names"
        );
    }

    #[test]
    fn malformed_sets_are_rejected() {
        assert!(
            MigrationSet::from_files(files(&["0001_a.up.sql"])).is_err(),
            "missing down"
        );
        assert!(
            MigrationSet::from_files(files(&["0001_a.up.sql", "0001_b.down.sql"])).is_err(),
            "two names"
        );
        assert!(
            MigrationSet::from_files(files(&["init.up.sql", "init.down.sql"])).is_err(),
            "no version"
        );
        assert!(
            MigrationSet::from_files(files(&["0001_a.sql"])).is_err(),
            "no direction"
        );
        let ok = MigrationSet::from_files(files(&[
            "0002_b.up.sql",
            "0002_b.down.sql",
            "0001_a.down.sql",
            "0001_a.up.sql",
        ]))
        .unwrap();
        assert_eq!(
            ok.migrations().iter().map(|m| m.version).collect::<Vec<_>>(),
            vec![1, 2]
        );
    }
}
