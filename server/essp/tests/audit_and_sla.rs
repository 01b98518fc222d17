//! The audit trail (same transaction, hash chain, tamper detection), edits
//! that recompute the SLA, and the once-per-cluster breach sweep.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Backend, Server, TENANT, assert_problem};
use reqwest::Method;
use serde_json::{Value, json};

async fn json_of(r: reqwest::RequestBuilder) -> Value {
    let resp = r.send().await.unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    resp.json().await.unwrap()
}

async fn audit_trail_records_every_change(backend: Backend) {
    let s = Server::start(backend).await;
    let created = s
        .create_incident(json!({"deviceId": "dev_1", "title": "Hinge", "severity": "low"}))
        .await;
    let create_request_id = created.headers()["x-request-id"].to_str().unwrap().to_owned();
    let created: Value = created.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    json_of(
        s.req(Method::PATCH, &format!("/v1/incidents/{id}/status"))
            .json(&json!({"status": "acknowledged"})),
    )
    .await;
    json_of(
        s.req(Method::PATCH, &format!("/v1/incidents/{id}"))
            .json(&json!({"severity": "high"})),
    )
    .await;

    s.wait_audit_sealed().await;
    let page = json_of(s.req(Method::GET, &format!("/v1/audit-logs?entityId={id}"))).await;
    let items = page["items"].as_array().unwrap();
    let actions: Vec<&str> = items.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, vec!["update", "status_change", "create"]);
    let create = &items[2];
    assert_eq!(create["actor"], "dev-user");
    assert_eq!(create["entityType"], "incident");
    assert_eq!(create["requestId"], create_request_id.as_str());
    assert_eq!(create["ipAddress"], "127.0.0.1");
    assert!(create["before"].is_null());
    assert_eq!(create["after"]["title"], "Hinge");
    assert_eq!(items[1]["before"]["status"], "new");
    assert_eq!(items[1]["after"]["status"], "acknowledged");
    assert_eq!(items[0]["after"]["severity"], "high");
    let seqs: Vec<i64> = items.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, vec![3, 2, 1]);

    let one = json_of(s.req(
        Method::GET,
        &format!("/v1/audit-logs/{}", create["id"].as_str().unwrap()),
    ))
    .await;
    assert_eq!(&one, create);
    let filtered = |q: &str| s.req(Method::GET, &format!("/v1/audit-logs?{q}"));
    assert_eq!(
        json_of(filtered("action=create")).await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        json_of(filtered("userId=dev-user&entityType=incident")).await["items"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        json_of(filtered("startDate=2999-01-01")).await["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        json_of(filtered("endDate=2000-01-01")).await["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(json_of(filtered("limit=2")).await["items"].as_array().unwrap().len(), 2);
    assert_problem(
        filtered("startDate=yesterday").send().await.unwrap(),
        400,
        "validation-failed",
    )
    .await;
    assert_problem(filtered("cursor=zzz").send().await.unwrap(), 400, "validation-failed").await;
    assert_problem(
        s.req(Method::GET, "/v1/audit-logs/nope").send().await.unwrap(),
        400,
        "invalid-id",
    )
    .await;
    // Another tenant sees none of it.
    let other = s
        .http
        .get(s.url("/v1/audit-logs"))
        .header("X-Tenant-ID", "tenant-z")
        .send()
        .await
        .unwrap();
    assert_eq!(other.json::<Value>().await.unwrap()["items"], json!([]));

    // A failed change writes no audit row (same transaction).
    let bad = s
        .req(Method::PATCH, &format!("/v1/incidents/{id}/status"))
        .json(&json!({"status": "closed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 409);
    assert_eq!(
        json_of(filtered(&format!("entityId={id}"))).await["items"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    let verify = s.wait_audit_sealed().await;
    assert_eq!(
        verify,
        json!({"tenantId": TENANT, "entries": 3, "valid": true, "problem": null, "unsealed": 0})
    );
    let cli = common::run_cli(s.db(), &["audit", "verify"], &[]);
    assert!(cli.status.success());
    assert!(String::from_utf8_lossy(&cli.stdout).contains(&format!("{TENANT}: ok (3 entries)")));

    // Tampering is detected: a modified row…
    s.db()
        .db
        .execute("UPDATE audit_logs SET actor = $1 WHERE seq = 2", &["mallory".into()])
        .await
        .unwrap();
    let verify = json_of(s.req(Method::GET, "/v1/audit-logs/verify")).await;
    assert_eq!(verify["valid"], false);
    assert_eq!(verify["problem"], "seq 2: hash does not match its contents");
    let cli = common::run_cli(s.db(), &["audit", "verify", "--tenant", TENANT], &[]);
    assert!(!cli.status.success());
    assert!(String::from_utf8_lossy(&cli.stdout).contains("TAMPERED"));
    // …a deleted row…
    s.db()
        .db
        .execute("DELETE FROM audit_logs WHERE seq = 2", &[])
        .await
        .unwrap();
    let verify = json_of(s.req(Method::GET, "/v1/audit-logs/verify")).await;
    assert_eq!(verify["problem"], "seq 2: missing (next present is 3)");
    // …and a truncated tail.
    s.db()
        .db
        .execute("DELETE FROM audit_logs WHERE seq >= 2", &[])
        .await
        .unwrap();
    let verify = json_of(s.req(Method::GET, "/v1/audit-logs/verify")).await;
    assert_eq!(verify["problem"], "the chain ends at seq 1 but its head says 3");
}

async fn edits_recompute_the_sla(backend: Backend) {
    let s = Server::start(backend).await;
    let created: Value = s
        .create_incident(json!({"deviceId": "d", "title": "Slow", "severity": "low"}))
        .await
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let path = format!("/v1/incidents/{id}");
    let created_at: chrono::DateTime<chrono::Utc> = created["createdAt"].as_str().unwrap().parse().unwrap();
    let r = s
        .req(Method::PATCH, &path)
        .header("If-Match", "\"1\"")
        .json(&json!({"severity": "critical", "title": "Dead"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["etag"], "\"2\"");
    let edited: Value = r.json().await.unwrap();
    let due: chrono::DateTime<chrono::Utc> = edited["slaDueAt"].as_str().unwrap().parse().unwrap();
    assert_eq!(due - created_at, chrono::Duration::hours(4));
    assert_eq!(edited["title"], "Dead");
    assert_eq!(edited["status"], "new", "an edit never moves the status");

    for (body, status, code) in [
        (json!({"severity": "apocalyptic"}), 400, "validation-failed"),
        (json!({}), 400, "validation-failed"),
        (json!({"title": ""}), 400, "validation-failed"),
        (json!({"status": "closed"}), 400, "invalid-body"),
        (json!({"title": 7}), 400, "invalid-body"),
    ] {
        assert_problem(
            s.req(Method::PATCH, &path).json(&body).send().await.unwrap(),
            status,
            code,
        )
        .await;
    }
    let stale = s
        .req(Method::PATCH, &path)
        .header("If-Match", "\"1\"")
        .json(&json!({"title": "x"}))
        .send()
        .await
        .unwrap();
    assert_problem(stale, 412, "version-mismatch").await;
    let now: Value = s.req(Method::GET, &path).send().await.unwrap().json().await.unwrap();
    assert_eq!(now["version"], 2, "rejected edits changed nothing");
}

/// Overdue open incidents are breached once, audited and counted.
async fn breach_sweep_marks_overdue(backend: Backend) {
    let env = [("ESSP_SLA_CRITICAL", "1s"), ("ESSP_SLA_SWEEP_INTERVAL", "100ms")];
    let a = Server::start_with(backend, &env).await;
    let mut ids = Vec::new();
    for n in 0..5 {
        let sev = if n < 3 { "critical" } else { "low" };
        let r: Value = a
            .create_incident(json!({"deviceId": "d", "title": format!("t{n}"), "severity": sev}))
            .await
            .json()
            .await
            .unwrap();
        ids.push(r["id"].as_str().unwrap().to_owned());
    }
    let mut breached = 0;
    for _ in 0..100 {
        let list: Value = a
            .req(Method::GET, "/v1/incidents?slaBreached=true")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        breached = list["items"].as_array().unwrap().len();
        if breached == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(breached, 3, "the three critical incidents breach; the low ones do not");
    let one: Value = a
        .req(Method::GET, &format!("/v1/incidents/{}", ids[0]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(one["breachedAt"].is_string());
    let audit: Value = a
        .req(Method::GET, "/v1/audit-logs?action=sla_breach")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rows = audit["items"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r["actor"] == "system:sla-sweep"));
    let metrics = a
        .http
        .get(a.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("incidents_sla_breached_total{severity=\"critical\"} 3"),
        "{metrics}"
    );
    let verify = a.wait_audit_sealed().await;
    assert_eq!(verify["valid"], true);
}

/// Sealing links rows in multi-row statements; a backlog larger than one
/// statement and one batch must come out as one unbroken chain.
async fn a_sealing_backlog_becomes_one_chain(backend: Backend) {
    // The server seals once at start, then not for an hour: the CLI seals
    // the backlog.
    let s = Server::start_with(backend, &[("ESSP_AUDIT_SEAL_INTERVAL", "1h")]).await;
    const N: usize = 1100;
    for chunk in (0..N).collect::<Vec<_>>().chunks(50) {
        let creates = chunk
            .iter()
            .map(|i| s.create_incident(json!({"deviceId": format!("dev_{i}"), "title": "Backlog", "severity": "low"})));
        for resp in futures::future::join_all(creates).await {
            assert_eq!(resp.status(), 201);
        }
    }
    // The server's pass at start may have sealed the first few.
    let before = json_of(s.req(Method::GET, "/v1/audit-logs/verify")).await;
    let pending = before["unsealed"].as_i64().unwrap();
    assert_eq!(before["entries"].as_i64().unwrap() + pending, N as i64, "{before}");
    assert!(pending > 1000, "a backlog of several statements and batches: {before}");

    let cli = common::run_cli(s.db(), &["audit", "seal"], &[]);
    assert!(cli.status.success(), "{}", String::from_utf8_lossy(&cli.stderr));
    assert_eq!(String::from_utf8_lossy(&cli.stdout).trim(), format!("sealed {pending}"));
    let after = json_of(s.req(Method::GET, "/v1/audit-logs/verify")).await;
    assert_eq!(
        after,
        json!({"tenantId": TENANT, "entries": N, "valid": true, "problem": null, "unsealed": 0})
    );
    // Oldest first: the first incident's row is link 1, the newest link N.
    let newest = json_of(s.req(Method::GET, "/v1/audit-logs?limit=1")).await;
    assert_eq!(newest["items"][0]["seq"], N);
}

on_both_engines!(
    audit_trail_records_every_change,
    edits_recompute_the_sla,
    a_sealing_backlog_becomes_one_chain
);

on_both_engines!(breach_sweep_marks_overdue);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breach_sweep_two_replicas_on_postgres() {
    // Two replicas share one database; the lease lets one sweep at a time.
    let env = [("ESSP_SLA_CRITICAL", "1s"), ("ESSP_SLA_SWEEP_INTERVAL", "50ms")];
    let a = Server::start_with(Backend::Postgres, &env).await;
    let mut benv: Vec<(&str, &str)> = env.to_vec();
    let dsn = a.db().url.clone();
    benv.push(("PG_DSN", &dsn));
    let b = Server::start_with(Backend::Sqlite, &benv).await; // PG_DSN wins over its SQLite default
    let mut ids = Vec::new();
    for n in 0..4 {
        let s = if n % 2 == 0 { &a } else { &b };
        let r: Value = s
            .create_incident(json!({"deviceId": "d", "title": format!("t{n}"), "severity": "critical"}))
            .await
            .json()
            .await
            .unwrap();
        ids.push(r["id"].as_str().unwrap().to_owned());
    }
    let mut rows = Vec::new();
    for _ in 0..100 {
        let audit: Value = a
            .req(Method::GET, "/v1/audit-logs?action=sla_breach")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        rows = audit["items"].as_array().unwrap().clone();
        if rows.len() >= 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Let both replicas sweep a few more rounds, then count again: still one each.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let audit: Value = a
        .req(Method::GET, "/v1/audit-logs?action=sla_breach")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rows_after = audit["items"].as_array().unwrap();
    assert_eq!(rows.len(), 4);
    assert_eq!(rows_after.len(), 4, "no incident breached twice");
    let mut entity_ids: Vec<&str> = rows_after.iter().map(|r| r["entityId"].as_str().unwrap()).collect();
    entity_ids.sort();
    let mut want: Vec<&str> = ids.iter().map(String::as_str).collect();
    want.sort();
    assert_eq!(entity_ids, want);
    let verify = a.wait_audit_sealed().await;
    assert_eq!(verify["valid"], true, "{verify}");
    assert_eq!(
        verify["entries"], 8,
        "4 creates and 4 breaches, sealed once each by two competing sealers"
    );
}
