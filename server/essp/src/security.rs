//! Turning security settings into the HTTP layer's pieces: how tokens are
//! verified, which role table applies, which proxies are trusted.

use std::sync::Arc;

use anyhow::{Context, Result};
use essp_config::Settings;
use essp_http::auth::jwks::JwksCache;
use essp_http::auth::roles::RoleTable;
use essp_http::auth::verify::TokenSettings;
use essp_http::auth::{AuthMode, Verifier};
use ipnet::IpNet;
use tokio::sync::watch;

pub fn roles(settings: &Settings) -> Result<RoleTable> {
    Ok(match &settings.auth.roles_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("ESSP_ROLES_FILE: cannot read {}", path.display()))?;
            RoleTable::parse(&text).with_context(|| format!("ESSP_ROLES_FILE {}", path.display()))?
        }
        None => RoleTable::builtin().context("built-in role table")?,
    })
}

/// Development identity when auth is off; otherwise a verifier over the
/// provider's JWKS (cached on disk for offline edges, refreshed in the
/// background) and/or `JWT_SECRET` for locally minted tokens.
pub async fn auth_mode(settings: &Settings, stop: watch::Receiver<bool>) -> Result<AuthMode> {
    let auth = &settings.auth;
    let roles = Arc::new(roles(settings)?);
    if !auth.enabled {
        tracing::warn!("AUTH_ENABLED=false: tenancy headers are trusted and every caller is the development admin");
        return Ok(AuthMode::Development);
    }
    let jwks = auth.jwks_url.as_ref().map(|url| {
        let cache = JwksCache::new(
            url.clone(),
            Some(settings.data_dir.join("jwks.json")),
            auth.jwks_min_refresh,
        );
        // The first fetch happens in the refresher; until it succeeds the
        // keys cached on disk (if any) keep an offline edge working.
        cache.spawn_refresher(auth.jwks_refresh, stop);
        cache
    });
    let verifier = Verifier::new(
        TokenSettings {
            issuer: auth.issuer.clone(),
            audience: auth.audience.clone(),
            client_id: auth.client_id.clone(),
            tenant_claim: auth.tenant_claim.clone(),
            schools_claim: auth.schools_claim.clone(),
            local: auth
                .jwt_secret
                .as_ref()
                .map(|s| (s.expose().as_bytes().to_vec(), auth.local_issuer.clone())),
        },
        jwks,
        roles,
    );
    Ok(AuthMode::Tokens(Arc::new(verifier)))
}

pub fn trusted_proxies(settings: &Settings) -> Result<Vec<IpNet>> {
    settings
        .rate_limit
        .trusted_proxies
        .iter()
        .map(|p| {
            p.parse::<IpNet>()
                .or_else(|_| p.parse::<std::net::IpAddr>().map(IpNet::from))
                .with_context(|| format!("ESSP_TRUSTED_PROXIES: {p:?}"))
        })
        .collect()
}
