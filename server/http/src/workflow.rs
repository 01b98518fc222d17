//! Work order schedules, deliverables and approvals
//! (`/v1/work-orders/{id}/…`). Every child is checked against the work order
//! in the path; every write is audited in its transaction.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use essp_domain::error::{Validator, optional_text, required_text};
use essp_domain::work_order::{ApprovalStatus, WorkOrder};
use essp_domain::workflow::{
    self as rules, Approval, ApprovalDecision, ApprovalType, Deliverable, DeliverableStatus, Schedule, WorkflowError,
};
use essp_domain::{Id, Scope};
use essp_store::workflow::{self as store, ChildFilter};
use essp_store::{Executor, work_orders};
use serde::Deserialize;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{IntoParams, ToSchema};

use crate::auth::permissions::{
    WorkOrderApproval, WorkOrderDeliverable, WorkOrderRead, WorkOrderReview, WorkOrderSchedule,
};
use crate::auth::{Actor, Authorized};
use crate::extract::{ApiJson, ApiQuery};
use crate::idempotency::{self, Created, IdempotencyKey};
use crate::openapi;
use crate::openapi::{BLANK, Listing, id_pattern, or_null, string_matching};
use crate::params;
use crate::problem::{ApiError, ApiResult};
use crate::recording::{self, Subject};
use crate::state::AppState;
use crate::work_orders::{WorkOrderPath, decision_schema};

/// The operations of this module, for `/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        create_schedule,
        list_schedules,
        create_deliverable,
        list_deliverables,
        submit_deliverable,
        review_deliverable,
        request_approval,
        list_approvals,
        decide_approval
    ),
    tags((name = "workflow", description = "Visit schedules, deliverables with evidence and review, and sign-off approvals of a work order."))
)]
pub struct Doc;

/// `{deliverable_id}` (with the work order's `{id}`).
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // documents the path; handlers take `Path<(String, String)>`
pub struct DeliverablePath {
    #[param(pattern = "^deliv_[0-9A-HJKMNP-TV-Z]{26}$")]
    deliverable_id: String,
}

/// `{approval_id}` (with the work order's `{id}`).
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct ApprovalPath {
    #[param(pattern = "^appr_[0-9A-HJKMNP-TV-Z]{26}$")]
    approval_id: String,
}

async fn load_wo(state: &AppState, scope: &Scope, raw: &str) -> ApiResult<WorkOrder> {
    let id = params::id("wo", "work order", raw)?;
    work_orders::get(state.db.as_ref(), scope, &id)
        .await?
        .ok_or(ApiError::NotFound("work order"))
}

fn rule_error(e: WorkflowError) -> ApiError {
    match e {
        WorkflowError::EndBeforeStart => ApiError::field("scheduledEnd", e.to_string()),
        WorkflowError::NotADecision => ApiError::field("status", e.to_string()),
        _ => ApiError::conflict("invalid-transition", e.to_string()),
    }
}

fn subject<'a>(scope: &'a Scope, entity_type: &'a str, id: &'a Id) -> Subject<'a> {
    Subject {
        tenant: scope.tenant(),
        school: scope.school(),
        entity_type,
        entity_id: id.as_str(),
    }
}

/// A page of schedules.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    #[param(schema_with = openapi::cursor)]
    cursor: Option<String>,
    #[param(schema_with = openapi::limit)]
    limit: Option<String>,
}

/// A page of deliverables, optionally of one status.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliverableParams {
    #[param(value_type = Option<DeliverableStatus>)]
    status: Option<String>,
    #[param(schema_with = openapi::cursor)]
    cursor: Option<String>,
    #[param(schema_with = openapi::limit)]
    limit: Option<String>,
}

fn child_filter(status: Option<&str>, cursor: Option<&str>, limit: Option<&str>) -> ApiResult<ChildFilter> {
    let mut v = Validator::new();
    let f = ChildFilter {
        status: status.and_then(|s| v.check("status", s.parse::<DeliverableStatus>())),
        cursor: params::cursor(&mut v, cursor),
        limit: params::limit(&mut v, limit),
    };
    v.finish()?;
    Ok(f)
}

/// The `status` of a review or an approval decision (`decision_schema`).
fn decision<T: std::str::FromStr<Err = String>>(raw: Option<&str>) -> Result<T, String> {
    match raw {
        None => Err("is required".into()),
        Some(s @ ("approved" | "rejected")) => s.parse(),
        Some(_) => Err("must be approved or rejected".into()),
    }
}

// ---- schedules ----

/// A visit slot; it may not end before it starts.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScheduleBody {
    #[schema(schema_with = openapi::timestamp, required = true)]
    scheduled_start: Option<String>,
    /// Later than `scheduledStart`.
    #[schema(schema_with = openapi::timestamp, required = true)]
    scheduled_end: Option<String>,
    /// An IANA zone; defaults to `Africa/Nairobi`.
    #[schema(schema_with = timezone_schema)]
    timezone: Option<String>,
    #[schema(schema_with = openapi::text::<2000>)]
    notes: Option<String>,
}

/// What `parse_timezone` accepts; `null` reads as absent.
fn timezone_schema() -> Schema {
    or_null(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(64))
            .pattern(Some("^(UTC|[A-Za-z0-9/_+-]*/[A-Za-z0-9/_+-]*)$"))
            .into(),
    )
}

/// `POST /v1/work-orders/{id}/schedule`: add a visit slot (append-only).
/// Refused with 403 while `ENABLE_WORK_ORDER_SCHEDULING` is off.
#[utoipa::path(post, path = "/v1/work-orders/{id}/schedule", tag = "workflow",
    params(WorkOrderPath, openapi::IdempotencyKey),
    request_body = ScheduleBody,
    responses((status = 201, description = "Scheduled", body = Schedule, headers(("Location" = String), ("ETag" = String)))))]
pub async fn create_schedule(
    State(state): State<AppState>,
    auth: Authorized<WorkOrderSchedule>,
    Path(id): Path<String>,
    key: IdempotencyKey,
    body: ApiJson<ScheduleBody>,
) -> ApiResult<Response> {
    if !state.config.scheduling_enabled {
        return Err(ApiError::Forbidden(
            "work order scheduling is disabled (ENABLE_WORK_ORDER_SCHEDULING)".into(),
        ));
    }
    let b = &body.value;
    let mut v = Validator::new();
    let start = params::timestamp(&mut v, "scheduledStart", b.scheduled_start.as_deref());
    let end = params::timestamp(&mut v, "scheduledEnd", b.scheduled_end.as_deref());
    for (field, given) in [
        ("scheduledStart", &b.scheduled_start),
        ("scheduledEnd", &b.scheduled_end),
    ] {
        if given.is_none() {
            v.push(field, "is required");
        }
    }
    let timezone = v.check(
        "timezone",
        rules::parse_timezone(b.timezone.as_deref().unwrap_or("Africa/Nairobi")),
    );
    let notes = v
        .check("notes", optional_text(b.notes.as_deref(), 2000))
        .unwrap_or_default();
    v.finish()?;
    let (Some(start), Some(end), Some(timezone)) = (start, end, timezone) else {
        return Err(ApiError::Internal("validated fields missing".into()));
    };
    rules::check_slot(start, end).map_err(rule_error)?;
    let wo = load_wo(&state, &auth.scope, &id).await?;
    let now = essp_domain::now();
    let schedule = Schedule {
        id: Id::new("sched"),
        tenant_id: wo.tenant_id.clone(),
        school_id: wo.school_id.clone(),
        work_order_id: wo.id.to_string(),
        scheduled_start: start,
        scheduled_end: end,
        timezone,
        notes,
        created_by: auth.actor.subject.clone(),
        created_at: now,
    };
    let hash = idempotency::request_hash(&format!("POST /v1/work-orders/{}/schedule", wo.id), &body.raw);
    let (actor, scope) = (auth.actor.clone(), auth.scope.clone());
    idempotency::create(
        &state,
        auth.scope.tenant(),
        &key,
        hash,
        "work_order_schedules_created_total",
        move |tx| {
            Box::pin(async move {
                store::insert_schedule(tx, &schedule).await?;
                recording::record(
                    tx,
                    &actor,
                    subject(&scope, "work_order_schedule", &schedule.id),
                    "create",
                    None,
                    Some(&schedule),
                    now,
                )
                .await?;
                let location = format!("/v1/work-orders/{}/schedules", schedule.work_order_id);
                Created::json(&schedule, location, 1)
            })
        },
    )
    .await
}

#[utoipa::path(get, path = "/v1/work-orders/{id}/schedules", tag = "workflow",
    params(WorkOrderPath, PageParams),
    responses((status = 200, description = "A page of the work order's visit slots", body = Listing<Schedule>)))]
pub async fn list_schedules(
    State(state): State<AppState>,
    auth: Authorized<WorkOrderRead>,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<PageParams>,
) -> ApiResult<Json<Listing<Schedule>>> {
    let f = child_filter(None, p.cursor.as_deref(), p.limit.as_deref())?;
    let wo = load_wo(&state, &auth.scope, &id).await?;
    let page = store::list_schedules(state.db.as_ref(), &auth.scope, wo.id.as_str(), &f).await?;
    Ok(Json(page.into()))
}

// ---- deliverables ----

/// Something the work order must deliver, with evidence.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeliverableBody {
    #[schema(schema_with = openapi::required_text::<200>, required = true)]
    title: Option<String>,
    #[schema(schema_with = openapi::text::<5000>)]
    description: Option<String>,
    /// A project phase; defaults to the work order's.
    #[schema(schema_with = phase_ref_schema)]
    phase_id: Option<String>,
}

/// A phase id or empty.
fn phase_ref_schema() -> Schema {
    or_null(string_matching(format!("^({})?$", id_pattern("phase"))))
}

#[utoipa::path(post, path = "/v1/work-orders/{id}/deliverables", tag = "workflow",
    params(WorkOrderPath, openapi::IdempotencyKey),
    request_body = DeliverableBody,
    responses((status = 201, description = "Added, pending", body = Deliverable, headers(("Location" = String), ("ETag" = String)))))]
pub async fn create_deliverable(
    State(state): State<AppState>,
    auth: Authorized<WorkOrderDeliverable>,
    Path(id): Path<String>,
    key: IdempotencyKey,
    body: ApiJson<DeliverableBody>,
) -> ApiResult<Response> {
    let b = &body.value;
    let mut v = Validator::new();
    let title = v.check("title", required_text(b.title.as_deref(), 200));
    let description = v
        .check("description", optional_text(b.description.as_deref(), 5000))
        .unwrap_or_default();
    let phase_id = b
        .phase_id
        .as_deref()
        .filter(|p| !p.is_empty())
        .and_then(|p| v.check("phaseId", Id::parse("phase", p)))
        .map(Id::into_string)
        .unwrap_or_default();
    v.finish()?;
    let wo = load_wo(&state, &auth.scope, &id).await?;
    let now = essp_domain::now();
    let d = Deliverable {
        id: Id::new("deliv"),
        tenant_id: wo.tenant_id.clone(),
        school_id: wo.school_id.clone(),
        work_order_id: wo.id.to_string(),
        phase_id: if phase_id.is_empty() {
            wo.phase_id.clone()
        } else {
            phase_id
        },
        title: title.unwrap_or_default(),
        description,
        status: DeliverableStatus::Pending,
        evidence_attachment_id: String::new(),
        submitted_by: String::new(),
        submitted_at: None,
        submission_notes: String::new(),
        reviewed_by: String::new(),
        reviewed_at: None,
        review_notes: String::new(),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let hash = idempotency::request_hash(&format!("POST /v1/work-orders/{}/deliverables", wo.id), &body.raw);
    let (actor, scope) = (auth.actor.clone(), auth.scope.clone());
    idempotency::create(
        &state,
        auth.scope.tenant(),
        &key,
        hash,
        "deliverables_created_total",
        move |tx| {
            Box::pin(async move {
                store::insert_deliverable(tx, &d).await?;
                recording::record(
                    tx,
                    &actor,
                    subject(&scope, "deliverable", &d.id),
                    "create",
                    None,
                    Some(&d),
                    now,
                )
                .await?;
                Created::json(
                    &d,
                    format!("/v1/work-orders/{}/deliverables", d.work_order_id),
                    d.version,
                )
            })
        },
    )
    .await
}

#[utoipa::path(get, path = "/v1/work-orders/{id}/deliverables", tag = "workflow",
    params(WorkOrderPath, DeliverableParams),
    responses((status = 200, description = "A page of the work order's deliverables", body = Listing<Deliverable>)))]
pub async fn list_deliverables(
    State(state): State<AppState>,
    auth: Authorized<WorkOrderRead>,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<DeliverableParams>,
) -> ApiResult<Json<Listing<Deliverable>>> {
    let f = child_filter(p.status.as_deref(), p.cursor.as_deref(), p.limit.as_deref())?;
    let wo = load_wo(&state, &auth.scope, &id).await?;
    let page = store::list_deliverables(state.db.as_ref(), &auth.scope, wo.id.as_str(), &f).await?;
    Ok(Json(page.into()))
}

/// Loads the deliverable of the work order in the path, plans the change
/// and saves it (compare-and-set) with its audit row.
async fn change_deliverable(
    state: &AppState,
    scope: &Scope,
    actor: &Actor,
    (wo_raw, raw): (&str, &str),
    action: &'static str,
    plan: impl FnOnce(&Deliverable) -> Result<Deliverable, WorkflowError>,
) -> ApiResult<Json<Deliverable>> {
    let wo = load_wo(state, scope, wo_raw).await?;
    let id = params::id("deliv", "deliverable", raw)?;
    let current = store::get_deliverable(state.db.as_ref(), scope, wo.id.as_str(), id.as_str())
        .await?
        .ok_or(ApiError::NotFound("deliverable"))?;
    let next = plan(&current).map_err(rule_error)?;
    let (scope, actor) = (scope.clone(), actor.clone());
    let saved = crate::tx::run(state, move |tx| {
        Box::pin(async move {
            let saved = store::save_deliverable(tx, &scope, current.version, &next)
                .await?
                .ok_or_else(|| ApiError::conflict("concurrent-update", "the deliverable changed meanwhile; reload"))?;
            recording::record(
                tx,
                &actor,
                subject(&scope, "deliverable", &saved.id),
                action,
                Some(&current),
                Some(&saved),
                saved.updated_at,
            )
            .await?;
            Ok(saved)
        })
    })
    .await?;
    Ok(Json(saved))
}

/// The evidence for a pending (or rejected) deliverable.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SubmitBody {
    /// An attachment id (`att_…`).
    #[schema(schema_with = evidence_schema, required = true)]
    evidence_attachment_id: Option<String>,
    #[schema(schema_with = openapi::text::<2000>)]
    notes: Option<String>,
}

/// An attachment id; surrounding whitespace is trimmed.
fn evidence_schema() -> Schema {
    string_matching(format!("^[{BLANK}]*{}[{BLANK}]*$", id_pattern("att")))
}

#[utoipa::path(patch, path = "/v1/work-orders/{id}/deliverables/{deliverable_id}/submit", tag = "workflow",
    params(WorkOrderPath, DeliverablePath),
    request_body = SubmitBody,
    responses((status = 200, description = "Submitted", body = Deliverable)))]
pub async fn submit_deliverable(
    State(state): State<AppState>,
    auth: Authorized<WorkOrderDeliverable>,
    Path((wo, id)): Path<(String, String)>,
    body: ApiJson<SubmitBody>,
) -> ApiResult<Json<Deliverable>> {
    let b = &body.value;
    let mut v = Validator::new();
    let evidence = v.check(
        "evidenceAttachmentId",
        required_text(b.evidence_attachment_id.as_deref(), 64)
            .and_then(|e| Id::parse("att", &e).map_err(|e| e.to_string())),
    );
    let notes = v
        .check("notes", optional_text(b.notes.as_deref(), 2000))
        .unwrap_or_default();
    v.finish()?;
    let evidence = evidence.map(Id::into_string).unwrap_or_default();
    let who = auth.actor.subject.clone();
    change_deliverable(&state, &auth.scope, &auth.actor, (&wo, &id), "submit", |d| {
        rules::submit(d, evidence, notes, &who, essp_domain::now())
    })
    .await
}

/// The decision on a submitted deliverable.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = DeliverableReview)]
pub struct ReviewBody {
    #[schema(schema_with = decision_schema, required = true)]
    status: Option<String>,
    #[schema(schema_with = openapi::text::<2000>)]
    notes: Option<String>,
}

#[utoipa::path(patch, path = "/v1/work-orders/{id}/deliverables/{deliverable_id}/review", tag = "workflow",
    params(WorkOrderPath, DeliverablePath),
    request_body = ReviewBody,
    responses((status = 200, description = "Reviewed", body = Deliverable)))]
pub async fn review_deliverable(
    State(state): State<AppState>,
    auth: Authorized<WorkOrderReview>,
    Path((wo, id)): Path<(String, String)>,
    body: ApiJson<ReviewBody>,
) -> ApiResult<Json<Deliverable>> {
    let b = &body.value;
    let mut v = Validator::new();
    let decision = v.check("status", decision::<DeliverableStatus>(b.status.as_deref()));
    let notes = v
        .check("notes", optional_text(b.notes.as_deref(), 2000))
        .unwrap_or_default();
    v.finish()?;
    let decision = decision.ok_or_else(|| ApiError::Internal("validated status missing".into()))?;
    let who = auth.actor.subject.clone();
    change_deliverable(&state, &auth.scope, &auth.actor, (&wo, &id), "review", |d| {
        rules::review(d, decision, notes, &who, essp_domain::now())
    })
    .await
}

// ---- approvals ----

/// A sign-off to ask for; the work order's approval status becomes `pending`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = ApprovalRequest)]
pub struct ApprovalBody {
    /// Defaults to `school_signoff`.
    #[schema(value_type = Option<ApprovalType>)]
    approval_type: Option<String>,
}

/// Sets the work order's sign-off state alongside an approval change.
async fn set_wo_approval(
    tx: &dyn Executor,
    scope: &Scope,
    actor: &Actor,
    wo: &WorkOrder,
    status: ApprovalStatus,
) -> ApiResult<()> {
    let mut next = wo.clone();
    next.approval_status = status;
    next.updated_at = essp_domain::now();
    let saved = work_orders::save(tx, scope, wo.version, &next)
        .await?
        .ok_or_else(|| ApiError::conflict("concurrent-update", "the work order changed meanwhile; retry"))?;
    let subj = Subject::in_scope(scope, "work_order", saved.id.as_str());
    recording::record(
        tx,
        actor,
        subj,
        "approval_status",
        Some(wo),
        Some(&saved),
        saved.updated_at,
    )
    .await
}

#[utoipa::path(post, path = "/v1/work-orders/{id}/approvals", tag = "workflow",
    params(WorkOrderPath, openapi::IdempotencyKey),
    request_body = ApprovalBody,
    responses((status = 201, description = "Requested", body = Approval, headers(("Location" = String), ("ETag" = String)))))]
pub async fn request_approval(
    State(state): State<AppState>,
    auth: Authorized<WorkOrderApproval>,
    Path(id): Path<String>,
    key: IdempotencyKey,
    body: ApiJson<ApprovalBody>,
) -> ApiResult<Response> {
    let mut v = Validator::new();
    let kind = v.check(
        "approvalType",
        body.value
            .approval_type
            .as_deref()
            .unwrap_or("school_signoff")
            .parse::<ApprovalType>(),
    );
    v.finish()?;
    let wo = load_wo(&state, &auth.scope, &id).await?;
    let now = essp_domain::now();
    let approval = Approval {
        id: Id::new("appr"),
        tenant_id: wo.tenant_id.clone(),
        school_id: wo.school_id.clone(),
        work_order_id: wo.id.to_string(),
        approval_type: kind.unwrap_or(ApprovalType::SchoolSignoff),
        status: ApprovalDecision::Pending,
        requested_by: auth.actor.subject.clone(),
        requested_at: now,
        decided_by: String::new(),
        decided_at: None,
        decision_notes: String::new(),
        version: 1,
    };
    let hash = idempotency::request_hash(&format!("POST /v1/work-orders/{}/approvals", wo.id), &body.raw);
    let (actor, scope) = (auth.actor.clone(), auth.scope.clone());
    idempotency::create(
        &state,
        auth.scope.tenant(),
        &key,
        hash,
        "approvals_requested_total",
        move |tx| {
            Box::pin(async move {
                store::insert_approval(tx, &approval).await?;
                recording::record(
                    tx,
                    &actor,
                    subject(&scope, "approval", &approval.id),
                    "request",
                    None,
                    Some(&approval),
                    now,
                )
                .await?;
                set_wo_approval(tx, &scope, &actor, &wo, ApprovalStatus::Pending).await?;
                Created::json(
                    &approval,
                    format!("/v1/work-orders/{}/approvals", approval.work_order_id),
                    approval.version,
                )
            })
        },
    )
    .await
}

/// Every approval of the work order, newest first (one page).
#[utoipa::path(get, path = "/v1/work-orders/{id}/approvals", tag = "workflow",
    params(WorkOrderPath),
    responses((status = 200, description = "The work order's approvals", body = Listing<Approval>)))]
pub async fn list_approvals(
    State(state): State<AppState>,
    auth: Authorized<WorkOrderRead>,
    Path(id): Path<String>,
) -> ApiResult<Json<Listing<Approval>>> {
    let wo = load_wo(&state, &auth.scope, &id).await?;
    let items = store::list_approvals(state.db.as_ref(), &auth.scope, wo.id.as_str()).await?;
    Ok(Json(Listing {
        items,
        next_cursor: None,
    }))
}

/// The decision on a pending approval; an approval is decided once.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = ApprovalDecisionRequest)]
pub struct DecideBody {
    #[schema(schema_with = decision_schema, required = true)]
    status: Option<String>,
    #[schema(schema_with = openapi::text::<2000>)]
    notes: Option<String>,
}

#[utoipa::path(patch, path = "/v1/work-orders/{id}/approvals/{approval_id}/decide", tag = "workflow",
    params(WorkOrderPath, ApprovalPath),
    request_body = DecideBody,
    responses((status = 200, description = "Decided; the work order's approval status follows", body = Approval)))]
pub async fn decide_approval(
    State(state): State<AppState>,
    auth: Authorized<WorkOrderApproval>,
    Path((wo_raw, id)): Path<(String, String)>,
    body: ApiJson<DecideBody>,
) -> ApiResult<Json<Approval>> {
    let b = &body.value;
    let mut v = Validator::new();
    let decision = v.check("status", decision::<ApprovalDecision>(b.status.as_deref()));
    let notes = v
        .check("notes", optional_text(b.notes.as_deref(), 2000))
        .unwrap_or_default();
    v.finish()?;
    let decision = decision.ok_or_else(|| ApiError::Internal("validated status missing".into()))?;
    let wo = load_wo(&state, &auth.scope, &wo_raw).await?;
    let id = params::id("appr", "approval", &id)?;
    let current = store::get_approval(state.db.as_ref(), &auth.scope, wo.id.as_str(), id.as_str())
        .await?
        .ok_or(ApiError::NotFound("approval"))?;
    let next = rules::decide(&current, decision, notes, &auth.actor.subject, essp_domain::now()).map_err(rule_error)?;
    let (actor, scope) = (auth.actor.clone(), auth.scope.clone());
    let saved = crate::tx::run(&state, move |tx| {
        Box::pin(async move {
            let saved = store::decide_approval(tx, &scope, &next)
                .await?
                .ok_or_else(|| ApiError::conflict("invalid-transition", "this approval was already decided"))?;
            let at = saved.decided_at.unwrap_or(saved.requested_at);
            recording::record(
                tx,
                &actor,
                subject(&scope, "approval", &saved.id),
                "decide",
                Some(&current),
                Some(&saved),
                at,
            )
            .await?;
            let status = if decision == ApprovalDecision::Approved {
                ApprovalStatus::Approved
            } else {
                ApprovalStatus::Rejected
            };
            set_wo_approval(tx, &scope, &actor, &wo, status).await?;
            Ok(saved)
        })
    })
    .await?;
    Ok(Json(saved))
}
