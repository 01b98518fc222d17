//! Wiring edge ↔ central sync into a process: an edge's link (its loops,
//! readiness line and HTTP handle), or central's sync-worker loops.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use async_trait::async_trait;
use essp_config::{Mode, Settings};
use essp_http::{Readiness, ReadinessCheck};
use essp_store::Database;
use essp_store::sync::edges::{self, ThisEdge};
use essp_sync_engine::blob_transfer::BlobAccess;
use essp_sync_engine::edge_link::EdgeLink;
use essp_sync_engine::status::SharedStatus;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::role::Role;

/// This process's part in sync.
pub enum Sync {
    /// An edge: its link to central (`None` without NATS: always offline).
    Edge {
        status: SharedStatus,
        link: Option<EdgeLink>,
        db: Arc<dyn Database>,
    },
    /// Central running the sync-worker loops (storing edges' blobs here).
    Central(async_nats::Client, Arc<dyn BlobAccess>),
    /// Nothing to do here.
    Off,
}

/// The attachment store, as sync moves blobs through it.
pub struct Blobs(pub essp_blobs::BlobStore);

#[async_trait]
impl BlobAccess for Blobs {
    async fn get(&self, key: &str) -> Result<Option<bytes::Bytes>, String> {
        use futures::TryStreamExt;
        match self.0.get_stream(key).await {
            Ok(stream) => {
                let chunks: Vec<bytes::Bytes> = stream.try_collect().await.map_err(|e| e.to_string())?;
                Ok(Some(chunks.concat().into()))
            }
            Err(essp_blobs::BlobError::NotFound) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    async fn get_range(&self, key: &str, range: std::ops::Range<u64>) -> Result<Option<bytes::Bytes>, String> {
        match self.0.get_range(key, range).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(essp_blobs::BlobError::NotFound) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    async fn put(&self, key: &str, bytes: bytes::Bytes) -> Result<(), String> {
        let body = futures::stream::iter([Ok::<_, std::convert::Infallible>(bytes)]);
        self.0
            .put_stream(key, body, u64::MAX)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    async fn exists(&self, key: &str) -> Result<bool, String> {
        match self.0.size(key).await {
            Ok(_) => Ok(true),
            Err(essp_blobs::BlobError::NotFound) => Ok(false),
            Err(e) => Err(e.to_string()),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), String> {
        self.0.delete(key).await.map_err(|e| e.to_string())
    }
}

/// Marks an edge's database with its school and decides what to run.
pub async fn prepare(
    settings: &Settings,
    role: Role,
    db: &Arc<dyn Database>,
    nats: Option<async_nats::Client>,
    blobs: &essp_blobs::BlobStore,
) -> Result<Sync> {
    match settings.mode {
        Mode::Edge => {
            // Settings guarantee both are present in edge mode.
            let this = ThisEdge {
                tenant_id: settings.tenant_id.clone().context("ESSP_TENANT_ID")?,
                school_id: settings.school_id.clone().context("ESSP_SCHOOL_ID")?,
            };
            if let Some(previous) = edges::this_edge(db.as_ref()).await?
                && previous != this
            {
                anyhow::bail!(
                    "this database belongs to the edge of {}/{}, not {}/{} (ESSP_TENANT_ID/ESSP_SCHOOL_ID); \
                     an edge box serves one school",
                    previous.tenant_id,
                    previous.school_id,
                    this.tenant_id,
                    this.school_id
                );
            }
            edges::set_this_edge(db.as_ref(), &this.tenant_id, &this.school_id).await?;
            let status = SharedStatus::default();
            status.update(|s| {
                s.state = "offline".into();
                s.message = if nats.is_some() {
                    "not in contact with central yet".into()
                } else {
                    "NATS_URL is not set: this edge does not sync".into()
                };
            });
            let link = nats.map(|client| EdgeLink {
                db: db.clone(),
                client,
                this,
                host: host_id(settings),
                status: status.clone(),
                app_version: env!("CARGO_PKG_VERSION").into(),
                checkpoint_every: settings.sync_checkpoint_interval,
                blobs: Some(Arc::new(Blobs(blobs.clone()))),
            });
            Ok(Sync::Edge {
                status,
                link,
                db: db.clone(),
            })
        }
        Mode::Central => Ok(match nats {
            Some(client) if role.runs_sync_worker() => Sync::Central(client, Arc::new(Blobs(blobs.clone()))),
            _ => Sync::Off,
        }),
    }
}

/// This box's identity: `ESSP_EDGE_HOST_ID`, else the machine id systemd
/// keeps, else the host name.
pub fn host_id(settings: &Settings) -> String {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .ok()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    settings
        .edge_host_id
        .clone()
        .or_else(|| read("/etc/machine-id"))
        .or_else(|| read("/proc/sys/kernel/hostname"))
        .unwrap_or_else(|| "unknown".into())
}

impl Sync {
    /// The `sync` line of `/readyz`: an edge's link is optional (the school
    /// works offline), so it is at worst "degraded".
    pub fn readiness(&self, settings: &Settings) -> Readiness {
        match self {
            Sync::Edge { status, .. } => Readiness::Optional(Arc::new(LinkCheck {
                status: status.clone(),
                stale_after: settings.sync_checkpoint_interval * 3,
            })),
            Sync::Central(..) | Sync::Off => Readiness::Disabled,
        }
    }

    /// An edge linked to central: its SSOT snapshots come down the sync
    /// stream (central-owned rows), so it must not also fill them itself
    /// from SSOT events or an SSOT reconcile. An edge with no link keeps
    /// the SSOT reconcile (`*_SSOT_BASE_URL`) as its only source.
    pub fn ssot_from_central(&self) -> bool {
        matches!(self, Sync::Edge { link: Some(_), .. })
    }

    /// The handle `GET /v1/sync/status` and `POST /v1/sync/now` use.
    pub fn http_handle(&self) -> Option<Arc<dyn essp_http::sync::EdgeSync>> {
        match self {
            Sync::Edge { status, link, db } => Some(Arc::new(Handle {
                status: status.clone(),
                link: link.clone(),
                db: db.clone(),
            })),
            _ => None,
        }
    }

    pub fn spawn(self, db: Arc<dyn Database>, stop: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
        match self {
            Sync::Edge { link: Some(link), .. } => link.spawn(stop),
            Sync::Central(client, blobs) => essp_sync_engine::central_link::spawn(db, client, blobs, stop),
            Sync::Edge { link: None, .. } | Sync::Off => Vec::new(),
        }
    }
}

struct LinkCheck {
    status: SharedStatus,
    stale_after: Duration,
}

#[async_trait]
impl ReadinessCheck for LinkCheck {
    async fn check(&self) -> Result<(), String> {
        let s = self.status.get();
        let fresh = s.last_contact.is_some_and(|t| {
            (chrono::Utc::now() - t)
                .to_std()
                .is_ok_and(|age| age <= self.stale_after)
        });
        match (s.state.as_str(), fresh) {
            ("ok", true) => Ok(()),
            ("ok", false) => Err("no contact with central recently".into()),
            (state, _) => Err(format!("{state}: {}", s.message)),
        }
    }
}

struct Handle {
    status: SharedStatus,
    link: Option<EdgeLink>,
    db: Arc<dyn Database>,
}

#[async_trait]
impl essp_http::sync::EdgeSync for Handle {
    async fn status(&self) -> serde_json::Value {
        let mut s = self.status.get();
        if let Err(e) = s.refresh(self.db.as_ref()).await {
            tracing::warn!(error = %e, "sync status: cannot read the outbox");
        }
        serde_json::to_value(s).unwrap_or_default()
    }

    async fn sync_now(&self) -> Result<serde_json::Value, String> {
        let link = self
            .link
            .as_ref()
            .ok_or("NATS_URL is not set: this edge does not sync")?;
        link.checkpoint(true).await.map_err(|e| e.to_string())?;
        Ok(self.status().await)
    }
}
