//! Security through the real binary with a real OpenID Connect provider
//! (npm oidc-provider): token validation, roles, tenancy from the token,
//! offline edges, local tokens, rate limits, CORS and headers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use common::{Backend, Server, TestDb, assert_problem};
use essp_testkit::oidc::OidcProvider;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{Value, json};

const SECRET: &str = "a-local-secret-that-is-long-enough-0123456789";

fn auth_env(p: &OidcProvider) -> Vec<(String, String)> {
    vec![
        ("AUTH_ENABLED".into(), "true".into()),
        ("AUTH_ISSUER".into(), p.issuer.clone()),
        ("AUTH_JWKS_URL".into(), p.jwks_uri.clone()),
        ("AUTH_AUDIENCE".into(), "essp-api".into()),
        ("ESSP_JWKS_MIN_REFRESH".into(), "1s".into()),
        ("JWT_SECRET".into(), SECRET.into()),
        ("RATE_LIMIT_ENABLED".into(), "false".into()),
    ]
}

async fn start(backend: Backend, p: &OidcProvider, extra: &[(&str, &str)]) -> Server {
    let mut env = auth_env(p);
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Server::start_with(backend, &pairs).await
}

/// A request as `token` would send it, selecting `school` (tenant from the token).
fn call(s: &Server, token: &str, method: Method, path: &str, school: &str) -> reqwest::RequestBuilder {
    s.http
        .request(method, s.url(path))
        .bearer_auth(token)
        .header("X-School-ID", school)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Claims like the provider's, signed by the test with any key.
fn claims(p: &OidcProvider) -> Value {
    json!({
        "iss": p.issuer, "aud": "essp-api", "sub": "forger", "iat": now(), "exp": now() + 300,
        "realm_access": {"roles": ["essp-admin"]}, "tenantId": "tenant-a",
    })
}

fn sign_rs256(p: &OidcProvider, kid: &str, claims: &Value) -> String {
    let mut h = Header::new(Algorithm::RS256);
    h.kid = Some(kid.into());
    h.typ = Some("at+jwt".into());
    jsonwebtoken::encode(&h, claims, &EncodingKey::from_rsa_pem(&p.rsa_pem()).unwrap()).unwrap()
}

async fn roles_and_tenancy_from_the_token(backend: Backend) {
    let p = OidcProvider::start();
    let s = start(backend, &p, &[]).await;
    let tok = |c: &'static str| p.token(c);
    let (admin, tech, viewer, support, noroles, notenant, other) = (
        tok("admin").await,
        tok("tech").await,
        tok("viewer").await,
        tok("support").await,
        tok("noroles").await,
        tok("notenant").await,
        tok("other-tenant").await,
    );
    let body = json!({"deviceId": "dev_1", "title": "Fan noise"});

    // The tech reports; the actor is the token's subject, not anything sent.
    let created = call(&s, &tech, Method::POST, "/v1/incidents", "school-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["reportedBy"], "tech");
    assert_eq!(created["tenantId"], "tenant-a");
    let id = created["id"].as_str().unwrap().to_owned();
    let one = format!("/v1/incidents/{id}");
    let status = format!("/v1/incidents/{id}/status");

    // (name, token, method, path, school, body, expected status)
    type Case<'a> = (&'a str, &'a String, Method, &'a str, &'a str, Option<Value>, u16);
    let cases: Vec<Case<'_>> = vec![
        (
            "admin reads any school",
            &admin,
            Method::GET,
            "/v1/incidents",
            "school-9",
            None,
            200,
        ),
        (
            "admin writes",
            &admin,
            Method::POST,
            "/v1/incidents",
            "school-9",
            Some(body.clone()),
            201,
        ),
        ("tech reads own school", &tech, Method::GET, &one, "school-1", None, 200),
        (
            "tech other school",
            &tech,
            Method::GET,
            "/v1/incidents",
            "school-2",
            None,
            403,
        ),
        ("viewer reads", &viewer, Method::GET, &one, "school-1", None, 200),
        (
            "viewer cannot create",
            &viewer,
            Method::POST,
            "/v1/incidents",
            "school-1",
            Some(body.clone()),
            403,
        ),
        (
            "viewer cannot transition",
            &viewer,
            Method::PATCH,
            &status,
            "school-1",
            Some(json!({"status": "acknowledged"})),
            403,
        ),
        (
            "support (client role) writes in its 2nd school",
            &support,
            Method::POST,
            "/v1/incidents",
            "school-2",
            Some(body.clone()),
            201,
        ),
        (
            "support outside its schools",
            &support,
            Method::POST,
            "/v1/incidents",
            "school-3",
            Some(body.clone()),
            403,
        ),
        (
            "support transitions",
            &support,
            Method::PATCH,
            &status,
            "school-1",
            Some(json!({"status": "acknowledged"})),
            200,
        ),
        (
            "no roles",
            &noroles,
            Method::GET,
            "/v1/incidents",
            "school-1",
            None,
            403,
        ),
        (
            "no tenant claim",
            &notenant,
            Method::GET,
            "/v1/incidents",
            "school-1",
            None,
            403,
        ),
        (
            "other tenant cannot see it",
            &other,
            Method::GET,
            &one,
            "school-1",
            None,
            404,
        ),
        (
            "other tenant cannot change it",
            &other,
            Method::PATCH,
            &status,
            "school-1",
            Some(json!({"status": "in_progress"})),
            404,
        ),
    ];
    for (name, token, method, path, school, body, want) in cases {
        let mut r = call(&s, token, method, path, school);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.unwrap();
        assert_eq!(resp.status().as_u16(), want, "{name}");
        if want >= 400 {
            let code = match want {
                403 => "forbidden",
                404 => "not-found",
                _ => "",
            };
            assert_problem(resp, want, code).await;
        }
    }
    // The tenant header can only select the token's own tenant.
    let r = call(&s, &other, Method::GET, &one, "school-1")
        .header("X-Tenant-ID", "tenant-a")
        .send()
        .await
        .unwrap();
    assert_problem(r, 403, "forbidden").await;
    let r = call(&s, &tech, Method::GET, &one, "school-1")
        .header("X-Tenant-ID", "tenant-a")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Nothing the forbidden calls tried changed anything.
    let now: Value = call(&s, &admin, Method::GET, &one, "school-1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(now["status"], "acknowledged");
    assert_eq!(now["version"], 2);
}

async fn bad_tokens_are_401(backend: Backend) {
    let p = OidcProvider::start();
    let s = start(backend, &p, &[]).await;
    let good = p.token("tech").await;
    let es = p.token("es-tech").await;
    let kid = p.rsa_kid();
    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = claims(&p);
        f(&mut c);
        sign_rs256(&p, &kid, &c)
    };
    let hs_with_public_key = {
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some(kid.clone());
        jsonwebtoken::encode(&h, &claims(&p), &EncodingKey::from_secret(&p.rsa_public_pem())).unwrap()
    };
    let alg_none = format!(
        "{}.{}.",
        B64.encode(r#"{"alg":"none","typ":"JWT"}"#),
        B64.encode(claims(&p).to_string())
    );
    let tampered = {
        let parts: Vec<&str> = good.split('.').collect();
        let mut payload: Value = serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
        payload["realm_access"] = json!({"roles": ["essp-admin"]});
        format!("{}.{}.{}", parts[0], B64.encode(payload.to_string()), parts[2])
    };
    let unknown_kid = {
        // A key the provider never published.
        let other = OidcProvider::start();
        let mut h = Header::new(Algorithm::RS256);
        h.kid = Some("not-published".into());
        jsonwebtoken::encode(&h, &claims(&p), &EncodingKey::from_rsa_pem(&other.rsa_pem()).unwrap()).unwrap()
    };
    let wrong_typ = {
        let mut h = Header::new(Algorithm::RS256);
        h.kid = Some(kid.clone());
        h.typ = Some("id+jwt".into());
        jsonwebtoken::encode(&h, &claims(&p), &EncodingKey::from_rsa_pem(&p.rsa_pem()).unwrap()).unwrap()
    };
    let non_json = format!(
        "{}.{}.{}",
        B64.encode(format!(r#"{{"alg":"RS256","kid":"{kid}"}}"#)),
        B64.encode("not json"),
        B64.encode("sig")
    );

    let cases: Vec<(&str, Option<String>)> = vec![
        ("missing", None),
        (
            "expired",
            Some(with(&|c| {
                c["exp"] = json!(now() - 3600);
                c["iat"] = json!(now() - 7200);
            })),
        ),
        ("not yet valid", Some(with(&|c| c["nbf"] = json!(now() + 3600)))),
        ("wrong audience", Some(with(&|c| c["aud"] = json!("someone-else")))),
        (
            "wrong issuer",
            Some(with(&|c| c["iss"] = json!("https://evil.example"))),
        ),
        (
            "no exp",
            Some(with(&|c| {
                c.as_object_mut().unwrap().remove("exp");
            })),
        ),
        (
            "no sub",
            Some(with(&|c| {
                c.as_object_mut().unwrap().remove("sub");
            })),
        ),
        (
            "roles not a list",
            Some(with(&|c| c["realm_access"] = json!({"roles": "essp-admin"}))),
        ),
        ("alg none", Some(alg_none)),
        ("HS256 signed with the RSA public key", Some(hs_with_public_key)),
        ("unknown kid", Some(unknown_kid)),
        ("tampered payload", Some(tampered)),
        ("wrong typ", Some(wrong_typ)),
        ("non-JSON claims", Some(non_json)),
        ("garbage", Some("a.b.c".into())),
        ("absurdly long", Some("a".repeat(20_000))),
    ];
    for (name, token) in cases {
        let mut r = s.http.get(s.url("/v1/incidents")).header("X-School-ID", "school-1");
        if let Some(t) = &token {
            r = r.bearer_auth(t);
        }
        let resp = r.send().await.unwrap();
        assert!(resp.headers().contains_key("www-authenticate"), "{name}");
        assert_problem(resp, 401, "unauthorized").await;
    }
    for header in [
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer two words",
        "Token abc",
        "Bearer \u{7f}",
    ] {
        let resp = s
            .http
            .get(s.url("/v1/incidents"))
            .header("Authorization", header)
            .send()
            .await;
        if let Ok(resp) = resp {
            assert_problem(resp, 401, "unauthorized").await;
        }
    }
    // The real tokens work, RS256 and ES256, and a forged-but-correct one too.
    for (name, t) in [
        ("rs256", &good),
        ("es256", &es),
        ("forged with the real key", &with(&|_| {})),
    ] {
        let r = s
            .http
            .get(s.url("/v1/incidents"))
            .bearer_auth(t)
            .header("X-School-ID", "school-1")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{name}");
    }
    // Infrastructure stays open without credentials.
    for path in ["/health", "/readyz", "/metrics"] {
        assert_eq!(s.http.get(s.url(path)).send().await.unwrap().status(), 200, "{path}");
    }
}

on_both_engines!(roles_and_tenancy_from_the_token, bad_tokens_are_401);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotation_is_picked_up_without_restart() {
    let mut p = OidcProvider::start();
    let s = start(Backend::Sqlite, &p, &[]).await;
    let before = p.token("tech").await;
    let get = |t: String| call(&s, &t, Method::GET, "/v1/incidents", "school-1").send();
    assert_eq!(get(before.clone()).await.unwrap().status(), 200);
    p.restart(true);
    let after = p.token("tech").await;
    assert_ne!(before.split('.').next(), after.split('.').next(), "a new kid");
    // Unknown kid → one refresh (at most once per ESSP_JWKS_MIN_REFRESH=1s) → accepted.
    let mut status = 0;
    for _ in 0..30 {
        status = get(after.clone()).await.unwrap().status().as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(status, 200);
    // The retired key is gone from the set: its tokens no longer verify.
    assert_eq!(get(before).await.unwrap().status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_edge_keeps_validating_with_cached_keys() {
    let mut p = OidcProvider::start();
    let s = start(
        Backend::Sqlite,
        &p,
        &[
            ("ESSP_MODE", "edge"),
            ("ESSP_TENANT_ID", "tenant-a"),
            ("ESSP_SCHOOL_ID", "school-1"),
        ],
    )
    .await;
    let token = p.token("tech").await;
    let list = |s: &Server, t: &str| call(s, t, Method::GET, "/v1/incidents", "school-1").send();
    assert_eq!(list(&s, &token).await.unwrap().status(), 200);
    // The link to the identity provider goes down, and the box reboots.
    p.stop();
    let s = s.restart().await;
    assert_eq!(list(&s, &token).await.unwrap().status(), 200, "keys persisted on disk");
    // A school admin token minted on the box works too.
    let out = common::run_cli(
        s.db(),
        &[
            "token",
            "--sub",
            "head-teacher",
            "--tenant",
            "tenant-a",
            "--school",
            "school-1",
            "--role",
            "essp-admin",
            "--ttl",
            "10m",
        ],
        &[("JWT_SECRET", SECRET)],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let local = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let created = call(&s, &local, Method::POST, "/v1/incidents", "school-1")
        .json(&json!({"deviceId": "dev_7", "title": "Offline report"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    assert_eq!(created.json::<Value>().await.unwrap()["reportedBy"], "head-teacher");
    assert_eq!(
        call(&s, &local, Method::GET, "/v1/incidents", "school-2")
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_tokens_cli_and_limits() {
    let db = TestDb::empty(Backend::Sqlite).await;
    let mint = |extra: &[&str], env: &[(&str, &str)]| {
        let mut args = vec!["token", "--sub", "svc", "--tenant", "tenant-a", "--school", "school-1"];
        args.extend_from_slice(extra);
        common::run_cli(&db, &args, env)
    };
    let no_secret = mint(&["--role", "essp-viewer"], &[]);
    assert!(!no_secret.status.success());
    assert!(String::from_utf8_lossy(&no_secret.stderr).contains("JWT_SECRET"));
    let bad_role = mint(&["--role", "wizard"], &[("JWT_SECRET", SECRET)]);
    assert!(!bad_role.status.success());
    let too_long = mint(&["--role", "essp-viewer", "--ttl", "30d"], &[("JWT_SECRET", SECRET)]);
    assert!(!too_long.status.success());

    let viewer = mint(&["--role", "essp-viewer"], &[("JWT_SECRET", SECRET)]);
    assert!(viewer.status.success());
    let viewer = String::from_utf8(viewer.stdout).unwrap().trim().to_owned();
    // A server with only JWT_SECRET (no identity provider) accepts it, read-only.
    let s = Server::start_on(db, &[("AUTH_ENABLED", "true"), ("JWT_SECRET", SECRET)]).await;
    assert_eq!(
        call(&s, &viewer, Method::GET, "/v1/incidents", "school-1")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let r = call(&s, &viewer, Method::POST, "/v1/incidents", "school-1")
        .json(&json!({"deviceId": "d", "title": "t"}))
        .send()
        .await
        .unwrap();
    assert_problem(r, 403, "forbidden").await;
    // `GET /v1/me` tells the viewer who they are and that they may only read.
    let me: Value = call(&s, &viewer, Method::GET, "/v1/me", "school-1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["subject"], "svc");
    assert_eq!(me["tenantId"], "tenant-a");
    assert_eq!(me["schools"], json!(["school-1"]));
    assert_eq!(me["roles"], json!(["essp-viewer"]));
    let permissions: Vec<&str> = me["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(permissions.contains(&"incident:read"), "{me}");
    assert!(
        permissions.iter().all(|p| p.ends_with(":read")),
        "a viewer only reads: {me}"
    );
    // Without a token there is no one to describe.
    let anonymous = s.req(Method::GET, "/v1/me").send().await.unwrap();
    assert_problem(anonymous, 401, "unauthorized").await;
    // A server with another secret does not.
    let other = Server::start_with(
        Backend::Sqlite,
        &[
            ("AUTH_ENABLED", "true"),
            ("JWT_SECRET", "another-secret-that-is-also-long-enough-xx"),
        ],
    )
    .await;
    assert_problem(
        call(&other, &viewer, Method::GET, "/v1/incidents", "school-1")
            .send()
            .await
            .unwrap(),
        401,
        "unauthorized",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_and_write_budgets_are_separate_and_keyed_safely() {
    let limits = [
        ("RATE_LIMIT_ENABLED", "true"),
        ("RATE_LIMIT_READ_RPM", "60"),
        ("RATE_LIMIT_WRITE_RPM", "60"),
        ("RATE_LIMIT_BURST", "3"),
    ];
    let s = Server::start_with(Backend::Sqlite, &limits).await;
    let post = || s.create_incident(json!({"deviceId": "d", "title": "t"}));
    let get = || s.req(Method::GET, "/v1/incidents").send();
    // Write burst is half the read burst (rounded up): 2.
    assert_eq!(post().await.status(), 201);
    assert_eq!(post().await.status(), 201);
    let limited = post().await;
    assert!(limited.headers().contains_key("retry-after"));
    assert!(limited.headers().contains_key("x-ratelimit-limit"));
    assert_problem(limited, 429, "rate-limited").await;
    // Writes did not eat the read budget: 3 reads pass, the 4th is limited.
    for _ in 0..3 {
        let r = get().await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.headers().contains_key("x-ratelimit-remaining"));
    }
    assert_eq!(get().await.unwrap().status(), 429);
    // A forged X-Forwarded-For from an untrusted peer buys no new budget.
    let spoofed = s
        .req(Method::GET, "/v1/incidents")
        .header("X-Forwarded-For", "203.0.113.77")
        .send()
        .await
        .unwrap();
    assert_eq!(spoofed.status(), 429);
    // Probes are never limited.
    assert_eq!(s.http.get(s.url("/health")).send().await.unwrap().status(), 200);
    drop(s);

    // Behind a trusted proxy, each forwarded client has its own budget.
    let mut env = limits.to_vec();
    env.push(("ESSP_TRUSTED_PROXIES", "127.0.0.1"));
    let s = Server::start_with(Backend::Sqlite, &env).await;
    for _ in 0..3 {
        assert_eq!(
            s.req(Method::GET, "/v1/incidents")
                .header("X-Forwarded-For", "203.0.113.1")
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    assert_eq!(
        s.req(Method::GET, "/v1/incidents")
            .header("X-Forwarded-For", "203.0.113.1")
            .send()
            .await
            .unwrap()
            .status(),
        429
    );
    assert_eq!(
        s.req(Method::GET, "/v1/incidents")
            .header("X-Forwarded-For", "203.0.113.2")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authenticated_budgets_are_per_subject() {
    let p = OidcProvider::start();
    let s = start(
        Backend::Sqlite,
        &p,
        &[
            ("RATE_LIMIT_ENABLED", "true"),
            ("RATE_LIMIT_READ_RPM", "60"),
            ("RATE_LIMIT_BURST", "2"),
        ],
    )
    .await;
    let (tech, viewer) = (p.token("tech").await, p.token("viewer").await);
    for _ in 0..2 {
        assert_eq!(
            call(&s, &tech, Method::GET, "/v1/incidents", "school-1")
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    assert_eq!(
        call(&s, &tech, Method::GET, "/v1/incidents", "school-1")
            .send()
            .await
            .unwrap()
            .status(),
        429
    );
    // Same IP, another subject: its own budget.
    assert_eq!(
        call(&s, &viewer, Method::GET, "/v1/incidents", "school-1")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_and_security_headers() {
    let s = Server::start_with(
        Backend::Sqlite,
        &[("CORS_ALLOWED_ORIGINS", "https://admin.example.org")],
    )
    .await;
    let preflight = |origin: &'static str| {
        s.http
            .request(Method::OPTIONS, s.url("/v1/incidents"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header(
                "Access-Control-Request-Headers",
                "authorization, content-type, x-school-id",
            )
            .send()
    };
    let ok = preflight("https://admin.example.org").await.unwrap();
    assert_eq!(ok.headers()["access-control-allow-origin"], "https://admin.example.org");
    assert_eq!(ok.headers()["access-control-allow-credentials"], "true");
    let evil = preflight("https://evil.example").await.unwrap();
    assert!(!evil.headers().contains_key("access-control-allow-origin"));

    let r = s.req(Method::GET, "/v1/incidents").send().await.unwrap();
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    assert!(
        r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    assert!(!r.headers().contains_key("strict-transport-security"), "plain http");
    drop(s);
    // HSTS once TLS was terminated by a trusted proxy.
    let s = Server::start_with(Backend::Sqlite, &[("ESSP_TRUSTED_PROXIES", "127.0.0.1")]).await;
    let r = s
        .req(Method::GET, "/v1/incidents")
        .header("X-Forwarded-Proto", "https")
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .starts_with("max-age=")
    );
    drop(s);
    // "*" never comes with credentials.
    let s = Server::start_with(Backend::Sqlite, &[("CORS_ALLOWED_ORIGINS", "*")]).await;
    let r = s
        .http
        .request(Method::OPTIONS, s.url("/v1/incidents"))
        .header("Origin", "https://x.example")
        .header("Access-Control-Request-Method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    assert!(!r.headers().contains_key("access-control-allow-credentials"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_can_have_their_own_listener() {
    let mut s = Server::start_with(Backend::Sqlite, &[("ESSP_METRICS_ADDR", "127.0.0.1:0")]).await;
    let line = s.wait_for_log("metrics listening");
    let metrics_addr = line["addr"].as_str().unwrap().to_owned();
    assert_eq!(s.http.get(s.url("/metrics")).send().await.unwrap().status(), 404);
    let r = s
        .http
        .get(format!("http://{metrics_addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("http_requests_in_flight"));
}
