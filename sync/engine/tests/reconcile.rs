//! The reconcile resumes from its checkpoint after being cut off mid-way
//! (a killed sync-worker), on both engines.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use essp_domain::ssot::{self, FieldValue, Kind, Record, SsotRow};
use essp_store::ssot::{Incoming, OnKeyMatch, upsert_batch};
use essp_store::ssot_snapshot;
use essp_sync_engine::ssot_feed::{ChangeFeed, FeedError, LocalFeed};
use essp_sync_engine::ssot_reconcile::Reconciler;
use essp_testkit::{Backend, TestDb};

const TENANT: &str = "tenant-r";

/// The real feed over the same database, cut off after `pages` pages (as
/// a worker killed mid-reconcile), recording where each page started.
struct CutOff {
    inner: LocalFeed,
    pages: Mutex<Option<usize>>,
    starts: Mutex<Vec<i64>>,
}

#[async_trait]
impl ChangeFeed for CutOff {
    async fn tenants(&self) -> Result<Vec<String>, FeedError> {
        self.inner.tenants().await
    }

    async fn page(
        &self,
        tenant: &str,
        kind: &'static Kind,
        after: i64,
        limit: u32,
    ) -> Result<(Vec<SsotRow>, Option<i64>), FeedError> {
        self.starts.lock().unwrap().push(after);
        if let Some(left) = self.pages.lock().unwrap().as_mut() {
            if *left == 0 {
                return Err(FeedError::Unreachable("devices", "worker killed".into()));
            }
            *left -= 1;
        }
        self.inner.page(tenant, kind, after, limit).await
    }
}

async fn resumes_from_checkpoint(backend: Backend) {
    let db = TestDb::migrated(backend).await;
    let models = ssot::kind("device_models").unwrap();
    let devices = ssot::kind("devices").unwrap();
    let now = essp_domain::now();
    let mut model = Record::new();
    model.insert("make", FieldValue::Text("HP".into()));
    model.insert("model", FieldValue::Text("Stream".into()));
    model.insert("category", FieldValue::Text("laptop".into()));
    model.insert("spec_json", FieldValue::Text(String::new()));
    let m = upsert_batch(
        db.db.as_ref(),
        TENANT,
        models,
        &[Incoming {
            id: None,
            record: model,
            expected_revision: None,
        }],
        OnKeyMatch::Update,
        now,
    )
    .await
    .unwrap();
    let rows: Vec<Incoming> = (0..95)
        .map(|i| {
            let input = serde_json::json!({"serial": format!("R-{i:03}"), "deviceModelId": m.ids[0]});
            Incoming {
                id: None,
                record: ssot::validate(devices, input.as_object().unwrap(), None).unwrap(),
                expected_revision: None,
            }
        })
        .collect();
    let out = upsert_batch(db.db.as_ref(), TENANT, devices, &rows, OnKeyMatch::Update, now)
        .await
        .unwrap();
    assert_eq!(out.created, 95);

    let feed = Arc::new(CutOff {
        inner: LocalFeed(db.db.clone()),
        pages: Mutex::new(Some(3)),
        starts: Mutex::new(Vec::new()),
    });
    let first = Reconciler::new(db.db.clone(), feed.clone(), 10, vec![]);
    assert!(
        first.sync_kind(TENANT, devices).await.is_err(),
        "cut off after three pages"
    );
    let state = ssot_snapshot::state(db.db.as_ref(), TENANT, "devices")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        state.last_revision, 30,
        "three pages of ten were committed with their checkpoint"
    );
    assert!(state.last_error.contains("worker killed"), "{state:?}");
    assert_eq!(ssot_snapshot::count(db.db.as_ref(), TENANT, devices).await.unwrap(), 30);

    // A new worker starts where the old one stopped, not from zero.
    let feed = Arc::new(CutOff {
        inner: LocalFeed(db.db.clone()),
        pages: Mutex::new(None),
        starts: Mutex::new(Vec::new()),
    });
    let second = Reconciler::new(db.db.clone(), feed.clone(), 10, vec![]);
    let (_, applied, reached) = second.sync_kind(TENANT, devices).await.unwrap();
    assert_eq!((applied, reached), (65, 95));
    assert_eq!(feed.starts.lock().unwrap()[0], 30);
    assert_eq!(ssot_snapshot::count(db.db.as_ref(), TENANT, devices).await.unwrap(), 95);
    let state = ssot_snapshot::state(db.db.as_ref(), TENANT, "devices")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((state.last_revision, state.last_error.as_str()), (95, ""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumes_from_checkpoint_sqlite() {
    resumes_from_checkpoint(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumes_from_checkpoint_postgres() {
    resumes_from_checkpoint(Backend::Postgres).await
}
