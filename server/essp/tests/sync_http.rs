//! The sync API (`/v1/sync/…`) and an edge's ownership rule: what central
//! owns is read-only on an edge, while the school's own work goes on.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::{Duration, Utc};
use common::{Backend, SCHOOL, Server, TENANT, TestDb, assert_problem, call, expect};
use essp_domain::Id;
use essp_domain::shop::{CoverageLevel, ServiceShop};
use essp_store::sync::{edges, journal};
use essp_store::{Executor, inventory, shops};
use essp_sync_proto::Rejection;
use reqwest::Method;
use serde_json::{Value, json};

const EDGE_ENV: &[(&str, &str)] = &[
    ("ESSP_MODE", "edge"),
    ("ESSP_TENANT_ID", TENANT),
    ("ESSP_SCHOOL_ID", SCHOOL),
];

fn items(v: &Value) -> &Vec<Value> {
    v["items"].as_array().unwrap_or_else(|| panic!("no items in {v}"))
}

/// A value a merge did not keep, as the merge logs it, `age` ago.
async fn log_conflict(db: &dyn Executor, school: &str, field: &str, age: Duration) {
    db.execute(
        "INSERT INTO sync_conflicts (id, tenant_id, school_id, table_name, row_id, field, kept_value, kept_clock, \
         lost_value, lost_clock, reason, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        &[
            Id::new("conflict").into_string().into(),
            TENANT.into(),
            school.into(),
            "incidents".into(),
            "inc_1".into(),
            field.into(),
            "\"kept\"".into(),
            "c2".into(),
            "\"lost\"".into(),
            "c1".into(),
            "lww".into(),
            (Utc::now() - age).into(),
        ],
    )
    .await
    .unwrap();
}

async fn sync_views_on_central(backend: Backend) {
    let s = Server::start(backend).await;
    // A fresh central: no edges, nothing overwritten, nothing refused.
    for path in ["/v1/sync/edges", "/v1/sync/conflicts", "/v1/sync/rejections"] {
        assert_eq!(
            expect(&s, Method::GET, path, None, 200).await,
            json!({"items": []}),
            "{path}"
        );
    }

    // Every client mistake is a problem naming the field.
    for (path, field) in [
        ("/v1/sync/conflicts?limit=0", "limit"),
        ("/v1/sync/conflicts?limit=501", "limit"),
        ("/v1/sync/rejections?limit=ten", "limit"),
        ("/v1/sync/rejections?limit=-1", "limit"),
        ("/v1/sync/edges?schoolId=no%20spaces%20inside", "schoolId"),
        ("/v1/sync/conflicts?schoolId=%3Cscript%3E", "schoolId"),
    ] {
        let p = assert_problem(call(&s, Method::GET, path, None).await, 400, "validation-failed").await;
        assert_eq!(p["errors"][0]["field"], field, "{path}: {p}");
    }
    assert_problem(
        call(&s, Method::GET, "/v1/sync/edges?colour=red", None).await,
        400,
        "invalid-query",
    )
    .await;
    expect(&s, Method::GET, "/v1/sync/conflicts?limit=500", None, 200).await;
    expect(&s, Method::GET, "/v1/sync/rejections?limit=&schoolId=", None, 200).await;

    // Central has no link of its own to report or push.
    for method in [Method::GET, Method::POST] {
        let path = if method == Method::GET {
            "/v1/sync/status"
        } else {
            "/v1/sync/now"
        };
        let p = assert_problem(call(&s, method, path, None).await, 404, "not-an-edge").await;
        assert!(p["detail"].as_str().unwrap().contains("GET /v1/sync/edges"), "{p}");
    }

    // Two enrolled schools (one has reported a checkpoint), and another
    // tenant's edge that must never show.
    let db = s.db().db.as_ref();
    edges::enroll(db, TENANT, SCHOOL, "epoch_1", "box-1", 5).await.unwrap();
    let checkpoint = json!({
        "version": 1, "tenantId": TENANT, "schoolId": SCHOOL, "epoch": "epoch_1", "appVersion": "1.2.3",
        "schemaVersion": 22, "clock": "2025-01-01T00:00:00Z", "outboxDepth": 7, "outboxAgeSeconds": 40,
        "lastSeq": 12, "confirmedSeq": 5, "downCursor": 99, "digests": {}
    });
    edges::record_checkpoint(db, TENANT, SCHOOL, &checkpoint.to_string())
        .await
        .unwrap();
    edges::enroll(db, TENANT, "school-2", "epoch_2", "box-2", 0)
        .await
        .unwrap();
    edges::enroll(db, "tenant-b", "school-9", "epoch_9", "box-9", 0)
        .await
        .unwrap();
    log_conflict(db, SCHOOL, "title", Duration::hours(2)).await;
    log_conflict(db, SCHOOL, "severity", Duration::hours(1)).await;
    let refused = |seq: i64| Rejection {
        seq,
        table: "work_order_parts".into(),
        row_id: format!("bom_{seq}"),
        reason: "insufficient stock".into(),
    };
    journal::reject(db, TENANT, SCHOOL, "epoch_1", &refused(6))
        .await
        .unwrap();
    journal::reject(db, TENANT, "school-2", "epoch_2", &refused(1))
        .await
        .unwrap();
    // A redelivered refusal is recorded once.
    journal::reject(db, TENANT, "school-2", "epoch_2", &refused(1))
        .await
        .unwrap();

    let fleet = expect(&s, Method::GET, "/v1/sync/edges", None, 200).await;
    let fleet = items(&fleet);
    assert_eq!(fleet.len(), 2, "{fleet:?}");
    let (one, two) = (&fleet[0], &fleet[1]);
    assert_eq!(one["schoolId"], SCHOOL);
    assert_eq!(one["epoch"], "epoch_1");
    assert_eq!(one["host"], "box-1");
    assert_eq!(one["downSeq"], 0);
    assert_eq!(one["status"], "active");
    assert_eq!(one["statusMessage"], "");
    assert_eq!(one["appliedSeq"], 5);
    assert_eq!(one["lagChanges"], 7, "lastSeq 12 − appliedSeq 5");
    assert_eq!(one["lagSeconds"], 40);
    assert_eq!(one["outboxDepth"], 7);
    assert_eq!(one["downCursor"], 99);
    assert_eq!(one["appVersion"], "1.2.3");
    assert_eq!(one["schemaVersion"], 22);
    assert_eq!(one["conflicts"], 2);
    assert_eq!(one["rejected"], 1);
    assert_eq!(one["checkpoint"], checkpoint);
    assert!(one["lastSeenAt"].is_string(), "a checkpoint is contact: {one}");
    // Enrolled, never heard from.
    assert_eq!(two["schoolId"], "school-2");
    assert_eq!(two["lagChanges"], 0);
    assert_eq!(two["lagSeconds"], 0);
    assert_eq!(two["checkpoint"], Value::Null);
    assert_eq!(two["outboxDepth"], Value::Null);
    assert_eq!(two["lastSeenAt"], Value::Null);
    assert_eq!(
        (two["conflicts"].clone(), two["rejected"].clone()),
        (json!(0), json!(1))
    );

    // Applied past the last checkpoint: no lag, never a negative one.
    edges::record_checkpoint(db, TENANT, "school-2", &json!({"lastSeq": 3}).to_string())
        .await
        .unwrap();
    edges::set_applied(db, TENANT, "school-2", 4).await.unwrap();
    let only = expect(&s, Method::GET, "/v1/sync/edges?schoolId=school-2", None, 200).await;
    assert_eq!(items(&only).len(), 1);
    assert_eq!(items(&only)[0]["lagChanges"], 0);
    assert_eq!(items(&only)[0]["appliedSeq"], 4);
    assert_eq!(
        items(&only)[0]["appVersion"],
        Value::Null,
        "an old checkpoint without the field"
    );

    // The conflict log, newest first, per school and limited.
    let conflicts = expect(&s, Method::GET, "/v1/sync/conflicts?schoolId=school-1", None, 200).await;
    let fields: Vec<&str> = items(&conflicts).iter().map(|c| c["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["severity", "title"]);
    let c = &items(&conflicts)[0];
    assert_eq!(
        (c["keptValue"].clone(), c["lostValue"].clone()),
        (json!("kept"), json!("lost"))
    );
    assert_eq!(c["reason"], "lww");
    let newest = expect(&s, Method::GET, "/v1/sync/conflicts?limit=1", None, 200).await;
    assert_eq!(items(&newest).len(), 1);
    assert_eq!(items(&newest)[0]["field"], "severity");
    let none = expect(&s, Method::GET, "/v1/sync/conflicts?schoolId=school-2", None, 200).await;
    assert!(items(&none).is_empty());

    // Refused changes, newest first, per school.
    let all = expect(&s, Method::GET, "/v1/sync/rejections", None, 200).await;
    assert_eq!(items(&all).len(), 2, "{all}");
    let times: Vec<&str> = items(&all).iter().map(|r| r["createdAt"].as_str().unwrap()).collect();
    let parsed: Vec<chrono::DateTime<Utc>> = times.iter().map(|t| t.parse().unwrap()).collect();
    assert!(parsed.windows(2).all(|w| w[0] >= w[1]), "newest first: {times:?}");
    let mine = expect(&s, Method::GET, "/v1/sync/rejections?schoolId=school-1", None, 200).await;
    let r = &items(&mine)[0];
    assert_eq!(items(&mine).len(), 1);
    assert_eq!(r["schoolId"], SCHOOL);
    assert_eq!(r["epoch"], "epoch_1");
    assert_eq!(r["seq"], 6);
    assert_eq!(r["tableName"], "work_order_parts");
    assert_eq!(r["rowId"], "bom_6");
    assert_eq!(r["reason"], "insufficient stock");
    assert!(r["id"].as_str().is_some_and(|id| id.starts_with("rejection_")), "{r}");
    let one_only = expect(&s, Method::GET, "/v1/sync/rejections?limit=1", None, 200).await;
    assert_eq!(items(&one_only).len(), 1);
}

on_both_engines!(sync_views_on_central);

/// A shop and its stock as they came down from central.
async fn central_shop_with_stock(db: &dyn Executor) -> (String, String) {
    let now = Utc::now();
    let shop = ServiceShop {
        id: Id::new("shop"),
        tenant_id: TENANT.into(),
        name: "Depot".into(),
        location: String::new(),
        county_code: "047".into(),
        county_name: "Nairobi".into(),
        sub_county_code: String::new(),
        sub_county_name: String::new(),
        coverage_level: CoverageLevel::County,
        active: true,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    shops::insert_shop(db, &shop).await.unwrap();
    let part = format!("part_{}", ulid::Ulid::new());
    let key = inventory::StockKey {
        tenant: TENANT,
        shop: shop.id.as_str(),
        part: &part,
    };
    inventory::lock_stock(db, key, now).await.unwrap();
    inventory::set_stock(db, key, 5, 0, now).await.unwrap().unwrap();
    (shop.id.into_string(), part)
}

/// (available, reserved) of one part at one shop.
async fn stock(s: &Server, shop: &str, part: &str) -> (i64, i64) {
    let path = format!("/v1/inventory?serviceShopId={shop}&partId={part}");
    let list = expect(s, Method::GET, &path, None, 200).await;
    let item = &items(&list)[0];
    (
        item["qtyAvailable"].as_i64().unwrap(),
        item["qtyReserved"].as_i64().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edge_reads_but_never_writes_what_central_owns() {
    let s = Server::start_with(Backend::Sqlite, EDGE_ENV).await;

    // Its own link: offline without NATS_URL, and "sync now" says why.
    let status = expect(&s, Method::GET, "/v1/sync/status", None, 200).await;
    assert_eq!(status["state"], "offline", "{status}");
    let p = assert_problem(
        call(&s, Method::POST, "/v1/sync/now", None).await,
        503,
        "central-unreachable",
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("NATS_URL"), "{p}");
    // An edge has no edges of its own.
    assert_eq!(
        expect(&s, Method::GET, "/v1/sync/edges", None, 200).await,
        json!({"items": []})
    );

    let (shop, part) = central_shop_with_stock(s.db().db.as_ref()).await;
    let refused: Vec<(Method, String, Value, &str)> = vec![
        (
            Method::POST,
            "/v1/service-shops".into(),
            json!({"name": "Mine", "countyCode": "047"}),
            "service shops",
        ),
        (
            Method::PATCH,
            format!("/v1/service-shops/{shop}"),
            json!({"name": "Renamed"}),
            "service shops",
        ),
        (
            Method::DELETE,
            format!("/v1/service-shops/{shop}"),
            json!({}),
            "service shops",
        ),
        (
            Method::POST,
            "/v1/service-staff".into(),
            json!({"serviceShopId": shop, "userId": "kc-user-1", "role": "technician"}),
            "service staff",
        ),
        (
            Method::POST,
            "/v1/inventory/upsert".into(),
            json!({"serviceShopId": shop, "partId": part, "qtyAvailable": 500}),
            "stock levels",
        ),
        (
            Method::POST,
            "/v1/projects".into(),
            json!({"projectType": "full_installation"}),
            "projects",
        ),
        (
            Method::POST,
            "/v1/checklist-templates".into(),
            json!({"phaseType": "install", "title": "Cabling tested"}),
            "projects",
        ),
        (
            Method::POST,
            "/v1/projects/proj_x/surveys".into(),
            json!({}),
            "site surveys",
        ),
        (
            Method::POST,
            format!("/v1/schools/{SCHOOL}/contacts"),
            json!({"name": "Head teacher", "role": "principal"}),
            "school contacts",
        ),
        (
            Method::POST,
            "/v1/counties".into(),
            json!({"name": "Nairobi", "code": "047"}),
            "SSOT",
        ),
        (
            Method::POST,
            "/v1/device-models".into(),
            json!({"make": "Acme", "model": "X1"}),
            "SSOT",
        ),
        (
            Method::POST,
            "/v1/import/school".into(),
            json!({"counties": []}),
            "SSOT",
        ),
        (
            Method::POST,
            "/v1/ssot/sync/schools".into(),
            json!({}),
            "SSOT snapshots",
        ),
    ];
    for (method, path, body, what) in refused {
        let p = assert_problem(call(&s, method.clone(), &path, Some(body)).await, 403, "forbidden").await;
        let detail = p["detail"].as_str().unwrap();
        assert!(
            detail.contains(what) && detail.contains("managed centrally; this edge receives them from central"),
            "{method} {path}: {p}"
        );
    }

    // Nothing changed.
    let shops = expect(&s, Method::GET, "/v1/service-shops", None, 200).await;
    assert_eq!(items(&shops).len(), 1, "{shops}");
    let got = expect(&s, Method::GET, &format!("/v1/service-shops/{shop}"), None, 200).await;
    assert_eq!(
        (got["name"].clone(), got["version"].clone()),
        (json!("Depot"), json!(1))
    );
    for path in [
        "/v1/service-staff".to_owned(),
        "/v1/projects".to_owned(),
        "/v1/checklist-templates".to_owned(),
        format!("/v1/schools/{SCHOOL}/contacts"),
        "/v1/counties".to_owned(),
        "/v1/device-models".to_owned(),
    ] {
        let list = expect(&s, Method::GET, &path, None, 200).await;
        assert!(items(&list).is_empty(), "{path}: {list}");
    }
    assert_eq!(stock(&s, &shop, &part).await, (5, 0));
    let ledger = expect(
        &s,
        Method::GET,
        &format!("/v1/inventory/ledger?serviceShopId={shop}&partId={part}"),
        None,
        200,
    )
    .await;
    assert!(items(&ledger).is_empty(), "{ledger}");

    // The school's own work goes on: incidents, work orders and the parts
    // a repair reserves (a command central validates later).
    s.new_incident().await;
    let wo = expect(
        &s,
        Method::POST,
        "/v1/work-orders",
        Some(json!({"deviceId": "dev_1", "taskType": "repair", "serviceShopId": shop})),
        201,
    )
    .await;
    let wo = wo["id"].as_str().unwrap();
    expect(
        &s,
        Method::POST,
        &format!("/v1/work-orders/{wo}/bom/items"),
        Some(json!({"partId": part, "qtyPlanned": 2})),
        201,
    )
    .await;
    assert_eq!(stock(&s, &shop, &part).await, (5, 2));
}

/// Central with a central-owned write still allowed (the guard is an edge's
/// alone).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn central_still_writes_what_it_owns() {
    let s = Server::start(Backend::Sqlite).await;
    expect(
        &s,
        Method::POST,
        "/v1/service-shops",
        Some(json!({"name": "Depot", "countyCode": "047"})),
        201,
    )
    .await;
}

const SECRET: &str = "a-local-secret-that-is-long-enough-0123456789";

fn mint(db: &TestDb, role: &str, school: &str) -> String {
    let out = common::run_cli(
        db,
        &[
            "token", "--sub", "svc", "--tenant", TENANT, "--school", school, "--role", role,
        ],
        &[("JWT_SECRET", SECRET)],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

async fn as_token(s: &Server, token: &str, method: Method, path: &str) -> reqwest::Response {
    s.http
        .request(method, s.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_views_need_the_sync_permissions() {
    let s = Server::start_with(Backend::Sqlite, &[("AUTH_ENABLED", "true"), ("JWT_SECRET", SECRET)]).await;
    let viewer = mint(s.db(), "essp-viewer", SCHOOL);
    let ops = mint(s.db(), "ssp_ops_manager", "*");
    let ops_one_school = mint(s.db(), "ssp_ops_manager", SCHOOL);

    assert_problem(
        s.http.get(s.url("/v1/sync/edges")).send().await.unwrap(),
        401,
        "unauthorized",
    )
    .await;
    for (method, path, permission) in [
        (Method::GET, "/v1/sync/edges", "sync:read"),
        (Method::GET, "/v1/sync/conflicts", "sync:read"),
        (Method::GET, "/v1/sync/rejections", "sync:read"),
        (Method::GET, "/v1/sync/status", "sync:read"),
        (Method::POST, "/v1/sync/now", "sync:admin"),
    ] {
        let p = assert_problem(as_token(&s, &viewer, method.clone(), path).await, 403, "forbidden").await;
        assert!(p["detail"].as_str().unwrap().contains(permission), "{path}: {p}");
    }

    assert_eq!(as_token(&s, &ops, Method::GET, "/v1/sync/edges").await.status(), 200);
    assert_eq!(
        as_token(&s, &ops, Method::GET, "/v1/sync/conflicts").await.status(),
        200
    );
    assert_problem(
        as_token(&s, &ops, Method::POST, "/v1/sync/now").await,
        404,
        "not-an-edge",
    )
    .await;
    // Limited to one school: that school only, and named.
    assert_problem(
        as_token(&s, &ops_one_school, Method::GET, "/v1/sync/edges").await,
        403,
        "forbidden",
    )
    .await;
    let path = format!("/v1/sync/rejections?schoolId={SCHOOL}");
    assert_eq!(as_token(&s, &ops_one_school, Method::GET, &path).await.status(), 200);
    let other = "/v1/sync/rejections?schoolId=school-2";
    assert_problem(
        as_token(&s, &ops_one_school, Method::GET, other).await,
        403,
        "forbidden",
    )
    .await;
}
