//! Schedules, deliverables and approvals of work orders.

use essp_domain::workflow::{Approval, Deliverable, DeliverableStatus, Schedule};
use essp_domain::{Id, Scope};

use crate::cursor::{Cursor, Page, into_page};
use crate::error::Result;
use crate::executor::Executor;
use crate::query::Query;
use crate::value::{Row, Value};

fn placeholders(n: usize) -> String {
    (1..=n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// A page of one work order's children, newest first.
#[derive(Debug, Clone, Default)]
pub struct ChildFilter {
    pub status: Option<DeliverableStatus>,
    pub cursor: Option<Cursor>,
    pub limit: u32,
}

async fn children<T>(
    ex: &dyn Executor,
    table_columns: (&str, &str),
    scope: &Scope,
    work_order_id: &str,
    f: &ChildFilter,
    from_row: fn(&Row) -> Result<T>,
    key: fn(&T) -> Cursor,
) -> Result<Page<T>> {
    let (table, columns) = table_columns;
    let mut q = Query::new(&format!("SELECT {columns} FROM {table} WHERE 1 = 1"));
    q.and("tenant_id = {}", scope.tenant())
        .and("school_id = {}", scope.school())
        .and("work_order_id = {}", work_order_id);
    if let Some(s) = f.status {
        q.and("status = {}", s.as_str());
    }
    q.keyset(f.cursor.as_ref(), f.limit);
    let rows = ex.fetch_all(q.sql(), q.params()).await?;
    let items = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
    Ok(into_page(items, f.limit, key))
}

// ---- schedules ----

const SCHEDULE_COLUMNS: &str =
    "id, tenant_id, school_id, work_order_id, scheduled_start, scheduled_end, timezone, notes, created_by, created_at";

pub async fn insert_schedule(ex: &dyn Executor, s: &Schedule) -> Result<()> {
    let sql = format!(
        "INSERT INTO work_order_schedules ({SCHEDULE_COLUMNS}) VALUES ({})",
        placeholders(10)
    );
    let params: Vec<Value> = vec![
        s.id.as_str().into(),
        (&s.tenant_id).into(),
        (&s.school_id).into(),
        (&s.work_order_id).into(),
        s.scheduled_start.into(),
        s.scheduled_end.into(),
        (&s.timezone).into(),
        (&s.notes).into(),
        (&s.created_by).into(),
        s.created_at.into(),
    ];
    ex.execute(&sql, &params).await?;
    crate::sync::capture(ex, "work_order_schedules", s.id.as_str()).await
}

fn schedule_from_row(r: &Row) -> Result<Schedule> {
    Ok(Schedule {
        id: Id::from_trusted(r.text("id")?),
        tenant_id: r.text("tenant_id")?,
        school_id: r.text("school_id")?,
        work_order_id: r.text("work_order_id")?,
        scheduled_start: r.timestamp("scheduled_start")?,
        scheduled_end: r.timestamp("scheduled_end")?,
        timezone: r.text("timezone")?,
        notes: r.text("notes")?,
        created_by: r.text("created_by")?,
        created_at: r.timestamp("created_at")?,
    })
}

pub async fn list_schedules(ex: &dyn Executor, scope: &Scope, wo: &str, f: &ChildFilter) -> Result<Page<Schedule>> {
    children(
        ex,
        ("work_order_schedules", SCHEDULE_COLUMNS),
        scope,
        wo,
        f,
        schedule_from_row,
        |s| Cursor {
            created_at: s.created_at,
            id: s.id.to_string(),
        },
    )
    .await
}

// ---- deliverables ----

const DELIVERABLE_COLUMNS: &str = "id, tenant_id, school_id, work_order_id, phase_id, title, description, status, \
     evidence_attachment_id, submitted_by, submitted_at, submission_notes, reviewed_by, reviewed_at, review_notes, \
     created_at, updated_at, version";

pub async fn insert_deliverable(ex: &dyn Executor, d: &Deliverable) -> Result<()> {
    let sql = format!(
        "INSERT INTO work_order_deliverables ({DELIVERABLE_COLUMNS}) VALUES ({})",
        placeholders(18)
    );
    let params: Vec<Value> = vec![
        d.id.as_str().into(),
        (&d.tenant_id).into(),
        (&d.school_id).into(),
        (&d.work_order_id).into(),
        (&d.phase_id).into(),
        (&d.title).into(),
        (&d.description).into(),
        d.status.as_str().into(),
        (&d.evidence_attachment_id).into(),
        (&d.submitted_by).into(),
        d.submitted_at.into(),
        (&d.submission_notes).into(),
        (&d.reviewed_by).into(),
        d.reviewed_at.into(),
        (&d.review_notes).into(),
        d.created_at.into(),
        d.updated_at.into(),
        d.version.into(),
    ];
    ex.execute(&sql, &params).await?;
    crate::sync::capture(ex, "work_order_deliverables", d.id.as_str()).await
}

/// A deliverable of the work order in the path — another work order's
/// deliverable id is "not found", never acted on.
pub async fn get_deliverable(ex: &dyn Executor, scope: &Scope, wo: &str, id: &str) -> Result<Option<Deliverable>> {
    let sql = format!(
        "SELECT {DELIVERABLE_COLUMNS} FROM work_order_deliverables \
         WHERE tenant_id = $1 AND school_id = $2 AND work_order_id = $3 AND id = $4"
    );
    let row = ex
        .fetch_optional(
            &sql,
            &[scope.tenant().into(), scope.school().into(), wo.into(), id.into()],
        )
        .await?;
    row.as_ref().map(deliverable_from_row).transpose()
}

pub async fn save_deliverable(
    ex: &dyn Executor,
    scope: &Scope,
    expected_version: i64,
    d: &Deliverable,
) -> Result<Option<Deliverable>> {
    let sql = format!(
        "UPDATE work_order_deliverables SET status = $1, evidence_attachment_id = $2, submitted_by = $3, \
         submitted_at = $4, submission_notes = $5, reviewed_by = $6, reviewed_at = $7, review_notes = $8, \
         updated_at = $9, version = version + 1 \
         WHERE tenant_id = $10 AND school_id = $11 AND id = $12 AND version = $13 RETURNING {DELIVERABLE_COLUMNS}"
    );
    let params: Vec<Value> = vec![
        d.status.as_str().into(),
        (&d.evidence_attachment_id).into(),
        (&d.submitted_by).into(),
        d.submitted_at.into(),
        (&d.submission_notes).into(),
        (&d.reviewed_by).into(),
        d.reviewed_at.into(),
        (&d.review_notes).into(),
        d.updated_at.into(),
        scope.tenant().into(),
        scope.school().into(),
        d.id.as_str().into(),
        expected_version.into(),
    ];
    let saved = ex
        .fetch_optional(&sql, &params)
        .await?
        .as_ref()
        .map(deliverable_from_row)
        .transpose()?;
    crate::sync::capture_saved(ex, "work_order_deliverables", d.id.as_str(), saved).await
}

fn deliverable_from_row(r: &Row) -> Result<Deliverable> {
    Ok(Deliverable {
        id: Id::from_trusted(r.text("id")?),
        tenant_id: r.text("tenant_id")?,
        school_id: r.text("school_id")?,
        work_order_id: r.text("work_order_id")?,
        phase_id: r.text("phase_id")?,
        title: r.text("title")?,
        description: r.text("description")?,
        status: r.parse("status")?,
        evidence_attachment_id: r.text("evidence_attachment_id")?,
        submitted_by: r.text("submitted_by")?,
        submitted_at: r.opt_timestamp("submitted_at")?,
        submission_notes: r.text("submission_notes")?,
        reviewed_by: r.text("reviewed_by")?,
        reviewed_at: r.opt_timestamp("reviewed_at")?,
        review_notes: r.text("review_notes")?,
        created_at: r.timestamp("created_at")?,
        updated_at: r.timestamp("updated_at")?,
        version: r.i64("version")?,
    })
}

pub async fn list_deliverables(
    ex: &dyn Executor,
    scope: &Scope,
    wo: &str,
    f: &ChildFilter,
) -> Result<Page<Deliverable>> {
    children(
        ex,
        ("work_order_deliverables", DELIVERABLE_COLUMNS),
        scope,
        wo,
        f,
        deliverable_from_row,
        |d| Cursor {
            created_at: d.created_at,
            id: d.id.to_string(),
        },
    )
    .await
}

// ---- approvals ----

const APPROVAL_COLUMNS: &str = "id, tenant_id, school_id, work_order_id, approval_type, status, requested_by, \
     requested_at, decided_by, decided_at, decision_notes, version";

pub async fn insert_approval(ex: &dyn Executor, a: &Approval) -> Result<()> {
    let sql = format!(
        "INSERT INTO work_order_approvals ({APPROVAL_COLUMNS}) VALUES ({})",
        placeholders(12)
    );
    let params: Vec<Value> = vec![
        a.id.as_str().into(),
        (&a.tenant_id).into(),
        (&a.school_id).into(),
        (&a.work_order_id).into(),
        a.approval_type.as_str().into(),
        a.status.as_str().into(),
        (&a.requested_by).into(),
        a.requested_at.into(),
        (&a.decided_by).into(),
        a.decided_at.into(),
        (&a.decision_notes).into(),
        a.version.into(),
    ];
    ex.execute(&sql, &params).await?;
    crate::sync::capture(ex, "work_order_approvals", a.id.as_str()).await
}

pub async fn get_approval(ex: &dyn Executor, scope: &Scope, wo: &str, id: &str) -> Result<Option<Approval>> {
    let sql = format!(
        "SELECT {APPROVAL_COLUMNS} FROM work_order_approvals \
         WHERE tenant_id = $1 AND school_id = $2 AND work_order_id = $3 AND id = $4"
    );
    let row = ex
        .fetch_optional(
            &sql,
            &[scope.tenant().into(), scope.school().into(), wo.into(), id.into()],
        )
        .await?;
    row.as_ref().map(approval_from_row).transpose()
}

/// Records a decision only while the approval is still pending, so two
/// concurrent deciders cannot both win.
pub async fn decide_approval(ex: &dyn Executor, scope: &Scope, a: &Approval) -> Result<Option<Approval>> {
    let sql = format!(
        "UPDATE work_order_approvals SET status = $1, decided_by = $2, decided_at = $3, decision_notes = $4, \
         version = version + 1 WHERE tenant_id = $5 AND school_id = $6 AND id = $7 AND status = 'pending' \
         RETURNING {APPROVAL_COLUMNS}"
    );
    let params: Vec<Value> = vec![
        a.status.as_str().into(),
        (&a.decided_by).into(),
        a.decided_at.into(),
        (&a.decision_notes).into(),
        scope.tenant().into(),
        scope.school().into(),
        a.id.as_str().into(),
    ];
    let saved = ex
        .fetch_optional(&sql, &params)
        .await?
        .as_ref()
        .map(approval_from_row)
        .transpose()?;
    crate::sync::capture_saved(ex, "work_order_approvals", a.id.as_str(), saved).await
}

pub async fn list_approvals(ex: &dyn Executor, scope: &Scope, wo: &str) -> Result<Vec<Approval>> {
    let sql = format!(
        "SELECT {APPROVAL_COLUMNS} FROM work_order_approvals WHERE tenant_id = $1 AND school_id = $2 \
         AND work_order_id = $3 ORDER BY requested_at DESC, id DESC"
    );
    let rows = ex
        .fetch_all(&sql, &[scope.tenant().into(), scope.school().into(), wo.into()])
        .await?;
    rows.iter().map(approval_from_row).collect()
}

fn approval_from_row(r: &Row) -> Result<Approval> {
    Ok(Approval {
        id: Id::from_trusted(r.text("id")?),
        tenant_id: r.text("tenant_id")?,
        school_id: r.text("school_id")?,
        work_order_id: r.text("work_order_id")?,
        approval_type: r.parse("approval_type")?,
        status: r.parse("status")?,
        requested_by: r.text("requested_by")?,
        requested_at: r.timestamp("requested_at")?,
        decided_by: r.text("decided_by")?,
        decided_at: r.opt_timestamp("decided_at")?,
        decision_notes: r.text("decision_notes")?,
        version: r.i64("version")?,
    })
}
