//! Inventory, its ledger and BOM lines. Stock changes are single guarded
//! UPDATEs (`… WHERE free >= qty`), so concurrent reservations can never
//! oversell, on either engine; the table's CHECKs back that up.

use chrono::{DateTime, Utc};
use essp_domain::inventory::{BomItem, InventoryItem, LedgerEntry, Movement};
use essp_domain::{Id, Scope};

use crate::cursor::{Cursor, Page, into_page};
use crate::error::Result;
use crate::executor::Executor;
use crate::query::Query;
use crate::value::{Row, Value};

const INV_COLUMNS: &str = "id, tenant_id, service_shop_id, part_id, qty_available, qty_reserved, reorder_threshold, \
     created_at, updated_at, version";

fn item_from_row(r: &Row) -> Result<InventoryItem> {
    Ok(InventoryItem {
        id: Id::from_trusted(r.text("id")?),
        tenant_id: r.text("tenant_id")?,
        service_shop_id: r.text("service_shop_id")?,
        part_id: r.text("part_id")?,
        qty_available: r.i64("qty_available")?,
        qty_reserved: r.i64("qty_reserved")?,
        reorder_threshold: r.i64("reorder_threshold")?,
        created_at: r.timestamp("created_at")?,
        updated_at: r.timestamp("updated_at")?,
        version: r.i64("version")?,
    })
}

/// Which stock row: (tenant, shop, part).
#[derive(Debug, Clone, Copy)]
pub struct StockKey<'a> {
    pub tenant: &'a str,
    pub shop: &'a str,
    pub part: &'a str,
}

impl StockKey<'_> {
    fn values(&self) -> [Value; 3] {
        [self.tenant.into(), self.shop.into(), self.part.into()]
    }
}

pub async fn get_stock(ex: &dyn Executor, key: StockKey<'_>) -> Result<Option<InventoryItem>> {
    let sql =
        format!("SELECT {INV_COLUMNS} FROM inventory WHERE tenant_id = $1 AND service_shop_id = $2 AND part_id = $3");
    ex.fetch_optional(&sql, &key.values())
        .await?
        .as_ref()
        .map(item_from_row)
        .transpose()
}

/// Ensures the row exists (zero stock) and locks it for this transaction,
/// returning its current state.
pub async fn lock_stock(ex: &dyn Executor, key: StockKey<'_>, now: DateTime<Utc>) -> Result<InventoryItem> {
    let mut params = vec![Id::new("inv").as_str().into()];
    params.extend(key.values());
    params.push(now.into());
    ex.execute(
        "INSERT INTO inventory (id, tenant_id, service_shop_id, part_id, qty_available, qty_reserved, \
         reorder_threshold, created_at, updated_at, version) VALUES ($1, $2, $3, $4, 0, 0, 0, $5, $5, 1) \
         ON CONFLICT (tenant_id, service_shop_id, part_id) DO NOTHING",
        &params,
    )
    .await?;
    let sql = format!(
        "UPDATE inventory SET version = version WHERE tenant_id = $1 AND service_shop_id = $2 AND part_id = $3 \
         RETURNING {INV_COLUMNS}"
    );
    let row = ex.fetch_optional(&sql, &key.values()).await?;
    row.as_ref()
        .map(item_from_row)
        .transpose()?
        .ok_or_else(|| crate::StoreError::Other("stock row vanished".into()))
}

/// Sets the stock on hand and threshold; refused (`None`) when it would
/// drop below what is reserved. Never touches reservations.
pub async fn set_stock(
    ex: &dyn Executor,
    key: StockKey<'_>,
    available: i64,
    threshold: i64,
    now: DateTime<Utc>,
) -> Result<Option<InventoryItem>> {
    let sql = format!(
        "UPDATE inventory SET qty_available = $1, reorder_threshold = $2, updated_at = $3, version = version + 1 \
         WHERE tenant_id = $4 AND service_shop_id = $5 AND part_id = $6 AND qty_reserved <= $1 RETURNING {INV_COLUMNS}"
    );
    let mut params = vec![available.into(), threshold.into(), now.into()];
    params.extend(key.values());
    let saved = ex
        .fetch_optional(&sql, &params)
        .await?
        .as_ref()
        .map(item_from_row)
        .transpose()?;
    captured(ex, saved).await
}

/// Central's stock goes down to its edges (they reserve against it).
async fn captured(ex: &dyn Executor, saved: Option<InventoryItem>) -> Result<Option<InventoryItem>> {
    match saved {
        Some(item) => {
            crate::sync::capture(ex, "inventory", item.id.as_str()).await?;
            Ok(Some(item))
        }
        None => Ok(None),
    }
}

/// Applies one guarded movement of `qty`; `None` when the guard fails
/// (not enough free stock, or not that much reserved).
pub async fn move_stock(
    ex: &dyn Executor,
    key: StockKey<'_>,
    movement: Movement,
    qty: i64,
    now: DateTime<Utc>,
) -> Result<Option<InventoryItem>> {
    let (set, guard) = match movement {
        Movement::Reserve => ("qty_reserved = qty_reserved + $1", "qty_available - qty_reserved >= $1"),
        Movement::Release => ("qty_reserved = qty_reserved - $1", "qty_reserved >= $1"),
        Movement::Consume => (
            "qty_reserved = qty_reserved - $1, qty_available = qty_available - $1",
            "qty_reserved >= $1 AND qty_available >= $1",
        ),
        Movement::Adjust => return Err(crate::StoreError::Other("adjust is set_stock".into())),
    };
    let sql = format!(
        "UPDATE inventory SET {set}, updated_at = $2, version = version + 1 \
         WHERE tenant_id = $3 AND service_shop_id = $4 AND part_id = $5 AND {guard} RETURNING {INV_COLUMNS}"
    );
    let mut params = vec![qty.into(), now.into()];
    params.extend(key.values());
    let saved = ex
        .fetch_optional(&sql, &params)
        .await?
        .as_ref()
        .map(item_from_row)
        .transpose()?;
    captured(ex, saved).await
}

pub async fn append_ledger(ex: &dyn Executor, tenant: &str, e: &LedgerEntry) -> Result<()> {
    ex.execute(
        "INSERT INTO inventory_ledger (id, tenant_id, service_shop_id, part_id, movement, qty, available_after, \
         reserved_after, work_order_id, bom_item_id, actor, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        &[
            (&e.id).into(),
            tenant.into(),
            (&e.service_shop_id).into(),
            (&e.part_id).into(),
            e.movement.as_str().into(),
            e.qty.into(),
            e.available_after.into(),
            e.reserved_after.into(),
            (&e.work_order_id).into(),
            (&e.bom_item_id).into(),
            (&e.actor).into(),
            e.created_at.into(),
        ],
    )
    .await?;
    Ok(())
}

pub async fn ledger(ex: &dyn Executor, key: StockKey<'_>, limit: i64) -> Result<Vec<LedgerEntry>> {
    let mut params = key.values().to_vec();
    params.push(limit.into());
    let rows = ex
        .fetch_all(
            "SELECT id, service_shop_id, part_id, movement, qty, available_after, reserved_after, work_order_id, \
             bom_item_id, actor, created_at FROM inventory_ledger \
             WHERE tenant_id = $1 AND service_shop_id = $2 AND part_id = $3 ORDER BY created_at DESC, id DESC LIMIT $4",
            &params,
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(LedgerEntry {
                id: r.text("id")?,
                service_shop_id: r.text("service_shop_id")?,
                part_id: r.text("part_id")?,
                movement: r.parse("movement")?,
                qty: r.i64("qty")?,
                available_after: r.i64("available_after")?,
                reserved_after: r.i64("reserved_after")?,
                work_order_id: r.text("work_order_id")?,
                bom_item_id: r.text("bom_item_id")?,
                actor: r.text("actor")?,
                created_at: r.timestamp("created_at")?,
            })
        })
        .collect()
}

#[derive(Debug, Clone, Default)]
pub struct StockFilter {
    pub service_shop_id: Option<String>,
    pub part_id: Option<String>,
    /// Only rows whose free stock is at or below their reorder threshold.
    pub low_only: bool,
    pub cursor: Option<Cursor>,
    pub limit: u32,
}

pub async fn list_stock(ex: &dyn Executor, tenant: &str, f: &StockFilter) -> Result<Page<InventoryItem>> {
    let mut q = Query::new(&format!("SELECT {INV_COLUMNS} FROM inventory WHERE 1 = 1"));
    q.and("tenant_id = {}", tenant);
    if let Some(s) = &f.service_shop_id {
        q.and("service_shop_id = {}", s);
    }
    if let Some(p) = &f.part_id {
        q.and("part_id = {}", p);
    }
    if f.low_only {
        q.push(" AND qty_available - qty_reserved <= reorder_threshold");
    }
    q.keyset(f.cursor.as_ref(), f.limit);
    let rows = ex.fetch_all(q.sql(), q.params()).await?;
    let items = rows.iter().map(item_from_row).collect::<Result<Vec<_>>>()?;
    Ok(into_page(items, f.limit, |i| Cursor {
        created_at: i.created_at,
        id: i.id.to_string(),
    }))
}

// ---- BOM lines ----

const BOM_COLUMNS: &str = "id, tenant_id, school_id, work_order_id, service_shop_id, part_id, qty_planned, qty_used, \
     created_at, updated_at, version";

fn bom_from_row(r: &Row) -> Result<BomItem> {
    Ok(BomItem {
        id: Id::from_trusted(r.text("id")?),
        tenant_id: r.text("tenant_id")?,
        school_id: r.text("school_id")?,
        work_order_id: r.text("work_order_id")?,
        service_shop_id: r.text("service_shop_id")?,
        part_id: r.text("part_id")?,
        qty_planned: r.i64("qty_planned")?,
        qty_used: r.i64("qty_used")?,
        created_at: r.timestamp("created_at")?,
        updated_at: r.timestamp("updated_at")?,
        version: r.i64("version")?,
    })
}

pub async fn insert_bom(ex: &dyn Executor, b: &BomItem) -> Result<()> {
    let sql =
        format!("INSERT INTO work_order_parts ({BOM_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)");
    ex.execute(
        &sql,
        &[
            b.id.as_str().into(),
            (&b.tenant_id).into(),
            (&b.school_id).into(),
            (&b.work_order_id).into(),
            (&b.service_shop_id).into(),
            (&b.part_id).into(),
            b.qty_planned.into(),
            b.qty_used.into(),
            b.created_at.into(),
            b.updated_at.into(),
            b.version.into(),
        ],
    )
    .await?;
    crate::sync::capture(ex, "work_order_parts", b.id.as_str()).await
}

pub async fn get_bom(ex: &dyn Executor, scope: &Scope, wo: &str, id: &str) -> Result<Option<BomItem>> {
    let sql = format!(
        "SELECT {BOM_COLUMNS} FROM work_order_parts WHERE tenant_id = $1 AND school_id = $2 AND work_order_id = $3 AND id = $4"
    );
    let row = ex
        .fetch_optional(
            &sql,
            &[scope.tenant().into(), scope.school().into(), wo.into(), id.into()],
        )
        .await?;
    row.as_ref().map(bom_from_row).transpose()
}

/// Writes new quantities if the line is still at `expected_version`.
pub async fn save_bom(ex: &dyn Executor, scope: &Scope, expected_version: i64, b: &BomItem) -> Result<Option<BomItem>> {
    let sql = format!(
        "UPDATE work_order_parts SET qty_planned = $1, qty_used = $2, updated_at = $3, version = version + 1 \
         WHERE tenant_id = $4 AND school_id = $5 AND id = $6 AND version = $7 RETURNING {BOM_COLUMNS}"
    );
    let params: Vec<Value> = vec![
        b.qty_planned.into(),
        b.qty_used.into(),
        b.updated_at.into(),
        scope.tenant().into(),
        scope.school().into(),
        b.id.as_str().into(),
        expected_version.into(),
    ];
    let saved = ex
        .fetch_optional(&sql, &params)
        .await?
        .as_ref()
        .map(bom_from_row)
        .transpose()?;
    crate::sync::capture_saved(ex, "work_order_parts", b.id.as_str(), saved).await
}

pub async fn list_bom(ex: &dyn Executor, scope: &Scope, wo: &str) -> Result<Vec<BomItem>> {
    let sql = format!(
        "SELECT {BOM_COLUMNS} FROM work_order_parts WHERE tenant_id = $1 AND school_id = $2 AND work_order_id = $3 \
         ORDER BY created_at, id"
    );
    let rows = ex
        .fetch_all(&sql, &[scope.tenant().into(), scope.school().into(), wo.into()])
        .await?;
    rows.iter().map(bom_from_row).collect()
}
