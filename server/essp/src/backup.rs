//! `essp backup` and `essp restore` (runbook §13).
//!
//! SQLite (an edge box): an online, consistent copy with `VACUUM INTO`
//! while the server keeps running; restore swaps the file in with the
//! server stopped and keeps the replaced one beside it. Postgres (central):
//! the standard tools, `pg_dump --format=custom` and `pg_restore --clean`.
//! Every restore mints a new sync epoch, so central can tell a restored or
//! cloned node from the one it was syncing with.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use essp_config::{DatabaseSettings, Settings};
use essp_store::Database;
use essp_store::migrate::Migrator;
use essp_store::node_state;
use serde_json::{Value, json};

use crate::bootstrap;

/// Held by `essp serve` on SQLite for its whole life: a restore (or a
/// second server) on the same file is refused while it runs.
pub const SERVE_LOCK: &str = "essp:serve";

async fn schema_version(db: &dyn Database) -> Result<i64> {
    Ok(Migrator::embedded(db)?.version().await?.map_or(0, |v| v.version))
}

/// libpq tools get the DSN without its password (which would show in the
/// process list); the password travels in PGPASSWORD.
fn pg_command(tool: &str, dsn: &str) -> Result<Command> {
    let mut url = url::Url::parse(dsn).context("PG_DSN is not a URL")?;
    let mut cmd = Command::new(tool);
    if let Some(password) = url.password() {
        let decoded = percent_encoding::percent_decode_str(password)
            .decode_utf8_lossy()
            .into_owned();
        cmd.env("PGPASSWORD", decoded);
        let _ = url.set_password(None);
    }
    cmd.arg(format!("--dbname={url}"));
    Ok(cmd)
}

fn run(mut cmd: Command, what: &str) -> Result<()> {
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {what} (install postgresql-client)"))?;
    if !out.status.success() {
        bail!("{what} failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

/// Writes a backup of the configured database to `dest` (never overwriting).
pub async fn backup(settings: &Settings, dest: &Path, upload: bool) -> Result<Value> {
    if dest.exists() {
        bail!("{} already exists; a backup never overwrites a file", dest.display());
    }
    let db = bootstrap::open_database(settings).await?;
    let version = schema_version(db.as_ref()).await?;
    let epoch = node_state::epoch(db.as_ref()).await?;
    let result = match &settings.database {
        DatabaseSettings::Sqlite { .. } => {
            let target = dest.to_str().context("the backup path is not UTF-8")?;
            db.execute("VACUUM INTO $1", &[target.into()])
                .await
                .map(|_| ())
                .with_context(|| format!("VACUUM INTO {}", dest.display()))
        }
        DatabaseSettings::Postgres { dsn, .. } => {
            let mut cmd = pg_command("pg_dump", dsn.expose())?;
            cmd.args(["--format=custom", "--no-owner", "--file"]).arg(dest);
            run(cmd, "pg_dump")
        }
    };
    db.close().await;
    result?;
    let bytes = std::fs::metadata(dest)?.len();
    let uploaded = if upload {
        Some(upload_file(settings, dest).await?)
    } else {
        None
    };
    Ok(json!({
        "file": dest, "engine": db.engine().as_str(), "bytes": bytes,
        "schemaVersion": version, "epoch": epoch, "uploadedTo": uploaded,
    }))
}

/// Copies a backup to the attachment store under `backups/` (S3/MinIO on a
/// central install, or wherever ATTACHMENTS_* point).
async fn upload_file(settings: &Settings, file: &Path) -> Result<String> {
    use tokio::io::AsyncReadExt;
    let name = file.file_name().and_then(|n| n.to_str()).context("backup file name")?;
    let key = format!("backups/{name}");
    let f = tokio::fs::File::open(file).await?;
    let chunks = futures::stream::unfold(f, |mut f| async move {
        let mut buf = vec![0; 1 << 20];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(bytes::Bytes::from(buf)), f))
            }
            Err(e) => Some((Err(e), f)),
        }
    });
    bootstrap::blob_store(settings)?
        .put_stream(&key, Box::pin(chunks), u64::MAX)
        .await
        .context("upload to object storage")?;
    Ok(key)
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Replaces the configured database with the backup `src` and mints a new
/// sync epoch.
pub async fn restore(settings: &Settings, src: &Path) -> Result<Value> {
    if !src.is_file() {
        bail!("{} is not a backup file", src.display());
    }
    let mut kept = None;
    match &settings.database {
        DatabaseSettings::Sqlite { path } => {
            let mut magic = [0u8; 16];
            let is_sqlite = std::fs::File::open(src)
                .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
                .is_ok()
                && &magic == b"SQLite format 3\0";
            if !is_sqlite {
                bail!("{} is not an SQLite backup", src.display());
            }
            if path.exists() {
                let db = bootstrap::open_database(settings).await?;
                let running = db.try_lock(SERVE_LOCK).await?.is_none();
                db.close().await;
                if running {
                    bail!(
                        "essp serve is running on {}; stop it first (systemctl stop essp)",
                        path.display()
                    );
                }
                // Keep what is replaced; its WAL and shared memory go with it.
                let old = sibling(path, ".before-restore");
                std::fs::rename(path, &old).with_context(|| format!("cannot move {} aside", path.display()))?;
                for ext in ["-wal", "-shm"] {
                    let side = sibling(path, ext);
                    if side.exists() {
                        std::fs::rename(&side, sibling(&old, ext))?;
                    }
                }
                kept = Some(old);
            }
            std::fs::copy(src, path).with_context(|| format!("cannot copy {} into place", src.display()))?;
        }
        DatabaseSettings::Postgres { dsn, .. } => {
            let mut cmd = pg_command("pg_restore", dsn.expose())?;
            cmd.args([
                "--clean",
                "--if-exists",
                "--no-owner",
                "--single-transaction",
                "--exit-on-error",
            ])
            .arg(src);
            run(cmd, "pg_restore")?;
        }
    }
    let checked = async {
        let db = bootstrap::open_database(settings).await?;
        let result = async {
            let version = schema_version(db.as_ref()).await?;
            if version == 0 {
                bail!("{} holds no ESSP schema", src.display());
            }
            let previous = node_state::get(db.as_ref(), node_state::SYNC_EPOCH).await?;
            let epoch = node_state::mint_epoch(db.as_ref()).await?;
            Ok((version, previous, epoch))
        }
        .await;
        db.close().await;
        result
    }
    .await;
    let (version, previous, epoch) = match checked {
        Ok(v) => v,
        Err(e) => {
            // Put the replaced SQLite file back rather than leave a broken one.
            if let (DatabaseSettings::Sqlite { path }, Some(old)) = (&settings.database, &kept) {
                let _ = std::fs::remove_file(path);
                let _ = std::fs::rename(old, path);
            }
            return Err(e);
        }
    };
    Ok(json!({
        "restoredFrom": src, "schemaVersion": version, "previousEpoch": previous,
        "epoch": epoch, "replacedFileKeptAt": kept,
    }))
}
