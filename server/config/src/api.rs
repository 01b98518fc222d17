//! HTTP API concerns: authentication, tenancy headers, CORS, rate limiting.

use crate::Secret;
use crate::effective::Effective;
use crate::parse::{self, Result, invalid};
use crate::source::Source;

/// Minimum length of `JWT_SECRET` in bytes (HS256 key size).
const MIN_JWT_SECRET_BYTES: usize = 32;

#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub enabled: bool,
    pub issuer: Option<String>,
    pub jwks_url: Option<String>,
    pub audience: String,
    pub jwt_secret: Option<Secret>,
    /// `ESSP_ALLOW_INSECURE`: lets production run with auth disabled.
    pub allow_insecure: bool,
    /// Claim holding the tenant id (`ESSP_AUTH_TENANT_CLAIM`, default `tenantId`).
    pub tenant_claim: String,
    /// Claim listing the schools a user may act in (`ESSP_AUTH_SCHOOLS_CLAIM`, default `schools`).
    pub schools_claim: String,
    /// Keycloak client whose `resource_access.<client>.roles` count
    /// (`ESSP_AUTH_CLIENT_ID`, default: the audience).
    pub client_id: String,
    /// The public OIDC client the admin UI signs in as
    /// (`ESSP_AUTH_UI_CLIENT_ID`, default: `client_id`). With Keycloak the
    /// UI's public client and the API's client are normally two clients.
    pub ui_client_id: String,
    /// `iss` of tokens minted locally with `JWT_SECRET` (`ESSP_LOCAL_ISSUER`, default `essp-local`).
    pub local_issuer: String,
    /// Role → permission table replacing the built-in one (`ESSP_ROLES_FILE`).
    pub roles_file: Option<std::path::PathBuf>,
    /// How often the JWKS is refreshed in the background (`ESSP_JWKS_REFRESH`, default 10m).
    pub jwks_refresh: std::time::Duration,
    /// Least time between two JWKS fetches triggered by unknown key ids
    /// (`ESSP_JWKS_MIN_REFRESH`, default 10s), so forged kids cannot hammer the provider.
    pub jwks_min_refresh: std::time::Duration,
}

impl AuthSettings {
    pub(crate) fn load(src: &Source<'_>) -> Result<Self> {
        let jwt_secret = src.secret("JWT_SECRET")?;
        if jwt_secret
            .as_ref()
            .is_some_and(|s| s.expose().len() < MIN_JWT_SECRET_BYTES)
        {
            return Err(invalid(
                "JWT_SECRET",
                format!("must be at least {MIN_JWT_SECRET_BYTES} bytes long"),
            ));
        }
        let enabled = src.flag("AUTH_ENABLED", false)?;
        let issuer = src.get("AUTH_ISSUER");
        let jwks_url = src.parse_opt("AUTH_JWKS_URL", parse::http_url)?;
        if enabled && jwks_url.is_none() && jwt_secret.is_none() {
            return Err(invalid(
                "AUTH_JWKS_URL",
                "is required when AUTH_ENABLED=true (or set JWT_SECRET for locally minted tokens only)",
            ));
        }
        if jwks_url.is_some() && issuer.is_none() {
            return Err(invalid(
                "AUTH_ISSUER",
                "is required with AUTH_JWKS_URL (tokens' iss must match it)",
            ));
        }
        let audience = src.text_or("AUTH_AUDIENCE", "essp-api");
        let client_id = src.text_or("ESSP_AUTH_CLIENT_ID", &audience);
        Ok(Self {
            enabled,
            issuer,
            jwks_url,
            ui_client_id: src.text_or("ESSP_AUTH_UI_CLIENT_ID", &client_id),
            client_id,
            audience,
            jwt_secret,
            allow_insecure: src.flag("ESSP_ALLOW_INSECURE", false)?,
            tenant_claim: src.text_or("ESSP_AUTH_TENANT_CLAIM", "tenantId"),
            schools_claim: src.text_or("ESSP_AUTH_SCHOOLS_CLAIM", "schools"),
            local_issuer: src.text_or("ESSP_LOCAL_ISSUER", "essp-local"),
            roles_file: src.get("ESSP_ROLES_FILE").map(std::path::PathBuf::from),
            jwks_refresh: src.parse_or(
                "ESSP_JWKS_REFRESH",
                std::time::Duration::from_secs(600),
                parse::duration,
            )?,
            jwks_min_refresh: src.parse_or(
                "ESSP_JWKS_MIN_REFRESH",
                std::time::Duration::from_secs(10),
                parse::duration,
            )?,
        })
    }

    pub(crate) fn effective(&self, out: &mut Effective) {
        out.set("AUTH_ENABLED", self.enabled);
        out.opt("AUTH_ISSUER", self.issuer.as_deref());
        out.url("AUTH_JWKS_URL", self.jwks_url.as_deref());
        out.set("AUTH_AUDIENCE", &self.audience);
        out.secret("JWT_SECRET", self.jwt_secret.as_ref());
        out.set("ESSP_ALLOW_INSECURE", self.allow_insecure);
        out.set("ESSP_AUTH_TENANT_CLAIM", &self.tenant_claim);
        out.set("ESSP_AUTH_SCHOOLS_CLAIM", &self.schools_claim);
        out.set("ESSP_AUTH_CLIENT_ID", &self.client_id);
        out.set("ESSP_AUTH_UI_CLIENT_ID", &self.ui_client_id);
        out.set("ESSP_LOCAL_ISSUER", &self.local_issuer);
        out.path("ESSP_ROLES_FILE", self.roles_file.as_deref());
        out.duration("ESSP_JWKS_REFRESH", self.jwks_refresh);
        out.duration("ESSP_JWKS_MIN_REFRESH", self.jwks_min_refresh);
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenancySettings {
    pub tenant_header: String,
    pub school_header: String,
}

impl TenancySettings {
    pub(crate) fn load(src: &Source<'_>) -> Result<Self> {
        Ok(Self {
            tenant_header: src.parse_or("TENANT_HEADER", "X-Tenant-ID".into(), parse::header_name)?,
            school_header: src.parse_or("SCHOOL_HEADER", "X-School-ID".into(), parse::header_name)?,
        })
    }

    pub(crate) fn effective(&self, out: &mut Effective) {
        out.set("TENANT_HEADER", &self.tenant_header);
        out.set("SCHOOL_HEADER", &self.school_header);
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsSettings {
    pub enabled: bool,
    /// Normalised origins (`https://host[:port]`), or the single entry `*`.
    pub allowed_origins: Vec<String>,
}

impl CorsSettings {
    pub(crate) fn load(src: &Source<'_>) -> Result<Self> {
        const VAR: &str = "CORS_ALLOWED_ORIGINS";
        let allowed_origins = src.parse_or(VAR, Vec::new(), parse::list_of(parse::origin))?;
        if allowed_origins.len() > 1 && allowed_origins.iter().any(|o| o == "*") {
            return Err(invalid(VAR, "\"*\" cannot be combined with other origins"));
        }
        Ok(Self {
            enabled: src.flag("CORS_ENABLED", true)?,
            allowed_origins,
        })
    }

    pub(crate) fn effective(&self, out: &mut Effective) {
        out.set("CORS_ENABLED", self.enabled);
        out.list("CORS_ALLOWED_ORIGINS", &self.allowed_origins);
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitSettings {
    pub enabled: bool,
    pub read_rpm: u32,
    pub write_rpm: u32,
    pub burst: u32,
    /// Normalised IP addresses and CIDR blocks (`10.0.0.0/8`, `::1`) whose
    /// `X-Forwarded-For` is trusted.
    pub trusted_proxies: Vec<String>,
}

impl RateLimitSettings {
    pub(crate) fn load(src: &Source<'_>) -> Result<Self> {
        let positive = || parse::int_in(1..);
        Ok(Self {
            enabled: src.flag("RATE_LIMIT_ENABLED", true)?,
            read_rpm: src.parse_or("RATE_LIMIT_READ_RPM", 300, positive())?,
            write_rpm: src.parse_or("RATE_LIMIT_WRITE_RPM", 100, positive())?,
            burst: src.parse_or("RATE_LIMIT_BURST", 50, positive())?,
            trusted_proxies: src.parse_or("ESSP_TRUSTED_PROXIES", Vec::new(), parse::list_of(parse::ip_or_cidr))?,
        })
    }

    pub(crate) fn effective(&self, out: &mut Effective) {
        out.set("RATE_LIMIT_ENABLED", self.enabled);
        out.set("RATE_LIMIT_READ_RPM", self.read_rpm);
        out.set("RATE_LIMIT_WRITE_RPM", self.write_rpm);
        out.set("RATE_LIMIT_BURST", self.burst);
        out.list("ESSP_TRUSTED_PROXIES", &self.trusted_proxies);
    }
}
