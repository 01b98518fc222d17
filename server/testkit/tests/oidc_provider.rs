//! The OIDC test provider: real JWT access tokens with Keycloak-shaped
//! claims, a JWKS that serves their keys, rotation on restart, and a JWKS
//! endpoint that really goes away on stop.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use essp_testkit::oidc::{AUDIENCE, OidcProvider};
use serde_json::{Value, json};

fn decode(token: &str) -> (Value, Value) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "not a JWS compact token: {token}");
    let part =
        |s: &str| -> Value { serde_json::from_slice(&URL_SAFE_NO_PAD.decode(s).expect("base64url")).expect("json") };
    (part(parts[0]), part(parts[1]))
}

async fn jwks_kids(p: &OidcProvider) -> BTreeSet<String> {
    let jwks: Value = reqwest::get(&p.jwks_uri)
        .await
        .expect("GET jwks")
        .json()
        .await
        .expect("jwks json");
    let keys = jwks["keys"].as_array().expect("keys array");
    for k in keys {
        // Public keys only.
        assert!(k.get("d").is_none(), "JWKS leaks a private key: {k}");
    }
    keys.iter()
        .map(|k| k["kid"].as_str().expect("kid").to_owned())
        .collect()
}

fn now() -> i64 {
    i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()).unwrap()
}

fn aud_contains(payload: &Value, aud: &str) -> bool {
    match &payload["aud"] {
        Value::String(s) => s == aud,
        Value::Array(a) => a.iter().any(|v| v == aud),
        _ => false,
    }
}

/// Checks header and registered claims; returns (header, payload).
async fn check_token(p: &OidcProvider, client: &str, alg: &str, kids: &BTreeSet<String>) -> (Value, Value) {
    let token = p.token(client).await;
    let (header, payload) = decode(&token);
    assert_eq!(header["alg"], alg, "{client}: {header}");
    assert_eq!(header["typ"], "at+jwt", "{client}: {header}");
    let kid = header["kid"].as_str().expect("kid in header");
    assert!(kids.contains(kid), "{client}: kid {kid} not in JWKS {kids:?}");
    assert_eq!(payload["iss"], p.issuer.as_str());
    assert!(aud_contains(&payload, AUDIENCE), "{client}: aud {}", payload["aud"]);
    assert!(payload["exp"].as_i64().expect("exp") > now());
    assert_eq!(payload["sub"], client);
    assert_eq!(payload["client_id"], client);
    (header, payload)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_issues_keycloak_shaped_tokens_and_rotates_keys() {
    let t0 = Instant::now();
    let mut p = OidcProvider::start();
    eprintln!("OidcProvider::start took {:?}", t0.elapsed());
    assert_eq!(p.issuer, format!("http://127.0.0.1:{}", p.port));

    // Discovery agrees with the handle.
    let disc: Value = reqwest::get(format!("{}/.well-known/openid-configuration", p.issuer))
        .await
        .expect("discovery")
        .json()
        .await
        .expect("discovery json");
    assert_eq!(disc["issuer"], p.issuer.as_str());
    assert_eq!(disc["jwks_uri"], p.jwks_uri.as_str());
    assert_eq!(disc["token_endpoint"], p.token_endpoint.as_str());

    let kids = jwks_kids(&p).await;
    assert_eq!(kids, BTreeSet::from([p.rsa_kid(), p.ec_kid()]));

    let (header, admin) = check_token(&p, "admin", "RS256", &kids).await;
    eprintln!("admin header: {header}\nadmin payload: {admin}");
    assert_eq!(header["kid"], p.rsa_kid().as_str());
    assert_eq!(admin["realm_access"], json!({"roles": ["essp-admin"]}));
    assert_eq!(admin["tenantId"], "tenant-a");
    assert!(admin.get("schools").is_none());
    assert!(admin.get("resource_access").is_none());

    let (_, support) = check_token(&p, "support", "RS256", &kids).await;
    eprintln!("support payload: {support}");
    assert_eq!(
        support["resource_access"],
        json!({"essp-api": {"roles": ["ssp_support_agent"]}})
    );
    assert!(support.get("realm_access").is_none());
    assert_eq!(support["tenantId"], "tenant-a");
    assert_eq!(support["schools"], json!(["school-1", "school-2"]));

    let (header, es) = check_token(&p, "es-tech", "ES256", &kids).await;
    eprintln!("es-tech header: {header}\nes-tech payload: {es}");
    assert_eq!(header["kid"], p.ec_kid().as_str());
    assert_eq!(es["realm_access"], json!({"roles": ["essp-technician"]}));
    assert_eq!(es["tenantId"], "tenant-a");
    assert_eq!(es["schools"], json!(["school-1"]));

    let (_, notenant) = check_token(&p, "notenant", "RS256", &kids).await;
    assert!(notenant.get("tenantId").is_none());
    let (_, other) = check_token(&p, "other-tenant", "RS256", &kids).await;
    assert_eq!(other["tenantId"], "tenant-b");

    // Forging material is on disk and matches the served keys.
    assert!(
        String::from_utf8(p.rsa_pem())
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY-----")
    );
    assert!(
        String::from_utf8(p.ec_pem())
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY-----")
    );
    assert!(
        String::from_utf8(p.rsa_public_pem())
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----")
    );

    // Restart without rotation: same keys, same port.
    let port = p.port;
    p.restart(false);
    assert_eq!(p.port, port);
    assert_eq!(jwks_kids(&p).await, kids);
    check_token(&p, "admin", "RS256", &kids).await;

    // Rotation: entirely new key set; new tokens use the new kids.
    let old_rsa_pem = p.rsa_pem();
    p.restart(true);
    assert_eq!(p.port, port);
    let rotated = jwks_kids(&p).await;
    assert!(rotated.is_disjoint(&kids), "old {kids:?} vs rotated {rotated:?}");
    assert_eq!(rotated, BTreeSet::from([p.rsa_kid(), p.ec_kid()]));
    assert_ne!(p.rsa_pem(), old_rsa_pem);
    let (header, _) = check_token(&p, "admin", "RS256", &rotated).await;
    assert_eq!(header["kid"], p.rsa_kid().as_str());
    let (header, _) = check_token(&p, "es-tech", "ES256", &rotated).await;
    assert_eq!(header["kid"], p.ec_kid().as_str());

    // Stopped: JWKS unreachable.
    p.stop();
    assert!(
        reqwest::get(&p.jwks_uri).await.is_err(),
        "JWKS still reachable after stop"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_secret_is_rejected_and_custom_clients_work() {
    let p = OidcProvider::start_with_clients(&json!([
        {"client_id": "custom", "claims": {"tenantId": "t-x", "realm_access": {"roles": ["r"]}}},
        {"client_id": "odd id", "client_secret": "p@ss:w/rd", "alg": "ES256", "claims": {}}
    ]));
    let (_, payload) = decode(&p.token("custom").await);
    assert_eq!(payload["tenantId"], "t-x");
    let (header, payload) = decode(&p.token_with_secret("odd id", "p@ss:w/rd").await);
    assert_eq!(header["alg"], "ES256");
    assert_eq!(payload["sub"], "odd id");

    // A bad secret gets a 401 invalid_client from the token endpoint.
    let resp = reqwest::Client::new()
        .post(&p.token_endpoint)
        .basic_auth("custom", Some("nope"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    // The default identities are not there.
    let resp = reqwest::Client::new()
        .post(&p.token_endpoint)
        .basic_auth("admin", Some("secret-admin"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}
