//! Stock per shop and part, its ledger, and work orders' bills of materials.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::Id;

string_enum!(
    /// A stock movement.
    Movement { Adjust = "adjust", Reserve = "reserve", Release = "release", Consume = "consume" }
);

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InventoryItem {
    pub id: Id,
    pub tenant_id: String,
    pub service_shop_id: String,
    pub part_id: String,
    pub qty_available: i64,
    pub qty_reserved: i64,
    /// Free stock (available − reserved) at or below this is "low".
    pub reorder_threshold: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

impl InventoryItem {
    pub fn free(&self) -> i64 {
        self.qty_available - self.qty_reserved
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LedgerEntry {
    pub id: String,
    pub service_shop_id: String,
    pub part_id: String,
    pub movement: Movement,
    /// Signed change this movement made (to available for adjust/consume,
    /// to reserved for reserve/release).
    pub qty: i64,
    pub available_after: i64,
    pub reserved_after: i64,
    pub work_order_id: String,
    pub bom_item_id: String,
    pub actor: String,
    pub created_at: DateTime<Utc>,
}

/// One part line of a work order.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BomItem {
    pub id: Id,
    pub tenant_id: String,
    pub school_id: String,
    pub work_order_id: String,
    pub service_shop_id: String,
    pub part_id: String,
    pub qty_planned: i64,
    pub qty_used: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

/// Quantities in requests: whole, positive, and sane.
pub fn parse_qty(raw: Option<i64>) -> Result<i64, String> {
    match raw {
        Some(q) if (1..=1_000_000).contains(&q) => Ok(q),
        Some(_) => Err("must be a whole number from 1 to 1000000".into()),
        None => Err("is required".into()),
    }
}
