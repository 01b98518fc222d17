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
use serde::{Deserialize, Serialize};

use crate::auth::permissions::{BomConsume, BomRead, BomUpdate, InventoryRead, InventoryUpdate};
use crate::auth::{Actor, Authorized, TenantAuthorized};
use crate::extract::{ApiJson, ApiQuery};
use crate::params;
use crate::problem::{ApiError, ApiResult};
use crate::recording::{self, Subject};
use crate::state::AppState;

fn part_id(v: &mut Validator, raw: Option<&str>) -> Option<String> {
    match raw {
        Some(p) => v.check(
            "partId",
            Id::parse("part", p).map(Id::into_string).map_err(|e| e.to_string()),
        ),
        None => {
            v.push("partId", "is required");
            None
        }
    }
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

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpsertBody {
    service_shop_id: Option<String>,
    part_id: Option<String>,
    qty_available: Option<i64>,
    reorder_threshold: Option<i64>,
}

/// Sets stock on hand (a counted delivery or a stock take). Reservations
/// are kept; stock below what is reserved is refused.
pub async fn upsert(
    State(state): State<AppState>,
    auth: TenantAuthorized<InventoryUpdate>,
    body: ApiJson<UpsertBody>,
) -> ApiResult<Json<InventoryItem>> {
    let b = &body.value;
    let mut v = Validator::new();
    let shop = b
        .service_shop_id
        .as_deref()
        .and_then(|s| v.check("serviceShopId", Id::parse("shop", s)));
    if b.service_shop_id.is_none() {
        v.push("serviceShopId", "is required");
    }
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

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StockParams {
    service_shop_id: Option<String>,
    part_id: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Listing<T> {
    items: Vec<T>,
    next_cursor: Option<String>,
}

async fn list_with(
    state: &AppState,
    tenant: &str,
    p: &StockParams,
    low_only: bool,
) -> ApiResult<Json<Listing<InventoryItem>>> {
    let mut v = Validator::new();
    let f = StockFilter {
        service_shop_id: params::filter_text(&p.service_shop_id),
        part_id: params::filter_text(&p.part_id),
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

pub async fn list(
    State(state): State<AppState>,
    auth: TenantAuthorized<InventoryRead>,
    ApiQuery(p): ApiQuery<StockParams>,
) -> ApiResult<Json<Listing<InventoryItem>>> {
    list_with(&state, &auth.tenant, &p, false).await
}

/// Stock whose free quantity is at or below its reorder threshold.
pub async fn low_stock(
    State(state): State<AppState>,
    auth: TenantAuthorized<InventoryRead>,
    ApiQuery(p): ApiQuery<StockParams>,
) -> ApiResult<Json<Listing<InventoryItem>>> {
    list_with(&state, &auth.tenant, &p, true).await
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LedgerParams {
    service_shop_id: Option<String>,
    part_id: Option<String>,
    limit: Option<String>,
}

pub async fn ledger_entries(
    State(state): State<AppState>,
    auth: TenantAuthorized<InventoryRead>,
    ApiQuery(p): ApiQuery<LedgerParams>,
) -> ApiResult<Json<Listing<LedgerEntry>>> {
    let mut v = Validator::new();
    let shop = params::filter_text(&p.service_shop_id);
    if shop.is_none() {
        v.push("serviceShopId", "is required");
    }
    let part = part_id(&mut v, p.part_id.as_deref());
    let limit = params::limit(&mut v, p.limit.as_deref());
    v.finish()?;
    let (Some(shop), Some(part)) = (shop, part) else {
        return Err(ApiError::Internal("validated ids missing".into()));
    };
    let key = StockKey {
        tenant: &auth.tenant,
        shop: &shop,
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

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddBody {
    part_id: Option<String>,
    qty_planned: Option<i64>,
    /// Use a part the SSOT does not list for the device's model (audited).
    override_compatibility: Option<bool>,
}

/// Plans a part for the work order and reserves it at the work order's shop.
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

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConsumeBody {
    qty_used: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReleaseBody {
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
