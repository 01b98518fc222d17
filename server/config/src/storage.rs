//! Database and attachment storage.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::Secret;
use crate::effective::Effective;
use crate::parse::{self, Result, invalid};
use crate::source::Source;

/// Postgres when `PG_DSN` (or `DATABASE_URL`) is set, else SQLite under the
/// data directory.
#[derive(Debug, Clone)]
pub enum DatabaseSettings {
    Postgres { dsn: Secret, max_connections: u32 },
    Sqlite { path: PathBuf },
}

impl DatabaseSettings {
    pub(crate) fn load(src: &Source<'_>, data_dir: &Path) -> Result<Self> {
        let max_connections = src.parse_or("ESSP_DB_MAX_CONNECTIONS", 20, parse::int_in(1..=1000))?;
        let dsn = match src.secret("PG_DSN")? {
            Some(dsn) => Some(("PG_DSN", dsn)),
            None => src.secret("DATABASE_URL")?.map(|dsn| ("DATABASE_URL", dsn)),
        };
        let Some((var, dsn)) = dsn else {
            return Ok(Self::Sqlite {
                path: data_dir.join("essp.db"),
            });
        };
        // The DSN usually carries a password: the reason never echoes it.
        parse::url_quiet(dsn.expose(), &["postgres", "postgresql"])
            .map_err(|why| invalid(var, format!("the DSN {why}")))?;
        Ok(Self::Postgres { dsn, max_connections })
    }

    pub(crate) fn effective(&self, out: &mut Effective) {
        match self {
            Self::Postgres { dsn, max_connections } => {
                out.url("PG_DSN", Some(dsn.expose()));
                out.set("ESSP_DB_MAX_CONNECTIONS", max_connections);
            }
            Self::Sqlite { .. } => {
                out.set("PG_DSN", "");
                out.set("ESSP_DB_MAX_CONNECTIONS", "");
            }
        }
    }
}

/// Local directory by default; S3/MinIO when `MINIO_ENDPOINT` is set.
#[derive(Debug, Clone)]
pub enum AttachmentSettings {
    LocalFs {
        dir: PathBuf,
    },
    S3 {
        /// `host[:port]`, no scheme (`use_ssl` picks http or https).
        endpoint: String,
        access_key: Secret,
        secret_key: Secret,
        use_ssl: bool,
        region: String,
        bucket: String,
        presign_expiry: Duration,
        public_base_url: Option<String>,
    },
}

impl AttachmentSettings {
    pub(crate) fn load(src: &Source<'_>, data_dir: &Path) -> Result<Self> {
        // Parse everything first so a bad value is reported whichever
        // backend ends up chosen.
        let dir = src.get("ATTACHMENTS_DIR").map(PathBuf::from);
        let use_ssl = src.flag("MINIO_USE_SSL", false)?;
        let region = src.text_or("MINIO_REGION", "us-east-1");
        let bucket = src.parse_or("ATTACHMENTS_BUCKET", "essp-attachments".to_owned(), parse::bucket_name)?;
        let expiry_secs = src.parse_or("MINIO_PRESIGN_EXPIRY_SECONDS", 900, parse::int_in(1..=604_800_u64))?;
        let public_base_url = src.parse_opt("ATTACHMENTS_PUBLIC_BASE_URL", parse::http_url)?;

        let Some(endpoint) = src.parse_opt("MINIO_ENDPOINT", parse::host_port(false))? else {
            return Ok(Self::LocalFs {
                dir: dir.unwrap_or_else(|| data_dir.join("attachments")),
            });
        };
        let required = |name: &str| {
            src.secret(name)?
                .ok_or_else(|| invalid(name, "required when MINIO_ENDPOINT is set"))
        };
        Ok(Self::S3 {
            endpoint,
            access_key: required("MINIO_ACCESS_KEY")?,
            secret_key: required("MINIO_SECRET_KEY")?,
            use_ssl,
            region,
            bucket,
            presign_expiry: Duration::from_secs(expiry_secs),
            public_base_url,
        })
    }

    pub(crate) fn effective(&self, out: &mut Effective) {
        match self {
            Self::LocalFs { dir } => {
                out.path("ATTACHMENTS_DIR", Some(dir));
                for name in [
                    "MINIO_ENDPOINT",
                    "MINIO_ACCESS_KEY",
                    "MINIO_SECRET_KEY",
                    "MINIO_USE_SSL",
                    "MINIO_REGION",
                    "ATTACHMENTS_BUCKET",
                    "MINIO_PRESIGN_EXPIRY_SECONDS",
                    "ATTACHMENTS_PUBLIC_BASE_URL",
                ] {
                    out.set(name, "");
                }
            }
            Self::S3 {
                endpoint,
                access_key,
                secret_key,
                use_ssl,
                region,
                bucket,
                presign_expiry,
                public_base_url,
            } => {
                out.set("ATTACHMENTS_DIR", "");
                out.set("MINIO_ENDPOINT", endpoint);
                out.secret("MINIO_ACCESS_KEY", Some(access_key));
                out.secret("MINIO_SECRET_KEY", Some(secret_key));
                out.set("MINIO_USE_SSL", use_ssl);
                out.set("MINIO_REGION", region);
                out.set("ATTACHMENTS_BUCKET", bucket);
                out.seconds("MINIO_PRESIGN_EXPIRY_SECONDS", *presign_expiry);
                out.url("ATTACHMENTS_PUBLIC_BASE_URL", public_base_url.as_deref());
            }
        }
    }
}
