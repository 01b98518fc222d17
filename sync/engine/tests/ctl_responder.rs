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

/// Central's sync loops on a fresh database, with a private NATS.
struct Central {
    nats: PrivateNats,
    db: TestDb,
    stop: watch::Sender<bool>,
    loops: Vec<tokio::task::JoinHandle<()>>,
}

impl Central {
    async fn start(backend: Backend) -> Central {
        let nats = PrivateNats::start(&[]);
        let db = TestDb::migrated(backend).await;
        let (stop, stopped) = watch::channel(false);
        let client = async_nats::connect(nats.url()).await.unwrap();
        let loops = central_link::spawn(db.db.clone(), client, Arc::new(NoBlobs), stopped);
        Central { nats, db, stop, loops }
    }

    async fn stop(self) {
        self.stop.send(true).unwrap();
        for l in self.loops {
            l.await.unwrap();
        }
    }
}

/// A request as the edge of `school` sends it (answered into its inbox).
async fn request<T: serde::de::DeserializeOwned>(nats_url: &str, school: &str, req: &CtlRequest) -> T {
    let client = async_nats::ConnectOptions::new()
        .custom_inbox_prefix(subjects::edge_inbox(TENANT, school))
        .connect(nats_url)
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
    let central = Central::start(backend).await;
    let nats = central.nats.url();

    // A central write in flight: school A's enrollment waits for it (for
    // the writer on SQLite, for its end on Postgres).
    let write = central.db.db.begin().await.unwrap();
    write.fetch_all("SELECT 1", &[]).await.unwrap();
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

    central.stop().await;
}

/// Verify's paged requests are answered only for the school of the subject
/// they arrive on, and only for replicated tables.
async fn paged_digest_requests_are_refused_outside_their_scope(backend: Backend) {
    let central = Central::start(backend).await;
    let nats = central.nats.url();

    let digest_page = |school: &str, table: &str| CtlRequest::DigestPage {
        tenant_id: TENANT.into(),
        school_id: school.into(),
        table: table.into(),
        after_id: String::new(),
        limit: 100,
    };
    let row_hashes = |school: &str, table: &str| CtlRequest::BucketRowHashes {
        tenant_id: TENANT.into(),
        school_id: school.into(),
        table: table.into(),
        buckets: vec![0, 1],
        after_id: String::new(),
        limit: 100,
    };
    let cases = [
        (digest_page("school-b", "incidents"), "another school"),
        (row_hashes("school-b", "incidents"), "another school"),
        (digest_page("school-a", "sync_outbox"), "unknown table"),
        (row_hashes("school-a", "no_such_table"), "unknown table"),
    ];
    for (req, why) in cases {
        // Sent on school A's subject.
        let answer: serde_json::Value = request(&nats, "school-a", &req).await;
        assert_eq!(answer["status"], "refused", "{req:?}: {answer}");
        assert!(answer["message"].as_str().unwrap().contains(why), "{req:?}: {answer}");
    }
    // The same request for its own school is answered.
    let page: DigestPage = request(&nats, "school-a", &digest_page("school-a", "incidents")).await;
    assert!(page.buckets.is_empty() && page.next_after.is_none(), "{page:?}");

    central.stop().await;
}

essp_testkit::on_both_engines!(
    paged_digest_requests_are_refused_outside_their_scope,
    a_slow_request_holds_up_no_other_edge,
);
