//! `essp demo seed`: a deterministic, realistic demo tenant, written through
//! the same HTTP handlers a client would use (validation, audit and all),
//! so a new user sees a populated system.

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use essp_config::Settings;
use essp_http::auth::AuthMode;
use essp_http::{AppState, Readiness};
use essp_store::migrate::Migrator;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::bootstrap;

pub const TENANT: &str = "demo-tenant";
const COUNTIES: usize = 47;

struct Client {
    app: axum::Router,
}

impl Client {
    async fn send(&self, method: Method, path: &str, school: Option<&str>, body: Value) -> Result<Value> {
        let mut req = Request::builder()
            .method(method.clone())
            .uri(path)
            .header("content-type", "application/json")
            .header("x-tenant-id", TENANT);
        if let Some(s) = school {
            req = req.header("x-school-id", s);
        }
        let req = req.body(Body::from(body.to_string())).context("demo request")?;
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

fn pick<'a>(rng: &mut StdRng, weighted: &[(&'a str, u32)]) -> &'a str {
    let total: u32 = weighted.iter().map(|(_, w)| w).sum();
    let mut n = rng.random_range(0..total);
    for (v, w) in weighted {
        if n < *w {
            return v;
        }
        n -= w;
    }
    weighted.first().map_or("low", |(v, _)| v)
}

pub struct Summary {
    pub shops: usize,
    pub staff: usize,
    pub incidents: usize,
    pub work_orders: usize,
}

/// Seeds the demo tenant: a shop (with a lead, an assistant and a
/// storekeeper) per county, `schools` schools spread over the counties, and
/// incidents with the programme's severity mix, a third of them with a work
/// order at the county shop in some stage of repair.
pub async fn seed(settings: &Settings, schools: usize, incidents_per_school: usize, seed: u64) -> Result<Summary> {
    let db = bootstrap::open_database(settings).await?;
    Migrator::embedded(db.as_ref())?.up(None).await?;
    // Development identity and no rate limits: this is an operator action.
    let mut config = bootstrap::http_config(settings, crate::role::Role::All)?;
    config.rate_limits = None;
    let state = AppState {
        db: db.clone(),
        auth: Arc::new(AuthMode::Development),
        blobs: bootstrap::blob_store(settings)?,
        config: Arc::new(config),
        metrics: metrics_exporter_prometheus::PrometheusBuilder::new()
            .build_recorder()
            .handle(),
        readiness: Arc::new(vec![("redis", Readiness::Disabled)]),
        ssot_sync: None,
    };
    let client = Client {
        app: essp_http::router(state),
    };
    let existing = client
        .send(Method::GET, "/v1/service-shops?limit=1", None, Value::Null)
        .await?;
    if existing["items"].as_array().is_some_and(|i| !i.is_empty()) {
        bail!("tenant {TENANT} already has data; demo seed only fills an empty tenant");
    }

    let mut rng = StdRng::seed_from_u64(seed);
    let mut summary = Summary {
        shops: 0,
        staff: 0,
        incidents: 0,
        work_orders: 0,
    };
    let mut shops = Vec::with_capacity(COUNTIES);
    for c in 1..=COUNTIES {
        let shop = client
            .send(
                Method::POST,
                "/v1/service-shops",
                None,
                json!({"name": format!("County {c:03} repair centre"), "countyCode": format!("{c:03}"), "location": format!("County {c:03} HQ")}),
            )
            .await?;
        let shop_id = shop["id"].as_str().unwrap_or_default().to_owned();
        summary.shops += 1;
        let mut lead = String::new();
        for (n, role) in ["lead_technician", "assistant_technician", "storekeeper"]
            .iter()
            .enumerate()
        {
            let staff = client
                .send(
                    Method::POST,
                    "/v1/service-staff",
                    None,
                    json!({"serviceShopId": shop_id, "userId": format!("tech-{c:03}-{n}"), "role": role, "phone": format!("+254 7{c:02} {:06}", rng.random_range(0..1_000_000))}),
                )
                .await?;
            if n == 0 {
                lead = staff["id"].as_str().unwrap_or_default().to_owned();
            }
            summary.staff += 1;
        }
        shops.push((shop_id, lead));
    }

    let faults = [
        "Cracked screen",
        "Will not charge",
        "Keyboard keys missing",
        "No Wi-Fi",
        "Battery swollen",
        "Slow to boot",
    ];
    let categories = ["hardware", "hardware", "hardware", "network", "hardware", "software"];
    for s in 0..schools {
        let school = format!("school-{:05}", s + 1);
        let (shop, lead) = &shops[s % COUNTIES];
        for _ in 0..incidents_per_school {
            let f = rng.random_range(0..faults.len());
            let severity = pick(&mut rng, &[("low", 40), ("medium", 35), ("high", 20), ("critical", 5)]);
            let device = format!("dev_{:05}_{:03}", s + 1, rng.random_range(0..100));
            let incident = client
                .send(
                    Method::POST,
                    "/v1/incidents",
                    Some(&school),
                    json!({"deviceId": device, "title": faults[f], "category": categories[f], "severity": severity}),
                )
                .await?;
            summary.incidents += 1;
            if rng.random_range(0..3) != 0 {
                continue;
            }
            let wo = client
                .send(
                    Method::POST,
                    "/v1/work-orders",
                    Some(&school),
                    json!({"incidentId": incident["id"], "taskType": "repair", "serviceShopId": shop, "assignedStaffId": lead}),
                )
                .await?;
            summary.work_orders += 1;
            let path = format!("/v1/work-orders/{}/status", wo["id"].as_str().unwrap_or_default());
            let stages = rng.random_range(0..4);
            for to in ["in_repair", "completed", "approved"].iter().take(stages) {
                client
                    .send(Method::PATCH, &path, Some(&school), json!({"status": to}))
                    .await?;
            }
        }
    }
    // Seal the audit rows the seed wrote, so the chain is whole at once.
    crate::audit_sealer::seal_all(db.as_ref()).await?;
    db.close().await;
    Ok(summary)
}
