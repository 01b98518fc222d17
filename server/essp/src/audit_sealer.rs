//! Links freshly written audit rows into each tenant's hash chain. Writers
//! only INSERT their audit row (in their own transaction); sealing them in
//! order here, once per cluster at a time, keeps concurrent writers of one
//! tenant from queueing on the chain head.

use std::sync::Arc;
use std::time::Duration;

use essp_store::{Database, StoreError, audit};
use tokio::sync::watch;

const LEASE: &str = "essp:audit-seal";
const BATCH: i64 = 1000;

/// Seals everything pending; returns how many rows.
pub async fn seal_all(db: &dyn Database) -> Result<usize, StoreError> {
    let Some(lease) = db.try_lock(LEASE).await? else {
        return Ok(0); // another replica is sealing
    };
    let result = async {
        let mut total = 0;
        for tenant in audit::tenants_to_seal(db).await? {
            loop {
                let tx = db.begin().await?;
                let n = audit::seal(tx.as_ref(), &tenant, BATCH).await?;
                tx.commit().await?;
                total += n;
                if (n as i64) < BATCH {
                    break;
                }
            }
        }
        Ok::<_, StoreError>(total)
    }
    .await;
    lease.release().await?;
    result
}

pub fn spawn(db: Arc<dyn Database>, every: Duration, mut stop: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match seal_all(db.as_ref()).await {
                Ok(n) if n > 0 => metrics::counter!("audit_rows_sealed_total").increment(n as u64),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "audit sealing failed; will retry"),
            }
            let stopping = tokio::select! {
                _ = tokio::time::sleep(every) => false,
                _ = stop.wait_for(|s| *s) => true,
            };
            if stopping {
                // Seal what the last requests wrote before stopping.
                let _ = seal_all(db.as_ref()).await;
                return;
            }
        }
    })
}
