//! Readiness probes for the optional dependencies (the database check is
//! built into the HTTP layer).

use std::sync::Arc;

use async_trait::async_trait;
use essp_blobs::BlobStore;
use essp_http::ReadinessCheck;

pub struct BlobCheck(pub BlobStore);

#[async_trait]
impl ReadinessCheck for BlobCheck {
    async fn check(&self) -> Result<(), String> {
        self.0.check().await.map_err(|e| {
            tracing::warn!(error = %e, "readiness: blob store failed");
            "unreachable".to_owned()
        })
    }
}

pub struct NatsCheck(pub async_nats::Client);

#[async_trait]
impl ReadinessCheck for NatsCheck {
    async fn check(&self) -> Result<(), String> {
        match self.0.connection_state() {
            async_nats::connection::State::Connected => Ok(()),
            other => Err(format!("{other:?}").to_lowercase()),
        }
    }
}

pub fn blob(store: BlobStore) -> Arc<dyn ReadinessCheck> {
    Arc::new(BlobCheck(store))
}

pub fn nats(client: async_nats::Client) -> Arc<dyn ReadinessCheck> {
    Arc::new(NatsCheck(client))
}
