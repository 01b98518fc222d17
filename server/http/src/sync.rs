//! Edge sync over HTTP: central's fleet view (`GET /v1/sync/edges`), the
//! conflict log and refused changes, and on an edge its own link
//! (`GET /v1/sync/status`, `POST /v1/sync/now`). Also the guard that keeps
//! what central owns read-only on an edge.

use async_trait::async_trait;
use axum::Json;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use essp_domain::error::Validator;
use essp_domain::scope::parse_scope_part;
use essp_store::sync::edges::{self, Edge};
use essp_store::sync::journal::{self, Conflict, RejectionRow};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::Schema;
use utoipa::{IntoParams, ToSchema};

use crate::auth::TenantAuthorized;
use crate::auth::permissions::{SyncAdmin, SyncRead};
use crate::extract::ApiQuery;
use crate::openapi::{self, Items};
use crate::params;
use crate::problem::{ApiError, ApiResult, problem_response};
use crate::state::AppState;

/// The operations of this module, for `/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list_edges, list_conflicts, list_rejections, status, sync_now),
    components(schemas(EdgeView, Conflict, RejectionRow)),
    tags((name = "sync", description = "Edge ↔ central sync: the fleet of edges and their lag, what merges overwrote, what central refused, and an edge's own link."))
)]
pub struct Doc;

/// An edge's sync link, as the HTTP layer sees it (implemented by the
/// binary over the sync engine).
#[async_trait]
pub trait EdgeSync: Send + Sync {
    /// The link's current state as JSON (state, last contact, and the
    /// outbox and positions as the database holds them now).
    async fn status(&self) -> serde_json::Value;
    /// Publishes what is pending and reports a checkpoint now; returns the
    /// state afterwards, or why central could not be reached.
    async fn sync_now(&self) -> Result<serde_json::Value, String>;
}

/// Page size of the conflict and rejection logs.
const DEFAULT_JOURNAL_LIMIT: u32 = 100;
const MAX_JOURNAL_LIMIT: u32 = 500;

fn journal_limit() -> Schema {
    openapi::limit_up_to(MAX_JOURNAL_LIMIT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EdgesParams {
    /// Only this school's edge; empty for every school (which needs access
    /// to every school of the tenant).
    #[param(schema_with = openapi::optional_code_schema)]
    school_id: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct JournalParams {
    /// Only this school; empty for every school (which needs access to
    /// every school of the tenant).
    #[param(schema_with = openapi::optional_code_schema)]
    school_id: Option<String>,
    /// How many, newest first: 1–500, default 100.
    #[param(schema_with = journal_limit)]
    limit: Option<String>,
}

/// The `schoolId` filter as given; empty means every school.
fn parse_school(v: &mut Validator, raw: Option<&str>) -> Option<String> {
    raw.filter(|s| !s.trim().is_empty())
        .and_then(|s| v.check("schoolId", parse_scope_part(Some(s))))
}

/// The school filter, checked against what the caller may see: a caller
/// limited to some schools must name one of them.
fn visible_school<P>(auth: &TenantAuthorized<P>, school: Option<String>) -> ApiResult<Option<String>> {
    match school {
        Some(school) => Ok(Some(auth.school(&school)?.school().to_owned())),
        None => {
            auth.require_all_schools()?;
            Ok(None)
        }
    }
}

/// Central's record of one edge, with what a fleet table derives from its
/// last checkpoint.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = SyncEdge)]
pub struct EdgeView {
    tenant_id: String,
    school_id: String,
    epoch: String,
    /// The box holding the epoch (its machine id); empty until it reports.
    host: String,
    /// `active`, `gap` (waiting for a resend) or `refused` (stale epoch).
    status: String,
    status_message: String,
    /// The edge's changes applied centrally, by its outbox position.
    applied_seq: i64,
    /// Changes the edge had written that central has not applied yet: the
    /// checkpoint's `lastSeq` − `appliedSeq`, never below 0; 0 before the
    /// first checkpoint.
    lag_changes: i64,
    /// Age of the edge's oldest unconfirmed change at its last checkpoint
    /// (`outboxAgeSeconds`); 0 before the first checkpoint.
    lag_seconds: i64,
    /// Changes queued at the edge at its last checkpoint; null before the first.
    outbox_depth: Option<i64>,
    /// The edge's down-stream position at its last checkpoint; null before the first.
    down_cursor: Option<i64>,
    /// The last down-stream position that carried this school's changes.
    down_seq: i64,
    app_version: Option<String>,
    schema_version: Option<i64>,
    /// Values merges of this school's changes did not keep.
    conflicts: i64,
    /// Changes of this school central refused.
    rejected: i64,
    enrolled_at: DateTime<Utc>,
    last_seen_at: Option<DateTime<Utc>>,
    last_applied_at: Option<DateTime<Utc>>,
    /// The edge's last checkpoint as it sent it.
    #[schema(value_type = Option<Object>)]
    checkpoint: Option<serde_json::Value>,
}

impl EdgeView {
    fn new(edge: Edge, (conflicts, rejected): (i64, i64)) -> Self {
        // Read field by field: an edge a release behind (or ahead) may send
        // a checkpoint with fields missing or added.
        let field = |name: &str| edge.checkpoint.as_ref().and_then(|c| c.get(name));
        let number = |name: &str| field(name).and_then(serde_json::Value::as_i64);
        let lag_changes = number("lastSeq").map_or(0, |last| last.saturating_sub(edge.applied_seq).max(0));
        EdgeView {
            lag_changes,
            lag_seconds: number("outboxAgeSeconds").unwrap_or(0).max(0),
            outbox_depth: number("outboxDepth"),
            down_cursor: number("downCursor"),
            app_version: field("appVersion").and_then(|v| v.as_str()).map(str::to_owned),
            schema_version: number("schemaVersion"),
            conflicts,
            rejected,
            tenant_id: edge.tenant_id,
            school_id: edge.school_id,
            epoch: edge.epoch,
            host: edge.host,
            down_seq: edge.down_seq,
            status: edge.status,
            status_message: edge.status_message,
            applied_seq: edge.applied_seq,
            enrolled_at: edge.enrolled_at,
            last_seen_at: edge.last_seen_at,
            last_applied_at: edge.last_applied_at,
            checkpoint: edge.checkpoint,
        }
    }
}

/// `GET /v1/sync/edges`: the tenant's enrolled edges by school, with their
/// lag. An edge node has none.
#[utoipa::path(get, path = "/v1/sync/edges", tag = "sync", params(EdgesParams),
    responses((status = 200, description = "The tenant's edges, by school", body = Items<EdgeView>)))]
pub async fn list_edges(
    State(state): State<AppState>,
    auth: TenantAuthorized<SyncRead>,
    ApiQuery(p): ApiQuery<EdgesParams>,
) -> ApiResult<Json<Items<EdgeView>>> {
    let mut v = Validator::new();
    let school = parse_school(&mut v, p.school_id.as_deref());
    v.finish()?;
    let school = visible_school(&auth, school)?;
    let db = state.db.as_ref();
    let counts = journal::counts(db, &auth.tenant).await?;
    let items = edges::list(db, &auth.tenant)
        .await?
        .into_iter()
        .filter(|e| school.as_ref().is_none_or(|s| *s == e.school_id))
        .map(|e| {
            let n = counts.get(&e.school_id).copied().unwrap_or_default();
            EdgeView::new(e, n)
        })
        .collect();
    Ok(Json(Items { items }))
}

/// The `schoolId` and `limit` of a journal list.
fn journal_query<P>(auth: &TenantAuthorized<P>, p: &JournalParams) -> ApiResult<(Option<String>, i64)> {
    let mut v = Validator::new();
    let limit = params::limit_within(&mut v, p.limit.as_deref(), DEFAULT_JOURNAL_LIMIT, MAX_JOURNAL_LIMIT);
    let school = parse_school(&mut v, p.school_id.as_deref());
    v.finish()?;
    Ok((visible_school(auth, school)?, i64::from(limit)))
}

/// `GET /v1/sync/conflicts`: values merges overwrote or discarded, newest
/// first.
#[utoipa::path(get, path = "/v1/sync/conflicts", tag = "sync", params(JournalParams),
    responses((status = 200, description = "The newest conflicts", body = Items<Conflict>)))]
pub async fn list_conflicts(
    State(state): State<AppState>,
    auth: TenantAuthorized<SyncRead>,
    ApiQuery(p): ApiQuery<JournalParams>,
) -> ApiResult<Json<Items<Conflict>>> {
    let (school, limit) = journal_query(&auth, &p)?;
    let items = journal::conflicts(state.db.as_ref(), &auth.tenant, school.as_deref(), limit).await?;
    Ok(Json(Items { items }))
}

/// `GET /v1/sync/rejections`: edge changes central refused, newest first.
#[utoipa::path(get, path = "/v1/sync/rejections", tag = "sync", params(JournalParams),
    responses((status = 200, description = "The newest refused changes", body = Items<RejectionRow>)))]
pub async fn list_rejections(
    State(state): State<AppState>,
    auth: TenantAuthorized<SyncRead>,
    ApiQuery(p): ApiQuery<JournalParams>,
) -> ApiResult<Json<Items<RejectionRow>>> {
    let (school, limit) = journal_query(&auth, &p)?;
    let items = journal::list_rejections(state.db.as_ref(), &auth.tenant, school.as_deref(), limit).await?;
    Ok(Json(Items { items }))
}

/// The answer where there is no link: central and standalone nodes.
fn not_an_edge() -> Response {
    problem_response(
        StatusCode::NOT_FOUND,
        "not-an-edge",
        "this node is not an edge; see GET /v1/sync/edges".to_owned(),
        None,
    )
}

/// `GET /v1/sync/status` (edge only): the link's state, last contact with
/// central, confirmed and written positions, outbox depth, down cursor.
#[utoipa::path(get, path = "/v1/sync/status", tag = "sync",
    responses(
        (status = 200, description = "This edge's link to central", body = Object),
        (status = 404, description = "This node is not an edge.", body = crate::problem::Problem,
            content_type = "application/problem+json")))]
pub async fn status(State(state): State<AppState>, _auth: TenantAuthorized<SyncRead>) -> Response {
    match &state.edge_sync {
        Some(link) => Json(link.status().await).into_response(),
        None => not_an_edge(),
    }
}

/// `POST /v1/sync/now` (edge only): publishes what is pending and reports
/// a checkpoint now, instead of at the next interval.
#[utoipa::path(post, path = "/v1/sync/now", tag = "sync",
    responses(
        (status = 200, description = "The link's state afterwards", body = Object),
        (status = 404, description = "This node is not an edge.", body = crate::problem::Problem,
            content_type = "application/problem+json"),
        (status = 503, description = "Central could not be reached; the detail says why. Changes stay queued.",
            body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn sync_now(State(state): State<AppState>, _auth: TenantAuthorized<SyncAdmin>) -> Response {
    let Some(link) = &state.edge_sync else {
        return not_an_edge();
    };
    match link.sync_now().await {
        Ok(status) => Json(status).into_response(),
        Err(reason) => problem_response(StatusCode::SERVICE_UNAVAILABLE, "central-unreachable", reason, None),
    }
}

/// Route-layer middleware for what central owns (SYNC.md "Ownership"):
/// on an edge those rows only ever come down from central, so a local
/// write would be overwritten or diverge. Reads pass; every other method
/// is refused before the handler runs, so nothing changes.
/// Applied with [`crate::routes::Routes::central_owned`].
pub async fn refuse_central_owned_writes(what: &'static str, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    tracing::debug!(method = %req.method(), path = req.uri().path(), "refused a write to central-owned data on an edge");
    ApiError::Forbidden(format!(
        "{what} are managed centrally; this edge receives them from central"
    ))
    .into_response()
}
