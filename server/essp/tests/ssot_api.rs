//! The SSOT services' API and IMS's snapshot view of it, on both engines,
//! through the real binary (role `all`: SSOT and IMS in one process, the
//! outbox delivered locally without NATS).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Backend, Server, TENANT, assert_problem, call, expect, run_cli};
use reqwest::Method;
use serde_json::{Value, json};

/// Creates a county, a sub-county and a school; returns their ids.
async fn school_fixture(s: &Server) -> (String, String, String) {
    let county = expect(
        s,
        Method::POST,
        "/v1/counties",
        Some(json!({"name": "Nairobi", "code": "047"})),
        201,
    )
    .await;
    let sub = expect(
        s,
        Method::POST,
        "/v1/sub-counties",
        Some(json!({"countyId": county["id"], "name": "Westlands", "code": "047-01"})),
        201,
    )
    .await;
    let school = expect(
        s,
        Method::POST,
        "/v1/schools",
        Some(json!({
            "name": "Moi Avenue Primary", "code": "MAP-001", "countyId": county["id"],
            "subCountyId": sub["id"], "level": "primary", "sex": "mixed", "knecCode": "20400001",
            "latitude": -1.28, "longitude": 36.82
        })),
        201,
    )
    .await;
    let id = |v: &Value| v["id"].as_str().unwrap().to_owned();
    (id(&county), id(&sub), id(&school))
}

/// Polls until `path` answers `want` (snapshots follow SSOT writes asynchronously).
async fn eventually(s: &Server, path: &str, want: u16) -> Value {
    eventually_that(s, path, want, |_| true).await
}

/// Polls until `path` answers `want` with a body `ok` accepts; returns it.
async fn eventually_that(s: &Server, path: &str, want: u16, ok: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    common::wait_until(path, async || {
        let r = call(s, Method::GET, path, None).await;
        let status = r.status().as_u16();
        last = r.json().await.unwrap_or(Value::Null);
        status == want && ok(&last)
    })
    .await;
    last
}

async fn crud_feed_and_tombstones(backend: Backend) {
    let s = Server::start(backend).await;
    let (county, _sub, school) = school_fixture(&s).await;

    let got = call(&s, Method::GET, &format!("/v1/schools/{school}"), None).await;
    assert_eq!(got.status(), 200);
    let etag = got.headers()["etag"].to_str().unwrap().to_owned();
    let body: Value = got.json().await.unwrap();
    assert_eq!(body["name"], "Moi Avenue Primary");
    assert_eq!(body["type"], "public", "default applied");
    assert_eq!(body["active"], true);
    assert_eq!(body["tenantId"], TENANT);

    // Partial update with If-Match; a stale ETag is refused.
    let r = s
        .req(Method::PATCH, &format!("/v1/schools/{school}"))
        .header("If-Match", &etag)
        .json(&json!({"accommodation": "boarding"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let updated: Value = r.json().await.unwrap();
    assert_eq!(updated["accommodation"], "boarding");
    assert_eq!(updated["name"], "Moi Avenue Primary");
    assert!(updated["revision"].as_i64() > body["revision"].as_i64());
    let stale = s
        .req(Method::PATCH, &format!("/v1/schools/{school}"))
        .header("If-Match", &etag)
        .json(&json!({"cluster": "A"}))
        .send()
        .await
        .unwrap();
    assert_problem(stale, 412, "version-mismatch").await;

    // The change feed pages in revision order with a cursor.
    for i in 0..5 {
        expect(
            &s,
            Method::POST,
            "/v1/schools",
            Some(json!({"name": format!("School {i}"), "countyId": county})),
            201,
        )
        .await;
    }
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = expect(
            &s,
            Method::GET,
            &format!("/v1/schools?limit=2&cursor={cursor}"),
            None,
            200,
        )
        .await;
        for item in page["items"].as_array().unwrap() {
            seen.push(item["revision"].as_i64().unwrap());
        }
        cursor = page["nextCursor"].as_str().unwrap().to_owned();
        if cursor.is_empty() {
            break;
        }
    }
    assert_eq!(seen.len(), 6);
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");

    // A county with schools cannot go; a school can, as a tombstone.
    let r = call(&s, Method::DELETE, &format!("/v1/counties/{county}"), None).await;
    let p = assert_problem(r, 409, "in-use").await;
    assert!(p["detail"].as_str().unwrap().contains("still refer"), "{p}");
    expect(&s, Method::DELETE, &format!("/v1/schools/{school}"), None, 204).await;
    let r = call(&s, Method::GET, &format!("/v1/schools/{school}"), None).await;
    assert_problem(r, 404, "not-found").await;
    let live = expect(&s, Method::GET, "/v1/schools?limit=100", None, 200).await;
    assert!(live["items"].as_array().unwrap().iter().all(|i| i["id"] != school));
    let all = expect(&s, Method::GET, "/v1/schools?limit=100&includeDeleted=true", None, 200).await;
    let tomb = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == school)
        .unwrap()
        .clone();
    assert_eq!(tomb["deleted"], true);
    assert!(
        tomb["revision"].as_i64() > updated["revision"].as_i64(),
        "the delete is the newest change"
    );

    // Another tenant sees none of it.
    let other = s
        .http
        .get(s.url("/v1/schools"))
        .header("X-Tenant-ID", "tenant-b")
        .send()
        .await
        .unwrap();
    let other: Value = other.json().await.unwrap();
    assert_eq!(other["items"].as_array().unwrap().len(), 0);
}

async fn bad_input_changes_nothing(backend: Backend) {
    let s = Server::start(backend).await;
    let (county, _, _) = school_fixture(&s).await;
    let before = expect(&s, Method::GET, "/v1/schools?includeDeleted=true", None, 200).await;

    let cases: Vec<(&str, Value, u16, &str)> = vec![
        (
            "/v1/schools",
            json!({"name": "X", "countyId": county, "colour": "red"}),
            400,
            "validation-failed",
        ),
        ("/v1/schools", json!({"countyId": county}), 400, "validation-failed"),
        (
            "/v1/schools",
            json!({"name": "X", "countyId": county, "sex": "other"}),
            400,
            "validation-failed",
        ),
        (
            "/v1/schools",
            json!({"name": "X", "countyId": county, "latitude": 123}),
            400,
            "validation-failed",
        ),
        (
            "/v1/schools",
            json!({"name": "X", "countyId": "county_01J0000000000000000000000A"}),
            422,
            "invalid-reference",
        ),
        (
            "/v1/schools",
            json!({"name": "X", "countyId": "nairobi"}),
            400,
            "validation-failed",
        ),
        (
            "/v1/schools",
            json!({"id": "school_01J0000000000000000000000A", "name": "X", "countyId": county}),
            400,
            "validation-failed",
        ),
        (
            "/v1/schools",
            json!({"name": "X", "countyId": county, "code": "MAP-001"}),
            409,
            "duplicate",
        ),
        (
            "/v1/counties",
            json!({"name": "Again", "code": "047"}),
            409,
            "duplicate",
        ),
        ("/v1/schools", json!(["not", "an", "object"]), 400, "invalid-body"),
    ];
    for (path, body, status, code) in cases {
        let r = call(&s, Method::POST, path, Some(body.clone())).await;
        let p = assert_problem(r, status, code).await;
        if status == 400 && code == "validation-failed" {
            assert!(p["errors"].as_array().is_some_and(|e| !e.is_empty()), "{body}: {p}");
        }
    }
    for path in [
        "/v1/schools?cursor=abc",
        "/v1/schools?limit=0",
        "/v1/schools?updatedSince=yesterday",
        "/v1/schools?colour=red",
    ] {
        let r = call(&s, Method::GET, path, None).await;
        assert_problem(r, 400, "validation-failed").await;
    }
    let r = call(&s, Method::GET, "/v1/schools/not-an-id", None).await;
    assert_problem(r, 400, "invalid-id").await;
    let r = call(&s, Method::GET, "/v1/lookup/colour/red", None).await;
    assert_problem(r, 400, "unknown-lookup").await;

    let after = expect(&s, Method::GET, "/v1/schools?includeDeleted=true", None, 200).await;
    assert_eq!(before["items"], after["items"], "nothing changed");
}

async fn devices_macs_and_lookups(backend: Backend) {
    let s = Server::start(backend).await;
    let model = expect(
        &s,
        Method::POST,
        "/v1/device-models",
        Some(json!({"make": "Lenovo", "model": "100e", "category": "laptop"})),
        201,
    )
    .await;
    let mk = |serial: &str| json!({"serial": serial, "assetTag": format!("AT-{serial}"), "deviceModelId": model["id"], "lifecycle": "deployed"});
    let d1 = expect(&s, Method::POST, "/v1/devices", Some(mk("SN-1")), 201).await;
    let d2 = expect(&s, Method::POST, "/v1/devices", Some(mk("SN-2")), 201).await;
    let r = call(&s, Method::POST, "/v1/devices", Some(mk("SN-1"))).await;
    assert_problem(r, 409, "duplicate").await;

    let found = expect(&s, Method::GET, "/v1/lookup/serial/SN-2", None, 200).await;
    assert_eq!(found["id"], d2["id"]);
    let found = expect(&s, Method::GET, "/v1/lookup/asset-tag/AT-SN-1", None, 200).await;
    assert_eq!(found["id"], d1["id"]);

    // MACs are normalised and unique; moving one needs an explicit re-home.
    let nets = |d: &Value| format!("/v1/devices/{}/network-identities", d["id"].as_str().unwrap());
    let mac = expect(
        &s,
        Method::POST,
        &nets(&d1),
        Some(json!({"macAddress": "AA-BB-CC-00-11-22", "interfaceType": "wifi", "isPrimary": true})),
        201,
    )
    .await;
    assert_eq!(mac["macAddress"], "aa:bb:cc:00:11:22");
    let r = call(&s, Method::POST, &nets(&d1), Some(json!({"macAddress": "zz"}))).await;
    assert_problem(r, 400, "validation-failed").await;
    let r = call(
        &s,
        Method::POST,
        &nets(&d2),
        Some(json!({"macAddress": "aabb.cc00.1122"})),
    )
    .await;
    assert_problem(r, 409, "mac-in-use").await;
    let moved = json!({"macAddress": "aabb.cc00.1122", "rehome": "yes"});
    assert_problem(
        call(&s, Method::POST, &nets(&d2), Some(moved)).await,
        400,
        "validation-failed",
    )
    .await;
    let looked = expect(&s, Method::GET, "/v1/lookup/mac/AA:BB:CC:00:11:22", None, 200).await;
    assert_eq!(looked["device"]["id"], d1["id"]);
    let moved = expect(
        &s,
        Method::POST,
        &nets(&d2),
        Some(json!({"macAddress": "aabb.cc00.1122", "rehome": true})),
        200,
    )
    .await;
    assert_eq!(moved["id"], mac["id"], "same identity, new device");
    let looked = expect(&s, Method::GET, "/v1/lookup/mac/aa:bb:cc:00:11:22", None, 200).await;
    assert_eq!(looked["device"]["id"], d2["id"]);
    assert_eq!(
        expect(&s, Method::GET, &nets(&d1), None, 200).await["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );

    // IMS's snapshot view follows: lookups by serial, then the delete.
    let snap = eventually(&s, "/v1/ssot/device/serial/SN-1", 200).await;
    assert_eq!(snap["deviceModelName"], "Lenovo 100e");
    let list = eventually_that(&s, "/v1/ssot/devices?status=deployed", 200, |l| l["total"] == 2).await;
    assert_eq!(list["total"], 2);
    let stats = expect(&s, Method::GET, "/v1/ssot/devices/stats", None, 200).await;
    assert_eq!(stats, json!({"total": 2, "byLifecycle": {"deployed": 2}}));
    let r = call(&s, Method::GET, "/v1/ssot/devices/stats?colour=red", None).await;
    assert_problem(r, 400, "invalid-query").await;
    let makes = expect(&s, Method::GET, "/v1/ssot/device-models/makes", None, 200).await;
    assert_eq!(makes["items"], json!(["Lenovo"]));
    expect(
        &s,
        Method::DELETE,
        &format!("/v1/devices/{}", d1["id"].as_str().unwrap()),
        None,
        204,
    )
    .await;
    eventually(&s, "/v1/ssot/device/serial/SN-1", 404).await;
    let status = expect(&s, Method::GET, "/v1/ssot/status", None, 200).await;
    assert_eq!(status["resources"]["devices"]["count"], 1);
}

async fn json_import_export_is_tenant_safe(backend: Backend) {
    let s = Server::start(backend).await;
    let doc = json!({
        "parts": [
            {"puk": "PUK-SCR-14", "name": "14\" screen", "category": "screen", "unitCostCents": 450000},
            {"puk": "PUK-KB-1", "name": "Keyboard", "category": "keyboard"}
        ]
    });
    let r = expect(&s, Method::POST, "/v1/import/parts", Some(doc.clone()), 200).await;
    assert_eq!(r["imported"]["parts"]["created"], 2);
    // The same document again changes nothing.
    let r = expect(&s, Method::POST, "/v1/import/parts", Some(doc), 200).await;
    assert_eq!(r["imported"]["parts"]["unchanged"], 2);

    let export = expect(&s, Method::GET, "/v1/export/parts", None, 200).await;
    assert_eq!(export["version"], "1");
    let parts = export["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 2);
    let screen = parts.iter().find(|p| p["puk"] == "PUK-SCR-14").unwrap();

    // Tenant B re-using tenant A's id: refused, A's row untouched.
    let hostile = json!({"parts": [{"id": screen["id"], "puk": "EVIL", "name": "Overwritten"}]});
    let r = s
        .http
        .post(s.url("/v1/import/parts"))
        .header("X-Tenant-ID", "tenant-b")
        .json(&hostile)
        .send()
        .await
        .unwrap();
    let p = assert_problem(r, 422, "import-rejected").await;
    assert_eq!(p["errors"][0]["field"], "parts[0].id");
    let still = expect(
        &s,
        Method::GET,
        &format!("/v1/parts/{}", screen["id"].as_str().unwrap()),
        None,
        200,
    )
    .await;
    assert_eq!(still["name"], "14\" screen");

    // One bad row rejects the whole import and names it.
    let r = call(
        &s,
        Method::POST,
        "/v1/import/parts",
        Some(json!({"parts": [{"puk": "OK", "name": "Fine"}, {"puk": "BAD", "name": "x", "category": "lasers"}]})),
    )
    .await;
    let p = assert_problem(r, 400, "validation-failed").await;
    assert_eq!(p["errors"][0]["field"], "parts[1].category");
    let r = call(&s, Method::POST, "/v1/import/parts", Some(json!({}))).await;
    assert_problem(r, 400, "empty-import").await;
    assert_eq!(
        expect(&s, Method::GET, "/v1/parts", None, 200).await["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

async fn csv_import_reports_lines_and_is_idempotent(backend: Backend) {
    let s = Server::start(backend).await;
    let (_, _, _) = school_fixture(&s).await;
    let csv = "name,code,countyCode,subCountyCode,level,sex,boarding\n";
    let r = s
        .req(Method::POST, "/v1/import/csv/schools")
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    let p = assert_problem(r, 400, "invalid-csv-header").await;
    assert!(p["detail"].as_str().unwrap().contains("boarding"), "{p}");

    let mut csv = String::from("name,code,countyCode,subCountyCode,level,sex,latitude\n");
    for i in 0..1200 {
        csv.push_str(&format!("School {i},S-{i:04},047,047-01,secondary,girls,-1.{i}\n"));
    }
    // Line 1202 names a county that does not exist, line 1203 a bad level.
    let bad = format!("{csv}Lost,S-LOST,999,,primary,,\nOdd,S-ODD,047,,university,,\n");
    let form = |text: String| {
        reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::text(text).file_name("schools.csv"))
    };
    let r = s
        .req(Method::POST, "/v1/import/csv/schools")
        .multipart(form(bad))
        .send()
        .await
        .unwrap();
    let report = assert_problem(r, 422, "import-rejected").await;
    assert_eq!(report["errorCount"], 2, "{report}");
    assert_eq!(report["errors"][0]["line"], 1202);
    assert_eq!(report["errors"][0]["field"], "countyId");
    assert_eq!(report["errors"][1]["line"], 1203);
    assert_eq!(report["errors"][1]["field"], "level");
    assert_eq!(
        expect(&s, Method::GET, "/v1/schools?limit=1000", None, 200).await["items"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "nothing written"
    );

    // Dry run: a full report, nothing written.
    let r = s
        .req(Method::POST, "/v1/import/csv/schools?dryRun=true")
        .multipart(form(csv.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let report: Value = r.json().await.unwrap();
    assert_eq!(
        (report["created"].as_u64(), report["committed"].as_bool()),
        (Some(1200), Some(false))
    );
    assert_eq!(
        expect(&s, Method::GET, "/v1/schools?limit=1000", None, 200).await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // For real, then again: the second run changes nothing.
    let r = s
        .req(Method::POST, "/v1/import/csv/schools")
        .header("content-type", "text/csv")
        .body(csv.clone())
        .send()
        .await
        .unwrap();
    let report: Value = r.json().await.unwrap();
    assert_eq!(
        (report["created"].as_u64(), report["committed"].as_bool()),
        (Some(1200), Some(true)),
        "{report}"
    );
    let r = s
        .req(Method::POST, "/v1/import/csv/schools")
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    let report: Value = r.json().await.unwrap();
    assert_eq!(
        (report["created"].as_u64(), report["unchanged"].as_u64()),
        (Some(0), Some(1200)),
        "{report}"
    );

    // Bad cells and ragged rows are reported by line and field; bad requests are refused.
    let csv_post = |path: &str, content_type: &str, body: &str| {
        s.req(Method::POST, path)
            .header("content-type", content_type)
            .body(body.to_owned())
            .send()
    };
    let bad = "name,countyCode,active,latitude\nA,047,maybe,\nB,047,true\nC,047,true,north\n";
    let r = csv_post("/v1/import/csv/schools", "text/csv", bad).await.unwrap();
    let report = assert_problem(r, 422, "import-rejected").await;
    let errors: Vec<(u64, &str)> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["line"].as_u64().unwrap(), e["field"].as_str().unwrap()))
        .collect();
    assert_eq!(errors, [(2, "active"), (3, "row"), (4, "latitude")], "{report}");
    assert!(
        report["errors"][1]["message"]
            .as_str()
            .unwrap()
            .starts_with("is not valid CSV")
    );
    let r = csv_post("/v1/import/csv/gadgets", "text/csv", "a\n").await.unwrap();
    assert_problem(r, 400, "unknown-kind").await;
    let r = csv_post("/v1/import/csv/schools", "application/json", "{}")
        .await
        .unwrap();
    assert_problem(r, 415, "unsupported-media-type").await;
    let r = csv_post("/v1/import/csv/schools?dryRun=perhaps", "text/csv", "name\n")
        .await
        .unwrap();
    assert_problem(r, 400, "invalid-query").await;
    let no_file = reqwest::multipart::Form::new().text("other", "x");
    let r = s
        .req(Method::POST, "/v1/import/csv/schools")
        .multipart(no_file)
        .send()
        .await
        .unwrap();
    assert_problem(r, 400, "validation-failed").await;

    // The export streams page by page and is one valid document.
    let export = expect(&s, Method::GET, "/v1/export/school", None, 200).await;
    assert_eq!(export["schools"].as_array().unwrap().len(), 1201);
    assert_eq!(export["counties"][0]["code"], "047");
    let ids: std::collections::HashSet<&str> = export["schools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 1201, "every school once");

    // IMS browse by county code, with county names resolved.
    let page = eventually_that(
        &s,
        "/v1/ssot/schools?countyCode=047&q=School%2011&limit=200",
        200,
        |p| p["total"].as_i64() >= Some(11),
    )
    .await;
    assert!(page["total"].as_i64().unwrap() >= 11, "{page}");
    assert_eq!(page["items"][0]["countyName"], "Nairobi");
    assert_eq!(page["items"][0]["subCountyName"], "Westlands");
    let subs = expect(
        &s,
        Method::GET,
        "/v1/ssot/schools/sub-counties?countyCode=047",
        None,
        200,
    )
    .await;
    assert_eq!(subs["items"][0]["code"], "047-01");
    let synced = expect(&s, Method::POST, "/v1/ssot/sync/schools", None, 200).await;
    assert_eq!(synced["ok"], true);
    let r = call(&s, Method::POST, "/v1/ssot/sync/people", None).await;
    assert_problem(r, 400, "unknown-resource").await;
}

async fn cli_imports_devices(backend: Backend) {
    let s = Server::start(backend).await;
    expect(
        &s,
        Method::POST,
        "/v1/device-models",
        Some(json!({"make": "HP", "model": "Stream 11"})),
        201,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("devices.csv");
    std::fs::write(&file, "serial,assetTag,make,model,lifecycle,enrolled\nHP-1,A-1,HP,Stream 11,deployed,yes\nHP-2,A-2,HP,Stream 11,in_stock,no\n").unwrap();
    let path = file.to_str().unwrap();
    let dry = run_cli(
        s.db(),
        &["import", "devices", path, "--tenant", TENANT, "--dry-run"],
        &[],
    );
    assert!(dry.status.success(), "{}", String::from_utf8_lossy(&dry.stderr));
    let report: Value = serde_json::from_slice(&dry.stdout).unwrap();
    assert_eq!(
        (report["created"].as_u64(), report["committed"].as_bool()),
        (Some(2), Some(false))
    );
    let out = run_cli(s.db(), &["import", "devices", path, "--tenant", TENANT], &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let dev = expect(&s, Method::GET, "/v1/lookup/serial/HP-2", None, 200).await;
    assert_eq!(
        (dev["lifecycle"].as_str(), dev["enrolled"].as_bool()),
        (Some("in_stock"), Some(false))
    );

    std::fs::write(&file, "serial,make,model\nHP-3,Dell,Nope\n").unwrap();
    let out = run_cli(s.db(), &["import", "devices", path, "--tenant", TENANT], &[]);
    assert!(!out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["errors"][0]["line"], 2);
    // A spreadsheet export: byte-order mark, semicolons, CRLF.
    std::fs::write(
        &file,
        "\u{feff}serial;make;model;lifecycle\r\nHP-4;HP;Stream 11;deployed\r\n",
    )
    .unwrap();
    let out = run_cli(s.db(), &["import", "devices", path, "--tenant", TENANT], &[]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (report["created"].as_u64(), report["errorCount"].as_u64()),
        (Some(1), Some(0)),
        "{report}"
    );
    expect(&s, Method::GET, "/v1/lookup/serial/HP-4", None, 200).await;
    let out = run_cli(s.db(), &["import", "gadgets", path, "--tenant", TENANT], &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an SSOT kind"));
}

/// Imports count against the stricter bulk tier (a tenth of the write
/// budget, burst 2); ordinary writes keep their own budget.
async fn imports_use_the_bulk_rate_tier(backend: Backend) {
    let s = Server::start_with(
        backend,
        &[
            ("RATE_LIMIT_ENABLED", "true"),
            ("RATE_LIMIT_WRITE_RPM", "100"),
            ("RATE_LIMIT_BURST", "20"),
        ],
    )
    .await;
    let doc = json!({"parts": [{"puk": "P-1", "name": "Keyboard"}]});
    for _ in 0..2 {
        expect(&s, Method::POST, "/v1/import/parts", Some(doc.clone()), 200).await;
    }
    let limited = call(&s, Method::POST, "/v1/import/parts", Some(doc)).await;
    assert_problem(limited, 429, "rate-limited").await;
    let csv = s
        .req(Method::POST, "/v1/import/csv/parts")
        .header("content-type", "text/csv")
        .body("puk,name\nP-2,Mouse\n")
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 429, "the CSV import shares the bulk budget");
    expect(
        &s,
        Method::POST,
        "/v1/parts",
        Some(json!({"puk": "P-3", "name": "Screen"})),
        201,
    )
    .await;
}

/// A JSON document field (a model's `specJson`) is answered as the
/// document, accepted as a document (or its text, or null/"" for none),
/// and refused when it is not an object or array; CSV cells carry its text.
async fn json_documents_are_structured(backend: Backend) {
    let s = Server::start(backend).await;
    let create = |model: &str, spec: Value| json!({"make": "Lenovo", "model": model, "specJson": spec});
    let a = expect(
        &s,
        Method::POST,
        "/v1/device-models",
        Some(create("A", json!({"ramGb": 8}))),
        201,
    )
    .await;
    assert_eq!(a["specJson"], json!({"ramGb": 8}));
    let b = expect(
        &s,
        Method::POST,
        "/v1/device-models",
        Some(create("B", json!("[1, 2]"))),
        201,
    )
    .await;
    assert_eq!(b["specJson"], json!([1, 2]));
    for none in [Value::Null, json!(""), json!("  ")] {
        let c = expect(&s, Method::POST, "/v1/device-models", Some(create("C", none)), 201).await;
        assert_eq!(c["specJson"], Value::Null);
        let path = format!("/v1/device-models/{}", c["id"].as_str().unwrap());
        expect(&s, Method::DELETE, &path, None, 204).await;
    }
    for bad in [json!("0"), json!("\"x\""), json!("{not json"), json!(7), json!(true)] {
        let r = call(&s, Method::POST, "/v1/device-models", Some(create("D", bad.clone()))).await;
        let p = assert_problem(r, 400, "validation-failed").await;
        assert_eq!(p["errors"][0]["field"], "specJson", "{bad}: {p}");
    }

    // A row read back can be written back as it is.
    let path = format!("/v1/device-models/{}", a["id"].as_str().unwrap());
    let read = expect(&s, Method::GET, &path, None, 200).await;
    let r = s
        .req(Method::PATCH, &path)
        .header("if-match", format!("\"{}\"", read["revision"]))
        .json(&read)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["specJson"], json!({"ramGb": 8}));

    let csv = "make,model,specJson\nDell,3190,\"{\"\"ramGb\"\": 4}\"\nDell,3100,\n";
    let r = s
        .req(Method::POST, "/v1/import/csv/device_models")
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let list = expect(&s, Method::GET, "/v1/device-models?make=Dell", None, 200).await;
    let mut specs: Vec<(String, Value)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["model"].as_str().unwrap().to_owned(), m["specJson"].clone()))
        .collect();
    specs.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(
        specs,
        vec![("3100".into(), Value::Null), ("3190".into(), json!({"ramGb": 4}))]
    );
    let r = s
        .req(Method::POST, "/v1/import/csv/device_models")
        .header("content-type", "text/csv")
        .body("make,model,specJson\nDell,3200,plain words\n")
        .send()
        .await
        .unwrap();
    let report = assert_problem(r, 422, "import-rejected").await;
    assert_eq!(report["errors"][0]["field"], "specJson", "{report}");
}

on_both_engines!(
    imports_use_the_bulk_rate_tier,
    crud_feed_and_tombstones,
    bad_input_changes_nothing,
    devices_macs_and_lookups,
    json_import_export_is_tenant_safe,
    csv_import_reports_lines_and_is_idempotent,
    cli_imports_devices,
    json_documents_are_structured,
);
