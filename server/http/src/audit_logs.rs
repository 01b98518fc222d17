//! `/v1/audit-logs`: the tenant's audit trail and its chain verification.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, NaiveDate, Utc};
use essp_domain::error::Validator;
use essp_store::audit::{self, AuditEntry, AuditFilter, ChainReport};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, Type};
use utoipa::{IntoParams, ToSchema};

use crate::auth::TenantAuthorized;
use crate::auth::permissions::AuditRead;
use crate::extract::ApiQuery;
use crate::openapi;
use crate::params;
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

/// The operations of this module, for `/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list, get, verify),
    components(schemas(AuditEntry, ChainReport)),
    tags((name = "audit-logs", description = "The tenant's tamper-evident audit trail (tenant-wide callers only)."))
)]
pub struct Doc;

/// Filters are exact matches; all of them together.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// `incident`, `work_order`, `schools` …
    #[param(schema_with = openapi::text::<64>)]
    entity_type: Option<String>,
    #[param(schema_with = openapi::text::<64>)]
    entity_id: Option<String>,
    /// The acting subject (the original called the actor `userId`).
    #[param(schema_with = openapi::text::<255>)]
    user_id: Option<String>,
    /// `create`, `update`, `status_change` …
    #[param(schema_with = openapi::text::<64>)]
    action: Option<String>,
    /// From this time, or from the start of this day (UTC).
    #[param(schema_with = bound_schema)]
    start_date: Option<String>,
    /// Until this time, or to the end of this day (UTC).
    #[param(schema_with = bound_schema)]
    end_date: Option<String>,
    #[param(schema_with = openapi::cursor)]
    cursor: Option<String>,
    #[param(schema_with = openapi::limit)]
    limit: Option<String>,
}

/// What [`parse_bound`] accepts.
fn bound_schema() -> Schema {
    let format = |f| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(f)))
    };
    OneOfBuilder::new()
        .item(format(KnownFormat::DateTime))
        .item(format(KnownFormat::Date))
        .into()
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AuditLogPage)]
pub struct ListResponse {
    items: Vec<AuditEntry>,
    next_cursor: Option<String>,
}

/// RFC 3339, or a date (`YYYY-MM-DD`, start of that day UTC; an end date
/// includes its whole day).
fn parse_bound(s: &str, end: bool) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let day = NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| "must be RFC 3339 or YYYY-MM-DD".to_owned())?;
    let day = if end { day.succ_opt().unwrap_or(day) } else { day };
    Ok(day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
}

/// `GET /v1/audit-logs`: newest first, one keyset page at a time.
#[utoipa::path(get, path = "/v1/audit-logs", tag = "audit-logs", params(ListParams),
    responses((status = 200, description = "A page of audit entries", body = ListResponse)))]
pub async fn list(
    State(state): State<AppState>,
    auth: TenantAuthorized<AuditRead>,
    ApiQuery(p): ApiQuery<ListParams>,
) -> ApiResult<Json<ListResponse>> {
    auth.require_all_schools()?;
    let mut v = Validator::new();
    let since = p
        .start_date
        .as_deref()
        .and_then(|s| v.check("startDate", parse_bound(s, false)));
    let until = p
        .end_date
        .as_deref()
        .and_then(|s| v.check("endDate", parse_bound(s, true)));
    let cursor = params::cursor(&mut v, p.cursor.as_deref());
    let limit = params::limit(&mut v, p.limit.as_deref());
    let filter = AuditFilter {
        entity_type: params::text_filter(&mut v, "entityType", p.entity_type.as_deref(), 64),
        entity_id: params::text_filter(&mut v, "entityId", p.entity_id.as_deref(), 64),
        actor: params::text_filter(&mut v, "userId", p.user_id.as_deref(), 255),
        action: params::text_filter(&mut v, "action", p.action.as_deref(), 64),
        since,
        until,
        cursor,
        limit,
    };
    v.finish()?;
    let page = audit::list(state.db.as_ref(), &auth.tenant, &filter).await?;
    Ok(Json(ListResponse {
        items: page.items,
        next_cursor: page.next_cursor.map(|c| c.encode()),
    }))
}

#[utoipa::path(get, path = "/v1/audit-logs/{id}", tag = "audit-logs",
    params(("id" = String, Path, pattern = "^audit_[0-9A-HJKMNP-TV-Z]{26}$")),
    responses((status = 200, description = "The entry", body = AuditEntry)))]
pub async fn get(
    State(state): State<AppState>,
    auth: TenantAuthorized<AuditRead>,
    Path(id): Path<String>,
) -> ApiResult<Json<AuditEntry>> {
    auth.require_all_schools()?;
    let id = params::id("audit", "audit", &id)?;
    let entry = audit::get(state.db.as_ref(), &auth.tenant, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("audit entry"))?;
    Ok(Json(entry))
}

/// Walks the tenant's whole chain (same check as `essp audit verify`).
#[utoipa::path(get, path = "/v1/audit-logs/verify", tag = "audit-logs",
    responses((status = 200, description = "Whether the chain is intact", body = ChainReport)))]
pub async fn verify(State(state): State<AppState>, auth: TenantAuthorized<AuditRead>) -> ApiResult<Json<ChainReport>> {
    auth.require_all_schools()?;
    Ok(Json(audit::verify(state.db.as_ref(), &auth.tenant).await?))
}
