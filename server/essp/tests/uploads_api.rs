//! Presigned uploads against a real S3-compatible server (moto), on both
//! engines: the client PUTs straight to object storage and the attachment
//! becomes visible only once the server has checked the object.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Backend, Server, assert_problem};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const BUCKET: &str = "essp-test-uploads";

fn content(len: usize) -> Vec<u8> {
    let mut v = b"%PDF-1.7\n".to_vec();
    v.extend((0..len.saturating_sub(9)).map(|i| (i * 17 % 253) as u8));
    v
}

async fn ticket(s: &Server, inc: &str, body: Value) -> reqwest::Response {
    s.req(
        Method::POST,
        &format!("/v1/attachments/uploads?entityType=incident&entityId={inc}&fileName=report.pdf"),
    )
    .json(&body)
    .send()
    .await
    .unwrap()
}

async fn confirm(s: &Server, id: &str) -> reqwest::Response {
    s.req(Method::POST, &format!("/v1/attachments/{id}/confirm"))
        .send()
        .await
        .unwrap()
}

async fn visible(s: &Server, inc: &str) -> Vec<Value> {
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
    list["items"].as_array().unwrap().clone()
}

/// A server storing attachments in a private moto, with `extra` settings.
async fn on_s3(backend: Backend, moto: &essp_testkit::PrivateMoto, extra: &[(&str, &str)]) -> Server {
    let endpoint = moto.endpoint();
    let mut env = vec![
        ("MINIO_ENDPOINT", endpoint.as_str()),
        ("MINIO_ACCESS_KEY", "test"),
        ("MINIO_SECRET_KEY", "test"),
        ("ATTACHMENTS_BUCKET", BUCKET),
    ];
    env.extend_from_slice(extra);
    Server::start_with(backend, &env).await
}

async fn presigned_upload_is_confirmed_by_looking_at_the_object(backend: Backend) {
    let moto = essp_testkit::PrivateMoto::start(BUCKET);
    let endpoint = moto.endpoint();
    let s = on_s3(backend, &moto, &[]).await;
    let inc = s.new_incident_id().await;
    let bytes = content(200_000);
    let sha = format!("{:x}", Sha256::digest(&bytes));
    let declared = json!({"contentType": "application/pdf", "sizeBytes": bytes.len(), "sha256": sha});

    let r = ticket(&s, &inc, declared.clone()).await;
    assert_eq!(r.status(), 201);
    let t: Value = r.json().await.unwrap();
    let id = t["attachment"]["id"].as_str().unwrap().to_owned();
    assert_eq!(t["attachment"]["status"], "pending");
    assert_eq!(t["method"], "PUT");
    assert_eq!(t["confirmUrl"], format!("/v1/attachments/{id}/confirm"));
    let url = t["uploadUrl"].as_str().unwrap();
    assert!(url.starts_with(&format!("http://{endpoint}/{BUCKET}/")), "{url}");
    assert!(
        !url.contains("report.pdf"),
        "the key is built from server ids only: {url}"
    );

    // Before anything is uploaded: not visible, and confirming says why.
    assert!(visible(&s, &inc).await.is_empty());
    assert_eq!(
        s.req(Method::GET, &format!("/v1/attachments/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_problem(confirm(&s, &id).await, 409, "upload-missing").await;

    // The client uploads straight to object storage, with no credentials of ours.
    let put = reqwest::Client::new()
        .put(url)
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success(), "{}", put.status());

    let r = confirm(&s, &id).await;
    assert_eq!(r.status(), 200);
    let a: Value = r.json().await.unwrap();
    assert_eq!(a["status"], "available");
    assert_eq!(a["sha256"], sha);
    assert_eq!(a["sizeBytes"], bytes.len());
    // Confirming again answers the same and writes nothing more.
    let again: Value = confirm(&s, &id).await.json().await.unwrap();
    assert_eq!(again, a);
    assert_eq!(visible(&s, &inc).await.len(), 1);
    let got = s
        .req(Method::GET, &format!("/v1/attachments/{id}/content"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(format!("{:x}", Sha256::digest(&got)), sha);
    let audit: Value = s
        .req(
            Method::GET,
            &format!("/v1/audit-logs?entityType=attachment&entityId={id}"),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(audit["items"].as_array().unwrap().len(), 1, "{audit}");

    // Content that is not what was declared is refused and deleted.
    for (what, upload) in [
        ("size", content(1000)),
        ("digest", {
            let mut b = bytes.clone();
            b[100] ^= 0xFF;
            b
        }),
    ] {
        let t: Value = ticket(&s, &inc, declared.clone()).await.json().await.unwrap();
        let id = t["attachment"]["id"].as_str().unwrap();
        let put = reqwest::Client::new()
            .put(t["uploadUrl"].as_str().unwrap())
            .body(upload)
            .send()
            .await
            .unwrap();
        assert!(put.status().is_success());
        assert_problem(confirm(&s, id).await, 422, "upload-mismatch").await;
        // Deleted: a second confirm finds nothing to look at.
        assert_problem(confirm(&s, id).await, 409, "upload-missing").await;
        assert_eq!(visible(&s, &inc).await.len(), 1, "{what} mismatch became visible");
    }

    // Bad declarations change nothing.
    for (body, field) in [
        (
            json!({"contentType": "application/x-msdownload", "sizeBytes": 10, "sha256": sha}),
            "contentType",
        ),
        (
            json!({"contentType": "application/pdf", "sizeBytes": 0, "sha256": sha}),
            "sizeBytes",
        ),
        (
            json!({"contentType": "application/pdf", "sizeBytes": 1_000_000_000_000_i64, "sha256": sha}),
            "sizeBytes",
        ),
        (
            json!({"contentType": "application/pdf", "sizeBytes": 10, "sha256": "abc"}),
            "sha256",
        ),
        (json!({"contentType": "application/pdf", "sizeBytes": 10}), "sha256"),
    ] {
        let p = assert_problem(ticket(&s, &inc, body).await, 400, "validation-failed").await;
        assert_eq!(p["errors"][0]["field"], field, "{p}");
    }
    let r = s
        .req(
            Method::POST,
            "/v1/attachments/uploads?entityType=incident&entityId=inc_01J00000000000000000000000&fileName=x.pdf",
        )
        .json(&declared)
        .send()
        .await
        .unwrap();
    assert_problem(r, 422, "unknown-entity").await;
    assert_problem(confirm(&s, "att_01J00000000000000000000000").await, 404, "not-found").await;
    assert_problem(confirm(&s, "nonsense").await, 400, "invalid-id").await;
    assert_eq!(visible(&s, &inc).await.len(), 1);
    drop(moto);
}

async fn local_storage_has_no_presigned_uploads(backend: Backend) {
    let s = Server::start(backend).await;
    let inc = s.new_incident_id().await;
    let body = json!({"contentType": "image/png", "sizeBytes": 10, "sha256": "a".repeat(64)});
    assert_problem(ticket(&s, &inc, body).await, 409, "presign-unavailable").await;
    assert!(visible(&s, &inc).await.is_empty());
}

/// An upload nobody confirms is removed, object and all, once its URL has
/// been dead for another lifetime; a confirmed one next to it stays.
async fn abandoned_uploads_are_removed(backend: Backend) {
    let moto = essp_testkit::PrivateMoto::start(BUCKET);
    let endpoint = moto.endpoint();
    let s = on_s3(
        backend,
        &moto,
        &[
            ("MINIO_PRESIGN_EXPIRY_SECONDS", "1"),
            ("ESSP_HOUSEKEEPING_INTERVAL", "200ms"),
        ],
    )
    .await;
    let inc = s.new_incident_id().await;
    let bytes = content(10_000);
    let declared = json!({
        "contentType": "application/pdf", "sizeBytes": bytes.len(),
        "sha256": format!("{:x}", Sha256::digest(&bytes)),
    });
    // Object storage as the server sees it, to look at the objects directly.
    let storage = essp_blobs::BlobStore::s3(&essp_blobs::S3Config {
        endpoint: endpoint.clone(),
        use_ssl: false,
        region: "us-east-1".into(),
        bucket: BUCKET.into(),
        access_key: "test".into(),
        secret_key: "test".into(),
    })
    .unwrap();
    let mut uploads = Vec::new();
    for _ in 0..2 {
        let t: Value = ticket(&s, &inc, declared.clone()).await.json().await.unwrap();
        let url = t["uploadUrl"].as_str().unwrap();
        let put = reqwest::Client::new()
            .put(url)
            .body(bytes.clone())
            .send()
            .await
            .unwrap();
        assert!(put.status().is_success(), "{}", put.status());
        let path = url.split('?').next().unwrap();
        let key = path.split_once(&format!("/{BUCKET}/")).unwrap().1.to_owned();
        uploads.push((t["attachment"]["id"].as_str().unwrap().to_owned(), key));
    }
    let (kept, abandoned) = (&uploads[0], &uploads[1]);
    assert_eq!(confirm(&s, &kept.0).await.status(), 200);
    assert!(storage.size(&abandoned.1).await.is_ok());

    // (Confirming here would rescue it; the object going is the signal. The
    // row goes first, so it is gone by then.)
    common::wait_until("the abandoned upload's object to be deleted", async || {
        matches!(storage.size(&abandoned.1).await, Err(essp_blobs::BlobError::NotFound))
    })
    .await;
    assert_problem(confirm(&s, &abandoned.0).await, 404, "not-found").await;
    assert_eq!(storage.size(&kept.1).await.unwrap(), bytes.len() as u64);
    let listed = visible(&s, &inc).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], kept.0.as_str());
}

on_both_engines!(
    presigned_upload_is_confirmed_by_looking_at_the_object,
    local_storage_has_no_presigned_uploads,
    abandoned_uploads_are_removed
);
