//! Incident repository: the only place incident SQL lives.

use chrono::{DateTime, Utc};
use essp_domain::incident::{Incident, IncidentStatus, Severity, StatusChange};
use essp_domain::{Id, Scope};

use crate::cursor::{Cursor, Page, into_page};
use crate::error::Result;
use crate::executor::Executor;
use crate::query::{Query, like_contains};
use crate::value::{Row, Value};

const COLUMNS: &str = "id, tenant_id, school_id, device_id, category, severity, status, title, description, \
     reported_by, sla_due_at, sla_breached, breached_at, acknowledged_at, resolved_at, closed_at, \
     status_reason, created_at, updated_at, version, context";

/// List filters; every field is optional. `limit` is already clamped.
#[derive(Debug, Clone, Default)]
pub struct IncidentFilter {
    pub status: Option<IncidentStatus>,
    pub severity: Option<Severity>,
    pub device_id: Option<String>,
    pub q: Option<String>,
    pub sla_breached: Option<bool>,
    pub updated_since: Option<DateTime<Utc>>,
    pub cursor: Option<Cursor>,
    pub limit: u32,
}

pub async fn insert(ex: &dyn Executor, i: &Incident) -> Result<()> {
    let sql = format!(
        "INSERT INTO incidents ({COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)"
    );
    let params: Vec<Value> = vec![
        i.id.as_str().into(),
        (&i.tenant_id).into(),
        (&i.school_id).into(),
        (&i.device_id).into(),
        (&i.category).into(),
        i.severity.as_str().into(),
        i.status.as_str().into(),
        (&i.title).into(),
        (&i.description).into(),
        (&i.reported_by).into(),
        i.sla_due_at.into(),
        i.sla_breached.into(),
        i.breached_at.into(),
        i.acknowledged_at.into(),
        i.resolved_at.into(),
        i.closed_at.into(),
        (&i.status_reason).into(),
        i.created_at.into(),
        i.updated_at.into(),
        i.version.into(),
        crate::value::json_of(&i.context)?,
    ];
    ex.execute(&sql, &params).await?;
    crate::sync::capture(ex, "incidents", i.id.as_str()).await
}

pub async fn get(ex: &dyn Executor, scope: &Scope, id: &Id) -> Result<Option<Incident>> {
    let sql = format!("SELECT {COLUMNS} FROM incidents WHERE tenant_id = $1 AND school_id = $2 AND id = $3");
    let row = ex
        .fetch_optional(
            &sql,
            &[scope.tenant().into(), scope.school().into(), id.as_str().into()],
        )
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Newest first, keyset-paginated on (created_at, id).
pub async fn list(ex: &dyn Executor, scope: &Scope, f: &IncidentFilter) -> Result<Page<Incident>> {
    let mut q = Query::new(&format!("SELECT {COLUMNS} FROM incidents WHERE 1 = 1"));
    q.and("tenant_id = {}", scope.tenant())
        .and("school_id = {}", scope.school());
    if let Some(s) = f.status {
        q.and("status = {}", s.as_str());
    }
    if let Some(s) = f.severity {
        q.and("severity = {}", s.as_str());
    }
    if let Some(d) = &f.device_id {
        q.and("device_id = {}", d);
    }
    if let Some(b) = f.sla_breached {
        q.and("sla_breached = {}", b);
    }
    if let Some(t) = f.updated_since {
        q.and("updated_at >= {}", t);
    }
    if let Some(text) = &f.q {
        let op = ex.dialect().ilike;
        q.and(
            &format!("(title {op} {{}} ESCAPE '\\' OR description {op} {{}} ESCAPE '\\')"),
            like_contains(text),
        );
    }
    q.keyset(f.cursor.as_ref(), f.limit);

    let rows = ex.fetch_all(q.sql(), q.params()).await?;
    let items = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
    Ok(into_page(items, f.limit, |i| Cursor {
        created_at: i.created_at,
        id: i.id.to_string(),
    }))
}

/// Applies a planned status change as a compare-and-set on the status and
/// version it was planned from. `None` means the row changed meanwhile.
pub async fn apply_status(
    ex: &dyn Executor,
    scope: &Scope,
    id: &Id,
    expected_version: i64,
    change: &StatusChange,
    now: DateTime<Utc>,
) -> Result<Option<Incident>> {
    let sql = format!(
        "UPDATE incidents SET status = $1, acknowledged_at = $2, resolved_at = $3, closed_at = $4, \
         status_reason = $5, updated_at = $6, version = version + 1 \
         WHERE tenant_id = $7 AND school_id = $8 AND id = $9 AND status = $10 AND version = $11 \
         RETURNING {COLUMNS}"
    );
    let params: Vec<Value> = vec![
        change.to.as_str().into(),
        change.acknowledged_at.into(),
        change.resolved_at.into(),
        change.closed_at.into(),
        (&change.reason).into(),
        now.into(),
        scope.tenant().into(),
        scope.school().into(),
        id.as_str().into(),
        change.from.as_str().into(),
        expected_version.into(),
    ];
    let saved = ex
        .fetch_optional(&sql, &params)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()?;
    crate::sync::capture_saved(ex, "incidents", id.as_str(), saved).await
}

fn from_row(row: &Row) -> Result<Incident> {
    Ok(Incident {
        id: Id::from_trusted(row.text("id")?),
        tenant_id: row.text("tenant_id")?,
        school_id: row.text("school_id")?,
        device_id: row.text("device_id")?,
        category: row.text("category")?,
        severity: row.parse("severity")?,
        status: row.parse("status")?,
        title: row.text("title")?,
        description: row.text("description")?,
        reported_by: row.text("reported_by")?,
        sla_due_at: row.timestamp("sla_due_at")?,
        sla_breached: row.bool("sla_breached")?,
        breached_at: row.opt_timestamp("breached_at")?,
        acknowledged_at: row.opt_timestamp("acknowledged_at")?,
        resolved_at: row.opt_timestamp("resolved_at")?,
        closed_at: row.opt_timestamp("closed_at")?,
        status_reason: row.text("status_reason")?,
        created_at: row.timestamp("created_at")?,
        updated_at: row.timestamp("updated_at")?,
        version: row.i64("version")?,
        context: row.decode_json("context")?,
    })
}

/// Writes edited details as a compare-and-set on `expected_version`.
pub async fn update_details(
    ex: &dyn Executor,
    scope: &Scope,
    expected_version: i64,
    next: &Incident,
) -> Result<Option<Incident>> {
    let sql = format!(
        "UPDATE incidents SET title = $1, description = $2, category = $3, severity = $4, sla_due_at = $5, \
         sla_breached = $6, breached_at = $7, updated_at = $8, version = version + 1 \
         WHERE tenant_id = $9 AND school_id = $10 AND id = $11 AND version = $12 RETURNING {COLUMNS}"
    );
    let params: Vec<Value> = vec![
        (&next.title).into(),
        (&next.description).into(),
        (&next.category).into(),
        next.severity.as_str().into(),
        next.sla_due_at.into(),
        next.sla_breached.into(),
        next.breached_at.into(),
        next.updated_at.into(),
        scope.tenant().into(),
        scope.school().into(),
        next.id.as_str().into(),
        expected_version.into(),
    ];
    let saved = ex
        .fetch_optional(&sql, &params)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()?;
    crate::sync::capture_saved(ex, "incidents", next.id.as_str(), saved).await
}

/// Marks up to `limit` open incidents whose SLA deadline has passed as
/// breached (all tenants) and returns them. Idempotent: a row is breached once.
/// Open, unbreached incidents past their deadline (`$1` now, `$2` at
/// most), soonest first. Spelled exactly like the predicate of the partial
/// index `incidents_sla_sweep_idx`: SQLite uses a partial index only when
/// the query's terms match it as written (a test holds the two together).
pub const OVERDUE: &str = "SELECT id FROM incidents WHERE sla_breached = FALSE \
     AND status NOT IN ('resolved', 'closed') AND sla_due_at < $1 ORDER BY sla_due_at LIMIT $2";

pub async fn breach_overdue(ex: &dyn Executor, now: DateTime<Utc>, limit: i64) -> Result<Vec<Incident>> {
    let sql = format!(
        "UPDATE incidents SET sla_breached = TRUE, breached_at = $1, updated_at = $1, version = version + 1 \
         WHERE id IN ({OVERDUE}) AND sla_breached = FALSE RETURNING {COLUMNS}"
    );
    let rows = ex.fetch_all(&sql, &[now.into(), limit.into()]).await?;
    let breached = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
    for i in &breached {
        crate::sync::capture(ex, "incidents", i.id.as_str()).await?;
    }
    Ok(breached)
}
