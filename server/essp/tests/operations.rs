//! Operating the binary: health, readiness, metrics, request ids, graceful
//! shutdown, configuration checks and the embedded default.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{Read, Write};
use std::process::Stdio;

use common::{BIN, Backend, Server, TestDb, assert_problem};
use reqwest::Method;
use serde_json::{Value, json};

async fn health_and_readiness(backend: Backend) {
    let s = Server::start(backend).await;
    for path in ["/health", "/healthz"] {
        let r = s.http.get(s.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.json::<Value>().await.unwrap(), json!({"status": "ok"}));
    }
    let r = s.http.get(s.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["database"], "ok");
    for optional in ["redis", "nats", "minio"] {
        assert_eq!(body["checks"][optional], "disabled", "{optional}");
    }
}

async fn metrics_use_route_templates(backend: Backend) {
    let s = Server::start(backend).await;
    let created: Value = s
        .create_incident(json!({"deviceId": "d1", "title": "t"}))
        .await
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    s.req(Method::GET, &format!("/v1/incidents/{id}")).send().await.unwrap();
    s.req(Method::GET, "/v1/does-not-exist").send().await.unwrap();
    let text = s
        .http
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "http_requests_in_flight",
        "db_connections_active",
        "db_query_duration_seconds_bucket",
        "incidents_created_total 1",
    ] {
        assert!(text.contains(name), "missing {name} in:\n{text}");
    }
    assert!(
        text.contains(r#"http_requests_total{method="GET",path="/v1/incidents/{id}",status="200"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"http_requests_total{method="POST",path="/v1/incidents",status="201"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"path="unmatched""#), "{text}");
    assert!(!text.contains(id), "raw ids must never become labels");
}

async fn request_ids_are_echoed_or_minted(backend: Backend) {
    let s = Server::start(backend).await;
    let r = s
        .http
        .get(s.url("/health"))
        .header("X-Request-ID", "school-proxy-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "school-proxy-123");
    let r = s.http.get(s.url("/health")).send().await.unwrap();
    let minted = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(minted.len(), 26, "a ULID: {minted}");
    let r = s
        .http
        .get(s.url("/health"))
        .header("X-Request-ID", "x".repeat(300))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"].len(), 26, "oversized ids are replaced");
    // Problem responses carry it too.
    let r = s
        .req(Method::GET, "/v1/incidents?limit=abc")
        .header("X-Request-ID", "trace-me")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "trace-me");
    assert_problem(r, 400, "validation-failed").await;
}

/// SIGTERM: no new connections, the in-flight request still completes and
/// its write is kept, then the process exits 0.
async fn graceful_shutdown_finishes_in_flight(backend: Backend) {
    let mut s = Server::start(backend).await;
    let body = br#"{"deviceId":"dev_1","title":"Sent during shutdown"}"#;
    let mut conn = std::net::TcpStream::connect(s.addr).unwrap();
    let head = format!(
        "POST /v1/incidents HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Tenant-ID: {}\r\nX-School-ID: {}\r\nContent-Length: {}\r\n\r\n",
        common::TENANT,
        common::SCHOOL,
        body.len()
    );
    conn.write_all(head.as_bytes()).unwrap();
    conn.write_all(&body[..10]).unwrap();
    conn.flush().unwrap();
    // Wait until the server is inside this request: the in-flight gauge
    // counts it and the /metrics request itself.
    let mut in_flight = false;
    for _ in 0..250 {
        let text = s
            .http
            .get(s.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if text.lines().any(|l| l == "http_requests_in_flight 2") {
            in_flight = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(in_flight, "the slow request never reached the handler");

    s.terminate();
    s.wait_for_log("shutting down: no new connections, finishing in-flight requests");
    // The listener closes right after the signal is handled (a connection
    // that slips into the backlog before that is dropped unanswered).
    let refused = (0..250).any(|_| {
        let refused = std::net::TcpStream::connect(s.addr).is_err();
        if !refused {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        refused
    });
    assert!(refused, "new connections must be refused after SIGTERM");

    conn.write_all(&body[10..]).unwrap();
    let mut response = String::new();
    conn.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    assert!(s.wait_exit().success());

    // The write survived: read it straight from the database.
    let rows = s.db().db.fetch_all("SELECT title FROM incidents", &[]).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].text("title").unwrap(), "Sent during shutdown");
}

async fn dirty_schema_refuses_to_start(backend: Backend) {
    let db = TestDb::migrated(backend).await;
    db.db
        .execute("UPDATE schema_migrations SET dirty = $1", &[true.into()])
        .await
        .unwrap();
    let out = common::run_cli(&db, &["serve"], &[]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("dirty") && stderr.contains("essp migrate force"),
        "{stderr}"
    );
    // The operator's fix works.
    let latest = essp_store::migrate::MigrationSet::embedded(db.db.engine())
        .unwrap()
        .latest()
        .unwrap()
        .to_string();
    let fixed = common::run_cli(&db, &["migrate", "force", &latest], &[]);
    assert!(fixed.status.success(), "{}", String::from_utf8_lossy(&fixed.stderr));
    let version = common::run_cli(&db, &["migrate", "version"], &[]);
    assert_eq!(String::from_utf8_lossy(&version.stdout).trim(), latest);
}

async fn migrate_cli_round_trip_and_concurrency(backend: Backend) {
    let db = TestDb::empty(backend).await;
    let out = |args: &[&str]| {
        let o = common::run_cli(&db, args, &[]);
        assert!(
            o.status.success(),
            "essp {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).trim().to_owned()
    };
    assert_eq!(out(&["migrate", "version"]), "no migrations applied");
    // Two `migrate up` processes at once (two pods, or a pod and the Helm job).
    let spawn = || {
        let data = tempfile::tempdir().unwrap();
        let child = common::base_command(&db, data.path())
            .args(["migrate", "up"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        (child, data)
    };
    let (a, _da) = spawn();
    let (b, _db) = spawn();
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(
        a.status.success() && b.status.success(),
        "{} / {}",
        String::from_utf8_lossy(&a.stderr),
        String::from_utf8_lossy(&b.stderr)
    );
    let outputs = [
        String::from_utf8_lossy(&a.stdout).to_string(),
        String::from_utf8_lossy(&b.stdout).to_string(),
    ];
    assert_eq!(
        outputs.iter().filter(|o| o.contains("no change")).count(),
        1,
        "{outputs:?}"
    );
    let versions: Vec<String> = essp_store::migrate::MigrationSet::embedded(db.db.engine())
        .unwrap()
        .migrations()
        .iter()
        .map(|m| m.version.to_string())
        .collect();
    let (last, before_last) = (&versions[versions.len() - 1], &versions[versions.len() - 2]);
    assert_eq!(&out(&["migrate", "version"]), last);
    assert_eq!(out(&["migrate", "down", "1"]), format!("reverted {last}"));
    assert_eq!(&out(&["migrate", "version"]), before_last);
    assert_eq!(out(&["migrate", "goto", last]), format!("migrated through {last}"));
    let all_down: Vec<&str> = versions.iter().rev().map(String::as_str).collect();
    assert_eq!(
        out(&["migrate", "down", "--all"]),
        format!("reverted {}", all_down.join(", "))
    );
    assert_eq!(out(&["migrate", "up", "1"]), format!("applied {}", versions[0]));
    // Mistakes are CLI errors, not panics.
    for bad in [
        &["migrate", "down"][..],
        &["migrate", "goto", "99"],
        &["migrate", "force", "abc"],
    ] {
        let o = common::run_cli(&db, bad, &[]);
        assert!(!o.status.success(), "{bad:?}");
        assert!(!String::from_utf8_lossy(&o.stderr).contains("panicked"));
    }
}

on_both_engines!(
    health_and_readiness,
    metrics_use_route_templates,
    request_ids_are_echoed_or_minted,
    graceful_shutdown_finishes_in_flight,
    dirty_schema_refuses_to_start,
    migrate_cli_round_trip_and_concurrency,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_names_a_failing_required_dependency() {
    // Central mode: NATS is required; nothing listens on port 1.
    let s = Server::start_with(Backend::Sqlite, &[("NATS_URL", "nats://127.0.0.1:1")]).await;
    let r = s.http.get(s.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "not_ready");
    assert!(body["checks"]["nats"].as_str().unwrap().starts_with("failed"), "{body}");
    assert_eq!(body["checks"]["database"], "ok");
    drop(s);
    // An edge keeps serving its school offline: the link is only degraded.
    let s = Server::start_with(
        Backend::Sqlite,
        &[
            ("NATS_URL", "nats://127.0.0.1:1"),
            ("ESSP_MODE", "edge"),
            ("ESSP_TENANT_ID", "tenant-a"),
            ("ESSP_SCHOOL_ID", "school-1"),
        ],
    )
    .await;
    let r = s.http.get(s.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["checks"]["nats"].as_str().unwrap().starts_with("degraded"),
        "{body}"
    );
    // So is its sync with central; a central node has no such line.
    assert!(
        body["checks"]["sync"]
            .as_str()
            .unwrap()
            .starts_with("degraded: offline"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_when_postgres_goes_down_and_recovers() {
    let pg = essp_testkit::PrivatePostgres::start();
    let db = TestDb::postgres_on(&pg.url("postgres")).await;
    let s = Server::start_on(db, &[]).await;
    let ready = || async { s.http.get(s.url("/readyz")).send().await.unwrap() };
    assert_eq!(ready().await.status(), 200);
    pg.stop();
    let r = ready().await;
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["checks"]["database"].as_str().unwrap().starts_with("failed"),
        "{body}"
    );
    // A client request during the outage is a 503 problem, never a 500.
    let r = s.req(Method::GET, "/v1/incidents").send().await.unwrap();
    assert_problem(r, 503, "unavailable").await;
    pg.restart();
    let mut status = 0;
    for _ in 0..50 {
        status = ready().await.status().as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, 200, "ready again once Postgres is back");
}

#[tokio::test]
async fn embedded_default_runs_with_no_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(BIN)
        .env_clear()
        // Only the port is chosen, so parallel tests never collide on :8080.
        .env("HTTP_ADDR", "127.0.0.1:0")
        .current_dir(dir.path())
        .arg("serve")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    let listening: Value = lines
        .by_ref()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str::<Value>(&l).ok())
        .find(|v| v["message"] == "listening")
        .expect("listening line");
    assert_eq!(listening["engine"], "sqlite");
    assert!(dir.path().join("essp-data/essp.db").exists());
    assert!(dir.path().join("essp-data/attachments").is_dir());
    let addr = listening["addr"].as_str().unwrap();
    let body = reqwest::get(format!("http://{addr}/readyz"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("\"ready\""), "{body}");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn config_check_redacts_and_names_invalid_variables() {
    let run = |env: &[(&str, &str)]| {
        let mut cmd = std::process::Command::new(BIN);
        cmd.env_clear().args(["config", "check"]);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let ok = run(&[
        (
            "PG_DSN",
            "postgres://essp_admin:s3cr3t-pw@db:5432/ssp_ims?sslmode=require",
        ),
        ("MINIO_ENDPOINT", "minio:9000"),
        ("MINIO_ACCESS_KEY", "AKIAEXAMPLE"),
        ("MINIO_SECRET_KEY", "very-secret-key"),
    ]);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let text = String::from_utf8_lossy(&ok.stdout);
    assert!(
        text.contains("PG_DSN=postgres://essp_admin:***@db:5432/ssp_ims?sslmode=require"),
        "{text}"
    );
    assert!(text.contains("HTTP_ADDR=0.0.0.0:8080"), "{text}");
    for secret in ["s3cr3t-pw", "very-secret-key", "AKIAEXAMPLE"] {
        assert!(!text.contains(secret), "{secret} leaked:\n{text}");
    }
    for (var, value) in [
        ("RATE_LIMIT_READ_RPM", "abc"),
        ("HTTP_ADDR", "nonsense"),
        ("AUTH_ENABLED", "maybe"),
        ("SSOT_SYNC_INTERVAL", "soon"),
    ] {
        let bad = run(&[(var, value)]);
        assert!(!bad.status.success(), "{var}={value} accepted");
        let stderr = String::from_utf8_lossy(&bad.stderr);
        assert!(stderr.contains(var), "{var}: {stderr}");
    }
    // Production without auth is refused unless deliberately overridden.
    let prod = run(&[("APP_ENV", "production")]);
    assert!(!prod.status.success());
    assert!(String::from_utf8_lossy(&prod.stderr).contains("ESSP_ALLOW_INSECURE"));
    assert!(
        run(&[("APP_ENV", "production"), ("ESSP_ALLOW_INSECURE", "true")])
            .status
            .success()
    );
}

#[test]
fn version_prints_binary_and_schema() {
    let out = std::process::Command::new(BIN).arg("version").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with(&format!("essp {} (schema ", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_credentials_are_used() {
    let ready_nats = |s: &Server| {
        let req = s.http.get(s.url("/readyz"));
        async move {
            let body: Value = req.send().await.unwrap().json().await.unwrap();
            body["checks"]["nats"].as_str().unwrap().to_owned()
        }
    };
    let wait_connected = |s: &Server| {
        let s_url = s.url("/readyz");
        let http = s.http.clone();
        async move {
            for _ in 0..100 {
                let body: Value = http.get(&s_url).send().await.unwrap().json().await.unwrap();
                if body["checks"]["nats"] == "ok" {
                    return true;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            false
        }
    };
    let token_nats = essp_testkit::PrivateNats::start(&["--auth", "nats-s3cret-token"]);
    let s = Server::start_with(
        Backend::Sqlite,
        &[("NATS_URL", &token_nats.url()), ("NATS_TOKEN", "nats-s3cret-token")],
    )
    .await;
    assert!(wait_connected(&s).await, "token auth: {}", ready_nats(&s).await);
    drop(s);
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "nats-s3cret-token\n").unwrap();
    let s = Server::start_with(
        Backend::Sqlite,
        &[
            ("NATS_URL", &token_nats.url()),
            ("NATS_TOKEN_FILE", token_file.to_str().unwrap()),
        ],
    )
    .await;
    assert!(wait_connected(&s).await, "token from file: {}", ready_nats(&s).await);
    drop(s);
    let s = Server::start_with(
        Backend::Sqlite,
        &[("NATS_URL", &token_nats.url()), ("NATS_TOKEN", "wrong")],
    )
    .await;
    assert!(!wait_connected(&s).await);
    assert!(ready_nats(&s).await.starts_with("failed"));
    drop(s);

    let user_nats = essp_testkit::PrivateNats::start(&["--user", "edge-1", "--pass", "edge-pass"]);
    let s = Server::start_with(
        Backend::Sqlite,
        &[
            ("NATS_URL", &user_nats.url()),
            ("NATS_USER", "edge-1"),
            ("NATS_PASSWORD", "edge-pass"),
        ],
    )
    .await;
    assert!(wait_connected(&s).await, "user/password: {}", ready_nats(&s).await);
    // The password never shows up in config output or logs' config line.
    let out = std::process::Command::new(BIN)
        .env_clear()
        .env("NATS_URL", user_nats.url())
        .env("NATS_PASSWORD", "edge-pass")
        .args(["config", "check"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains("edge-pass"));
}

/// Runs `essp demo seed` on `db` and returns its summary (stdout).
fn demo_seed(db: &TestDb) -> String {
    let out = common::run_cli(
        db,
        &[
            "demo",
            "seed",
            "--schools",
            "4",
            "--devices-per-school",
            "30",
            "--incidents-per-school",
            "6",
            "--seed",
            "7",
        ],
        &[("LOG_LEVEL", "warn")],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// What a seeded school looks like from the API: its SSOT name and its
/// incidents' content (ids aside), sorted.
async fn demo_school(s: &Server, code: &str) -> (Value, Vec<Value>) {
    let get = |path: String, school: String| {
        s.http
            .get(s.url(&path))
            .header("X-Tenant-ID", "demo-tenant")
            .header("X-School-ID", school)
            .send()
    };
    let found: Value = get(format!("/v1/ssot/schools?q={code}"), "any".into())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let school = found["items"][0].clone();
    let id = school["id"].as_str().unwrap().to_owned();
    let incidents: Value = get("/v1/incidents?limit=200".into(), id.clone())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut content: Vec<Value> = incidents["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            json!([
                i["title"],
                i["severity"],
                i["status"],
                i["deviceSerial"],
                i["schoolName"],
                i["countyName"],
                i["subCountyName"],
                i["contactName"],
                i["deviceMake"],
                i["deviceModel"]
            ])
        })
        .collect();
    content.sort_by_key(Value::to_string);
    (json!([school["name"], school["code"], school["level"]]), content)
}

async fn demo_seed_fills_an_empty_tenant(backend: Backend) {
    let (db, twin) = (TestDb::empty(backend).await, TestDb::empty(backend).await);
    let summary = demo_seed(&db);
    assert!(summary.starts_with("seeded demo-tenant: 47 counties, "), "{summary}");
    assert!(summary.contains(" 4 schools, 120 devices, "), "{summary}");
    assert!(summary.contains(" 24 incidents, 24 work orders"), "{summary}");
    assert!(
        summary.contains("24 incidents (24 with SSOT names), 24 auto-routed"),
        "{summary}"
    );
    // The same seed into another database: the same data.
    assert_eq!(demo_seed(&twin), summary, "the same seed gives the same data");
    let again = common::run_cli(&db, &["demo", "seed"], &[]);
    assert!(!again.status.success(), "a second seed is refused");

    let s = Server::start_on(db, &[]).await;
    let get = |path: &str, school: &str| {
        s.http
            .get(s.url(path))
            .header("X-Tenant-ID", "demo-tenant")
            .header("X-School-ID", school)
            .send()
    };
    let json = |r: reqwest::Response| async move {
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.unwrap()
    };
    // The SSOT, by CSV import; and IMS's snapshots of it, by reconcile.
    let counties = json(get("/v1/counties?limit=200", "any").await.unwrap()).await;
    assert_eq!(counties["items"].as_array().unwrap().len(), 47);
    assert!(
        counties["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "Nairobi" && c["code"] == "047")
    );
    let models = json(get("/v1/device-models?limit=200", "any").await.unwrap()).await;
    assert_eq!(models["items"].as_array().unwrap().len(), 40);
    let schools = json(get("/v1/ssot/schools?limit=200", "any").await.unwrap()).await;
    assert_eq!(schools["total"], 4, "{schools}");
    let devices = json(get("/v1/ssot/devices?limit=1", "any").await.unwrap()).await;
    assert_eq!(devices["total"], 120, "{devices}");
    let parts = json(get("/v1/ssot/parts?limit=1", "any").await.unwrap()).await;
    assert!(parts["total"].as_i64().unwrap() >= 450, "{parts}");
    // Shops in every county, a second one in the populous counties.
    let shops = json(get("/v1/service-shops?limit=200", "any").await.unwrap()).await;
    let shops = shops["items"].as_array().unwrap();
    assert_eq!(shops.len(), 55);
    assert_eq!(shops.iter().filter(|s| s["coverageLevel"] == "sub_county").count(), 8);

    for school in schools["items"].as_array().unwrap() {
        let id = school["id"].as_str().unwrap();
        // Incidents carry the SSOT's names (enrichment from the snapshots).
        let incidents = json(get("/v1/incidents?limit=200", id).await.unwrap()).await;
        let incidents = incidents["items"].as_array().unwrap();
        assert_eq!(incidents.len(), 6);
        for i in incidents {
            assert_eq!(i["schoolName"], school["name"], "{i}");
            assert!(!i["countyName"].as_str().unwrap().is_empty(), "{i}");
            assert!(!i["deviceSerial"].as_str().unwrap().is_empty(), "{i}");
            assert!(!i["contactName"].as_str().unwrap().is_empty(), "{i}");
        }
        // Each was auto-routed to a shop, assigned to its lead technician.
        let wos = json(get("/v1/work-orders?limit=200", id).await.unwrap()).await;
        let wos = wos["items"].as_array().unwrap();
        assert_eq!(wos.len(), 6);
        for wo in wos {
            assert_eq!(wo["taskType"], "triage", "{wo}");
            assert!(!wo["serviceShopId"].as_str().unwrap().is_empty(), "{wo}");
            assert!(!wo["assignedStaffId"].as_str().unwrap().is_empty(), "{wo}");
        }
        // An approved work order resolved its incident.
        for wo in wos.iter().filter(|w| w["status"] == "approved") {
            let inc = incidents.iter().find(|i| i["id"] == wo["incidentId"]).unwrap();
            assert!(matches!(inc["status"].as_str(), Some("resolved" | "closed")), "{inc}");
        }
    }
    let audit = json(get("/v1/audit-logs?action=auto_route&limit=200", "any").await.unwrap()).await;
    assert_eq!(audit["items"].as_array().unwrap().len(), 24);
    let verify = json(get("/v1/audit-logs/verify", "any").await.unwrap()).await;
    assert_eq!(
        (verify["valid"].as_bool(), verify["unsealed"].as_i64()),
        (Some(true), Some(0)),
        "{verify}"
    );

    // Same content (ids aside) in the twin database.
    let t = Server::start_on(twin, &[]).await;
    for code in ["SCH-00001", "SCH-00004"] {
        let (a, b) = (demo_school(&s, code).await, demo_school(&t, code).await);
        assert_eq!(a.1.len(), 6);
        assert_eq!(a, b, "{code}");
    }
}

on_both_engines!(demo_seed_fills_an_empty_tenant);

/// `tls://` NATS URLs use TLS, trusting `NATS_CA_FILE` for a private CA.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_tls_when_the_url_asks_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let p = |f: &str| dir.path().join(f).display().to_string();
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl").args(args).output().unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=essp test CA",
        "-keyout",
        &p("ca.key"),
        "-out",
        &p("ca.pem"),
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        &p("server.key"),
        "-out",
        &p("server.csr"),
    ]);
    std::fs::write(dir.path().join("ext.cnf"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        &p("server.csr"),
        "-CA",
        &p("ca.pem"),
        "-CAkey",
        &p("ca.key"),
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        &p("ext.cnf"),
        "-out",
        &p("server.pem"),
    ]);
    let nats =
        essp_testkit::PrivateNats::start(&["--tls", "--tlscert", &p("server.pem"), "--tlskey", &p("server.key")]);
    let tls_url = nats.url().replace("nats://", "tls://");
    let nats_check = |s: &Server| {
        let (http, url) = (s.http.clone(), s.url("/readyz"));
        async move {
            for _ in 0..60 {
                let body: Value = http.get(&url).send().await.unwrap().json().await.unwrap();
                if body["checks"]["nats"] == "ok" {
                    return "ok".to_owned();
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            let body: Value = http.get(&url).send().await.unwrap().json().await.unwrap();
            body["checks"]["nats"].as_str().unwrap().to_owned()
        }
    };
    let ca = p("ca.pem");
    let s = Server::start_with(Backend::Sqlite, &[("NATS_URL", &tls_url), ("NATS_CA_FILE", &ca)]).await;
    assert_eq!(nats_check(&s).await, "ok", "TLS with the private CA");
    drop(s);
    // Without trusting the CA the connection is refused, never downgraded.
    let s = Server::start_with(Backend::Sqlite, &[("NATS_URL", &tls_url)]).await;
    assert!(nats_check(&s).await.starts_with("failed"));
}
