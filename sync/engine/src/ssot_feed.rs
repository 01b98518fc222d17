//! Where a reconcile reads SSOT changes from: the SSOT tables in this
//! process's own database, or an SSOT service's change feed over HTTP.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use essp_domain::ssot::{Domain, Kind, SsotRow};
use essp_store::Database;
use essp_store::ssot::{self, FeedQuery};
use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("no SSOT source for {0} (set its *_SSOT_BASE_URL)")]
    NotConfigured(&'static str),
    #[error("SSOT {0} unreachable: {1}")]
    Unreachable(&'static str, String),
    #[error("SSOT {0} answered {1}")]
    BadAnswer(&'static str, String),
    #[error(transparent)]
    Store(#[from] essp_store::StoreError),
}

/// A source of SSOT changes in revision order.
#[async_trait]
pub trait ChangeFeed: Send + Sync {
    /// Whether this source has `kind` at all (an SSOT service not
    /// configured is skipped, not reported as failing).
    fn covers(&self, _kind: &Kind) -> bool {
        true
    }

    /// Tenants the source knows of (empty when it cannot list them).
    async fn tenants(&self) -> Result<Vec<String>, FeedError>;

    /// Rows of `kind` changed after revision `after` (tombstones included);
    /// `Some(next)` when more follow.
    async fn page(
        &self,
        tenant: &str,
        kind: &'static Kind,
        after: i64,
        limit: u32,
    ) -> Result<(Vec<SsotRow>, Option<i64>), FeedError>;
}

/// The SSOT tables of a database this process can open (role `all`, or
/// the SSOT and IMS sharing one Postgres).
pub struct LocalFeed(pub Arc<dyn Database>);

#[async_trait]
impl ChangeFeed for LocalFeed {
    async fn tenants(&self) -> Result<Vec<String>, FeedError> {
        Ok(ssot::tenants(self.0.as_ref()).await?)
    }

    async fn page(
        &self,
        tenant: &str,
        kind: &'static Kind,
        after: i64,
        limit: u32,
    ) -> Result<(Vec<SsotRow>, Option<i64>), FeedError> {
        let f = FeedQuery {
            after,
            include_deleted: true,
            limit,
            ..FeedQuery::default()
        };
        Ok(ssot::changes(self.0.as_ref(), tenant, kind, &f).await?)
    }
}

/// The SSOT services' `GET /v1/<kind>?after=…&includeDeleted=true`.
pub struct HttpFeed {
    client: reqwest::Client,
    bases: HashMap<Domain, String>,
    tenant_header: String,
    token: Option<String>,
}

impl HttpFeed {
    /// `bases`: each domain's `*_SSOT_BASE_URL`; `token`: a bearer token
    /// for SSOT services that require authentication.
    pub fn new(
        bases: HashMap<Domain, String>,
        tenant_header: String,
        token: Option<String>,
        timeout: std::time::Duration,
    ) -> Result<Self, FeedError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| FeedError::Unreachable("client", e.to_string()))?;
        Ok(Self {
            client,
            bases,
            tenant_header,
            token,
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FeedPage {
    items: Vec<serde_json::Value>,
    #[serde(default)]
    next_cursor: String,
}

#[async_trait]
impl ChangeFeed for HttpFeed {
    fn covers(&self, kind: &Kind) -> bool {
        self.bases.contains_key(&kind.domain)
    }

    async fn tenants(&self) -> Result<Vec<String>, FeedError> {
        Ok(Vec::new())
    }

    async fn page(
        &self,
        tenant: &str,
        kind: &'static Kind,
        after: i64,
        limit: u32,
    ) -> Result<(Vec<SsotRow>, Option<i64>), FeedError> {
        let name = kind.domain.as_str();
        let base = self.bases.get(&kind.domain).ok_or(FeedError::NotConfigured(name))?;
        // Numbers only: nothing in the query needs escaping.
        let url = format!(
            "{}/v1/{}?after={after}&limit={limit}&includeDeleted=true",
            base.trim_end_matches('/'),
            kind.path
        );
        let mut req = self.client.get(&url).header(self.tenant_header.as_str(), tenant);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| FeedError::Unreachable(name, e.without_url().to_string()))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(FeedError::BadAnswer(name, format!("HTTP {status} for {}", kind.path)));
        }
        let page: FeedPage = resp
            .json()
            .await
            .map_err(|e| FeedError::BadAnswer(name, format!("an unreadable page: {}", e.without_url())))?;
        let rows = page
            .items
            .iter()
            .map(|v| SsotRow::from_json(kind, v))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| FeedError::BadAnswer(name, format!("an invalid row: {e}")))?;
        if let Some(bad) = rows.iter().find(|r| r.meta.tenant_id != tenant) {
            return Err(FeedError::BadAnswer(
                name,
                format!("a row of another tenant ({})", bad.meta.id),
            ));
        }
        let next = match page.next_cursor.as_str() {
            "" => None,
            c => Some(
                c.parse()
                    .map_err(|_| FeedError::BadAnswer(name, "a malformed cursor".into()))?,
            ),
        };
        Ok((rows, next))
    }
}
