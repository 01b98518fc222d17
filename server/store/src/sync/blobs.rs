//! Attachment contents on their way between an edge and central: the queue
//! the edge keeps (its own blobs to upload, central's to fetch), and the
//! rows either side keeps hidden (`pending`) until their blob is stored and
//! verified (SYNC.md: central never shows an attachment whose blob is
//! missing; an edge does the same).

use chrono::{DateTime, Utc};
use essp_sync_proto::envelope::Fields;

use super::catalog::Table;
use crate::error::Result;
use crate::executor::Executor;

/// Whether row `id` of a blob table is `available` (its blob is here).
pub(crate) async fn available(ex: &dyn Executor, t: &Table, id: &str) -> Result<bool> {
    let status = ex
        .fetch_optional(&format!("SELECT status FROM {} WHERE id = $1", t.name), &[id.into()])
        .await?
        .map(|r| r.text("status"))
        .transpose()?;
    Ok(status.as_deref() == Some("available"))
}

/// A row that arrived from another node stays hidden until its blob does.
/// An edge fetches the blob of a row central sent (`fetch`); central waits
/// for the edge to upload it.
pub(crate) async fn hide_until_blob(ex: &dyn Executor, t: &Table, image: &Fields, fetch: bool) -> Result<()> {
    let id = super::row::id_of(image);
    ex.execute(
        &format!("UPDATE {} SET status = 'pending' WHERE id = $1", t.name),
        &[id.into()],
    )
    .await?;
    match (fetch, t.blob_key) {
        (true, Some(key_column)) => enqueue(ex, key_column, image, Direction::Down).await,
        _ => Ok(()),
    }
}

/// Which way a queued blob travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The edge's own blob, uploaded to central.
    Up,
    /// A blob uploaded centrally, fetched by the edge.
    Down,
}

impl Direction {
    fn as_str(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
        }
    }
}

/// Queues the row's blob (once), in the writer's transaction.
pub(crate) async fn enqueue(ex: &dyn Executor, key_column: &str, image: &Fields, direction: Direction) -> Result<()> {
    let text = |f: &str| image.get(f).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
    let size = image.get("size_bytes").and_then(serde_json::Value::as_i64).unwrap_or(0);
    ex.execute(
        "INSERT INTO sync_blob_queue (object_key, tenant_id, school_id, sha256, size_bytes, created_at, direction) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (object_key) DO NOTHING",
        &[
            text(key_column).into(),
            text("tenant_id").into(),
            text("school_id").into(),
            text("sha256").into(),
            size.into(),
            essp_domain::now().into(),
            direction.as_str().into(),
        ],
    )
    .await?;
    Ok(())
}

/// One blob waiting to be uploaded or fetched.
#[derive(Debug, Clone, PartialEq)]
pub struct Queued {
    pub direction: Direction,
    pub object_key: String,
    pub tenant_id: String,
    pub school_id: String,
    pub sha256: String,
    pub size_bytes: i64,
    pub created_at: DateTime<Utc>,
    pub attempts: i64,
}

/// The oldest queued blobs, those tried least first.
pub async fn queued(ex: &dyn Executor, limit: i64) -> Result<Vec<Queued>> {
    ex.fetch_all(
        "SELECT object_key, tenant_id, school_id, sha256, size_bytes, created_at, attempts, direction FROM sync_blob_queue \
         ORDER BY attempts, created_at LIMIT $1",
        &[limit.into()],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(Queued {
            direction: if r.text("direction")? == "down" {
                Direction::Down
            } else {
                Direction::Up
            },
            object_key: r.text("object_key")?,
            tenant_id: r.text("tenant_id")?,
            school_id: r.text("school_id")?,
            sha256: r.text("sha256")?,
            size_bytes: r.i64("size_bytes")?,
            created_at: r.timestamp("created_at")?,
            attempts: r.i64("attempts")?,
        })
    })
    .collect()
}

/// The blob reached its destination, verified: it leaves the queue.
pub async fn uploaded(ex: &dyn Executor, object_key: &str) -> Result<()> {
    ex.execute(
        "DELETE FROM sync_blob_queue WHERE object_key = $1",
        &[object_key.into()],
    )
    .await?;
    Ok(())
}

pub async fn failed(ex: &dyn Executor, object_key: &str, error: &str) -> Result<()> {
    ex.execute(
        "UPDATE sync_blob_queue SET attempts = attempts + 1, last_error = $1 WHERE object_key = $2",
        &[error.into(), object_key.into()],
    )
    .await?;
    Ok(())
}

/// How many blobs wait.
pub async fn depth(ex: &dyn Executor) -> Result<i64> {
    ex.count("SELECT COUNT(*) AS n FROM sync_blob_queue", &[]).await
}

/// What the receiver of a blob of a school (central for an upload, an edge
/// for a fetch) expects of it: its size, hash and whether it is stored
/// already; `None` when no attachment of that school names it (yet: the
/// row may still be on its way).
pub async fn expected(ex: &dyn Executor, tenant: &str, school: &str, key: &str) -> Result<Option<(i64, String, bool)>> {
    ex.fetch_optional(
        "SELECT size_bytes, sha256, status FROM attachments WHERE tenant_id = $1 AND school_id = $2 AND object_key = $3",
        &[tenant.into(), school.into(), key.into()],
    )
    .await?
    .map(|r| Ok((r.i64("size_bytes")?, r.text("sha256")?, r.text("status")? == "available")))
    .transpose()
}

/// The blob is stored and verified: the attachment becomes visible.
pub async fn arrived(ex: &dyn Executor, tenant: &str, school: &str, key: &str) -> Result<bool> {
    Ok(ex
        .execute(
            "UPDATE attachments SET status = 'available' WHERE tenant_id = $1 AND school_id = $2 AND object_key = $3 \
             AND status = 'pending'",
            &[tenant.into(), school.into(), key.into()],
        )
        .await?
        == 1)
}
