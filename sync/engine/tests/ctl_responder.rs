//! Central answers edges' `ctl` requests side by side: one edge's slow
//! request never holds up another edge's.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use essp_sync_engine::blob_transfer::BlobAccess;
use essp_sync_engine::central_link;
use essp_sync_proto::{CtlRequest, DigestPage, EnrollReply, EnrollRequest, subjects};
use essp_testkit::{Backend, PrivateNats, TestDb};
use tokio::sync::watch;

const TENANT: &str = "tenant-ctl";

/// No object storage: nothing here moves a blob.
struct NoBlobs;

#[async_trait::async_trait]
impl BlobAccess for NoBlobs {
    async fn get(&self, _: &str) -> Result<Option<Bytes>, String> {
        Ok(None)
    }
    async fn get_range(&self, _: &str, _: std::ops::Range<u64>) -> Result<Option<Bytes>, String> {
        Ok(None)
    }
    async fn put(&self, _: &str, _: Bytes) -> Result<(), String> {
        Err("no object storage here".into())
    }
    async fn exists(&self, _: &str) -> Result<bool, String> {
        Ok(false)
    }
    async fn delete(&self, _: &str) -> Result<(), String> {
        Ok(())
    }
}

/// A request as the edge of `school` sends it (answered into its inbox).
async fn request<T: serde::de::DeserializeOwned>(nats: &PrivateNats, school: &str, req: &CtlRequest) -> T {
    let client = async_nats::ConnectOptions::new()
        .custom_inbox_prefix(subjects::edge_inbox(TENANT, school))
        .connect(nats.url())
        .await
        .unwrap();
    let body = serde_json::to_vec(req).unwrap();
    let mut tries = 0;
    let msg = loop {
        let request = async_nats::Request::new()
            .payload(body.clone().into())
            .timeout(Some(Duration::from_secs(60)));
        match client.send_request(subjects::ctl(TENANT, school), request).await {
            Ok(msg) => break msg,
            // Central's responder is still subscribing.
            Err(e) if e.kind() == async_nats::client::RequestErrorKind::NoResponders && tries < 100 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("{e}"),
        }
    };
    serde_json::from_slice(&msg.payload).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&msg.payload)))
}

async fn a_slow_request_holds_up_no_other_edge(backend: Backend) {
    let nats = PrivateNats::start(&[]);
    let central = TestDb::migrated(backend).await;
    let (stop, stopped) = watch::channel(false);
    let client = async_nats::connect(nats.url()).await.unwrap();
    let loops = central_link::spawn(central.db.clone(), client, Arc::new(NoBlobs), stopped);

    // A central write in flight: school A's enrollment waits for it (for
    // the writer on SQLite, for its end on Postgres).
    let write = central.db.begin().await.unwrap();
    write.fetch_all("SELECT 1", &[]).await.unwrap();
    let nats = Arc::new(nats);
    let enrolling = tokio::spawn({
        let nats = nats.clone();
        async move {
            request::<EnrollReply>(
                &nats,
                "school-a",
                &CtlRequest::Enroll(EnrollRequest {
                    tenant_id: TENANT.into(),
                    school_id: "school-a".into(),
                    epoch: "epoch-a".into(),
                    host: "box-a".into(),
                    confirmed_seq: 0,
                    replace: false,
                }),
            )
            .await
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!enrolling.is_finished(), "the enrollment waits for the write");

    // School B is answered meanwhile.
    let page: DigestPage = tokio::time::timeout(
        Duration::from_secs(10),
        request(
            &nats,
            "school-b",
            &CtlRequest::DigestPage {
                tenant_id: TENANT.into(),
                school_id: "school-b".into(),
                table: "incidents".into(),
                after_id: String::new(),
                limit: 100,
            },
        ),
    )
    .await
    .expect("school B was answered while school A's enrollment waited");
    assert!(page.buckets.is_empty() && page.next_after.is_none(), "{page:?}");
    assert!(!enrolling.is_finished(), "the enrollment still waits for the write");

    write.rollback().await.unwrap();
    let enrolled = tokio::time::timeout(Duration::from_secs(30), enrolling)
        .await
        .expect("enrolled once the write ended")
        .unwrap();
    assert_eq!(enrolled.status, "ok", "{enrolled:?}");

    stop.send(true).unwrap();
    for l in loops {
        l.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_request_holds_up_no_other_edge_sqlite() {
    a_slow_request_holds_up_no_other_edge(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_request_holds_up_no_other_edge_postgres() {
    a_slow_request_holds_up_no_other_edge(Backend::Postgres).await;
}
