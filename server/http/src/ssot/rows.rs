//! CRUD, change feed and lookups for every SSOT kind.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use essp_domain::error::Validator;
use essp_domain::ssot::{self, Domain, FieldType, FieldValue, Kind, SsotRow};
use essp_store::Executor;
use essp_store::ssot::{self as repo, BatchOutcome, DeleteRefused, FeedQuery, Incoming, OnKeyMatch, Refusal};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::TenantAuthorized;
use crate::auth::permissions::{SsotRead, SsotWrite};
use crate::extract::{ApiJson, ApiQuery};
use crate::params;
use crate::problem::{ApiError, ApiResult};
use crate::recording::{self, Subject};
use crate::routes::Routes;
use crate::state::AppState;

/// Largest change-feed page (a sync worker's `SSOT_SYNC_PAGE_SIZE`).
pub const MAX_FEED_PAGE: u32 = 1000;

pub(super) fn routes(r: Routes, kind: &'static Kind) -> Routes {
    let r = r
        .route(
            &format!("/v1/{}", kind.path),
            get(move |s, a, q| list(kind, s, a, q)).post(move |s, a, b| create(kind, s, a, b)),
        )
        .route(
            &format!("/v1/{}/{{id}}", kind.path),
            get(move |s, a, p| get_one(kind, s, a, p))
                .patch(move |s, a, p, h, b| update(kind, s, a, p, h, b))
                .delete(move |s, a, p, h| delete(kind, s, a, p, h)),
        );
    if kind.name == "devices" {
        r.route(
            "/v1/devices/{id}/network-identities",
            get(network_identities).post(put_network_identity),
        )
    } else {
        r
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedParams {
    after: Option<String>,
    cursor: Option<String>,
    updated_since: Option<String>,
    include_deleted: Option<bool>,
    limit: Option<String>,
    /// Equality filters on reference and key fields (`?schoolId=…`).
    #[serde(flatten)]
    filters: HashMap<String, String>,
}

fn feed_query(kind: &Kind, p: &FeedParams) -> ApiResult<FeedQuery> {
    let mut v = Validator::new();
    let after = match p.after.as_deref().or(p.cursor.as_deref()).filter(|s| !s.is_empty()) {
        None => 0,
        Some(raw) => v
            .check(
                "cursor",
                raw.parse::<i64>()
                    .ok()
                    .filter(|n| *n >= 0)
                    .ok_or("is not a cursor this server issued"),
            )
            .unwrap_or(0),
    };
    let limit = params::limit_within(&mut v, p.limit.as_deref(), 100, MAX_FEED_PAGE);
    let updated_since = params::timestamp(&mut v, "updatedSince", p.updated_since.as_deref());
    let mut equals = Vec::new();
    for (name, value) in &p.filters {
        match kind.field(name) {
            Some(f) if matches!(f.ty, FieldType::Ref(_)) || kind.natural_key.contains(&f.column) => {
                equals.push((f.column, value.clone()));
            }
            _ => v.push(name, format!("is not a filter of {}", kind.name)),
        }
    }
    v.finish()?;
    Ok(FeedQuery {
        after,
        updated_since,
        include_deleted: p.include_deleted.unwrap_or(false),
        equals,
        limit,
    })
}

/// The change feed: rows in revision order after `cursor`. Paging to the
/// end with `includeDeleted=true` and keeping the last cursor gives a
/// consumer every change exactly once, deletes included.
async fn list(
    kind: &'static Kind,
    State(state): State<AppState>,
    auth: TenantAuthorized<SsotRead>,
    ApiQuery(p): ApiQuery<FeedParams>,
) -> ApiResult<Json<Value>> {
    let f = feed_query(kind, &p)?;
    let (rows, next) = repo::changes(state.db.as_ref(), &auth.tenant, kind, &f).await?;
    let last = rows.last().map_or(f.after, |r| r.meta.revision);
    Ok(Json(json!({
        "items": rows.iter().map(|r| r.to_json(kind)).collect::<Vec<_>>(),
        "nextCursor": next.map(|n| n.to_string()).unwrap_or_default(),
        "lastRevision": last,
    })))
}

async fn load(db: &dyn Executor, tenant: &str, kind: &'static Kind, raw: &str) -> ApiResult<SsotRow> {
    let id = ssot::parse_id(kind, raw).map_err(|e| ApiError::bad_request("invalid-id", e.to_string()))?;
    repo::get(db, tenant, kind, id.as_str())
        .await?
        .filter(|r| r.meta.deleted_at.is_none())
        .ok_or(ApiError::NotFound("row"))
}

async fn get_one(
    kind: &'static Kind,
    State(state): State<AppState>,
    auth: TenantAuthorized<SsotRead>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let row = load(state.db.as_ref(), &auth.tenant, kind, &id).await?;
    Ok(params::with_etag(&row.to_json(kind), row.meta.revision))
}

/// Turns a batch's row errors into one problem: a stale revision is a 412,
/// a clash with existing data a 409, anything else (a reference to nothing)
/// a 422.
pub(crate) fn batch_error(kind: &Kind, outcome: BatchOutcome) -> ApiError {
    let first = |r: Refusal| outcome.errors.iter().find(|e| e.refusal == r);
    if let Some(stale) = first(Refusal::Stale) {
        return ApiError::PreconditionFailed(format!("{} {}", kind.name, stale.error.message));
    }
    if let Some(c) = first(Refusal::Conflict) {
        return ApiError::conflict("duplicate", format!("{} {}", c.error.field, c.error.message));
    }
    ApiError::Rejected {
        code: "invalid-reference",
        detail: format!("{} cannot be saved as given", kind.name),
        errors: outcome.errors.into_iter().map(|e| e.error).collect(),
    }
}

fn subject_school(kind: &Kind, row: &SsotRow) -> String {
    if kind.name == "schools" {
        return row.meta.id.clone();
    }
    row.record
        .get("school_id")
        .and_then(FieldValue::as_text)
        .unwrap_or_default()
        .to_owned()
}

/// Writes one row and its audit entry in one transaction; returns it as stored.
async fn write_one(
    state: &AppState,
    auth: &TenantAuthorized<SsotWrite>,
    kind: &'static Kind,
    incoming: Incoming,
    mode: OnKeyMatch,
    before: Option<SsotRow>,
) -> ApiResult<SsotRow> {
    let tenant = auth.tenant.clone();
    let actor = auth.actor.clone();
    crate::tx::run(state, move |tx| {
        Box::pin(async move {
            let now = essp_domain::now();
            let outcome = repo::upsert_batch(tx, &tenant, kind, std::slice::from_ref(&incoming), mode, now).await?;
            if !outcome.errors.is_empty() {
                return Err(batch_error(kind, outcome));
            }
            let id = outcome.ids.first().cloned().unwrap_or_default();
            let saved = repo::get(tx, &tenant, kind, &id)
                .await?
                .ok_or_else(|| ApiError::Internal("written row vanished".into()))?;
            let school = subject_school(kind, &saved);
            let subject = Subject {
                tenant: &tenant,
                school: &school,
                entity_type: kind.name,
                entity_id: &id,
            };
            let (b, a) = (before.map(|r| r.to_json(kind)), saved.to_json(kind));
            let action = if b.is_some() { "update" } else { "create" };
            recording::record(tx, &actor, subject, action, b.as_ref(), Some(&a), now).await?;
            Ok(saved)
        })
    })
    .await
}

fn object(body: &Value) -> ApiResult<&serde_json::Map<String, Value>> {
    body.as_object()
        .ok_or_else(|| ApiError::bad_request("invalid-body", "the body must be a JSON object"))
}

async fn create(
    kind: &'static Kind,
    State(state): State<AppState>,
    auth: TenantAuthorized<SsotWrite>,
    body: ApiJson<Value>,
) -> ApiResult<Response> {
    let input = object(&body.value)?;
    if input.contains_key("id") {
        return Err(ApiError::field("id", "is assigned by the SSOT; leave it out"));
    }
    let record = ssot::validate(kind, input, None)?;
    let incoming = Incoming {
        id: None,
        record,
        expected_revision: None,
    };
    let saved = write_one(&state, &auth, kind, incoming, OnKeyMatch::Conflict, None).await?;
    let mut resp = (
        StatusCode::CREATED,
        params::with_etag(&saved.to_json(kind), saved.meta.revision),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/v1/{}/{}", kind.path, saved.meta.id)) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

async fn update(
    kind: &'static Kind,
    State(state): State<AppState>,
    auth: TenantAuthorized<SsotWrite>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: ApiJson<Value>,
) -> ApiResult<Response> {
    let expected = params::if_match(&headers)?;
    let current = load(state.db.as_ref(), &auth.tenant, kind, &id).await?;
    params::check_version(expected, current.meta.revision, kind.name)?;
    let input = object(&body.value)?;
    if let Some(given) = input.get("id")
        && given.as_str() != Some(current.meta.id.as_str())
    {
        return Err(ApiError::field("id", "cannot be changed"));
    }
    let record = ssot::validate(kind, input, Some(&current.record))?;
    let incoming = Incoming {
        id: Some(current.meta.id.clone()),
        record,
        expected_revision: Some(current.meta.revision),
    };
    let saved = write_one(&state, &auth, kind, incoming, OnKeyMatch::Update, Some(current)).await?;
    Ok(params::with_etag(&saved.to_json(kind), saved.meta.revision))
}

async fn delete(
    kind: &'static Kind,
    State(state): State<AppState>,
    auth: TenantAuthorized<SsotWrite>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let expected = params::if_match(&headers)?;
    let current = load(state.db.as_ref(), &auth.tenant, kind, &id).await?;
    let tenant = auth.tenant.clone();
    let actor = auth.actor.clone();
    crate::tx::run(&state, move |tx| {
        Box::pin(async move {
            let now = essp_domain::now();
            match repo::tombstone(tx, &tenant, kind, &current.meta.id, expected, now).await? {
                Ok(gone) => {
                    let school = subject_school(kind, &gone);
                    let subject = Subject {
                        tenant: &tenant,
                        school: &school,
                        entity_type: kind.name,
                        entity_id: &gone.meta.id,
                    };
                    let before = current.to_json(kind);
                    recording::record(tx, &actor, subject, "delete", Some(&before), None, now).await
                }
                Err(DeleteRefused::NotFound) => Err(ApiError::NotFound("row")),
                Err(DeleteRefused::Stale { current }) => Err(ApiError::PreconditionFailed(format!(
                    "{} is at revision {current}; reload and retry",
                    kind.name
                ))),
                Err(DeleteRefused::InUse { kind: child, count }) => Err(ApiError::conflict(
                    "in-use",
                    format!("{count} {child} still refer to this row; delete or move them first"),
                )),
            }
        })
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `/v1/lookup/{field}/{value}`: a live row by serial, asset tag, MAC, PUK,
/// SKU or school code. A MAC answers with its device too (original shape).
pub(super) async fn lookup(
    domains: Vec<Domain>,
    State(state): State<AppState>,
    auth: TenantAuthorized<SsotRead>,
    Path((field, value)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let column = match field.as_str() {
        "mac" => "mac_address".to_owned(),
        other => other.replace('-', "_"),
    };
    let kind = essp_domain::ssot::KINDS
        .iter()
        .filter(|k| domains.contains(&k.domain))
        .find(|k| k.lookups.contains(&column.as_str()))
        .ok_or_else(|| ApiError::bad_request("unknown-lookup", format!("cannot look rows up by {field:?}")))?;
    // A value that cannot be a MAC matches no row, like any other unknown value.
    let value = match column == "mac_address" {
        true => ssot::normalize_mac(&value).unwrap_or_else(|_| value.trim().to_owned()),
        false => value.trim().to_owned(),
    };
    let db = state.db.as_ref();
    let row = repo::find_by(db, &auth.tenant, kind, &column, &value)
        .await?
        .into_iter()
        .next()
        .ok_or(ApiError::NotFound("row"))?;
    if kind.name != "network_identities" {
        return Ok(Json(row.to_json(kind)));
    }
    let (devices, _) = network_kinds()?;
    let device_id = row
        .record
        .get("device_id")
        .and_then(FieldValue::as_text)
        .unwrap_or_default();
    let device = repo::get(db, &auth.tenant, devices, device_id).await?;
    Ok(Json(json!({
        "networkIdentity": row.to_json(kind),
        "device": device.map(|d| d.to_json(devices)),
    })))
}

fn network_kinds() -> ApiResult<(&'static Kind, &'static Kind)> {
    match (ssot::kind("devices"), ssot::kind("network_identities")) {
        (Some(d), Some(n)) => Ok((d, n)),
        _ => Err(ApiError::Internal("device kinds missing".into())),
    }
}

/// A device's MAC addresses, primary first.
async fn network_identities(
    State(state): State<AppState>,
    auth: TenantAuthorized<SsotRead>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let (devices, nets) = network_kinds()?;
    let device = load(state.db.as_ref(), &auth.tenant, devices, &id).await?;
    let mut rows = repo::find_by(state.db.as_ref(), &auth.tenant, nets, "device_id", &device.meta.id).await?;
    rows.sort_by_key(|r| !matches!(r.record.get("is_primary"), Some(FieldValue::Bool(true))));
    Ok(Json(
        json!({ "items": rows.iter().map(|r| r.to_json(nets)).collect::<Vec<_>>() }),
    ))
}

/// Adds a MAC to a device, or updates it. A MAC already on another device
/// moves only with `"rehome": true` (a re-imaged or re-cased laptop), so a
/// typo never silently steals another device's address.
async fn put_network_identity(
    State(state): State<AppState>,
    auth: TenantAuthorized<SsotWrite>,
    Path(id): Path<String>,
    body: ApiJson<Value>,
) -> ApiResult<Response> {
    let (devices, nets) = network_kinds()?;
    let device = load(state.db.as_ref(), &auth.tenant, devices, &id).await?;
    let mut input = object(&body.value)?.clone();
    let rehome = match input.remove("rehome") {
        None => false,
        Some(Value::Bool(b)) => b,
        Some(_) => return Err(ApiError::field("rehome", "must be true or false")),
    };
    input.insert("deviceId".into(), Value::String(device.meta.id.clone()));
    let record = ssot::validate(nets, &input, None)?;
    let mac = record
        .get("mac_address")
        .and_then(FieldValue::as_text)
        .unwrap_or_default();
    let existing = repo::find_by(state.db.as_ref(), &auth.tenant, nets, "mac_address", mac)
        .await?
        .into_iter()
        .next();
    if let Some(cur) = &existing {
        let owner = cur
            .record
            .get("device_id")
            .and_then(FieldValue::as_text)
            .unwrap_or_default();
        if owner != device.meta.id && !rehome {
            return Err(ApiError::conflict(
                "mac-in-use",
                format!("{mac} belongs to device {owner}; send \"rehome\": true to move it"),
            ));
        }
    }
    let created = existing.is_none();
    let incoming = Incoming {
        id: existing.as_ref().map(|r| r.meta.id.clone()),
        record,
        expected_revision: None,
    };
    let saved = write_one(&state, &auth, nets, incoming, OnKeyMatch::Update, existing).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, params::with_etag(&saved.to_json(nets), saved.meta.revision)).into_response())
}
