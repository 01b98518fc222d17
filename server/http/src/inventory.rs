//! `/v1/inventory` and `/v1/work-orders/{id}/bom`: stock per shop, its
//! ledger, and the parts a repair reserves and consumes. Every movement is
//! a guarded UPDATE plus a ledger row plus an audit row, in one transaction:
//! it happens completely or answers 409 and changes nothing.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use essp_domain::error::Validator;
use essp_domain::inventory::{BomItem, InventoryItem, LedgerEntry, Movement, parse_qty};
use essp_domain::{Id, Scope};
use essp_store::inventory::{self as store, StockFilter, StockKey};
use essp_store::{Executor, shops, work_orders};
use serde::Deserialize;
use utoipa::openapi::schema::Schema;
use utoipa::{IntoParams, ToSchema};

use crate::auth::permissions::{BomConsume, BomRead, BomUpdate, InventoryRead, InventoryUpdate};
use crate::auth::{Actor, Authorized, TenantAuthorized};
use crate::extract::{ApiJson, ApiQuery};
use crate::openapi;
use crate::openapi::{Listing, id_of, schema_type};
use crate::params;
use crate::problem::{ApiError, ApiResult};
use crate::recording::{self, Subject};
use crate::shops::{ShopId, shop_id};
use crate::state::AppState;

/// The operations of this module, for `/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(upsert, list, low_stock, ledger_entries, list_bom, add_item, consume, release),
    tags((name = "inventory", description = "Stock per shop, its ledger, and the parts a work order reserves and consumes (its BOM)."))
)]
pub struct Doc;

fn part_id_schema() -> Schema {
    id_of("part")
}

schema_type!(
    /// A part id (SSOT).
    PartId = part_id_schema()
);

/// A required id field with the given prefix.
fn required_id(v: &mut Validator, field: &str, prefix: &'static str, raw: Option<&str>) -> Option<Id> {
    match raw {
        Some(raw) => v.check(field, Id::parse(prefix, raw)),
        None => {
            v.push(field, "is required");
            None
        }
    }
}

fn part_id(v: &mut Validator, raw: Option<&str>) -> Option<String> {
    required_id(v, "partId", "part", raw).map(Id::into_string)
}

fn insufficient(what: &str) -> ApiError {
    ApiError::conflict("insufficient-stock", what.to_owned())
}

/// Records a movement in the ledger, stamped with the balances after it.
async fn ledger(
    tx: &dyn Executor,
    actor: &Actor,
    item: &InventoryItem,
    movement: Movement,
    qty: i64,
    refs: (&str, &str),
) -> ApiResult<()> {
    let entry = LedgerEntry {
        id: Id::new("ledg").into_string(),
        service_shop_id: item.service_shop_id.clone(),
        part_id: item.part_id.clone(),
        movement,
        qty,
        available_after: item.qty_available,
        reserved_after: item.qty_reserved,
        work_order_id: refs.0.to_owned(),
        bom_item_id: refs.1.to_owned(),
        actor: actor.subject.clone(),
        created_at: item.updated_at,
    };
    store::append_ledger(tx, &item.tenant_id, &entry).await?;
    Ok(())
}

// ---- stock ----

/// The stock of one part at one shop.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = StockUpsert)]
pub struct UpsertBody {
    #[schema(schema_with = shop_id, required = true)]
    service_shop_id: Option<String>,
    #[schema(schema_with = part_id_schema, required = true)]
    part_id: Option<String>,
    /// Stock on hand; not below what is reserved.
    #[schema(value_type = i64, minimum = 0, maximum = 1_000_000_000, required = true)]
    #[serde(default, deserialize_with = "params::whole_number")]
    qty_available: Option<i64>,
    /// Free stock at or below this is "low"; defaults to 0.
    #[schema(minimum = 0)]
    #[serde(default, deserialize_with = "params::whole_number")]
    reorder_threshold: Option<i64>,
}

/// Sets stock on hand (a counted delivery or a stock take). Reservations
/// are kept; stock below what is reserved is refused.
#[utoipa::path(post, path = "/v1/inventory/upsert", tag = "inventory",
    request_body = UpsertBody,
    responses((status = 200, description = "The stock as set", body = InventoryItem)))]
pub async fn upsert(
    State(state): State<AppState>,
    auth: TenantAuthorized<InventoryUpdate>,
    body: ApiJson<UpsertBody>,
) -> ApiResult<Json<InventoryItem>> {
    let b = &body.value;
    let mut v = Validator::new();
    let shop = required_id(&mut v, "serviceShopId", "shop", b.service_shop_id.as_deref());
    let part = part_id(&mut v, b.part_id.as_deref());
    let available = match b.qty_available {
        Some(q) if (0..=1_000_000_000).contains(&q) => q,
        Some(_) => {
            v.push("qtyAvailable", "must be a whole number from 0 to 1000000000");
            0
        }
        None => {
            v.push("qtyAvailable", "is required");
            0
        }
    };
    let threshold = b.reorder_threshold.unwrap_or(0);
    if threshold < 0 {
        v.push("reorderThreshold", "must not be negative");
    }
    v.finish()?;
    let (Some(shop), Some(part)) = (shop, part) else {
        return Err(ApiError::Internal("validated ids missing".into()));
    };
    if shops::get_shop(state.db.as_ref(), &auth.tenant, shop.as_str())
        .await?
        .is_none()
    {
        return Err(ApiError::Unprocessable {
            code: "unknown-shop",
            detail: format!("service shop {shop} does not exist"),
        });
    }
    let (tenant, actor) = (auth.tenant.clone(), auth.actor.clone());
    let item = crate::tx::run(&state, move |tx| {
        Box::pin(async move {
            let now = essp_domain::now();
            let key = StockKey {
                tenant: &tenant,
                shop: shop.as_str(),
                part: &part,
            };
            let before = store::lock_stock(tx, key, now).await?;
            let after = store::set_stock(tx, key, available, threshold, now)
                .await?
                .ok_or_else(|| {
                    ApiError::conflict(
                        "below-reserved",
                        format!(
                            "{} are reserved for work orders; stock cannot be set below that",
                            before.qty_reserved
                        ),
                    )
                })?;
            ledger(
                tx,
                &actor,
                &after,
                Movement::Adjust,
                after.qty_available - before.qty_available,
                ("", ""),
            )
            .await?;
            let subj = Subject {
                tenant: &tenant,
                school: "",
                entity_type: "inventory",
                entity_id: after.id.as_str(),
            };
            recording::record(tx, &actor, subj, "adjust", Some(&before), Some(&after), now).await?;
            Ok(after)
        })
    })
    .await?;
    Ok(Json(item))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StockParams {
    #[param(schema_with = openapi::text::<64>)]
    service_shop_id: Option<String>,
    #[param(schema_with = openapi::text::<64>)]
    part_id: Option<String>,
    #[param(schema_with = openapi::cursor)]
    cursor: Option<String>,
    #[param(schema_with = openapi::limit)]
    limit: Option<String>,
}

async fn list_with(
    state: &AppState,
    tenant: &str,
    p: &StockParams,
    low_only: bool,
) -> ApiResult<Json<Listing<InventoryItem>>> {
    let mut v = Validator::new();
    let f = StockFilter {
        service_shop_id: params::text_filter(&mut v, "serviceShopId", p.service_shop_id.as_deref(), 64),
        part_id: params::text_filter(&mut v, "partId", p.part_id.as_deref(), 64),
        low_only,
        cursor: params::cursor(&mut v, p.cursor.as_deref()),
        limit: params::limit(&mut v, p.limit.as_deref()),
    };
    v.finish()?;
    let page = store::list_stock(state.db.as_ref(), tenant, &f).await?;
    Ok(Json(Listing {
        items: page.items,
        next_cursor: page.next_cursor.map(|c| c.encode()),
    }))
}

/// `GET /v1/inventory`: the tenant's stock, newest first, one keyset page at a time.
#[utoipa::path(get, path = "/v1/inventory", tag = "inventory", params(StockParams),
    responses((status = 200, description = "A page of stock", body = Listing<InventoryItem>)))]
pub async fn list(
    State(state): State<AppState>,
    auth: TenantAuthorized<InventoryRead>,
    ApiQuery(p): ApiQuery<StockParams>,
) -> ApiResult<Json<Listing<InventoryItem>>> {
    list_with(&state, &auth.tenant, &p, false).await
}

/// Stock whose free quantity is at or below its reorder threshold.
#[utoipa::path(get, path = "/v1/inventory/low-stock", tag = "inventory", params(StockParams),
    responses((status = 200, description = "A page of low stock", body = Listing<InventoryItem>)))]
pub async fn low_stock(
    State(state): State<AppState>,
    auth: TenantAuthorized<InventoryRead>,
    ApiQuery(p): ApiQuery<StockParams>,
) -> ApiResult<Json<Listing<InventoryItem>>> {
    list_with(&state, &auth.tenant, &p, true).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LedgerParams {
    #[param(value_type = ShopId, inline, required = true)]
    service_shop_id: Option<String>,
    #[param(value_type = PartId, inline, required = true)]
    part_id: Option<String>,
    #[param(schema_with = openapi::limit)]
    limit: Option<String>,
}

/// `GET /v1/inventory/ledger`: the newest movements of one part at one
/// shop (one page; `nextCursor` is always null).
#[utoipa::path(get, path = "/v1/inventory/ledger", tag = "inventory", params(LedgerParams),
    responses((status = 200, description = "The movements, newest first", body = Listing<LedgerEntry>)))]
pub async fn ledger_entries(
    State(state): State<AppState>,
    auth: TenantAuthorized<InventoryRead>,
    ApiQuery(p): ApiQuery<LedgerParams>,
) -> ApiResult<Json<Listing<LedgerEntry>>> {
    let mut v = Validator::new();
    let shop = required_id(&mut v, "serviceShopId", "shop", p.service_shop_id.as_deref());
    let part = part_id(&mut v, p.part_id.as_deref());
    let limit = params::limit(&mut v, p.limit.as_deref());
    v.finish()?;
    let (Some(shop), Some(part)) = (shop, part) else {
        return Err(ApiError::Internal("validated ids missing".into()));
    };
    let key = StockKey {
        tenant: &auth.tenant,
        shop: shop.as_str(),
        part: &part,
    };
    let items = store::ledger(state.db.as_ref(), key, i64::from(limit)).await?;
    Ok(Json(Listing {
        items,
        next_cursor: None,
    }))
}

// ---- BOM ----

async fn load_wo(state: &AppState, scope: &Scope, raw: &str) -> ApiResult<essp_domain::work_order::WorkOrder> {
    let id = params::id("wo", "work order", raw)?;
    work_orders::get(state.db.as_ref(), scope, &id)
        .await?
        .ok_or(ApiError::NotFound("work order"))
}

/// `GET /v1/work-orders/{id}/bom`: every part line of the work order (one
/// page; `nextCursor` is always null).
#[utoipa::path(get, path = "/v1/work-orders/{id}/bom", tag = "inventory",
    params(("id" = String, Path, pattern = "^wo_[0-9A-HJKMNP-TV-Z]{26}$")),
    responses((status = 200, description = "The BOM lines", body = Listing<BomItem>)))]
pub async fn list_bom(
    State(state): State<AppState>,
    auth: Authorized<BomRead>,
    Path(id): Path<String>,
) -> ApiResult<Json<Listing<BomItem>>> {
    let wo = load_wo(&state, &auth.scope, &id).await?;
    let items = store::list_bom(state.db.as_ref(), &auth.scope, wo.id.as_str()).await?;
    Ok(Json(Listing {
        items,
        next_cursor: None,
    }))
}

/// A part to plan for the work order.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = NewBomItem)]
pub struct AddBody {
    #[schema(schema_with = part_id_schema, required = true)]
    part_id: Option<String>,
    #[schema(value_type = i64, minimum = 1, maximum = 1_000_000, required = true)]
    #[serde(default, deserialize_with = "params::whole_number")]
    qty_planned: Option<i64>,
    /// Use a part the SSOT does not list for the device's model (audited).
    override_compatibility: Option<bool>,
}

/// Plans a part for the work order and reserves it at the work order's shop.
#[utoipa::path(post, path = "/v1/work-orders/{id}/bom/items", tag = "inventory",
    params(("id" = String, Path, pattern = "^wo_[0-9A-HJKMNP-TV-Z]{26}$")),
    request_body = AddBody,
    responses((status = 201, description = "Planned and reserved", body = BomItem)))]
pub async fn add_item(
    State(state): State<AppState>,
    auth: Authorized<BomUpdate>,
    Path(id): Path<String>,
    body: ApiJson<AddBody>,
) -> ApiResult<Response> {
    let mut v = Validator::new();
    let part = part_id(&mut v, body.value.part_id.as_deref());
    let qty = v.check("qtyPlanned", parse_qty(body.value.qty_planned));
    v.finish()?;
    let (Some(part), Some(qty)) = (part, qty) else {
        return Err(ApiError::Internal("validated fields missing".into()));
    };
    let wo = load_wo(&state, &auth.scope, &id).await?;
    if wo.service_shop_id.is_empty() {
        return Err(ApiError::conflict(
            "no-shop",
            "the work order has no service shop to reserve parts at",
        ));
    }
    // The SSOT's compatibility list decides, when it has one for the part;
    // a technician may override it explicitly, and the override is audited.
    let model = &wo.context.device_model_id;
    let mut action = "reserve";
    if !model.is_empty()
        && essp_store::ssot_snapshot::compatible(state.db.as_ref(), auth.scope.tenant(), &part, model).await?
            == Some(false)
    {
        if body.value.override_compatibility != Some(true) {
            return Err(ApiError::conflict(
                "incompatible-part",
                format!(
                    "part {part} is not listed as compatible with device model {model}; \
                     send \"overrideCompatibility\": true to use it anyway"
                ),
            ));
        }
        action = "reserve_incompatible";
    }
    let (scope, actor) = (auth.scope.clone(), auth.actor.clone());
    let item = crate::tx::run(&state, move |tx| {
        Box::pin(async move {
            let now = essp_domain::now();
            let key = StockKey {
                tenant: scope.tenant(),
                shop: &wo.service_shop_id,
                part: &part,
            };
            let stock = store::move_stock(tx, key, Movement::Reserve, qty, now)
                .await?
                .ok_or_else(|| insufficient(&format!("not {qty} of {part} free at the work order's shop")))?;
            let item = BomItem {
                id: Id::new("bom"),
                tenant_id: wo.tenant_id.clone(),
                school_id: wo.school_id.clone(),
                work_order_id: wo.id.to_string(),
                service_shop_id: wo.service_shop_id.clone(),
                part_id: part.clone(),
                qty_planned: qty,
                qty_used: 0,
                created_at: now,
                updated_at: now,
                version: 1,
            };
            store::insert_bom(tx, &item).await?;
            ledger(
                tx,
                &actor,
                &stock,
                Movement::Reserve,
                qty,
                (wo.id.as_str(), item.id.as_str()),
            )
            .await?;
            let subj = Subject::in_scope(&scope, "bom_item", item.id.as_str());
            recording::record(tx, &actor, subj, action, None, Some(&item), now).await?;
            Ok(item)
        })
    })
    .await?;
    metrics::counter!("bom_reservations_total").increment(1);
    Ok((StatusCode::CREATED, Json(item)).into_response())
}

/// How many of the line's reserved parts were used.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = BomConsumption)]
pub struct ConsumeBody {
    #[schema(value_type = i64, minimum = 1, maximum = 1_000_000, required = true)]
    #[serde(default, deserialize_with = "params::whole_number")]
    qty_used: Option<i64>,
}

/// How many of the line's unused parts to give back to the shop's stock.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = BomRelease)]
pub struct ReleaseBody {
    #[schema(value_type = i64, minimum = 1, maximum = 1_000_000, required = true)]
    #[serde(default, deserialize_with = "params::whole_number")]
    qty: Option<i64>,
}

/// Consumes or releases part of a line, moving the stock with it.
async fn move_line(
    state: &AppState,
    auth: &Authorized<BomConsume>,
    (wo_raw, item_raw): (&str, &str),
    movement: Movement,
    qty: i64,
) -> ApiResult<Json<BomItem>> {
    let wo = load_wo(state, &auth.scope, wo_raw).await?;
    let item_id = params::id("bom", "BOM item", item_raw)?;
    let current = store::get_bom(state.db.as_ref(), &auth.scope, wo.id.as_str(), item_id.as_str())
        .await?
        .ok_or(ApiError::NotFound("BOM item"))?;
    let mut next = current.clone();
    match movement {
        Movement::Consume if current.qty_used + qty > current.qty_planned => {
            return Err(insufficient(&format!(
                "only {} of this line are still reserved",
                current.qty_planned - current.qty_used
            )));
        }
        Movement::Consume => next.qty_used += qty,
        Movement::Release if current.qty_planned - qty < current.qty_used => {
            return Err(insufficient(&format!(
                "only {} of this line are unused and can be released",
                current.qty_planned - current.qty_used
            )));
        }
        Movement::Release => next.qty_planned -= qty,
        _ => return Err(ApiError::Internal("unexpected movement".into())),
    }
    let (scope, actor) = (auth.scope.clone(), auth.actor.clone());
    let saved = crate::tx::run(state, move |tx| {
        Box::pin(async move {
            let now = essp_domain::now();
            next.updated_at = now;
            let saved = store::save_bom(tx, &scope, current.version, &next)
                .await?
                .ok_or_else(|| ApiError::conflict("concurrent-update", "the BOM line changed meanwhile; reload"))?;
            let key = StockKey {
                tenant: scope.tenant(),
                shop: &saved.service_shop_id,
                part: &saved.part_id,
            };
            let stock = store::move_stock(tx, key, movement, qty, now)
                .await?
                .ok_or_else(|| insufficient("the shop's stock no longer covers this line"))?;
            ledger(
                tx,
                &actor,
                &stock,
                movement,
                qty,
                (saved.work_order_id.as_str(), saved.id.as_str()),
            )
            .await?;
            let subj = Subject::in_scope(&scope, "bom_item", saved.id.as_str());
            recording::record(tx, &actor, subj, movement.as_str(), Some(&current), Some(&saved), now).await?;
            Ok(saved)
        })
    })
    .await?;
    Ok(Json(saved))
}

/// `PATCH …/bom/items/{item_id}/consume`: uses reserved parts (they leave
/// the shop's stock).
#[utoipa::path(patch, path = "/v1/work-orders/{id}/bom/items/{item_id}/consume", tag = "inventory",
    params(("id" = String, Path, pattern = "^wo_[0-9A-HJKMNP-TV-Z]{26}$"), ("item_id" = String, Path, pattern = "^bom_[0-9A-HJKMNP-TV-Z]{26}$")),
    request_body = ConsumeBody,
    responses((status = 200, description = "Consumed", body = BomItem)))]
pub async fn consume(
    State(state): State<AppState>,
    auth: Authorized<BomConsume>,
    Path((wo, item)): Path<(String, String)>,
    body: ApiJson<ConsumeBody>,
) -> ApiResult<Json<BomItem>> {
    let mut v = Validator::new();
    let qty = v.check("qtyUsed", parse_qty(body.value.qty_used));
    v.finish()?;
    move_line(&state, &auth, (&wo, &item), Movement::Consume, qty.unwrap_or(0)).await
}

/// `PATCH …/bom/items/{item_id}/release`: unplans unused parts (their
/// reservation is released).
#[utoipa::path(patch, path = "/v1/work-orders/{id}/bom/items/{item_id}/release", tag = "inventory",
    params(("id" = String, Path, pattern = "^wo_[0-9A-HJKMNP-TV-Z]{26}$"), ("item_id" = String, Path, pattern = "^bom_[0-9A-HJKMNP-TV-Z]{26}$")),
    request_body = ReleaseBody,
    responses((status = 200, description = "Released", body = BomItem)))]
pub async fn release(
    State(state): State<AppState>,
    auth: Authorized<BomConsume>,
    Path((wo, item)): Path<(String, String)>,
    body: ApiJson<ReleaseBody>,
) -> ApiResult<Json<BomItem>> {
    let mut v = Validator::new();
    let qty = v.check("qty", parse_qty(body.value.qty));
    v.finish()?;
    move_line(&state, &auth, (&wo, &item), Movement::Release, qty.unwrap_or(0)).await
}
