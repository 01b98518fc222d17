//! Bulk status, assignment and approval: up to 100 ids, each applied on
//! its own with a result per id.

use super::*;

/// Why one id of a batch was not changed.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = WorkOrderBulkFailure)]
pub struct BulkFailure {
    /// As given.
    id: String,
    /// The problem code a single request would have answered
    /// (`invalid-id`, `not-found`, `invalid-transition`, …).
    code: String,
    message: String,
}

/// Every id's outcome: each id is changed in its own transaction, so one
/// bad id never blocks the rest.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = WorkOrderBulkResult)]
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

/// The ids of a batch; repeats count once.
fn bulk_ids_schema() -> utoipa::openapi::schema::Array {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(ObjectBuilder::new().schema_type(Type::String))
        .min_items(Some(1))
        .max_items(Some(MAX_BULK))
        .into()
}

/// Moves every work order one step forward (never skipping QA).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BulkStatusRequest {
    #[schema(schema_with = bulk_ids_schema, required = true)]
    work_order_ids: Option<Vec<String>>,
    #[schema(value_type = WorkOrderStatus)]
    status: Option<String>,
}

#[utoipa::path(post, path = "/v1/work-orders/bulk/status", tag = "work-orders",
    request_body = BulkStatusRequest,
    responses((status = 200, description = "Each id's outcome", body = BulkResult)))]
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

/// Assigns every work order to a technician and/or a shop (at least one);
/// a draft given a technician becomes `assigned`; empty clears.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BulkAssignmentRequest {
    #[schema(schema_with = bulk_ids_schema, required = true)]
    work_order_ids: Option<Vec<String>>,
    #[schema(schema_with = nullable_reference)]
    assigned_staff_id: Option<String>,
    #[schema(schema_with = nullable_reference)]
    service_shop_id: Option<String>,
}

#[utoipa::path(post, path = "/v1/work-orders/bulk/assignment", tag = "work-orders",
    request_body = BulkAssignmentRequest,
    responses((status = 200, description = "Each id's outcome", body = BulkResult)))]
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

/// Approves completed work orders, or rejects them back to QA; a rejection
/// needs notes, which become the rework reason.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BulkApprovalRequest {
    #[schema(schema_with = bulk_ids_schema, required = true)]
    work_order_ids: Option<Vec<String>>,
    #[schema(schema_with = decision_schema, required = true)]
    decision: Option<String>,
    #[schema(schema_with = openapi::text::<1000>)]
    notes: Option<String>,
}

/// `approved` or `rejected`.
pub(crate) fn decision_schema() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["approved", "rejected"]))
        .into()
}

/// Approves completed work orders, or rejects them back to QA (counted as
/// rework, with the notes as the reason).
#[utoipa::path(post, path = "/v1/work-orders/bulk/approval", tag = "work-orders",
    request_body = BulkApprovalRequest,
    responses((status = 200, description = "Each id's outcome", body = BulkResult)))]
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
                let mut planned = rework::rework(c, WorkOrderStatus::Qa, &notes, ReworkCategory::Other, max)?;
                planned.next.approval_status = ApprovalStatus::Rejected;
                Ok(planned)
            }
        })
        .await,
    ))
}
