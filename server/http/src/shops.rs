//! `/v1/service-shops` and `/v1/service-staff`: the repair network. Tenant
//! wide; every change audited in its transaction.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use essp_domain::Id;
use essp_domain::error::{Validator, optional_text, required_text};
use essp_domain::scope::parse_scope_part;
use essp_domain::shop::{CoverageLevel, ServiceShop, ServiceStaff, StaffRole, parse_phone};
use essp_store::shops::{self, ShopFilter, StaffFilter, StaffStats};
use serde::{Deserialize, Serialize};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AllOfBuilder, AnyOfBuilder, ObjectBuilder, Schema, Type};
use utoipa::{IntoParams, ToSchema};

use crate::auth::TenantAuthorized;
use crate::auth::permissions::{
    ServiceShopCreate, ServiceShopRead, ServiceShopUpdate, ServiceStaffCreate, ServiceStaffRead, ServiceStaffUpdate,
};
use crate::extract::{ApiJson, ApiQuery};
use crate::idempotency::{self, Created, IdempotencyKey};
use crate::openapi::{self, Listing, code_schema, id_of, optional_code_schema, phone_schema, schema_type, variant};
use crate::params;
use crate::problem::{ApiError, ApiResult};
use crate::recording::{self, Subject};
use crate::state::AppState;

/// The operations of this module, for `/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        create_shop, get_shop, update_shop, delete_shop, list_shops,
        create_staff, get_staff, update_staff, delete_staff, list_staff, staff_stats
    ),
    tags((name = "service-shops", description = "The repair network: service shops and the staff who work in them."))
)]
pub struct Doc;

// ---- schemas of the values this module (and its neighbours) validate ----

pub(crate) fn shop_id() -> Schema {
    id_of("shop")
}

schema_type!(
    /// A service shop id.
    ShopId = shop_id()
);

schema_type!(
    /// A school (or county) code.
    Code = code_schema()
);

fn subject<'a>(tenant: &'a str, entity_type: &'a str, id: &'a Id) -> Subject<'a> {
    Subject {
        tenant,
        school: "",
        entity_type,
        entity_id: id.as_str(),
    }
}

fn code(v: &mut Validator, field: &str, raw: Option<&str>, required: bool) -> String {
    match raw.map(str::trim).filter(|r| !r.is_empty()) {
        Some(r) => v.check(field, parse_scope_part(Some(r))).unwrap_or_default(),
        None if required => {
            v.push(field, "is required");
            String::new()
        }
        None => String::new(),
    }
}

fn flag(v: &mut Validator, field: &str, raw: Option<&str>) -> Option<bool> {
    raw.and_then(|a| v.check(field, a.parse::<bool>().map_err(|_| "must be true or false")))
}

// ---- shops ----

/// A service shop's fields. A create needs `name` and `countyCode`; an
/// update changes the fields given and keeps the others. `null` is refused.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ShopBody {
    #[serde(default, deserialize_with = "params::no_null")]
    #[schema(schema_with = openapi::required_text::<200>)]
    name: Option<String>,
    #[serde(default, deserialize_with = "params::no_null")]
    #[schema(schema_with = openapi::edit_text::<500>)]
    location: Option<String>,
    #[serde(default, deserialize_with = "params::no_null")]
    #[schema(schema_with = code_schema)]
    county_code: Option<String>,
    #[serde(default, deserialize_with = "params::no_null")]
    #[schema(schema_with = openapi::edit_text::<200>)]
    county_name: Option<String>,
    /// Required (non-empty) for `sub_county` coverage; empty clears it.
    #[serde(default, deserialize_with = "params::no_null")]
    #[schema(schema_with = optional_code_schema)]
    sub_county_code: Option<String>,
    #[serde(default, deserialize_with = "params::no_null")]
    #[schema(schema_with = openapi::edit_text::<200>)]
    sub_county_name: Option<String>,
    /// Defaults to `county`.
    #[serde(default, deserialize_with = "params::no_null")]
    #[schema(value_type = CoverageLevel)]
    coverage_level: Option<String>,
    /// New shops are active.
    #[serde(default, deserialize_with = "params::no_null")]
    #[schema(value_type = bool)]
    active: Option<bool>,
}

/// `coverageLevel: sub_county` needs a `subCountyCode` beside it. (An
/// update that leaves the code out is also refused when the shop has none.)
fn sub_county_rule(body: RefOr<Schema>) -> RefOr<Schema> {
    let others: Vec<&str> = CoverageLevel::ALL
        .iter()
        .filter(|l| **l != CoverageLevel::SubCounty)
        .map(|l| l.as_str())
        .collect();
    let other_level = ObjectBuilder::new().property(
        "coverageLevel",
        ObjectBuilder::new().schema_type(Type::String).enum_values(Some(others)),
    );
    let with_code = ObjectBuilder::new()
        .property("subCountyCode", code_schema())
        .required("subCountyCode");
    AllOfBuilder::new()
        .item(body)
        .item(AnyOfBuilder::new().item(other_level).item(with_code))
        .into()
}

schema_type!(
    /// A new service shop.
    NewServiceShop from ShopBody = sub_county_rule(variant::<ShopBody>(&["name", "countyCode"], &[]))
);
schema_type!(
    /// The fields of a shop to change; those left out stay as they are.
    ServiceShopPatch from ShopBody = sub_county_rule(ShopBody::schema())
);

/// Applies the body's fields onto `shop` (all of them on create, the
/// present ones on update), validating each.
fn apply_shop(shop: &mut ServiceShop, b: &ShopBody, creating: bool) -> ApiResult<()> {
    let mut v = Validator::new();
    if creating || b.name.is_some() {
        shop.name = v
            .check("name", required_text(b.name.as_deref(), 200))
            .unwrap_or_default();
    }
    if let Some(l) = &b.location {
        shop.location = v.check("location", optional_text(Some(l), 500)).unwrap_or_default();
    }
    if creating || b.county_code.is_some() {
        shop.county_code = code(&mut v, "countyCode", b.county_code.as_deref(), true);
    }
    if let Some(n) = &b.county_name {
        shop.county_name = v.check("countyName", optional_text(Some(n), 200)).unwrap_or_default();
    }
    if b.sub_county_code.is_some() {
        shop.sub_county_code = code(&mut v, "subCountyCode", b.sub_county_code.as_deref(), false);
    }
    if let Some(n) = &b.sub_county_name {
        shop.sub_county_name = v
            .check("subCountyName", optional_text(Some(n), 200))
            .unwrap_or_default();
    }
    if let Some(c) = &b.coverage_level
        && let Some(level) = v.check("coverageLevel", c.parse::<CoverageLevel>())
    {
        shop.coverage_level = level;
    }
    if let Some(a) = b.active {
        shop.active = a;
    }
    if shop.coverage_level == CoverageLevel::SubCounty && shop.sub_county_code.is_empty() {
        v.push("subCountyCode", "is required for sub_county coverage");
    }
    v.finish()?;
    Ok(())
}

/// `POST /v1/service-shops`: adds a shop (active unless `active: false`).
#[utoipa::path(post, path = "/v1/service-shops", tag = "service-shops",
    params(openapi::IdempotencyKey),
    request_body = NewServiceShop,
    responses((status = 201, description = "Added", body = ServiceShop, headers(("Location" = String), ("ETag" = String)))))]
pub async fn create_shop(
    State(state): State<AppState>,
    auth: TenantAuthorized<ServiceShopCreate>,
    key: IdempotencyKey,
    body: ApiJson<ShopBody>,
) -> ApiResult<Response> {
    let now = essp_domain::now();
    let mut shop = ServiceShop {
        id: Id::new("shop"),
        tenant_id: auth.tenant.clone(),
        name: String::new(),
        location: String::new(),
        county_code: String::new(),
        county_name: String::new(),
        sub_county_code: String::new(),
        sub_county_name: String::new(),
        coverage_level: CoverageLevel::County,
        // Unlike the original (omitted = inactive), a new shop is active.
        active: true,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    apply_shop(&mut shop, &body.value, true)?;
    let hash = idempotency::request_hash("POST /v1/service-shops", &body.raw);
    let actor = auth.actor.clone();
    idempotency::create(
        &state,
        &auth.tenant,
        &key,
        hash,
        "service_shops_created_total",
        move |tx| {
            Box::pin(async move {
                shops::insert_shop(tx, &shop).await?;
                recording::record(
                    tx,
                    &actor,
                    subject(&shop.tenant_id, "service_shop", &shop.id),
                    "create",
                    None,
                    Some(&shop),
                    now,
                )
                .await?;
                Created::json(&shop, format!("/v1/service-shops/{}", shop.id), shop.version)
            })
        },
    )
    .await
}

async fn load_shop(state: &AppState, tenant: &str, raw: &str) -> ApiResult<ServiceShop> {
    let id = params::id("shop", "service shop", raw)?;
    shops::get_shop(state.db.as_ref(), tenant, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("service shop"))
}

#[utoipa::path(get, path = "/v1/service-shops/{id}", tag = "service-shops",
    params(("id" = String, Path, pattern = "^shop_[0-9A-HJKMNP-TV-Z]{26}$")),
    responses((status = 200, description = "The shop", body = ServiceShop, headers(("ETag" = String)))))]
pub async fn get_shop(
    State(state): State<AppState>,
    auth: TenantAuthorized<ServiceShopRead>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let shop = load_shop(&state, &auth.tenant, &id).await?;
    Ok(params::with_etag(&shop, shop.version))
}

/// `PATCH /v1/service-shops/{id}`: changes the fields given.
#[utoipa::path(patch, path = "/v1/service-shops/{id}", tag = "service-shops",
    params(("id" = String, Path, pattern = "^shop_[0-9A-HJKMNP-TV-Z]{26}$"), openapi::IfMatch),
    request_body = ServiceShopPatch,
    responses((status = 200, description = "Changed", body = ServiceShop, headers(("ETag" = String)))))]
pub async fn update_shop(
    State(state): State<AppState>,
    auth: TenantAuthorized<ServiceShopUpdate>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: ApiJson<ShopBody>,
) -> ApiResult<Response> {
    let expected = params::if_match(&headers)?;
    let current = load_shop(&state, &auth.tenant, &id).await?;
    params::check_version(expected, current.version, "service shop")?;
    let mut next = current.clone();
    apply_shop(&mut next, &body.value, false)?;
    next.updated_at = essp_domain::now();
    let saved = recording::save_audited(&state, &auth.actor, "update", current, next, |tx, cur, next| {
        Box::pin(shops::save_shop(tx, cur.version, next))
    })
    .await?;
    Ok(params::with_etag(&saved, saved.version))
}

/// Deletes a shop without staff or stock (deactivate it otherwise:
/// `active: false`).
#[utoipa::path(delete, path = "/v1/service-shops/{id}", tag = "service-shops",
    params(("id" = String, Path, pattern = "^shop_[0-9A-HJKMNP-TV-Z]{26}$")),
    responses((status = 204, description = "Deleted")))]
pub async fn delete_shop(
    State(state): State<AppState>,
    auth: TenantAuthorized<ServiceShopUpdate>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let current = load_shop(&state, &auth.tenant, &id).await?;
    if shops::staff_count_in_shop(state.db.as_ref(), &auth.tenant, current.id.as_str()).await? > 0 {
        return Err(ApiError::conflict(
            "shop-has-staff",
            "the shop still has staff; move or remove them, or deactivate the shop",
        ));
    }
    // Stock rows keep their shop (a foreign key): refuse here rather than
    // fail on the constraint.
    let stock = essp_store::inventory::StockFilter {
        service_shop_id: Some(current.id.to_string()),
        limit: 1,
        ..Default::default()
    };
    if !essp_store::inventory::list_stock(state.db.as_ref(), &auth.tenant, &stock)
        .await?
        .items
        .is_empty()
    {
        return Err(ApiError::conflict(
            "shop-has-stock",
            "the shop still has stock records; deactivate the shop instead",
        ));
    }
    recording::delete_audited(&state, &auth.actor, current, |tx, s| {
        Box::pin(shops::delete_shop(tx, &s.tenant_id, s.id.as_str()))
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ShopListParams {
    #[param(schema_with = openapi::text::<32>)]
    county_code: Option<String>,
    #[param(schema_with = openapi::text::<32>)]
    sub_county_code: Option<String>,
    #[param(schema_with = openapi::flag)]
    active: Option<String>,
    #[param(schema_with = openapi::cursor)]
    cursor: Option<String>,
    #[param(schema_with = openapi::limit)]
    limit: Option<String>,
}

/// `GET /v1/service-shops`: newest first, one keyset page at a time.
#[utoipa::path(get, path = "/v1/service-shops", tag = "service-shops", params(ShopListParams),
    responses((status = 200, description = "A page of shops", body = Listing<ServiceShop>)))]
pub async fn list_shops(
    State(state): State<AppState>,
    auth: TenantAuthorized<ServiceShopRead>,
    ApiQuery(p): ApiQuery<ShopListParams>,
) -> ApiResult<Json<Listing<ServiceShop>>> {
    let mut v = Validator::new();
    let f = ShopFilter {
        county_code: params::text_filter(&mut v, "countyCode", p.county_code.as_deref(), 32),
        sub_county_code: params::text_filter(&mut v, "subCountyCode", p.sub_county_code.as_deref(), 32),
        active: flag(&mut v, "active", p.active.as_deref()),
        cursor: params::cursor(&mut v, p.cursor.as_deref()),
        limit: params::limit(&mut v, p.limit.as_deref()),
    };
    v.finish()?;
    Ok(Json(
        shops::list_shops(state.db.as_ref(), &auth.tenant, &f).await?.into(),
    ))
}

// ---- staff ----

/// A staff member's fields. A create needs `serviceShopId`, `userId` and
/// `role`; an update changes the fields given and keeps the others. `null`
/// is refused.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StaffBody {
    /// A shop of this tenant.
    #[serde(default, deserialize_with = "params::no_null")]
    #[schema(schema_with = shop_id)]
    service_shop_id: Option<String>,
    /// The identity provider's user id (a token `sub`).
    #[serde(default, deserialize_with = "params::no_null")]
    #[schema(schema_with = openapi::required_text::<255>)]
    user_id: Option<String>,
    #[serde(default, deserialize_with = "params::no_null")]
    #[schema(value_type = StaffRole)]
    role: Option<String>,
    #[serde(default, deserialize_with = "params::no_null")]
    #[schema(schema_with = phone_schema)]
    phone: Option<String>,
    /// New staff are active.
    #[serde(default, deserialize_with = "params::no_null")]
    #[schema(value_type = bool)]
    active: Option<bool>,
}

schema_type!(
    /// A new staff member.
    NewServiceStaff from StaffBody = variant::<StaffBody>(&["serviceShopId", "userId", "role"], &[])
);
schema_type!(
    /// The fields of a staff member to change; those left out stay as they are.
    ServiceStaffPatch from StaffBody = StaffBody::schema()
);

fn apply_staff(staff: &mut ServiceStaff, b: &StaffBody, creating: bool) -> ApiResult<()> {
    let mut v = Validator::new();
    if creating || b.service_shop_id.is_some() {
        staff.service_shop_id = b
            .service_shop_id
            .as_deref()
            .and_then(|s| v.check("serviceShopId", Id::parse("shop", s)))
            .map(Id::into_string)
            .unwrap_or_default();
        if b.service_shop_id.is_none() {
            v.push("serviceShopId", "is required");
        }
    }
    if creating || b.user_id.is_some() {
        staff.user_id = v
            .check("userId", required_text(b.user_id.as_deref(), 255))
            .unwrap_or_default();
    }
    if (creating || b.role.is_some())
        && let Some(role) = v.check(
            "role",
            required_text(b.role.as_deref(), 32).and_then(|r| r.parse::<StaffRole>()),
        )
    {
        staff.role = role;
    }
    if let Some(p) = &b.phone {
        staff.phone = v.check("phone", parse_phone(p)).unwrap_or_default();
    }
    if let Some(a) = b.active {
        staff.active = a;
    }
    v.finish()?;
    Ok(())
}

/// The staff member's shop must be one of this tenant's.
async fn require_shop(state: &AppState, tenant: &str, shop_id: &str) -> ApiResult<()> {
    match shops::get_shop(state.db.as_ref(), tenant, shop_id).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::Unprocessable {
            code: "unknown-shop",
            detail: format!("service shop {shop_id} does not exist"),
        }),
    }
}

/// `POST /v1/service-staff`: puts a user on a shop's staff (once per shop).
#[utoipa::path(post, path = "/v1/service-staff", tag = "service-shops",
    params(openapi::IdempotencyKey),
    request_body = NewServiceStaff,
    responses((status = 201, description = "Added", body = ServiceStaff, headers(("Location" = String), ("ETag" = String)))))]
pub async fn create_staff(
    State(state): State<AppState>,
    auth: TenantAuthorized<ServiceStaffCreate>,
    key: IdempotencyKey,
    body: ApiJson<StaffBody>,
) -> ApiResult<Response> {
    let now = essp_domain::now();
    let mut staff = ServiceStaff {
        id: Id::new("staff"),
        tenant_id: auth.tenant.clone(),
        service_shop_id: String::new(),
        user_id: String::new(),
        role: StaffRole::AssistantTechnician,
        phone: String::new(),
        active: true,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    apply_staff(&mut staff, &body.value, true)?;
    require_shop(&state, &auth.tenant, &staff.service_shop_id).await?;
    let hash = idempotency::request_hash("POST /v1/service-staff", &body.raw);
    let actor = auth.actor.clone();
    idempotency::create(
        &state,
        &auth.tenant,
        &key,
        hash,
        "service_staff_created_total",
        move |tx| {
            Box::pin(async move {
                shops::insert_staff(tx, &staff).await.map_err(already_on_staff)?;
                recording::record(
                    tx,
                    &actor,
                    subject(&staff.tenant_id, "service_staff", &staff.id),
                    "create",
                    None,
                    Some(&staff),
                    now,
                )
                .await?;
                Created::json(&staff, format!("/v1/service-staff/{}", staff.id), staff.version)
            })
        },
    )
    .await
}

fn already_on_staff(e: essp_store::StoreError) -> ApiError {
    match e {
        essp_store::StoreError::UniqueViolation { .. } => {
            ApiError::conflict("duplicate", "this user is already on the staff of that shop")
        }
        other => other.into(),
    }
}

async fn load_staff(state: &AppState, tenant: &str, raw: &str) -> ApiResult<ServiceStaff> {
    let id = params::id("staff", "service staff", raw)?;
    shops::get_staff(state.db.as_ref(), tenant, id.as_str())
        .await?
        .ok_or(ApiError::NotFound("service staff"))
}

#[utoipa::path(get, path = "/v1/service-staff/{id}", tag = "service-shops",
    params(("id" = String, Path, pattern = "^staff_[0-9A-HJKMNP-TV-Z]{26}$")),
    responses((status = 200, description = "The staff member", body = ServiceStaff, headers(("ETag" = String)))))]
pub async fn get_staff(
    State(state): State<AppState>,
    auth: TenantAuthorized<ServiceStaffRead>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let staff = load_staff(&state, &auth.tenant, &id).await?;
    Ok(params::with_etag(&staff, staff.version))
}

/// `PATCH /v1/service-staff/{id}`: changes the fields given.
#[utoipa::path(patch, path = "/v1/service-staff/{id}", tag = "service-shops",
    params(("id" = String, Path, pattern = "^staff_[0-9A-HJKMNP-TV-Z]{26}$"), openapi::IfMatch),
    request_body = ServiceStaffPatch,
    responses((status = 200, description = "Changed", body = ServiceStaff, headers(("ETag" = String)))))]
pub async fn update_staff(
    State(state): State<AppState>,
    auth: TenantAuthorized<ServiceStaffUpdate>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: ApiJson<StaffBody>,
) -> ApiResult<Response> {
    let expected = params::if_match(&headers)?;
    let current = load_staff(&state, &auth.tenant, &id).await?;
    params::check_version(expected, current.version, "service staff")?;
    let mut next = current.clone();
    apply_staff(&mut next, &body.value, false)?;
    if next.service_shop_id != current.service_shop_id {
        require_shop(&state, &auth.tenant, &next.service_shop_id).await?;
    }
    next.updated_at = essp_domain::now();
    let saved = recording::save_audited(&state, &auth.actor, "update", current, next, |tx, cur, next| {
        Box::pin(async move { shops::save_staff(tx, cur.version, next).await })
    })
    .await
    .map_err(|e| match e {
        ApiError::Conflict { code: "duplicate", .. } => {
            ApiError::conflict("duplicate", "this user is already on the staff of that shop")
        }
        other => other,
    })?;
    Ok(params::with_etag(&saved, saved.version))
}

#[utoipa::path(delete, path = "/v1/service-staff/{id}", tag = "service-shops",
    params(("id" = String, Path, pattern = "^staff_[0-9A-HJKMNP-TV-Z]{26}$")),
    responses((status = 204, description = "Removed")))]
pub async fn delete_staff(
    State(state): State<AppState>,
    auth: TenantAuthorized<ServiceStaffUpdate>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let current = load_staff(&state, &auth.tenant, &id).await?;
    recording::delete_audited(&state, &auth.actor, current, |tx, s| {
        Box::pin(shops::delete_staff(tx, &s.tenant_id, s.id.as_str()))
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StaffListParams {
    #[param(schema_with = openapi::text::<64>)]
    service_shop_id: Option<String>,
    #[param(value_type = Option<StaffRole>)]
    role: Option<String>,
    #[param(schema_with = openapi::flag)]
    active: Option<String>,
    #[param(schema_with = openapi::cursor)]
    cursor: Option<String>,
    #[param(schema_with = openapi::limit)]
    limit: Option<String>,
}

/// `GET /v1/service-staff`: newest first, one keyset page at a time.
#[utoipa::path(get, path = "/v1/service-staff", tag = "service-shops", params(StaffListParams),
    responses((status = 200, description = "A page of staff", body = Listing<ServiceStaff>)))]
pub async fn list_staff(
    State(state): State<AppState>,
    auth: TenantAuthorized<ServiceStaffRead>,
    ApiQuery(p): ApiQuery<StaffListParams>,
) -> ApiResult<Json<Listing<ServiceStaff>>> {
    let mut v = Validator::new();
    let f = StaffFilter {
        service_shop_id: params::text_filter(&mut v, "serviceShopId", p.service_shop_id.as_deref(), 64),
        role: p.role.as_deref().and_then(|r| v.check("role", r.parse::<StaffRole>())),
        active: flag(&mut v, "active", p.active.as_deref()),
        cursor: params::cursor(&mut v, p.cursor.as_deref()),
        limit: params::limit(&mut v, p.limit.as_deref()),
    };
    v.finish()?;
    Ok(Json(
        shops::list_staff(state.db.as_ref(), &auth.tenant, &f).await?.into(),
    ))
}

/// `GET /v1/service-staff/stats`: head counts of the tenant's staff.
#[utoipa::path(get, path = "/v1/service-staff/stats", tag = "service-shops",
    responses((status = 200, description = "The counts", body = StaffCounts)))]
pub async fn staff_stats(
    State(state): State<AppState>,
    auth: TenantAuthorized<ServiceStaffRead>,
) -> ApiResult<Json<StaffCounts>> {
    Ok(Json(shops::staff_stats(state.db.as_ref(), &auth.tenant).await?.into()))
}

/// Head counts of the tenant's staff.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StaffCounts {
    total: i64,
    active: i64,
    /// Staff per role (only roles that have any).
    #[schema(value_type = std::collections::BTreeMap<StaffRole, i64>)]
    by_role: std::collections::BTreeMap<String, i64>,
}

impl From<StaffStats> for StaffCounts {
    fn from(s: StaffStats) -> Self {
        StaffCounts {
            total: s.total,
            active: s.active,
            by_role: s.by_role,
        }
    }
}

// ---- shared ----
