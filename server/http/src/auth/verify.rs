//! Token validation with `jsonwebtoken`: RS256/ES256 from the provider's
//! JWKS, HS256 only for tokens minted locally with `JWT_SECRET`. The
//! algorithm decides the key family, and a key only verifies the one
//! algorithm it was registered for, so there is no alg confusion and no
//! `alg: none` (jsonwebtoken has no such algorithm).

use std::collections::BTreeSet;
use std::sync::Arc;

use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde_json::Value;

use super::identity::{Identity, Schools};
use super::jwks::JwksCache;
use super::roles::RoleTable;

/// Tokens longer than this are refused before any parsing.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
const LEEWAY_SECS: u64 = 30;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing bearer token")]
    Missing,
    #[error("malformed Authorization header: {0}")]
    Malformed(&'static str),
    #[error("invalid token: {0}")]
    Invalid(String),
}

/// Settings of token validation, mapped from configuration by the binary.
pub struct TokenSettings {
    pub issuer: Option<String>,
    pub audience: String,
    pub client_id: String,
    pub tenant_claim: String,
    pub schools_claim: String,
    /// `JWT_SECRET` and the issuer its tokens carry.
    pub local: Option<(Vec<u8>, String)>,
}

pub struct Verifier {
    settings: TokenSettings,
    jwks: Option<Arc<JwksCache>>,
    roles: Arc<RoleTable>,
    local_key: Option<DecodingKey>,
}

impl Verifier {
    pub fn new(settings: TokenSettings, jwks: Option<Arc<JwksCache>>, roles: Arc<RoleTable>) -> Self {
        let local_key = settings
            .local
            .as_ref()
            .map(|(secret, _)| DecodingKey::from_secret(secret));
        Self {
            settings,
            jwks,
            roles,
            local_key,
        }
    }

    pub fn jwks(&self) -> Option<&Arc<JwksCache>> {
        self.jwks.as_ref()
    }

    fn validation(&self, alg: Algorithm, issuer: &str) -> Validation {
        let mut v = Validation::new(alg);
        v.leeway = LEEWAY_SECS;
        v.validate_exp = true;
        // nbf is checked whenever present (Keycloak omits it).
        v.validate_nbf = true;
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        v.set_issuer(&[issuer]);
        v.set_audience(&[self.settings.audience.as_str()]);
        v
    }

    /// Verifies a bearer token and builds the caller's identity.
    pub async fn verify(&self, token: &str) -> Result<Identity, AuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::Malformed("token too long"));
        }
        let header = decode_header(token).map_err(|_| AuthError::Invalid("unreadable header".into()))?;
        let typ_ok = header.typ.as_deref().is_none_or(|t| {
            let t = t.to_ascii_lowercase();
            t == "jwt" || t == "at+jwt" || t == "application/at+jwt"
        });
        if !typ_ok {
            return Err(AuthError::Invalid("not an access token (typ)".into()));
        }
        let (key, validation) = match header.alg {
            Algorithm::RS256 | Algorithm::ES256 => {
                let (Some(jwks), Some(issuer)) = (&self.jwks, &self.settings.issuer) else {
                    return Err(AuthError::Invalid("provider tokens are not accepted here".into()));
                };
                let kid = header
                    .kid
                    .as_deref()
                    .ok_or_else(|| AuthError::Invalid("no key id".into()))?;
                let vk = jwks
                    .get_or_refresh(kid)
                    .await
                    .ok_or_else(|| AuthError::Invalid("unknown key id".into()))?;
                if vk.alg != header.alg {
                    return Err(AuthError::Invalid("key does not match algorithm".into()));
                }
                (vk.key, self.validation(header.alg, issuer))
            }
            Algorithm::HS256 => {
                let (Some(key), Some((_, issuer))) = (&self.local_key, &self.settings.local) else {
                    return Err(AuthError::Invalid("locally signed tokens are not accepted here".into()));
                };
                (key.clone(), self.validation(Algorithm::HS256, issuer))
            }
            _ => return Err(AuthError::Invalid("unsupported algorithm".into())),
        };
        let data = decode::<Value>(token, &key, &validation).map_err(|e| AuthError::Invalid(reason(&e)))?;
        self.identity(&data.claims, header.alg == Algorithm::HS256)
    }

    fn identity(&self, claims: &Value, local: bool) -> Result<Identity, AuthError> {
        let subject = claims["sub"]
            .as_str()
            .filter(|s| !s.is_empty() && s.len() <= 255)
            .ok_or_else(|| AuthError::Invalid("sub must be a non-empty string".into()))?;
        let tenant = match &claims[self.settings.tenant_claim.as_str()] {
            Value::Null => None,
            Value::String(t) if !t.is_empty() && t.len() <= 64 => Some(t.clone()),
            _ => {
                return Err(AuthError::Invalid(format!(
                    "{} must be a string",
                    self.settings.tenant_claim
                )));
            }
        };
        let mut roles: BTreeSet<String> = strings(&claims["realm_access"]["roles"])?;
        roles.extend(strings(
            &claims["resource_access"][self.settings.client_id.as_str()]["roles"],
        )?);
        if local {
            // Tokens we minted ourselves carry roles at the top level.
            roles.extend(strings(&claims["roles"])?);
        }
        let roles: Vec<String> = roles.into_iter().collect();
        let grants = self.roles.grants_for(roles.iter().map(String::as_str));
        let schools = match &claims[self.settings.schools_claim.as_str()] {
            Value::Null if grants.allows("school:all") => Schools::All,
            Value::Null => Schools::Only(BTreeSet::new()),
            v => {
                let list = strings(v)?;
                if list.contains("*") && grants.allows("school:all") {
                    Schools::All
                } else {
                    Schools::Only(list)
                }
            }
        };
        Ok(Identity {
            subject: subject.to_owned(),
            tenant,
            schools,
            roles,
            grants,
        })
    }
}

/// A string array claim (absent = empty).
fn strings(v: &Value) -> Result<BTreeSet<String>, AuthError> {
    match v {
        Value::Null => Ok(BTreeSet::new()),
        Value::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| AuthError::Invalid("role/school lists hold strings".into()))
            })
            .collect(),
        _ => Err(AuthError::Invalid("role/school claims must be arrays".into())),
    }
}

/// A short, safe reason (never echoes the token).
fn reason(e: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind as K;
    match e.kind() {
        K::ExpiredSignature => "expired".into(),
        K::ImmatureSignature => "not yet valid".into(),
        K::InvalidAudience => "wrong audience".into(),
        K::InvalidIssuer => "wrong issuer".into(),
        K::InvalidSignature => "bad signature".into(),
        K::MissingRequiredClaim(c) => format!("missing claim {c}"),
        K::InvalidAlgorithm => "algorithm not allowed".into(),
        _ => "malformed".into(),
    }
}
