//! Who syncs with whom. On an edge: which school this node is. On central:
//! every enrolled edge, its epoch, how far its changes are applied and its
//! last checkpoint.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::error::{Result, StoreError};
use crate::executor::Executor;
use crate::node_state;

const EDGE_TENANT: &str = "sync_edge_tenant";
const EDGE_SCHOOL: &str = "sync_edge_school";
/// The edge's down-stream position (JetStream stream sequence).
pub const DOWN_CURSOR: &str = "sync_down_cursor";
/// The highest outbox position central confirmed applied.
pub const UP_CONFIRMED: &str = "sync_up_confirmed";
/// The epoch this edge last completed an enrollment under; a different
/// current epoch (after a restore) means it must be enrolled again.
pub const ENROLLED_EPOCH: &str = "sync_enrolled_epoch";
/// Progress of an interrupted enrollment (JSON), so it resumes.
pub const ENROLLING: &str = "sync_enrolling";

/// The school an edge node serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThisEdge {
    pub tenant_id: String,
    pub school_id: String,
}

/// Marks this node as the edge of one school (from then on it captures
/// every replicated write).
pub async fn set_this_edge(ex: &dyn Executor, tenant: &str, school: &str) -> Result<()> {
    let now = essp_domain::now();
    node_state::set(ex, EDGE_TENANT, tenant, now).await?;
    node_state::set(ex, EDGE_SCHOOL, school, now).await
}

pub async fn this_edge(ex: &dyn Executor) -> Result<Option<ThisEdge>> {
    let rows = ex
        .fetch_all(
            "SELECT key, value FROM node_state WHERE key IN ($1, $2)",
            &[EDGE_TENANT.into(), EDGE_SCHOOL.into()],
        )
        .await?;
    let get = |k: &str| {
        rows.iter()
            .find(|r| r.text("key").is_ok_and(|v| v == k))
            .map(|r| r.text("value"))
    };
    match (get(EDGE_TENANT), get(EDGE_SCHOOL)) {
        (Some(t), Some(s)) => Ok(Some(ThisEdge {
            tenant_id: t?,
            school_id: s?,
        })),
        _ => Ok(None),
    }
}

/// How this node takes part in sync, as far as capture cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// The edge of this school: every replicated write is captured.
    Edge(String),
    /// Central with at least one enrolled edge: writes of those edges'
    /// schools are captured.
    Central,
    /// Nobody to sync with: nothing is captured.
    Standalone,
}

/// How far ahead of central an edge's own clock runs (ms), learned from
/// central's answers; its writes are stamped with central's time.
pub const CLOCK_OFFSET: &str = "sync_clock_offset_ms";

/// One cheap query, run for every replicated write: this node's role, and
/// the clock offset to stamp its writes with.
pub async fn role(ex: &dyn Executor) -> Result<(Role, u64)> {
    let r = ex
        .fetch_optional(
            "SELECT (SELECT value FROM node_state WHERE key = $1) AS edge, \
             (SELECT value FROM node_state WHERE key = $2) AS offset_ms, \
             (SELECT COUNT(*) FROM (SELECT 1 AS one FROM sync_edges LIMIT 1) AS e) AS edges",
            &[EDGE_SCHOOL.into(), CLOCK_OFFSET.into()],
        )
        .await?;
    let Some(r) = r else { return Ok((Role::Standalone, 0)) };
    let offset = r.opt_text("offset_ms")?.and_then(|v| v.parse().ok()).unwrap_or(0);
    let role = match (r.opt_text("edge")?, r.i64("edges")?) {
        (Some(school), _) => Role::Edge(school),
        (None, n) if n > 0 => Role::Central,
        _ => Role::Standalone,
    };
    Ok((role, offset))
}

/// A stored integer position (cursor, confirmed sequence); 0 when unset.
pub async fn position(ex: &dyn Executor, key: &str) -> Result<i64> {
    node_state::get(ex, key).await?.map_or(Ok(0), |v| {
        v.parse()
            .map_err(|_| StoreError::decode(key, format!("not a position: {v:?}")))
    })
}

pub async fn set_position(ex: &dyn Executor, key: &str, value: i64) -> Result<()> {
    node_state::set(ex, key, &value.to_string(), essp_domain::now()).await
}

/// Whether central has an edge for this school (its rows are captured).
pub async fn is_enrolled(ex: &dyn Executor, tenant: &str, school: &str) -> Result<bool> {
    Ok(ex
        .count(
            "SELECT COUNT(*) AS n FROM sync_edges WHERE tenant_id = $1 AND school_id = $2",
            &[tenant.into(), school.into()],
        )
        .await?
        > 0)
}

/// Whether any school of the tenant has an edge (its tenant-wide rows are
/// captured).
pub async fn tenant_has_edges(ex: &dyn Executor, tenant: &str) -> Result<bool> {
    Ok(ex
        .count(
            "SELECT COUNT(*) AS n FROM (SELECT 1 AS one FROM sync_edges WHERE tenant_id = $1 LIMIT 1) AS e",
            &[tenant.into()],
        )
        .await?
        > 0)
}

/// Central's record of one edge.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Edge {
    pub tenant_id: String,
    pub school_id: String,
    pub epoch: String,
    /// The box holding the epoch (its machine id); `""` until it reports.
    pub host: String,
    /// The edge's changes applied centrally, by its outbox position.
    pub applied_seq: i64,
    /// The last `down` stream position that carried this school's changes.
    pub down_seq: i64,
    /// `active`, `gap` (waiting for a resend) or `refused` (stale epoch).
    pub status: String,
    pub status_message: String,
    pub enrolled_at: DateTime<Utc>,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub last_applied_at: Option<DateTime<Utc>>,
    /// The edge's last checkpoint as it sent it.
    #[schema(value_type = Option<Object>)]
    pub checkpoint: Option<serde_json::Value>,
}

const EDGE_COLUMNS: &str = "tenant_id, school_id, epoch, host, applied_seq, down_seq, status, status_message, enrolled_at, \
                            last_seen_at, last_applied_at, checkpoint";

fn edge_of(r: &crate::value::Row) -> Result<Edge> {
    Ok(Edge {
        tenant_id: r.text("tenant_id")?,
        school_id: r.text("school_id")?,
        epoch: r.text("epoch")?,
        host: r.text("host")?,
        applied_seq: r.i64("applied_seq")?,
        down_seq: r.i64("down_seq")?,
        status: r.text("status")?,
        status_message: r.text("status_message")?,
        enrolled_at: r.timestamp("enrolled_at")?,
        last_seen_at: r.opt_timestamp("last_seen_at")?,
        last_applied_at: r.opt_timestamp("last_applied_at")?,
        checkpoint: r
            .opt_text("checkpoint")?
            .map(|t| serde_json::from_str(&t).map_err(|e| StoreError::decode("checkpoint", e.to_string())))
            .transpose()?,
    })
}

/// Enrolls (or re-enrolls) a school's edge under a new epoch, held by box
/// `host`; its changes after position `applied_seq` are the ones central
/// has not seen.
pub async fn enroll(
    ex: &dyn Executor,
    tenant: &str,
    school: &str,
    epoch: &str,
    host: &str,
    applied_seq: i64,
) -> Result<()> {
    ex.execute(
        "INSERT INTO sync_edges (tenant_id, school_id, epoch, host, applied_seq, status, status_message, enrolled_at) \
         VALUES ($1, $2, $3, $4, $5, 'active', '', $6) \
         ON CONFLICT (tenant_id, school_id) DO UPDATE SET epoch = excluded.epoch, host = excluded.host, \
         applied_seq = excluded.applied_seq, status = 'active', status_message = '', enrolled_at = excluded.enrolled_at, \
         last_applied_at = NULL, checkpoint = NULL",
        &[tenant.into(), school.into(), epoch.into(), host.into(), applied_seq.into(), essp_domain::now().into()],
    )
    .await?;
    Ok(())
}

/// Records the box holding an edge's epoch the first time it reports one.
pub async fn claim_host(ex: &dyn Executor, tenant: &str, school: &str, host: &str) -> Result<()> {
    ex.execute(
        "UPDATE sync_edges SET host = $1 WHERE tenant_id = $2 AND school_id = $3 AND host = ''",
        &[host.into(), tenant.into(), school.into()],
    )
    .await?;
    Ok(())
}

pub async fn get(ex: &dyn Executor, tenant: &str, school: &str) -> Result<Option<Edge>> {
    ex.fetch_optional(
        &format!("SELECT {EDGE_COLUMNS} FROM sync_edges WHERE tenant_id = $1 AND school_id = $2"),
        &[tenant.into(), school.into()],
    )
    .await?
    .as_ref()
    .map(edge_of)
    .transpose()
}

/// Reads an edge's record and locks it for the rest of the transaction, so
/// two sync-workers can never apply the same edge's changes at once.
pub async fn lock(ex: &dyn Executor, tenant: &str, school: &str) -> Result<Option<Edge>> {
    ex.fetch_optional(
        &format!(
            "UPDATE sync_edges SET applied_seq = applied_seq WHERE tenant_id = $1 AND school_id = $2 \
             RETURNING {EDGE_COLUMNS}"
        ),
        &[tenant.into(), school.into()],
    )
    .await?
    .as_ref()
    .map(edge_of)
    .transpose()
}

pub async fn set_applied(ex: &dyn Executor, tenant: &str, school: &str, seq: i64) -> Result<()> {
    let now = essp_domain::now();
    ex.execute(
        "UPDATE sync_edges SET applied_seq = $1, status = 'active', status_message = '', last_applied_at = $2, \
         last_seen_at = $2 WHERE tenant_id = $3 AND school_id = $4",
        &[seq.into(), now.into(), tenant.into(), school.into()],
    )
    .await?;
    Ok(())
}

/// Records that `down` stream position `seq` carried changes of a school.
pub async fn set_down_seq(ex: &dyn Executor, tenant: &str, school: &str, seq: i64) -> Result<()> {
    ex.execute(
        "UPDATE sync_edges SET down_seq = $1 WHERE tenant_id = $2 AND school_id = $3 AND down_seq < $1",
        &[seq.into(), tenant.into(), school.into()],
    )
    .await?;
    Ok(())
}

/// Sets where an edge's changes start when central does not know yet
/// (applied position -1, after a carried snapshot); a known one is kept.
pub async fn start_at(ex: &dyn Executor, tenant: &str, school: &str, seq: i64) -> Result<()> {
    ex.execute(
        "UPDATE sync_edges SET applied_seq = $1 WHERE tenant_id = $2 AND school_id = $3 AND applied_seq < 0",
        &[seq.into(), tenant.into(), school.into()],
    )
    .await?;
    Ok(())
}

pub async fn set_status(ex: &dyn Executor, tenant: &str, school: &str, status: &str, message: &str) -> Result<()> {
    ex.execute(
        "UPDATE sync_edges SET status = $1, status_message = $2, last_seen_at = $3 WHERE tenant_id = $4 AND school_id = $5",
        &[status.into(), message.into(), essp_domain::now().into(), tenant.into(), school.into()],
    )
    .await?;
    Ok(())
}

pub async fn record_checkpoint(ex: &dyn Executor, tenant: &str, school: &str, checkpoint: &str) -> Result<()> {
    ex.execute(
        "UPDATE sync_edges SET checkpoint = $1, last_seen_at = $2 WHERE tenant_id = $3 AND school_id = $4",
        &[
            checkpoint.into(),
            essp_domain::now().into(),
            tenant.into(),
            school.into(),
        ],
    )
    .await?;
    Ok(())
}

/// Every edge of a tenant, by school.
pub async fn list(ex: &dyn Executor, tenant: &str) -> Result<Vec<Edge>> {
    ex.fetch_all(
        &format!("SELECT {EDGE_COLUMNS} FROM sync_edges WHERE tenant_id = $1 ORDER BY school_id"),
        &[tenant.into()],
    )
    .await?
    .iter()
    .map(edge_of)
    .collect()
}

/// Every edge of every tenant.
pub async fn list_all(ex: &dyn Executor) -> Result<Vec<Edge>> {
    ex.fetch_all(
        &format!("SELECT {EDGE_COLUMNS} FROM sync_edges ORDER BY tenant_id, school_id"),
        &[],
    )
    .await?
    .iter()
    .map(edge_of)
    .collect()
}
