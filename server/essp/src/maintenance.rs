//! Periodic housekeeping that every process may run (idempotent, cheap):
//! old idempotency keys are forgotten, presigned uploads nobody confirmed
//! are removed with their objects, and SQLite's planner statistics are
//! kept fresh (without them it picks poor indexes on large tables).

use std::sync::Arc;
use std::time::Duration;

use essp_blobs::BlobStore;
use essp_store::{Database, StoreError, attachments, idempotency};
use tokio::sync::watch;

/// How long a retried POST can still be recognised by its Idempotency-Key.
const KEEP_IDEMPOTENCY_KEYS: chrono::Duration = chrono::Duration::hours(24);
/// Abandoned uploads removed per pass (the next pass takes the rest).
const UPLOAD_BATCH: i64 = 500;

/// What housekeeping needs to know.
pub struct Housekeeping {
    pub db: Arc<dyn Database>,
    pub blobs: BlobStore,
    pub every: Duration,
    /// Lifetime of a presigned upload URL: a pending upload twice this old
    /// is abandoned (the extra lifetime leaves a client whose PUT finished
    /// just before expiry time to confirm).
    pub upload_expiry: Duration,
}

/// Runs one pass now and then every `every` until `stop` turns true.
pub fn spawn(h: Housekeeping, mut stop: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            h.pass().await;
            tokio::select! {
                _ = tokio::time::sleep(h.every) => {}
                _ = stop.wait_for(|stopped| *stopped) => return,
            }
        }
    })
}

impl Housekeeping {
    async fn pass(&self) {
        match idempotency::purge_before(self.db.as_ref(), essp_domain::now() - KEEP_IDEMPOTENCY_KEYS).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(purged = n, "forgot old idempotency keys"),
            Err(e) => tracing::warn!(error = %e, "idempotency key purge failed; will retry"),
        }
        match self.forget_abandoned_uploads().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "removed abandoned uploads"),
            Err(e) => tracing::warn!(error = %e, "abandoned upload cleanup failed; will retry"),
        }
        if let Some(script) = self.db.dialect().refresh_statistics
            && let Err(e) = self.db.execute_script(script).await
        {
            tracing::warn!(error = %e, "refreshing planner statistics failed; will retry");
        }
    }

    /// The row goes first: once it is gone no confirmation can make the
    /// attachment available, so an attachment never points at a deleted
    /// object. An object whose delete fails stays behind (and is logged).
    async fn forget_abandoned_uploads(&self) -> Result<usize, StoreError> {
        let age = chrono::Duration::from_std(self.upload_expiry * 2).unwrap_or(chrono::Duration::days(1));
        let abandoned =
            attachments::abandoned_uploads(self.db.as_ref(), essp_domain::now() - age, UPLOAD_BATCH).await?;
        let mut removed = 0;
        for a in abandoned {
            if !attachments::delete_pending(self.db.as_ref(), &a).await? {
                continue; // confirmed meanwhile
            }
            removed += 1;
            if let Err(e) = self.blobs.delete(&a.object_key).await {
                tracing::warn!(error = %e, attachment = %a.id, "could not delete an abandoned upload's object");
            }
        }
        Ok(removed)
    }
}
