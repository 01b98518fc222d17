//! `/v1/work-orders`: create, read, move forward and edit here; sending
//! back for rework, the bulk operations and auto-routing in submodules.
//! Every change is one transaction: the work order (compare-and-set on its
//! version), its audit row, rework history and any effect on the incident
//! it belongs to.

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
use serde_json::{Map, Number, Value, json};
use utoipa::openapi::schema::{AllOfBuilder, AnyOfBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::{OpenApi as Document, RefOr};
use utoipa::{IntoParams, Modify, ToSchema};

use crate::auth::permissions::{WorkOrderApproval, WorkOrderCreate, WorkOrderRead, WorkOrderReview, WorkOrderUpdate};
use crate::auth::{Actor, Authorized};
use crate::extract::{ApiJson, ApiQuery};
use crate::idempotency::{self, Created, IdempotencyKey};
use crate::openapi;
use crate::openapi::{BLANK, Listing, id_pattern, or_null, string_matching};
use crate::params;
use crate::problem::{ApiError, ApiResult};
use crate::recording::{self, Subject};
use crate::state::AppState;

mod bulk;
mod rework;
mod routing;

pub(crate) use bulk::decision_schema;
pub use bulk::{bulk_approval, bulk_assignment, bulk_status};
pub use rework::{reject, rework_history};
pub(crate) use routing::Route;

/// The operations of this module, for `/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        create,
        get,
        list,
        edit,
        change_status,
        rework::reject,
        rework::rework_history,
        bulk::bulk_status,
        bulk::bulk_assignment,
        bulk::bulk_approval
    ),
    tags((name = "work-orders", description = "Repair jobs for devices: routing, repair, QA, approval and rework.")),
    modifiers(&CrossFieldRules)
)]
pub struct Doc;

// ---- what the document says about the inputs of this module and `workflow` ----

fn nullable_reference() -> Schema {
    or_null(openapi::optional_code_schema())
}

/// What `parse_task_type` accepts, blanks around it trimmed.
fn task_type_schema() -> Schema {
    string_matching(format!("^[{BLANK}]*[a-z0-9_-]{{1,64}}[{BLANK}]*$"))
}

/// `parse_repair_location`: a shop, the school, or the deployment's depot
/// (`DEFAULT_REPAIR_LOCATION`, `service_shop` unless configured).
fn repair_location_schema() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["service_shop", "on_site"]))
        .description(Some(
            "`service_shop`, `on_site`, or the deployment's depot (`DEFAULT_REPAIR_LOCATION`).",
        ))
        .into()
}

/// `{id}` of the work order routes. (A literal pattern: utoipa drops
/// `required` from a parameter given by `schema_with`.)
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // documents the path; handlers take `Path<String>`
pub(crate) struct WorkOrderPath {
    #[param(pattern = "^wo_[0-9A-HJKMNP-TV-Z]{26}$")]
    id: String,
}

/// Makes the schema of `T` also require one of `alternatives`: the rules
/// between fields a derived schema cannot state.
fn require_one_of<T: ToSchema>(doc: &mut Document, alternatives: Vec<Schema>) {
    let name = T::name();
    let Some(schemas) = doc.components.as_mut().map(|c| &mut c.schemas) else {
        return;
    };
    let Some(fields) = schemas.remove(name.as_ref()) else {
        return;
    };
    let any = alternatives
        .into_iter()
        .fold(AnyOfBuilder::new(), |any, alternative| any.item(alternative));
    schemas.insert(
        name.into_owned(),
        RefOr::T(AllOfBuilder::new().item(fields).item(any).into()),
    );
}

/// `{"required": [field], "properties": {field: schema}}`.
fn given(field: &str, schema: Schema) -> Schema {
    ObjectBuilder::new().property(field, schema).required(field).into()
}

struct CrossFieldRules;

impl Modify for CrossFieldRules {
    fn modify(&self, doc: &mut Document) {
        let non_empty = || ObjectBuilder::new().schema_type(Type::String).min_length(Some(1));
        // The device, or an incident to take it from.
        require_one_of::<CreateWorkOrder>(
            doc,
            vec![
                given("deviceId", non_empty().into()),
                given("incidentId", non_empty().into()),
            ],
        );
        require_one_of::<bulk::BulkAssignmentRequest>(
            doc,
            vec![
                given("assignedStaffId", openapi::optional_code_schema()),
                given("serviceShopId", openapi::optional_code_schema()),
            ],
        );
        // A rejection says why.
        require_one_of::<bulk::BulkApprovalRequest>(
            doc,
            vec![
                given(
                    "decision",
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some(["approved"]))
                        .into(),
                ),
                given("notes", openapi::required_text::<1000>()),
            ],
        );
    }
}

const PREFIX: &str = "wo";
/// Largest batch a bulk operation accepts.
pub const MAX_BULK: usize = 100;

fn wo_id(raw: &str) -> ApiResult<Id> {
    params::id(PREFIX, "work order", raw)
}

/// The largest integer a JSON number holds exactly (2^53 - 1).
const MAX_CENTS: i64 = 9_007_199_254_740_991;

/// `costEstimateCents`: a whole number from 0 to [`MAX_CENTS`]. JSON
/// Schema counts `5.0` as an integer, so it reads like `5`.
fn cents(v: &mut Validator, raw: Option<&Number>) -> Option<i64> {
    let n = raw?;
    v.check(
        "costEstimateCents",
        essp_domain::error::whole_number(n)
            .filter(|c| (0..=MAX_CENTS).contains(c))
            .ok_or(format!("must be a whole number from 0 to {MAX_CENTS}")),
    )
}

/// What [`cents`] accepts.
fn cents_schema() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(0))
        .maximum(Some(MAX_CENTS))
        .into()
}

fn nullable_cents() -> Schema {
    or_null(cents_schema())
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

/// A repair job to open: for a device, or for an incident (whose device
/// it takes). With a technician it starts `assigned`, else `draft`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateWorkOrder {
    /// An incident of this school; empty means none.
    #[schema(schema_with = nullable_incident_ref)]
    incident_id: Option<String>,
    /// Required unless `incidentId` is given.
    #[schema(schema_with = nullable_device)]
    device_id: Option<String>,
    #[schema(schema_with = task_type_schema, required = true)]
    task_type: Option<String>,
    #[schema(schema_with = nullable_reference)]
    service_shop_id: Option<String>,
    /// A technician; giving one opens the work order as `assigned`.
    #[schema(schema_with = nullable_reference)]
    assigned_staff_id: Option<String>,
    #[schema(schema_with = nullable_reference)]
    assigned_to: Option<String>,
    /// Defaults to the deployment's depot.
    #[schema(schema_with = nullable_repair_location)]
    repair_location: Option<String>,
    #[schema(schema_with = nullable_cents)]
    cost_estimate_cents: Option<Number>,
    #[schema(schema_with = openapi::text::<5000>)]
    notes: Option<String>,
    #[schema(schema_with = nullable_reference)]
    project_id: Option<String>,
    #[schema(schema_with = nullable_reference)]
    phase_id: Option<String>,
    #[schema(schema_with = nullable_reference)]
    onsite_contact_id: Option<String>,
}

/// An incident id or empty.
fn incident_ref_schema() -> Schema {
    string_matching(format!("^({})?$", id_pattern(essp_domain::id::prefix::INCIDENT)))
}

fn nullable_incident_ref() -> Schema {
    or_null(incident_ref_schema())
}

fn nullable_device() -> Schema {
    or_null(openapi::required_text::<64>())
}

fn nullable_repair_location() -> Schema {
    or_null(repair_location_schema())
}

/// `incidentId` of a body or filter: empty means none.
fn incident_ref(v: &mut Validator, raw: Option<&str>) -> Option<Id> {
    raw.filter(|i| !i.is_empty())
        .and_then(|i| v.check("incidentId", Id::parse(essp_domain::id::prefix::INCIDENT, i)))
}

/// `POST /v1/work-orders`: open a work order. An incident must be this
/// school's (422 otherwise); the SSOT names are copied from it, or looked
/// up for the device.
#[utoipa::path(post, path = "/v1/work-orders", tag = "work-orders",
    request_body = CreateWorkOrder,
    params(openapi::IdempotencyKey),
    responses((status = 201, description = "Opened", body = WorkOrder, headers(("Location" = String), ("ETag" = String)))))]
pub async fn create(
    State(state): State<AppState>,
    auth: Authorized<WorkOrderCreate>,
    key: IdempotencyKey,
    body: ApiJson<CreateWorkOrder>,
) -> ApiResult<Response> {
    let r = &body.value;
    let cfg = &state.config;
    let mut v = Validator::new();
    let incident_id = incident_ref(&mut v, r.incident_id.as_deref());
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
    let cost = cents(&mut v, r.cost_estimate_cents.as_ref()).unwrap_or(0);
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

#[utoipa::path(get, path = "/v1/work-orders/{id}", tag = "work-orders",
    params(WorkOrderPath),
    responses((status = 200, description = "The work order", body = WorkOrder, headers(("ETag" = String)))))]
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

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    #[param(value_type = Option<WorkOrderStatus>)]
    status: Option<String>,
    #[param(schema_with = openapi::text::<64>)]
    device_id: Option<String>,
    #[param(schema_with = incident_ref_schema)]
    incident_id: Option<String>,
    /// Only work orders changed at or after this time.
    #[param(schema_with = openapi::timestamp)]
    updated_since: Option<String>,
    #[param(schema_with = openapi::cursor)]
    cursor: Option<String>,
    #[param(schema_with = openapi::limit)]
    limit: Option<String>,
}

/// `GET /v1/work-orders`: newest first, one keyset page at a time.
#[utoipa::path(get, path = "/v1/work-orders", tag = "work-orders", params(ListParams),
    responses((status = 200, description = "A page of work orders", body = Listing<WorkOrder>)))]
pub async fn list(
    State(state): State<AppState>,
    auth: Authorized<WorkOrderRead>,
    ApiQuery(p): ApiQuery<ListParams>,
) -> ApiResult<Json<Listing<WorkOrder>>> {
    let mut v = Validator::new();
    let filter = WorkOrderFilter {
        status: p
            .status
            .as_deref()
            .and_then(|s| v.check("status", s.parse::<WorkOrderStatus>())),
        device_id: p
            .device_id
            .as_deref()
            .and_then(|d| v.check("deviceId", optional_text(Some(d), 64)))
            .filter(|d| !d.is_empty()),
        incident_id: incident_ref(&mut v, p.incident_id.as_deref()).map(Id::into_string),
        updated_since: params::timestamp(&mut v, "updatedSince", p.updated_since.as_deref()),
        cursor: params::cursor(&mut v, p.cursor.as_deref()),
        limit: params::limit(&mut v, p.limit.as_deref()),
    };
    v.finish()?;
    let page = work_orders::list(state.db.as_ref(), &auth.scope, &filter).await?;
    Ok(Json(page.into()))
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

/// The next status: one step forward (`in_repair` may skip QA).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = WorkOrderStatusRequest)]
pub struct StatusRequest {
    #[schema(value_type = WorkOrderStatus)]
    status: Option<String>,
}

fn parse_status(v: &mut Validator, field: &str, raw: Option<&str>) -> Option<WorkOrderStatus> {
    v.check(field, required_enum(raw))
}

/// A required value of a closed set, spelled exactly.
fn required_enum<T: std::str::FromStr<Err = String>>(raw: Option<&str>) -> Result<T, String> {
    raw.ok_or_else(|| "is required".to_owned())?.parse()
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

/// `PATCH /v1/work-orders/{id}/status`: one step forward, applied as
/// compare-and-set; starting repair or approving moves the incident along.
#[utoipa::path(patch, path = "/v1/work-orders/{id}/status", tag = "work-orders",
    params(WorkOrderPath, openapi::IfMatch),
    request_body = StatusRequest,
    responses((status = 200, description = "Moved", body = WorkOrder, headers(("ETag" = String)))))]
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

/// The details to change; at least one. An empty reference clears it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = WorkOrderEdit, min_properties = 1)]
pub struct EditRequest {
    #[serde(default, deserialize_with = "params::no_null")]
    #[schema(schema_with = openapi::optional_code_schema)]
    service_shop_id: Option<String>,
    #[serde(default, deserialize_with = "params::no_null")]
    #[schema(schema_with = openapi::optional_code_schema)]
    assigned_staff_id: Option<String>,
    #[serde(default, deserialize_with = "params::no_null")]
    #[schema(schema_with = openapi::optional_code_schema)]
    assigned_to: Option<String>,
    #[serde(default, deserialize_with = "params::no_null")]
    #[schema(schema_with = repair_location_schema)]
    repair_location: Option<String>,
    #[serde(default, deserialize_with = "params::no_null")]
    #[schema(schema_with = cents_schema)]
    cost_estimate_cents: Option<Number>,
    #[serde(default, deserialize_with = "params::no_null")]
    #[schema(schema_with = openapi::edit_text::<5000>)]
    notes: Option<String>,
    #[serde(default, deserialize_with = "params::no_null")]
    #[schema(schema_with = openapi::optional_code_schema)]
    onsite_contact_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = WorkOrderEditResult)]
pub struct EditResponse {
    work_order: WorkOrder,
    /// The fields whose value changed (a value equal to the current one is
    /// not a change).
    #[schema(value_type = Vec<String>)]
    updated_fields: Vec<&'static str>,
    /// What each changed field was before.
    #[schema(value_type = Object)]
    previous_values: Map<String, Value>,
}

/// `PATCH /v1/work-orders/{id}`: partial edit; reports which fields changed
/// and what they were.
#[utoipa::path(patch, path = "/v1/work-orders/{id}", tag = "work-orders",
    params(WorkOrderPath, openapi::IfMatch),
    request_body = EditRequest,
    responses((status = 200, description = "Changed", body = EditResponse)))]
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
    let cost = cents(&mut v, r.cost_estimate_cents.as_ref());
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
