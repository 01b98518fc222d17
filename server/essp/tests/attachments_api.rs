//! Attachments: streamed upload, checksums, download, limits — on the local
//! filesystem (both engines) and on a real S3-compatible server (moto).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Backend, Server, assert_problem};
use reqwest::Method;
use serde_json::Value;
use sha2::{Digest, Sha256};

fn photo(len: usize) -> Vec<u8> {
    // A JPEG header and deterministic noise: content need not decode.
    let mut v = vec![0xFF, 0xD8, 0xFF, 0xE0];
    v.extend((0..len.saturating_sub(4)).map(|i| (i * 31 % 251) as u8));
    v
}

async fn upload(s: &Server, query: &str, ct: &str, body: Vec<u8>) -> reqwest::Response {
    s.req(Method::POST, &format!("/v1/attachments?{query}"))
        .header("Content-Type", ct)
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Upload, list, read back byte-for-byte; returns the attachment.
async fn round_trip(s: &Server, inc: &str) -> Value {
    let bytes = photo(300_000);
    let r = upload(
        s,
        &format!("entityType=incident&entityId={inc}&fileName=crack%20photo.jpg"),
        "image/jpeg",
        bytes.clone(),
    )
    .await;
    assert_eq!(r.status(), 201);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let a: Value = r.json().await.unwrap();
    assert_eq!(a["sizeBytes"], 300_000);
    assert_eq!(a["sha256"], format!("{:x}", Sha256::digest(&bytes)));
    assert_eq!(a["fileName"], "crack photo.jpg");
    assert_eq!(a["uploadedBy"], "dev-user");
    assert!(a.get("objectKey").is_none(), "storage keys are not exposed");
    assert_eq!(location, format!("/v1/attachments/{}", a["id"].as_str().unwrap()));
    let list: Value = s
        .req(
            Method::GET,
            &format!("/v1/attachments?entityType=incident&entityId={inc}"),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"][0]["id"], a["id"]);
    let content = s.req(Method::GET, &format!("{location}/content")).send().await.unwrap();
    assert_eq!(content.status(), 200);
    assert_eq!(content.headers()["content-type"], "image/jpeg");
    assert_eq!(
        content.headers()["content-disposition"],
        "attachment; filename*=UTF-8''crack%20photo.jpg"
    );
    assert_eq!(content.bytes().await.unwrap().to_vec(), bytes);
    a
}

async fn local_attachments(backend: Backend) {
    let s = Server::start_with(backend, &[("ESSP_ATTACHMENT_MAX_BYTES", "400000")]).await;
    let inc = s.new_incident_id().await;
    let a = round_trip(&s, &inc).await;
    let url: Value = s
        .req(
            Method::GET,
            &format!("/v1/attachments/{}/download-url", a["id"].as_str().unwrap()),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        url["url"],
        format!("/v1/attachments/{}/content", a["id"].as_str().unwrap())
    );

    let q = format!("entityType=incident&entityId={inc}&fileName=x.jpg");
    assert_problem(
        upload(&s, &q, "application/x-msdownload", photo(10)).await,
        415,
        "unsupported-media-type",
    )
    .await;
    let too_large = upload(&s, &q, "image/jpeg", photo(500_000)).await;
    // The unread rest of the body ends the connection, and the answer says
    // so: a client must not send its next request down it.
    assert_eq!(
        too_large.headers().get("connection").and_then(|v| v.to_str().ok()),
        Some("close")
    );
    assert_problem(too_large, 413, "payload-too-large").await;
    assert_problem(
        upload(
            &s,
            &format!("entityType=incident&entityId={inc}&fileName=../../etc/passwd"),
            "image/jpeg",
            photo(10),
        )
        .await,
        400,
        "validation-failed",
    )
    .await;
    assert_problem(
        upload(
            &s,
            &format!("entityType=incident&entityId={inc}"),
            "image/jpeg",
            photo(10),
        )
        .await,
        400,
        "validation-failed",
    )
    .await;
    assert_problem(
        upload(
            &s,
            &format!("entityType=device&entityId={inc}&fileName=x.jpg"),
            "image/jpeg",
            photo(10),
        )
        .await,
        400,
        "validation-failed",
    )
    .await;
    let ghost = format!("inc_{}", ulid::Ulid::new());
    assert_problem(
        upload(
            &s,
            &format!("entityType=incident&entityId={ghost}&fileName=x.jpg"),
            "image/jpeg",
            photo(10),
        )
        .await,
        422,
        "unknown-entity",
    )
    .await;
    // Another school cannot see or fetch it.
    let other = s
        .http
        .get(s.url(&format!("/v1/attachments/{}/content", a["id"].as_str().unwrap())))
        .header("X-Tenant-ID", common::TENANT)
        .header("X-School-ID", "school-2")
        .send()
        .await
        .unwrap();
    assert_problem(other, 404, "not-found").await;
    let list: Value = s
        .req(
            Method::GET,
            &format!("/v1/attachments?entityType=incident&entityId={inc}"),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        1,
        "rejected uploads left nothing behind"
    );
    let audit: Value = s
        .req(Method::GET, "/v1/audit-logs?entityType=attachment")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(audit["items"].as_array().unwrap().len(), 1);
}

on_both_engines!(local_attachments);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_attachments_with_presigned_download() {
    let moto = essp_testkit::PrivateMoto::start("essp-test-attachments");
    let endpoint = moto.endpoint();
    let env = [
        ("MINIO_ENDPOINT", endpoint.as_str()),
        ("MINIO_ACCESS_KEY", "test"),
        ("MINIO_SECRET_KEY", "test"),
        ("ATTACHMENTS_BUCKET", "essp-test-attachments"),
    ];
    let s = Server::start_with(Backend::Postgres, &env).await;
    let ready: Value = s.http.get(s.url("/readyz")).send().await.unwrap().json().await.unwrap();
    assert_eq!(ready["checks"]["minio"], "ok", "{ready}");
    let inc = s.new_incident_id().await;
    let a = round_trip(&s, &inc).await;
    let url: Value = s
        .req(
            Method::GET,
            &format!("/v1/attachments/{}/download-url", a["id"].as_str().unwrap()),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let presigned = url["url"].as_str().unwrap();
    assert!(
        presigned.starts_with(&format!("http://{endpoint}/essp-test-attachments/")),
        "{presigned}"
    );
    assert_eq!(url["expiresInS"], 900);
    // The presigned link works without any credentials of ours.
    let body = reqwest::get(presigned).await.unwrap();
    assert_eq!(body.status(), 200);
    assert_eq!(
        format!("{:x}", Sha256::digest(body.bytes().await.unwrap())),
        a["sha256"].as_str().unwrap()
    );
    drop(moto);
    // Object storage down: readiness names it, the API answers 503 (never 500).
    let ready = s.http.get(s.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let r = upload(
        &s,
        &format!("entityType=incident&entityId={inc}&fileName=y.jpg"),
        "image/jpeg",
        photo(10),
    )
    .await;
    assert_problem(r, 503, "unavailable").await;
}
