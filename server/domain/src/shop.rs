//! Service shops (repair depots) and the staff who work in them.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::Id;

string_enum!(
    /// Area a shop serves: routing prefers a sub-county shop, then a county one.
    CoverageLevel { County = "county", SubCounty = "sub_county", Cluster = "cluster" }
);

string_enum!(
    /// What a staff member does at a shop.
    StaffRole {
        LeadTechnician = "lead_technician",
        AssistantTechnician = "assistant_technician",
        Storekeeper = "storekeeper",
    }
);

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceShop {
    pub id: Id,
    pub tenant_id: String,
    pub name: String,
    pub location: String,
    pub county_code: String,
    pub county_name: String,
    pub sub_county_code: String,
    pub sub_county_name: String,
    pub coverage_level: CoverageLevel,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceStaff {
    pub id: Id,
    pub tenant_id: String,
    pub service_shop_id: String,
    /// The identity provider's user id (a token `sub`).
    pub user_id: String,
    pub role: StaffRole,
    pub phone: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

/// Phone numbers: digits with an optional leading `+` and spaces or dashes.
pub fn parse_phone(raw: &str) -> Result<String, String> {
    let t = raw.trim();
    let digits = t.chars().filter(char::is_ascii_digit).count();
    let shape = t
        .chars()
        .enumerate()
        .all(|(i, c)| c.is_ascii_digit() || c == ' ' || c == '-' || (c == '+' && i == 0));
    if t.is_empty() || (shape && (7..=15).contains(&digits)) {
        Ok(t.to_owned())
    } else {
        Err("must be a phone number such as +254 712 345678".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones() {
        for ok in ["", "+254 712 345678", "0712-345-678", "0712345678"] {
            assert!(parse_phone(ok).is_ok(), "{ok}");
        }
        for bad in ["abc", "+", "12", "07123456789012345", "07 12+3456"] {
            assert!(parse_phone(bad).is_err(), "{bad}");
        }
    }
}
