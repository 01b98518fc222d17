//! Domain features: work orders, SSOT sync, SLA targets.

use std::time::Duration;

use crate::effective::Effective;
use crate::parse::{self, Result};
use crate::source::Source;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkOrderSettings {
    pub auto_route: bool,
    pub default_repair_location: String,
    pub scheduling_enabled: bool,
    /// `ESSP_MAX_REWORK`: times a work order may be sent back (default 5).
    pub max_rework: u32,
    /// `ESSP_TELEMETRY_DEDUPE_WINDOW`: repeats of one telemetry fault on one
    /// device within this window stay one incident (default 1h).
    pub telemetry_dedupe_window: Duration,
}

impl WorkOrderSettings {
    pub(crate) fn load(src: &Source<'_>) -> Result<Self> {
        Ok(Self {
            auto_route: src.flag("AUTO_ROUTE_WORK_ORDERS", true)?,
            default_repair_location: src.parse_or("DEFAULT_REPAIR_LOCATION", "service_shop".into(), parse::slug)?,
            scheduling_enabled: src.flag("ENABLE_WORK_ORDER_SCHEDULING", true)?,
            max_rework: src.parse_or("ESSP_MAX_REWORK", 5, parse::int_in(1..=100))?,
            telemetry_dedupe_window: src.parse_or(
                "ESSP_TELEMETRY_DEDUPE_WINDOW",
                Duration::from_secs(3600),
                parse::positive_duration,
            )?,
        })
    }

    pub(crate) fn effective(&self, out: &mut Effective) {
        out.set("AUTO_ROUTE_WORK_ORDERS", self.auto_route);
        out.set("DEFAULT_REPAIR_LOCATION", &self.default_repair_location);
        out.set("ENABLE_WORK_ORDER_SCHEDULING", self.scheduling_enabled);
        out.set("ESSP_MAX_REWORK", self.max_rework);
        out.duration("ESSP_TELEMETRY_DEDUPE_WINDOW", self.telemetry_dedupe_window);
    }
}

#[derive(Debug, Clone)]
pub struct SsotSettings {
    pub enable_sync: bool,
    pub sync_interval: Duration,
    pub page_size: u32,
    pub school_base_url: Option<String>,
    pub device_base_url: Option<String>,
    pub parts_base_url: Option<String>,
    /// Bearer token for SSOT services that require authentication
    /// (`ESSP_SSOT_TOKEN`, or `ESSP_SSOT_TOKEN_FILE`).
    pub token: Option<crate::Secret>,
    /// Tenants to reconcile even before IMS has seen their data
    /// (`ESSP_SSOT_TENANTS`, comma-separated).
    pub tenants: Vec<String>,
}

impl SsotSettings {
    pub(crate) fn load(src: &Source<'_>) -> Result<Self> {
        let sync_interval = match src.first_of(&["SSOT_SYNC_INTERVAL", "SYNC_INTERVAL"]) {
            Some((var, raw)) => parse::positive_duration(var, &raw)?,
            None => Duration::from_secs(5 * 60),
        };
        Ok(Self {
            enable_sync: src.flag("ENABLE_SSOT_SYNC", false)?,
            sync_interval,
            page_size: src.parse_or("SSOT_SYNC_PAGE_SIZE", 100, parse::int_in(1..=1000))?,
            school_base_url: src.parse_opt("SCHOOL_SSOT_BASE_URL", parse::http_url)?,
            device_base_url: src.parse_opt("DEVICE_SSOT_BASE_URL", parse::http_url)?,
            parts_base_url: src.parse_opt("PARTS_SSOT_BASE_URL", parse::http_url)?,
            token: src.secret("ESSP_SSOT_TOKEN")?,
            tenants: src
                .text_or("ESSP_SSOT_TENANTS", "")
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect(),
        })
    }

    pub(crate) fn effective(&self, out: &mut Effective) {
        out.set("ENABLE_SSOT_SYNC", self.enable_sync);
        out.duration("SSOT_SYNC_INTERVAL", self.sync_interval);
        out.set("SSOT_SYNC_PAGE_SIZE", self.page_size);
        out.url("SCHOOL_SSOT_BASE_URL", self.school_base_url.as_deref());
        out.url("DEVICE_SSOT_BASE_URL", self.device_base_url.as_deref());
        out.url("PARTS_SSOT_BASE_URL", self.parts_base_url.as_deref());
        out.secret("ESSP_SSOT_TOKEN", self.token.as_ref());
        out.set("ESSP_SSOT_TENANTS", self.tenants.join(","));
    }
}

/// Resolution targets per incident severity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaSettings {
    pub critical: Duration,
    pub high: Duration,
    pub medium: Duration,
    pub low: Duration,
    /// How often the breach sweep runs (`ESSP_SLA_SWEEP_INTERVAL`, default 1m).
    pub sweep_interval: Duration,
}

impl SlaSettings {
    pub(crate) fn load(src: &Source<'_>) -> Result<Self> {
        let hours = |name: &str, h: u64| src.parse_or(name, Duration::from_secs(h * 3600), parse::positive_duration);
        Ok(Self {
            critical: hours("ESSP_SLA_CRITICAL", 4)?,
            high: hours("ESSP_SLA_HIGH", 24)?,
            medium: hours("ESSP_SLA_MEDIUM", 48)?,
            low: hours("ESSP_SLA_LOW", 72)?,
            sweep_interval: src.parse_or(
                "ESSP_SLA_SWEEP_INTERVAL",
                Duration::from_secs(60),
                parse::positive_duration,
            )?,
        })
    }

    pub(crate) fn effective(&self, out: &mut Effective) {
        out.duration("ESSP_SLA_CRITICAL", self.critical);
        out.duration("ESSP_SLA_HIGH", self.high);
        out.duration("ESSP_SLA_MEDIUM", self.medium);
        out.duration("ESSP_SLA_LOW", self.low);
        out.duration("ESSP_SLA_SWEEP_INTERVAL", self.sweep_interval);
    }
}
