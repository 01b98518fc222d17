//! The embedded admin UI (`web-admin/`): how the binary serves it (cache
//! headers, Content-Security-Policy, versioned assets, the settings in the
//! page, `/v1/me`), and an end-to-end run in a real browser (Debian
//! `chromium` driven by npm `playwright-core`, with axe-core) against two
//! seeded servers: a technician's whole repair on a phone in development
//! mode, and a viewer (auth enabled, pasted token) who sees no write action;
//! and the OpenID Connect sign-in (PKCE, token renewal, sign-out) against a
//! real provider (`essp_testkit::oidc`); the remaining screens against a
//! seeded server (`screens.mjs`); and the sync screens of two edges and
//! central (`sync-edge.mjs`).
//!
//! The browser test fails, never skips, when chromium or the npm packages
//! are missing: `.ci/run` installs them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Backend, SCHOOL, Server, TENANT, TestDb, run_cli, wait_until};
use essp_testkit::PrivateNats;
use essp_testkit::oidc::{OidcProvider, ProviderOptions};
use reqwest::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use serde_json::Value;

const SECRET: &str = "a-local-secret-that-is-long-enough-0123456789";
const CHROMIUM: &str = "/usr/bin/chromium";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The `content` of `<meta name="essp-settings">`, unescaped and parsed.
fn page_settings(html: &str) -> Value {
    let tag = html
        .split("<meta ")
        .find(|t| t.contains(r#"name="essp-settings""#))
        .expect("the page carries its settings");
    let raw = tag.split(r#"content=""#).nth(1).unwrap().split('"').next().unwrap();
    let json = raw
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    serde_json::from_str(&json).unwrap_or_else(|e| panic!("settings are not JSON ({e}): {json}"))
}

/// The versioned asset prefix the page names (`/ui/<version>/`).
fn asset_base(html: &str) -> String {
    let start = html.find("/ui/").expect("the page names its assets");
    let rest = &html[start + 4..];
    format!("/ui/{}/", &rest[..rest.find('/').unwrap()])
}

/// Every file of the UI that the binary embeds (what `web_admin.rs` keeps).
fn ui_files(dir: &Path, base: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let rel = path.strip_prefix(base).unwrap().to_string_lossy().replace('\\', "/");
        if path.is_dir() {
            if rel != "tests" && rel != "node_modules" {
                ui_files(&path, base, out);
            }
        } else if !rel.ends_with(".md") && !rel.starts_with("package") {
            out.push(rel);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ui_is_served_with_cache_headers_csp_and_settings() {
    let s = Server::start(Backend::Sqlite).await;

    // The page: never cached, strict CSP, settings for this deployment.
    let r = s.http.get(s.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let headers = r.headers().clone();
    assert_eq!(headers[CACHE_CONTROL], "no-cache");
    assert!(headers[CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    let csp = headers[CONTENT_SECURITY_POLICY].to_str().unwrap().to_owned();
    for part in [
        "script-src 'self'",
        "style-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(part), "CSP lacks {part}: {csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    let html = r.text().await.unwrap();
    let settings = page_settings(&html);
    assert_eq!(settings["authEnabled"], false, "{settings}");
    assert_eq!(settings["mode"], "central");
    assert_eq!(settings["tenantHeader"], "X-Tenant-ID");
    assert_eq!(settings["schoolHeader"], "X-School-ID");
    assert!(settings["oidcIssuer"].is_null());
    // Central has no fixed scope: the caller picks the tenant and school.
    assert!(
        settings["tenantId"].is_null() && settings["schoolId"].is_null(),
        "{settings}"
    );
    let base = asset_base(&html);
    assert_eq!(base, format!("/ui/{}/", settings["version"].as_str().unwrap()));
    assert!(!html.contains("{{"), "every placeholder is filled");
    // Nothing the CSP would block: no inline script, style or handler.
    assert!(!html.contains("<style"), "no <style> element");
    assert!(!html.contains(" style="), "no style attribute");
    assert!(!html.contains(" onclick="), "no inline handler");
    for script in html.split("<script").skip(1) {
        assert!(
            script.split('>').next().unwrap().contains("src="),
            "inline script: <script{script}"
        );
    }

    // Versioned assets: immutable, with their type; every embedded file answers.
    let get = |path: String| s.http.get(s.url(&path)).send();
    for (file, kind) in [
        ("app.css", "text/css"),
        ("js/main.js", "text/javascript"),
        ("icon.svg", "image/svg+xml"),
    ] {
        let r = get(format!("{base}{file}")).await.unwrap();
        assert_eq!(r.status(), 200, "{file}");
        assert!(r.headers()[CONTENT_TYPE].to_str().unwrap().starts_with(kind), "{file}");
        let cache = r.headers()[CACHE_CONTROL].to_str().unwrap();
        assert!(
            cache.contains("immutable") && cache.contains("max-age=31536000"),
            "{file}: {cache}"
        );
        assert!(r.headers().contains_key(CONTENT_SECURITY_POLICY), "{file}");
    }
    let root = repo_root().join("web-admin");
    let mut files = Vec::new();
    ui_files(&root, &root, &mut files);
    assert!(files.len() > 10, "{files:?}");
    for file in &files {
        let r = get(format!("{base}{file}")).await.unwrap();
        assert_eq!(r.status(), 200, "{file} is embedded and served");
        let body = r.bytes().await.unwrap();
        assert_eq!(
            body.len() as u64,
            std::fs::metadata(root.join(file)).unwrap().len(),
            "{file}: the binary has the current file"
        );
    }
    // Another version, the test files and unknown kinds of file: not found.
    for path in [
        "/ui/000000000000/app.css".to_owned(),
        format!("{base}tests/e2e.mjs"),
        format!("{base}tests/package.json"),
        format!("{base}README.md"),
        format!("{base}nothing.js"),
    ] {
        assert_eq!(get(path.clone()).await.unwrap().status(), 404, "{path}");
    }

    // Development mode: /v1/me is the development identity, with every permission.
    let me: Value = s.http.get(s.url("/v1/me")).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["subject"], "dev-user", "{me}");
    assert!(me["tenantId"].is_null() && me["schools"].is_null(), "{me}");
    assert_eq!(me["roles"], serde_json::json!(["essp-admin"]));
    let perms: Vec<&str> = me["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    for p in [
        "incident:create",
        "workorder:approval",
        "bom:consume",
        "audit:read",
        "ssot:write",
    ] {
        assert!(perms.contains(&p), "{p} in {perms:?}");
    }
}

/// `essp token …` signed with [`SECRET`].
fn mint(db: &TestDb, sub: &str, tenant: &str, school: &str, role: &str) -> String {
    let out = run_cli(
        db,
        &[
            "token", "--sub", sub, "--tenant", tenant, "--school", school, "--role", role, "--ttl", "30m",
        ],
        &[("JWT_SECRET", SECRET)],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// With tokens required, the page is still public (it holds no data) and
/// tells the UI to sign in; what `/v1/me` answers a token is tested in
/// `auth_api`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_tokens_the_page_asks_for_sign_in() {
    let s = Server::start_with(Backend::Sqlite, &[("AUTH_ENABLED", "true"), ("JWT_SECRET", SECRET)]).await;
    let page = s.http.get(s.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let settings = page_settings(&page.text().await.unwrap());
    assert_eq!(settings["authEnabled"], true, "{settings}");
    assert!(settings["oidcIssuer"].is_null(), "tokens are pasted here");
    let anonymous = s.http.get(s.url("/v1/me")).send().await.unwrap();
    common::assert_problem(anonymous, 401, "unauthorized").await;
}

/// The UI signs in as its own public client (`ESSP_AUTH_UI_CLIENT_ID`),
/// while `ESSP_AUTH_CLIENT_ID` keeps naming the client whose
/// `resource_access` roles the API counts; unset, the UI's client is that
/// one (as before). `essp config check` shows both, and every variable it
/// shows is in the configuration reference (`docs/configuration.md`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ui_client_id_is_its_own_setting() {
    let ui_client = |s: &Server| {
        let req = s.http.get(s.url("/"));
        async move { page_settings(&req.send().await.unwrap().text().await.unwrap())["oidcClientId"].clone() }
    };
    let auth = [
        ("AUTH_ENABLED", "true"),
        ("JWT_SECRET", SECRET),
        ("ESSP_AUTH_CLIENT_ID", "essp-backend"),
    ];
    let default = Server::start_with(Backend::Sqlite, &auth).await;
    assert_eq!(ui_client(&default).await, "essp-backend");
    let env = [auth.as_slice(), &[("ESSP_AUTH_UI_CLIENT_ID", "essp-admin-ui")]].concat();
    let own = Server::start_with(Backend::Sqlite, &env).await;
    assert_eq!(ui_client(&own).await, "essp-admin-ui");
    let out = run_cli(own.db(), &["config", "check"], &env);
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{shown}{}", String::from_utf8_lossy(&out.stderr));
    assert!(shown.contains("ESSP_AUTH_CLIENT_ID=essp-backend"), "{shown}");
    assert!(shown.contains("ESSP_AUTH_UI_CLIENT_ID=essp-admin-ui"), "{shown}");
    let reference = std::fs::read_to_string(repo_root().join("docs/configuration.md")).unwrap();
    let undocumented: Vec<&str> = shown
        .lines()
        .filter_map(|line| line.split_once('=').map(|(name, _)| name))
        .filter(|name| !mentions(&reference, name))
        .collect();
    assert!(undocumented.is_empty(), "docs/configuration.md lacks {undocumented:?}");
}

/// Whether `text` names the variable `name` (not merely a longer one containing it).
fn mentions(text: &str, name: &str) -> bool {
    let part_of_name = |c: char| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_';
    text.match_indices(name)
        .any(|(at, _)| !text[..at].ends_with(part_of_name) && !text[at + name.len()..].starts_with(part_of_name))
}

/// Fails (never skips) when the browser or the npm packages are missing.
fn require_browser_tools(tests: &Path) {
    let mut missing = Vec::new();
    if !Path::new(CHROMIUM).exists() {
        missing.push(format!("Debian chromium ({CHROMIUM})"));
    }
    for module in ["playwright-core", "@axe-core/playwright"] {
        if !tests.join("node_modules").join(module).join("package.json").exists() {
            missing.push(format!("npm {module} in web-admin/tests/node_modules"));
        }
    }
    let node = Command::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success()) {
        missing.push("node".into());
    }
    assert!(
        missing.is_empty(),
        "the browser tests need {}: run .ci/run, which installs them \
         (apt-get install chromium; npm ci in web-admin/tests)",
        missing.join(", ")
    );
}

/// `essp demo seed` on an empty database: SSOT, shops with leads, stock,
/// incidents and auto-routed work orders.
fn seed(db: &TestDb) {
    let out = run_cli(
        db,
        &[
            "demo",
            "seed",
            "--schools",
            "3",
            "--devices-per-school",
            "20",
            "--seed",
            "7",
        ],
        &[("LOG_LEVEL", "warn")],
    );
    assert!(
        out.status.success(),
        "demo seed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `node <script>` in `web-admin/tests` with `env` and the screenshot
/// directory (emptied first); fails with the script's output unless it
/// exits 0. Returns the directory.
async fn run_browser_script(script: &str, shots: &str, env: &[(&str, &str)]) -> PathBuf {
    let root = repo_root();
    let tests = root.join("web-admin/tests");
    require_browser_tools(&tests);
    let shots = root.join("target").join(shots);
    let _ = std::fs::remove_dir_all(&shots);
    let mut cmd = Command::new("node");
    cmd.arg(script).current_dir(&tests).env("SCREENSHOT_DIR", &shots);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("run node"))
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the browser test {script} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    println!("{stdout}");
    shots
}

/// Every named screenshot was saved in `shots`.
fn assert_screenshots(shots: &Path, names: &[&str]) {
    for name in names {
        assert!(
            shots.join(format!("{name}.png")).exists(),
            "screenshot {name} saved in {}",
            shots.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_end_to_end() {
    require_browser_tools(&repo_root().join("web-admin/tests"));

    let (dev_db, auth_db) = (
        TestDb::empty(Backend::Sqlite).await,
        TestDb::empty(Backend::Sqlite).await,
    );
    seed(&dev_db);
    seed(&auth_db);
    let dev = Server::start_on(dev_db, &[]).await;
    let auth = Server::start_on(auth_db, &[("AUTH_ENABLED", "true"), ("JWT_SECRET", SECRET)]).await;

    // The viewer acts in one school of the demo tenant.
    let admin = mint(auth.db(), "e2e-admin", "demo-tenant", "*", "essp-admin");
    let schools: Value = auth
        .http
        .get(auth.url("/v1/ssot/schools?limit=1"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let school = schools["items"][0]["id"].as_str().expect("a seeded school").to_owned();
    let viewer = mint(auth.db(), "e2e-viewer", "demo-tenant", &school, "essp-viewer");

    let shots = run_browser_script(
        "e2e.mjs",
        "ui-screenshots",
        &[
            ("ESSP_DEV_URL", &dev.base),
            ("ESSP_AUTH_URL", &auth.base),
            ("ESSP_VIEWER_TOKEN", &viewer),
        ],
    )
    .await;
    assert_screenshots(
        &shots,
        &[
            "01-overview-phone",
            "04-incident-detail-phone",
            "06-work-order-bom-phone",
            "09-incident-resolved-desktop",
            "22-viewer-work-order-phone",
        ],
    );
}

/// The UI's OpenID Connect sign-in in a real browser, against a real
/// provider (npm oidc-provider) issuing short-lived JWT access tokens with
/// Keycloak-shaped claims: authorization code with PKCE, a write through
/// the API, renewal with the refresh token after expiry and after a 401,
/// a revoked refresh token, sign-out, a refused and a tampered callback
/// (`web-admin/tests/oidc.mjs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_oidc_sign_in_refresh_and_sign_out() {
    const CLIENT: &str = "essp-admin";
    const USER: &str = "ui-tech";
    const TITLE: &str = "Projector lamp out (OIDC e2e)";
    require_browser_tools(&repo_root().join("web-admin/tests"));

    let db = TestDb::empty(Backend::Sqlite).await;
    seed(&db);
    // Short-lived access tokens, so the test sees them run out.
    let provider = OidcProvider::start_with(ProviderOptions {
        access_token_ttl: Some(std::time::Duration::from_secs(25)),
        ..ProviderOptions::default()
    });
    let s = Server::start_on(
        db,
        &[
            ("AUTH_ENABLED", "true"),
            ("AUTH_ISSUER", &provider.issuer),
            ("AUTH_JWKS_URL", &provider.jwks_uri),
            ("AUTH_AUDIENCE", "essp-api"),
            // The public client the UI signs in as (its settings name it).
            ("ESSP_AUTH_CLIENT_ID", CLIENT),
            // For the test's own set-up calls only.
            ("JWT_SECRET", SECRET),
        ],
    )
    .await;
    provider.register_public_client(CLIENT, &s.url("/")).await;
    let page = s.http.get(s.url("/")).send().await.unwrap();
    let csp = page.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap().to_owned();
    assert!(
        csp.contains(&format!("connect-src 'self' {}", provider.issuer)),
        "the UI may call the provider: {csp}"
    );
    let settings = page_settings(&page.text().await.unwrap());
    assert_eq!(settings["oidcIssuer"], provider.issuer.as_str(), "{settings}");
    assert_eq!(settings["oidcClientId"], CLIENT, "{settings}");

    // A school of the demo tenant and one of its devices without an open incident.
    let admin = mint(s.db(), "oidc-setup", "demo-tenant", "*", "essp-admin");
    let get = |path: String, school: String| {
        let req = s
            .http
            .get(s.url(&path))
            .bearer_auth(&admin)
            .header("X-School-ID", school);
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let school = get("/v1/ssot/schools?limit=1".into(), "any".into()).await["items"][0]["id"]
        .as_str()
        .expect("a seeded school")
        .to_owned();
    let devices = get(format!("/v1/ssot/devices?schoolId={school}&limit=100"), school.clone()).await;
    let mut serial = None;
    for d in devices["items"].as_array().unwrap() {
        let open = get(
            format!("/v1/incidents?deviceId={}&limit=50", d["id"].as_str().unwrap()),
            school.clone(),
        )
        .await;
        if open["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["status"] == "resolved" || i["status"] == "closed")
        {
            serial = Some(d["serial"].as_str().unwrap().to_owned());
            break;
        }
    }
    let serial = serial.expect("a device without an open incident");
    // The user's tokens carry Keycloak's realm roles, the tenant and the school.
    provider.set_users(&serde_json::json!([{
        "login": USER,
        "claims": {
            "realm_access": {"roles": ["essp-technician"]},
            "tenantId": "demo-tenant",
            "schools": [school],
        },
    }]));

    let shots = run_browser_script(
        "oidc.mjs",
        "ui-screenshots-oidc",
        &[
            ("ESSP_URL", &s.base),
            ("OIDC_ISSUER", &provider.issuer),
            ("OIDC_CLIENT_ID", CLIENT),
            ("OIDC_USER", USER),
            ("OIDC_ROLE", "essp-technician"),
            ("SCHOOL_ID", &school),
            ("DEVICE_SERIAL", &serial),
            ("INCIDENT_TITLE", TITLE),
        ],
    )
    .await;

    // The incident reported through the UI is the signed-in user's.
    let listed = get("/v1/incidents?q=Projector%20lamp&limit=10".into(), school.clone()).await;
    let reported: Vec<&Value> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["title"] == TITLE)
        .collect();
    assert_eq!(reported.len(), 1, "{listed}");
    assert_eq!(reported[0]["reportedBy"], USER, "{}", reported[0]);
    assert_screenshots(
        &shots,
        &[
            "30-sign-in",
            "32-signed-in-incidents",
            "33-session-ended",
            "34-access-denied",
        ],
    );
}

/// The screens the end-to-end run does not walk through, in a real
/// browser against a seeded server in development mode
/// (`web-admin/tests/screens.mjs`): cursor paging past the first page, a
/// resolved incident reopened with a reason and its SLA clock, a work
/// order's schedule, deliverables (evidence, approve, reject), a BOM part
/// released back to stock, rework history, bulk status and assignment, the
/// board's columns, a stock take raising and clearing a reorder alert, a
/// shop's staff, schools filtered by county and sub-county, devices, models
/// and parts, a project phase's checklist opening its gate, a survey room,
/// a bill-of-quantities line approved, and an edit's before/after in the
/// audit log. The script reads the API back after each action.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_screens_paging_workflow_and_projects() {
    require_browser_tools(&repo_root().join("web-admin/tests"));
    let db = TestDb::empty(Backend::Sqlite).await;
    seed(&db);
    let s = Server::start_on(db, &[]).await;
    let shots = run_browser_script("screens.mjs", "ui-screenshots-screens", &[("ESSP_URL", &s.base)]).await;
    assert_screenshots(
        &shots,
        &[
            "40-incidents-first-page",
            "41-incident-reopened",
            "42-audit-diff",
            "44-work-order-deliverables",
            "45-work-order-bom-released",
            "46-work-order-rework",
            "48-work-orders-board",
            "49-inventory-reorder-alert",
            "50-shop-staff",
            "51-ssot-schools-filtered",
            "53-project-phase-done",
            "54-project-survey",
            "55-project-boq",
        ],
    );
}

/// The sync screens in a real browser (`web-admin/tests/sync-edge.mjs`): an
/// edge's page carries its tenant and school in its settings, so the UI
/// shows that school, offers nothing to pick and sends both on every call;
/// an edge box with no link to central (no `NATS_URL`) says it is offline
/// and why, and "Sync now" shows the API's problem; an edge linked to a
/// real central through a private nats-server says it is in sync, and "Sync
/// now" shows the new state; central's fleet table lists that enrolled edge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_edge_sync_now_and_central_fleet() {
    const LONE_SCHOOL: &str = "school-2";
    require_browser_tools(&repo_root().join("web-admin/tests"));
    let nats = PrivateNats::start(&[]);
    let central = Server::start_with(Backend::Postgres, &[("NATS_URL", &nats.url())]).await;
    let edge_env = |school: &'static str| {
        vec![
            ("ESSP_MODE", "edge"),
            ("ESSP_TENANT_ID", TENANT),
            ("ESSP_SCHOOL_ID", school),
            ("ESSP_SYNC_CHECKPOINT_INTERVAL", "1s"),
            ("ESSP_EDGE_HOST_ID", "box-of-the-ui-test"),
        ]
    };
    let mut linked = edge_env(SCHOOL);
    let nats_url = nats.url();
    linked.push(("NATS_URL", &nats_url));
    let unlinked = edge_env(LONE_SCHOOL);
    let (edge, lone) = tokio::join!(
        Server::start_with(Backend::Sqlite, &linked),
        Server::start_with(Backend::Sqlite, &unlinked),
    );
    // The edge has enrolled and is in contact before the browser looks.
    let json = |s: &Server, path: &'static str| {
        let req = s.req(reqwest::Method::GET, path);
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    wait_until("the edge is in contact with central", async || {
        json(&edge, "/v1/sync/status").await["state"] == "ok"
    })
    .await;
    wait_until("central lists the edge", async || {
        json(&central, "/v1/sync/edges").await["items"][0]["schoolId"] == SCHOOL
    })
    .await;
    // An edge's page names the tenant and school it serves; central's none.
    for (s, mode, school) in [
        (&edge, "edge", Some(SCHOOL)),
        (&lone, "edge", Some(LONE_SCHOOL)),
        (&central, "central", None),
    ] {
        let settings = page_settings(&s.http.get(s.url("/")).send().await.unwrap().text().await.unwrap());
        assert_eq!(settings["mode"], mode, "{settings}");
        assert_eq!(settings["schoolId"], serde_json::json!(school), "{settings}");
        assert_eq!(
            settings["tenantId"],
            serde_json::json!(school.map(|_| TENANT)),
            "{settings}"
        );
    }

    let shots = run_browser_script(
        "sync-edge.mjs",
        "ui-screenshots-sync",
        &[
            ("ESSP_EDGE_URL", &edge.base),
            ("ESSP_LONE_EDGE_URL", &lone.base),
            ("ESSP_CENTRAL_URL", &central.base),
            ("ESSP_TENANT", TENANT),
            ("ESSP_SCHOOL", SCHOOL),
            ("ESSP_LONE_SCHOOL", LONE_SCHOOL),
        ],
    )
    .await;
    assert_screenshots(
        &shots,
        &[
            "60-edge-offline-sync-now-phone",
            "61-edge-in-sync-desktop",
            "62-central-fleet-desktop",
            "63-central-edge-detail-desktop",
        ],
    );
}
