//! `essp demo seed`: a deterministic, realistic demo tenant at any scale
//! up to the national one (10,000 schools, 1,000,000 devices), written
//! through the same code paths as real use: the SSOT by its CSV import,
//! IMS's snapshots by the sync-worker's reconcile, and IMS by its HTTP
//! handlers (validation, audit, enrichment and auto-routing included).
//! The same seed gives the same data (ids are fresh ULIDs each time).

mod data;
mod ims;
mod ssot;

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use essp_config::Settings;
use essp_http::auth::AuthMode;
use essp_http::{AppState, Readiness};
use essp_store::migrate::Migrator;
use serde_json::Value;
use tower::ServiceExt;

use crate::bootstrap;

pub const TENANT: &str = "demo-tenant";

/// What to generate.
#[derive(Debug, Clone)]
pub struct Params {
    pub schools: u64,
    pub devices_per_school: u64,
    /// Fixed incidents per school; by default 10-15 % of its devices.
    pub incidents_per_school: Option<u64>,
    pub seed: u64,
}

/// The in-process API: requests go through the router, as a client's would.
#[derive(Clone)]
pub(crate) struct Client {
    app: axum::Router,
}

impl Client {
    pub(crate) async fn send(&self, method: Method, path: &str, school: Option<&str>, body: Value) -> Result<Value> {
        let mut req = Request::builder()
            .method(method.clone())
            .uri(path)
            .header("content-type", "application/json")
            .header("x-tenant-id", TENANT);
        if let Some(s) = school {
            req = req.header("x-school-id", s);
        }
        let body = if body.is_null() {
            Body::empty()
        } else {
            Body::from(body.to_string())
        };
        let req = req.body(body).context("demo request")?;
        let resp = self.app.clone().oneshot(req).await.context("demo request")?;
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .context("demo response")?;
        if !status.is_success() {
            bail!("{method} {path}: {status}: {}", String::from_utf8_lossy(&bytes));
        }
        if status == StatusCode::NO_CONTENT {
            return Ok(Value::Null);
        }
        Ok(serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }
}

/// What the seed wrote (the same for the same parameters and seed).
pub struct Summary {
    pub ssot: Vec<(&'static str, u64)>,
    pub snapshot_rows: u64,
    pub ims: ims::Counts,
    /// Seconds per phase (not part of the deterministic content).
    pub timings: Vec<(&'static str, f64)>,
}

impl Summary {
    fn ssot_count(&self, kind: &str) -> u64 {
        self.ssot.iter().find(|(k, _)| *k == kind).map_or(0, |(_, n)| *n)
    }

    /// The summary printed on stdout: counts only, so two seeds compare.
    pub fn lines(&self) -> Vec<String> {
        let i = &self.ims;
        let ssot: Vec<String> = self.ssot.iter().map(|(k, n)| format!("{k} {n}")).collect();
        vec![
            format!(
                "seeded {TENANT}: {} counties, {} sub-counties, {} schools, {} devices, {} parts; \
                 {} service shops, {} staff, {} incidents, {} work orders",
                self.ssot_count("counties"),
                self.ssot_count("sub_counties"),
                self.ssot_count("schools"),
                self.ssot_count("devices"),
                self.ssot_count("parts"),
                i.shops,
                i.staff,
                i.incidents,
                i.routed
            ),
            format!(
                "ssot (CSV import): {}; snapshot rows reconciled {}",
                ssot.join(", "),
                self.snapshot_rows
            ),
            format!(
                "ims (HTTP API): {} service shops, {} staff, {} stock items; {} incidents ({} with SSOT names), \
                 {} auto-routed work orders: {} in repair, {} BOM lines reserved ({} consumed), {} completed, \
                 {} approved (incident resolved), {} incidents closed",
                i.shops,
                i.staff,
                i.stock_items,
                i.incidents,
                i.enriched,
                i.routed,
                i.in_repair,
                i.bom_lines,
                i.consumed,
                i.completed,
                i.approved,
                i.closed
            ),
        ]
    }
}

/// Refuses a tenant that already has SSOT or IMS data.
async fn refuse_non_empty(client: &Client) -> Result<()> {
    for path in ["/v1/service-shops?limit=1", "/v1/counties?limit=1"] {
        let existing = client.send(Method::GET, path, None, Value::Null).await?;
        if existing["items"].as_array().is_some_and(|i| !i.is_empty()) {
            bail!("tenant {TENANT} already has data; demo seed only fills an empty tenant");
        }
    }
    Ok(())
}

/// Seeds the demo tenant: the SSOT, IMS's snapshots of it, then the
/// repair network, stock and incidents through the API.
pub async fn seed(settings: &Settings, p: &Params) -> Result<Summary> {
    let started = Instant::now();
    let db = bootstrap::open_database(settings).await?;
    Migrator::embedded(db.as_ref())?.up(None).await?;
    // Development identity and no rate limits: this is an operator action.
    // Auto-routing is what the demo shows, whatever the environment says.
    let mut config = bootstrap::http_config(settings, crate::role::Role::All)?;
    config.rate_limits = None;
    config.auto_route = true;
    let state = AppState {
        db: db.clone(),
        writes: Arc::new(essp_store::GroupCommit::new(db.clone())),
        auth: Arc::new(AuthMode::Development),
        blobs: bootstrap::blob_store(settings)?,
        config: Arc::new(config),
        metrics: metrics_exporter_prometheus::PrometheusBuilder::new()
            .build_recorder()
            .handle(),
        readiness: Arc::new(vec![("redis", Readiness::Disabled)]),
        ssot_sync: None,
        edge_sync: None,
    };
    let client = Client {
        app: essp_http::router(state),
    };
    refuse_non_empty(&client).await?;

    let geo = Arc::new(data::Geography::new());
    let cat = Arc::new(data::Catalogue::new(p.seed));
    let mut timings = Vec::new();
    let mut lap = Instant::now();
    let mut tick = |name: &'static str, timings: &mut Vec<(&'static str, f64)>| {
        timings.push((name, lap.elapsed().as_secs_f64()));
        lap = Instant::now();
    };

    let imported = ssot::seed(&db, p, &geo, &cat).await?;
    tick("ssot import", &mut timings);
    let snapshot_rows = ssot::reconcile(&db).await?;
    tick("snapshot reconcile", &mut timings);
    let counts = ims::seed(&db, &client, p, &geo, &cat).await?;
    ims::check(&counts)?;
    tick("ims through the API", &mut timings);
    // Seal the audit rows the seed wrote, so the chain is whole at once.
    crate::audit_sealer::seal_all(db.as_ref()).await?;
    tick("audit seal", &mut timings);
    // Planner statistics for the freshly loaded tables, as an operator runs
    // after any bulk load: without them, both engines guess index choices
    // from empty tables (Postgres's autovacuum catches up only later).
    db.execute("ANALYZE", &[]).await?;
    tick("analyze", &mut timings);
    db.close().await;
    timings.push(("total", started.elapsed().as_secs_f64()));
    Ok(Summary {
        ssot: imported,
        snapshot_rows,
        ims: counts,
        timings,
    })
}
