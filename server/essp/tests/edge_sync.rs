//! Edge ↔ central sync end to end (SYNC.md): a real central (`essp serve`
//! on Postgres), real edges (`essp serve`, ESSP_MODE=edge, on SQLite) and a
//! private nats-server each test may stop and restart.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Backend, SCHOOL, Server, TENANT, expect, wait_until};
use essp_testkit::PrivateNats;
use reqwest::Method;
use serde_json::{Value, json};

/// Central on Postgres with the sync-worker (role `all`).
async fn central(nats: &PrivateNats) -> Server {
    Server::start_with(Backend::Postgres, &[("NATS_URL", &nats.url())]).await
}

/// The environment of the edge of `school`.
fn edge_env(nats: &PrivateNats, school: &str) -> Vec<(String, String)> {
    [
        ("ESSP_MODE", "edge"),
        ("ESSP_TENANT_ID", TENANT),
        ("ESSP_SCHOOL_ID", school),
        ("NATS_URL", nats.url().as_str()),
        ("ESSP_SYNC_CHECKPOINT_INTERVAL", "1s"),
        ("ESSP_EDGE_HOST_ID", &format!("box-of-{school}")),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn pairs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// The edge of `school` on SQLite, with `extra` environment.
async fn edge_with(nats: &PrivateNats, school: &str, extra: &[(&str, &str)]) -> Server {
    let mut env = edge_env(nats, school);
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Server::start_with(Backend::Sqlite, &pairs(&env)).await
}

async fn edge(nats: &PrivateNats, school: &str) -> Server {
    edge_with(nats, school, &[]).await
}

/// Runs an `essp` command as the edge (its database, its environment).
fn edge_cli(edge: &Server, nats: &PrivateNats, school: &str, args: &[&str]) -> std::process::Output {
    common::run_cli(edge.db(), args, &pairs(&edge_env(nats, school)))
}

/// `essp sync verify` on the edge: every table's digest equals central's.
fn assert_converged(edge: &Server, nats: &PrivateNats, school: &str) {
    let out = edge_cli(edge, nats, school, &["sync", "verify"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "edge and central differ:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("incidents: same"), "{stdout}");
}

/// A request as another school of the tenant.
fn as_school(s: &Server, school: &str, method: Method, path: &str) -> reqwest::RequestBuilder {
    s.http
        .request(method, s.url(path))
        .header("X-Tenant-ID", TENANT)
        .header("X-School-ID", school)
}

/// Every incident id of `school` on `s`, following the cursor.
async fn incident_ids(s: &Server, school: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/incidents?limit=200&cursor={c}"),
            None => "/v1/incidents?limit=200".into(),
        };
        let page: Value = as_school(s, school, Method::GET, &path)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ids.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_owned()),
        );
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    ids.sort();
    ids
}

/// Creates `n` incidents at `school` on `s`; returns their ids, sorted.
async fn create_many(s: &Server, school: &str, n: usize, title: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let r = as_school(s, school, Method::POST, "/v1/incidents")
            .json(&json!({"deviceId": format!("dev_{i}"), "title": format!("{title} {i}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let body: Value = r.json().await.unwrap();
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    ids.sort();
    ids
}

/// A PATCH that must succeed.
async fn patch(s: &Server, path: &str, body: Value) -> Value {
    expect(s, Method::PATCH, path, Some(body), 200).await
}

async fn get(s: &Server, path: &str) -> (u16, Value) {
    let r = s.req(Method::GET, path).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Waits until `path` on `s` answers 200 with `field` equal to `want`.
async fn wait_field(s: &Server, path: &str, field: &str, want: &Value) -> Value {
    let mut last = Value::Null;
    wait_until(&format!("{path} {field} = {want}"), async || {
        let (status, body) = get(s, path).await;
        last = body.clone();
        status == 200 && &body[field] == want
    })
    .await;
    last
}

/// Waits until the edge's outbox is empty and everything it wrote is
/// confirmed applied centrally.
async fn wait_drained(edge: &Server) {
    let mut last = Value::Null;
    for _ in 0..300 {
        let (_, s) = get(edge, "/v1/sync/status").await;
        if s["state"] == "ok" && s["outboxDepth"] == 0 && s["confirmedSeq"] == s["lastSeq"] {
            return;
        }
        last = s;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the edge's changes were never all confirmed by central: {last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_writes_reach_central_and_central_edits_reach_the_edge() {
    let nats = PrivateNats::start(&[]);
    let central = central(&nats).await;
    let edge = edge(&nats, SCHOOL).await;

    // Written at the school: visible centrally, field for field.
    let created = edge.new_incident().await;
    let id = created["id"].as_str().unwrap();
    let path = format!("/v1/incidents/{id}");
    let at_central = wait_field(&central, &path, "id", &created["id"]).await;
    for field in [
        "title",
        "deviceId",
        "status",
        "severity",
        "slaDueAt",
        "createdAt",
        "reportedBy",
    ] {
        assert_eq!(at_central[field], created[field], "{field}");
    }
    wait_drained(&edge).await;

    // Edited centrally: the edge sees it.
    patch(&central, &format!("{path}/status"), json!({"status": "acknowledged"})).await;
    wait_field(&edge, &path, "status", &json!("acknowledged")).await;

    // Edited at the school again: central follows (the edge's clock now
    // sorts after central's write it saw).
    patch(&edge, &path, json!({"title": "Cracked screen, left hinge"})).await;
    patch(&edge, &format!("{path}/status"), json!({"status": "in_progress"})).await;
    let at_central = wait_field(&central, &path, "status", &json!("in_progress")).await;
    assert_eq!(at_central["title"], "Cracked screen, left hinge");

    // The audit trail of the school's writes arrived too, and central's
    // fleet view shows the edge caught up.
    let (_, audit) = get(&central, &format!("/v1/audit-logs?entityId={id}")).await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.len() >= 4, "{audit}");
    wait_drained(&edge).await;
    let (status, fleet) = get(&central, "/v1/sync/edges").await;
    assert_eq!(status, 200, "{fleet}");
    let row = fleet["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["schoolId"] == SCHOOL)
        .cloned()
        .unwrap_or_else(|| panic!("no edge row: {fleet}"));
    assert_eq!(row["lagChanges"], 0, "{row}");
    assert_eq!(row["status"], "active", "{row}");
}

/// `essp sync verify` on the edge: its output line for `table`.
fn verify_line(out: &std::process::Output, table: &str) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find(|l| l.starts_with(&format!("{table}: ")))
        .unwrap_or_else(|| {
            panic!(
                "no line for {table}: {stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_verify_names_the_rows_that_differ_reading_central_page_by_page() {
    let nats = PrivateNats::start(&[]);
    let central = central(&nats).await;
    let edge = edge(&nats, SCHOOL).await;
    let ids = create_many(&edge, SCHOOL, 25, "Verify").await;
    wait_drained(&edge).await;

    // Pages of 7 rows: central answers in many requests, and they add up.
    let verify = ["sync", "verify", "--page-rows", "7"];
    let out = edge_cli(&edge, &nats, SCHOOL, &verify);
    assert!(out.status.success(), "{}", verify_line(&out, "incidents"));
    assert_eq!(verify_line(&out, "incidents"), "incidents: same (25 rows)");
    assert_eq!(verify_line(&out, "audit_logs"), "audit_logs: same (25 rows)");

    // Central's verify compares with the digests of the edge's last
    // checkpoint; an idle edge reuses them, but not after a write.
    let same = format!("{TENANT}/{SCHOOL}: same as its last checkpoint");
    let central_says =
        || String::from_utf8_lossy(&common::run_cli(central.db(), &["sync", "verify"], &[]).stdout).into_owned();
    wait_until("central's verify agrees with the edge's checkpoint", async || {
        central_says().contains(&same)
    })
    .await;
    let mut ids = ids;
    ids.extend(create_many(&edge, SCHOOL, 1, "Later").await);
    ids.sort();
    wait_drained(&edge).await;
    wait_until("the edge reports digests with its new row", async || {
        central_says().contains(&same)
    })
    .await;

    // Behind sync's back: a row changed at the edge, and one that only
    // central still holds.
    let (changed, gone) = (&ids[3], &ids[17]);
    let at_edge = edge.db().db.as_ref();
    at_edge
        .execute(
            "UPDATE incidents SET title = 'changed at the edge' WHERE id = $1",
            &[changed.as_str().into()],
        )
        .await
        .unwrap();
    at_edge
        .execute("DELETE FROM incidents WHERE id = $1", &[gone.as_str().into()])
        .await
        .unwrap();
    let mut named = [changed.clone(), gone.clone()];
    named.sort();
    let want = format!(
        "incidents: DIFFERENT (25 rows here, 26 at central); rows: {}",
        named.join(", ")
    );
    for args in [&verify[..], &["sync", "verify"][..]] {
        let out = edge_cli(&edge, &nats, SCHOOL, args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?}: {}",
            verify_line(&out, "incidents")
        );
        assert_eq!(verify_line(&out, "incidents"), want, "{args:?}");
        assert_eq!(
            verify_line(&out, "audit_logs"),
            "audit_logs: same (26 rows)",
            "{args:?}"
        );
    }

    // Verify only reads: central's row is as the edge first sent it.
    let (_, original) = get(&central, &format!("/v1/incidents/{changed}")).await;
    assert!(original["title"].as_str().unwrap().starts_with("Verify "), "{original}");

    // A page size of 0 is a usage error, not a silent verify of nothing.
    let out = edge_cli(&edge, &nats, SCHOOL, &["sync", "verify", "--page-rows", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--page-rows"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_works_under_the_documented_per_school_nats_permissions() {
    let conf = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/nats-edge-permissions.conf");
    let nats = PrivateNats::start(&["-c", conf]);
    let central = Server::start_with(
        Backend::Postgres,
        &[
            ("NATS_URL", &nats.url()),
            ("NATS_USER", "central"),
            ("NATS_PASSWORD", "central-example-password"),
        ],
    )
    .await;
    let edge = edge_with(
        &nats,
        SCHOOL,
        &[
            ("NATS_USER", "edge-tenant-a-school-1"),
            ("NATS_PASSWORD", "school-1-example-password"),
        ],
    )
    .await;
    let id = edge.new_incident_id().await;
    let path = format!("/v1/incidents/{id}");
    wait_field(&central, &path, "status", &json!("new")).await;
    patch(&central, &format!("{path}/status"), json!({"status": "acknowledged"})).await;
    wait_field(&edge, &path, "status", &json!("acknowledged")).await;
    wait_drained(&edge).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_killed_and_restarted_mid_stream_loses_and_doubles_nothing() {
    let mut nats = PrivateNats::start(&[]);
    let central = central(&nats).await;
    let edge = edge(&nats, SCHOOL).await;
    let mut written = create_many(&edge, SCHOOL, 10, "before").await;
    nats.stop();
    // The school keeps working while the link is down.
    written.extend(create_many(&edge, SCHOOL, 10, "offline").await);
    let (_, ready) = get(&edge, "/readyz").await;
    assert!(
        ready["checks"]["sync"].as_str().unwrap().starts_with("degraded"),
        "{ready}"
    );
    let r = central
        .req(Method::PATCH, "/v1/incidents/none/status")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error());
    nats.restart();
    written.extend(create_many(&edge, SCHOOL, 10, "after").await);
    written.sort();
    wait_until("every write reached central", async || {
        incident_ids(&central, SCHOOL).await.len() >= 30
    })
    .await;
    wait_drained(&edge).await;
    assert_eq!(incident_ids(&central, SCHOOL).await, written, "each write exactly once");
    assert_converged(&edge, &nats, SCHOOL);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_incident_edited_on_both_sides_offline_converges_and_logs_the_loser() {
    let mut nats = PrivateNats::start(&[]);
    let central = central(&nats).await;
    let edge = edge(&nats, SCHOOL).await;
    let id = edge.new_incident_id().await;
    let path = format!("/v1/incidents/{id}");
    wait_field(&central, &path, "id", &json!(id)).await;
    wait_drained(&edge).await;

    nats.stop();
    // Different fields merge; the same field goes to the later write.
    patch(&edge, &path, json!({"title": "edge title", "category": "hardware"})).await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    patch(
        &central,
        &path,
        json!({"title": "central title", "description": "seen by the county"}),
    )
    .await;
    nats.restart();

    let at_edge = wait_field(&edge, &path, "title", &json!("central title")).await;
    assert_eq!(at_edge["description"], "seen by the county");
    assert_eq!(at_edge["category"], "hardware");
    let at_central = wait_field(&central, &path, "category", &json!("hardware")).await;
    assert_eq!(at_central["title"], "central title");
    wait_drained(&edge).await;
    assert_converged(&edge, &nats, SCHOOL);

    // The edge's title was not lost silently: both logs name it.
    for node in [&central, &edge] {
        let (status, log) = get(node, "/v1/sync/conflicts").await;
        assert_eq!(status, 200, "{log}");
        let hit = log["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["rowId"] == json!(id) && c["field"] == "title")
            .cloned()
            .unwrap_or_else(|| panic!("no conflict for the title: {log}"));
        assert_eq!(hit["lostValue"], "edge title", "{hit}");
        assert_eq!(hit["keptValue"], "central title", "{hit}");
    }
}

fn libfaketime() -> String {
    [
        "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
        "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).exists())
    .expect("libfaketime is required (apt-get install faketime)")
    .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edge_clock_two_hours_ahead_never_wins_by_its_clock() {
    let mut nats = PrivateNats::start(&[]);
    let central = central(&nats).await;
    nats.stop();
    // The box's clock is two hours fast, and it starts offline.
    let lib = libfaketime();
    let edge = edge_with(
        &nats,
        SCHOOL,
        &[("LD_PRELOAD", &lib), ("FAKETIME", "+2h"), ("DONT_FAKE_MONOTONIC", "1")],
    )
    .await;
    let created = edge.new_incident().await;
    let id = created["id"].as_str().unwrap();
    let path = format!("/v1/incidents/{id}");
    let stamped = chrono::DateTime::parse_from_rfc3339(created["createdAt"].as_str().unwrap()).unwrap();
    assert!(
        stamped > chrono::Utc::now() + chrono::Duration::minutes(100),
        "faketime is not in effect: {stamped}"
    );
    nats.restart();
    wait_field(&central, &path, "id", &json!(id)).await;
    // Central quarantined the clock and said so.
    let (_, log) = get(&central, "/v1/sync/conflicts").await;
    assert!(
        log["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["rowId"] == json!(id) && c["reason"] == "clock_ahead"),
        "{log}"
    );
    wait_drained(&edge).await;
    // A central edit made now wins on both sides, though the edge's own
    // clock says its write is two hours later.
    patch(&central, &path, json!({"title": "fixed at the county"})).await;
    wait_field(&edge, &path, "title", &json!("fixed at the county")).await;
    // And the edge, now stamping with central's time, still edits normally.
    patch(&edge, &path, json!({"title": "school follow-up"})).await;
    wait_field(&central, &path, "title", &json!("school follow-up")).await;
    wait_drained(&edge).await;
    assert_converged(&edge, &nats, SCHOOL);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_and_sync_worker_killed_mid_stream_count_every_write_once() {
    let nats = PrivateNats::start(&[]);
    let mut central = central(&nats).await;
    let mut edge = edge(&nats, SCHOOL).await;
    let mut written = Vec::new();
    let mut from_central = Vec::new();
    for round in 0..3 {
        // Writes race the publisher; kill -9 the edge while it sends…
        written.extend(create_many(&edge, SCHOOL, 15, &format!("round {round}")).await);
        edge = edge.restart().await;
        // …and the sync-worker while it applies.
        written.extend(create_many(&edge, SCHOOL, 15, &format!("round {round} b")).await);
        central = central.restart().await;
        // Central's own writes stream down while the edge is killed again
        // mid-apply.
        from_central.extend(create_many(&central, SCHOOL, 15, &format!("round {round} central")).await);
        edge = edge.restart().await;
    }
    let mut all: Vec<String> = written.iter().chain(&from_central).cloned().collect();
    all.sort();
    wait_until("every write reached both sides", async || {
        incident_ids(&central, SCHOOL).await.len() >= all.len() && incident_ids(&edge, SCHOOL).await.len() >= all.len()
    })
    .await;
    wait_drained(&edge).await;
    assert_eq!(
        incident_ids(&central, SCHOOL).await,
        all,
        "each write exactly once, centrally"
    );
    assert_eq!(
        incident_ids(&edge, SCHOOL).await,
        all,
        "each write exactly once, at the edge"
    );
    assert_converged(&edge, &nats, SCHOOL);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_old_backup_is_refused_until_reenrolled_and_nothing_is_lost() {
    let nats = PrivateNats::start(&[]);
    let central = central(&nats).await;
    let mut edge = edge(&nats, SCHOOL).await;
    let early = create_many(&edge, SCHOOL, 3, "early").await;
    wait_drained(&edge).await;
    let backup = tempfile::tempdir().unwrap();
    let file = backup.path().join("edge.db");
    let out = edge_cli(&edge, &nats, SCHOOL, &["backup", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let late = create_many(&edge, SCHOOL, 3, "late").await;
    wait_drained(&edge).await;

    // The box dies; someone restores last week's backup onto it.
    edge.child.kill().unwrap();
    edge.child.wait().unwrap();
    let out = edge_cli(&edge, &nats, SCHOOL, &["restore", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let edge = edge.restart().await;
    wait_until("the restored edge says it must re-enroll", async || {
        get(&edge, "/v1/sync/status").await.1["state"] == "reenroll"
    })
    .await;
    // It works locally, but nothing it writes reaches central meanwhile…
    let offline = create_many(&edge, SCHOOL, 1, "while refused").await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert!(!incident_ids(&central, SCHOOL).await.contains(&offline[0]));
    // …until an operator re-enrolls it: then the school's rows come back
    // from central, its pending write goes up, and both sides agree.
    let out = edge_cli(&edge, &nats, SCHOOL, &["edge", "enroll"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut all: Vec<String> = early.into_iter().chain(late).chain(offline).collect();
    all.sort();
    for _ in 0..200 {
        if incident_ids(&central, SCHOOL).await == all && incident_ids(&edge, SCHOOL).await == all {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        incident_ids(&central, SCHOOL).await,
        all,
        "central; edge status {}",
        get(&edge, "/v1/sync/status").await.1
    );
    assert_eq!(incident_ids(&edge, SCHOOL).await, all, "edge");
    wait_drained(&edge).await;
    assert_converged(&edge, &nats, SCHOOL);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cloned_box_is_refused() {
    let nats = PrivateNats::start(&[]);
    let central = central(&nats).await;
    let edge = edge(&nats, SCHOOL).await;
    edge.new_incident_id().await;
    wait_drained(&edge).await;
    // Copy the box's database to a second box (another machine id).
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("essp.db");
    let out = edge_cli(&edge, &nats, SCHOOL, &["backup", copy.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let clone_db = essp_testkit::TestDb::sqlite_copy_of(&copy).await;
    let mut env = edge_env(&nats, SCHOOL);
    env.retain(|(k, _)| k != "ESSP_EDGE_HOST_ID");
    env.push(("ESSP_EDGE_HOST_ID".into(), "the-clone".into()));
    let clone = Server::start_on(clone_db, &pairs(&env)).await;
    let id = clone.new_incident_id().await;
    wait_until("central refuses the clone", async || {
        get(&clone, "/v1/sync/status").await.1["state"] == "reenroll"
    })
    .await;
    let (_, status) = get(&clone, "/v1/sync/status").await;
    assert!(status["message"].as_str().unwrap().contains("clone"), "{status}");
    assert!(!incident_ids(&central, SCHOOL).await.contains(&id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_trimmed_past_the_edge_cursor_forces_a_rebootstrap() {
    let mut nats = PrivateNats::start(&[]);
    let central = central(&nats).await;
    let edge = edge(&nats, SCHOOL).await;
    let id = edge.new_incident_id().await;
    let path = format!("/v1/incidents/{id}");
    wait_field(&central, &path, "id", &json!(id)).await;
    wait_drained(&edge).await;
    // The edge goes offline; central changes the school's incident and the
    // stream then loses those changes (retention ran out).
    let mut edge = edge;
    edge.child.kill().unwrap();
    edge.child.wait().unwrap();
    patch(&central, &format!("{path}/status"), json!({"status": "acknowledged"})).await;
    let client = async_nats::connect(nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(client);
    wait_until("central published the change", async || {
        let mut s = js.get_stream("ESSP_SYNC_DOWN").await.unwrap();
        s.info().await.unwrap().state.messages > 0
    })
    .await;
    js.get_stream("ESSP_SYNC_DOWN").await.unwrap().purge().await.unwrap();
    nats.restart();

    let edge = edge.restart().await;
    wait_until("the edge reports it must re-bootstrap", async || {
        get(&edge, "/v1/sync/status").await.1["state"] == "rebootstrap"
    })
    .await;
    // It never skipped silently past the gap.
    assert_eq!(get(&edge, &path).await.1["status"], "new");
    let out = edge_cli(&edge, &nats, SCHOOL, &["edge", "enroll", "--renew"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    wait_field(&edge, &path, "status", &json!("acknowledged")).await;
    assert_converged(&edge, &nats, SCHOOL);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_edges_sync_at_once_and_each_sees_only_its_school() {
    let nats = PrivateNats::start(&[]);
    let central = central(&nats).await;
    let schools = ["school-1", "school-2", "school-3"];
    let mut edges = Vec::new();
    for s in schools {
        edges.push(edge(&nats, s).await);
    }
    let writes = futures::future::join_all(edges.iter().zip(schools).map(|(e, s)| create_many(e, s, 12, s))).await;
    for ((e, s), ids) in edges.iter().zip(schools).zip(&writes) {
        wait_until("the school's writes reached central", async || {
            incident_ids(&central, s).await == *ids
        })
        .await;
        wait_drained(e).await;
        // A central edit of this school reaches its edge only.
        let path = format!("/v1/incidents/{}", ids[0]);
        let r = as_school(&central, s, Method::PATCH, &format!("{path}/status"))
            .json(&json!({"status": "acknowledged"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    for ((e, s), ids) in edges.iter().zip(schools).zip(&writes) {
        let path = format!("/v1/incidents/{}", ids[0]);
        wait_until("the central edit reached the school", async || {
            as_school(e, s, Method::GET, &path)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()["status"]
                == "acknowledged"
        })
        .await;
        assert_eq!(
            incident_ids(e, s).await,
            *ids,
            "an edge holds its own school's incidents only"
        );
        for other in schools.iter().filter(|o| *o != &s) {
            assert!(incident_ids(e, other).await.is_empty(), "{s} holds rows of {other}");
        }
        assert_converged(e, &nats, s);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_carried_on_a_usb_stick_enrolls_a_box_with_no_link() {
    let mut nats = PrivateNats::start(&[]);
    let central = central(&nats).await;
    let at_central = create_many(&central, SCHOOL, 5, "known centrally").await;
    let stick = tempfile::tempdir().unwrap();
    let file = stick.path().join("school-1.snapshot");
    let out = common::run_cli(
        central.db(),
        &[
            "edge",
            "export-snapshot",
            "--tenant",
            TENANT,
            "--school",
            SCHOOL,
            file.to_str().unwrap(),
        ],
        &[("NATS_URL", &nats.url())],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // The box has no link at all when the stick arrives.
    nats.stop();
    let edge = edge(&nats, SCHOOL).await;
    // A file that is not a snapshot is refused, changing nothing.
    let junk = stick.path().join("photo.jpg");
    std::fs::write(&junk, b"\xFF\xD8 not a snapshot").unwrap();
    let out = edge_cli(
        &edge,
        &nats,
        SCHOOL,
        &["edge", "import-snapshot", junk.to_str().unwrap()],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not an ESSP edge snapshot"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A snapshot for another school is refused, changing nothing.
    let mut env = edge_env(&nats, "school-2");
    env.retain(|(k, _)| k != "ESSP_SCHOOL_ID");
    let wrong = common::run_cli(
        edge.db(),
        &["edge", "import-snapshot", file.to_str().unwrap()],
        &[pairs(&env), vec![("ESSP_SCHOOL_ID", "school-2")]].concat(),
    );
    assert!(!wrong.status.success());
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("this snapshot is for"),
        "{}",
        String::from_utf8_lossy(&wrong.stderr)
    );
    assert!(incident_ids(&edge, SCHOOL).await.is_empty());

    let out = edge_cli(
        &edge,
        &nats,
        SCHOOL,
        &["edge", "import-snapshot", file.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(incident_ids(&edge, SCHOOL).await, at_central);
    let mine = create_many(&edge, SCHOOL, 2, "written offline").await;

    // When the link comes up, the box syncs from where the snapshot left off.
    nats.restart();
    let mut all: Vec<String> = at_central.into_iter().chain(mine).collect();
    all.sort();
    wait_until("the edge's writes reached central", async || {
        incident_ids(&central, SCHOOL).await == all
    })
    .await;
    wait_drained(&edge).await;
    assert_converged(&edge, &nats, SCHOOL);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn central_owned_shops_and_staff_follow_central_down_to_the_edge() {
    let nats = PrivateNats::start(&[]);
    let central = central(&nats).await;
    // A shop that exists before the school's edge does reaches it in the
    // enrollment copy; later ones, edits and deletions in the stream.
    let before = expect(
        &central,
        Method::POST,
        "/v1/service-shops",
        Some(json!({"name": "Nairobi Central", "countyCode": "047"})),
        201,
    )
    .await;
    let edge = edge(&nats, SCHOOL).await;
    let shop_path = format!("/v1/service-shops/{}", before["id"].as_str().unwrap());
    wait_field(&edge, &shop_path, "name", &json!("Nairobi Central")).await;

    let later = expect(
        &central,
        Method::POST,
        "/v1/service-shops",
        Some(json!({"name": "Westlands", "countyCode": "047"})),
        201,
    )
    .await;
    let staff = expect(
        &central,
        Method::POST,
        "/v1/service-staff",
        Some(json!({"serviceShopId": later["id"], "userId": "kc-user-1", "role": "lead_technician"})),
        201,
    )
    .await;
    let later_path = format!("/v1/service-shops/{}", later["id"].as_str().unwrap());
    let staff_path = format!("/v1/service-staff/{}", staff["id"].as_str().unwrap());
    wait_field(&edge, &staff_path, "userId", &json!("kc-user-1")).await;
    patch(&central, &later_path, json!({"name": "Westlands Repair Hub"})).await;
    wait_field(&edge, &later_path, "name", &json!("Westlands Repair Hub")).await;
    expect(&central, Method::DELETE, &staff_path, None, 204).await;
    wait_until("the deletion reached the edge", async || {
        get(&edge, &staff_path).await.0 == 404
    })
    .await;

    // The edge cannot change them (its API says so; a forged envelope
    // would be refused by central too — see the storage tests).
    let r = edge
        .req(Method::PATCH, &later_path)
        .json(&json!({"name": "mine"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_converged(&edge, &nats, SCHOOL);
    let out = edge_cli(&edge, &nats, SCHOOL, &["sync", "verify"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("service_shops: same (2 rows)"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projects_come_down_and_an_edge_cannot_change_them() {
    let nats = PrivateNats::start(&[]);
    let central = central(&nats).await;
    let edge = edge(&nats, SCHOOL).await;
    // A template (the tenant's), a project of the school and a phase whose
    // checklist is copied from the template.
    expect(
        &central,
        Method::POST,
        "/v1/checklist-templates",
        Some(json!({"phaseType": "survey", "title": "Walk every room"})),
        201,
    )
    .await;
    let project = expect(
        &central,
        Method::POST,
        "/v1/projects",
        Some(json!({"notes": "rollout"})),
        201,
    )
    .await;
    let project_path = format!("/v1/projects/{}", id_of(&project));
    let phase = expect(
        &central,
        Method::POST,
        &format!("{project_path}/phases"),
        Some(json!({"phaseType": "survey"})),
        201,
    )
    .await;
    let phase_id = id_of(&phase);
    patch(
        &central,
        &format!("/v1/phases/{phase_id}/status"),
        json!({"status": "in_progress"}),
    )
    .await;
    let checklist = format!("/v1/phases/{phase_id}/checklist");
    wait_until("the project reached the edge", async || {
        let (status, items) = get(&edge, &checklist).await;
        status == 200 && items["items"].as_array().is_some_and(|i| i.len() == 1)
    })
    .await;
    wait_field(&edge, &project_path, "notes", &json!("rollout")).await;
    // The status change is central's later transaction, so it comes down in
    // a later envelope than the phase and its checklist.
    let phases_path = format!("{project_path}/phases");
    wait_until("the phase's status reached the edge", async || {
        let (status, phases) = get(&edge, &phases_path).await;
        status == 200 && phases["items"][0]["status"] == "in_progress"
    })
    .await;
    let (_, items) = get(&edge, &checklist).await;
    let item_id = items["items"][0]["id"].as_str().unwrap().to_owned();

    // Every write to them on the edge is refused with a problem document,
    // before anything is written.
    let writes = [
        (Method::POST, "/v1/projects".to_owned(), json!({})),
        (
            Method::POST,
            format!("{project_path}/phases"),
            json!({"phaseType": "install"}),
        ),
        (
            Method::PATCH,
            format!("/v1/phases/{phase_id}/status"),
            json!({"status": "done"}),
        ),
        (Method::PATCH, format!("{checklist}/{item_id}"), json!({"done": true})),
        (
            Method::POST,
            "/v1/checklist-templates".to_owned(),
            json!({"phaseType": "survey", "title": "mine"}),
        ),
        (Method::POST, format!("{project_path}/surveys"), json!({})),
    ];
    for (method, path, body) in writes {
        let r = edge.req(method.clone(), &path).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 403, "{method} {path}");
        assert_eq!(
            r.headers()["content-type"].to_str().unwrap(),
            "application/problem+json",
            "{method} {path}"
        );
        let problem: Value = r.json().await.unwrap();
        assert!(
            problem["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("managed centrally"),
            "{method} {path}: {problem}"
        );
    }
    let (_, items) = get(&edge, &checklist).await;
    assert_eq!(items["items"][0]["done"], false, "{items}");
    let (_, status) = get(&edge, "/v1/sync/status").await;
    assert_eq!(status["lastSeq"], 0, "the edge captured nothing: {status}");
    assert_converged(&edge, &nats, SCHOOL);
    let out = edge_cli(&edge, &nats, SCHOOL, &["sync", "verify"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    for line in [
        "projects: same (1 rows)",
        "phases: same (1 rows)",
        "phase_checklist_items: same (1 rows)",
        "checklist_templates: same (1 rows)",
    ] {
        assert!(stdout.contains(line), "{line}: {stdout}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_taken_offline_reaches_central_and_is_shown_only_with_its_content() {
    let mut nats = PrivateNats::start(&[]);
    let central = central(&nats).await;
    let edge = edge(&nats, SCHOOL).await;
    let inc = edge.new_incident_id().await;
    wait_drained(&edge).await;
    nats.stop();
    // Three chunks and a bit, taken with the link down.
    let photo: Vec<u8> = (0..800_000u32).map(|i| (i * 31 % 251) as u8).collect();
    let r = edge
        .req(
            Method::POST,
            &format!("/v1/attachments?entityType=incident&entityId={inc}&fileName=screen.jpg"),
        )
        .header("Content-Type", "image/jpeg")
        .body(photo.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/attachments/{id}");
    nats.restart();

    // Central shows it only once the content is there, and then byte for byte.
    wait_until("the photo reached central", async || {
        get(&central, &path).await.0 == 200
    })
    .await;
    let content = central
        .req(Method::GET, &format!("{path}/content"))
        .send()
        .await
        .unwrap();
    assert_eq!(content.status(), 200);
    assert_eq!(content.bytes().await.unwrap().to_vec(), photo);
    let (_, listed) = get(&central, &format!("/v1/attachments?entityType=incident&entityId={inc}")).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");
    wait_drained(&edge).await;
    assert_converged(&edge, &nats, SCHOOL);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_uploaded_centrally_reaches_the_edge_byte_for_byte() {
    let mut nats = PrivateNats::start(&[]);
    // Central keeps attachments in S3-compatible object storage.
    let moto = essp_testkit::PrivateMoto::start("essp-test-edge-blobs");
    let endpoint = moto.endpoint();
    let central = Server::start_with(
        Backend::Postgres,
        &[
            ("NATS_URL", nats.url().as_str()),
            ("MINIO_ENDPOINT", endpoint.as_str()),
            ("MINIO_ACCESS_KEY", "test"),
            ("MINIO_SECRET_KEY", "test"),
            ("ATTACHMENTS_BUCKET", "essp-test-edge-blobs"),
        ],
    )
    .await;
    let edge = edge(&nats, SCHOOL).await;
    let project = expect(&central, Method::POST, "/v1/projects", Some(json!({})), 201).await;
    let survey = expect(
        &central,
        Method::POST,
        &format!("/v1/projects/{}/surveys", id_of(&project)),
        Some(json!({"summary": "two labs"})),
        201,
    )
    .await;
    let survey_path = format!("/v1/surveys/{}", id_of(&survey));
    wait_field(&edge, &survey_path, "summary", &json!("two labs")).await;
    // The edge is offline while the photo is uploaded centrally: it fetches
    // the content (three chunks and a bit) once the link is back.
    nats.stop();
    let photo: Vec<u8> = (0..800_000u32).map(|i| (i * 13 % 241) as u8).collect();
    let r = central
        .req(
            Method::POST,
            &format!(
                "/v1/attachments?entityType=survey&entityId={}&fileName=rack.jpg",
                id_of(&survey)
            ),
        )
        .header("Content-Type", "image/jpeg")
        .body(photo.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let attachment = r.json::<Value>().await.unwrap();
    expect(
        &central,
        Method::POST,
        &format!("{survey_path}/photos"),
        Some(json!({"attachmentId": id_of(&attachment), "caption": "the rack"})),
        201,
    )
    .await;
    nats.restart();
    let path = format!("/v1/attachments/{}", id_of(&attachment));
    wait_until("the photo reached the edge", async || get(&edge, &path).await.0 == 200).await;
    let content = edge.req(Method::GET, &format!("{path}/content")).send().await.unwrap();
    assert_eq!(content.status(), 200);
    assert_eq!(content.bytes().await.unwrap().to_vec(), photo, "byte for byte");
    let (_, at_edge) = get(&edge, &survey_path).await;
    assert_eq!(at_edge["photos"][0]["attachmentId"], attachment["id"], "{at_edge}");
    assert_converged(&edge, &nats, SCHOOL);
    let out = edge_cli(&edge, &nats, SCHOOL, &["sync", "verify"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    for line in ["attachments: same (1 rows)", "survey_photos: same (1 rows)"] {
        assert!(stdout.contains(line), "{line}: {stdout}");
    }
    let (_, status) = get(&edge, "/v1/sync/status").await;
    assert_eq!(status["lastSeq"], 0, "nothing of central's goes back up: {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn central_never_shows_an_attachment_whose_content_has_not_arrived() {
    let mut nats = PrivateNats::start(&[]);
    let central = central(&nats).await;
    let edge = edge(&nats, SCHOOL).await;
    let inc = edge.new_incident_id().await;
    wait_drained(&edge).await;
    nats.stop();
    let r = edge
        .req(
            Method::POST,
            &format!("/v1/attachments?entityType=incident&entityId={inc}&fileName=a.jpg"),
        )
        .header("Content-Type", "image/jpeg")
        .body(vec![0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let a: Value = r.json().await.unwrap();
    // The edge's copy of the content is lost before it could be sent (a
    // failed disk): its row still goes to central…
    let dir = std::path::Path::new(&edge.db().url)
        .parent()
        .unwrap()
        .join("attachments");
    let key = format!("{TENANT}/{SCHOOL}/{}", a["id"].as_str().unwrap());
    std::fs::remove_file(dir.join(key)).unwrap();
    nats.restart();
    wait_drained(&edge).await;
    assert_converged(&edge, &nats, SCHOOL);
    // …but central neither lists nor serves an attachment without content.
    let path = format!("/v1/attachments/{}", a["id"].as_str().unwrap());
    assert_eq!(get(&central, &path).await.0, 404);
    assert_eq!(
        central
            .req(Method::GET, &format!("{path}/content"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let (_, listed) = get(&central, &format!("/v1/attachments?entityType=incident&entityId={inc}")).await;
    assert_eq!(listed["items"], json!([]), "{listed}");
    assert_eq!(get(&central, &format!("/v1/incidents/{inc}")).await.0, 200);
}

/// `(available, reserved)` of a part at a shop, as `s` sees it.
async fn stock(s: &Server, shop: &str, part: &str) -> Option<(i64, i64)> {
    let (_, list) = get(s, &format!("/v1/inventory?serviceShopId={shop}&partId={part}")).await;
    let item = list["items"].as_array()?.first()?.clone();
    Some((item["qtyAvailable"].as_i64()?, item["qtyReserved"].as_i64()?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bom_reservations_made_at_an_edge_are_checked_against_central_stock() {
    let mut nats = PrivateNats::start(&[]);
    let central = central(&nats).await;
    let edge = edge(&nats, SCHOOL).await;
    let shop = expect(
        &central,
        Method::POST,
        "/v1/service-shops",
        Some(json!({"name": "Depot", "countyCode": "047"})),
        201,
    )
    .await;
    let shop = shop["id"].as_str().unwrap().to_owned();
    let part = format!("part_{}", ulid::Ulid::new());
    let upsert = json!({"serviceShopId": shop, "partId": part, "qtyAvailable": 5, "reorderThreshold": 1});
    expect(&central, Method::POST, "/v1/inventory/upsert", Some(upsert), 200).await;
    // Stock levels come down to the school.
    wait_until("the stock reached the edge", async || {
        stock(&edge, &shop, &part).await == Some((5, 0))
    })
    .await;
    let wo_body = json!({"deviceId": "dev_1", "taskType": "repair", "serviceShopId": shop});
    let wo = expect(&edge, Method::POST, "/v1/work-orders", Some(wo_body), 201).await;
    let items = format!("/v1/work-orders/{}/bom/items", wo["id"].as_str().unwrap());

    // A reservation at the school is re-run on central's stock.
    let line = expect(
        &edge,
        Method::POST,
        &items,
        Some(json!({"partId": part, "qtyPlanned": 2})),
        201,
    )
    .await;
    wait_until("central reserved the parts", async || {
        stock(&central, &shop, &part).await == Some((5, 2))
    })
    .await;
    wait_drained(&edge).await;

    // Offline, the school reserves 3 more while central hands 2 of the
    // remaining 3 to another job: both cannot be true.
    nats.stop();
    let second = expect(
        &edge,
        Method::POST,
        &items,
        Some(json!({"partId": part, "qtyPlanned": 3})),
        201,
    )
    .await;
    assert_eq!(stock(&edge, &shop, &part).await, Some((5, 5)));
    let other = json!({"deviceId": "dev_9", "taskType": "repair", "serviceShopId": shop});
    let other = expect(&central, Method::POST, "/v1/work-orders", Some(other), 201).await;
    let other_items = format!("/v1/work-orders/{}/bom/items", other["id"].as_str().unwrap());
    expect(
        &central,
        Method::POST,
        &other_items,
        Some(json!({"partId": part, "qtyPlanned": 2})),
        201,
    )
    .await;
    nats.restart();

    // Central refuses the school's second line, says why, and its own
    // state comes back down: nothing is oversold, and both sides agree.
    wait_until("the school sees the rejection", async || {
        let (_, r) = get(&edge, "/v1/sync/rejections").await;
        r["items"]
            .as_array()
            .is_some_and(|i| i.iter().any(|x| x["rowId"] == second["id"]))
    })
    .await;
    let (_, r) = get(&edge, "/v1/sync/rejections").await;
    let rejection = r["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["rowId"] == second["id"])
        .unwrap()
        .clone();
    assert!(
        rejection["reason"].as_str().unwrap().contains("does not cover"),
        "{rejection}"
    );
    wait_until("the edge's stock follows central's", async || {
        stock(&edge, &shop, &part).await == Some((5, 4))
    })
    .await;
    assert_eq!(stock(&central, &shop, &part).await, Some((5, 4)));
    // The refused line stays, emptied, on both sides; the accepted one holds.
    let bom = format!("/v1/work-orders/{}/bom", wo["id"].as_str().unwrap());
    let planned = |list: &Value, id: &Value| {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == *id)
            .map(|i| i["qtyPlanned"].clone())
    };
    wait_until("the edge's line follows central's", async || {
        planned(&get(&edge, &bom).await.1, &second["id"]) == Some(json!(0))
    })
    .await;
    for node in [&edge, &central] {
        let (_, list) = get(node, &bom).await;
        assert_eq!(planned(&list, &line["id"]), Some(json!(2)), "{list}");
        assert_eq!(planned(&list, &second["id"]), Some(json!(0)), "{list}");
    }
    wait_drained(&edge).await;
    assert_converged(&edge, &nats, SCHOOL);
}

/// The `id` of a JSON answer.
fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

/// A GET as `school`: status and body.
async fn fetch_at(s: &Server, school: &str, path: &str) -> (u16, Value) {
    let r = as_school(s, school, Method::GET, path).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Waits until `path` answers `want` at `school` on `s`; returns the body.
async fn wait_status_at(s: &Server, school: &str, path: &str, want: u16) -> Value {
    let mut last = Value::Null;
    wait_until(&format!("{path} answers {want}"), async || {
        let (status, body) = fetch_at(s, school, path).await;
        last = body;
        status == want
    })
    .await;
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssot_data_comes_down_to_each_school_and_serves_incidents_offline() {
    let mut nats = PrivateNats::start(&[]);
    let central = central(&nats).await;
    // Central's SSOT services hold the reference data; the sync-worker keeps
    // IMS's snapshots from their events.
    let post = async |path: &str, body: Value| expect(&central, Method::POST, path, Some(body), 201).await;
    let county = id_of(&post("/v1/counties", json!({"name": "Nairobi", "code": "047"})).await);
    let school = async |name: &str, code: &str| {
        id_of(&post("/v1/schools", json!({"name": name, "code": code, "countyId": county})).await)
    };
    let (a, b) = (
        school("Moi Avenue Primary", "MAP-001").await,
        school("Kilimani Primary", "KIL-002").await,
    );
    let model = id_of(&post("/v1/device-models", json!({"make": "Lenovo", "model": "100e"})).await);
    let part = id_of(&post("/v1/parts", json!({"puk": "PUK-SCREEN", "name": "Screen 11.6in"})).await);
    let device = async |serial: &str, school: &str| {
        id_of(
            &post(
                "/v1/devices",
                json!({"serial": serial, "deviceModelId": model, "schoolId": school}),
            )
            .await,
        )
    };
    let (d1, d2, d3, gone) = (
        device("SN-1", &a).await,
        device("SN-2", &a).await,
        device("SN-3", &b).await,
        device("SN-4", &a).await,
    );
    wait_status_at(&central, &a, &format!("/v1/ssot/device/{gone}"), 200).await;

    // School A's edge enrolls: its school, devices and the catalogues,
    // nothing of school B.
    let edge = edge(&nats, &a).await;
    let at_edge = async |path: String, want: u16| wait_status_at(&edge, &a, &path, want).await;
    let got = at_edge(format!("/v1/ssot/device/{d1}"), 200).await;
    assert_eq!(got["serial"], "SN-1", "{got}");
    at_edge(format!("/v1/ssot/school/{a}"), 200).await;
    at_edge(format!("/v1/ssot/part/{part}"), 200).await;
    let status_at_edge = async |path: String| fetch_at(&edge, &a, &path).await.0;
    assert_eq!(
        status_at_edge(format!("/v1/ssot/device/{d3}")).await,
        404,
        "another school's device"
    );
    assert_eq!(
        status_at_edge(format!("/v1/ssot/school/{b}")).await,
        404,
        "another school's row"
    );
    // Its snapshots come from central, never from a local SSOT sync.
    let r = as_school(&edge, &a, Method::POST, "/v1/ssot/sync/devices")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // Central changes a device, moves one to school B, deletes one and adds
    // one: the edge follows.
    let patch_device = async |id: &str, body: Value| patch(&central, &format!("/v1/devices/{id}"), body).await;
    patch_device(&d1, json!({"assetTag": "AT-0001"})).await;
    patch_device(&d2, json!({"schoolId": b})).await;
    expect(&central, Method::DELETE, &format!("/v1/devices/{gone}"), None, 204).await;
    let d5 = device("SN-5", &a).await;
    wait_until("the edit reached the edge", async || {
        fetch_at(&edge, &a, &format!("/v1/ssot/device/{d1}")).await.1["assetTag"] == "AT-0001"
    })
    .await;
    at_edge(format!("/v1/ssot/device/{d2}"), 404).await;
    at_edge(format!("/v1/ssot/device/{gone}"), 404).await;
    at_edge(format!("/v1/ssot/device/{d5}"), 200).await;

    // Offline, an incident at the school resolves its device from what
    // came down; a device of another school is not the school's.
    nats.stop();
    let report = async |device: &str| {
        as_school(&edge, &a, Method::POST, "/v1/incidents")
            .json(&json!({"deviceId": device, "title": "Cracked screen"}))
            .send()
            .await
            .unwrap()
    };
    let r = report(&d5).await;
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    assert_eq!(created["deviceSerial"], "SN-5", "{created}");
    assert_eq!(created["schoolName"], "Moi Avenue Primary", "{created}");
    assert_eq!(created["deviceMake"], "Lenovo", "{created}");
    assert_eq!(report(&d3).await.status(), 422, "school B's device");

    nats.restart();
    let path = format!("/v1/incidents/{}", created["id"].as_str().unwrap());
    let at_central = wait_status_at(&central, &a, &path, 200).await;
    assert_eq!(at_central["deviceSerial"], "SN-5");
    wait_drained(&edge).await;
    assert_converged(&edge, &nats, &a);
    let out = edge_cli(&edge, &nats, &a, &["sync", "verify"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    for line in [
        "devices_snapshot: same (3 rows)",
        "schools_snapshot: same (1 rows)",
        "parts_snapshot: same (1 rows)",
    ] {
        assert!(stdout.contains(line), "{line}:\n{stdout}");
    }
}
