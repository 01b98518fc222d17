//! Attachment metadata.

use chrono::{DateTime, Utc};
use essp_domain::attachment::{AttachedTo, Attachment, AttachmentStatus};
use essp_domain::{Id, Scope};

use crate::error::Result;
use crate::executor::Executor;
use crate::value::{Row, Value};

const COLUMNS: &str = "id, tenant_id, school_id, entity_type, entity_id, file_name, content_type, size_bytes, sha256, \
     object_key, uploaded_by, created_at, status";

fn from_row(r: &Row) -> Result<Attachment> {
    Ok(Attachment {
        id: Id::from_trusted(r.text("id")?),
        tenant_id: r.text("tenant_id")?,
        school_id: r.text("school_id")?,
        entity_type: r.parse("entity_type")?,
        entity_id: r.text("entity_id")?,
        file_name: r.text("file_name")?,
        content_type: r.text("content_type")?,
        size_bytes: r.i64("size_bytes")?,
        sha256: r.text("sha256")?,
        object_key: r.text("object_key")?,
        uploaded_by: r.text("uploaded_by")?,
        created_at: r.timestamp("created_at")?,
        status: r.parse("status")?,
    })
}

pub async fn insert(ex: &dyn Executor, a: &Attachment) -> Result<()> {
    let sql =
        format!("INSERT INTO attachments ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)");
    let params: Vec<Value> = vec![
        a.id.as_str().into(),
        (&a.tenant_id).into(),
        (&a.school_id).into(),
        a.entity_type.as_str().into(),
        (&a.entity_id).into(),
        (&a.file_name).into(),
        (&a.content_type).into(),
        a.size_bytes.into(),
        (&a.sha256).into(),
        (&a.object_key).into(),
        (&a.uploaded_by).into(),
        a.created_at.into(),
        a.status.as_str().into(),
    ];
    ex.execute(&sql, &params).await?;
    crate::sync::capture(ex, "attachments", a.id.as_str()).await
}

/// An available attachment of the school.
pub async fn get(ex: &dyn Executor, scope: &Scope, id: &str) -> Result<Option<Attachment>> {
    Ok(get_any(ex, scope, id)
        .await?
        .filter(|a| a.status == AttachmentStatus::Available))
}

/// An attachment of the school whatever its status (to confirm an upload).
pub async fn get_any(ex: &dyn Executor, scope: &Scope, id: &str) -> Result<Option<Attachment>> {
    let sql = format!("SELECT {COLUMNS} FROM attachments WHERE tenant_id = $1 AND school_id = $2 AND id = $3");
    ex.fetch_optional(&sql, &[scope.tenant().into(), scope.school().into(), id.into()])
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

pub async fn list_for(ex: &dyn Executor, scope: &Scope, kind: AttachedTo, entity_id: &str) -> Result<Vec<Attachment>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM attachments WHERE tenant_id = $1 AND school_id = $2 AND entity_type = $3 \
         AND entity_id = $4 AND status = 'available' ORDER BY created_at DESC, id DESC"
    );
    let rows = ex
        .fetch_all(
            &sql,
            &[
                scope.tenant().into(),
                scope.school().into(),
                kind.as_str().into(),
                entity_id.into(),
            ],
        )
        .await?;
    rows.iter().map(from_row).collect()
}

/// Pending uploads (of any tenant) created before `before`: abandoned,
/// their upload URL long expired. Oldest first. A row that arrived from an
/// edge (tracked by sync) waits for its blob however long that takes.
pub async fn abandoned_uploads(ex: &dyn Executor, before: DateTime<Utc>, limit: i64) -> Result<Vec<Attachment>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM attachments WHERE status = 'pending' AND created_at < $1 \
         AND NOT EXISTS (SELECT 1 FROM sync_rows s WHERE s.table_name = 'attachments' AND s.row_id = attachments.id) \
         ORDER BY created_at, id LIMIT $2"
    );
    let rows = ex.fetch_all(&sql, &[before.into(), limit.into()]).await?;
    rows.iter().map(from_row).collect()
}

/// Forgets a pending upload; false when it was confirmed meanwhile (a
/// confirmed attachment is never removed here).
pub async fn delete_pending(ex: &dyn Executor, a: &Attachment) -> Result<bool> {
    let n = ex
        .execute(
            "DELETE FROM attachments WHERE tenant_id = $1 AND id = $2 AND status = 'pending'",
            &[(&a.tenant_id).into(), a.id.as_str().into()],
        )
        .await?;
    Ok(n == 1)
}

/// Turns a pending upload into an available attachment with what was
/// found in object storage; false if it was not pending (confirmed twice).
pub async fn mark_available(ex: &dyn Executor, a: &Attachment) -> Result<bool> {
    let n = ex
        .execute(
            "UPDATE attachments SET status = 'available', size_bytes = $1, sha256 = $2 \
             WHERE tenant_id = $3 AND school_id = $4 AND id = $5 AND status = 'pending'",
            &[
                a.size_bytes.into(),
                (&a.sha256).into(),
                (&a.tenant_id).into(),
                (&a.school_id).into(),
                a.id.as_str().into(),
            ],
        )
        .await?;
    if n == 1 {
        crate::sync::capture(ex, "attachments", a.id.as_str()).await?;
    }
    Ok(n == 1)
}
