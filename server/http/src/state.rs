//! What every handler can reach.

use std::sync::Arc;

use async_trait::async_trait;
use essp_domain::sla::SlaPolicy;
use ipnet::IpNet;

use crate::auth::AuthMode;
use crate::ratelimit::RateLimits;
use essp_store::Database;
use metrics_exporter_prometheus::PrometheusHandle;

/// HTTP-level settings, mapped from the process configuration by the binary.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub tenant_header: String,
    pub school_header: String,
    pub body_limit_bytes: usize,
    pub sla: SlaPolicy,
    /// `DEFAULT_REPAIR_LOCATION`: the depot name accepted besides
    /// `service_shop` and `on_site`, and the default for new work orders.
    pub default_repair_location: String,
    /// `AUTO_ROUTE_WORK_ORDERS`: open a triage work order at the covering
    /// shop for each new incident.
    pub auto_route: bool,
    /// Times a work order may be sent back before it needs a new one.
    pub max_rework: i64,
    /// `ENABLE_WORK_ORDER_SCHEDULING`.
    pub scheduling_enabled: bool,
    /// Repeats of one telemetry fault on one device within this window
    /// stay one incident (`ESSP_TELEMETRY_DEDUPE_WINDOW`).
    pub telemetry_dedupe_window: std::time::Duration,
    /// Largest attachment accepted (`ESSP_ATTACHMENT_MAX_BYTES`).
    pub attachment_max_bytes: u64,
    /// Lifetime of presigned download links (`MINIO_PRESIGN_EXPIRY_SECONDS`).
    pub presign_expiry: std::time::Duration,
    /// Proxies whose `X-Forwarded-For` / `X-Forwarded-Proto` are believed.
    pub trusted_proxies: Vec<IpNet>,
    /// `None` when rate limiting is disabled.
    pub rate_limits: Option<RateLimits>,
    /// Allowed browser origins; empty = no CORS.
    pub cors_origins: Vec<String>,
    /// Serve `/metrics` on the API listener (false when it has its own).
    pub metrics_on_api: bool,
    /// Serve the IMS API (`--role ims-api` or `all`).
    pub serve_ims: bool,
    /// SSOT services this process serves (`--role ssot-*`, `ssot` or `all`).
    pub ssot_domains: Vec<essp_domain::ssot::Domain>,
    /// The admin UI's settings; it is served with the IMS API.
    pub ui: crate::web_admin::UiSettings,
    /// `ESSP_MODE=edge`: what central owns (SYNC.md) is read-only here.
    pub edge_node: bool,
}

/// A dependency probed by `/readyz`.
#[async_trait]
pub trait ReadinessCheck: Send + Sync {
    /// `Err` carries a short, secret-free reason shown in the response.
    async fn check(&self) -> Result<(), String>;
}

/// One named line of the readiness report.
#[derive(Clone)]
pub enum Readiness {
    /// Not configured in this deployment; reported as "disabled".
    Disabled,
    /// Must pass for the process to take traffic.
    Required(Arc<dyn ReadinessCheck>),
    /// Reported, but a failure only marks it "degraded" (e.g. an edge's
    /// link to central: the school keeps working offline).
    Optional(Arc<dyn ReadinessCheck>),
}

#[derive(Clone)]
pub struct AppState {
    pub db: Arc<dyn Database>,
    /// The handlers' write transactions, grouped into shared commits.
    pub writes: Arc<essp_store::GroupCommit>,
    pub auth: Arc<AuthMode>,
    pub blobs: essp_blobs::BlobStore,
    pub config: Arc<HttpConfig>,
    pub metrics: PrometheusHandle,
    pub readiness: Arc<Vec<(&'static str, Readiness)>>,
    /// Brings IMS's SSOT snapshots up to date on demand; `None` when no
    /// SSOT source is configured.
    pub ssot_sync: Option<Arc<dyn crate::ssot::cache::SnapshotSync>>,
    /// This edge's link to central; `None` on central and standalone nodes.
    pub edge_sync: Option<Arc<dyn crate::sync::EdgeSync>>,
}
