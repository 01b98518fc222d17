//! `/v1/incidents`: report, read, list and move incidents through their
//! lifecycle.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use essp_domain::Scope;
use essp_domain::error::{Validator, optional_text, required_text};
use essp_domain::id::prefix;
use essp_domain::incident::{
    Incident, IncidentEdit, IncidentStatus, NewIncident, Severity, TransitionError, apply_edit, parse_category,
    plan_transition,
};
use essp_store::incidents::{self, IncidentFilter};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::auth::permissions::{IncidentCreate, IncidentRead, IncidentUpdate};
use crate::auth::{Actor, Authorized};
use crate::extract::{ApiJson, ApiQuery};
use crate::idempotency::{self, Created, IdempotencyKey};
use crate::openapi::{self, Listing};
use crate::params;
use crate::problem::{ApiError, ApiResult};
use crate::recording::{self, Subject};
use crate::state::AppState;

/// The operations of this module, for `/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(create, get, edit, list, change_status), tags((name = "incidents", description = "Device faults reported by schools, with SLAs.")))]
pub struct Doc;

/// A fault to report. Fields are validated together; every problem is
/// reported at once.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateIncident {
    #[schema(schema_with = openapi::required_text::<64>, required = true)]
    device_id: Option<String>,
    #[schema(schema_with = openapi::required_text::<200>, required = true)]
    title: Option<String>,
    /// Defaults to `other`.
    #[schema(schema_with = category_schema)]
    category: Option<String>,
    /// Defaults to `medium`; sets the SLA window.
    #[schema(value_type = Option<Severity>)]
    severity: Option<String>,
    #[schema(schema_with = openapi::text::<5000>)]
    description: Option<String>,
}

/// What `parse_category` accepts.
fn category_schema() -> utoipa::openapi::schema::Schema {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .pattern(Some("^(hardware|software|network|other|telemetry:[a-z0-9_-]{1,48})$"))
        .into()
}

/// Validates every field at once and builds the new incident.
fn new_incident(scope: &Scope, req: &CreateIncident, state: &AppState, actor: &str) -> Result<Incident, ApiError> {
    let mut v = Validator::new();
    let device_id = v.check("deviceId", required_text(req.device_id.as_deref(), 64));
    let title = v.check("title", required_text(req.title.as_deref(), 200));
    let description = v.check("description", optional_text(req.description.as_deref(), 5000));
    let category = v.check("category", parse_category(req.category.as_deref().unwrap_or("other")));
    let severity = v.check(
        "severity",
        req.severity.as_deref().unwrap_or("medium").parse::<Severity>(),
    );
    v.finish()?;
    let (Some(device_id), Some(title), Some(description), Some(category), Some(severity)) =
        (device_id, title, description, category, severity)
    else {
        return Err(ApiError::Internal("validator passed with a missing field".into()));
    };
    let new = NewIncident {
        device_id,
        title,
        description,
        category,
        severity,
    };
    Ok(Incident::open(
        scope.tenant(),
        scope.school(),
        new,
        actor,
        &state.config.sla,
        essp_domain::now(),
    ))
}

/// `POST /v1/incidents`: report a fault. The SLA deadline follows from the
/// severity; with auto-routing on, a work order is opened at the school's
/// repair shop in the same transaction.
#[utoipa::path(post, path = "/v1/incidents", tag = "incidents",
    request_body = CreateIncident,
    params(openapi::IdempotencyKey),
    responses((status = 201, description = "Reported", body = Incident, headers(("Location" = String), ("ETag" = String)))))]
pub async fn create(
    State(state): State<AppState>,
    auth: Authorized<IncidentCreate>,
    key: IdempotencyKey,
    body: ApiJson<CreateIncident>,
) -> ApiResult<Response> {
    let scope = &auth.scope;
    let mut incident = new_incident(scope, &body.value, &state, &auth.actor.subject)?;
    let ssot = crate::ssot::context::resolve(state.db.as_ref(), scope, &incident.device_id).await?;
    incident.context = ssot.names.clone();
    let route = crate::work_orders::Route::for_incident(&state, &ssot);
    let hash = idempotency::request_hash("POST /v1/incidents", &body.raw);
    let actor = auth.actor.clone();
    idempotency::create(
        &state,
        scope.tenant(),
        &key,
        hash,
        "incidents_created_total",
        move |tx| {
            Box::pin(async move {
                incidents::insert(tx, &incident).await?;
                record(tx, &actor, "create", None, &incident).await?;
                if let Some(route) = &route {
                    route.open_work_order(tx, &actor, &incident).await?;
                }
                Created::json(&incident, format!("/v1/incidents/{}", incident.id), incident.version)
            })
        },
    )
    .await
}

#[utoipa::path(get, path = "/v1/incidents/{id}", tag = "incidents",
    params(("id" = String, Path, pattern = "^inc_[0-9A-HJKMNP-TV-Z]{26}$")),
    responses((status = 200, description = "The incident", body = Incident, headers(("ETag" = String)))))]
pub async fn get(
    State(state): State<AppState>,
    auth: Authorized<IncidentRead>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = params::id(prefix::INCIDENT, "incident", &id)?;
    let incident = incidents::get(state.db.as_ref(), &auth.scope, &id)
        .await?
        .ok_or(ApiError::NotFound("incident"))?;
    Ok(params::with_etag(&incident, incident.version))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    #[param(value_type = Option<IncidentStatus>)]
    status: Option<String>,
    #[param(value_type = Option<Severity>)]
    severity: Option<String>,
    #[param(schema_with = openapi::text::<64>)]
    device_id: Option<String>,
    /// Words in the title or description.
    #[param(schema_with = openapi::text::<200>)]
    q: Option<String>,
    #[param(schema_with = openapi::flag)]
    sla_breached: Option<String>,
    /// Only incidents changed at or after this time.
    #[param(schema_with = openapi::timestamp)]
    updated_since: Option<String>,
    #[param(schema_with = openapi::cursor)]
    cursor: Option<String>,
    #[param(schema_with = openapi::limit)]
    limit: Option<String>,
}

fn parse_filter(p: &ListParams) -> Result<IncidentFilter, ApiError> {
    let mut v = Validator::new();
    let status = p
        .status
        .as_deref()
        .and_then(|s| v.check("status", s.parse::<IncidentStatus>()));
    let severity = p
        .severity
        .as_deref()
        .and_then(|s| v.check("severity", s.parse::<Severity>()));
    let sla_breached = p.sla_breached.as_deref().and_then(|s| {
        v.check(
            "slaBreached",
            match s {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err("must be true or false"),
            },
        )
    });
    let updated_since = params::timestamp(&mut v, "updatedSince", p.updated_since.as_deref());
    let cursor = params::cursor(&mut v, p.cursor.as_deref());
    let limit = params::limit(&mut v, p.limit.as_deref());
    let device_id = params::text_filter(&mut v, "deviceId", p.device_id.as_deref(), 64);
    let q = params::text_filter(&mut v, "q", p.q.as_deref(), 200);
    v.finish()?;
    Ok(IncidentFilter {
        status,
        severity,
        device_id,
        q,
        sla_breached,
        updated_since,
        cursor,
        limit,
    })
}

/// `GET /v1/incidents`: newest first, one keyset page at a time.
#[utoipa::path(get, path = "/v1/incidents", tag = "incidents", params(ListParams),
    responses((status = 200, description = "A page of incidents", body = Listing<Incident>)))]
pub async fn list(
    State(state): State<AppState>,
    auth: Authorized<IncidentRead>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> ApiResult<Json<Listing<Incident>>> {
    let filter = parse_filter(&params)?;
    let page = incidents::list(state.db.as_ref(), &auth.scope, &filter).await?;
    Ok(Json(page.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusRequest {
    #[schema(value_type = IncidentStatus)]
    status: Option<String>,
    /// Required to reopen.
    #[schema(schema_with = openapi::text::<1000>)]
    reason: Option<String>,
}

/// `PATCH /v1/incidents/{id}/status`: one step of the lifecycle, applied
/// as compare-and-set.
#[utoipa::path(patch, path = "/v1/incidents/{id}/status", tag = "incidents",
    params(("id" = String, Path, pattern = "^inc_[0-9A-HJKMNP-TV-Z]{26}$"), openapi::IfMatch),
    request_body = StatusRequest,
    responses((status = 200, description = "Moved", body = Incident, headers(("ETag" = String)))))]
pub async fn change_status(
    State(state): State<AppState>,
    auth: Authorized<IncidentUpdate>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: ApiJson<StatusRequest>,
) -> ApiResult<Response> {
    let id = params::id(prefix::INCIDENT, "incident", &id)?;
    let expected = params::if_match(&headers)?;
    let mut v = Validator::new();
    let to = v.check(
        "status",
        required_text(body.value.status.as_deref(), 32).and_then(|s| s.parse::<IncidentStatus>()),
    );
    let reason = v.check("reason", optional_text(body.value.reason.as_deref(), 1000));
    v.finish()?;
    let (Some(to), Some(reason)) = (to, reason) else {
        return Err(ApiError::Internal("validator passed with a missing field".into()));
    };

    let scope = &auth.scope;
    let current = incidents::get(state.db.as_ref(), scope, &id)
        .await?
        .ok_or(ApiError::NotFound("incident"))?;
    params::check_version(expected, current.version, "incident")?;
    let now = essp_domain::now();
    let change = plan_transition(&current, to, &reason, now).map_err(|e| match e {
        TransitionError::ReasonRequired => ApiError::field("reason", e.to_string()),
        TransitionError::NotAllowed { .. } => ApiError::conflict("invalid-transition", e.to_string()),
    })?;
    let actor = auth.actor.clone();
    let scope = scope.clone();
    let updated = crate::tx::run(&state, move |tx| {
        Box::pin(async move {
            let updated = incidents::apply_status(tx, &scope, &id, current.version, &change, now)
                .await?
                .ok_or_else(concurrent_update)?;
            record(tx, &actor, "status_change", Some(&current), &updated).await?;
            Ok(updated)
        })
    })
    .await?;
    Ok(params::with_etag(&updated, updated.version))
}

fn concurrent_update() -> ApiError {
    ApiError::conflict(
        "concurrent-update",
        "the incident was changed by another request; reload and retry",
    )
}

/// Writes the audit row for a change to `after`, in the same transaction.
pub(crate) async fn record(
    tx: &dyn essp_store::Executor,
    actor: &Actor,
    action: &str,
    before: Option<&Incident>,
    after: &Incident,
) -> Result<(), ApiError> {
    let subject = Subject {
        tenant: &after.tenant_id,
        school: &after.school_id,
        entity_type: "incident",
        entity_id: after.id.as_str(),
    };
    recording::record(tx, actor, subject, action, before, Some(after), after.updated_at).await
}

/// The details to change; at least one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(min_properties = 1)]
pub struct EditRequest {
    #[serde(default, deserialize_with = "params::no_null")]
    #[schema(schema_with = openapi::required_text::<200>)]
    title: Option<String>,
    #[serde(default, deserialize_with = "params::no_null")]
    #[schema(schema_with = openapi::edit_text::<5000>)]
    description: Option<String>,
    #[serde(default, deserialize_with = "params::no_null")]
    #[schema(schema_with = category_schema)]
    category: Option<String>,
    #[serde(default, deserialize_with = "params::no_null")]
    #[schema(value_type = Severity)]
    severity: Option<String>,
}

/// `PATCH /v1/incidents/{id}`: partial edit of the details; a severity
/// change recomputes the SLA deadline. `If-Match` guards against lost updates.
#[utoipa::path(patch, path = "/v1/incidents/{id}", tag = "incidents",
    params(("id" = String, Path, pattern = "^inc_[0-9A-HJKMNP-TV-Z]{26}$"), openapi::IfMatch),
    request_body = EditRequest,
    responses((status = 200, description = "Changed", body = Incident, headers(("ETag" = String)))))]
pub async fn edit(
    State(state): State<AppState>,
    auth: Authorized<IncidentUpdate>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: ApiJson<EditRequest>,
) -> ApiResult<Response> {
    let id = params::id(prefix::INCIDENT, "incident", &id)?;
    let expected = params::if_match(&headers)?;
    let r = &body.value;
    let mut v = Validator::new();
    let edit = IncidentEdit {
        title: r
            .title
            .as_deref()
            .and_then(|t| v.check("title", required_text(Some(t), 200))),
        description: r
            .description
            .as_deref()
            .and_then(|d| v.check("description", optional_text(Some(d), 5000))),
        category: r
            .category
            .as_deref()
            .and_then(|c| v.check("category", parse_category(c))),
        severity: r
            .severity
            .as_deref()
            .and_then(|s| v.check("severity", s.parse::<Severity>())),
    };
    if r.title.is_none() && r.description.is_none() && r.category.is_none() && r.severity.is_none() {
        v.push("body", "name at least one of title, description, category, severity");
    }
    v.finish()?;
    let scope = auth.scope.clone();
    let current = incidents::get(state.db.as_ref(), &scope, &id)
        .await?
        .ok_or(ApiError::NotFound("incident"))?;
    params::check_version(expected, current.version, "incident")?;
    let next = apply_edit(&current, &edit, &state.config.sla, essp_domain::now());
    let actor = auth.actor.clone();
    let updated = crate::tx::run(&state, move |tx| {
        Box::pin(async move {
            let updated = incidents::update_details(tx, &scope, current.version, &next)
                .await?
                .ok_or_else(concurrent_update)?;
            record(tx, &actor, "update", Some(&current), &updated).await?;
            Ok(updated)
        })
    })
    .await?;
    Ok(params::with_etag(&updated, updated.version))
}
