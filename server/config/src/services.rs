//! External services: Redis and NATS.

use std::path::PathBuf;

use percent_encoding::percent_decode_str;

use crate::Secret;
use crate::effective::Effective;
use crate::parse::{self, Result, invalid};
use crate::source::Source;

/// Redis connection; `None` in [`crate::Settings`] when neither `REDIS_ADDR`
/// nor `REDIS_URL` is set.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// `host:port`.
    pub addr: String,
    pub password: Option<Secret>,
    pub db: u32,
}

impl RedisSettings {
    /// `REDIS_ADDR` wins over `REDIS_URL`; `REDIS_PASSWORD` and `REDIS_DB`
    /// win over the password and db embedded in `REDIS_URL`.
    pub(crate) fn load(src: &Source<'_>) -> Result<Option<Self>> {
        let password = src.secret("REDIS_PASSWORD")?;
        let db = src.parse_opt("REDIS_DB", parse::int_in(0..))?;
        if let Some(addr) = src.parse_opt("REDIS_ADDR", parse::host_port(true))? {
            return Ok(Some(Self {
                addr,
                password,
                db: db.unwrap_or(0),
            }));
        }
        let Some(url) = src.secret("REDIS_URL")? else {
            return Ok(None);
        };
        let from_url = Self::from_url(url.expose()).map_err(|why| invalid("REDIS_URL", format!("the URL {why}")))?;
        Ok(Some(Self {
            addr: from_url.addr,
            password: password.or(from_url.password),
            db: db.unwrap_or(from_url.db),
        }))
    }

    /// `redis://[:password@]host[:port][/db]`; errors never echo the URL.
    fn from_url(raw: &str) -> std::result::Result<Self, String> {
        let url = parse::url_quiet(raw, &["redis"])?;
        if !url.username().is_empty() {
            return Err("has a username, which is not supported; use redis://:password@host:port/db".into());
        }
        let host = url.host_str().filter(|h| !h.is_empty()).ok_or("has no host")?;
        let db = match url.path().trim_start_matches('/') {
            "" => 0,
            db => db
                .parse()
                .map_err(|_| format!("has database {db:?}, expected a number"))?,
        };
        let password = url
            .password()
            .map(|p| percent_decode_str(p).decode_utf8_lossy().into_owned())
            .map(Secret::from);
        Ok(Self {
            addr: format!("{host}:{}", url.port().unwrap_or(6379)),
            password,
            db,
        })
    }

    pub(crate) fn effective(this: Option<&Self>, out: &mut Effective) {
        out.opt("REDIS_ADDR", this.map(|r| r.addr.as_str()));
        out.secret("REDIS_PASSWORD", this.and_then(|r| r.password.as_ref()));
        out.set("REDIS_DB", this.map(|r| r.db.to_string()).unwrap_or_default());
    }
}

/// NATS connection for sync; `None` in [`crate::Settings`] (sync disabled)
/// when `NATS_URL` is unset or empty.
#[derive(Debug, Clone)]
pub struct NatsSettings {
    /// One or more comma separated `nats://`, `tls://`, `ws://` or `wss://`
    /// server URLs.
    pub url: String,
    pub user: Option<String>,
    pub password: Option<Secret>,
    /// `NATS_TOKEN`: token authentication.
    pub token: Option<Secret>,
    /// `NATS_NKEY`: an nkey seed (`SU…`) for nkey authentication.
    pub nkey: Option<Secret>,
    pub creds_file: Option<PathBuf>,
    /// `NATS_CA_FILE`: PEM roots to trust for `tls://` (a private CA).
    pub ca_file: Option<PathBuf>,
}

impl NatsSettings {
    pub(crate) fn load(src: &Source<'_>) -> Result<Option<Self>> {
        let user = src.get("NATS_USER");
        let password = src.secret("NATS_PASSWORD")?;
        let creds_file = src.get("NATS_CREDS_FILE").map(PathBuf::from);
        let ca_file = src.get("NATS_CA_FILE").map(PathBuf::from);
        let token = src.secret("NATS_TOKEN")?;
        let nkey = src.secret("NATS_NKEY")?;
        if nkey.as_ref().is_some_and(|k| !k.expose().starts_with("SU")) {
            return Err(parse::invalid(
                "NATS_NKEY",
                "must be a user nkey seed (starting with SU)",
            ));
        }
        Ok(src.parse_opt("NATS_URL", parse::nats_urls)?.map(|url| Self {
            url,
            user,
            password,
            token,
            nkey,
            creds_file,
            ca_file,
        }))
    }

    pub(crate) fn effective(this: Option<&Self>, out: &mut Effective) {
        out.url("NATS_URL", this.map(|n| n.url.as_str()));
        out.opt("NATS_USER", this.and_then(|n| n.user.as_deref()));
        out.secret("NATS_PASSWORD", this.and_then(|n| n.password.as_ref()));
        out.secret("NATS_TOKEN", this.and_then(|n| n.token.as_ref()));
        out.secret("NATS_NKEY", this.and_then(|n| n.nkey.as_ref()));
        out.path("NATS_CREDS_FILE", this.and_then(|n| n.creds_file.as_deref()));
        out.path("NATS_CA_FILE", this.and_then(|n| n.ca_file.as_deref()));
    }
}
