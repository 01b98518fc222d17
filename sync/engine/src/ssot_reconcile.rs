//! The periodic reconcile: IMS pulls each kind's change feed from its
//! checkpoint and applies it, so changes whose events were lost (NATS down,
//! a worker killed) still arrive. Each page is applied in one transaction
//! together with the checkpoint, so a killed worker resumes where it was.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use essp_domain::ssot::{KINDS, Kind};
use essp_store::Database;
use essp_store::ssot_snapshot as snapshot;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::ssot_feed::{ChangeFeed, FeedError};

pub struct Reconciler {
    ims: Arc<dyn Database>,
    feed: Arc<dyn ChangeFeed>,
    page_size: u32,
    /// Tenants to reconcile even before IMS has seen any of their data.
    extra_tenants: Vec<String>,
}

/// What one kind's reconcile did: rows applied and the revision reached.
pub type KindResult = (&'static str, u64, i64);

impl Reconciler {
    pub fn new(ims: Arc<dyn Database>, feed: Arc<dyn ChangeFeed>, page_size: u32, extra_tenants: Vec<String>) -> Self {
        Self {
            ims,
            feed,
            page_size: page_size.clamp(1, 1000),
            extra_tenants,
        }
    }

    /// Brings `kind`'s snapshot of `tenant` up to the feed's end.
    pub async fn sync_kind(&self, tenant: &str, kind: &'static Kind) -> Result<KindResult, FeedError> {
        let db = self.ims.as_ref();
        let mut after = snapshot::state(db, tenant, kind.name)
            .await?
            .map_or(0, |s| s.last_revision);
        let mut applied = 0;
        loop {
            let (rows, next) = match self.feed.page(tenant, kind, after, self.page_size).await {
                Ok(page) => page,
                Err(e) => {
                    let _ = snapshot::failed(db, tenant, kind.name, &e.to_string(), essp_domain::now()).await;
                    return Err(e);
                }
            };
            let reached = rows.last().map_or(after, |r| r.meta.revision);
            let tx = self.ims.begin().await?;
            let n = snapshot::apply(tx.as_ref(), kind, &rows).await?;
            snapshot::advance(tx.as_ref(), tenant, kind.name, reached, n, essp_domain::now()).await?;
            tx.commit().await?;
            applied += n;
            after = reached;
            metrics::counter!("essp_ssot_rows_applied_total", "source" => "reconcile").increment(n);
            if next.is_none() {
                return Ok((kind.name, applied, after));
            }
        }
    }

    /// Reconciles the given kinds of one tenant, in order.
    pub async fn sync(&self, tenant: &str, kinds: &[&'static Kind]) -> Result<Vec<KindResult>, FeedError> {
        let mut out = Vec::with_capacity(kinds.len());
        for kind in kinds {
            out.push(self.sync_kind(tenant, kind).await?);
        }
        Ok(out)
    }

    /// One pass over every known tenant and kind; failures are logged and
    /// recorded in the checkpoint, and the pass moves on.
    pub async fn sync_all(&self) -> Result<(), FeedError> {
        let mut tenants: BTreeSet<String> = self.extra_tenants.iter().cloned().collect();
        tenants.extend(snapshot::known_tenants(self.ims.as_ref()).await?);
        match self.feed.tenants().await {
            Ok(t) => tenants.extend(t),
            Err(e) => tracing::warn!(error = %e, "cannot list SSOT tenants"),
        }
        for tenant in &tenants {
            for kind in KINDS.iter().filter(|k| self.feed.covers(k)) {
                if let Err(e) = self.sync_kind(tenant, kind).await {
                    metrics::counter!("essp_ssot_reconcile_errors_total").increment(1);
                    tracing::warn!(tenant = %tenant, kind = kind.name, error = %e, "SSOT reconcile failed");
                }
            }
        }
        Ok(())
    }

    /// Reconciles now and then every `interval` until `stop`.
    pub fn spawn(self: Arc<Self>, interval: Duration, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                if let Err(e) = self.sync_all().await {
                    tracing::warn!(error = %e, "SSOT reconcile pass failed");
                }
                if crate::sleep_or_stop(&mut stop, interval).await {
                    return;
                }
            }
        })
    }
}
