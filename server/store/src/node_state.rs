//! Facts about this installation (`node_state`): so far its sync epoch.

use chrono::{DateTime, Utc};

use crate::error::Result;
use crate::executor::Executor;

/// The epoch every sync envelope will carry; a new one after each restore.
pub const SYNC_EPOCH: &str = "sync_epoch";

pub async fn get(ex: &dyn Executor, key: &str) -> Result<Option<String>> {
    ex.fetch_optional("SELECT value FROM node_state WHERE key = $1", &[key.into()])
        .await?
        .map(|r| r.text("value"))
        .transpose()
}

pub async fn set(ex: &dyn Executor, key: &str, value: &str, now: DateTime<Utc>) -> Result<()> {
    ex.execute(
        "INSERT INTO node_state (key, value, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        &[key.into(), value.into(), now.into()],
    )
    .await?;
    Ok(())
}

/// Mints and stores a new sync epoch; returns it.
pub async fn mint_epoch(ex: &dyn Executor) -> Result<String> {
    let epoch = essp_domain::Id::new("epoch").into_string();
    set(ex, SYNC_EPOCH, &epoch, essp_domain::now()).await?;
    Ok(epoch)
}

/// The current epoch, minting the first one if there is none.
pub async fn epoch(ex: &dyn Executor) -> Result<String> {
    match get(ex, SYNC_EPOCH).await? {
        Some(e) => Ok(e),
        None => mint_epoch(ex).await,
    }
}
