//! Attachment contents: S3/MinIO in a cluster, the local filesystem on an
//! edge box or a laptop. Callers see one `BlobStore`.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::{BoxStream, Stream, StreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::signer::Signer;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob store configuration: {0}")]
    Config(String),
    #[error("blob store unreachable: {0}")]
    Unreachable(String),
    #[error("content is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("no such blob")]
    NotFound,
    #[error("upload interrupted: {0}")]
    Interrupted(String),
}

/// What an upload stored: its size and SHA-256 (hex), computed on the way in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub size: u64,
    pub sha256: String,
}

fn store_err(e: object_store::Error) -> BlobError {
    match e {
        object_store::Error::NotFound { .. } => BlobError::NotFound,
        other => BlobError::Unreachable(other.to_string()),
    }
}

/// Where an S3-compatible store lives.
#[derive(Debug, Clone)]
pub struct S3Config {
    /// `host:port`, without scheme.
    pub endpoint: String,
    pub use_ssl: bool,
    pub region: String,
    pub bucket: String,
    pub access_key: String,
    pub secret_key: String,
}

#[derive(Clone)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    /// Set for S3: signs presigned URLs.
    signer: Option<Arc<AmazonS3>>,
    kind: BlobKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobKind {
    LocalFs,
    S3,
}

impl BlobStore {
    /// Blobs under `dir`, created if missing.
    pub fn local(dir: &Path) -> Result<Self, BlobError> {
        std::fs::create_dir_all(dir).map_err(|e| BlobError::Config(format!("cannot create {}: {e}", dir.display())))?;
        let fs = LocalFileSystem::new_with_prefix(dir).map_err(|e| BlobError::Config(e.to_string()))?;
        Ok(Self {
            store: Arc::new(fs),
            signer: None,
            kind: BlobKind::LocalFs,
        })
    }

    /// An S3-compatible bucket (MinIO, path-style addressing).
    pub fn s3(cfg: &S3Config) -> Result<Self, BlobError> {
        let scheme = if cfg.use_ssl { "https" } else { "http" };
        let store = AmazonS3Builder::new()
            .with_endpoint(format!("{scheme}://{}", cfg.endpoint))
            .with_allow_http(!cfg.use_ssl)
            .with_virtual_hosted_style_request(false)
            .with_region(&cfg.region)
            .with_bucket_name(&cfg.bucket)
            .with_access_key_id(&cfg.access_key)
            .with_secret_access_key(&cfg.secret_key)
            .build()
            .map_err(|e| BlobError::Config(e.to_string()))?;
        let store = Arc::new(store);
        Ok(Self {
            store: store.clone(),
            signer: Some(store),
            kind: BlobKind::S3,
        })
    }

    pub fn kind(&self) -> BlobKind {
        self.kind
    }

    /// Proves the store answers: a HEAD of a key that need not exist.
    pub async fn check(&self) -> Result<(), BlobError> {
        match self.store.head(&ObjectPath::from(".essp-readiness-probe")).await {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(BlobError::Unreachable(e.to_string())),
        }
    }
}

impl BlobStore {
    /// Streams `body` to `key`, hashing and counting as it goes, and gives
    /// up (deleting the partial upload) past `max` bytes.
    pub async fn put_stream<S, E>(&self, key: &str, body: S, max: u64) -> Result<Stored, BlobError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let path = ObjectPath::from(key);
        let upload = self.store.put_multipart(&path).await.map_err(store_err)?;
        let mut writer = WriteMultipart::new(upload);
        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        let mut body = body;
        while let Some(chunk) = body.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(BlobError::Interrupted(e.to_string()));
                }
            };
            size += chunk.len() as u64;
            if size > max {
                let _ = writer.abort().await;
                return Err(BlobError::TooLarge { limit: max });
            }
            hasher.update(&chunk);
            writer.write(&chunk);
        }
        writer.finish().await.map_err(store_err)?;
        Ok(Stored {
            size,
            sha256: format!("{:x}", hasher.finalize()),
        })
    }

    /// The content of `key`, as a stream.
    pub async fn get_stream(&self, key: &str) -> Result<BoxStream<'static, Result<Bytes, BlobError>>, BlobError> {
        let got = self.store.get(&ObjectPath::from(key)).await.map_err(store_err)?;
        Ok(got.into_stream().map(|r| r.map_err(store_err)).boxed())
    }

    /// Bytes `range` of `key` (the range must lie within the object).
    pub async fn get_range(&self, key: &str, range: std::ops::Range<u64>) -> Result<Bytes, BlobError> {
        self.store
            .get_range(&ObjectPath::from(key), range)
            .await
            .map_err(store_err)
    }

    /// Size of the stored object (to confirm an upload).
    pub async fn size(&self, key: &str) -> Result<u64, BlobError> {
        Ok(self.store.head(&ObjectPath::from(key)).await.map_err(store_err)?.size)
    }

    /// A time-limited GET URL straight to object storage (S3 only).
    pub async fn presigned_get(&self, key: &str, expires_in: std::time::Duration) -> Result<Option<String>, BlobError> {
        self.presigned(object_store::signer::Method::GET, key, expires_in).await
    }

    /// A time-limited PUT URL straight to object storage (S3 only): the
    /// client uploads there, and the server confirms by looking at the
    /// object before it counts.
    pub async fn presigned_put(&self, key: &str, expires_in: std::time::Duration) -> Result<Option<String>, BlobError> {
        self.presigned(object_store::signer::Method::PUT, key, expires_in).await
    }

    async fn presigned(
        &self,
        method: object_store::signer::Method,
        key: &str,
        expires_in: std::time::Duration,
    ) -> Result<Option<String>, BlobError> {
        let Some(signer) = &self.signer else { return Ok(None) };
        let url = signer
            .signed_url(method, &ObjectPath::from(key), expires_in)
            .await
            .map_err(store_err)?;
        Ok(Some(url.to_string()))
    }

    /// Size and SHA-256 of what is stored at `key`, read back in full
    /// (at most `max` bytes) — for an upload that did not pass through us.
    pub async fn digest(&self, key: &str, max: u64) -> Result<Stored, BlobError> {
        let mut stream = self.get_stream(key).await?;
        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            size += chunk.len() as u64;
            if size > max {
                return Err(BlobError::TooLarge { limit: max });
            }
            hasher.update(&chunk);
        }
        Ok(Stored {
            size,
            sha256: format!("{:x}", hasher.finalize()),
        })
    }

    /// Removes `key` (a refused upload); absent is fine.
    pub async fn delete(&self, key: &str) -> Result<(), BlobError> {
        match self.store.delete(&ObjectPath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(store_err(e)),
        }
    }
}
