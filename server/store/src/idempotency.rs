//! Stored responses for `Idempotency-Key`: a POST retried over a flaky school
//! link gets the first answer back instead of creating a duplicate.

use chrono::{DateTime, Utc};

use crate::error::Result;
use crate::executor::Executor;

#[derive(Debug, Clone, PartialEq)]
pub struct StoredResponse {
    /// SHA-256 of method, route and body: a key reused for a different
    /// request is refused rather than answered with the wrong result.
    pub request_hash: String,
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

pub async fn find(ex: &dyn Executor, tenant: &str, key: &str) -> Result<Option<StoredResponse>> {
    let row = ex
        .fetch_optional(
            "SELECT request_hash, status_code, location, body FROM idempotency_keys \
             WHERE tenant_id = $1 AND idem_key = $2",
            &[tenant.into(), key.into()],
        )
        .await?;
    row.map(|r| {
        Ok(StoredResponse {
            request_hash: r.text("request_hash")?,
            status: u16::try_from(r.i64("status_code")?).unwrap_or(200),
            location: r.opt_text("location")?,
            body: r.text("body")?,
        })
    })
    .transpose()
}

/// Records a response. Fails with `UniqueViolation` when the key was taken
/// by a concurrent request, which the caller resolves by reading it back.
pub async fn insert(
    ex: &dyn Executor,
    tenant: &str,
    key: &str,
    resp: &StoredResponse,
    now: DateTime<Utc>,
) -> Result<()> {
    ex.execute(
        "INSERT INTO idempotency_keys (tenant_id, idem_key, request_hash, status_code, location, body, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            tenant.into(),
            key.into(),
            (&resp.request_hash).into(),
            i64::from(resp.status).into(),
            resp.location.clone().into(),
            (&resp.body).into(),
            now.into(),
        ],
    )
    .await?;
    Ok(())
}

/// Forgets keys older than `before`; retries come within minutes, not days.
pub async fn purge_before(ex: &dyn Executor, before: DateTime<Utc>) -> Result<u64> {
    ex.execute("DELETE FROM idempotency_keys WHERE created_at < $1", &[before.into()])
        .await
}
