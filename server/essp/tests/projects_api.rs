//! Projects, phases, checklists and the phase gate, on both engines.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Backend, Server, assert_problem, call, expect};
use reqwest::Method;
use serde_json::{Value, json};

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

async fn phase_gate(backend: Backend) {
    let s = Server::start(backend).await;
    expect(
        &s,
        Method::POST,
        "/v1/checklist-templates",
        Some(json!({"phaseType": "install", "title": "Cabling tested"})),
        201,
    )
    .await;
    expect(
        &s,
        Method::POST,
        "/v1/checklist-templates",
        Some(json!({"phaseType": "install", "title": "Photos taken", "required": false})),
        201,
    )
    .await;
    let project = expect(
        &s,
        Method::POST,
        "/v1/projects",
        Some(json!({"projectType": "full_installation"})),
        201,
    )
    .await;
    assert_eq!(project["currentPhase"], "demo");
    let phases = format!("/v1/projects/{}/phases", id(&project));
    assert_problem(
        call(&s, Method::POST, &phases, Some(json!({"phaseType": "training"}))).await,
        422,
        "phase-not-in-project",
    )
    .await;
    let phase = expect(
        &s,
        Method::POST,
        &phases,
        Some(json!({"phaseType": "install", "ownerRole": "lead_tech"})),
        201,
    )
    .await;
    let pid = id(&phase);
    let checklist = expect(&s, Method::GET, &format!("/v1/phases/{pid}/checklist"), None, 200).await;
    let items = checklist["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 2, "copied from the templates");

    // Work in the phase: a work order and a deliverable.
    let wo = expect(
        &s,
        Method::POST,
        "/v1/work-orders",
        Some(json!({"deviceId": "dev_1", "taskType": "install", "phaseId": pid, "assignedStaffId": "staff_1"})),
        201,
    )
    .await;
    let d = expect(
        &s,
        Method::POST,
        &format!("/v1/work-orders/{}/deliverables", id(&wo)),
        Some(json!({"title": "Rack photo"})),
        201,
    )
    .await;
    assert_eq!(
        d["phaseId"],
        pid.as_str(),
        "a deliverable inherits its work order's phase"
    );

    let status = format!("/v1/phases/{pid}/status");
    assert_problem(
        call(&s, Method::PATCH, &status, Some(json!({"status": "done"}))).await,
        409,
        "invalid-transition",
    )
    .await;
    expect(&s, Method::PATCH, &status, Some(json!({"status": "in_progress"})), 200).await;
    let blocked = assert_problem(
        call(&s, Method::PATCH, &status, Some(json!({"status": "done"}))).await,
        409,
        "phase-gate",
    )
    .await;
    let detail = blocked["detail"].as_str().unwrap();
    for what in [
        "1 work order(s) not completed",
        "1 deliverable(s) not approved",
        "1 required checklist item(s) not done",
    ] {
        assert!(detail.contains(what), "{detail}");
    }

    // Clear every blocker.
    for to in ["in_repair", "completed"] {
        expect(
            &s,
            Method::PATCH,
            &format!("/v1/work-orders/{}/status", id(&wo)),
            Some(json!({"status": to})),
            200,
        )
        .await;
    }
    let dpath = format!("/v1/work-orders/{}/deliverables/{}", id(&wo), id(&d));
    expect(
        &s,
        Method::PATCH,
        &format!("{dpath}/submit"),
        Some(json!({"evidenceAttachmentId": format!("att_{}", ulid::Ulid::new())})),
        200,
    )
    .await;
    expect(
        &s,
        Method::PATCH,
        &format!("{dpath}/review"),
        Some(json!({"status": "approved"})),
        200,
    )
    .await;
    let required = items.iter().find(|i| i["required"] == true).unwrap();
    let ticked = expect(
        &s,
        Method::PATCH,
        &format!("/v1/phases/{pid}/checklist/{}", id(required)),
        Some(json!({"done": true})),
        200,
    )
    .await;
    assert_eq!(ticked["doneBy"], "dev-user");

    let done = expect(&s, Method::PATCH, &status, Some(json!({"status": "done"})), 200).await;
    assert_eq!(done["status"], "done");
    let project = expect(&s, Method::GET, &format!("/v1/projects/{}", id(&project)), None, 200).await;
    assert_eq!(
        project["currentPhase"], "integrate",
        "a done phase advances the project"
    );
    assert_problem(
        call(&s, Method::PATCH, &status, Some(json!({"status": "in_progress"}))).await,
        409,
        "invalid-transition",
    )
    .await;

    for (path, body, want, code) in [
        (
            "/v1/projects".to_owned(),
            json!({"projectType": "moonshot"}),
            400,
            "validation-failed",
        ),
        (phases.clone(), json!({"phaseType": "party"}), 400, "validation-failed"),
        (
            phases.clone(),
            json!({"phaseType": "survey", "ownerRole": "intern"}),
            400,
            "validation-failed",
        ),
        (
            "/v1/checklist-templates".to_owned(),
            json!({"phaseType": "install"}),
            400,
            "validation-failed",
        ),
    ] {
        assert_problem(call(&s, Method::POST, &path, Some(body)).await, want, code).await;
    }
    assert_problem(
        call(&s, Method::PATCH, &status, Some(json!({"status": "finished"}))).await,
        400,
        "validation-failed",
    )
    .await;
    assert_problem(
        call(&s, Method::GET, "/v1/projects/proj_nope", None).await,
        400,
        "invalid-id",
    )
    .await;
    assert_eq!(
        expect(&s, Method::GET, "/v1/projects", None, 200).await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

on_both_engines!(phase_gate);

async fn surveys_and_boq(backend: Backend) {
    let s = Server::start(backend).await;
    let project = expect(
        &s,
        Method::POST,
        "/v1/projects",
        Some(json!({"projectType": "device_refresh"})),
        201,
    )
    .await;
    let survey = expect(
        &s,
        Method::POST,
        &format!("/v1/projects/{}/surveys", id(&project)),
        Some(json!({"summary": "Two labs", "risks": "Flooding"})),
        201,
    )
    .await;
    let sid = id(&survey);
    assert_eq!(survey["status"], "draft");
    let room = expect(
        &s,
        Method::POST,
        &format!("/v1/surveys/{sid}/rooms"),
        Some(json!({"name": "Lab A", "roomType": "lab", "powerNotes": "2 sockets"})),
        201,
    )
    .await;
    // A photo must be an attachment uploaded to this survey.
    let upload = s
        .req(
            Method::POST,
            &format!("/v1/attachments?entityType=survey&entityId={sid}&fileName=lab.jpg"),
        )
        .header("Content-Type", "image/jpeg")
        .body(vec![0xFF, 0xD8, 1, 2, 3])
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), 201);
    let att: Value = upload.json().await.unwrap();
    let photos = format!("/v1/surveys/{sid}/photos");
    expect(
        &s,
        Method::POST,
        &photos,
        Some(json!({"attachmentId": att["id"], "roomId": room["id"], "caption": "Back wall"})),
        201,
    )
    .await;
    assert_problem(
        call(
            &s,
            Method::POST,
            &photos,
            Some(json!({"attachmentId": format!("att_{}", ulid::Ulid::new())})),
        )
        .await,
        422,
        "unknown-attachment",
    )
    .await;
    assert_problem(
        call(
            &s,
            Method::POST,
            &photos,
            Some(json!({"attachmentId": att["id"], "roomId": "room_x"})),
        )
        .await,
        422,
        "unknown-room",
    )
    .await;
    assert_problem(
        call(
            &s,
            Method::POST,
            &format!("/v1/surveys/{sid}/rooms"),
            Some(json!({"name": "x", "roomType": "ballroom"})),
        )
        .await,
        400,
        "validation-failed",
    )
    .await;
    let full = expect(&s, Method::GET, &format!("/v1/surveys/{sid}"), None, 200).await;
    assert_eq!(
        (
            full["rooms"].as_array().unwrap().len(),
            full["photos"].as_array().unwrap().len()
        ),
        (1, 1)
    );
    let status = format!("/v1/surveys/{sid}/status");
    assert_problem(
        call(&s, Method::PATCH, &status, Some(json!({"status": "approved"}))).await,
        409,
        "invalid-transition",
    )
    .await;
    expect(&s, Method::PATCH, &status, Some(json!({"status": "submitted"})), 200).await;
    assert_problem(
        call(
            &s,
            Method::POST,
            &format!("/v1/surveys/{sid}/rooms"),
            Some(json!({"name": "Late"})),
        )
        .await,
        409,
        "survey-not-draft",
    )
    .await;
    assert_eq!(
        expect(&s, Method::PATCH, &status, Some(json!({"status": "approved"})), 200).await["status"],
        "approved"
    );

    let boq = format!("/v1/projects/{}/boq", id(&project));
    let line = expect(&s, Method::POST, &format!("{boq}/items"), Some(json!({"category": "cabling", "description": "Cat6 runs", "qty": 12, "unit": "m", "estimatedCostCents": 240000})), 201).await;
    assert_eq!(line["approved"], false, "approval is a separate decision");
    for body in [
        json!({"description": "x", "qty": 0}),
        json!({"description": "x", "category": "snacks"}),
        json!({"qty": 1}),
        json!({"description": "x", "estimatedCostCents": -1}),
    ] {
        assert_problem(
            call(&s, Method::POST, &format!("{boq}/items"), Some(body)).await,
            400,
            "validation-failed",
        )
        .await;
    }
    expect(
        &s,
        Method::PATCH,
        &format!("{boq}/items/{}/approval", id(&line)),
        Some(json!({"approved": true})),
        200,
    )
    .await;
    assert_eq!(
        expect(&s, Method::GET, &format!("{boq}?approved=true"), None, 200).await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        expect(&s, Method::GET, &format!("{boq}?approved=false"), None, 200).await["items"],
        json!([])
    );
}

on_both_engines!(surveys_and_boq);
