//! Schedules, deliverables and approvals of work orders, on both engines.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Backend, Server, assert_problem, call, expect};
use reqwest::Method;
use serde_json::json;

async fn new_wo(s: &Server) -> String {
    let wo = expect(
        s,
        Method::POST,
        "/v1/work-orders",
        Some(json!({"deviceId": "dev_1", "taskType": "repair"})),
        201,
    )
    .await;
    wo["id"].as_str().unwrap().to_owned()
}

fn att() -> String {
    format!("att_{}", ulid::Ulid::new())
}

async fn schedules(backend: Backend) {
    let s = Server::start(backend).await;
    let wo = new_wo(&s).await;
    let path = format!("/v1/work-orders/{wo}/schedule");
    let slot = expect(&s, Method::POST, &path, Some(json!({"scheduledStart": "2026-12-01T08:00:00+03:00", "scheduledEnd": "2026-12-01T11:00:00+03:00", "notes": "Bring spare screens"})), 201).await;
    assert_eq!(slot["timezone"], "Africa/Nairobi");
    assert_eq!(slot["scheduledStart"], "2026-12-01T05:00:00Z");
    assert_eq!(slot["createdBy"], "dev-user");
    // A drop-off is a point in time: end may equal start (never precede it).
    let point = json!({"scheduledStart": "2026-12-02T08:00:00Z", "scheduledEnd": "2026-12-02T08:00:00Z"});
    let drop_off = expect(&s, Method::POST, &path, Some(point), 201).await;
    assert_eq!(drop_off["scheduledEnd"], drop_off["scheduledStart"]);
    for (body, field) in [
        (
            json!({"scheduledStart": "2026-12-01T11:00:00Z", "scheduledEnd": "2026-12-01T08:00:00Z"}),
            "scheduledEnd",
        ),
        (json!({"scheduledStart": "2026-12-01T08:00:00Z"}), "scheduledEnd"),
        (
            json!({"scheduledStart": "tomorrow", "scheduledEnd": "2026-12-01T08:00:00Z"}),
            "scheduledStart",
        ),
        (
            json!({"scheduledStart": "2026-12-01T08:00:00Z", "scheduledEnd": "2026-12-01T09:00:00Z", "timezone": "Nairobi time"}),
            "timezone",
        ),
    ] {
        let problem = assert_problem(
            call(&s, Method::POST, &path, Some(body)).await,
            400,
            "validation-failed",
        )
        .await;
        assert!(
            problem["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["field"] == field),
            "{problem}"
        );
    }
    let unknown = format!("/v1/work-orders/wo_{}/schedule", ulid::Ulid::new());
    let body = json!({"scheduledStart": "2026-12-01T08:00:00Z", "scheduledEnd": "2026-12-01T09:00:00Z"});
    assert_problem(call(&s, Method::POST, &unknown, Some(body)).await, 404, "not-found").await;
    let list = expect(&s, Method::GET, &format!("/v1/work-orders/{wo}/schedules"), None, 200).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    drop(s);
    let off = Server::start_with(backend, &[("ENABLE_WORK_ORDER_SCHEDULING", "false")]).await;
    let wo = new_wo(&off).await;
    let body = json!({"scheduledStart": "2026-12-01T08:00:00Z", "scheduledEnd": "2026-12-01T09:00:00Z"});
    assert_problem(
        call(
            &off,
            Method::POST,
            &format!("/v1/work-orders/{wo}/schedule"),
            Some(body),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
}

async fn deliverables_review_cycle(backend: Backend) {
    let s = Server::start(backend).await;
    let wo = new_wo(&s).await;
    let other_wo = new_wo(&s).await;
    let base = format!("/v1/work-orders/{wo}/deliverables");
    let d = expect(
        &s,
        Method::POST,
        &base,
        Some(json!({"title": "Before/after photos", "description": "Screen and hinge"})),
        201,
    )
    .await;
    assert_eq!(d["status"], "pending");
    let did = d["id"].as_str().unwrap();
    let submit = format!("{base}/{did}/submit");
    let review = format!("{base}/{did}/review");

    assert_problem(
        call(&s, Method::PATCH, &submit, Some(json!({"notes": "no evidence"}))).await,
        400,
        "validation-failed",
    )
    .await;
    assert_problem(
        call(
            &s,
            Method::PATCH,
            &submit,
            Some(json!({"evidenceAttachmentId": "photo.jpg"})),
        )
        .await,
        400,
        "validation-failed",
    )
    .await;
    assert_problem(
        call(&s, Method::PATCH, &review, Some(json!({"status": "approved"}))).await,
        409,
        "invalid-transition",
    )
    .await;
    // The deliverable must belong to the work order in the path.
    let foreign = format!("/v1/work-orders/{other_wo}/deliverables/{did}/submit");
    assert_problem(
        call(
            &s,
            Method::PATCH,
            &foreign,
            Some(json!({"evidenceAttachmentId": att()})),
        )
        .await,
        404,
        "not-found",
    )
    .await;

    let submitted = expect(
        &s,
        Method::PATCH,
        &submit,
        Some(json!({"evidenceAttachmentId": att(), "notes": "All done"})),
        200,
    )
    .await;
    assert_eq!(submitted["status"], "submitted");
    assert_eq!(
        submitted["description"], "Screen and hinge",
        "notes never overwrite the description"
    );
    assert_eq!(submitted["submissionNotes"], "All done");
    assert_eq!(submitted["submittedBy"], "dev-user");
    assert_problem(
        call(&s, Method::PATCH, &submit, Some(json!({"evidenceAttachmentId": att()}))).await,
        409,
        "invalid-transition",
    )
    .await;
    assert_problem(
        call(&s, Method::PATCH, &review, Some(json!({"status": "pending"}))).await,
        400,
        "validation-failed",
    )
    .await;
    let rejected = expect(
        &s,
        Method::PATCH,
        &review,
        Some(json!({"status": "rejected", "notes": "Blurry"})),
        200,
    )
    .await;
    assert_eq!(rejected["status"], "rejected");
    // Resubmission after rejection, then a single decision.
    expect(
        &s,
        Method::PATCH,
        &submit,
        Some(json!({"evidenceAttachmentId": att()})),
        200,
    )
    .await;
    let approved = expect(&s, Method::PATCH, &review, Some(json!({"status": "approved"})), 200).await;
    assert_eq!(
        (approved["status"].as_str(), approved["reviewedBy"].as_str()),
        (Some("approved"), Some("dev-user"))
    );
    assert_problem(
        call(&s, Method::PATCH, &review, Some(json!({"status": "rejected"}))).await,
        409,
        "invalid-transition",
    )
    .await;

    expect(&s, Method::POST, &base, Some(json!({"title": "Sign-off sheet"})), 201).await;
    assert_eq!(
        expect(&s, Method::GET, &format!("{base}?status=approved"), None, 200).await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        expect(&s, Method::GET, &base, None, 200).await["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_problem(
        call(&s, Method::GET, &format!("{base}?status=done"), None).await,
        400,
        "validation-failed",
    )
    .await;
    assert_problem(
        call(&s, Method::POST, &base, Some(json!({"description": "no title"}))).await,
        400,
        "validation-failed",
    )
    .await;
    let audit = expect(&s, Method::GET, &format!("/v1/audit-logs?entityId={did}"), None, 200).await;
    assert_eq!(
        audit["items"].as_array().unwrap().len(),
        5,
        "create, submit, review, submit, review: all audited"
    );
}

async fn approvals_are_decided_once(backend: Backend) {
    let s = Server::start(backend).await;
    let wo = new_wo(&s).await;
    let other_wo = new_wo(&s).await;
    let base = format!("/v1/work-orders/{wo}/approvals");
    let a = expect(&s, Method::POST, &base, Some(json!({})), 201).await;
    assert_eq!(
        (a["approvalType"].as_str(), a["status"].as_str()),
        (Some("school_signoff"), Some("pending"))
    );
    let wo_now = expect(&s, Method::GET, &format!("/v1/work-orders/{wo}"), None, 200).await;
    assert_eq!(wo_now["approvalStatus"], "pending");
    let decide = format!("{base}/{}/decide", a["id"].as_str().unwrap());
    // Another work order's path cannot decide it.
    let foreign = format!(
        "/v1/work-orders/{other_wo}/approvals/{}/decide",
        a["id"].as_str().unwrap()
    );
    assert_problem(
        call(&s, Method::PATCH, &foreign, Some(json!({"status": "approved"}))).await,
        404,
        "not-found",
    )
    .await;
    assert_problem(
        call(&s, Method::PATCH, &decide, Some(json!({"status": "maybe"}))).await,
        400,
        "validation-failed",
    )
    .await;
    assert_problem(
        call(&s, Method::PATCH, &decide, Some(json!({"status": "pending"}))).await,
        400,
        "validation-failed",
    )
    .await;
    let decided = expect(
        &s,
        Method::PATCH,
        &decide,
        Some(json!({"status": "approved", "notes": "Head teacher signed"})),
        200,
    )
    .await;
    assert_eq!(
        (decided["status"].as_str(), decided["decidedBy"].as_str()),
        (Some("approved"), Some("dev-user"))
    );
    assert_problem(
        call(&s, Method::PATCH, &decide, Some(json!({"status": "rejected"}))).await,
        409,
        "invalid-transition",
    )
    .await;
    let wo_now = expect(&s, Method::GET, &format!("/v1/work-orders/{wo}"), None, 200).await;
    assert_eq!(wo_now["approvalStatus"], "approved");
    assert_eq!(
        expect(&s, Method::GET, &base, None, 200).await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_problem(
        call(&s, Method::POST, &base, Some(json!({"approvalType": "vibes"}))).await,
        400,
        "validation-failed",
    )
    .await;
    let other_list = expect(
        &s,
        Method::GET,
        &format!("/v1/work-orders/{other_wo}/approvals"),
        None,
        200,
    )
    .await;
    assert_eq!(other_list["items"], json!([]));
}

on_both_engines!(schedules, deliverables_review_cycle, approvals_are_decided_once);
