//! IMS's view of SSOT data (`/v1/ssot/…`): browse, lookups, sync status and
//! a sync trigger, all answered from the per-row snapshot tables, which
//! keep serving while the SSOT services are unreachable.

use std::collections::HashMap;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use essp_domain::error::Validator;
use essp_domain::ssot::{self, Domain, FieldType, FieldValue, Kind, SsotRow};
use essp_store::Executor;
use essp_store::ssot_snapshot::{self as snapshot, Browse};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::TenantAuthorized;
use crate::auth::permissions::{SsotRead, SsotSync};
use crate::extract::ApiQuery;
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

/// How one browse route filters and searches its kind.
struct Spec {
    kind: &'static str,
    /// Columns `q` searches.
    search: &'static [&'static str],
    /// Query parameter → column equality filters.
    filters: &'static [(&'static str, &'static str)],
    order_by: &'static str,
}

const SCHOOLS: Spec = Spec {
    kind: "schools",
    search: &["name", "code", "knec_code", "uic"],
    filters: &[
        ("countyId", "county_id"),
        ("subCountyId", "sub_county_id"),
        ("level", "level"),
        ("type", "school_type"),
    ],
    order_by: "name",
};
const COUNTIES: Spec = Spec {
    kind: "counties",
    search: &["name", "code"],
    filters: &[],
    order_by: "name",
};
const SUB_COUNTIES: Spec = Spec {
    kind: "sub_counties",
    search: &["name", "code"],
    filters: &[("countyId", "county_id")],
    order_by: "name",
};
const DEVICES: Spec = Spec {
    kind: "devices",
    search: &["serial", "asset_tag", "assigned_to"],
    filters: &[
        ("schoolId", "school_id"),
        ("status", "lifecycle"),
        ("deviceModelId", "device_model_id"),
    ],
    order_by: "serial",
};
const DEVICE_MODELS: Spec = Spec {
    kind: "device_models",
    search: &["make", "model"],
    filters: &[("category", "category"), ("make", "make")],
    order_by: "make, model",
};
const PARTS: Spec = Spec {
    kind: "parts",
    search: &["name", "puk", "sku"],
    filters: &[("category", "category")],
    order_by: "name",
};

/// Something that can bring the snapshots up to date now (the sync worker).
#[async_trait::async_trait]
pub trait SnapshotSync: Send + Sync {
    /// Pulls every change of `kinds` for `tenant` since the checkpoint;
    /// returns rows applied and the revision reached per kind.
    async fn sync_now(&self, tenant: &str, kinds: &[&'static Kind]) -> Result<Vec<(&'static str, u64, i64)>, String>;
}

pub fn routes() -> Router<AppState> {
    let browse_route = |spec: &'static Spec| get(move |s, a, q| browse(spec, s, a, q));
    Router::new()
        .route("/v1/ssot/status", get(status))
        .route("/v1/ssot/sync/{resource}", post(sync))
        .route("/v1/ssot/schools", browse_route(&SCHOOLS))
        .route("/v1/ssot/schools/counties", browse_route(&COUNTIES))
        .route("/v1/ssot/schools/sub-counties", browse_route(&SUB_COUNTIES))
        .route("/v1/ssot/devices", browse_route(&DEVICES))
        .route("/v1/ssot/devices/stats", get(device_stats))
        .route("/v1/ssot/device-models", browse_route(&DEVICE_MODELS))
        .route("/v1/ssot/device-models/makes", get(makes))
        .route("/v1/ssot/parts", browse_route(&PARTS))
        .route("/v1/ssot/school/{id}", get(|s, a, p| one("schools", s, a, p)))
        .route("/v1/ssot/school/{id}/primary-contact", get(primary_contact))
        .route("/v1/ssot/device/{id}", get(|s, a, p| one("devices", s, a, p)))
        .route(
            "/v1/ssot/device/serial/{serial}",
            get(|s, a, p| by_key("devices", "serial", s, a, p)),
        )
        .route("/v1/ssot/part/{id}", get(|s, a, p| one("parts", s, a, p)))
        .route(
            "/v1/ssot/part/puk/{puk}",
            get(|s, a, p| by_key("parts", "puk", s, a, p)),
        )
}

fn kind(name: &str) -> ApiResult<&'static Kind> {
    ssot::kind(name).ok_or_else(|| ApiError::Internal(format!("kind {name} missing")))
}

/// Adds the code and name of every referenced row (`countyCode`,
/// `countyName`, `deviceModelName` …) to a page of rows.
async fn decorate(db: &dyn Executor, tenant: &str, kind: &Kind, rows: &[SsotRow]) -> ApiResult<Vec<Value>> {
    let mut out: Vec<Value> = rows.iter().map(|r| r.to_json(kind)).collect();
    for f in kind.fields {
        let FieldType::Ref(target) = f.ty else { continue };
        let target = self::kind(target)?;
        let ids: Vec<&str> = rows
            .iter()
            .filter_map(|r| r.record.get(f.column).and_then(FieldValue::as_text))
            .filter(|s| !s.is_empty())
            .collect();
        if ids.is_empty() {
            continue;
        }
        let found = snapshot::by_ids(db, tenant, target, &ids).await?;
        let stem = f.json.strip_suffix("Id").unwrap_or(f.json);
        for (row, json) in rows.iter().zip(out.iter_mut()) {
            let Some(obj) = json.as_object_mut() else { continue };
            let Some(t) = row
                .record
                .get(f.column)
                .and_then(FieldValue::as_text)
                .and_then(|id| found.get(id))
            else {
                continue;
            };
            let text = |c: &str| {
                t.record
                    .get(c)
                    .and_then(FieldValue::as_text)
                    .unwrap_or_default()
                    .to_owned()
            };
            if t.record.contains_key("code") {
                obj.insert(format!("{stem}Code"), json!(text("code")));
            }
            let name = if t.record.contains_key("name") {
                text("name")
            } else {
                format!("{} {}", text("make"), text("model")).trim().to_owned()
            };
            obj.insert(format!("{stem}Name"), json!(name));
        }
    }
    Ok(out)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BrowseParams {
    q: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
    #[serde(flatten)]
    filters: HashMap<String, String>,
}

async fn browse(
    spec: &'static Spec,
    State(state): State<AppState>,
    auth: TenantAuthorized<SsotRead>,
    ApiQuery(p): ApiQuery<BrowseParams>,
) -> ApiResult<Json<Value>> {
    let kind = kind(spec.kind)?;
    let db = state.db.as_ref();
    let mut v = Validator::new();
    let limit = crate::params::limit(&mut v, p.limit.as_deref());
    let offset = match p.offset.as_deref() {
        None | Some("") => 0,
        Some(s) => v
            .check("offset", s.parse::<u64>().map_err(|_| "must be a whole number ≥ 0"))
            .unwrap_or(0),
    };
    let mut equals = Vec::new();
    for (name, value) in &p.filters {
        if let Some((_, column)) = spec.filters.iter().find(|(n, _)| n == name) {
            equals.push((*column, value.trim().to_owned()));
            continue;
        }
        // `countyCode` / `subCountyCode`: a reference given by the target's code.
        let by_code = kind.fields.iter().find_map(|f| match f.ty {
            FieldType::Ref(t) if format!("{}Code", f.json.strip_suffix("Id").unwrap_or(f.json)) == *name => {
                Some((f.column, t))
            }
            _ => None,
        });
        match by_code {
            Some((column, target)) => {
                let target = self::kind(target)?;
                let id = snapshot::find_by(db, &auth.tenant, target, "code", value.trim())
                    .await?
                    .into_iter()
                    .next()
                    .map(|r| r.meta.id)
                    .unwrap_or_default();
                equals.push((column, id));
            }
            None => v.push(name, "is not a filter of this list"),
        }
    }
    v.finish()?;
    let b = Browse {
        equals,
        search: crate::params::filter_text(&p.q).map(|q| (spec.search.to_vec(), q)),
        limit,
        offset,
        order_by: spec.order_by,
    };
    let (rows, total) = snapshot::browse(db, &auth.tenant, kind, &b).await?;
    Ok(Json(json!({
        "items": decorate(db, &auth.tenant, kind, &rows).await?,
        "total": total,
        "limit": limit,
        "offset": offset,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StatsParams {
    school_id: Option<String>,
}

/// Devices per lifecycle state (optionally of one school).
async fn device_stats(
    State(state): State<AppState>,
    auth: TenantAuthorized<SsotRead>,
    ApiQuery(p): ApiQuery<StatsParams>,
) -> ApiResult<Json<Value>> {
    let filter = crate::params::filter_text(&p.school_id);
    let counts = snapshot::count_by(
        state.db.as_ref(),
        &auth.tenant,
        kind("devices")?,
        "lifecycle",
        filter.as_deref().map(|s| ("school_id", s)),
    )
    .await?;
    let total: i64 = counts.iter().map(|(_, n)| n).sum();
    let by: serde_json::Map<String, Value> = counts.into_iter().map(|(k, n)| (k, json!(n))).collect();
    Ok(Json(json!({"total": total, "byLifecycle": by})))
}

async fn makes(State(state): State<AppState>, auth: TenantAuthorized<SsotRead>) -> ApiResult<Json<Value>> {
    let items = snapshot::distinct(state.db.as_ref(), &auth.tenant, kind("device_models")?, "make").await?;
    Ok(Json(json!({ "items": items })))
}

async fn answer(db: &dyn Executor, tenant: &str, kind: &Kind, row: Option<SsotRow>) -> ApiResult<Json<Value>> {
    let row = row.ok_or(ApiError::NotFound("row"))?;
    let mut items = decorate(db, tenant, kind, std::slice::from_ref(&row)).await?;
    Ok(Json(items.pop().unwrap_or_default()))
}

async fn one(
    kind_name: &'static str,
    State(state): State<AppState>,
    auth: TenantAuthorized<SsotRead>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let kind = kind(kind_name)?;
    let db = state.db.as_ref();
    let row = snapshot::get(db, &auth.tenant, kind, id.trim()).await?;
    answer(db, &auth.tenant, kind, row).await
}

async fn by_key(
    kind_name: &'static str,
    column: &'static str,
    State(state): State<AppState>,
    auth: TenantAuthorized<SsotRead>,
    Path(value): Path<String>,
) -> ApiResult<Json<Value>> {
    let kind = kind(kind_name)?;
    let db = state.db.as_ref();
    let row = snapshot::find_by(db, &auth.tenant, kind, column, value.trim())
        .await?
        .into_iter()
        .next();
    answer(db, &auth.tenant, kind, row).await
}

/// The school's primary contact: the active one marked primary, else the
/// first active one.
async fn primary_contact(
    State(state): State<AppState>,
    auth: TenantAuthorized<SsotRead>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let contacts = kind("school_contacts")?;
    let rows = snapshot::find_by(state.db.as_ref(), &auth.tenant, contacts, "school_id", id.trim()).await?;
    let is = |r: &SsotRow, c: &str| matches!(r.record.get(c), Some(FieldValue::Bool(true)));
    let best = rows
        .iter()
        .filter(|r| is(r, "active"))
        .max_by_key(|r| is(r, "is_primary"))
        .or_else(|| rows.first())
        .filter(|r| is(r, "active"))
        .ok_or(ApiError::NotFound("contact"))?;
    Ok(Json(best.to_json(contacts)))
}

/// Per resource: rows held, checkpoint revision, last sync and last error.
async fn status(State(state): State<AppState>, auth: TenantAuthorized<SsotRead>) -> ApiResult<Json<Value>> {
    let db = state.db.as_ref();
    let states = snapshot::states(db, &auth.tenant).await?;
    let mut resources = serde_json::Map::new();
    for k in ssot::KINDS {
        let st = states.iter().find(|s| s.resource == k.name);
        resources.insert(
            k.name.into(),
            json!({
                "count": snapshot::count(db, &auth.tenant, k).await?,
                "lastRevision": st.map_or(0, |s| s.last_revision),
                "lastSyncAt": st.and_then(|s| s.last_sync_at),
                "lastError": st.map(|s| s.last_error.clone()).unwrap_or_default(),
                "rowsApplied": st.map_or(0, |s| s.rows_applied),
            }),
        );
    }
    Ok(Json(json!({ "tenantId": auth.tenant, "resources": resources })))
}

/// `POST /v1/ssot/sync/{schools|devices|parts}`: reconcile that domain's
/// snapshots for the caller's tenant now.
async fn sync(
    State(state): State<AppState>,
    auth: TenantAuthorized<SsotSync>,
    Path(resource): Path<String>,
) -> ApiResult<Json<Value>> {
    let domain = match resource.as_str() {
        "schools" | "school" => Domain::School,
        "devices" => Domain::Devices,
        "parts" => Domain::Parts,
        other => {
            return Err(ApiError::bad_request(
                "unknown-resource",
                format!("{other:?} is not one of schools, devices, parts"),
            ));
        }
    };
    let syncer = state.ssot_sync.as_ref().ok_or_else(|| {
        ApiError::bad_request(
            "ssot-sync-disabled",
            "SSOT sync is not configured here (set *_SSOT_BASE_URL or run the SSOT role in this process)",
        )
    })?;
    let kinds: Vec<&'static Kind> = domain.kinds().collect();
    let results = syncer
        .sync_now(&auth.tenant, &kinds)
        .await
        .map_err(ApiError::Upstream)?;
    let synced: u64 = results.iter().map(|(_, n, _)| n).sum();
    let per_kind: serde_json::Map<String, Value> = results
        .iter()
        .map(|(k, n, rev)| ((*k).to_owned(), json!({"applied": n, "lastRevision": rev})))
        .collect();
    Ok(Json(
        json!({"ok": true, "resource": resource, "synced": synced, "kinds": per_kind}),
    ))
}
