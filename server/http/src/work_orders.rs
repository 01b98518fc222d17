//! `/v1/work-orders`: create, read, move forward, edit, send back for
//! rework, and the bulk operations. Every change is one transaction: the
//! work order (compare-and-set on its version), its audit row, rework
//! history and any effect on the incident it belongs to.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use essp_domain::error::{Validator, optional_text, required_text};
use essp_domain::incident::{IncidentStatus, plan_transition};
use essp_domain::work_order::{
    ApprovalStatus, ReworkCategory, WorkOrder, WorkOrderError, WorkOrderStatus, check_forward, check_rework,
    parse_repair_location, parse_task_type,
};
use essp_domain::{Id, Scope};
use essp_store::work_orders::{self, ReworkEntry, WorkOrderFilter};
use essp_store::{Executor, incidents};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::auth::permissions::{WorkOrderApproval, WorkOrderCreate, WorkOrderRead, WorkOrderReview, WorkOrderUpdate};
use crate::auth::{Actor, Authorized};
use crate::extract::{ApiJson, ApiQuery};
use crate::idempotency::{self, Created, IdempotencyKey};
use crate::params;
use crate::problem::{ApiError, ApiResult};
use crate::recording::{self, Subject};
use crate::state::AppState;

const PREFIX: &str = "wo";
/// Largest batch a bulk operation accepts.
pub const MAX_BULK: usize = 100;

fn wo_id(raw: &str) -> ApiResult<Id> {
    params::id(PREFIX, "work order", raw)
}

/// An optional reference id (shop, staff, contact, …): empty or a short token.
fn reference(v: &mut Validator, field: &str, raw: Option<&str>) -> String {
    raw.map(str::trim)
        .and_then(|r| {
            v.check(
                field,
                essp_domain::scope::parse_scope_part(Some(r))
                    .or_else(|e| if r.is_empty() { Ok(String::new()) } else { Err(e) }),
            )
        })
        .unwrap_or_default()
}

fn domain_error(e: WorkOrderError) -> ApiError {
    match e {
        WorkOrderError::NotAllowed { .. } => ApiError::conflict("invalid-transition", e.to_string()),
        WorkOrderError::ReworkLimit { .. } => ApiError::conflict("rework-limit", e.to_string()),
        WorkOrderError::ReasonRequired => ApiError::field("reason", e.to_string()),
    }
}

fn concurrent_update() -> ApiError {
    ApiError::conflict(
        "concurrent-update",
        "the work order was changed by another request; reload and retry",
    )
}

async fn record(
    tx: &dyn Executor,
    actor: &Actor,
    action: &str,
    before: Option<&WorkOrder>,
    after: &WorkOrder,
) -> ApiResult<()> {
    let subject = Subject {
        tenant: &after.tenant_id,
        school: &after.school_id,
        entity_type: "work_order",
        entity_id: after.id.as_str(),
    };
    recording::record(tx, actor, subject, action, before, Some(after), after.updated_at).await
}

// ---- create, read, list ----

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateWorkOrder {
    incident_id: Option<String>,
    device_id: Option<String>,
    task_type: Option<String>,
    service_shop_id: Option<String>,
    assigned_staff_id: Option<String>,
    assigned_to: Option<String>,
    repair_location: Option<String>,
    cost_estimate_cents: Option<i64>,
    notes: Option<String>,
    project_id: Option<String>,
    phase_id: Option<String>,
    onsite_contact_id: Option<String>,
}

pub async fn create(
    State(state): State<AppState>,
    auth: Authorized<WorkOrderCreate>,
    key: IdempotencyKey,
    body: ApiJson<CreateWorkOrder>,
) -> ApiResult<Response> {
    let r = &body.value;
    let cfg = &state.config;
    let mut v = Validator::new();
    let incident_id = r
        .incident_id
        .as_deref()
        .filter(|i| !i.is_empty())
        .and_then(|i| v.check("incidentId", Id::parse(essp_domain::id::prefix::INCIDENT, i)));
    let device_id = r
        .device_id
        .as_deref()
        .and_then(|d| v.check("deviceId", required_text(Some(d), 64)));
    let task_type = v.check(
        "taskType",
        required_text(r.task_type.as_deref(), 64).and_then(|t| parse_task_type(&t)),
    );
    let location = r.repair_location.as_deref().unwrap_or(&cfg.default_repair_location);
    let repair_location = v.check(
        "repairLocation",
        parse_repair_location(location, &cfg.default_repair_location),
    );
    let cost = r.cost_estimate_cents.unwrap_or(0);
    if cost < 0 {
        v.push("costEstimateCents", "must not be negative");
    }
    let notes = v
        .check("notes", optional_text(r.notes.as_deref(), 5000))
        .unwrap_or_default();
    let refs = [
        reference(&mut v, "serviceShopId", r.service_shop_id.as_deref()),
        reference(&mut v, "assignedStaffId", r.assigned_staff_id.as_deref()),
        reference(&mut v, "assignedTo", r.assigned_to.as_deref()),
        reference(&mut v, "projectId", r.project_id.as_deref()),
        reference(&mut v, "phaseId", r.phase_id.as_deref()),
        reference(&mut v, "onsiteContactId", r.onsite_contact_id.as_deref()),
    ];
    if r.incident_id.as_deref().unwrap_or("").is_empty() && r.device_id.is_none() {
        v.push(
            "deviceId",
            "is required (or give an incidentId to take the device from)",
        );
    }
    v.finish()?;
    let [
        service_shop_id,
        assigned_staff_id,
        assigned_to,
        project_id,
        phase_id,
        onsite_contact_id,
    ] = refs;
    let scope = auth.scope.clone();

    // The incident must be this school's; its device is the default.
    let incident = match &incident_id {
        Some(id) => {
            Some(
                incidents::get(state.db.as_ref(), &scope, id)
                    .await?
                    .ok_or_else(|| ApiError::Unprocessable {
                        code: "unknown-incident",
                        detail: format!("incident {id} does not exist in this school"),
                    })?,
            )
        }
        None => None,
    };
    let device_id = device_id
        .or_else(|| incident.as_ref().map(|i| i.device_id.clone()))
        .unwrap_or_default();
    let context = match &incident {
        // The incident's copies were taken when it was reported.
        Some(i) => i.context.for_work_order(),
        None => crate::ssot::context::resolve(state.db.as_ref(), &scope, &device_id)
            .await?
            .names
            .for_work_order(),
    };
    let now = essp_domain::now();
    let wo = WorkOrder {
        id: Id::new(PREFIX),
        tenant_id: scope.tenant().to_owned(),
        school_id: scope.school().to_owned(),
        incident_id: incident_id.map(Id::into_string).unwrap_or_default(),
        device_id,
        // A work order with a technician is already assigned.
        status: if assigned_staff_id.is_empty() {
            WorkOrderStatus::Draft
        } else {
            WorkOrderStatus::Assigned
        },
        service_shop_id,
        assigned_staff_id,
        assigned_to,
        repair_location: repair_location.unwrap_or_default(),
        task_type: task_type.unwrap_or_default(),
        cost_estimate_cents: cost,
        notes,
        project_id,
        phase_id,
        onsite_contact_id,
        approval_status: ApprovalStatus::NotRequired,
        rework_count: 0,
        last_rework_at: None,
        last_rework_reason: String::new(),
        created_by: auth.actor.subject.clone(),
        created_at: now,
        updated_at: now,
        version: 1,
        context,
    };
    let hash = idempotency::request_hash("POST /v1/work-orders", &body.raw);
    let actor = auth.actor.clone();
    idempotency::create(
        &state,
        scope.tenant(),
        &key,
        hash,
        "work_orders_created_total",
        move |tx| {
            Box::pin(async move {
                work_orders::insert(tx, &wo).await?;
                record(tx, &actor, "create", None, &wo).await?;
                Created::json(&wo, format!("/v1/work-orders/{}", wo.id), wo.version)
            })
        },
    )
    .await
}

pub async fn get(
    State(state): State<AppState>,
    auth: Authorized<WorkOrderRead>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = wo_id(&id)?;
    let wo = work_orders::get(state.db.as_ref(), &auth.scope, &id)
        .await?
        .ok_or(ApiError::NotFound("work order"))?;
    Ok(params::with_etag(&wo, wo.version))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListParams {
    status: Option<String>,
    device_id: Option<String>,
    incident_id: Option<String>,
    updated_since: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListResponse {
    items: Vec<WorkOrder>,
    next_cursor: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    auth: Authorized<WorkOrderRead>,
    ApiQuery(p): ApiQuery<ListParams>,
) -> ApiResult<Json<ListResponse>> {
    let mut v = Validator::new();
    let filter = WorkOrderFilter {
        status: p
            .status
            .as_deref()
            .and_then(|s| v.check("status", s.parse::<WorkOrderStatus>())),
        device_id: params::filter_text(&p.device_id),
        incident_id: params::filter_text(&p.incident_id),
        updated_since: params::timestamp(&mut v, "updatedSince", p.updated_since.as_deref()),
        cursor: params::cursor(&mut v, p.cursor.as_deref()),
        limit: params::limit(&mut v, p.limit.as_deref()),
    };
    v.finish()?;
    let page = work_orders::list(state.db.as_ref(), &auth.scope, &filter).await?;
    Ok(Json(ListResponse {
        items: page.items,
        next_cursor: page.next_cursor.map(|c| c.encode()),
    }))
}

// ---- one change to one work order ----

/// What a planned change writes besides the work order itself.
struct Planned {
    next: WorkOrder,
    action: &'static str,
    rework: Option<(ReworkCategory, String)>,
}

/// Loads the work order, lets `plan` compute the change, and writes it in
/// one transaction with its audit row, rework history and incident effects.
async fn mutate(
    state: &AppState,
    scope: &Scope,
    actor: &Actor,
    id: &Id,
    expected_version: Option<i64>,
    plan: impl FnOnce(&WorkOrder) -> ApiResult<Planned>,
) -> ApiResult<(WorkOrder, Option<ReworkEntry>)> {
    let current = work_orders::get(state.db.as_ref(), scope, id)
        .await?
        .ok_or(ApiError::NotFound("work order"))?;
    params::check_version(expected_version, current.version, "work order")?;
    let mut planned = plan(&current)?;
    let now = essp_domain::now();
    planned.next.updated_at = now;
    let (scope, actor) = (scope.clone(), actor.clone());
    crate::tx::run(state, move |tx| {
        Box::pin(async move {
            let saved = work_orders::save(tx, &scope, current.version, &planned.next)
                .await?
                .ok_or_else(concurrent_update)?;
            let rework = match planned.rework {
                Some((category, reason)) => {
                    let entry = ReworkEntry {
                        id: Id::new("rw").into_string(),
                        work_order_id: saved.id.to_string(),
                        seq: saved.rework_count,
                        from_status: current.status,
                        to_status: saved.status,
                        category,
                        reason,
                        actor: actor.subject.clone(),
                        created_at: now,
                    };
                    work_orders::insert_rework(tx, &scope, &entry).await?;
                    Some(entry)
                }
                None => None,
            };
            record(tx, &actor, planned.action, Some(&current), &saved).await?;
            follow_on_incident(tx, &scope, &actor, &current, &saved).await?;
            Ok((saved, rework))
        })
    })
    .await
}

/// Keeps the incident in step with its work: repair starting moves it to
/// in progress; approving its last open work order resolves it. Each step
/// follows the incident's state machine and is audited; a resolved or
/// closed incident is never reopened automatically.
async fn follow_on_incident(
    tx: &dyn Executor,
    scope: &Scope,
    actor: &Actor,
    before: &WorkOrder,
    after: &WorkOrder,
) -> ApiResult<()> {
    if after.incident_id.is_empty() || before.status == after.status {
        return Ok(());
    }
    let target = match after.status {
        WorkOrderStatus::InRepair => IncidentStatus::InProgress,
        WorkOrderStatus::Approved if work_orders::open_for_incident(tx, scope, &after.incident_id).await? == 0 => {
            IncidentStatus::Resolved
        }
        _ => return Ok(()),
    };
    let Ok(incident_id) = Id::parse(essp_domain::id::prefix::INCIDENT, &after.incident_id) else {
        return Ok(());
    };
    let Some(mut incident) = incidents::get(tx, scope, &incident_id).await? else {
        return Ok(());
    };
    // Walk the incident's own state machine, one audited step at a time.
    let Some(path) = incident.status.path_to(target) else {
        return Ok(());
    };
    let reason = format!("work order {} {}", after.id, after.status);
    for step in path {
        let change = plan_transition(&incident, step, &reason, after.updated_at)
            .map_err(|e| ApiError::Internal(format!("incident path step refused: {e}")))?;
        let updated = incidents::apply_status(tx, scope, &incident_id, incident.version, &change, after.updated_at)
            .await?
            .ok_or_else(|| ApiError::conflict("concurrent-update", "the incident changed meanwhile; retry"))?;
        let subject = Subject {
            tenant: &updated.tenant_id,
            school: &updated.school_id,
            entity_type: "incident",
            entity_id: updated.id.as_str(),
        };
        recording::record(
            tx,
            actor,
            subject,
            "status_change",
            Some(&incident),
            Some(&updated),
            updated.updated_at,
        )
        .await?;
        incident = updated;
    }
    Ok(())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StatusRequest {
    status: Option<String>,
}

fn parse_status(v: &mut Validator, field: &str, raw: Option<&str>) -> Option<WorkOrderStatus> {
    v.check(field, required_text(raw, 32).and_then(|s| s.parse::<WorkOrderStatus>()))
}

fn forward(current: &WorkOrder, to: WorkOrderStatus, bulk: bool) -> ApiResult<Planned> {
    check_forward(current.status, to, bulk).map_err(domain_error)?;
    let mut next = current.clone();
    next.status = to;
    if to == WorkOrderStatus::Approved && current.approval_status == ApprovalStatus::Pending {
        next.approval_status = ApprovalStatus::Approved;
    }
    Ok(Planned {
        next,
        action: "status_change",
        rework: None,
    })
}

pub async fn change_status(
    State(state): State<AppState>,
    auth: Authorized<WorkOrderUpdate>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: ApiJson<StatusRequest>,
) -> ApiResult<Response> {
    let id = wo_id(&id)?;
    let expected = params::if_match(&headers)?;
    let mut v = Validator::new();
    let to = parse_status(&mut v, "status", body.value.status.as_deref());
    v.finish()?;
    let to = to.ok_or_else(|| ApiError::Internal("validated status missing".into()))?;
    let (wo, _) = mutate(&state, &auth.scope, &auth.actor, &id, expected, |c| {
        forward(c, to, false)
    })
    .await?;
    Ok(params::with_etag(&wo, wo.version))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EditRequest {
    service_shop_id: Option<String>,
    assigned_staff_id: Option<String>,
    assigned_to: Option<String>,
    repair_location: Option<String>,
    cost_estimate_cents: Option<i64>,
    notes: Option<String>,
    onsite_contact_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EditResponse {
    work_order: WorkOrder,
    updated_fields: Vec<&'static str>,
    previous_values: Map<String, Value>,
}

/// `PATCH /v1/work-orders/{id}`: partial edit; reports which fields changed
/// and what they were.
pub async fn edit(
    State(state): State<AppState>,
    auth: Authorized<WorkOrderUpdate>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: ApiJson<EditRequest>,
) -> ApiResult<Json<EditResponse>> {
    let id = wo_id(&id)?;
    let expected = params::if_match(&headers)?;
    let r = &body.value;
    let depot = &state.config.default_repair_location;
    let mut v = Validator::new();
    let shop = r
        .service_shop_id
        .as_deref()
        .map(|s| reference(&mut v, "serviceShopId", Some(s)));
    let staff = r
        .assigned_staff_id
        .as_deref()
        .map(|s| reference(&mut v, "assignedStaffId", Some(s)));
    let assignee = r
        .assigned_to
        .as_deref()
        .map(|s| reference(&mut v, "assignedTo", Some(s)));
    let contact = r
        .onsite_contact_id
        .as_deref()
        .map(|s| reference(&mut v, "onsiteContactId", Some(s)));
    let location = r
        .repair_location
        .as_deref()
        .and_then(|l| v.check("repairLocation", parse_repair_location(l, depot)));
    let notes = r
        .notes
        .as_deref()
        .and_then(|n| v.check("notes", optional_text(Some(n), 5000)));
    if r.cost_estimate_cents.is_some_and(|c| c < 0) {
        v.push("costEstimateCents", "must not be negative");
    }
    let given = [
        &r.service_shop_id,
        &r.assigned_staff_id,
        &r.assigned_to,
        &r.repair_location,
        &r.notes,
        &r.onsite_contact_id,
    ];
    if given.iter().all(|f| f.is_none()) && r.cost_estimate_cents.is_none() {
        v.push("body", "name at least one field to change");
    }
    v.finish()?;
    let cost = r.cost_estimate_cents;
    let mut updated_fields = Vec::new();
    let mut previous_values = Map::new();
    let (wo, _) = mutate(&state, &auth.scope, &auth.actor, &id, expected, |c| {
        let mut next = c.clone();
        let mut set = |name: &'static str, field: &mut String, value: Option<String>| {
            if let Some(value) = value
                && *field != value
            {
                previous_values.insert(name.into(), json!(field));
                updated_fields.push(name);
                *field = value;
            }
        };
        set("serviceShopId", &mut next.service_shop_id, shop);
        set("assignedStaffId", &mut next.assigned_staff_id, staff);
        set("assignedTo", &mut next.assigned_to, assignee);
        set("onsiteContactId", &mut next.onsite_contact_id, contact);
        set("repairLocation", &mut next.repair_location, location);
        set("notes", &mut next.notes, notes);
        if let Some(cost) = cost
            && cost != next.cost_estimate_cents
        {
            previous_values.insert("costEstimateCents".into(), json!(next.cost_estimate_cents));
            updated_fields.push("costEstimateCents");
            next.cost_estimate_cents = cost;
        }
        Ok(Planned {
            next,
            action: "update",
            rework: None,
        })
    })
    .await?;
    Ok(Json(EditResponse {
        work_order: wo,
        updated_fields,
        previous_values,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RejectRequest {
    target_status: Option<String>,
    reason: Option<String>,
    category: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RejectResponse {
    work_order: WorkOrder,
    rework_history: Option<ReworkEntry>,
}

fn rework(
    current: &WorkOrder,
    to: WorkOrderStatus,
    reason: &str,
    category: ReworkCategory,
    max: i64,
) -> ApiResult<Planned> {
    check_rework(current, to, reason, max).map_err(domain_error)?;
    let mut next = current.clone();
    next.status = to;
    next.rework_count += 1;
    next.last_rework_at = Some(essp_domain::now());
    next.last_rework_reason = reason.trim().to_owned();
    if current.status == WorkOrderStatus::Approved && current.approval_status == ApprovalStatus::Approved {
        next.approval_status = ApprovalStatus::Rejected;
    }
    Ok(Planned {
        next,
        action: "rework",
        rework: Some((category, reason.trim().to_owned())),
    })
}

/// `POST /v1/work-orders/{id}/reject`: send back for rework.
pub async fn reject(
    State(state): State<AppState>,
    auth: Authorized<WorkOrderReview>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: ApiJson<RejectRequest>,
) -> ApiResult<Json<RejectResponse>> {
    let id = wo_id(&id)?;
    let expected = params::if_match(&headers)?;
    let r = &body.value;
    let mut v = Validator::new();
    let to = parse_status(&mut v, "targetStatus", r.target_status.as_deref());
    let reason = v.check("reason", required_text(r.reason.as_deref(), 1000));
    let category = v.check(
        "category",
        r.category.as_deref().unwrap_or("other").parse::<ReworkCategory>(),
    );
    v.finish()?;
    let (Some(to), Some(reason), Some(category)) = (to, reason, category) else {
        return Err(ApiError::Internal("validated fields missing".into()));
    };
    let max = state.config.max_rework;
    let (wo, entry) = mutate(&state, &auth.scope, &auth.actor, &id, expected, |c| {
        rework(c, to, &reason, category, max)
    })
    .await?;
    Ok(Json(RejectResponse {
        work_order: wo,
        rework_history: entry,
    }))
}

#[derive(Serialize)]
pub struct HistoryResponse {
    history: Vec<ReworkEntry>,
}

pub async fn rework_history(
    State(state): State<AppState>,
    auth: Authorized<WorkOrderRead>,
    Path(id): Path<String>,
) -> ApiResult<Json<HistoryResponse>> {
    let id = wo_id(&id)?;
    work_orders::get(state.db.as_ref(), &auth.scope, &id)
        .await?
        .ok_or(ApiError::NotFound("work order"))?;
    let history = work_orders::rework_history(state.db.as_ref(), &auth.scope, id.as_str()).await?;
    Ok(Json(HistoryResponse { history }))
}

// ---- bulk ----

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkFailure {
    id: String,
    code: String,
    message: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkResult {
    operation_id: String,
    succeeded: Vec<String>,
    failed: Vec<BulkFailure>,
    total_count: usize,
    success_count: usize,
    failure_count: usize,
}

fn bulk_ids(v: &mut Validator, raw: &Option<Vec<String>>) -> Vec<String> {
    let Some(ids) = raw else {
        v.push("workOrderIds", "is required");
        return Vec::new();
    };
    if ids.is_empty() || ids.len() > MAX_BULK {
        v.push("workOrderIds", format!("must hold 1 to {MAX_BULK} ids"));
    }
    let mut seen = std::collections::BTreeSet::new();
    ids.iter().filter(|id| seen.insert(id.as_str())).cloned().collect()
}

/// Applies one planned change per id, each in its own transaction, and
/// reports every id's outcome: one bad id never blocks the rest.
async fn run_bulk(
    state: &AppState,
    scope: &Scope,
    actor: &Actor,
    ids: Vec<String>,
    plan: impl Fn(&WorkOrder) -> ApiResult<Planned>,
) -> BulkResult {
    let mut result = BulkResult {
        operation_id: Id::new("bulk").into_string(),
        succeeded: Vec::new(),
        failed: Vec::new(),
        total_count: ids.len(),
        success_count: 0,
        failure_count: 0,
    };
    for raw in ids {
        let outcome = match wo_id(&raw) {
            Ok(id) => mutate(state, scope, actor, &id, None, &plan).await.map(|_| ()),
            Err(e) => Err(e),
        };
        match outcome {
            Ok(()) => result.succeeded.push(raw),
            Err(e) => {
                let code = match &e {
                    ApiError::BadRequest { code, .. } | ApiError::Conflict { code, .. } => code.to_string(),
                    ApiError::NotFound(_) => "not-found".into(),
                    ApiError::Validation(_) => "validation-failed".into(),
                    ApiError::Internal(_) | ApiError::Unavailable => "internal".into(),
                    other => other.status().as_u16().to_string(),
                };
                let message = match &e {
                    ApiError::Internal(_) => "failed; see server logs".to_owned(),
                    other => other.to_string(),
                };
                result.failed.push(BulkFailure { id: raw, code, message });
            }
        }
    }
    result.success_count = result.succeeded.len();
    result.failure_count = result.failed.len();
    result
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BulkStatusRequest {
    work_order_ids: Option<Vec<String>>,
    status: Option<String>,
}

pub async fn bulk_status(
    State(state): State<AppState>,
    auth: Authorized<WorkOrderUpdate>,
    body: ApiJson<BulkStatusRequest>,
) -> ApiResult<Json<BulkResult>> {
    let mut v = Validator::new();
    let ids = bulk_ids(&mut v, &body.value.work_order_ids);
    let to = parse_status(&mut v, "status", body.value.status.as_deref());
    v.finish()?;
    let to = to.ok_or_else(|| ApiError::Internal("validated status missing".into()))?;
    Ok(Json(
        run_bulk(&state, &auth.scope, &auth.actor, ids, |c| forward(c, to, true)).await,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BulkAssignmentRequest {
    work_order_ids: Option<Vec<String>>,
    assigned_staff_id: Option<String>,
    service_shop_id: Option<String>,
}

pub async fn bulk_assignment(
    State(state): State<AppState>,
    auth: Authorized<WorkOrderUpdate>,
    body: ApiJson<BulkAssignmentRequest>,
) -> ApiResult<Json<BulkResult>> {
    let r = &body.value;
    let mut v = Validator::new();
    let ids = bulk_ids(&mut v, &r.work_order_ids);
    let staff = r
        .assigned_staff_id
        .as_deref()
        .map(|s| reference(&mut v, "assignedStaffId", Some(s)));
    let shop = r
        .service_shop_id
        .as_deref()
        .map(|s| reference(&mut v, "serviceShopId", Some(s)));
    if staff.is_none() && shop.is_none() {
        v.push("body", "give assignedStaffId and/or serviceShopId");
    }
    v.finish()?;
    Ok(Json(
        run_bulk(&state, &auth.scope, &auth.actor, ids, |c| {
            let mut next = c.clone();
            if let Some(s) = &staff {
                next.assigned_staff_id = s.clone();
                // Giving a draft a technician assigns it.
                if !s.is_empty() && next.status == WorkOrderStatus::Draft {
                    next.status = WorkOrderStatus::Assigned;
                }
            }
            if let Some(s) = &shop {
                next.service_shop_id = s.clone();
            }
            Ok(Planned {
                next,
                action: "assignment",
                rework: None,
            })
        })
        .await,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BulkApprovalRequest {
    work_order_ids: Option<Vec<String>>,
    decision: Option<String>,
    notes: Option<String>,
}

/// Approves completed work orders, or rejects them back to QA (counted as
/// rework, with the notes as the reason).
pub async fn bulk_approval(
    State(state): State<AppState>,
    auth: Authorized<WorkOrderApproval>,
    body: ApiJson<BulkApprovalRequest>,
) -> ApiResult<Json<BulkResult>> {
    let r = &body.value;
    let mut v = Validator::new();
    let ids = bulk_ids(&mut v, &r.work_order_ids);
    let approve = v.check(
        "decision",
        match r.decision.as_deref() {
            Some("approved") => Ok(true),
            Some("rejected") => Ok(false),
            _ => Err("must be approved or rejected"),
        },
    );
    let notes = v
        .check("notes", optional_text(r.notes.as_deref(), 1000))
        .unwrap_or_default();
    if approve == Some(false) && notes.is_empty() {
        v.push("notes", "a rejection needs notes saying why");
    }
    v.finish()?;
    let approve = approve.unwrap_or(false);
    let max = state.config.max_rework;
    Ok(Json(
        run_bulk(&state, &auth.scope, &auth.actor, ids, |c| {
            if c.status != WorkOrderStatus::Completed {
                return Err(ApiError::conflict(
                    "not-completed",
                    format!("work order is {}, not completed", c.status),
                ));
            }
            if approve {
                let mut planned = forward(c, WorkOrderStatus::Approved, true)?;
                planned.next.approval_status = ApprovalStatus::Approved;
                planned.action = "approval";
                Ok(planned)
            } else {
                let mut planned = rework(c, WorkOrderStatus::Qa, &notes, ReworkCategory::Other, max)?;
                planned.next.approval_status = ApprovalStatus::Rejected;
                Ok(planned)
            }
        })
        .await,
    ))
}

/// Auto-routing (`AUTO_ROUTE_WORK_ORDERS`): a new incident at a school the
/// SSOT places in a county gets a triage work order at the shop covering
/// it — sub-county shop, else county shop, else none — assigned to that
/// shop's lead technician when it has one. Audited like any creation.
pub(crate) struct Route {
    county_code: String,
    sub_county_code: String,
    repair_location: String,
    context: essp_domain::context::SsotContext,
}

impl Route {
    pub(crate) fn for_incident(state: &AppState, ssot: &essp_store::ssot_snapshot::Context) -> Option<Route> {
        (state.config.auto_route && !ssot.county_code.is_empty()).then(|| Route {
            county_code: ssot.county_code.clone(),
            sub_county_code: ssot.sub_county_code.clone(),
            repair_location: state.config.default_repair_location.clone(),
            context: ssot.names.for_work_order(),
        })
    }

    /// In the incident's transaction; `None` when no shop covers the school.
    pub(crate) async fn open_work_order(
        &self,
        tx: &dyn Executor,
        actor: &Actor,
        incident: &essp_domain::incident::Incident,
    ) -> ApiResult<Option<WorkOrder>> {
        let Some((shop, lead)) =
            essp_store::shops::route(tx, &incident.tenant_id, &self.county_code, &self.sub_county_code).await?
        else {
            return Ok(None);
        };
        let (staff, user) = lead.unwrap_or_default();
        let wo = WorkOrder {
            id: Id::new(PREFIX),
            tenant_id: incident.tenant_id.clone(),
            school_id: incident.school_id.clone(),
            incident_id: incident.id.to_string(),
            device_id: incident.device_id.clone(),
            status: if staff.is_empty() {
                WorkOrderStatus::Draft
            } else {
                WorkOrderStatus::Assigned
            },
            service_shop_id: shop,
            assigned_staff_id: staff,
            assigned_to: user,
            repair_location: self.repair_location.clone(),
            task_type: "triage".into(),
            cost_estimate_cents: 0,
            notes: format!("Auto-created from incident {}", incident.id),
            project_id: String::new(),
            phase_id: String::new(),
            onsite_contact_id: String::new(),
            approval_status: ApprovalStatus::NotRequired,
            rework_count: 0,
            last_rework_at: None,
            last_rework_reason: String::new(),
            created_by: actor.subject.clone(),
            created_at: incident.created_at,
            updated_at: incident.created_at,
            version: 1,
            context: self.context.clone(),
        };
        work_orders::insert(tx, &wo).await?;
        record(tx, actor, "auto_route", None, &wo).await?;
        metrics::counter!("work_orders_auto_routed_total").increment(1);
        Ok(Some(wo))
    }
}
