//! IMS's view of SSOT data (`/v1/ssot/…`): browse, lookups, sync status and
//! a sync trigger, all answered from the per-row snapshot tables, which
//! keep serving while the SSOT services are unreachable.

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use essp_domain::error::Validator;
use essp_domain::ssot::{self, Domain, FieldType, FieldValue, Kind, SsotRow};
use essp_store::Executor;
use essp_store::ssot_snapshot::{self as snapshot, Browse};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::openapi::path::{HttpMethod, Operation, OperationBuilder, Parameter};
use utoipa::openapi::schema::{AdditionalProperties, ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::{OpenApi as Document, RefOr};
use utoipa::{IntoParams, Modify, ToSchema};

use super::openapi::{integer, json_response, path_param, query_param, row_name, row_schema, string, to};
use crate::auth::TenantAuthorized;
use crate::auth::permissions::{SsotRead, SsotSync};
use crate::extract::ApiQuery;
use crate::openapi;
use crate::problem::{ApiError, ApiResult};
use crate::routes::Routes;
use crate::state::AppState;

/// The operations of this module, for `/openapi.json`: the handlers with
/// their own annotation, and the browse and single-row routes generated
/// from the tables below (the same tables [`routes`] serves).
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(status, sync, device_stats, makes),
    modifiers(&Generated),
    tags((name = "ssot-snapshots", description = "IMS's read side of the SSOT data, answered from its snapshots (which keep serving while the SSOT services are unreachable)."))
)]
pub struct Doc;

/// How one browse route filters and searches its kind.
struct Spec {
    path: &'static str,
    kind: &'static str,
    /// Columns `q` searches.
    search: &'static [&'static str],
    /// Query parameter → column equality filters.
    filters: &'static [(&'static str, &'static str)],
    order_by: &'static str,
}

const SCHOOLS: Spec = Spec {
    path: "/v1/ssot/schools",
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
    path: "/v1/ssot/schools/counties",
    kind: "counties",
    search: &["name", "code"],
    filters: &[],
    order_by: "name",
};
const SUB_COUNTIES: Spec = Spec {
    path: "/v1/ssot/schools/sub-counties",
    kind: "sub_counties",
    search: &["name", "code"],
    filters: &[("countyId", "county_id")],
    order_by: "name",
};
const DEVICES: Spec = Spec {
    path: "/v1/ssot/devices",
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
    path: "/v1/ssot/device-models",
    kind: "device_models",
    search: &["make", "model"],
    filters: &[("category", "category"), ("make", "make")],
    order_by: "make, model",
};
const PARTS: Spec = Spec {
    path: "/v1/ssot/parts",
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

const BROWSE: [&Spec; 6] = [&SCHOOLS, &COUNTIES, &SUB_COUNTIES, &DEVICES, &DEVICE_MODELS, &PARTS];

/// A route answering one row of `kind`: the one whose `key` column (or,
/// with `None`, whose id) is the path's last segment.
struct Single {
    path: &'static str,
    kind: &'static str,
    key: Option<&'static str>,
}

const SINGLE: [Single; 5] = [
    Single {
        path: "/v1/ssot/school/{id}",
        kind: "schools",
        key: None,
    },
    Single {
        path: "/v1/ssot/device/{id}",
        kind: "devices",
        key: None,
    },
    Single {
        path: "/v1/ssot/device/serial/{serial}",
        kind: "devices",
        key: Some("serial"),
    },
    Single {
        path: "/v1/ssot/part/{id}",
        kind: "parts",
        key: None,
    },
    Single {
        path: "/v1/ssot/part/puk/{puk}",
        kind: "parts",
        key: Some("puk"),
    },
];

const PRIMARY_CONTACT: &str = "/v1/ssot/school/{id}/primary-contact";

pub fn routes() -> Routes {
    let mut r = Routes::new()
        .route("/v1/ssot/status", get(status))
        .route("/v1/ssot/sync/{resource}", post(sync))
        .route("/v1/ssot/devices/stats", get(device_stats))
        .route("/v1/ssot/device-models/makes", get(makes))
        .route(PRIMARY_CONTACT, get(primary_contact));
    for spec in BROWSE {
        r = r.route(spec.path, get(move |s, a, q| browse(spec, s, a, q)));
    }
    for single in &SINGLE {
        r = r.route(single.path, get(move |s, a, p| one(single, s, a, p)));
    }
    r
}

/// The reference filters a browse takes by the referenced row's code
/// (`countyCode`): one per reference to a kind that has codes.
fn code_filters(kind: &Kind) -> impl Iterator<Item = (String, &'static str, &'static Kind)> + '_ {
    kind.fields.iter().filter_map(|f| match f.ty {
        FieldType::Ref(t) => ssot::kind(t)
            .filter(|target| target.field("code").is_some())
            .map(|target| {
                (
                    format!("{}Code", f.json.strip_suffix("Id").unwrap_or(f.json)),
                    f.column,
                    target,
                )
            }),
        _ => None,
    })
}

/// The names of referenced rows IMS adds to each row (`countyCode`,
/// `countyName`, `deviceModelName` …), when the referenced row is known.
fn decorations(kind: &Kind) -> Vec<(String, Schema)> {
    let mut out = Vec::new();
    for f in kind.fields {
        let FieldType::Ref(target) = f.ty else { continue };
        let stem = f.json.strip_suffix("Id").unwrap_or(f.json);
        if ssot::kind(target).is_some_and(|t| t.field("code").is_some()) {
            out.push((format!("{stem}Code"), string()));
        }
        out.push((format!("{stem}Name"), string()));
    }
    out
}

/// The browse and single-row operations, from [`BROWSE`] and [`SINGLE`].
struct Generated;

impl Modify for Generated {
    fn modify(&self, doc: &mut Document) {
        let mut schemas: BTreeMap<String, RefOr<Schema>> = BTreeMap::new();
        let mut view = |kind: &'static Kind| {
            let name = format!("{}View", row_name(kind));
            schemas.insert(name.clone(), row_schema(kind, &decorations(kind)).into());
            name
        };
        let mut operations = Vec::new();
        let mut pages = Vec::new();
        for spec in BROWSE {
            let Some(kind) = ssot::kind(spec.kind) else { continue };
            let page = format!("{}Page", view(kind));
            operations.push((spec.path, browse_operation(spec, kind, &page)));
            pages.push(page);
        }
        for single in &SINGLE {
            let Some(kind) = ssot::kind(single.kind) else { continue };
            let (param, what) = single.key.map_or(("id", "id"), |k| (k, k));
            let operation = snapshot_operation(
                format!("{}_by_{what}", kind.name),
                format!("One {} by {what}", kind.name.replace('_', " ")),
            )
            .parameter(path_param(
                param,
                string(),
                "Matched exactly (surrounding blanks ignored).",
            ))
            .response("200", json_response("The row", to(&view(kind))))
            .build();
            operations.push((single.path, operation));
        }
        for page in pages {
            let row = page.trim_end_matches("Page");
            let schema = ObjectBuilder::new()
                .property("items", ArrayBuilder::new().items(to(row)))
                .required("items")
                .property("total", integer(0))
                .required("total")
                .property("limit", integer(1))
                .required("limit")
                .property("offset", integer(0))
                .required("offset")
                .additional_properties(Some(AdditionalProperties::FreeForm(false)));
            schemas.insert(page, Schema::from(schema).into());
        }
        if let Some(contacts) = ssot::kind("school_contacts") {
            let row = row_name(contacts);
            schemas.insert(row.clone(), row_schema(contacts, &[]).into());
            let operation = snapshot_operation("school_primary_contact".into(), "A school's primary contact".into())
                .description(Some("The active contact marked primary, else the first active one."))
                .parameter(path_param("id", string(), "The school's id."))
                .response("200", json_response("The contact", to(&row)))
                .build();
            operations.push((PRIMARY_CONTACT, operation));
        }
        for (path, operation) in operations {
            doc.paths.add_path_operation(path, vec![HttpMethod::Get], operation);
        }
        doc.components
            .get_or_insert_with(Default::default)
            .schemas
            .extend(schemas);
    }
}

fn snapshot_operation(id: String, summary: String) -> OperationBuilder {
    OperationBuilder::new()
        .tag("ssot-snapshots")
        .operation_id(Some(id))
        .summary(Some(summary))
}

/// The largest `offset` of a browse page: deeper than any register, and
/// safely inside every engine's integer.
const MAX_OFFSET: u64 = 1_000_000_000;

/// A browse route's operation: paging, search, and its filters.
fn browse_operation(spec: &Spec, kind: &Kind, page: &str) -> Operation {
    let mut params: Vec<Parameter> = vec![
        query_param(
            "q",
            openapi::text::<200>(),
            &format!("Words to find in {}.", spec.search.join(", ")),
        ),
        query_param("limit", openapi::limit(), "Rows per page (default 50)."),
        query_param(
            "offset",
            OneOfBuilder::new()
                .item(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(0))
                        .maximum(Some(MAX_OFFSET)),
                )
                .item(ObjectBuilder::new().schema_type(Type::String).max_length(Some(0))),
            "Rows to skip; empty is 0.",
        ),
    ];
    for (name, _) in spec.filters {
        params.push(query_param(name, string(), "Only rows with exactly this value."));
    }
    for (name, _, target) in code_filters(kind) {
        params.push(query_param(
            &name,
            string(),
            &format!("Only rows of the {} with this code.", target.name.replace('_', " ")),
        ));
    }
    snapshot_operation(
        format!("browse_{}", kind.name),
        format!("Browse the {} snapshot", kind.name.replace('_', " ")),
    )
    .parameters(Some(params))
    .response(
        "200",
        json_response(&format!("A page of rows, by {}", spec.order_by), to(page)),
    )
    .build()
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
            .check(
                "offset",
                s.parse::<u64>()
                    .ok()
                    .filter(|o| *o <= MAX_OFFSET)
                    .ok_or(format!("must be a whole number from 0 to {MAX_OFFSET}")),
            )
            .unwrap_or(0),
    };
    let mut equals = Vec::new();
    for (name, value) in &p.filters {
        if let Some((_, column)) = spec.filters.iter().find(|(n, _)| n == name) {
            equals.push((*column, value.trim().to_owned()));
            continue;
        }
        // `countyCode` / `subCountyCode`: a reference given by the target's code.
        let by_code = code_filters(kind).find(|(n, _, _)| n == name);
        match by_code {
            Some((_, column, target)) => {
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
    let search = crate::params::text_filter(&mut v, "q", p.q.as_deref(), 200).map(|q| (spec.search.to_vec(), q));
    v.finish()?;
    let b = Browse {
        equals,
        search,
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

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatsParams {
    /// Only the devices of this school.
    #[param(schema_with = openapi::text::<64>)]
    school_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = SsotDeviceStats)]
pub struct DeviceStats {
    total: i64,
    /// Devices per lifecycle state (only states with devices).
    by_lifecycle: BTreeMap<String, i64>,
}

/// Devices per lifecycle state (optionally of one school).
#[utoipa::path(get, path = "/v1/ssot/devices/stats", tag = "ssot-snapshots", params(StatsParams),
    responses((status = 200, description = "Device counts", body = DeviceStats)))]
async fn device_stats(
    State(state): State<AppState>,
    auth: TenantAuthorized<SsotRead>,
    ApiQuery(p): ApiQuery<StatsParams>,
) -> ApiResult<Json<DeviceStats>> {
    let mut v = Validator::new();
    let filter = crate::params::text_filter(&mut v, "schoolId", p.school_id.as_deref(), 64);
    v.finish()?;
    let counts = snapshot::count_by(
        state.db.as_ref(),
        &auth.tenant,
        kind("devices")?,
        "lifecycle",
        filter.as_deref().map(|s| ("school_id", s)),
    )
    .await?;
    Ok(Json(DeviceStats {
        total: counts.iter().map(|(_, n)| n).sum(),
        by_lifecycle: counts.into_iter().collect(),
    }))
}

#[derive(Serialize, ToSchema)]
#[schema(as = SsotMakes)]
pub struct Makes {
    items: Vec<String>,
}

/// The device makes in the snapshot, for pickers.
#[utoipa::path(get, path = "/v1/ssot/device-models/makes", tag = "ssot-snapshots",
    responses((status = 200, description = "Every make, once", body = Makes)))]
async fn makes(State(state): State<AppState>, auth: TenantAuthorized<SsotRead>) -> ApiResult<Json<Makes>> {
    let items = snapshot::distinct(state.db.as_ref(), &auth.tenant, kind("device_models")?, "make").await?;
    Ok(Json(Makes { items }))
}

async fn answer(db: &dyn Executor, tenant: &str, kind: &Kind, row: Option<SsotRow>) -> ApiResult<Json<Value>> {
    let row = row.ok_or(ApiError::NotFound("row"))?;
    let mut items = decorate(db, tenant, kind, std::slice::from_ref(&row)).await?;
    Ok(Json(items.pop().unwrap_or_default()))
}

/// A [`Single`] route: the row with this id or key.
async fn one(
    single: &'static Single,
    State(state): State<AppState>,
    auth: TenantAuthorized<SsotRead>,
    Path(value): Path<String>,
) -> ApiResult<Json<Value>> {
    let kind = kind(single.kind)?;
    let db = state.db.as_ref();
    let row = match single.key {
        None => snapshot::get(db, &auth.tenant, kind, value.trim()).await?,
        Some(column) => snapshot::find_by(db, &auth.tenant, kind, column, value.trim())
            .await?
            .into_iter()
            .next(),
    };
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

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = SsotSyncStatus)]
pub struct SyncStatus {
    tenant_id: String,
    /// By kind name (`schools`, `sub_counties` …), every kind.
    resources: BTreeMap<&'static str, ResourceStatus>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = SsotResourceStatus)]
pub struct ResourceStatus {
    /// Live rows in the snapshot.
    count: i64,
    /// The checkpoint: the SSOT revision the snapshot is current to.
    last_revision: i64,
    last_sync_at: Option<DateTime<Utc>>,
    /// Empty when the last sync succeeded.
    last_error: String,
    rows_applied: i64,
}

/// Per resource: rows held, checkpoint revision, last sync and last error.
#[utoipa::path(get, path = "/v1/ssot/status", tag = "ssot-snapshots",
    responses((status = 200, description = "Sync state of every kind", body = SyncStatus)))]
async fn status(State(state): State<AppState>, auth: TenantAuthorized<SsotRead>) -> ApiResult<Json<SyncStatus>> {
    let db = state.db.as_ref();
    let states = snapshot::states(db, &auth.tenant).await?;
    let mut resources = BTreeMap::new();
    for k in ssot::KINDS {
        let st = states.iter().find(|s| s.resource == k.name);
        resources.insert(
            k.name,
            ResourceStatus {
                count: snapshot::count(db, &auth.tenant, k).await?,
                last_revision: st.map_or(0, |s| s.last_revision),
                last_sync_at: st.and_then(|s| s.last_sync_at),
                last_error: st.map(|s| s.last_error.clone()).unwrap_or_default(),
                rows_applied: st.map_or(0, |s| s.rows_applied),
            },
        );
    }
    Ok(Json(SyncStatus {
        tenant_id: auth.tenant,
        resources,
    }))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = SsotSyncResult)]
pub struct SyncResult {
    ok: bool,
    /// The resource as named in the path.
    resource: String,
    /// Rows applied, over all kinds.
    synced: u64,
    kinds: BTreeMap<&'static str, KindSync>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = SsotKindSync)]
pub struct KindSync {
    applied: u64,
    last_revision: i64,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
struct SyncPath {
    /// The domain (`school` is the same as `schools`).
    #[param(schema_with = sync_resource)]
    resource: String,
}

fn sync_resource() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["schools", "school", "devices", "parts"]))
        .into()
}

/// `POST /v1/ssot/sync/{schools|devices|parts}`: reconcile that domain's
/// snapshots for the caller's tenant now.
#[utoipa::path(post, path = "/v1/ssot/sync/{resource}", tag = "ssot-snapshots",
    params(SyncPath),
    responses(
        (status = 200, description = "Synced", body = SyncResult),
        (status = 502, description = "The SSOT service failed or answered nonsense.", body = crate::problem::Problem,
            content_type = "application/problem+json")))]
async fn sync(
    State(state): State<AppState>,
    auth: TenantAuthorized<SsotSync>,
    Path(resource): Path<String>,
) -> ApiResult<Json<SyncResult>> {
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
    Ok(Json(SyncResult {
        ok: true,
        resource,
        synced: results.iter().map(|(_, n, _)| n).sum(),
        kinds: results
            .into_iter()
            .map(|(k, applied, last_revision)| (k, KindSync { applied, last_revision }))
            .collect(),
    }))
}
