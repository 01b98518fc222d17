//! Moving attachment contents between an edge and central, both ways, in
//! fixed-size chunks over the edge's `ctl` subject: an edge uploads its own
//! blobs, and fetches those uploaded centrally. The receiving side (central
//! for an upload, the edge for a fetch) stores the chunks as they come (so
//! an interrupted transfer resumes at the first missing one, on any
//! sync-worker replica), assembles and verifies the blob against the
//! attachment's SHA-256, and only then makes the attachment visible.
//! One loop ([`transfer`]) drives either direction from the edge.

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
    /// Bytes `range` of a blob, which lies within it.
    async fn get_range(&self, key: &str, range: std::ops::Range<u64>) -> Result<Option<Bytes>, String>;
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
        data: String::new(),
    }
}

/// The receiver (central for an upload, an edge for a fetch): how much of a
/// blob of `(tenant, school)` it holds.
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

/// The receiver: stores one chunk; after the last, assembles and verifies.
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

/// The sender: the chunk of `bytes` starting at `at`, base64.
pub fn chunk(bytes: &[u8], at: u64) -> String {
    let start = usize::try_from(at).unwrap_or(usize::MAX).min(bytes.len());
    let end = start.saturating_add(BLOB_CHUNK as usize).min(bytes.len());
    base64::engine::general_purpose::STANDARD.encode(&bytes[start..end])
}

/// Central: the chunk at `at` of a blob an edge of `(tenant, school)`
/// fetches. Only a blob an attachment of that very school names (an edge
/// never reads another school's files), and only once central holds it
/// verified.
pub async fn serve(
    db: &dyn Database,
    store: &dyn BlobAccess,
    tenant: &str,
    school: &str,
    key: &str,
    at: u64,
) -> Result<BlobReply, SyncError> {
    let Some((size, _, available)) = blobs::expected(db, tenant, school, key).await? else {
        return Ok(reply(
            "refused",
            at,
            false,
            "no attachment of this school names this blob",
        ));
    };
    if !available {
        return Ok(reply(
            "wait",
            at,
            false,
            "central does not hold this blob's content yet",
        ));
    }
    let size = u64::try_from(size).unwrap_or_default();
    if !at.is_multiple_of(BLOB_CHUNK) || at >= size.max(1) {
        return Ok(reply(
            "refused",
            at,
            false,
            &format!("no chunk of a blob of {size} bytes starts at {at}"),
        ));
    }
    // Only this chunk's bytes are read: a photo is fetched in many chunks.
    // (An empty blob has no range to read.)
    let end = (at + BLOB_CHUNK).min(size);
    let bytes = if end > at {
        store.get_range(key, at..end).await.map_err(storage)?
    } else {
        Some(Bytes::new())
    };
    let Some(bytes) = bytes else {
        return Ok(reply("wait", at, false, "the blob is missing from object storage"));
    };
    let mut r = reply("ok", at, end >= size, "");
    r.data = base64::engine::general_purpose::STANDARD.encode(&bytes);
    Ok(r)
}

/// Where a blob goes: says how much of it it holds, and takes the next
/// chunk (answering like [`offset`] and [`part`]).
#[async_trait]
pub trait BlobSink: Send + Sync {
    async fn held(&self) -> Result<BlobReply, SyncError>;
    async fn take(&self, at: u64, data: String) -> Result<BlobReply, SyncError>;
}

/// Where a blob comes from.
#[async_trait]
pub trait BlobSource: Send + Sync {
    /// The chunk at `at`, base64; `None` when it cannot be had yet.
    async fn chunk(&self, at: u64) -> Result<Option<String>, SyncError>;
}

/// Moves one blob from `source` to `sink`, from what the sink holds on:
/// true once the sink holds it verified, false when either side cannot
/// go on yet (try later).
pub async fn transfer(sink: &dyn BlobSink, source: &dyn BlobSource) -> Result<bool, SyncError> {
    let mut held = sink.held().await?;
    let mut restarted = false;
    loop {
        match held.status.as_str() {
            "ok" if held.complete => return Ok(true),
            "ok" => {}
            // Once: a second mismatch means the source's copy is damaged.
            "restart" if !restarted => restarted = true,
            "wait" => return Ok(false),
            _ => return Err(SyncError::Other(held.message)),
        }
        let Some(data) = source.chunk(held.offset).await? else {
            return Ok(false);
        };
        held = sink.take(held.offset, data).await?;
    }
}

/// A blob of one school in this node's own store, as either end.
pub struct Local<'a> {
    pub db: &'a dyn Database,
    pub store: &'a dyn BlobAccess,
    pub tenant: &'a str,
    pub school: &'a str,
    pub key: &'a str,
    /// The content, read once when first sent.
    bytes: tokio::sync::OnceCell<Bytes>,
}

impl<'a> Local<'a> {
    pub fn new(db: &'a dyn Database, store: &'a dyn BlobAccess, q: &'a blobs::Queued) -> Self {
        Local {
            db,
            store,
            tenant: &q.tenant_id,
            school: &q.school_id,
            key: &q.object_key,
            bytes: Default::default(),
        }
    }
}

#[async_trait]
impl BlobSink for Local<'_> {
    async fn held(&self) -> Result<BlobReply, SyncError> {
        offset(self.db, self.store, self.tenant, self.school, self.key).await
    }

    async fn take(&self, at: u64, data: String) -> Result<BlobReply, SyncError> {
        part(self.db, self.store, self.tenant, self.school, self.key, at, &data).await
    }
}

#[async_trait]
impl BlobSource for Local<'_> {
    async fn chunk(&self, at: u64) -> Result<Option<String>, SyncError> {
        let bytes = self
            .bytes
            .get_or_try_init(|| async {
                self.store
                    .get(self.key)
                    .await
                    .map_err(SyncError::Other)?
                    .ok_or_else(|| SyncError::Other(format!("the blob {} is missing locally", self.key)))
            })
            .await?;
        Ok(Some(chunk(bytes, at)))
    }
}
