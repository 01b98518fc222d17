//! Sending a work order back (`reject`) and reading its rework history.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;

use super::*;

/// Where to send the work order back to, and why.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = WorkOrderReject)]
pub struct RejectRequest {
    /// A status before the current one (see the rework table).
    #[schema(value_type = WorkOrderStatus)]
    target_status: Option<String>,
    #[schema(schema_with = openapi::required_text::<1000>, required = true)]
    reason: Option<String>,
    /// Defaults to `other`.
    #[schema(value_type = Option<ReworkCategory>)]
    category: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = WorkOrderRejectResult)]
pub struct RejectResponse {
    work_order: WorkOrder,
    rework_history: Option<ReworkEntry>,
}

pub(super) fn rework(
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

/// `POST /v1/work-orders/{id}/reject`: send back for rework (counted, up
/// to `ESSP_MAX_REWORK` times).
#[utoipa::path(post, path = "/v1/work-orders/{id}/reject", tag = "work-orders",
    params(WorkOrderPath, openapi::IfMatch),
    request_body = RejectRequest,
    responses((status = 200, description = "Sent back", body = RejectResponse)))]
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

#[derive(Serialize, ToSchema)]
#[schema(as = ReworkHistory)]
pub struct HistoryResponse {
    /// Oldest first.
    history: Vec<ReworkEntry>,
}

#[utoipa::path(get, path = "/v1/work-orders/{id}/rework-history", tag = "work-orders",
    params(WorkOrderPath),
    responses((status = 200, description = "Every send-back of the work order", body = HistoryResponse)))]
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
