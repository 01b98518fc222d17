//! Moving data between ESSP's parts.
//!
//! So far: SSOT change events (outbox → JetStream → IMS snapshot tables)
//! and the periodic reconcile that recovers anything an event missed.

pub mod ssot_events;
pub mod ssot_feed;
pub mod ssot_reconcile;

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
