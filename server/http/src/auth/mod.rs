//! Authentication and authorization. A middleware establishes *who* calls
//! (verified token, or the development identity when auth is off); the
//! [`Authorized`] extractor decides *whether* they may, and *where*: the
//! tenant comes from the token, the school header only selects among the
//! schools the token allows.

pub mod identity;
pub mod jwks;
pub mod local;
pub mod permissions;
pub mod roles;
pub mod verify;

use std::marker::PhantomData;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use essp_domain::Scope;
use essp_domain::scope::parse_scope_part;

pub use identity::{Identity, Schools};
pub use permissions::Permission;
pub use verify::{AuthError, Verifier};

use crate::client::ClientContext;
use crate::problem::ApiError;
use crate::ratelimit::RateKey;
use crate::state::AppState;

/// How callers are authenticated.
pub enum AuthMode {
    /// `AUTH_ENABLED=false`: tenancy headers are trusted and everyone acts
    /// as the development identity.
    Development,
    /// Bearer tokens, verified.
    Tokens(Arc<Verifier>),
}

/// Extracts the bearer token, rejecting anything that is not one.
fn bearer(headers: &HeaderMap) -> Result<&str, AuthError> {
    let raw = headers.get(AUTHORIZATION).ok_or(AuthError::Missing)?;
    if raw.len() > verify::MAX_TOKEN_BYTES + 16 {
        return Err(AuthError::Malformed("header too long"));
    }
    let text = raw.to_str().map_err(|_| AuthError::Malformed("not ASCII"))?;
    let (scheme, token) = text
        .split_once(' ')
        .ok_or(AuthError::Malformed("expected `Bearer <token>`"))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::Malformed("only the Bearer scheme is accepted"));
    }
    let token = token.trim();
    let valid = !token.is_empty()
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'=' | b'+' | b'/'));
    if !valid {
        return Err(AuthError::Malformed("token has characters a JWT cannot contain"));
    }
    Ok(token)
}

fn unauthorized(e: &AuthError) -> Response {
    let mut resp = ApiError::Unauthorized(e.to_string()).into_response();
    let challenge = match e {
        AuthError::Missing => "Bearer realm=\"essp\"",
        _ => "Bearer realm=\"essp\", error=\"invalid_token\"",
    };
    resp.headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
    resp
}

/// Establishes the caller of every `/v1` request and the key its rate
/// limits count against (token subject, else client IP).
pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let ip = req
        .extensions()
        .get::<ClientContext>()
        .map(|c| c.ip.to_string())
        .unwrap_or_default();
    let path = req.uri().path();
    let api = path == "/v1" || path.starts_with("/v1/");
    let mut key = format!("ip:{ip}");
    if api {
        let identity = match state.auth.as_ref() {
            AuthMode::Development => Identity::development(),
            AuthMode::Tokens(v) => {
                let verified = match bearer(req.headers()) {
                    Ok(token) => v.verify(token).await,
                    Err(e) => Err(e),
                };
                match verified {
                    Ok(id) => {
                        key = format!("sub:{}", id.subject);
                        id
                    }
                    Err(e) => {
                        tracing::info!(reason = %e, client_ip = %ip, "rejected credentials");
                        return unauthorized(&e);
                    }
                }
            }
        };
        req.extensions_mut().insert(identity);
    }
    req.extensions_mut().insert(RateKey(key));
    next.run(req).await
}

/// The acting user, recorded as the author of every change, with where
/// the request came from (for the audit trail).
#[derive(Debug, Clone)]
pub struct Actor {
    pub subject: String,
    pub request_id: String,
    pub ip: String,
    pub user_agent: String,
}

impl Actor {
    pub fn audit(&self) -> essp_store::audit::AuditContext {
        essp_store::audit::AuditContext {
            actor: self.subject.clone(),
            request_id: self.request_id.clone(),
            ip: self.ip.clone(),
            user_agent: self.user_agent.clone(),
        }
    }
}

fn actor(identity: &Identity, parts: &Parts) -> Actor {
    Actor {
        subject: identity.subject.clone(),
        request_id: parts
            .extensions
            .get::<crate::telemetry::RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default(),
        ip: parts
            .extensions
            .get::<ClientContext>()
            .map(|c| c.ip.to_string())
            .unwrap_or_default(),
        user_agent: parts
            .headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
    }
}

/// Proof that the caller holds permission `P` within `scope`. Handlers that
/// touch school data take one; without it they have no scope to query.
pub struct Authorized<P> {
    pub actor: Actor,
    pub scope: Scope,
    _permission: PhantomData<P>,
}

fn header<'a>(parts: &'a Parts, name: &str) -> Result<Option<&'a str>, ApiError> {
    parts
        .headers
        .get(name)
        .map(|v| {
            v.to_str()
                .map_err(|_| ApiError::bad_request("invalid-scope", format!("header {name} is not text")))
        })
        .transpose()
}

/// Checks the permission and resolves the tenant: the token's own (the
/// header may only repeat it), or in development the trusted header.
fn authorize_tenant<'a>(
    parts: &'a Parts,
    state: &AppState,
    permission: &str,
) -> Result<(&'a Identity, String), ApiError> {
    let identity = parts
        .extensions
        .get::<Identity>()
        .ok_or_else(|| ApiError::Unauthorized("no credentials".into()))?;
    if !identity.grants.allows(permission) {
        return Err(ApiError::Forbidden(format!(
            "this action needs the {permission} permission"
        )));
    }
    let cfg = &state.config;
    let tenant_header = header(parts, &cfg.tenant_header)?;
    let tenant = match &identity.tenant {
        Some(own) => {
            if tenant_header.is_some_and(|h| h.trim() != own) {
                return Err(ApiError::Forbidden(format!(
                    "your token does not allow {}",
                    cfg.tenant_header
                )));
            }
            own.clone()
        }
        None if matches!(state.auth.as_ref(), AuthMode::Tokens(_)) => {
            return Err(ApiError::Forbidden("your token carries no tenant".into()));
        }
        None => parse_scope_part(tenant_header)
            .map_err(|e| ApiError::bad_request("missing-tenant", format!("header {} {e}", cfg.tenant_header)))?,
    };
    Ok((identity, tenant))
}

impl<P: Permission + Send + Sync> FromRequestParts<AppState> for Authorized<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let (identity, tenant) = authorize_tenant(parts, state, P::NAME)?;
        let cfg = &state.config;
        let school = parse_scope_part(header(parts, &cfg.school_header)?)
            .map_err(|e| ApiError::bad_request("missing-school", format!("header {} {e}", cfg.school_header)))?;
        if !identity.schools.allows(&school) {
            return Err(ApiError::Forbidden(format!(
                "your token does not allow school {school}"
            )));
        }
        Ok(Authorized {
            actor: actor(identity, parts),
            scope: Scope::new(tenant, school),
            _permission: PhantomData,
        })
    }
}

/// Like [`Authorized`], for tenant-wide resources (service shops, staff,
/// audit): no school is selected.
pub struct TenantAuthorized<P> {
    pub actor: Actor,
    pub tenant: String,
    schools: Schools,
    _permission: PhantomData<P>,
}

impl<P> TenantAuthorized<P> {
    /// Views spanning every school's data (the audit trail) need access to
    /// every school of the tenant.
    pub fn require_all_schools(&self) -> Result<(), ApiError> {
        if self.schools == Schools::All {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "this view needs access to every school of the tenant".into(),
            ))
        }
    }

    /// The school named in the path, if the token allows it (403 otherwise).
    pub fn school(&self, raw: &str) -> Result<Scope, ApiError> {
        let school = parse_scope_part(Some(raw))
            .map_err(|e| ApiError::bad_request("invalid-scope", format!("school id {e}")))?;
        if !self.schools.allows(&school) {
            return Err(ApiError::Forbidden(format!(
                "your token does not allow school {school}"
            )));
        }
        Ok(Scope::new(self.tenant.clone(), school))
    }
}

impl<P: Permission + Send + Sync> FromRequestParts<AppState> for TenantAuthorized<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let (identity, tenant) = authorize_tenant(parts, state, P::NAME)?;
        // No school is selected here, but a client that names one must name
        // it well: a malformed tenancy header is a mistake, never ignored.
        let cfg = &state.config;
        if let Some(raw) = header(parts, &cfg.school_header)? {
            parse_scope_part(Some(raw))
                .map_err(|e| ApiError::bad_request("invalid-school", format!("header {} {e}", cfg.school_header)))?;
        }
        Ok(TenantAuthorized {
            actor: actor(identity, parts),
            tenant,
            schools: identity.schools.clone(),
            _permission: PhantomData,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_header_shapes() {
        let mk = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(
                AUTHORIZATION,
                HeaderValue::from_str(v).unwrap_or(HeaderValue::from_static("x")),
            );
            h
        };
        assert_eq!(bearer(&HeaderMap::new()), Err(AuthError::Missing));
        assert_eq!(bearer(&mk("Bearer abc.def.ghi")), Ok("abc.def.ghi"));
        assert_eq!(bearer(&mk("bearer abc.def.ghi")), Ok("abc.def.ghi"));
        for bad in [
            "Basic dXNlcjpwdw==",
            "Bearer",
            "Bearer ",
            "Bearer a b",
            "Bearer {\"alg\"}",
            "abc.def.ghi",
        ] {
            assert!(matches!(bearer(&mk(bad)), Err(AuthError::Malformed(_))), "{bad}");
        }
        let huge = format!("Bearer {}", "a".repeat(20_000));
        assert!(matches!(bearer(&mk(&huge)), Err(AuthError::Malformed(_))));
    }
}
