//! `/v1/incidents` through the real binary, on both engines.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Backend, SCHOOL, Server, TENANT, assert_problem};
use reqwest::Method;
use serde_json::{Value, json};

async fn create_get_and_list(backend: Backend) {
    let s = Server::start(backend).await;
    let before = chrono::Utc::now();
    let resp = s
        .create_incident(json!({"deviceId": "dev_42", "title": "Cracked screen", "severity": "critical", "category": "hardware", "description": "Dropped"}))
        .await;
    assert_eq!(resp.status(), 201);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(resp.headers()["etag"], "\"1\"");
    let created: Value = resp.json().await.unwrap();
    assert_eq!(location, format!("/v1/incidents/{}", created["id"].as_str().unwrap()));
    assert!(created["id"].as_str().unwrap().starts_with("inc_"));
    assert_eq!(created["status"], "new");
    assert_eq!(created["tenantId"], TENANT);
    assert_eq!(created["schoolId"], SCHOOL);
    // SLA: critical = 4 h from creation.
    let created_at: chrono::DateTime<chrono::Utc> = created["createdAt"].as_str().unwrap().parse().unwrap();
    let due: chrono::DateTime<chrono::Utc> = created["slaDueAt"].as_str().unwrap().parse().unwrap();
    assert!(created_at >= before - chrono::Duration::seconds(1));
    assert_eq!(due - created_at, chrono::Duration::hours(4));

    let fetched: Value = s
        .req(Method::GET, &location)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(fetched, created);

    // Another school or tenant sees nothing (404, not 403).
    let other = s
        .http
        .get(s.url(&location))
        .header("X-Tenant-ID", TENANT)
        .header("X-School-ID", "school-2")
        .send()
        .await
        .unwrap();
    assert_problem(other, 404, "not-found").await;
    let other = s
        .http
        .get(s.url(&location))
        .header("X-Tenant-ID", "tenant-b")
        .header("X-School-ID", SCHOOL)
        .send()
        .await
        .unwrap();
    assert_problem(other, 404, "not-found").await;

    assert_eq!(s.list_all().await, vec![created]);
}

async fn list_filters_and_cursor_pages(backend: Backend) {
    let s = Server::start(backend).await;
    for n in 0..7 {
        let severity = if n % 3 == 0 { "high" } else { "low" };
        let resp = s
            .create_incident(
                json!({"deviceId": format!("dev_{}", n % 2), "title": format!("Fault {n}"), "severity": severity}),
            )
            .await;
        assert_eq!(resp.status(), 201);
    }
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/incidents?limit=3&cursor={c}"),
            None => "/v1/incidents?limit=3".into(),
        };
        let page: Value = s.req(Method::GET, &path).send().await.unwrap().json().await.unwrap();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 3);
        ids.extend(items.iter().map(|i| i["id"].as_str().unwrap().to_owned()));
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(ids.len(), 7);
    let mut sorted = ids.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(ids, sorted, "newest first, no repeats");

    let count = |query: &'static str| {
        let req = s.req(Method::GET, &format!("/v1/incidents?{query}"));
        async move {
            let resp = req.send().await.unwrap();
            assert_eq!(resp.status(), 200, "{query}");
            resp.json::<Value>().await.unwrap()["items"].as_array().unwrap().len()
        }
    };
    assert_eq!(count("severity=high").await, 3);
    assert_eq!(count("deviceId=dev_1").await, 3);
    assert_eq!(count("status=new&severity=low").await, 4);
    assert_eq!(count("q=fault%205").await, 1);
    assert_eq!(count("slaBreached=false").await, 7);
    assert_eq!(count("updatedSince=2000-01-01T00:00:00Z").await, 7);
    assert_eq!(count("updatedSince=2999-01-01T00:00:00Z").await, 0);
}

async fn status_lifecycle_and_conflicts(backend: Backend) {
    let s = Server::start(backend).await;
    let created: Value = s
        .create_incident(json!({"deviceId": "dev_1", "title": "No power"}))
        .await
        .json()
        .await
        .unwrap();
    let path = format!("/v1/incidents/{}/status", created["id"].as_str().unwrap());
    let patch = |body: Value, if_match: Option<&str>| {
        let mut r = s.req(Method::PATCH, &path).json(&body);
        if let Some(tag) = if_match {
            r = r.header("If-Match", tag);
        }
        r.send()
    };

    // Illegal transition: 409, nothing changes.
    assert_problem(
        patch(json!({"status": "closed"}), None).await.unwrap(),
        409,
        "invalid-transition",
    )
    .await;
    // Stale If-Match: 412.
    assert_problem(
        patch(json!({"status": "acknowledged"}), Some("\"7\"")).await.unwrap(),
        412,
        "version-mismatch",
    )
    .await;

    let ack = patch(json!({"status": "acknowledged"}), Some("\"1\"")).await.unwrap();
    assert_eq!(ack.status(), 200);
    assert_eq!(ack.headers()["etag"], "\"2\"");
    let ack: Value = ack.json().await.unwrap();
    assert_eq!(ack["status"], "acknowledged");
    assert!(ack["acknowledgedAt"].is_string());

    for step in ["in_progress", "resolved"] {
        let r = patch(json!({"status": step}), None).await.unwrap();
        assert_eq!(r.status(), 200, "{step}");
    }
    // Reopen needs a reason.
    let body = assert_problem(
        patch(json!({"status": "in_progress"}), None).await.unwrap(),
        400,
        "validation-failed",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "reason");
    let reopened: Value = patch(json!({"status": "in_progress", "reason": "still broken"}), None)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reopened["statusReason"], "still broken");
    assert!(reopened["resolvedAt"].is_null());
    for step in ["resolved", "closed"] {
        assert_eq!(patch(json!({"status": step}), None).await.unwrap().status(), 200);
    }
    let closed: Value = s
        .req(
            Method::GET,
            &format!("/v1/incidents/{}", created["id"].as_str().unwrap()),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(closed["status"], "closed");
    assert!(closed["closedAt"].is_string());
    assert_eq!(closed["version"], 7);
    // Terminal.
    assert_problem(
        patch(json!({"status": "in_progress", "reason": "x"}), None)
            .await
            .unwrap(),
        409,
        "invalid-transition",
    )
    .await;
}

async fn concurrent_transitions_have_one_winner(backend: Backend) {
    let s = Server::start(backend).await;
    let created: Value = s
        .create_incident(json!({"deviceId": "dev_1", "title": "Race"}))
        .await
        .json()
        .await
        .unwrap();
    let path = format!("/v1/incidents/{}/status", created["id"].as_str().unwrap());
    let attempts = (0..12).map(|n| {
        let target = if n % 2 == 0 { "acknowledged" } else { "escalated" };
        s.req(Method::PATCH, &path)
            .header("If-Match", "\"1\"")
            .json(&json!({"status": target}))
            .send()
    });
    let results = futures::future::join_all(attempts).await;
    let mut statuses: Vec<u16> = results.into_iter().map(|r| r.unwrap().status().as_u16()).collect();
    statuses.sort();
    assert_eq!(statuses.iter().filter(|&&c| c == 200).count(), 1, "{statuses:?}");
    // Losers saw either the new version (412) or lost the compare-and-set (409).
    assert!(
        statuses.iter().all(|&c| c == 200 || c == 409 || c == 412),
        "{statuses:?}"
    );
    let now: Value = s
        .req(
            Method::GET,
            &format!("/v1/incidents/{}", created["id"].as_str().unwrap()),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(now["version"], 2);
}

async fn idempotency_key_replays_first_result(backend: Backend) {
    let s = Server::start(backend).await;
    let body = json!({"deviceId": "dev_9", "title": "Keyboard"});
    let send = |key: &'static str, body: Value| {
        s.req(Method::POST, "/v1/incidents")
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };

    let first = send("retry-1", body.clone()).await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let again = send("retry-1", body.clone()).await.unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    // Same key, different request: refused.
    assert_problem(
        send("retry-1", json!({"deviceId": "dev_9", "title": "Other"}))
            .await
            .unwrap(),
        422,
        "idempotency-key-reused",
    )
    .await;
    // Many concurrent retries of one key create one incident.
    let racers = (0..8).map(|_| send("retry-2", body.clone()));
    let ids: std::collections::HashSet<String> = futures::future::join_all(racers)
        .await
        .into_iter()
        .map(|r| {
            let r = r.unwrap();
            assert_eq!(r.status(), 201);
            r
        })
        .map(|r| async { r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned() })
        .collect::<futures::stream::FuturesUnordered<_>>()
        .collect_vec()
        .await;
    assert_eq!(ids.len(), 1);
    assert_eq!(s.list_all().await.len(), 2);
}

/// Every client mistake: a 4xx problem naming it, and nothing changes.
async fn bad_input_is_a_problem_and_changes_nothing(backend: Backend) {
    let s = Server::start_with(backend, &[("ESSP_BODY_LIMIT_BYTES", "2048")]).await;
    let existing: Value = s
        .create_incident(json!({"deviceId": "dev_1", "title": "Baseline"}))
        .await
        .json()
        .await
        .unwrap();
    let id = existing["id"].as_str().unwrap().to_owned();
    let raw = |method: Method, path: &str, ct: Option<&str>, body: String| {
        let mut r = s.req(method, path).body(body);
        if let Some(ct) = ct {
            r = r.header("content-type", ct);
        }
        r.send()
    };
    let json_ct = Some("application/json");
    let status_path = format!("/v1/incidents/{id}/status");
    let cases: Vec<(&str, reqwest::Response, u16, &str)> = vec![
        (
            "malformed json",
            raw(Method::POST, "/v1/incidents", json_ct, "{\"deviceId\": ".into())
                .await
                .unwrap(),
            400,
            "malformed-json",
        ),
        (
            "json not an object",
            raw(Method::POST, "/v1/incidents", json_ct, "[1,2]".into())
                .await
                .unwrap(),
            400,
            "invalid-body",
        ),
        (
            "wrong field type",
            raw(
                Method::POST,
                "/v1/incidents",
                json_ct,
                "{\"deviceId\": 5, \"title\": \"x\"}".into(),
            )
            .await
            .unwrap(),
            400,
            "invalid-body",
        ),
        (
            "wrong content type",
            raw(Method::POST, "/v1/incidents", Some("text/plain"), "{}".into())
                .await
                .unwrap(),
            415,
            "unsupported-media-type",
        ),
        (
            "no content type",
            raw(Method::POST, "/v1/incidents", None, "{}".into()).await.unwrap(),
            415,
            "unsupported-media-type",
        ),
        (
            "body over limit",
            raw(
                Method::POST,
                "/v1/incidents",
                json_ct,
                format!("{{\"deviceId\":\"d\",\"title\":\"{}\"}}", "x".repeat(4096)),
            )
            .await
            .unwrap(),
            413,
            "payload-too-large",
        ),
        (
            "unknown severity",
            s.create_incident(json!({"deviceId": "d", "title": "t", "severity": "urgent"}))
                .await,
            400,
            "validation-failed",
        ),
        (
            "unknown category",
            s.create_incident(json!({"deviceId": "d", "title": "t", "category": "misc"}))
                .await,
            400,
            "validation-failed",
        ),
        (
            "missing required",
            s.create_incident(json!({"severity": "low"})).await,
            400,
            "validation-failed",
        ),
        (
            "blank title",
            s.create_incident(json!({"deviceId": "d", "title": "   "})).await,
            400,
            "validation-failed",
        ),
        (
            "missing tenant",
            s.http
                .post(s.url("/v1/incidents"))
                .header("X-School-ID", "s")
                .json(&json!({"deviceId": "d", "title": "t"}))
                .send()
                .await
                .unwrap(),
            400,
            "missing-tenant",
        ),
        (
            "missing school",
            s.http
                .get(s.url("/v1/incidents"))
                .header("X-Tenant-ID", "t")
                .send()
                .await
                .unwrap(),
            400,
            "missing-school",
        ),
        (
            "invalid tenant",
            s.http
                .get(s.url("/v1/incidents"))
                .header("X-Tenant-ID", "a b")
                .header("X-School-ID", "s")
                .send()
                .await
                .unwrap(),
            400,
            "missing-tenant",
        ),
        (
            "invalid cursor",
            s.req(Method::GET, "/v1/incidents?cursor=not-a-cursor")
                .send()
                .await
                .unwrap(),
            400,
            "validation-failed",
        ),
        (
            "invalid limit",
            s.req(Method::GET, "/v1/incidents?limit=0").send().await.unwrap(),
            400,
            "validation-failed",
        ),
        (
            "limit too big",
            s.req(Method::GET, "/v1/incidents?limit=201").send().await.unwrap(),
            400,
            "validation-failed",
        ),
        (
            "bad status filter",
            s.req(Method::GET, "/v1/incidents?status=open").send().await.unwrap(),
            400,
            "validation-failed",
        ),
        (
            "bad updatedSince",
            s.req(Method::GET, "/v1/incidents?updatedSince=yesterday")
                .send()
                .await
                .unwrap(),
            400,
            "validation-failed",
        ),
        (
            "unknown query param",
            s.req(Method::GET, "/v1/incidents?colour=red").send().await.unwrap(),
            400,
            "invalid-query",
        ),
        (
            "invalid id",
            s.req(Method::GET, "/v1/incidents/123").send().await.unwrap(),
            400,
            "invalid-id",
        ),
        (
            "wrong id prefix",
            s.req(Method::GET, &format!("/v1/incidents/wo_{}", &id[4..]))
                .send()
                .await
                .unwrap(),
            400,
            "invalid-id",
        ),
        (
            "unknown id",
            s.req(Method::GET, &format!("/v1/incidents/inc_{}", ulid::Ulid::new()))
                .send()
                .await
                .unwrap(),
            404,
            "not-found",
        ),
        (
            "unknown status value",
            s.req(Method::PATCH, &status_path)
                .json(&json!({"status": "done"}))
                .send()
                .await
                .unwrap(),
            400,
            "validation-failed",
        ),
        (
            "missing status",
            s.req(Method::PATCH, &status_path)
                .json(&json!({}))
                .send()
                .await
                .unwrap(),
            400,
            "validation-failed",
        ),
        (
            "illegal transition",
            s.req(Method::PATCH, &status_path)
                .json(&json!({"status": "closed"}))
                .send()
                .await
                .unwrap(),
            409,
            "invalid-transition",
        ),
        (
            "garbage If-Match",
            s.req(Method::PATCH, &status_path)
                .header("If-Match", "abc")
                .json(&json!({"status": "acknowledged"}))
                .send()
                .await
                .unwrap(),
            400,
            "invalid-if-match",
        ),
        (
            "bad idempotency key",
            s.req(Method::POST, "/v1/incidents")
                .header("Idempotency-Key", "")
                .json(&json!({"deviceId": "d", "title": "t"}))
                .send()
                .await
                .unwrap(),
            400,
            "invalid-idempotency-key",
        ),
        (
            "unknown route",
            s.req(Method::GET, "/v1/nothing-here").send().await.unwrap(),
            404,
            "not-found",
        ),
        (
            "wrong method",
            s.req(Method::DELETE, "/v1/incidents").send().await.unwrap(),
            405,
            "method-not-allowed",
        ),
    ];
    for (name, resp, status, code) in cases {
        assert!(resp.status().as_u16() < 500, "{name}: server error");
        let body = assert_problem(resp, status, code).await;
        if code == "validation-failed" {
            assert!(
                body["errors"].as_array().is_some_and(|e| !e.is_empty()),
                "{name}: {body}"
            );
        }
    }
    // Nothing was created or changed.
    assert_eq!(s.list_all().await, vec![existing]);
}

on_both_engines!(
    create_get_and_list,
    list_filters_and_cursor_pages,
    status_lifecycle_and_conflicts,
    concurrent_transitions_have_one_winner,
    idempotency_key_replays_first_result,
    bad_input_is_a_problem_and_changes_nothing,
);

trait CollectVec: futures::Stream + Sized {
    async fn collect_vec(self) -> std::collections::HashSet<Self::Item>
    where
        Self::Item: std::hash::Hash + Eq,
    {
        use futures::StreamExt;
        self.collect().await
    }
}
impl<S: futures::Stream> CollectVec for S {}
