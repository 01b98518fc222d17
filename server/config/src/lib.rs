//! ESSP settings.
//!
//! Layering, lowest to highest: built-in defaults, the optional flat TOML
//! file named by `ESSP_CONFIG`, then environment variables (the runbook's
//! names; new names are prefixed `ESSP_`). A variable set to an empty string
//! counts as unset. Secrets also accept `<NAME>_FILE`. With nothing set the
//! result is a working single-school node: SQLite and attachments under
//! `./essp-data`, sync off, auth off.

mod api;
mod app;
mod effective;
mod features;
mod parse;
mod secret;
mod services;
mod source;
mod storage;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use api::{AuthSettings, CorsSettings, RateLimitSettings, TenancySettings};
pub use app::{AppEnv, Mode};
pub use features::{SlaSettings, SsotSettings, WorkOrderSettings};
pub use secret::Secret;
pub use services::{NatsSettings, RedisSettings};
pub use storage::{AttachmentSettings, DatabaseSettings};

use effective::Effective;
use source::Source;

const DEFAULT_DATA_DIR: &str = "./essp-data";

/// A configuration value or file that cannot be used. Reasons never contain
/// secret values.
#[derive(thiserror::Error, Debug)]
pub enum ConfigError {
    #[error("{var}: {reason}")]
    Invalid { var: String, reason: String },
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub app_env: AppEnv,
    pub mode: Mode,
    pub http_addr: SocketAddr,
    /// Whether HTTP_ADDR was given (otherwise each role uses its runbook port).
    pub http_addr_explicit: bool,
    /// A level (`trace`..`error`) or a tracing filter directive.
    pub log_level: String,
    pub data_dir: PathBuf,
    pub database: DatabaseSettings,
    pub migrate_on_start: bool,
    pub redis: Option<RedisSettings>,
    pub nats: Option<NatsSettings>,
    pub attachments: AttachmentSettings,
    pub auth: AuthSettings,
    pub tenancy: TenancySettings,
    pub cors: CorsSettings,
    pub work_orders: WorkOrderSettings,
    pub rate_limit: RateLimitSettings,
    pub ssot: SsotSettings,
    pub sla: SlaSettings,
    pub body_limit_bytes: usize,
    pub shutdown_grace: Duration,
    /// `ESSP_METRICS_ADDR`: serve `/metrics` on this separate listener
    /// (e.g. `:9090`) instead of the API port.
    pub metrics_addr: Option<SocketAddr>,
    /// `ESSP_AUDIT_SEAL_INTERVAL`: how often new audit rows are linked into
    /// the hash chain (default 1s).
    pub audit_seal_interval: Duration,
    /// `ESSP_HOUSEKEEPING_INTERVAL`: how often old idempotency keys and
    /// abandoned uploads are cleared away (default 15m).
    pub housekeeping_interval: Duration,
    /// `ESSP_ATTACHMENT_MAX_BYTES`: largest attachment accepted (default 25 MiB).
    pub attachment_max_bytes: u64,
    /// `ESSP_SCHOOL_ID` / `ESSP_TENANT_ID`: the school an edge serves
    /// (both required when `ESSP_MODE=edge`).
    pub school_id: Option<String>,
    pub tenant_id: Option<String>,
    /// `ESSP_SYNC_CHECKPOINT_INTERVAL`: how often an edge reports a
    /// checkpoint to central when nothing else prompts one (default 1m).
    pub sync_checkpoint_interval: Duration,
    /// `ESSP_EDGE_HOST_ID`: this box's identity for clone detection
    /// (default: /etc/machine-id).
    pub edge_host_id: Option<String>,
}

impl Settings {
    /// Reads the process environment, layered over the TOML file named by
    /// `ESSP_CONFIG` (if set).
    pub fn from_env() -> Result<Settings, ConfigError> {
        Self::from_env_with(&|name: &str| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned()))
    }

    /// Like [`Settings::from_env`], with `env` standing in for the process
    /// environment (tests, or CLI flags layered over the environment).
    /// `ESSP_CONFIG` is looked up through `env`; empty `env` values fall
    /// through to the file.
    pub fn from_env_with(env: &dyn Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        let env_value = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let file = match env_value("ESSP_CONFIG") {
            Some(path) => source::load_file(path.trim().as_ref())?,
            None => Default::default(),
        };
        Self::from_source(&|name: &str| env_value(name).or_else(|| file.get(name).cloned()))
    }

    /// Builds settings from `source` (name -> raw value) alone; touches the
    /// file system only for `<NAME>_FILE` secrets.
    pub fn from_source(source: &dyn Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        let src = Source::new(source);
        let data_dir = PathBuf::from(src.text_or("ESSP_DATA_DIR", DEFAULT_DATA_DIR));
        let default_addr = SocketAddr::from(([0, 0, 0, 0], 8080));
        Settings {
            app_env: src.parse_or("APP_ENV", AppEnv::default(), AppEnv::parse)?,
            mode: src.parse_or("ESSP_MODE", Mode::default(), Mode::parse)?,
            http_addr: src.parse_or("HTTP_ADDR", default_addr, parse::listen_addr)?,
            http_addr_explicit: source("HTTP_ADDR").is_some_and(|v| !v.trim().is_empty()),
            log_level: src.parse_or("LOG_LEVEL", "info".into(), parse::log_level)?,
            database: DatabaseSettings::load(&src, &data_dir)?,
            migrate_on_start: src.flag("ESSP_MIGRATE_ON_START", true)?,
            redis: RedisSettings::load(&src)?,
            nats: NatsSettings::load(&src)?,
            attachments: AttachmentSettings::load(&src, &data_dir)?,
            auth: AuthSettings::load(&src)?,
            tenancy: TenancySettings::load(&src)?,
            cors: CorsSettings::load(&src)?,
            work_orders: WorkOrderSettings::load(&src)?,
            rate_limit: RateLimitSettings::load(&src)?,
            ssot: SsotSettings::load(&src)?,
            sla: SlaSettings::load(&src)?,
            body_limit_bytes: src.parse_or(
                "ESSP_BODY_LIMIT_BYTES",
                10 * 1024 * 1024,
                parse::int_in(1024..=1024 * 1024 * 1024),
            )?,
            shutdown_grace: src.parse_or("ESSP_SHUTDOWN_GRACE", Duration::from_secs(15), parse::duration)?,
            metrics_addr: src.parse_opt("ESSP_METRICS_ADDR", parse::listen_addr)?,
            audit_seal_interval: src.parse_or(
                "ESSP_AUDIT_SEAL_INTERVAL",
                Duration::from_secs(1),
                parse::positive_duration,
            )?,
            housekeeping_interval: src.parse_or(
                "ESSP_HOUSEKEEPING_INTERVAL",
                Duration::from_secs(15 * 60),
                parse::positive_duration,
            )?,
            attachment_max_bytes: src.parse_or(
                "ESSP_ATTACHMENT_MAX_BYTES",
                25 * 1024 * 1024,
                parse::int_in(1024..=5 * 1024 * 1024 * 1024),
            )?,
            school_id: src.get("ESSP_SCHOOL_ID"),
            tenant_id: src.get("ESSP_TENANT_ID"),
            sync_checkpoint_interval: src.parse_or(
                "ESSP_SYNC_CHECKPOINT_INTERVAL",
                Duration::from_secs(60),
                parse::positive_duration,
            )?,
            edge_host_id: src.get("ESSP_EDGE_HOST_ID"),
            data_dir,
        }
        .checked()
    }

    /// Rules that span several variables.
    fn checked(self) -> Result<Settings, ConfigError> {
        if self.mode == Mode::Edge {
            for (var, value) in [("ESSP_TENANT_ID", &self.tenant_id), ("ESSP_SCHOOL_ID", &self.school_id)] {
                if value.as_deref().is_none_or(|v| v.trim().is_empty()) {
                    return Err(ConfigError::Invalid {
                        var: var.into(),
                        reason: "required when ESSP_MODE=edge (the school this box serves)".into(),
                    });
                }
            }
        }
        Ok(self)
    }

    /// Every setting's variable name with its effective value, in a stable
    /// order: secrets as `***`, URL passwords as `***`, absent values as "".
    pub fn effective(&self) -> Vec<(String, String)> {
        let mut out = Effective::default();
        out.set("APP_ENV", self.app_env);
        out.set("ESSP_MODE", self.mode);
        out.set("HTTP_ADDR", self.http_addr);
        out.set("LOG_LEVEL", &self.log_level);
        out.path("ESSP_DATA_DIR", Some(&self.data_dir));
        self.database.effective(&mut out);
        out.set("ESSP_MIGRATE_ON_START", self.migrate_on_start);
        RedisSettings::effective(self.redis.as_ref(), &mut out);
        NatsSettings::effective(self.nats.as_ref(), &mut out);
        self.attachments.effective(&mut out);
        self.auth.effective(&mut out);
        self.tenancy.effective(&mut out);
        self.cors.effective(&mut out);
        self.work_orders.effective(&mut out);
        self.rate_limit.effective(&mut out);
        self.ssot.effective(&mut out);
        self.sla.effective(&mut out);
        out.set("ESSP_BODY_LIMIT_BYTES", self.body_limit_bytes);
        out.duration("ESSP_SHUTDOWN_GRACE", self.shutdown_grace);
        out.duration("ESSP_AUDIT_SEAL_INTERVAL", self.audit_seal_interval);
        out.duration("ESSP_HOUSEKEEPING_INTERVAL", self.housekeeping_interval);
        out.set("ESSP_ATTACHMENT_MAX_BYTES", self.attachment_max_bytes);
        out.opt("ESSP_METRICS_ADDR", self.metrics_addr.map(|a| a.to_string()).as_deref());
        out.opt("ESSP_SCHOOL_ID", self.school_id.as_deref());
        out.opt("ESSP_TENANT_ID", self.tenant_id.as_deref());
        out.duration("ESSP_SYNC_CHECKPOINT_INTERVAL", self.sync_checkpoint_interval);
        out.opt("ESSP_EDGE_HOST_ID", self.edge_host_id.as_deref());
        out.into_vec()
    }

    pub fn is_production(&self) -> bool {
        self.app_env == AppEnv::Production
    }
}
