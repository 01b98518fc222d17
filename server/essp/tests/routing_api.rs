//! Incidents and work orders take point-in-time SSOT names from IMS's
//! snapshots, and a new incident is routed to the shop covering its school
//! (AUTO_ROUTE_WORK_ORDERS), on both engines.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Backend, Server, TENANT, assert_problem, expect};
use reqwest::Method;
use serde_json::{Value, json};

/// A request acting in `school`.
async fn at(s: &Server, school: &str, method: Method, path: &str, body: Option<Value>) -> reqwest::Response {
    let mut r = s
        .http
        .request(method, s.url(path))
        .header("X-Tenant-ID", TENANT)
        .header("X-School-ID", school);
    if let Some(b) = body {
        r = r.json(&b);
    }
    r.send().await.unwrap()
}

async fn ok(resp: reqwest::Response, want: u16) -> Value {
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    assert_eq!(status, want, "{text}");
    serde_json::from_str(&text).unwrap()
}

async fn until_in_snapshot(s: &Server, path: &str) {
    common::wait_until(path, async || {
        common::call(s, Method::GET, path, None).await.status() == 200
    })
    .await;
}

async fn incidents_are_enriched_and_routed(backend: Backend) {
    let s = Server::start(backend).await;
    let id = |v: &Value| v["id"].as_str().unwrap().to_owned();
    let nairobi = expect(
        &s,
        Method::POST,
        "/v1/counties",
        Some(json!({"name": "Nairobi", "code": "047"})),
        201,
    )
    .await;
    let turkana = expect(
        &s,
        Method::POST,
        "/v1/counties",
        Some(json!({"name": "Turkana", "code": "023"})),
        201,
    )
    .await;
    let westlands = expect(
        &s,
        Method::POST,
        "/v1/sub-counties",
        Some(json!({"countyId": id(&nairobi), "name": "Westlands", "code": "047-03"})),
        201,
    )
    .await;
    let school = id(&expect(
        &s,
        Method::POST,
        "/v1/schools",
        Some(json!({"name": "Kihumbuini Primary", "countyId": id(&nairobi), "subCountyId": id(&westlands)})),
        201,
    )
    .await);
    let remote = id(&expect(
        &s,
        Method::POST,
        "/v1/schools",
        Some(json!({"name": "Lodwar Mixed", "countyId": id(&turkana)})),
        201,
    )
    .await);
    expect(
        &s,
        Method::POST,
        "/v1/school-contacts",
        Some(json!({"schoolId": school, "name": "Deputy", "role": "deputy_head"})),
        201,
    )
    .await;
    expect(
        &s,
        Method::POST,
        "/v1/school-contacts",
        Some(json!({"schoolId": school, "name": "Mary Head", "phone": "+254 700 000001", "isPrimary": true})),
        201,
    )
    .await;
    let model = id(&expect(
        &s,
        Method::POST,
        "/v1/device-models",
        Some(json!({"make": "Lenovo", "model": "300e", "category": "laptop"})),
        201,
    )
    .await);
    let device = id(&expect(
        &s,
        Method::POST,
        "/v1/devices",
        Some(json!({"serial": "LNV-77", "assetTag": "KE-1", "deviceModelId": model, "schoolId": school})),
        201,
    )
    .await);
    // Two shops in the county: the sub-county one wins; its lead is assigned.
    expect(
        &s,
        Method::POST,
        "/v1/service-shops",
        Some(json!({"name": "Nairobi depot", "countyCode": "047", "countyName": "Nairobi"})),
        201,
    )
    .await;
    let local = id(&expect(
        &s,
        Method::POST,
        "/v1/service-shops",
        Some(
            json!({"name": "Westlands", "countyCode": "047", "subCountyCode": "047-03", "coverageLevel": "sub_county"}),
        ),
        201,
    )
    .await);
    let lead = id(&expect(
        &s,
        Method::POST,
        "/v1/service-staff",
        Some(json!({"serviceShopId": local, "userId": "kc-lead", "role": "lead_technician"})),
        201,
    )
    .await);
    until_in_snapshot(&s, &format!("/v1/ssot/device/{device}")).await;
    until_in_snapshot(&s, &format!("/v1/ssot/school/{school}/primary-contact")).await;

    let body = json!({"deviceId": device, "title": "Screen cracked", "severity": "high", "category": "hardware"});
    let inc = ok(at(&s, &school, Method::POST, "/v1/incidents", Some(body)).await, 201).await;
    assert_eq!(inc["schoolName"], "Kihumbuini Primary");
    assert_eq!(
        (inc["countyName"].as_str(), inc["subCountyName"].as_str()),
        (Some("Nairobi"), Some("Westlands"))
    );
    assert_eq!(
        (inc["contactName"].as_str(), inc["contactPhone"].as_str()),
        (Some("Mary Head"), Some("+254 700 000001"))
    );
    assert_eq!(
        (
            inc["deviceSerial"].as_str(),
            inc["deviceMake"].as_str(),
            inc["deviceModel"].as_str()
        ),
        (Some("LNV-77"), Some("Lenovo"), Some("300e"))
    );
    let again = ok(
        at(&s, &school, Method::GET, &format!("/v1/incidents/{}", id(&inc)), None).await,
        200,
    )
    .await;
    assert_eq!(again["deviceSerial"], "LNV-77", "returned by reads too");

    let wos = ok(
        at(
            &s,
            &school,
            Method::GET,
            &format!("/v1/work-orders?incidentId={}", id(&inc)),
            None,
        )
        .await,
        200,
    )
    .await;
    let wo = &wos["items"][0];
    assert_eq!(wos["items"].as_array().unwrap().len(), 1, "{wos}");
    assert_eq!(
        (wo["serviceShopId"].as_str(), wo["assignedStaffId"].as_str()),
        (Some(local.as_str()), Some(lead.as_str()))
    );
    assert_eq!(
        (wo["status"].as_str(), wo["taskType"].as_str()),
        (Some("assigned"), Some("triage"))
    );
    assert_eq!(wo["assignedTo"], "kc-lead");
    assert_eq!(wo["deviceSerial"], "LNV-77");
    assert_eq!(wo["countyName"], "", "work orders keep school, contact and device only");
    let trail = expect(
        &s,
        Method::GET,
        &format!("/v1/audit-logs?entityType=work_order&entityId={}", id(wo)),
        None,
        200,
    )
    .await;
    assert_eq!(trail["items"][0]["action"], "auto_route");

    // BOM lines follow the SSOT's compatibility list; an override is explicit and audited.
    let other_model = id(&expect(
        &s,
        Method::POST,
        "/v1/device-models",
        Some(json!({"make": "HP", "model": "Stream 11"})),
        201,
    )
    .await);
    let screen = id(&expect(
        &s,
        Method::POST,
        "/v1/parts",
        Some(json!({"puk": "SCR-300E", "name": "300e screen", "category": "screen"})),
        201,
    )
    .await);
    let battery = id(&expect(
        &s,
        Method::POST,
        "/v1/parts",
        Some(json!({"puk": "BAT-HP", "name": "HP battery", "category": "battery"})),
        201,
    )
    .await);
    expect(
        &s,
        Method::POST,
        "/v1/part-compatibility",
        Some(json!({"partId": screen, "deviceModelId": model})),
        201,
    )
    .await;
    expect(
        &s,
        Method::POST,
        "/v1/part-compatibility",
        Some(json!({"partId": battery, "deviceModelId": other_model})),
        201,
    )
    .await;
    for part in [&screen, &battery] {
        let stock = json!({"serviceShopId": local, "partId": part, "qtyAvailable": 5, "reorderThreshold": 1});
        expect(&s, Method::POST, "/v1/inventory/upsert", Some(stock), 200).await;
    }
    common::wait_until("compatibility in the snapshot", async || {
        expect(&s, Method::GET, "/v1/ssot/status", None, 200).await["resources"]["part_compatibility"]["count"] == 2
    })
    .await;
    let items = format!("/v1/work-orders/{}/bom/items", id(wo));
    ok(
        at(
            &s,
            &school,
            Method::POST,
            &items,
            Some(json!({"partId": screen, "qtyPlanned": 1})),
        )
        .await,
        201,
    )
    .await;
    let wrong = json!({"partId": battery, "qtyPlanned": 1});
    assert_problem(
        at(&s, &school, Method::POST, &items, Some(wrong)).await,
        409,
        "incompatible-part",
    )
    .await;
    let forced = json!({"partId": battery, "qtyPlanned": 1, "overrideCompatibility": true});
    let line = ok(at(&s, &school, Method::POST, &items, Some(forced)).await, 201).await;
    let trail = expect(
        &s,
        Method::GET,
        &format!("/v1/audit-logs?entityType=bom_item&entityId={}", id(&line)),
        None,
        200,
    )
    .await;
    assert_eq!(trail["items"][0]["action"], "reserve_incompatible");

    // Telemetry-opened incidents are enriched and routed the same way.
    let event = json!({"deviceId": device, "type": "battery_low", "severity": "high"});
    let opened = ok(
        at(&s, &school, Method::POST, "/v1/telemetry/events", Some(event)).await,
        201,
    )
    .await;
    assert_eq!(opened["incident"]["deviceMake"], "Lenovo");
    let routed = ok(
        at(
            &s,
            &school,
            Method::GET,
            &format!("/v1/work-orders?incidentId={}", id(&opened["incident"])),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(routed["items"][0]["serviceShopId"], local.as_str());

    // No shop in Turkana: the incident stands, nothing is routed.
    let body = json!({"deviceId": device, "title": "Charger", "category": "hardware"});
    let far = ok(at(&s, &remote, Method::POST, "/v1/incidents", Some(body)).await, 201).await;
    let none = ok(
        at(
            &s,
            &remote,
            Method::GET,
            &format!("/v1/work-orders?incidentId={}", id(&far)),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(none["items"].as_array().unwrap().len(), 0);

    // With a device register in place, an unknown device is a 422.
    let body = json!({"deviceId": "dev_01J00000000000000000000000", "title": "Ghost"});
    assert_problem(
        at(&s, &school, Method::POST, "/v1/incidents", Some(body)).await,
        422,
        "unknown-device",
    )
    .await;
}

on_both_engines!(incidents_are_enriched_and_routed);
