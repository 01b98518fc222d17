//! What sync could not do silently: the conflict log (values a merge
//! overwrote or discarded) and rejected changes.

use chrono::{DateTime, Utc};
use essp_sync_proto::Rejection;
use serde::Serialize;

use crate::error::Result;
use crate::executor::Executor;
use crate::value::Row;

/// One value a merge did not keep.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Conflict {
    pub id: String,
    pub tenant_id: String,
    pub school_id: String,
    pub table_name: String,
    pub row_id: String,
    pub field: String,
    #[schema(value_type = Object)]
    pub kept_value: serde_json::Value,
    pub kept_clock: String,
    #[schema(value_type = Object)]
    pub lost_value: serde_json::Value,
    pub lost_clock: String,
    /// `lww` (the later write won), `state_machine` (a finished status
    /// stayed finished) or `clock_ahead` (a clock from the future was
    /// quarantined).
    pub reason: String,
    pub created_at: DateTime<Utc>,
}

fn conflict_of(r: &Row) -> Result<Conflict> {
    Ok(Conflict {
        id: r.text("id")?,
        tenant_id: r.text("tenant_id")?,
        school_id: r.text("school_id")?,
        table_name: r.text("table_name")?,
        row_id: r.text("row_id")?,
        field: r.text("field")?,
        kept_value: r.json("kept_value")?,
        kept_clock: r.text("kept_clock")?,
        lost_value: r.json("lost_value")?,
        lost_clock: r.text("lost_clock")?,
        reason: r.text("reason")?,
        created_at: r.timestamp("created_at")?,
    })
}

/// The newest conflicts of a tenant (optionally one school), newest first.
pub async fn conflicts(ex: &dyn Executor, tenant: &str, school: Option<&str>, limit: i64) -> Result<Vec<Conflict>> {
    ex.fetch_all(
        "SELECT id, tenant_id, school_id, table_name, row_id, field, kept_value, kept_clock, lost_value, lost_clock, \
         reason, created_at FROM sync_conflicts WHERE tenant_id = $1 AND ($2 = '' OR school_id = $2) \
         ORDER BY created_at DESC, id DESC LIMIT $3",
        &[tenant.into(), school.unwrap_or_default().into(), limit.into()],
    )
    .await?
    .iter()
    .map(conflict_of)
    .collect()
}

/// Records a refused change (once, however often it is redelivered).
pub async fn reject(ex: &dyn Executor, tenant: &str, school: &str, epoch: &str, r: &Rejection) -> Result<()> {
    ex.execute(
        "INSERT INTO sync_rejections (id, tenant_id, school_id, epoch, seq, table_name, row_id, reason, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (tenant_id, school_id, epoch, seq, row_id) DO NOTHING",
        &[
            essp_domain::Id::new("rejection").into_string().into(),
            tenant.into(),
            school.into(),
            epoch.into(),
            r.seq.into(),
            r.table.as_str().into(),
            r.row_id.as_str().into(),
            r.reason.as_str().into(),
            essp_domain::now().into(),
        ],
    )
    .await?;
    Ok(())
}

/// Refused changes of one edge's epoch after position `after`, oldest first.
pub async fn rejections(
    ex: &dyn Executor,
    tenant: &str,
    school: &str,
    epoch: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<Rejection>> {
    ex.fetch_all(
        "SELECT seq, table_name, row_id, reason FROM sync_rejections \
         WHERE tenant_id = $1 AND school_id = $2 AND epoch = $3 AND seq > $4 ORDER BY seq, row_id LIMIT $5",
        &[tenant.into(), school.into(), epoch.into(), after.into(), limit.into()],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(Rejection {
            seq: r.i64("seq")?,
            table: r.text("table_name")?,
            row_id: r.text("row_id")?,
            reason: r.text("reason")?,
        })
    })
    .collect()
}

/// Conflicts and rejections counted per school of a tenant.
pub async fn counts(ex: &dyn Executor, tenant: &str) -> Result<std::collections::BTreeMap<String, (i64, i64)>> {
    let mut out = std::collections::BTreeMap::<String, (i64, i64)>::new();
    for r in ex
        .fetch_all(
            "SELECT school_id, COUNT(*) AS n FROM sync_conflicts WHERE tenant_id = $1 GROUP BY school_id",
            &[tenant.into()],
        )
        .await?
    {
        out.entry(r.text("school_id")?).or_default().0 = r.i64("n")?;
    }
    for r in ex
        .fetch_all(
            "SELECT school_id, COUNT(*) AS n FROM sync_rejections WHERE tenant_id = $1 GROUP BY school_id",
            &[tenant.into()],
        )
        .await?
    {
        out.entry(r.text("school_id")?).or_default().1 = r.i64("n")?;
    }
    Ok(out)
}

/// One refused change, as central (or the edge, once told) recorded it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = SyncRejection)]
pub struct RejectionRow {
    pub id: String,
    pub school_id: String,
    /// The edge epoch the change was sent under.
    pub epoch: String,
    /// The change's position in that edge's outbox.
    pub seq: i64,
    pub table_name: String,
    pub row_id: String,
    pub reason: String,
    pub created_at: DateTime<Utc>,
}

/// The newest refused changes of a tenant (optionally one school), newest
/// first.
pub async fn list_rejections(
    ex: &dyn Executor,
    tenant: &str,
    school: Option<&str>,
    limit: i64,
) -> Result<Vec<RejectionRow>> {
    ex.fetch_all(
        "SELECT id, school_id, epoch, seq, table_name, row_id, reason, created_at FROM sync_rejections \
         WHERE tenant_id = $1 AND ($2 = '' OR school_id = $2) ORDER BY created_at DESC, id DESC LIMIT $3",
        &[tenant.into(), school.unwrap_or_default().into(), limit.into()],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(RejectionRow {
            id: r.text("id")?,
            school_id: r.text("school_id")?,
            epoch: r.text("epoch")?,
            seq: r.i64("seq")?,
            table_name: r.text("table_name")?,
            row_id: r.text("row_id")?,
            reason: r.text("reason")?,
            created_at: r.timestamp("created_at")?,
        })
    })
    .collect()
}
