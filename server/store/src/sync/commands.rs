//! Commands: changes an edge proposes that central must check against state
//! only central holds (SYNC.md, "command" class). So far one: a BOM line
//! reserves and consumes the shop's stock, so central re-runs the line's
//! stock movements on its own stock, in the transaction that applies the
//! line. When they do not fit (the stock ran out meanwhile), the change is
//! rejected, and central sends its own state of the line and the stock
//! back down so the edge's provisional reservation is undone.

use essp_domain::Id;
use essp_domain::inventory::{LedgerEntry, Movement};
use essp_sync_proto::envelope::{Clocks, Fields};
use essp_sync_proto::{Hlc, RowChange};

use super::catalog::Table;
use super::row::{self, Tracked};
use crate::error::{Result, StoreError};
use crate::executor::Executor;
use crate::inventory::{self, StockKey};

fn qty(f: Option<&Fields>, field: &str) -> i64 {
    f.and_then(|f| f.get(field))
        .and_then(serde_json::Value::as_i64)
        .unwrap_or(0)
}

fn text<'a>(f: &'a Fields, field: &str) -> &'a str {
    f.get(field).and_then(|v| v.as_str()).unwrap_or_default()
}

/// Runs the stock movements that take a BOM line from `current` (absent:
/// a new line) to `next`, on central's stock; a movement that does not fit
/// fails as a constraint violation (the change is then rejected).
pub(crate) async fn validate(ex: &dyn Executor, t: &Table, current: Option<&Fields>, next: &Fields) -> Result<()> {
    if !super::merge::is_command(t) {
        return Ok(());
    }
    let planned = qty(Some(next), "qty_planned") - qty(current, "qty_planned");
    let used = qty(Some(next), "qty_used") - qty(current, "qty_used");
    let mut moves = Vec::new();
    if planned > 0 {
        moves.push((Movement::Reserve, planned));
    } else if planned < 0 {
        moves.push((Movement::Release, -planned));
    }
    if used > 0 {
        moves.push((Movement::Consume, used));
    } else if used < 0 {
        return Err(StoreError::ConstraintViolation {
            constraint: "a consumed part cannot be put back through a BOM line".into(),
        });
    }
    let (tenant, shop, part) = (
        text(next, "tenant_id"),
        text(next, "service_shop_id"),
        text(next, "part_id"),
    );
    let key = StockKey { tenant, shop, part };
    let now = essp_domain::now();
    for (movement, n) in moves {
        let stock =
            inventory::move_stock(ex, key, movement, n, now)
                .await?
                .ok_or_else(|| StoreError::ConstraintViolation {
                    constraint: format!(
                        "the stock of {part} at shop {shop} does not cover a {} of {n}",
                        movement.as_str()
                    ),
                })?;
        let entry = LedgerEntry {
            id: Id::new("ledg").into_string(),
            service_shop_id: shop.to_owned(),
            part_id: part.to_owned(),
            movement,
            qty: n,
            available_after: stock.qty_available,
            reserved_after: stock.qty_reserved,
            work_order_id: text(next, "work_order_id").to_owned(),
            bom_item_id: text(next, "id").to_owned(),
            actor: format!("sync:{}", text(next, "school_id")),
            created_at: now,
        };
        inventory::append_ledger(ex, tenant, &entry).await?;
    }
    Ok(())
}

/// After central rejected an edge's change of a BOM line: central's own
/// state of the line (a line it never accepted stays, emptied) and of the
/// shop's stock go back down, stamped after the edge's change, so the
/// edge's provisional reservation is undone.
pub(crate) async fn compensate(ex: &dyn Executor, t: &Table, change: &RowChange) -> Result<()> {
    if !super::merge::is_command(t) {
        return Ok(());
    }
    let tenant = text(&change.fields, "tenant_id");
    if row::read(ex, t, tenant, &change.row_id).await?.is_none() {
        let mut empty = change.fields.clone();
        empty.insert("qty_planned".into(), 0.into());
        empty.insert("qty_used".into(), 0.into());
        row::insert(ex, t, &empty).await?;
    }
    resend(ex, t, tenant, &change.row_id, &change.clocks).await?;
    let stock = inventory::get_stock(
        ex,
        StockKey {
            tenant,
            shop: text(&change.fields, "service_shop_id"),
            part: text(&change.fields, "part_id"),
        },
    )
    .await?;
    if let (Some(stock), Some(inv)) = (stock, super::catalog::table("inventory")) {
        resend(ex, inv, tenant, stock.id.as_str(), &change.clocks).await?;
    }
    Ok(())
}

/// Captures the row afresh, every field stamped after the latest of `after`.
async fn resend(ex: &dyn Executor, t: &Table, tenant: &str, id: &str, after: &Clocks) -> Result<()> {
    let clocks = row::tracked(ex, t.name, tenant, id).await?.unwrap_or_default().clocks;
    // An empty image makes every field count as changed.
    row::track(
        ex,
        t,
        id,
        &Tracked {
            image: Fields::new(),
            clocks,
        },
    )
    .await?;
    let latest = after.values().filter_map(|c| c.parse::<Hlc>().ok()).max();
    super::capture::capture_after(ex, t.name, tenant, id, latest.as_ref()).await
}
