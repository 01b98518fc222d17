//! Periodic housekeeping that every process may run (idempotent, cheap).

use std::sync::Arc;
use std::time::Duration;

use essp_store::Database;
use essp_store::idempotency;
use tokio::sync::watch;

/// How long a retried POST can still be recognised by its Idempotency-Key.
const KEEP_IDEMPOTENCY_KEYS: chrono::Duration = chrono::Duration::hours(24);
const EVERY: Duration = Duration::from_secs(15 * 60);

/// Forgets old idempotency keys until `stop` turns true.
pub fn spawn(db: Arc<dyn Database>, mut stop: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match idempotency::purge_before(db.as_ref(), essp_domain::now() - KEEP_IDEMPOTENCY_KEYS).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(purged = n, "forgot old idempotency keys"),
                Err(e) => tracing::warn!(error = %e, "idempotency key purge failed; will retry"),
            }
            tokio::select! {
                _ = tokio::time::sleep(EVERY) => {}
                _ = stop.wait_for(|stopped| *stopped) => return,
            }
        }
    })
}
