//! Telemetry intake: events become incidents, bursts stay one incident.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Backend, Server, assert_problem};
use reqwest::Method;
use serde_json::{Value, json};

async fn post(s: &Server, body: Value) -> reqwest::Response {
    s.req(Method::POST, "/v1/telemetry/events")
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn events_open_and_deduplicate(backend: Backend) {
    let s = Server::start(backend).await;
    let first = post(&s, json!({"deviceId": "dev_7", "type": "battery_low", "severity": "CRIT", "message": "Battery at 3%", "reportedBy": "nexus-mdm"})).await;
    assert_eq!(first.status(), 201);
    assert!(
        first.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/v1/incidents/inc_")
    );
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["deduplicated"], false);
    let inc = &first["incident"];
    assert_eq!(inc["category"], "telemetry:battery_low");
    assert_eq!(inc["title"], "Telemetry: battery_low");
    assert_eq!(inc["severity"], "critical");
    assert_eq!(inc["reportedBy"], "dev-user", "the actor is the caller, not the body");
    assert_eq!(inc["description"], "Battery at 3% (reported by nexus-mdm)");

    let again: Value = post(&s, json!({"deviceId": "dev_7", "type": "battery_low"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["deduplicated"], true);
    assert_eq!(again["incident"]["id"], inc["id"]);
    // Another kind or another device is another incident.
    assert_eq!(
        post(&s, json!({"deviceId": "dev_7", "type": "disk_full"}))
            .await
            .status(),
        201
    );
    assert_eq!(
        post(&s, json!({"deviceId": "dev_8", "type": "battery_low"}))
            .await
            .status(),
        201
    );

    // Once the incident is resolved, the fault recurring opens a new one.
    let id = inc["id"].as_str().unwrap();
    for to in ["acknowledged", "in_progress", "resolved"] {
        let r = s
            .req(Method::PATCH, &format!("/v1/incidents/{id}/status"))
            .json(&json!({"status": to}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let recur: Value = post(&s, json!({"deviceId": "dev_7", "type": "battery_low"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(recur["deduplicated"], false);
    assert_ne!(recur["incident"]["id"], inc["id"]);
    let listed: Value = s
        .req(Method::GET, "/v1/incidents?deviceId=dev_7")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 3);
}

async fn a_burst_opens_one_incident(backend: Backend) {
    let s = Server::start(backend).await;
    let burst = (0..12).map(|_| {
        post(
            &s,
            json!({"deviceId": "dev_1", "type": "overheating", "severity": "high"}),
        )
    });
    let statuses: Vec<u16> = futures::future::join_all(burst)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(statuses.iter().filter(|&&c| c == 201).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|&&c| c == 200).count(), 11, "{statuses:?}");
    assert_eq!(s.list_all().await.len(), 1);
}

async fn bad_events_are_rejected(backend: Backend) {
    let s = Server::start(backend).await;
    for body in [
        json!({"type": "battery_low"}),
        json!({"deviceId": "dev_1"}),
        json!({"deviceId": "dev_1", "type": "Battery Low"}),
        json!({"deviceId": "", "type": "x"}),
    ] {
        assert_problem(post(&s, body).await, 400, "validation-failed").await;
    }
    assert_problem(
        post(&s, json!({"deviceId": "d", "type": "x", "sender": "?"})).await,
        400,
        "invalid-body",
    )
    .await;
    assert_problem(post(&s, json!({"deviceId": 1, "type": "x"})).await, 400, "invalid-body").await;
    assert!(s.list_all().await.is_empty());
}

on_both_engines!(
    events_open_and_deduplicate,
    a_burst_opens_one_incident,
    bad_events_are_rejected
);
