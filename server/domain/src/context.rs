//! Point-in-time copies of SSOT names kept on IMS records (incidents, work
//! orders): what the school, its county, its contact and the device were
//! called when the record was created. Written at creation, returned by
//! every read, never refreshed: a repair record says what was true then.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct SsotContext {
    pub school_name: String,
    pub county_id: String,
    pub county_name: String,
    pub sub_county_id: String,
    pub sub_county_name: String,
    pub contact_name: String,
    pub contact_phone: String,
    pub contact_email: String,
    pub device_serial: String,
    pub device_asset_tag: String,
    pub device_model_id: String,
    pub device_make: String,
    pub device_model: String,
    pub device_category: String,
}

impl SsotContext {
    /// The same copies without the geography (work orders keep the school,
    /// contact and device, as in the original's enrichment).
    pub fn for_work_order(&self) -> SsotContext {
        SsotContext {
            county_id: String::new(),
            county_name: String::new(),
            sub_county_id: String::new(),
            sub_county_name: String::new(),
            ..self.clone()
        }
    }
}
