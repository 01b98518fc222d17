//! SSOT changes reaching IMS's snapshots: through JetStream (with NATS
//! killed mid-way), through the HTTP change feed between separately
//! deployed roles, and never regressing on duplicate or late delivery.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{Backend, Server, TENANT, TestDb, assert_problem, call, expect, wait_until};
use essp_domain::ssot::{self, SsotRow};
use essp_store::ssot_snapshot;
use essp_testkit::PrivateNats;
use reqwest::Method;
use serde_json::{Value, json};

async fn devices_total(s: &Server) -> i64 {
    let v = expect(s, Method::GET, "/v1/ssot/devices?limit=1", None, 200).await;
    v["total"].as_i64().unwrap()
}

/// Changes go out through JetStream; while NATS is down they wait in the
/// outbox and are published once it is back.
async fn events_survive_a_nats_outage(backend: Backend) {
    let mut nats = PrivateNats::start(&[]);
    let s = Server::start_with(backend, &[("NATS_URL", &nats.url())]).await;
    let model = expect(
        &s,
        Method::POST,
        "/v1/device-models",
        Some(json!({"make": "Acer", "model": "TravelMate"})),
        201,
    )
    .await;
    expect(
        &s,
        Method::POST,
        "/v1/devices",
        Some(json!({"serial": "EV-0", "deviceModelId": model["id"]})),
        201,
    )
    .await;
    wait_until("the first device in the snapshot", async || {
        devices_total(&s).await == 1
    })
    .await;
    let metrics = s
        .http
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("essp_ssot_events_published_total") && !l.ends_with(" 0")),
        "events went through JetStream:\n{metrics}"
    );

    nats.stop();
    let mut csv = String::from("serial,make,model\n");
    for i in 1..=50 {
        csv.push_str(&format!("EV-{i},Acer,TravelMate\n"));
    }
    let r = s
        .req(Method::POST, "/v1/import/csv/devices")
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        200,
        "the import commits with NATS down: {}",
        r.text().await.unwrap()
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        devices_total(&s).await,
        1,
        "nothing can reach the snapshot without NATS"
    );

    nats.restart();
    wait_until("the imported devices after NATS returned", async || {
        devices_total(&s).await == 51
    })
    .await;
}

/// Separately deployed roles: `ssot-devices` on its own database, IMS and
/// the sync-worker on another, the worker reconciling over HTTP.
async fn roles_reconcile_over_http() {
    let ssot = Server::start_with(Backend::Postgres, &[("ESSP_ROLE", "ssot-devices")]).await;
    let ims_db = TestDb::empty(Backend::Postgres).await;
    let ims_url = ims_db.url.clone();
    let feed = [
        ("DEVICE_SSOT_BASE_URL", ssot.base.as_str()),
        ("ENABLE_SSOT_SYNC", "true"),
        ("SSOT_SYNC_INTERVAL", "1s"),
        ("ESSP_SSOT_TENANTS", TENANT),
    ];
    let mut worker_env = feed.to_vec();
    worker_env.push(("ESSP_ROLE", "sync-worker"));
    let worker = Server::start_on(ims_db, &worker_env).await;
    let mut ims_env = feed.to_vec();
    ims_env.extend([("ESSP_ROLE", "ims-api"), ("PG_DSN", ims_url.as_str())]);
    let ims = Server::start_with(Backend::Postgres, &ims_env).await;

    // The SSOT role serves only its own kinds; the IMS role none of them.
    assert_problem(call(&ssot, Method::GET, "/v1/incidents", None).await, 404, "not-found").await;
    assert_problem(call(&ims, Method::GET, "/v1/devices", None).await, 404, "not-found").await;
    assert_problem(
        call(&worker, Method::GET, "/v1/incidents", None).await,
        404,
        "not-found",
    )
    .await;

    let model = expect(
        &ssot,
        Method::POST,
        "/v1/device-models",
        Some(json!({"make": "Dell", "model": "3190"})),
        201,
    )
    .await;
    let d1 = expect(
        &ssot,
        Method::POST,
        "/v1/devices",
        Some(json!({"serial": "RC-1", "deviceModelId": model["id"]})),
        201,
    )
    .await;
    // The periodic reconcile brings it over (no NATS anywhere here).
    wait_until("RC-1 at IMS", async || {
        call(&ims, Method::GET, "/v1/ssot/device/serial/RC-1", None)
            .await
            .status()
            == 200
    })
    .await;
    let synced = expect(&ims, Method::POST, "/v1/ssot/sync/devices", None, 200).await;
    assert_eq!(synced["ok"], true);

    // A delete travels as a tombstone.
    expect(
        &ssot,
        Method::DELETE,
        &format!("/v1/devices/{}", d1["id"].as_str().unwrap()),
        None,
        204,
    )
    .await;
    expect(
        &ssot,
        Method::POST,
        "/v1/devices",
        Some(json!({"serial": "RC-2", "deviceModelId": model["id"]})),
        201,
    )
    .await;
    wait_until("the delete at IMS", async || {
        call(&ims, Method::GET, "/v1/ssot/device/serial/RC-1", None)
            .await
            .status()
            == 404
    })
    .await;
    wait_until("RC-2 at IMS", async || {
        call(&ims, Method::GET, "/v1/ssot/device/serial/RC-2", None)
            .await
            .status()
            == 200
    })
    .await;
    let status = expect(&ims, Method::GET, "/v1/ssot/status", None, 200).await;
    let checkpoint = status["resources"]["devices"]["lastRevision"].as_i64().unwrap();
    assert!(checkpoint >= 3, "{status}");

    // The SSOT goes away: IMS keeps answering from its snapshot and says so.
    drop(ssot);
    let ready = ims.http.get(ims.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let ready: Value = ready.json().await.unwrap();
    assert!(
        ready["checks"]["ssot"].as_str().unwrap().starts_with("degraded"),
        "{ready}"
    );
    expect(&ims, Method::GET, "/v1/ssot/device/serial/RC-2", None, 200).await;
    assert_problem(
        call(&ims, Method::POST, "/v1/ssot/sync/devices", None).await,
        502,
        "upstream-failed",
    )
    .await;
    let status = expect(&ims, Method::GET, "/v1/ssot/status", None, 200).await;
    // Models come first in the devices domain: that is where the failure shows.
    let models = &status["resources"]["device_models"];
    assert!(
        models["lastError"].as_str().unwrap().contains("unreachable"),
        "{status}"
    );
    assert_eq!(
        status["resources"]["schools"]["lastError"], "",
        "unconfigured SSOTs are skipped"
    );
    assert_eq!(
        status["resources"]["devices"]["lastRevision"].as_i64().unwrap(),
        checkpoint,
        "the checkpoint holds"
    );
}

mod roles_reconcile_over_http {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::roles_reconcile_over_http().await
    }
}

fn device(revision: i64, serial: &str, deleted: bool) -> SsotRow {
    let kind = ssot::kind("devices").unwrap();
    let now = essp_domain::now();
    let v = json!({
        "id": "dev_01J00000000000000000000001", "tenantId": TENANT, "serial": serial,
        "deviceModelId": "dmodel_01J00000000000000000000001", "revision": revision,
        "createdAt": now, "updatedAt": now, "deletedAt": if deleted { json!(now) } else { Value::Null },
    });
    SsotRow::from_json(kind, &v).unwrap()
}

async fn serial(ex: &dyn essp_store::Executor, kind: &ssot::Kind) -> Option<ssot::FieldValue> {
    ssot_snapshot::get(ex, TENANT, kind, "dev_01J00000000000000000000001")
        .await
        .unwrap()
        .map(|r| r.record["serial"].clone())
}

/// Duplicate and out-of-order delivery never regress a snapshot row.
async fn snapshots_never_regress(backend: Backend) {
    let db = TestDb::migrated(backend).await;
    let ex = db.db.as_ref();
    let kind = ssot::kind("devices").unwrap();
    assert_eq!(
        ssot_snapshot::apply(ex, kind, &[device(5, "new", false)])
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        ssot_snapshot::apply(ex, kind, &[device(3, "old", false)])
            .await
            .unwrap(),
        0,
        "late"
    );
    assert_eq!(
        ssot_snapshot::apply(ex, kind, &[device(5, "new", false)])
            .await
            .unwrap(),
        0,
        "duplicate"
    );
    assert_eq!(serial(ex, kind).await, Some(ssot::FieldValue::Text("new".into())));
    assert_eq!(
        ssot_snapshot::apply(ex, kind, &[device(6, "new", true)]).await.unwrap(),
        1
    );
    assert_eq!(serial(ex, kind).await, None, "deleted");
    assert_eq!(
        ssot_snapshot::apply(ex, kind, &[device(5, "new", false)])
            .await
            .unwrap(),
        0,
        "no resurrection"
    );
    assert_eq!(serial(ex, kind).await, None);
}

on_both_engines!(events_survive_a_nats_outage, snapshots_never_regress);
