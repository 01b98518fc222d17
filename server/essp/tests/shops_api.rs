//! `/v1/service-shops` and `/v1/service-staff` on both engines.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Backend, Server, assert_problem, call, expect};
use reqwest::Method;
use serde_json::{Value, json};

async fn shops_and_staff_lifecycle(backend: Backend) {
    let s = Server::start(backend).await;
    let nairobi = expect(
        &s,
        Method::POST,
        "/v1/service-shops",
        Some(json!({"name": "Nairobi Central", "countyCode": "047", "countyName": "Nairobi"})),
        201,
    )
    .await;
    assert_eq!(nairobi["active"], true, "a new shop is active unless said otherwise");
    assert_eq!(nairobi["coverageLevel"], "county");
    // Several shops per county, one covering a sub-county.
    let westlands = expect(
        &s,
        Method::POST,
        "/v1/service-shops",
        Some(
            json!({"name": "Westlands", "countyCode": "047", "subCountyCode": "047-03", "coverageLevel": "sub_county"}),
        ),
        201,
    )
    .await;
    let kisumu = expect(
        &s,
        Method::POST,
        "/v1/service-shops",
        Some(json!({"name": "Kisumu", "countyCode": "042", "active": false})),
        201,
    )
    .await;
    let shop = |v: &Value| v["id"].as_str().unwrap().to_owned();

    let list = |q: &str| {
        let path = format!("/v1/service-shops?{q}");
        let s = &s;
        async move { expect(s, Method::GET, &path, None, 200).await }
    };
    assert_eq!(list("countyCode=047").await["items"].as_array().unwrap().len(), 2);
    assert_eq!(list("active=false").await["items"][0]["id"], kisumu["id"]);
    assert_eq!(list("subCountyCode=047-03").await["items"][0]["id"], westlands["id"]);
    let page = list("limit=2").await;
    let rest = list(&format!("limit=2&cursor={}", page["nextCursor"].as_str().unwrap())).await;
    assert_eq!(
        page["items"].as_array().unwrap().len() + rest["items"].as_array().unwrap().len(),
        3
    );

    let path = format!("/v1/service-shops/{}", shop(&kisumu));
    let r = s
        .req(Method::PATCH, &path)
        .header("If-Match", "\"1\"")
        .json(&json!({"active": true, "location": "Oginga Odinga St"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["etag"], "\"2\"");
    let stale = s
        .req(Method::PATCH, &path)
        .header("If-Match", "\"1\"")
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_problem(stale, 412, "version-mismatch").await;

    // Staff.
    let lead = expect(&s, Method::POST, "/v1/service-staff", Some(json!({"serviceShopId": shop(&nairobi), "userId": "kc-user-1", "role": "lead_technician", "phone": "+254 712 345678"})), 201).await;
    expect(
        &s,
        Method::POST,
        "/v1/service-staff",
        Some(json!({"serviceShopId": shop(&nairobi), "userId": "kc-user-2", "role": "storekeeper"})),
        201,
    )
    .await;
    expect(&s, Method::POST, "/v1/service-staff", Some(json!({"serviceShopId": shop(&westlands), "userId": "kc-user-3", "role": "assistant_technician", "active": false})), 201).await;
    let dup = call(
        &s,
        Method::POST,
        "/v1/service-staff",
        Some(json!({"serviceShopId": shop(&nairobi), "userId": "kc-user-1", "role": "storekeeper"})),
    )
    .await;
    assert_problem(dup, 409, "duplicate").await;
    let stats = expect(&s, Method::GET, "/v1/service-staff/stats", None, 200).await;
    assert_eq!(
        stats,
        json!({"total": 3, "active": 2, "byRole": {"lead_technician": 1, "storekeeper": 1}})
    );
    let leads = expect(
        &s,
        Method::GET,
        &format!(
            "/v1/service-staff?serviceShopId={}&role=lead_technician",
            shop(&nairobi)
        ),
        None,
        200,
    )
    .await;
    assert_eq!(leads["items"].as_array().unwrap().len(), 1);
    let staff_path = format!("/v1/service-staff/{}", lead["id"].as_str().unwrap());
    let moved = expect(
        &s,
        Method::PATCH,
        &staff_path,
        Some(json!({"serviceShopId": shop(&westlands)})),
        200,
    )
    .await;
    assert_eq!(moved["serviceShopId"], westlands["id"]);

    // A shop with staff cannot be deleted; an empty one can.
    assert_problem(
        call(
            &s,
            Method::DELETE,
            &format!("/v1/service-shops/{}", shop(&westlands)),
            None,
        )
        .await,
        409,
        "shop-has-staff",
    )
    .await;
    assert_eq!(call(&s, Method::DELETE, &staff_path, None).await.status(), 204);
    assert_problem(call(&s, Method::GET, &staff_path, None).await, 404, "not-found").await;
    assert_eq!(
        call(
            &s,
            Method::DELETE,
            &format!("/v1/service-shops/{}", shop(&kisumu)),
            None
        )
        .await
        .status(),
        204
    );

    // Every change is in the audit trail.
    let audit = expect(&s, Method::GET, "/v1/audit-logs?entityType=service_shop", None, 200).await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, vec!["delete", "update", "create", "create", "create"]);
    let deleted = &audit["items"][0];
    assert!(deleted["after"].is_null() && deleted["before"]["name"] == "Kisumu");
    // Another tenant sees none of it.
    let other = s
        .http
        .get(s.url("/v1/service-shops"))
        .header("X-Tenant-ID", "tenant-z")
        .send()
        .await
        .unwrap();
    assert_eq!(other.json::<Value>().await.unwrap()["items"], json!([]));
}

async fn bad_shop_and_staff_input(backend: Backend) {
    let s = Server::start(backend).await;
    let shop = expect(
        &s,
        Method::POST,
        "/v1/service-shops",
        Some(json!({"name": "Mombasa", "countyCode": "001"})),
        201,
    )
    .await;
    let shop_id = shop["id"].as_str().unwrap();
    let cases = [
        (
            "/v1/service-shops",
            json!({"countyCode": "001"}),
            400,
            "validation-failed",
        ),
        ("/v1/service-shops", json!({"name": "x"}), 400, "validation-failed"),
        (
            "/v1/service-shops",
            json!({"name": "x", "countyCode": "001", "coverageLevel": "planet"}),
            400,
            "validation-failed",
        ),
        (
            "/v1/service-shops",
            json!({"name": "x", "countyCode": "001", "coverageLevel": "sub_county"}),
            400,
            "validation-failed",
        ),
        (
            "/v1/service-shops",
            json!({"name": "x", "countyCode": "0 01"}),
            400,
            "validation-failed",
        ),
        (
            "/v1/service-shops",
            json!({"name": "x", "countyCode": "001", "active": "yes"}),
            400,
            "invalid-body",
        ),
        (
            "/v1/service-staff",
            json!({"userId": "u", "role": "lead_technician"}),
            400,
            "validation-failed",
        ),
        (
            "/v1/service-staff",
            json!({"serviceShopId": shop_id, "userId": "u", "role": "wizard"}),
            400,
            "validation-failed",
        ),
        (
            "/v1/service-staff",
            json!({"serviceShopId": shop_id, "userId": "u", "role": "storekeeper", "phone": "call me"}),
            400,
            "validation-failed",
        ),
        (
            "/v1/service-staff",
            json!({"serviceShopId": "shop_nope", "userId": "u", "role": "storekeeper"}),
            400,
            "validation-failed",
        ),
        (
            "/v1/service-staff",
            json!({"serviceShopId": format!("shop_{}", ulid::Ulid::new()), "userId": "u", "role": "storekeeper"}),
            422,
            "unknown-shop",
        ),
    ];
    for (path, body, status, code) in cases {
        assert_problem(call(&s, Method::POST, path, Some(body)).await, status, code).await;
    }
    for (path, code) in [
        ("/v1/service-shops?active=maybe", "validation-failed"),
        ("/v1/service-staff?role=boss", "validation-failed"),
        ("/v1/service-shops/shop_x", "invalid-id"),
    ] {
        assert_problem(call(&s, Method::GET, path, None).await, 400, code).await;
    }
    assert_problem(
        call(
            &s,
            Method::GET,
            &format!("/v1/service-staff/staff_{}", ulid::Ulid::new()),
            None,
        )
        .await,
        404,
        "not-found",
    )
    .await;
    assert_eq!(
        expect(&s, Method::GET, "/v1/service-shops", None, 200).await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        expect(&s, Method::GET, "/v1/service-staff", None, 200).await["items"],
        json!([])
    );
}

on_both_engines!(shops_and_staff_lifecycle, bad_shop_and_staff_input);
