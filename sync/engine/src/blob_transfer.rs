//! Moving attachment contents from an edge to central: the edge sends each
//! queued blob in fixed-size chunks on its `ctl` subject; central stores
//! the chunks as they come (so an interrupted upload resumes at the first
//! missing one, on any sync-worker replica), assembles and verifies the
//! blob against the attachment's SHA-256, and only then makes the
//! attachment visible.

use async_trait::async_trait;
use base64::Engine as _;
use bytes::Bytes;
use essp_store::Database;
use essp_store::sync::blobs;
use essp_sync_proto::{BLOB_CHUNK, BlobReply};
use sha2::{Digest, Sha256};

use crate::SyncError;

/// The object storage of this node, as sync needs it (implemented by the
/// binary over its attachment store).
#[async_trait]
pub trait BlobAccess: Send + Sync {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, String>;
    async fn put(&self, key: &str, bytes: Bytes) -> Result<(), String>;
    async fn exists(&self, key: &str) -> Result<bool, String>;
    async fn delete(&self, key: &str) -> Result<(), String>;
}

fn part_key(key: &str, offset: u64) -> String {
    format!("sync-parts/{key}/{offset:016}")
}

fn storage(e: String) -> SyncError {
    SyncError::Other(format!("object storage: {e}"))
}

fn reply(status: &str, offset: u64, complete: bool, message: &str) -> BlobReply {
    BlobReply {
        status: status.into(),
        message: message.into(),
        offset,
        complete,
    }
}

/// Central: how much of a blob of `(tenant, school)` is held.
pub async fn offset(
    db: &dyn Database,
    store: &dyn BlobAccess,
    tenant: &str,
    school: &str,
    key: &str,
) -> Result<BlobReply, SyncError> {
    let Some((size, _, available)) = blobs::expected(db, tenant, school, key).await? else {
        return Ok(reply(
            "wait",
            0,
            false,
            "no attachment of this school names this blob yet",
        ));
    };
    let size = u64::try_from(size).unwrap_or_default();
    if available {
        return Ok(reply("ok", size, true, ""));
    }
    let mut at = 0;
    while at < size && store.exists(&part_key(key, at)).await.map_err(storage)? {
        at += BLOB_CHUNK;
    }
    Ok(reply("ok", at.min(size), false, ""))
}

/// Central: stores one chunk; after the last, assembles and verifies.
pub async fn part(
    db: &dyn Database,
    store: &dyn BlobAccess,
    tenant: &str,
    school: &str,
    key: &str,
    at: u64,
    data: &str,
) -> Result<BlobReply, SyncError> {
    let Some((size, sha256, available)) = blobs::expected(db, tenant, school, key).await? else {
        return Ok(reply(
            "wait",
            0,
            false,
            "no attachment of this school names this blob yet",
        ));
    };
    let size = u64::try_from(size).unwrap_or_default();
    if available {
        return Ok(reply("ok", size, true, ""));
    }
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(data) else {
        return Ok(reply("refused", at, false, "the chunk is not base64"));
    };
    let len = bytes.len() as u64;
    let expected_len = BLOB_CHUNK.min(size.saturating_sub(at));
    if !at.is_multiple_of(BLOB_CHUNK) || at >= size.max(1) || len != expected_len {
        return Ok(reply(
            "refused",
            at,
            false,
            &format!("a chunk at {at} of {len} bytes does not fit a blob of {size} bytes"),
        ));
    }
    store
        .put(&part_key(key, at), Bytes::from(bytes))
        .await
        .map_err(storage)?;
    let next = offset(db, store, tenant, school, key).await?;
    if next.offset < size {
        return Ok(next);
    }
    assemble(db, store, tenant, school, key, size, &sha256).await
}

async fn assemble(
    db: &dyn Database,
    store: &dyn BlobAccess,
    tenant: &str,
    school: &str,
    key: &str,
    size: u64,
    sha256: &str,
) -> Result<BlobReply, SyncError> {
    let mut whole = Vec::with_capacity(usize::try_from(size).unwrap_or_default());
    let parts: Vec<u64> = (0..size.max(1)).step_by(BLOB_CHUNK as usize).collect();
    for at in &parts {
        match store.get(&part_key(key, *at)).await.map_err(storage)? {
            Some(b) => whole.extend_from_slice(&b),
            None => return offset(db, store, tenant, school, key).await,
        }
    }
    let digest = format!("{:x}", Sha256::digest(&whole));
    let complete = whole.len() as u64 == size && digest == sha256;
    if complete {
        store.put(key, Bytes::from(whole)).await.map_err(storage)?;
        blobs::arrived(db, tenant, school, key).await?;
        metrics::counter!("essp_sync_blobs_received_total").increment(1);
    }
    for at in parts {
        store.delete(&part_key(key, at)).await.map_err(storage)?;
    }
    Ok(if complete {
        reply("ok", size, true, "")
    } else {
        tracing::warn!(%tenant, %school, key, "an uploaded blob did not match its SHA-256; asking for it again");
        reply(
            "restart",
            0,
            false,
            "the assembled blob does not match the attachment's SHA-256",
        )
    })
}

/// Edge: the chunk of `bytes` starting at `at`, base64.
pub fn chunk(bytes: &[u8], at: u64) -> String {
    let start = usize::try_from(at).unwrap_or(usize::MAX).min(bytes.len());
    let end = start.saturating_add(BLOB_CHUNK as usize).min(bytes.len());
    base64::engine::general_purpose::STANDARD.encode(&bytes[start..end])
}
