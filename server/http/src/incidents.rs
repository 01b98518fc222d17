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
use serde::{Deserialize, Serialize};

use crate::auth::permissions::{IncidentCreate, IncidentRead, IncidentUpdate};
use crate::auth::{Actor, Authorized};
use crate::extract::{ApiJson, ApiQuery};
use crate::idempotency::{self, Created, IdempotencyKey};
use crate::params;
use crate::problem::{ApiError, ApiResult};
use crate::recording::{self, Subject};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateIncident {
    device_id: Option<String>,
    title: Option<String>,
    category: Option<String>,
    severity: Option<String>,
    description: Option<String>,
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

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListParams {
    status: Option<String>,
    severity: Option<String>,
    device_id: Option<String>,
    q: Option<String>,
    sla_breached: Option<String>,
    updated_since: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListResponse {
    items: Vec<Incident>,
    next_cursor: Option<String>,
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
    let device_id = params::filter_text(&p.device_id);
    let q =
        p.q.as_deref()
            .map(str::trim)
            .filter(|q| !q.is_empty())
            .map(str::to_owned);
    if q.as_ref().is_some_and(|q| q.chars().count() > 200) {
        v.push("q", "must be at most 200 characters");
    }
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

pub async fn list(
    State(state): State<AppState>,
    auth: Authorized<IncidentRead>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> ApiResult<Json<ListResponse>> {
    let filter = parse_filter(&params)?;
    let page = incidents::list(state.db.as_ref(), &auth.scope, &filter).await?;
    Ok(Json(ListResponse {
        items: page.items,
        next_cursor: page.next_cursor.map(|c| c.encode()),
    }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusRequest {
    status: Option<String>,
    reason: Option<String>,
}

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

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EditRequest {
    title: Option<String>,
    description: Option<String>,
    category: Option<String>,
    severity: Option<String>,
}

/// `PATCH /v1/incidents/{id}`: partial edit of the details; a severity
/// change recomputes the SLA deadline. `If-Match` guards against lost updates.
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
