//! Tokens minted on this box with `JWT_SECRET` (`essp token`): for scripts,
//! service-to-service calls, and a school's admin when central is out of
//! reach. HS256, short-lived, with their own issuer so they can never pass
//! for the identity provider's.

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Map, Value, json};

pub struct LocalToken<'a> {
    pub subject: &'a str,
    pub tenant: &'a str,
    /// School ids, or `["*"]` for every school (needs a role with `school:all`).
    pub schools: &'a [String],
    pub roles: &'a [String],
    pub ttl: Duration,
}

pub struct LocalIssuer<'a> {
    pub secret: &'a [u8],
    pub issuer: &'a str,
    pub audience: &'a str,
    pub tenant_claim: &'a str,
    pub schools_claim: &'a str,
}

impl LocalIssuer<'_> {
    pub fn mint(&self, t: &LocalToken<'_>, now_unix: u64) -> Result<String, jsonwebtoken::errors::Error> {
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(self.issuer));
        claims.insert("aud".into(), json!(self.audience));
        claims.insert("sub".into(), json!(t.subject));
        claims.insert("iat".into(), json!(now_unix));
        claims.insert("nbf".into(), json!(now_unix));
        claims.insert("exp".into(), json!(now_unix + t.ttl.as_secs()));
        claims.insert("jti".into(), json!(ulid::Ulid::new().to_string()));
        claims.insert(self.tenant_claim.into(), json!(t.tenant));
        claims.insert(self.schools_claim.into(), json!(t.schools));
        claims.insert("roles".into(), json!(t.roles));
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some("JWT".into());
        encode(&header, &Value::Object(claims), &EncodingKey::from_secret(self.secret))
    }
}
