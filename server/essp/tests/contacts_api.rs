//! School contacts on both engines.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Backend, SCHOOL, Server, assert_problem, call, expect};
use reqwest::Method;
use serde_json::json;

async fn contacts_and_one_primary(backend: Backend) {
    let s = Server::start(backend).await;
    let base = format!("/v1/schools/{SCHOOL}/contacts");
    let head = expect(&s, Method::POST, &base, Some(json!({"name": "Mary Wanjiru", "role": "head_teacher", "phone": "+254 700 111222", "email": "head@school.ac.ke", "isPrimary": true})), 201).await;
    assert_eq!(head["isPrimary"], true);
    let ict = expect(
        &s,
        Method::POST,
        &base,
        Some(json!({"name": "Otieno", "role": "ict_teacher"})),
        201,
    )
    .await;
    assert_eq!(ict["isPrimary"], false);
    let primary = expect(
        &s,
        Method::PATCH,
        &format!("{base}/primary"),
        Some(json!({"contactId": ict["id"]})),
        200,
    )
    .await;
    assert_eq!(primary["isPrimary"], true);
    let list = expect(&s, Method::GET, &base, None, 200).await;
    let flags: Vec<(&str, bool)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["isPrimary"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        flags,
        vec![("Otieno", true), ("Mary Wanjiru", false)],
        "exactly one primary, listed first"
    );

    let path = format!("{base}/{}", head["id"].as_str().unwrap());
    let version = list["items"][1]["version"].as_i64().unwrap();
    assert!(
        version > head["version"].as_i64().unwrap(),
        "losing primary is a change"
    );
    let r = s
        .req(Method::PATCH, &path)
        .header("If-Match", format!("\"{version}\""))
        .json(&json!({"phone": "0711 222 333"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let stale = s
        .req(Method::PATCH, &path)
        .header("If-Match", "\"1\"")
        .json(&json!({"phone": "0711 222 333"}))
        .send()
        .await
        .unwrap();
    assert_problem(stale, 412, "version-mismatch").await;
    // Another school's contact list is separate; a contact id of another school is 404.
    let other = format!("/v1/schools/school-2/contacts/{}", head["id"].as_str().unwrap());
    assert_problem(
        call(&s, Method::PATCH, &other, Some(json!({"name": "x"}))).await,
        404,
        "not-found",
    )
    .await;
    assert_eq!(
        expect(&s, Method::GET, "/v1/schools/school-2/contacts", None, 200).await["items"],
        json!([])
    );

    for (body, code) in [
        (json!({"role": "head_teacher"}), "validation-failed"),
        (json!({"name": "x", "email": "not-an-email"}), "validation-failed"),
        (json!({"name": "x", "phone": "call me"}), "validation-failed"),
        (json!({"name": "x", "role": "janitor"}), "validation-failed"),
        (json!({"name": "x", "nickname": "y"}), "invalid-body"),
    ] {
        assert_problem(call(&s, Method::POST, &base, Some(body)).await, 400, code).await;
    }
    assert_problem(
        call(&s, Method::PATCH, &path, Some(json!({"isPrimary": true}))).await,
        400,
        "validation-failed",
    )
    .await;
    assert_problem(
        call(&s, Method::PATCH, &format!("{base}/primary"), Some(json!({}))).await,
        400,
        "validation-failed",
    )
    .await;
    // A contact of another school (or none) named in the body.
    assert_problem(
        call(
            &s,
            Method::PATCH,
            &format!("{base}/primary"),
            Some(json!({"contactId": "contact_01M8G366H78ZR061GGSE8G9CRV"})),
        )
        .await,
        422,
        "unknown-contact",
    )
    .await;
    assert_problem(
        call(&s, Method::GET, "/v1/schools/bad%20school/contacts", None).await,
        400,
        "invalid-scope",
    )
    .await;

    assert_eq!(call(&s, Method::DELETE, &path, None).await.status(), 204);
    assert_eq!(
        expect(&s, Method::GET, &base, None, 200).await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

on_both_engines!(contacts_and_one_primary);
