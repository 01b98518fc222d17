//! The embedded admin UI (`web-admin/`): how the binary serves it (cache
//! headers, Content-Security-Policy, versioned assets, the settings in the
//! page, `/v1/me`), and an end-to-end run in a real browser (Debian
//! `chromium` driven by npm `playwright-core`, with axe-core) against two
//! seeded servers: a technician's whole repair on a phone in development
//! mode, and a viewer (auth enabled, pasted token) who sees no write action.
//!
//! The browser test fails, never skips, when chromium or the npm packages
//! are missing: `.ci/run` installs them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Backend, Server, TestDb, run_cli};
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_end_to_end() {
    let root = repo_root();
    let tests = root.join("web-admin/tests");
    require_browser_tools(&tests);

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

    let shots = root.join("target/ui-screenshots");
    let _ = std::fs::remove_dir_all(&shots);
    let (dev_url, auth_url, dir, out_dir) = (dev.base.clone(), auth.base.clone(), tests.clone(), shots.clone());
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("e2e.mjs")
            .current_dir(dir)
            .env("ESSP_DEV_URL", dev_url)
            .env("ESSP_AUTH_URL", auth_url)
            .env("ESSP_VIEWER_TOKEN", viewer)
            .env("SCREENSHOT_DIR", out_dir)
            .output()
            .expect("run node")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the browser test failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    println!("{stdout}");
    for name in [
        "01-overview-phone",
        "04-incident-detail-phone",
        "06-work-order-bom-phone",
        "09-incident-resolved-desktop",
        "22-viewer-work-order-phone",
    ] {
        assert!(
            shots.join(format!("{name}.png")).exists(),
            "screenshot {name} saved in {}",
            shots.display()
        );
    }
}
