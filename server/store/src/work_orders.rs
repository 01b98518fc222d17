//! Work order repository. Every change is a compare-and-set `save` of the
//! whole mutable row on the version it was planned from.

use chrono::{DateTime, Utc};
use essp_domain::work_order::{ReworkCategory, WorkOrder, WorkOrderStatus};
use essp_domain::{Id, Scope};
use serde::Serialize;

use crate::cursor::{Cursor, Page, into_page};
use crate::error::Result;
use crate::executor::Executor;
use crate::query::Query;
use crate::value::{Row, Value};

const COLUMNS: &str = "id, tenant_id, school_id, incident_id, device_id, status, service_shop_id, assigned_staff_id, \
     assigned_to, repair_location, task_type, cost_estimate_cents, notes, project_id, phase_id, onsite_contact_id, \
     approval_status, rework_count, last_rework_at, last_rework_reason, created_by, created_at, updated_at, version, \
     context";

/// The columns a change may touch, in `save`'s parameter order.
fn mutable_values(w: &WorkOrder) -> Vec<Value> {
    vec![
        w.status.as_str().into(),
        (&w.service_shop_id).into(),
        (&w.assigned_staff_id).into(),
        (&w.assigned_to).into(),
        (&w.repair_location).into(),
        w.cost_estimate_cents.into(),
        (&w.notes).into(),
        (&w.onsite_contact_id).into(),
        w.approval_status.as_str().into(),
        w.rework_count.into(),
        w.last_rework_at.into(),
        (&w.last_rework_reason).into(),
        w.updated_at.into(),
    ]
}

pub async fn insert(ex: &dyn Executor, w: &WorkOrder) -> Result<()> {
    let placeholders: Vec<String> = (1..=25).map(|n| format!("${n}")).collect();
    let sql = format!(
        "INSERT INTO work_orders ({COLUMNS}) VALUES ({})",
        placeholders.join(", ")
    );
    let params: Vec<Value> = vec![
        w.id.as_str().into(),
        (&w.tenant_id).into(),
        (&w.school_id).into(),
        (&w.incident_id).into(),
        (&w.device_id).into(),
        w.status.as_str().into(),
        (&w.service_shop_id).into(),
        (&w.assigned_staff_id).into(),
        (&w.assigned_to).into(),
        (&w.repair_location).into(),
        (&w.task_type).into(),
        w.cost_estimate_cents.into(),
        (&w.notes).into(),
        (&w.project_id).into(),
        (&w.phase_id).into(),
        (&w.onsite_contact_id).into(),
        w.approval_status.as_str().into(),
        w.rework_count.into(),
        w.last_rework_at.into(),
        (&w.last_rework_reason).into(),
        (&w.created_by).into(),
        w.created_at.into(),
        w.updated_at.into(),
        w.version.into(),
        crate::value::json_of(&w.context)?,
    ];
    ex.execute(&sql, &params).await?;
    crate::sync::capture(ex, "work_orders", w.id.as_str()).await
}

pub async fn get(ex: &dyn Executor, scope: &Scope, id: &Id) -> Result<Option<WorkOrder>> {
    let sql = format!("SELECT {COLUMNS} FROM work_orders WHERE tenant_id = $1 AND school_id = $2 AND id = $3");
    let row = ex
        .fetch_optional(
            &sql,
            &[scope.tenant().into(), scope.school().into(), id.as_str().into()],
        )
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Writes `next` if the row is still at `expected_version`; `None` when it
/// changed meanwhile (the caller answers 409).
pub async fn save(
    ex: &dyn Executor,
    scope: &Scope,
    expected_version: i64,
    next: &WorkOrder,
) -> Result<Option<WorkOrder>> {
    let sql = format!(
        "UPDATE work_orders SET status = $1, service_shop_id = $2, assigned_staff_id = $3, assigned_to = $4, \
         repair_location = $5, cost_estimate_cents = $6, notes = $7, onsite_contact_id = $8, approval_status = $9, \
         rework_count = $10, last_rework_at = $11, last_rework_reason = $12, updated_at = $13, version = version + 1 \
         WHERE tenant_id = $14 AND school_id = $15 AND id = $16 AND version = $17 RETURNING {COLUMNS}"
    );
    let mut params = mutable_values(next);
    params.extend([
        scope.tenant().into(),
        scope.school().into(),
        next.id.as_str().into(),
        expected_version.into(),
    ]);
    let saved = ex
        .fetch_optional(&sql, &params)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()?;
    crate::sync::capture_saved(ex, "work_orders", next.id.as_str(), saved).await
}

#[derive(Debug, Clone, Default)]
pub struct WorkOrderFilter {
    pub status: Option<WorkOrderStatus>,
    pub device_id: Option<String>,
    pub incident_id: Option<String>,
    pub updated_since: Option<DateTime<Utc>>,
    pub cursor: Option<Cursor>,
    pub limit: u32,
}

pub async fn list(ex: &dyn Executor, scope: &Scope, f: &WorkOrderFilter) -> Result<Page<WorkOrder>> {
    let mut q = Query::new(&format!("SELECT {COLUMNS} FROM work_orders WHERE 1 = 1"));
    q.and("tenant_id = {}", scope.tenant())
        .and("school_id = {}", scope.school());
    if let Some(s) = f.status {
        q.and("status = {}", s.as_str());
    }
    if let Some(d) = &f.device_id {
        q.and("device_id = {}", d);
    }
    if let Some(i) = &f.incident_id {
        q.and("incident_id = {}", i);
    }
    if let Some(t) = f.updated_since {
        q.and("updated_at >= {}", t);
    }
    q.keyset(f.cursor.as_ref(), f.limit);
    let rows = ex.fetch_all(q.sql(), q.params()).await?;
    let items = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
    Ok(into_page(items, f.limit, |w| Cursor {
        created_at: w.created_at,
        id: w.id.to_string(),
    }))
}

/// Work orders of an incident that are not yet approved.
pub async fn open_for_incident(ex: &dyn Executor, scope: &Scope, incident_id: &str) -> Result<i64> {
    ex.count(
        "SELECT COUNT(*) AS n FROM work_orders WHERE tenant_id = $1 AND school_id = $2 AND incident_id = $3 \
         AND status <> 'approved'",
        &[scope.tenant().into(), scope.school().into(), incident_id.into()],
    )
    .await
}

/// One send-back of a work order.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReworkEntry {
    pub id: String,
    pub work_order_id: String,
    /// 1 for the first rework, counting up.
    pub seq: i64,
    pub from_status: WorkOrderStatus,
    pub to_status: WorkOrderStatus,
    pub category: ReworkCategory,
    pub reason: String,
    pub actor: String,
    pub created_at: DateTime<Utc>,
}

pub async fn insert_rework(ex: &dyn Executor, scope: &Scope, e: &ReworkEntry) -> Result<()> {
    ex.execute(
        "INSERT INTO work_order_rework_history (id, tenant_id, school_id, work_order_id, seq, from_status, to_status, \
         category, reason, actor, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        &[
            (&e.id).into(),
            scope.tenant().into(),
            scope.school().into(),
            (&e.work_order_id).into(),
            e.seq.into(),
            e.from_status.as_str().into(),
            e.to_status.as_str().into(),
            e.category.as_str().into(),
            (&e.reason).into(),
            (&e.actor).into(),
            e.created_at.into(),
        ],
    )
    .await?;
    crate::sync::capture(ex, "work_order_rework_history", &e.id).await
}

pub async fn rework_history(ex: &dyn Executor, scope: &Scope, work_order_id: &str) -> Result<Vec<ReworkEntry>> {
    let rows = ex
        .fetch_all(
            "SELECT id, work_order_id, seq, from_status, to_status, category, reason, actor, created_at \
             FROM work_order_rework_history WHERE tenant_id = $1 AND school_id = $2 AND work_order_id = $3 ORDER BY seq",
            &[scope.tenant().into(), scope.school().into(), work_order_id.into()],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(ReworkEntry {
                id: r.text("id")?,
                work_order_id: r.text("work_order_id")?,
                seq: r.i64("seq")?,
                from_status: r.parse("from_status")?,
                to_status: r.parse("to_status")?,
                category: r.parse("category")?,
                reason: r.text("reason")?,
                actor: r.text("actor")?,
                created_at: r.timestamp("created_at")?,
            })
        })
        .collect()
}

fn from_row(r: &Row) -> Result<WorkOrder> {
    Ok(WorkOrder {
        id: Id::from_trusted(r.text("id")?),
        tenant_id: r.text("tenant_id")?,
        school_id: r.text("school_id")?,
        incident_id: r.text("incident_id")?,
        device_id: r.text("device_id")?,
        status: r.parse("status")?,
        service_shop_id: r.text("service_shop_id")?,
        assigned_staff_id: r.text("assigned_staff_id")?,
        assigned_to: r.text("assigned_to")?,
        repair_location: r.text("repair_location")?,
        task_type: r.text("task_type")?,
        cost_estimate_cents: r.i64("cost_estimate_cents")?,
        notes: r.text("notes")?,
        project_id: r.text("project_id")?,
        phase_id: r.text("phase_id")?,
        onsite_contact_id: r.text("onsite_contact_id")?,
        approval_status: r.parse("approval_status")?,
        rework_count: r.i64("rework_count")?,
        last_rework_at: r.opt_timestamp("last_rework_at")?,
        last_rework_reason: r.text("last_rework_reason")?,
        created_by: r.text("created_by")?,
        created_at: r.timestamp("created_at")?,
        updated_at: r.timestamp("updated_at")?,
        version: r.i64("version")?,
        context: r.decode_json("context")?,
    })
}
