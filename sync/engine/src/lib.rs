//! Moving data between ESSP's parts.
//!
//! SSOT change events (outbox → JetStream → IMS snapshot tables) and the
//! periodic reconcile that recovers anything an event missed; and edge ↔
//! central sync (SYNC.md): applying envelopes ([`edge_apply`]), central's
//! side of the link ([`central_link`]) and an edge's ([`edge_link`]).

pub mod blob_transfer;
pub mod central_link;
pub mod edge_apply;
pub mod edge_link;
pub mod ssot_events;
pub mod ssot_feed;
pub mod ssot_reconcile;
pub mod status;
pub mod verify;

/// How long background loops wait after a failure before trying again.
pub(crate) const RETRY: std::time::Duration = std::time::Duration::from_secs(1);

/// Sleeps for `d`, or returns early (true) when `stop` fires.
pub(crate) async fn sleep_or_stop(stop: &mut tokio::sync::watch::Receiver<bool>, d: std::time::Duration) -> bool {
    let stopped = tokio::select! {
        () = tokio::time::sleep(d) => false,
        _ = stop.wait_for(|s| *s) => true,
    };
    stopped || *stop.borrow()
}

/// Why a sync step did not complete; every one is retried.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("NATS: {0}")]
    Nats(String),
    #[error(transparent)]
    Store(#[from] essp_store::StoreError),
    #[error("{0}")]
    Other(String),
}

pub(crate) fn nats_err(e: impl std::fmt::Display) -> SyncError {
    SyncError::Nats(e.to_string())
}
