//! The identity provider's signing keys: fetched from `AUTH_JWKS_URL`,
//! cached in memory, persisted to disk so an edge that lost its link keeps
//! validating tokens issued before (until they expire), refreshed in the
//! background and on an unknown `kid` — at most once per `min_refresh`, so a
//! flood of forged kids cannot hammer the IdP.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use tokio::sync::Mutex;

const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_JWKS_BYTES: usize = 256 * 1024;

/// A verification key and the one algorithm it may verify.
#[derive(Clone)]
pub struct VerifyingKey {
    pub alg: Algorithm,
    pub key: DecodingKey,
}

/// Only asymmetric signing keys are usable: RSA for RS256, P-256 for ES256.
/// Anything else in the set (encryption keys, symmetric keys, other curves)
/// is ignored, so a JWKS can never supply an HMAC secret.
fn usable(jwk: &Jwk) -> Option<(String, VerifyingKey)> {
    let kid = jwk.common.key_id.clone()?;
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return None;
    }
    let alg = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => Algorithm::ES256,
        _ => return None,
    };
    let declared_ok = match jwk.common.key_algorithm {
        None => true,
        Some(KeyAlgorithm::RS256) => alg == Algorithm::RS256,
        Some(KeyAlgorithm::ES256) => alg == Algorithm::ES256,
        Some(_) => false,
    };
    if !declared_ok {
        return None;
    }
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some((kid, VerifyingKey { alg, key }))
}

pub struct JwksCache {
    url: String,
    http: reqwest::Client,
    persist: Option<PathBuf>,
    min_refresh: Duration,
    keys: RwLock<HashMap<String, VerifyingKey>>,
    last_fetch: Mutex<Option<Instant>>,
}

#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    #[error("fetching JWKS: {0}")]
    Fetch(String),
    #[error("JWKS document: {0}")]
    Parse(String),
}

impl JwksCache {
    /// A cache for `url`, pre-loaded from `persist` when that file exists.
    pub fn new(url: String, persist: Option<PathBuf>, min_refresh: Duration) -> Arc<Self> {
        let cache = Arc::new(Self {
            url,
            min_refresh,
            http: reqwest::Client::builder()
                .timeout(FETCH_TIMEOUT)
                .build()
                .unwrap_or_default(),
            persist,
            keys: RwLock::new(HashMap::new()),
            last_fetch: Mutex::new(None),
        });
        if let Some(path) = &cache.persist {
            match std::fs::read(path) {
                Ok(bytes) => match cache.install(&bytes) {
                    Ok(n) => tracing::info!(keys = n, path = %path.display(), "loaded cached JWKS"),
                    Err(e) => tracing::warn!(error = %e, path = %path.display(), "ignoring unreadable cached JWKS"),
                },
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!(error = %e, "cannot read cached JWKS"),
            }
        }
        cache
    }

    fn install(&self, bytes: &[u8]) -> Result<usize, JwksError> {
        let set: JwkSet = serde_json::from_slice(bytes).map_err(|e| JwksError::Parse(e.to_string()))?;
        let keys: HashMap<String, VerifyingKey> = set.keys.iter().filter_map(usable).collect();
        let n = keys.len();
        if let Ok(mut guard) = self.keys.write() {
            *guard = keys;
        }
        Ok(n)
    }

    pub fn get(&self, kid: &str) -> Option<VerifyingKey> {
        self.keys.read().ok().and_then(|k| k.get(kid).cloned())
    }

    pub fn len(&self) -> usize {
        self.keys.read().map(|k| k.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Fetches the key set now. On failure the cached keys stay in use.
    pub async fn refresh(&self) -> Result<usize, JwksError> {
        *self.last_fetch.lock().await = Some(Instant::now());
        let resp = self
            .http
            .get(&self.url)
            .send()
            .await
            .map_err(|e| JwksError::Fetch(e.without_url().to_string()))?;
        if !resp.status().is_success() {
            return Err(JwksError::Fetch(format!("HTTP {}", resp.status())));
        }
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| JwksError::Fetch(e.without_url().to_string()))?;
        if bytes.len() > MAX_JWKS_BYTES {
            return Err(JwksError::Parse(format!("larger than {MAX_JWKS_BYTES} bytes")));
        }
        let n = self.install(&bytes)?;
        if let Some(path) = &self.persist {
            // Write-then-rename: a crash never leaves a torn file behind.
            let tmp = path.with_extension("json.tmp");
            let written = std::fs::write(&tmp, &bytes).and_then(|()| std::fs::rename(&tmp, path));
            if let Err(e) = written {
                tracing::warn!(error = %e, "cannot persist JWKS for offline use");
            }
        }
        Ok(n)
    }

    /// The key for `kid`, refreshing once if it is unknown and the last
    /// fetch is old enough (key rotation at the provider).
    pub async fn get_or_refresh(&self, kid: &str) -> Option<VerifyingKey> {
        if let Some(k) = self.get(kid) {
            return Some(k);
        }
        let due = self
            .last_fetch
            .lock()
            .await
            .is_none_or(|t| t.elapsed() >= self.min_refresh);
        if due {
            match self.refresh().await {
                Ok(n) => tracing::info!(keys = n, "refreshed JWKS for an unknown key id"),
                Err(e) => tracing::warn!(error = %e, "JWKS refresh failed; using cached keys"),
            }
        }
        self.get(kid)
    }

    /// Refreshes every `every` until `stop` flips.
    pub fn spawn_refresher(
        self: &Arc<Self>,
        every: Duration,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let cache = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = cache.refresh().await {
                    tracing::warn!(error = %e, cached_keys = cache.len(), "JWKS refresh failed; using cached keys");
                }
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
            }
        })
    }
}
