//! Attachment contents: S3/MinIO in a cluster, the local filesystem on an
//! edge box or a laptop. Callers see one `BlobStore`.

use std::path::Path;
use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob store configuration: {0}")]
    Config(String),
    #[error("blob store unreachable: {0}")]
    Unreachable(String),
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
        Ok(Self {
            store: Arc::new(store),
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
