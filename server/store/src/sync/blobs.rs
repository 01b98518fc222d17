//! Attachment contents on their way from an edge to central: the upload
//! queue the edge keeps, and the rows central keeps hidden (`pending`)
//! until their blob is stored and verified (SYNC.md: central never shows
//! an attachment whose blob is missing).

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
pub(crate) async fn hide_until_blob(ex: &dyn Executor, t: &Table, id: &str) -> Result<()> {
    ex.execute(
        &format!("UPDATE {} SET status = 'pending' WHERE id = $1", t.name),
        &[id.into()],
    )
    .await?;
    Ok(())
}

/// Queues the row's blob for upload (once), in the writer's transaction.
pub(crate) async fn enqueue(ex: &dyn Executor, key_column: &str, image: &Fields) -> Result<()> {
    let text = |f: &str| image.get(f).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
    let size = image.get("size_bytes").and_then(serde_json::Value::as_i64).unwrap_or(0);
    ex.execute(
        "INSERT INTO sync_blob_queue (object_key, tenant_id, school_id, sha256, size_bytes, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (object_key) DO NOTHING",
        &[
            text(key_column).into(),
            text("tenant_id").into(),
            text("school_id").into(),
            text("sha256").into(),
            size.into(),
            essp_domain::now().into(),
        ],
    )
    .await?;
    Ok(())
}

/// One blob waiting to be uploaded.
#[derive(Debug, Clone, PartialEq)]
pub struct Queued {
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
        "SELECT object_key, tenant_id, school_id, sha256, size_bytes, created_at, attempts FROM sync_blob_queue \
         ORDER BY attempts, created_at LIMIT $1",
        &[limit.into()],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(Queued {
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

/// What central expects of a blob of a school: its size, hash and whether
/// it is stored already; `None` when no attachment of that school names it
/// (yet: the row may still be on its way).
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
