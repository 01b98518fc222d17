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

/// Other services' `/health` endpoints (the SSOT services for IMS).
pub struct HttpHealth {
    client: reqwest::Client,
    urls: Vec<String>,
}

#[async_trait]
impl ReadinessCheck for HttpHealth {
    async fn check(&self) -> Result<(), String> {
        for url in &self.urls {
            let ok = self
                .client
                .get(format!("{}/health", url.trim_end_matches('/')))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if !ok {
                return Err("unreachable".into());
            }
        }
        Ok(())
    }
}

/// A check of every base URL's `/health`, each answering within 2 s.
pub fn http_health(urls: Vec<String>) -> Option<Arc<dyn ReadinessCheck>> {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(2))
        .build()
        .ok()?;
    Some(Arc::new(HttpHealth { client, urls }))
}
