//! Projects, phases, checklists and the phase gate's counts.

use chrono::{DateTime, Utc};
use essp_domain::project::{ChecklistItem, ChecklistTemplate, GateCounts, Phase, PhaseStatus, PhaseType, Project};
use essp_domain::{Id, Scope};

use crate::error::Result;
use crate::executor::Executor;
use crate::value::{Row, Value};

const PROJECT_COLUMNS: &str =
    "id, tenant_id, school_id, project_type, status, current_phase, notes, created_by, created_at, updated_at, version";
const PHASE_COLUMNS: &str =
    "id, tenant_id, school_id, project_id, phase_type, status, owner_role, notes, created_at, updated_at, version";
const ITEM_COLUMNS: &str = "id, tenant_id, phase_id, title, required, done, done_by, done_at, created_at";

fn project_from_row(r: &Row) -> Result<Project> {
    Ok(Project {
        id: Id::from_trusted(r.text("id")?),
        tenant_id: r.text("tenant_id")?,
        school_id: r.text("school_id")?,
        project_type: r.parse("project_type")?,
        status: r.text("status")?,
        current_phase: r.parse("current_phase")?,
        notes: r.text("notes")?,
        created_by: r.text("created_by")?,
        created_at: r.timestamp("created_at")?,
        updated_at: r.timestamp("updated_at")?,
        version: r.i64("version")?,
    })
}

fn phase_from_row(r: &Row) -> Result<Phase> {
    Ok(Phase {
        id: Id::from_trusted(r.text("id")?),
        tenant_id: r.text("tenant_id")?,
        school_id: r.text("school_id")?,
        project_id: r.text("project_id")?,
        phase_type: r.parse("phase_type")?,
        status: r.parse("status")?,
        owner_role: r.parse("owner_role")?,
        notes: r.text("notes")?,
        created_at: r.timestamp("created_at")?,
        updated_at: r.timestamp("updated_at")?,
        version: r.i64("version")?,
    })
}

fn item_from_row(r: &Row) -> Result<ChecklistItem> {
    Ok(ChecklistItem {
        id: Id::from_trusted(r.text("id")?),
        tenant_id: r.text("tenant_id")?,
        phase_id: r.text("phase_id")?,
        title: r.text("title")?,
        required: r.bool("required")?,
        done: r.bool("done")?,
        done_by: r.text("done_by")?,
        done_at: r.opt_timestamp("done_at")?,
        created_at: r.timestamp("created_at")?,
    })
}

pub async fn insert_project(ex: &dyn Executor, p: &Project) -> Result<()> {
    let sql = format!("INSERT INTO projects ({PROJECT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)");
    let params: Vec<Value> = vec![
        p.id.as_str().into(),
        (&p.tenant_id).into(),
        (&p.school_id).into(),
        p.project_type.as_str().into(),
        (&p.status).into(),
        p.current_phase.as_str().into(),
        (&p.notes).into(),
        (&p.created_by).into(),
        p.created_at.into(),
        p.updated_at.into(),
        p.version.into(),
    ];
    ex.execute(&sql, &params).await?;
    crate::sync::capture(ex, "projects", p.id.as_str()).await
}

pub async fn get_project(ex: &dyn Executor, scope: &Scope, id: &str) -> Result<Option<Project>> {
    let sql = format!("SELECT {PROJECT_COLUMNS} FROM projects WHERE tenant_id = $1 AND school_id = $2 AND id = $3");
    ex.fetch_optional(&sql, &[scope.tenant().into(), scope.school().into(), id.into()])
        .await?
        .as_ref()
        .map(project_from_row)
        .transpose()
}

pub async fn list_projects(ex: &dyn Executor, scope: &Scope) -> Result<Vec<Project>> {
    let sql = format!(
        "SELECT {PROJECT_COLUMNS} FROM projects WHERE tenant_id = $1 AND school_id = $2 ORDER BY created_at DESC, id DESC"
    );
    ex.fetch_all(&sql, &[scope.tenant().into(), scope.school().into()])
        .await?
        .iter()
        .map(project_from_row)
        .collect()
}

pub async fn set_current_phase(
    ex: &dyn Executor,
    scope: &Scope,
    project_id: &str,
    phase: PhaseType,
    now: DateTime<Utc>,
) -> Result<()> {
    ex.execute(
        "UPDATE projects SET current_phase = $1, updated_at = $2, version = version + 1 \
         WHERE tenant_id = $3 AND school_id = $4 AND id = $5",
        &[
            phase.as_str().into(),
            now.into(),
            scope.tenant().into(),
            scope.school().into(),
            project_id.into(),
        ],
    )
    .await?;
    crate::sync::capture(ex, "projects", project_id).await
}

pub async fn insert_phase(ex: &dyn Executor, p: &Phase) -> Result<()> {
    let sql = format!("INSERT INTO phases ({PHASE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)");
    let params: Vec<Value> = vec![
        p.id.as_str().into(),
        (&p.tenant_id).into(),
        (&p.school_id).into(),
        (&p.project_id).into(),
        p.phase_type.as_str().into(),
        p.status.as_str().into(),
        p.owner_role.as_str().into(),
        (&p.notes).into(),
        p.created_at.into(),
        p.updated_at.into(),
        p.version.into(),
    ];
    ex.execute(&sql, &params).await?;
    crate::sync::capture(ex, "phases", p.id.as_str()).await
}

pub async fn get_phase(ex: &dyn Executor, scope: &Scope, id: &str) -> Result<Option<Phase>> {
    let sql = format!("SELECT {PHASE_COLUMNS} FROM phases WHERE tenant_id = $1 AND school_id = $2 AND id = $3");
    ex.fetch_optional(&sql, &[scope.tenant().into(), scope.school().into(), id.into()])
        .await?
        .as_ref()
        .map(phase_from_row)
        .transpose()
}

pub async fn list_phases(ex: &dyn Executor, scope: &Scope, project_id: &str) -> Result<Vec<Phase>> {
    let sql = format!(
        "SELECT {PHASE_COLUMNS} FROM phases WHERE tenant_id = $1 AND school_id = $2 AND project_id = $3 ORDER BY created_at, id"
    );
    ex.fetch_all(&sql, &[scope.tenant().into(), scope.school().into(), project_id.into()])
        .await?
        .iter()
        .map(phase_from_row)
        .collect()
}

/// Compare-and-set on the status the change was planned from.
pub async fn set_phase_status(
    ex: &dyn Executor,
    scope: &Scope,
    phase: &Phase,
    to: PhaseStatus,
    now: DateTime<Utc>,
) -> Result<Option<Phase>> {
    let sql = format!(
        "UPDATE phases SET status = $1, updated_at = $2, version = version + 1 \
         WHERE tenant_id = $3 AND school_id = $4 AND id = $5 AND status = $6 RETURNING {PHASE_COLUMNS}"
    );
    let params: Vec<Value> = vec![
        to.as_str().into(),
        now.into(),
        scope.tenant().into(),
        scope.school().into(),
        phase.id.as_str().into(),
        phase.status.as_str().into(),
    ];
    let saved = ex
        .fetch_optional(&sql, &params)
        .await?
        .as_ref()
        .map(phase_from_row)
        .transpose()?;
    crate::sync::capture_saved(ex, "phases", phase.id.as_str(), saved).await
}

/// What still blocks `phase_id` from being done.
pub async fn gate_counts(ex: &dyn Executor, scope: &Scope, phase_id: &str) -> Result<GateCounts> {
    let params: Vec<Value> = vec![scope.tenant().into(), scope.school().into(), phase_id.into()];
    let count = |sql: &'static str| {
        let params = params.clone();
        async move { ex.count(sql, &params).await }
    };
    Ok(GateCounts {
        work_orders_not_completed: count(
            "SELECT COUNT(*) AS n FROM work_orders WHERE tenant_id = $1 AND school_id = $2 AND phase_id = $3 \
             AND status NOT IN ('completed', 'approved')",
        )
        .await?,
        approvals_pending: count(
            "SELECT COUNT(*) AS n FROM work_orders WHERE tenant_id = $1 AND school_id = $2 AND phase_id = $3 \
             AND approval_status NOT IN ('approved', 'not_required')",
        )
        .await?,
        deliverables_not_approved: count(
            "SELECT COUNT(*) AS n FROM work_order_deliverables WHERE tenant_id = $1 AND school_id = $2 \
             AND phase_id = $3 AND status <> 'approved'",
        )
        .await?,
        required_items_open: count(
            "SELECT COUNT(*) AS n FROM phase_checklist_items i JOIN phases p ON p.id = i.phase_id \
             WHERE p.tenant_id = $1 AND p.school_id = $2 AND i.phase_id = $3 AND i.required = TRUE AND i.done = FALSE",
        )
        .await?,
    })
}

pub async fn insert_template(ex: &dyn Executor, t: &ChecklistTemplate) -> Result<()> {
    ex.execute(
        "INSERT INTO checklist_templates (id, tenant_id, phase_type, title, required, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        &[t.id.as_str().into(), (&t.tenant_id).into(), t.phase_type.as_str().into(), (&t.title).into(), t.required.into(), t.created_at.into()],
    )
    .await?;
    crate::sync::capture(ex, "checklist_templates", t.id.as_str()).await
}

pub async fn list_templates(
    ex: &dyn Executor,
    tenant: &str,
    phase_type: Option<PhaseType>,
) -> Result<Vec<ChecklistTemplate>> {
    let rows = match phase_type {
        Some(pt) => {
            ex.fetch_all(
                "SELECT id, tenant_id, phase_type, title, required, created_at FROM checklist_templates \
                 WHERE tenant_id = $1 AND phase_type = $2 ORDER BY created_at, id",
                &[tenant.into(), pt.as_str().into()],
            )
            .await?
        }
        None => {
            ex.fetch_all(
                "SELECT id, tenant_id, phase_type, title, required, created_at FROM checklist_templates \
                 WHERE tenant_id = $1 ORDER BY created_at, id",
                &[tenant.into()],
            )
            .await?
        }
    };
    rows.iter()
        .map(|r| {
            Ok(ChecklistTemplate {
                id: Id::from_trusted(r.text("id")?),
                tenant_id: r.text("tenant_id")?,
                phase_type: r.parse("phase_type")?,
                title: r.text("title")?,
                required: r.bool("required")?,
                created_at: r.timestamp("created_at")?,
            })
        })
        .collect()
}

pub async fn insert_item(ex: &dyn Executor, i: &ChecklistItem) -> Result<()> {
    // The item belongs to its phase's school (which the item replicates to).
    let sql = format!(
        "INSERT INTO phase_checklist_items ({ITEM_COLUMNS}, school_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
         (SELECT school_id FROM phases WHERE id = $3))"
    );
    let params: Vec<Value> = vec![
        i.id.as_str().into(),
        (&i.tenant_id).into(),
        (&i.phase_id).into(),
        (&i.title).into(),
        i.required.into(),
        i.done.into(),
        (&i.done_by).into(),
        i.done_at.into(),
        i.created_at.into(),
    ];
    ex.execute(&sql, &params).await?;
    crate::sync::capture(ex, "phase_checklist_items", i.id.as_str()).await
}

pub async fn list_items(ex: &dyn Executor, tenant: &str, phase_id: &str) -> Result<Vec<ChecklistItem>> {
    let sql = format!(
        "SELECT {ITEM_COLUMNS} FROM phase_checklist_items WHERE tenant_id = $1 AND phase_id = $2 ORDER BY created_at, id"
    );
    ex.fetch_all(&sql, &[tenant.into(), phase_id.into()])
        .await?
        .iter()
        .map(item_from_row)
        .collect()
}

pub async fn set_item_done(
    ex: &dyn Executor,
    tenant: &str,
    phase_id: &str,
    id: &str,
    done: bool,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Option<ChecklistItem>> {
    let (by, at): (&str, Option<DateTime<Utc>>) = if done { (actor, Some(now)) } else { ("", None) };
    let sql = format!(
        "UPDATE phase_checklist_items SET done = $1, done_by = $2, done_at = $3 \
         WHERE tenant_id = $4 AND phase_id = $5 AND id = $6 RETURNING {ITEM_COLUMNS}"
    );
    let saved = ex
        .fetch_optional(
            &sql,
            &[
                done.into(),
                by.into(),
                at.into(),
                tenant.into(),
                phase_id.into(),
                id.into(),
            ],
        )
        .await?
        .as_ref()
        .map(item_from_row)
        .transpose()?;
    crate::sync::capture_saved(ex, "phase_checklist_items", id, saved).await
}
