//! Inventory and BOM: a ledger that never oversells, on both engines.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Backend, Server, assert_problem, call, expect};
use reqwest::Method;
use serde_json::json;

fn part() -> String {
    format!("part_{}", ulid::Ulid::new())
}

/// A shop with `qty` of a new part, and a work order routed to it.
async fn setup(s: &Server, qty: i64) -> (String, String, String) {
    let shop = expect(
        s,
        Method::POST,
        "/v1/service-shops",
        Some(json!({"name": "Depot", "countyCode": "047"})),
        201,
    )
    .await;
    let shop = shop["id"].as_str().unwrap().to_owned();
    let part = part();
    expect(
        s,
        Method::POST,
        "/v1/inventory/upsert",
        Some(json!({"serviceShopId": shop, "partId": part, "qtyAvailable": qty, "reorderThreshold": 2})),
        200,
    )
    .await;
    let wo = expect(
        s,
        Method::POST,
        "/v1/work-orders",
        Some(json!({"deviceId": "dev_1", "taskType": "repair", "serviceShopId": shop})),
        201,
    )
    .await;
    (shop, part, wo["id"].as_str().unwrap().to_owned())
}

async fn stock(s: &Server, shop: &str, part: &str) -> (i64, i64) {
    let list = expect(
        s,
        Method::GET,
        &format!("/v1/inventory?serviceShopId={shop}&partId={part}"),
        None,
        200,
    )
    .await;
    let item = &list["items"][0];
    (
        item["qtyAvailable"].as_i64().unwrap(),
        item["qtyReserved"].as_i64().unwrap(),
    )
}

async fn reserve_consume_release(backend: Backend) {
    let s = Server::start(backend).await;
    let (shop, part, wo) = setup(&s, 5).await;
    let items = format!("/v1/work-orders/{wo}/bom/items");
    let line = expect(
        &s,
        Method::POST,
        &items,
        Some(json!({"partId": part, "qtyPlanned": 3})),
        201,
    )
    .await;
    assert_eq!(stock(&s, &shop, &part).await, (5, 3));
    // Not enough free stock: 409, and no line was created.
    assert_problem(
        call(&s, Method::POST, &items, Some(json!({"partId": part, "qtyPlanned": 3}))).await,
        409,
        "insufficient-stock",
    )
    .await;
    assert_eq!(
        expect(&s, Method::GET, &format!("/v1/work-orders/{wo}/bom"), None, 200).await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(stock(&s, &shop, &part).await, (5, 3));

    let line_path = format!("{items}/{}", line["id"].as_str().unwrap());
    let used = expect(
        &s,
        Method::PATCH,
        &format!("{line_path}/consume"),
        Some(json!({"qtyUsed": 2})),
        200,
    )
    .await;
    assert_eq!(used["qtyUsed"], 2);
    assert_eq!(stock(&s, &shop, &part).await, (3, 1));
    assert_problem(
        call(
            &s,
            Method::PATCH,
            &format!("{line_path}/consume"),
            Some(json!({"qtyUsed": 2})),
        )
        .await,
        409,
        "insufficient-stock",
    )
    .await;
    let released = expect(
        &s,
        Method::PATCH,
        &format!("{line_path}/release"),
        Some(json!({"qty": 1})),
        200,
    )
    .await;
    assert_eq!(released["qtyPlanned"], 2);
    assert_eq!(stock(&s, &shop, &part).await, (3, 0));
    assert_problem(
        call(
            &s,
            Method::PATCH,
            &format!("{line_path}/release"),
            Some(json!({"qty": 1})),
        )
        .await,
        409,
        "insufficient-stock",
    )
    .await;

    // A stock take never drops reservations, nor goes below them.
    expect(
        &s,
        Method::POST,
        &items,
        Some(json!({"partId": part, "qtyPlanned": 2})),
        201,
    )
    .await;
    let upsert = |qty: i64| json!({"serviceShopId": shop, "partId": part, "qtyAvailable": qty, "reorderThreshold": 2});
    assert_problem(
        call(&s, Method::POST, "/v1/inventory/upsert", Some(upsert(1))).await,
        409,
        "below-reserved",
    )
    .await;
    let counted = expect(&s, Method::POST, "/v1/inventory/upsert", Some(upsert(4)), 200).await;
    assert_eq!(
        (counted["qtyAvailable"].as_i64(), counted["qtyReserved"].as_i64()),
        (Some(4), Some(2))
    );
    // Free = 2 ≤ threshold 2: low stock.
    let low = expect(&s, Method::GET, "/v1/inventory/low-stock", None, 200).await;
    assert_eq!(low["items"][0]["partId"], part.as_str());

    let ledger = expect(
        &s,
        Method::GET,
        &format!("/v1/inventory/ledger?serviceShopId={shop}&partId={part}"),
        None,
        200,
    )
    .await;
    let moves: Vec<(String, i64, i64, i64)> = ledger["items"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|e| {
            (
                e["movement"].as_str().unwrap().to_owned(),
                e["qty"].as_i64().unwrap(),
                e["availableAfter"].as_i64().unwrap(),
                e["reservedAfter"].as_i64().unwrap(),
            )
        })
        .collect();
    let want: Vec<(String, i64, i64, i64)> = [
        ("adjust", 5, 5, 0),
        ("reserve", 3, 5, 3),
        ("consume", 2, 3, 1),
        ("release", 1, 3, 0),
        ("reserve", 2, 3, 2),
        ("adjust", 1, 4, 2),
    ]
    .iter()
    .map(|(m, q, a, r)| (m.to_string(), *q, *a, *r))
    .collect();
    assert_eq!(moves, want, "every movement is in the ledger with its balances");
}

async fn bad_bom_input(backend: Backend) {
    let s = Server::start(backend).await;
    let (shop, part, wo) = setup(&s, 5).await;
    let items = format!("/v1/work-orders/{wo}/bom/items");
    for body in [
        json!({"partId": part, "qtyPlanned": 0}),
        json!({"partId": part, "qtyPlanned": -2}),
        json!({"partId": "screw", "qtyPlanned": 1}),
        json!({"qtyPlanned": 1}),
    ] {
        assert_problem(
            call(&s, Method::POST, &items, Some(body)).await,
            400,
            "validation-failed",
        )
        .await;
    }
    assert_problem(
        call(
            &s,
            Method::POST,
            &items,
            Some(json!({"partId": part, "qtyPlanned": "two"})),
        )
        .await,
        400,
        "invalid-body",
    )
    .await;
    // A work order without a shop cannot reserve.
    let loose = expect(
        &s,
        Method::POST,
        "/v1/work-orders",
        Some(json!({"deviceId": "d", "taskType": "repair"})),
        201,
    )
    .await;
    let loose_items = format!("/v1/work-orders/{}/bom/items", loose["id"].as_str().unwrap());
    assert_problem(
        call(
            &s,
            Method::POST,
            &loose_items,
            Some(json!({"partId": part, "qtyPlanned": 1})),
        )
        .await,
        409,
        "no-shop",
    )
    .await;
    // A line belongs to its work order.
    let line = expect(
        &s,
        Method::POST,
        &items,
        Some(json!({"partId": part, "qtyPlanned": 1})),
        201,
    )
    .await;
    let foreign = format!("{loose_items}/{}/consume", line["id"].as_str().unwrap());
    assert_problem(
        call(&s, Method::PATCH, &foreign, Some(json!({"qtyUsed": 1}))).await,
        404,
        "not-found",
    )
    .await;
    assert_problem(
        call(
            &s,
            Method::PATCH,
            &format!("{items}/{}/consume", line["id"].as_str().unwrap()),
            Some(json!({"qtyUsed": 0})),
        )
        .await,
        400,
        "validation-failed",
    )
    .await;
    for body in [
        json!({"serviceShopId": shop, "partId": part, "qtyAvailable": -1}),
        json!({"serviceShopId": shop, "partId": part}),
        json!({"serviceShopId": shop, "partId": part, "qtyAvailable": 1, "reorderThreshold": -1}),
    ] {
        assert_problem(
            call(&s, Method::POST, "/v1/inventory/upsert", Some(body)).await,
            400,
            "validation-failed",
        )
        .await;
    }
    let unknown_shop =
        json!({"serviceShopId": format!("shop_{}", ulid::Ulid::new()), "partId": part, "qtyAvailable": 1});
    assert_problem(
        call(&s, Method::POST, "/v1/inventory/upsert", Some(unknown_shop)).await,
        422,
        "unknown-shop",
    )
    .await;
    assert_eq!(
        stock(&s, &shop, &part).await,
        (5, 1),
        "nothing the bad requests tried changed stock"
    );
}

/// Many simultaneous reservations against limited stock: exactly the stock
/// is reserved, the rest are refused, nothing is oversold.
async fn concurrent_reservations_never_oversell(backend: Backend) {
    let s = Server::start(backend).await;
    let (shop, part, wo) = setup(&s, 10).await;
    let items = format!("/v1/work-orders/{wo}/bom/items");
    let attempts = (0..30).map(|_| call(&s, Method::POST, &items, Some(json!({"partId": part, "qtyPlanned": 1}))));
    let statuses: Vec<u16> = futures::future::join_all(attempts)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(statuses.iter().filter(|&&c| c == 201).count(), 10, "{statuses:?}");
    assert!(statuses.iter().all(|&c| c == 201 || c == 409), "{statuses:?}");
    assert_eq!(stock(&s, &shop, &part).await, (10, 10));
    let lines = expect(&s, Method::GET, &format!("/v1/work-orders/{wo}/bom"), None, 200).await;
    assert_eq!(lines["items"].as_array().unwrap().len(), 10);
}

on_both_engines!(
    reserve_consume_release,
    bad_bom_input,
    concurrent_reservations_never_oversell
);
