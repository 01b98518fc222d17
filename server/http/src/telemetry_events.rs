//! `POST /v1/telemetry/events`: device management systems report faults;
//! each becomes an incident, and a burst of the same fault on the same
//! device within the de-duplication window stays one incident.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use essp_domain::Id;
use essp_domain::error::{Validator, optional_text, required_text};
use essp_domain::incident::{Incident, NewIncident, parse_category, telemetry_severity};
use essp_store::{incidents, telemetry_dedupe};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::schema::Schema;

use crate::auth::Authorized;
use crate::auth::permissions::TelemetryIngest;
use crate::extract::ApiJson;
use crate::openapi;
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

/// The operations of this module, for `/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(ingest), tags((name = "telemetry", description = "Faults reported by device management systems.")))]
pub struct Doc;

/// A fault a device management system observed.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TelemetryEvent {
    #[schema(schema_with = openapi::required_text::<64>, required = true)]
    device_id: Option<String>,
    /// The kind of fault (`disk_failure`); the incident's category is
    /// `telemetry:<type>`.
    #[serde(rename = "type")]
    #[schema(schema_with = kind_schema, required = true)]
    kind: Option<String>,
    #[schema(schema_with = openapi::text::<2000>)]
    message: Option<String>,
    /// Read loosely: `critical` (`crit`), `high`, `medium` (`med`), anything
    /// else is `low`.
    severity: Option<String>,
    /// The reporting system (e.g. `nexus-mdm`); the actor is the token's subject.
    #[schema(schema_with = openapi::text::<64>)]
    reported_by: Option<String>,
}

/// A `telemetry:<kind>` category's kind, after trimming.
fn kind_schema() -> Schema {
    use crate::openapi::BLANK;
    crate::openapi::string_matching(format!("^[{BLANK}]*[a-z0-9_-]{{1,48}}[{BLANK}]*$"))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = TelemetryOutcome)]
pub struct Outcome {
    /// The same fault on the same device within the de-duplication window:
    /// the open incident it was folded into.
    deduplicated: bool,
    incident: Incident,
}

/// `POST /v1/telemetry/events`: a new fault opens an incident (and, with
/// auto-routing, its work order); a repeat within the window answers the
/// open incident with 200.
#[utoipa::path(post, path = "/v1/telemetry/events", tag = "telemetry",
    request_body = TelemetryEvent,
    responses(
        (status = 201, description = "A new incident", body = Outcome, headers(("Location" = String))),
        (status = 200, description = "Folded into the open incident of the same fault", body = Outcome)
    ))]

pub async fn ingest(
    State(state): State<AppState>,
    auth: Authorized<TelemetryIngest>,
    body: ApiJson<TelemetryEvent>,
) -> ApiResult<Response> {
    let e = &body.value;
    let mut v = Validator::new();
    let device_id = v.check("deviceId", required_text(e.device_id.as_deref(), 64));
    let category = v.check(
        "type",
        required_text(e.kind.as_deref(), 48).and_then(|k| parse_category(&format!("telemetry:{k}"))),
    );
    let message = v
        .check("message", optional_text(e.message.as_deref(), 2000))
        .unwrap_or_default();
    let source = v
        .check("reportedBy", optional_text(e.reported_by.as_deref(), 64))
        .unwrap_or_default();
    v.finish()?;
    let (Some(device_id), Some(category)) = (device_id, category) else {
        return Err(ApiError::Internal("validated fields missing".into()));
    };
    let kind = category.trim_start_matches("telemetry:").to_owned();
    let severity = telemetry_severity(e.severity.as_deref().unwrap_or(""));
    let source = if source.is_empty() {
        "telemetry".to_owned()
    } else {
        source
    };
    let window = chrono::Duration::from_std(state.config.telemetry_dedupe_window).unwrap_or(chrono::Duration::hours(1));
    let (scope, actor, sla) = (auth.scope.clone(), auth.actor.clone(), state.config.sla.clone());
    // Telemetry is never refused for a device the register lacks (an agent
    // may report before the SSOT lists it); it just carries no names then.
    let ssot =
        essp_store::ssot_snapshot::context(state.db.as_ref(), scope.tenant(), scope.school(), &device_id).await?;
    let route = crate::work_orders::Route::for_incident(&state, &ssot);

    let outcome = crate::tx::run(&state, move |tx| {
        Box::pin(async move {
            let now = essp_domain::now();
            // Serialises concurrent events of this kind for this device.
            let last = telemetry_dedupe::lock_and_count(tx, &scope, &device_id, &kind, now).await?;
            let recent = last.opened_at.is_some_and(|t| now - t < window);
            if recent
                && let Ok(id) = Id::parse(essp_domain::id::prefix::INCIDENT, &last.incident_id)
                && let Some(open) = incidents::get(tx, &scope, &id).await?
                && open.status.is_open()
            {
                return Ok(Outcome {
                    deduplicated: true,
                    incident: open,
                });
            }
            let new = NewIncident {
                device_id: device_id.clone(),
                title: format!("Telemetry: {kind}"),
                description: if message.is_empty() {
                    format!("Reported by {source}")
                } else {
                    format!("{message} (reported by {source})")
                },
                category,
                severity,
            };
            let mut incident = Incident::open(scope.tenant(), scope.school(), new, &actor.subject, &sla, now);
            incident.context = ssot.names.clone();
            incidents::insert(tx, &incident).await?;
            crate::incidents::record(tx, &actor, "create", None, &incident).await?;
            if let Some(route) = &route {
                route.open_work_order(tx, &actor, &incident).await?;
            }
            telemetry_dedupe::remember_opened(tx, &scope, &device_id, &kind, incident.id.as_str(), now).await?;
            Ok(Outcome {
                deduplicated: false,
                incident,
            })
        })
    })
    .await?;

    if outcome.deduplicated {
        metrics::counter!("telemetry_events_deduplicated_total").increment(1);
        return Ok((StatusCode::OK, Json(outcome)).into_response());
    }
    metrics::counter!("incidents_created_total").increment(1);
    let location = format!("/v1/incidents/{}", outcome.incident.id);
    Ok(crate::params::created(&outcome, &location))
}
