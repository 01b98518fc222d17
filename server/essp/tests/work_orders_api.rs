//! `/v1/work-orders` through the real binary, on both engines.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Backend, Server, assert_problem};
use reqwest::Method;
use serde_json::{Value, json};

async fn send(s: &Server, method: Method, path: &str, body: Option<Value>) -> reqwest::Response {
    let mut r = s.req(method, path);
    if let Some(b) = body {
        r = r.json(&b);
    }
    r.send().await.unwrap()
}

async fn ok(s: &Server, method: Method, path: &str, body: Option<Value>) -> Value {
    let resp = send(s, method, path, body).await;
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert!(status.is_success(), "{status}: {text}");
    serde_json::from_str(&text).unwrap()
}

async fn new_wo(s: &Server, body: Value) -> Value {
    let r = send(s, Method::POST, "/v1/work-orders", Some(body)).await;
    assert_eq!(r.status(), 201);
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/v1/work-orders/wo_")
    );
    r.json().await.unwrap()
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

async fn lifecycle_and_incident_coupling(backend: Backend) {
    let s = Server::start(backend).await;
    let inc = s.new_incident_id().await;
    let a = new_wo(&s, json!({"incidentId": inc, "taskType": "triage"})).await;
    assert_eq!(a["status"], "draft");
    assert_eq!(a["deviceId"], "dev_1", "device taken from the incident");
    assert_eq!(a["createdBy"], "dev-user");
    let b = new_wo(
        &s,
        json!({"incidentId": inc, "taskType": "screen_replacement", "assignedStaffId": "staff_1"}),
    )
    .await;
    assert_eq!(b["status"], "assigned", "a work order with a technician is assigned");

    let s = &s;
    let status = |wo: &Value, to: &str| {
        let path = format!("/v1/work-orders/{}/status", id(wo));
        let to = to.to_owned();
        async move { ok(s, Method::PATCH, &path, Some(json!({"status": to}))).await }
    };
    let incident = || async { ok(s, Method::GET, &format!("/v1/incidents/{inc}"), None).await };
    for to in ["assigned", "in_repair"] {
        status(&a, to).await;
    }
    assert_eq!(
        incident().await["status"],
        "in_progress",
        "repair starting moves the incident"
    );
    status(&a, "completed").await; // QA skipped
    let approved = status(&a, "approved").await;
    assert_eq!(approved["status"], "approved");
    assert_eq!(
        incident().await["status"],
        "in_progress",
        "another work order is still open"
    );
    for to in ["in_repair", "qa", "completed", "approved"] {
        status(&b, to).await;
    }
    let resolved = incident().await;
    assert_eq!(
        resolved["status"], "resolved",
        "the last approval resolves the incident"
    );
    assert!(resolved["resolvedAt"].is_string());
    // Both coupling moves are in the incident's audit trail.
    let audit = ok(
        s,
        Method::GET,
        &format!("/v1/audit-logs?entityId={inc}&action=status_change"),
        None,
    )
    .await;
    let to: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["after"]["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        to,
        vec!["resolved", "in_progress", "acknowledged"],
        "new → acknowledged → in progress → resolved"
    );
    // Terminal, and illegal forward moves are conflicts.
    assert_problem(
        send(
            s,
            Method::PATCH,
            &format!("/v1/work-orders/{}/status", id(&a)),
            Some(json!({"status": "qa"})),
        )
        .await,
        409,
        "invalid-transition",
    )
    .await;

    let list = ok(
        s,
        Method::GET,
        &format!("/v1/work-orders?incidentId={inc}&status=approved"),
        None,
    )
    .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        ok(s, Method::GET, "/v1/work-orders?status=draft", None).await["items"],
        json!([])
    );
}

async fn rework_with_reasons_and_limit(backend: Backend) {
    let s = Server::start_with(backend, &[("ESSP_MAX_REWORK", "2")]).await;
    let wo = new_wo(
        &s,
        json!({"deviceId": "dev_1", "taskType": "repair", "assignedStaffId": "staff_1"}),
    )
    .await;
    let path = format!("/v1/work-orders/{}", id(&wo));
    for to in ["in_repair", "qa"] {
        ok(
            &s,
            Method::PATCH,
            &format!("{path}/status"),
            Some(json!({"status": to})),
        )
        .await;
    }
    let reject_path = format!("{path}/reject");
    let reject = |body: Value| send(&s, Method::POST, &reject_path, Some(body));
    assert_problem(
        reject(json!({"targetStatus": "in_repair"})).await,
        400,
        "validation-failed",
    )
    .await;
    assert_problem(
        reject(json!({"targetStatus": "draft", "reason": "x"})).await,
        409,
        "invalid-transition",
    )
    .await;
    assert_problem(
        reject(json!({"targetStatus": "in_repair", "reason": "x", "category": "vibes"})).await,
        400,
        "validation-failed",
    )
    .await;
    let first: Value = reject(json!({"targetStatus": "in_repair", "reason": "Screen flickers", "category": "quality"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["workOrder"]["status"], "in_repair");
    assert_eq!(first["workOrder"]["reworkCount"], 1);
    assert_eq!(first["workOrder"]["lastReworkReason"], "Screen flickers");
    assert_eq!(first["reworkHistory"]["category"], "quality");
    assert_eq!(first["reworkHistory"]["fromStatus"], "qa");
    ok(
        &s,
        Method::PATCH,
        &format!("{path}/status"),
        Some(json!({"status": "qa"})),
    )
    .await;
    let second = reject(json!({"targetStatus": "assigned", "reason": "Wrong part", "category": "wrong_parts"})).await;
    assert_eq!(second.status(), 200);
    ok(
        &s,
        Method::PATCH,
        &format!("{path}/status"),
        Some(json!({"status": "in_repair"})),
    )
    .await;
    assert_problem(
        reject(json!({"targetStatus": "assigned", "reason": "Third time"})).await,
        409,
        "rework-limit",
    )
    .await;
    let history = ok(&s, Method::GET, &format!("{path}/rework-history"), None).await;
    let seqs: Vec<i64> = history["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, vec![1, 2]);
}

async fn partial_edit_reports_changes(backend: Backend) {
    let s = Server::start_with(backend, &[("DEFAULT_REPAIR_LOCATION", "central-depot")]).await;
    let wo = new_wo(
        &s,
        json!({"deviceId": "dev_1", "taskType": "repair", "costEstimateCents": 1500}),
    )
    .await;
    assert_eq!(
        wo["repairLocation"], "central-depot",
        "the configured depot is the default"
    );
    let path = format!("/v1/work-orders/{}", id(&wo));
    let r = s
        .req(Method::PATCH, &path)
        .header("If-Match", "\"1\"")
        .json(&json!({"costEstimateCents": 2500, "notes": "Quote", "repairLocation": "on_site"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let edited: Value = r.json().await.unwrap();
    let mut fields: Vec<&str> = edited["updatedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    fields.sort();
    assert_eq!(fields, vec!["costEstimateCents", "notes", "repairLocation"]);
    assert_eq!(edited["previousValues"]["costEstimateCents"], 1500);
    assert_eq!(edited["previousValues"]["repairLocation"], "central-depot");
    assert_eq!(edited["workOrder"]["version"], 2);
    let stale = s
        .req(Method::PATCH, &path)
        .header("If-Match", "\"1\"")
        .json(&json!({"notes": "x"}))
        .send()
        .await
        .unwrap();
    assert_problem(stale, 412, "version-mismatch").await;
    for (body, code) in [
        (json!({"costEstimateCents": -1}), "validation-failed"),
        (json!({"repairLocation": "moon"}), "validation-failed"),
        (json!({}), "validation-failed"),
        (json!({"status": "approved"}), "invalid-body"),
    ] {
        assert_problem(send(&s, Method::PATCH, &path, Some(body)).await, 400, code).await;
    }
    assert_eq!(ok(&s, Method::GET, &path, None).await["version"], 2);
}

async fn bulk_operations_report_per_id(backend: Backend) {
    let s = Server::start(backend).await;
    let mut wos = Vec::new();
    for _ in 0..3 {
        wos.push(id(&new_wo(&s, json!({"deviceId": "dev_1", "taskType": "repair"})).await));
    }
    let unknown = format!("wo_{}", ulid::Ulid::new());
    let r = ok(&s, Method::POST, "/v1/work-orders/bulk/assignment", Some(json!({"workOrderIds": [wos[0], wos[1], "garbage", unknown], "assignedStaffId": "staff_7", "serviceShopId": "shop_1"}))).await;
    assert_eq!(
        (
            r["totalCount"].as_i64(),
            r["successCount"].as_i64(),
            r["failureCount"].as_i64()
        ),
        (Some(4), Some(2), Some(2))
    );
    let codes: Vec<&str> = r["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, vec!["invalid-id", "not-found"]);
    let got = ok(&s, Method::GET, &format!("/v1/work-orders/{}", wos[0]), None).await;
    assert_eq!(
        (got["status"].as_str(), got["assignedStaffId"].as_str()),
        (Some("assigned"), Some("staff_7"))
    );

    let r = ok(
        &s,
        Method::POST,
        "/v1/work-orders/bulk/status",
        Some(json!({"workOrderIds": [wos[0], wos[1], wos[2]], "status": "in_repair"})),
    )
    .await;
    assert_eq!(r["successCount"], 2);
    assert_eq!(r["failed"][0]["id"], wos[2].as_str());
    assert_eq!(r["failed"][0]["code"], "invalid-transition");
    // Bulk never skips QA.
    let r = ok(
        &s,
        Method::POST,
        "/v1/work-orders/bulk/status",
        Some(json!({"workOrderIds": [wos[0]], "status": "completed"})),
    )
    .await;
    assert_eq!(r["failureCount"], 1);
    for to in ["qa", "completed"] {
        ok(
            &s,
            Method::POST,
            "/v1/work-orders/bulk/status",
            Some(json!({"workOrderIds": [wos[0], wos[1]], "status": to})),
        )
        .await;
    }
    let r = ok(
        &s,
        Method::POST,
        "/v1/work-orders/bulk/approval",
        Some(json!({"workOrderIds": [wos[0], wos[2]], "decision": "approved"})),
    )
    .await;
    assert_eq!(r["succeeded"], json!([wos[0]]));
    assert_eq!(r["failed"][0]["code"], "not-completed");
    let approved = ok(&s, Method::GET, &format!("/v1/work-orders/{}", wos[0]), None).await;
    assert_eq!(
        (approved["status"].as_str(), approved["approvalStatus"].as_str()),
        (Some("approved"), Some("approved"))
    );
    assert_problem(
        send(
            &s,
            Method::POST,
            "/v1/work-orders/bulk/approval",
            Some(json!({"workOrderIds": [wos[1]], "decision": "rejected"})),
        )
        .await,
        400,
        "validation-failed",
    )
    .await;
    let r = ok(
        &s,
        Method::POST,
        "/v1/work-orders/bulk/approval",
        Some(json!({"workOrderIds": [wos[1]], "decision": "rejected", "notes": "Casing cracked"})),
    )
    .await;
    assert_eq!(r["successCount"], 1);
    let rejected = ok(&s, Method::GET, &format!("/v1/work-orders/{}", wos[1]), None).await;
    assert_eq!(
        (rejected["status"].as_str(), rejected["reworkCount"].as_i64()),
        (Some("qa"), Some(1))
    );

    let too_many: Vec<String> = (0..101).map(|_| format!("wo_{}", ulid::Ulid::new())).collect();
    for body in [
        json!({"workOrderIds": too_many, "status": "qa"}),
        json!({"workOrderIds": [], "status": "qa"}),
        json!({"status": "qa"}),
        json!({"workOrderIds": [wos[0]], "status": "finished"}),
    ] {
        assert_problem(
            send(&s, Method::POST, "/v1/work-orders/bulk/status", Some(body)).await,
            400,
            "validation-failed",
        )
        .await;
    }
    assert_problem(
        send(
            &s,
            Method::POST,
            "/v1/work-orders/bulk/assignment",
            Some(json!({"workOrderIds": [wos[0]]})),
        )
        .await,
        400,
        "validation-failed",
    )
    .await;
}

async fn bad_create_input_changes_nothing(backend: Backend) {
    let s = Server::start(backend).await;
    let inc = s.new_incident_id().await;
    let other_school_incident: Value = s
        .http
        .post(s.url("/v1/incidents"))
        .header("X-Tenant-ID", common::TENANT)
        .header("X-School-ID", "school-2")
        .json(&json!({"deviceId": "d", "title": "Elsewhere"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cases = [
        (json!({"deviceId": "d"}), 400, "validation-failed"),
        (json!({"taskType": "repair"}), 400, "validation-failed"),
        (
            json!({"deviceId": "d", "taskType": "Big Repair"}),
            400,
            "validation-failed",
        ),
        (
            json!({"deviceId": "d", "taskType": "repair", "costEstimateCents": -5}),
            400,
            "validation-failed",
        ),
        (
            json!({"deviceId": "d", "taskType": "repair", "repairLocation": "moon"}),
            400,
            "validation-failed",
        ),
        (
            json!({"deviceId": "d", "taskType": "repair", "incidentId": "inc_nope"}),
            400,
            "validation-failed",
        ),
        (
            json!({"deviceId": "d", "taskType": "repair", "serviceShopId": "shop 1"}),
            400,
            "validation-failed",
        ),
        (
            json!({"deviceId": "d", "taskType": "repair", "costEstimateCents": "ten"}),
            400,
            "invalid-body",
        ),
        (
            json!({"deviceId": "d", "taskType": "repair", "status": "approved"}),
            400,
            "invalid-body",
        ),
        (
            json!({"taskType": "repair", "incidentId": format!("inc_{}", ulid::Ulid::new())}),
            422,
            "unknown-incident",
        ),
        (
            json!({"taskType": "repair", "incidentId": other_school_incident["id"]}),
            422,
            "unknown-incident",
        ),
    ];
    for (body, status, code) in cases {
        assert_problem(
            send(&s, Method::POST, "/v1/work-orders", Some(body.clone())).await,
            status,
            code,
        )
        .await;
    }
    for path in ["/v1/work-orders/123", "/v1/work-orders/inc_01J0000000000000000000000"] {
        assert_problem(send(&s, Method::GET, path, None).await, 400, "invalid-id").await;
    }
    assert_problem(
        send(
            &s,
            Method::GET,
            &format!("/v1/work-orders/wo_{}", ulid::Ulid::new()),
            None,
        )
        .await,
        404,
        "not-found",
    )
    .await;
    assert_problem(
        send(&s, Method::GET, "/v1/work-orders?status=done", None).await,
        400,
        "validation-failed",
    )
    .await;
    assert_eq!(ok(&s, Method::GET, "/v1/work-orders", None).await["items"], json!([]));
    let _ = inc;
}

on_both_engines!(
    lifecycle_and_incident_coupling,
    rework_with_reasons_and_limit,
    partial_edit_reports_changes,
    bulk_operations_report_per_id,
    bad_create_input_changes_nothing,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_routes_have_a_stricter_budget() {
    // Write budget 20/min burst 4 → bulk tier 2/min burst 2.
    let s = Server::start_with(
        Backend::Sqlite,
        &[
            ("RATE_LIMIT_ENABLED", "true"),
            ("RATE_LIMIT_WRITE_RPM", "20"),
            ("RATE_LIMIT_BURST", "8"),
        ],
    )
    .await;
    let wo = new_wo(&s, json!({"deviceId": "d", "taskType": "repair"})).await;
    let bulk = || {
        send(
            &s,
            Method::POST,
            "/v1/work-orders/bulk/assignment",
            Some(json!({"workOrderIds": [id(&wo)], "serviceShopId": "shop_1"})),
        )
    };
    assert_eq!(bulk().await.status(), 200);
    assert_eq!(bulk().await.status(), 200);
    let limited = bulk().await;
    assert!(limited.headers().contains_key("retry-after"));
    assert_problem(limited, 429, "rate-limited").await;
    // Ordinary writes keep their own budget.
    assert_eq!(
        send(
            &s,
            Method::PATCH,
            &format!("/v1/work-orders/{}", id(&wo)),
            Some(json!({"notes": "n"}))
        )
        .await
        .status(),
        200
    );
}
