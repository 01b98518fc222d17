//! Where raw values come from: a lookup function (env, a map in tests), the
//! optional TOML file, and `<NAME>_FILE` secrets.

use std::collections::HashMap;
use std::path::Path;

use crate::parse::{self, Result, invalid};
use crate::{ConfigError, Secret};

/// Every name the settings read, including aliases and `_FILE` variants.
/// The TOML file may only contain these keys.
pub(crate) const KNOWN_VARS: &[&str] = &[
    "APP_ENV",
    "ESSP_MODE",
    "HTTP_ADDR",
    "LOG_LEVEL",
    "ESSP_DATA_DIR",
    "PG_DSN",
    "PG_DSN_FILE",
    "DATABASE_URL",
    "DATABASE_URL_FILE",
    "ESSP_DB_MAX_CONNECTIONS",
    "ESSP_MIGRATE_ON_START",
    "REDIS_ADDR",
    "REDIS_URL",
    "REDIS_URL_FILE",
    "REDIS_PASSWORD",
    "REDIS_PASSWORD_FILE",
    "REDIS_DB",
    "NATS_URL",
    "NATS_USER",
    "NATS_PASSWORD",
    "NATS_PASSWORD_FILE",
    "NATS_CREDS_FILE",
    "NATS_CA_FILE",
    "NATS_TOKEN",
    "NATS_TOKEN_FILE",
    "NATS_NKEY",
    "NATS_NKEY_FILE",
    "ATTACHMENTS_DIR",
    "MINIO_ENDPOINT",
    "MINIO_ACCESS_KEY",
    "MINIO_ACCESS_KEY_FILE",
    "MINIO_SECRET_KEY",
    "MINIO_SECRET_KEY_FILE",
    "MINIO_USE_SSL",
    "MINIO_REGION",
    "ATTACHMENTS_BUCKET",
    "MINIO_PRESIGN_EXPIRY_SECONDS",
    "ATTACHMENTS_PUBLIC_BASE_URL",
    "AUTH_ENABLED",
    "AUTH_ISSUER",
    "AUTH_JWKS_URL",
    "AUTH_AUDIENCE",
    "JWT_SECRET",
    "JWT_SECRET_FILE",
    "ESSP_ALLOW_INSECURE",
    "ESSP_AUTH_TENANT_CLAIM",
    "ESSP_AUTH_SCHOOLS_CLAIM",
    "ESSP_AUTH_CLIENT_ID",
    "ESSP_AUTH_UI_CLIENT_ID",
    "ESSP_LOCAL_ISSUER",
    "ESSP_ROLES_FILE",
    "ESSP_JWKS_REFRESH",
    "ESSP_JWKS_MIN_REFRESH",
    "ESSP_METRICS_ADDR",
    "ESSP_AUDIT_SEAL_INTERVAL",
    "ESSP_HOUSEKEEPING_INTERVAL",
    "ESSP_SYNC_CHECKPOINT_INTERVAL",
    "ESSP_EDGE_HOST_ID",
    "ESSP_ATTACHMENT_MAX_BYTES",
    "TENANT_HEADER",
    "SCHOOL_HEADER",
    "CORS_ENABLED",
    "CORS_ALLOWED_ORIGINS",
    "AUTO_ROUTE_WORK_ORDERS",
    "DEFAULT_REPAIR_LOCATION",
    "ENABLE_WORK_ORDER_SCHEDULING",
    "ESSP_MAX_REWORK",
    "ESSP_TELEMETRY_DEDUPE_WINDOW",
    "RATE_LIMIT_ENABLED",
    "RATE_LIMIT_READ_RPM",
    "RATE_LIMIT_WRITE_RPM",
    "RATE_LIMIT_BURST",
    "ESSP_TRUSTED_PROXIES",
    "ENABLE_SSOT_SYNC",
    "SSOT_SYNC_INTERVAL",
    "SYNC_INTERVAL",
    "SSOT_SYNC_PAGE_SIZE",
    "SCHOOL_SSOT_BASE_URL",
    "DEVICE_SSOT_BASE_URL",
    "PARTS_SSOT_BASE_URL",
    "ESSP_SSOT_TOKEN",
    "ESSP_SSOT_TOKEN_FILE",
    "ESSP_SSOT_TENANTS",
    "ESSP_SLA_CRITICAL",
    "ESSP_SLA_HIGH",
    "ESSP_SLA_MEDIUM",
    "ESSP_SLA_LOW",
    "ESSP_SLA_SWEEP_INTERVAL",
    "ESSP_BODY_LIMIT_BYTES",
    "ESSP_SHUTDOWN_GRACE",
    "ESSP_SCHOOL_ID",
    "ESSP_TENANT_ID",
];

/// Typed access to a raw lookup function. Values are trimmed; empty values
/// count as unset.
pub(crate) struct Source<'a>(&'a dyn Fn(&str) -> Option<String>);

impl<'a> Source<'a> {
    pub(crate) fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Self(lookup)
    }

    pub(crate) fn get(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
    }

    /// `name` parsed with `parse`, or `None` when unset.
    pub(crate) fn parse_opt<T>(&self, name: &str, parse: impl Fn(&str, &str) -> Result<T>) -> Result<Option<T>> {
        self.get(name).map(|raw| parse(name, &raw)).transpose()
    }

    /// `name` parsed with `parse`, or `default` when unset.
    pub(crate) fn parse_or<T>(&self, name: &str, default: T, parse: impl Fn(&str, &str) -> Result<T>) -> Result<T> {
        Ok(self.parse_opt(name, parse)?.unwrap_or(default))
    }

    pub(crate) fn flag(&self, name: &str, default: bool) -> Result<bool> {
        self.parse_or(name, default, parse::boolean)
    }

    pub(crate) fn text_or(&self, name: &str, default: &str) -> String {
        self.get(name).unwrap_or_else(|| default.to_owned())
    }

    /// The first of `names` that is set, with the name that supplied it.
    pub(crate) fn first_of(&self, names: &[&'static str]) -> Option<(&'static str, String)> {
        names.iter().find_map(|&name| self.get(name).map(|value| (name, value)))
    }

    /// A secret from `name`, else from the file named by `<name>_FILE`.
    pub(crate) fn secret(&self, name: &str) -> Result<Option<Secret>> {
        if let Some(value) = self.get(name) {
            return Ok(Some(Secret::from(value)));
        }
        let file_var = format!("{name}_FILE");
        let Some(path) = self.get(&file_var) else {
            return Ok(None);
        };
        let content =
            std::fs::read_to_string(&path).map_err(|e| invalid(&file_var, format!("cannot read {path:?}: {e}")))?;
        let value = content.trim();
        if value.is_empty() {
            return Err(invalid(&file_var, format!("{path:?} is empty")));
        }
        Ok(Some(Secret::from(value.to_owned())))
    }
}

/// Reads the flat TOML file named by `ESSP_CONFIG` into name -> value.
pub(crate) fn load_file(path: &Path) -> std::result::Result<HashMap<String, String>, ConfigError> {
    let file_error = |reason: String| ConfigError::File {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| file_error(e.to_string()))?;
    // The error's Display quotes the offending line, which may hold a
    // secret, so only the message and position are reported.
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let at = e.span().map(|span| line_col(&text, span.start));
        file_error(match at {
            Some((line, col)) => {
                format!("invalid TOML at line {line}, column {col}: {}", e.message())
            }
            None => format!("invalid TOML: {}", e.message()),
        })
    })?;
    table
        .into_iter()
        .map(|(key, value)| {
            if !KNOWN_VARS.contains(&key.as_str()) {
                return Err(file_error(format!("unknown key {key:?}")));
            }
            let value = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                other => {
                    return Err(file_error(format!(
                        "key {key:?} is a {}; expected a string, integer or boolean",
                        other.type_str()
                    )));
                }
            };
            Ok((key, value))
        })
        .collect()
}

/// 1-based line and column of byte offset `at` in `text`.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = text.get(..at).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}
