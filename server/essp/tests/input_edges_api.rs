//! Inputs the contract fuzzer found mishandled, pinned through HTTP on both
//! engines: each one a clear 4xx (or, where the contract allows it, a
//! success) that changes nothing it should not.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Backend, Server, assert_problem, call, expect};
use reqwest::Method;
use serde_json::{Value, json};

async fn patch_title(s: &Server, id: &str, if_match: &str, title: &str) -> reqwest::Response {
    s.req(Method::PATCH, &format!("/v1/incidents/{id}"))
        .header("If-Match", if_match)
        .json(&json!({"title": title}))
        .send()
        .await
        .unwrap()
}

async fn if_match_forms(backend: Backend) {
    let s = Server::start(backend).await;
    let inc = s.new_incident().await;
    let id = inc["id"].as_str().unwrap();
    // Quoted, weak and bare versions all name version 1; `*` any version.
    assert_eq!(patch_title(&s, id, "\"1\"", "a").await.status(), 200);
    assert_eq!(patch_title(&s, id, "W/\"2\"", "b").await.status(), 200);
    assert_eq!(patch_title(&s, id, "3", "c").await.status(), 200);
    assert_eq!(patch_title(&s, id, "*", "d").await.status(), 200);
    // Stale: 412; malformed: 400; neither changes the incident.
    assert_problem(patch_title(&s, id, "1", "stale").await, 412, "version-mismatch").await;
    for bad in ["\"5", "5\"", "abc", "\"\"", "-1", "1234567890123456789"] {
        assert_problem(patch_title(&s, id, bad, "bad").await, 400, "invalid-if-match").await;
    }
    let now = expect(&s, Method::GET, &format!("/v1/incidents/{id}"), None, 200).await;
    assert_eq!(now["title"], "d");
    assert_eq!(now["version"], 5);
}

async fn bodies_are_objects_and_patches_refuse_null(backend: Backend) {
    let s = Server::start(backend).await;
    // serde would read a struct from an array; the API does not.
    for body in ["[null, null]", "[\"dev_1\", \"No power\"]", "\"text\"", "42"] {
        let r = s
            .req(Method::POST, "/v1/incidents")
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_problem(r, 400, "invalid-body").await;
    }
    assert!(s.list_all().await.is_empty());
    let inc = s.new_incident().await;
    let path = format!("/v1/incidents/{}", inc["id"].as_str().unwrap());
    // An explicit null in a partial update is refused, not read as "absent".
    let r = call(&s, Method::PATCH, &path, Some(json!({"severity": null, "title": "x"}))).await;
    assert_problem(r, 400, "invalid-body").await;
    let now = expect(&s, Method::GET, &path, None, 200).await;
    assert_eq!(now["title"], "Cracked screen");
    // Filters are text like any other: control characters are refused.
    let r = call(&s, Method::GET, "/v1/incidents?deviceId=a%01b", None).await;
    assert_problem(r, 400, "validation-failed").await;
    let r = call(&s, Method::GET, &format!("/v1/incidents?q={}", "x".repeat(201)), None).await;
    assert_problem(r, 400, "validation-failed").await;
    // …on every list: one filter rule everywhere.
    let long = "x".repeat(300);
    for path in [
        "/v1/audit-logs?action=a%01b".to_owned(),
        format!("/v1/audit-logs?userId={long}"),
        format!("/v1/service-shops?countyCode={long}"),
        "/v1/service-staff?serviceShopId=a%7Fb".to_owned(),
        format!("/v1/inventory?partId={long}"),
        format!("/v1/ssot/schools?q={long}"),
        "/v1/ssot/devices/stats?schoolId=a%1Fb".to_owned(),
    ] {
        let r = call(&s, Method::GET, &path, None).await;
        assert_problem(r, 400, "validation-failed").await;
    }
    // NUL is never text (Postgres cannot store it): refused alike on both
    // engines, in a query and (as a control character) in a body.
    let r = call(&s, Method::GET, "/v1/incidents?deviceId=a%00b", None).await;
    assert_problem(r, 400, "invalid-text").await;
    let r = s
        .req(Method::POST, "/v1/incidents")
        .header("content-type", "application/json")
        .body(r#"{"deviceId": "dev_1", "title": "a\u0000b"}"#)
        .send()
        .await
        .unwrap();
    assert_problem(r, 400, "validation-failed").await;
    // An escaped backslash before `u0000` is ordinary text.
    let r = s
        .req(Method::POST, "/v1/incidents")
        .header("content-type", "application/json")
        .body(r#"{"deviceId": "dev_1", "title": "C:\\u0000"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let made: Value = r.json().await.unwrap();
    assert_eq!(made["title"], "C:\\u0000");
    assert_eq!(s.list_all().await.len(), 2);
}

async fn tenant_wide_routes_check_a_named_school(backend: Backend) {
    let s = Server::start(backend).await;
    // Shops are tenant-wide; a malformed school header is still a mistake.
    let r = s
        .http
        .get(s.url("/v1/service-shops"))
        .header("X-Tenant-ID", common::TENANT)
        .header("X-School-ID", "not a school!")
        .send()
        .await
        .unwrap();
    assert_problem(r, 400, "invalid-school").await;
    let r = s
        .http
        .get(s.url("/v1/service-shops"))
        .header("X-Tenant-ID", common::TENANT)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

async fn whole_numbers_and_stocked_shops(backend: Backend) {
    let s = Server::start(backend).await;
    let shop = expect(
        &s,
        Method::POST,
        "/v1/service-shops",
        Some(json!({"name": "Depot", "countyCode": "047"})),
        201,
    )
    .await;
    let shop = shop["id"].as_str().unwrap();
    let part = format!("part_{}", ulid::Ulid::new());
    // `5.0` is an integer to JSON Schema, and to us; `5.5` is not.
    let stock = |qty: Value| json!({"serviceShopId": shop, "partId": part, "qtyAvailable": qty, "reorderThreshold": 2});
    let row = expect(&s, Method::POST, "/v1/inventory/upsert", Some(stock(json!(5.0))), 200).await;
    assert_eq!(row["qtyAvailable"], 5);
    let r = call(&s, Method::POST, "/v1/inventory/upsert", Some(stock(json!(5.5)))).await;
    assert_eq!(r.status(), 400);
    // The ledger filter is an id, not free text.
    let r = call(&s, Method::GET, "/v1/inventory/ledger?serviceShopId=nonsense", None).await;
    assert_eq!(r.status(), 400);
    // A shop holding stock cannot be deleted (was a 500 from the foreign key).
    let r = call(&s, Method::DELETE, &format!("/v1/service-shops/{shop}"), None).await;
    assert_problem(r, 409, "shop-has-stock").await;
    expect(&s, Method::GET, &format!("/v1/service-shops/{shop}"), None, 200).await;
}

on_both_engines!(
    if_match_forms,
    bodies_are_objects_and_patches_refuse_null,
    tenant_wide_routes_check_a_named_school,
    whole_numbers_and_stocked_shops
);
