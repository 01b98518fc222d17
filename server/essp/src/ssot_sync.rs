//! Wiring the SSOT data flow into a process: the publisher (or local
//! delivery) where SSOT data is written, the event consumer and reconcile
//! where IMS's snapshots are kept, and the `/v1/ssot/sync` trigger.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Result;
use async_trait::async_trait;
use essp_config::Settings;
use essp_domain::ssot::{Domain, Kind};
use essp_http::Readiness;
use essp_http::ssot::cache::SnapshotSync;
use essp_store::Database;
use essp_sync_engine::ssot_events;
use essp_sync_engine::ssot_feed::{ChangeFeed, HttpFeed, LocalFeed};
use essp_sync_engine::ssot_reconcile::Reconciler;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::role::Role;

fn base_urls(settings: &Settings) -> HashMap<Domain, String> {
    let s = &settings.ssot;
    [
        (Domain::School, &s.school_base_url),
        (Domain::Devices, &s.device_base_url),
        (Domain::Parts, &s.parts_base_url),
    ]
    .into_iter()
    .filter_map(|(d, url)| url.clone().map(|u| (d, u)))
    .collect()
}

/// The SSOT services over HTTP when their base URLs are set; otherwise the
/// SSOT tables in this process's own database.
pub fn feed(settings: &Settings, db: Arc<dyn Database>) -> Result<Arc<dyn ChangeFeed>> {
    let bases = base_urls(settings);
    if bases.is_empty() {
        return Ok(Arc::new(LocalFeed(db)));
    }
    let token = settings.ssot.token.as_ref().map(|t| t.expose().to_owned());
    Ok(Arc::new(HttpFeed::new(
        bases,
        settings.tenancy.tenant_header.clone(),
        token,
        std::time::Duration::from_secs(30),
    )?))
}

/// `POST /v1/ssot/sync/{resource}` runs the reconciler for one tenant.
pub struct Trigger(pub Arc<Reconciler>);

#[async_trait]
impl SnapshotSync for Trigger {
    async fn sync_now(&self, tenant: &str, kinds: &[&'static Kind]) -> Result<Vec<(&'static str, u64, i64)>, String> {
        self.0.sync(tenant, kinds).await.map_err(|e| e.to_string())
    }
}

/// IMS keeps serving from its snapshots when an SSOT is down, so the SSOT
/// services are reported as "degraded", never as a failed readiness.
pub fn readiness(settings: &Settings, role: Role) -> Readiness {
    let urls: Vec<String> = base_urls(settings).into_values().collect();
    if urls.is_empty() || !(role.serves_ims() || role.runs_sync_worker()) {
        return Readiness::Disabled;
    }
    match crate::readiness::http_health(urls) {
        Some(check) => Readiness::Optional(check),
        None => Readiness::Disabled,
    }
}

/// What SSOT work a process does.
pub struct Work {
    pub role: Role,
    /// IMS's snapshots are kept here from SSOT events and reconcile; false
    /// on an edge linked to central, whose snapshots come down the sync
    /// stream (reconciling its own empty SSOT tables would be wrong).
    pub keeps_snapshots: bool,
}

/// Starts the SSOT background work this process does.
pub fn spawn(
    work: Work,
    settings: &Settings,
    db: Arc<dyn Database>,
    nats: Option<async_nats::Client>,
    reconciler: &Arc<Reconciler>,
    stop: watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let Work { role, keeps_snapshots } = work;
    let mut tasks = Vec::new();
    if !role.ssot_domains().is_empty() {
        tasks.push(match &nats {
            Some(client) => ssot_events::spawn_publisher(db.clone(), client.clone(), stop.clone()),
            None => ssot_events::spawn_local_delivery(db.clone(), stop.clone()),
        });
    }
    if role.runs_sync_worker() && keeps_snapshots {
        if let Some(client) = &nats {
            tasks.push(ssot_events::spawn_consumer(db.clone(), client.clone(), stop.clone()));
        }
        if settings.ssot.enable_sync {
            tasks.push(reconciler.clone().spawn(settings.ssot.sync_interval, stop));
        }
    }
    tasks
}
