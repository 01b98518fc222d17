//! SSOT change events over JetStream.
//!
//! The publisher turns outbox entries (written in the same transaction as
//! the change) into messages on `essp.ssot.<tenant>.<kind>` carrying the
//! changed rows, and deletes an entry only after JetStream acknowledged
//! every message of it: a change made while NATS is down is published when
//! it returns. The consumer (the sync-worker) applies those rows to IMS's
//! snapshot tables; the snapshots' version guard makes duplicates and
//! out-of-order delivery harmless.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use essp_domain::ssot::{Kind, SsotRow};
use essp_store::Database;
use essp_store::ssot::{self, OutboxEntry};
use essp_store::ssot_snapshot as snapshot;
use essp_sync_proto::subjects;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Rows per message (well under NATS's 1 MiB default payload limit).
const ROWS_PER_MESSAGE: u32 = 200;
/// The sync-worker's shared durable consumer: replicas split the work.
pub const CONSUMER: &str = "ims-snapshots";
const LEASE: &str = "essp-ssot-outbox";

#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("NATS: {0}")]
    Nats(String),
    #[error(transparent)]
    Store(#[from] essp_store::StoreError),
}

fn nats(e: impl std::fmt::Display) -> EventError {
    EventError::Nats(e.to_string())
}

/// One message: changed rows of one tenant's kind.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeEvent {
    pub tenant_id: String,
    pub kind: String,
    pub rows: Vec<serde_json::Value>,
}

/// Creates the stream if needed (file storage, a week of history).
pub async fn ensure_stream(js: &jetstream::Context) -> Result<stream::Stream, EventError> {
    js.get_or_create_stream(stream::Config {
        name: subjects::SSOT_STREAM.into(),
        subjects: vec![subjects::SSOT_ALL.into()],
        storage: stream::StorageType::File,
        max_age: Duration::from_secs(7 * 24 * 3600),
        duplicate_window: Duration::from_secs(120),
        ..Default::default()
    })
    .await
    .map_err(nats)
}

/// The events announcing one outbox entry's rows (as they are now: a row
/// changed again since has a later revision and its own entry).
async fn events_for(db: &dyn Database, entry: &OutboxEntry) -> Result<Vec<ChangeEvent>, EventError> {
    let Some(kind) = essp_domain::ssot::kind(&entry.kind) else {
        tracing::warn!(kind = %entry.kind, "dropping outbox entry of an unknown kind");
        return Ok(Vec::new());
    };
    let mut after = entry.from_revision - 1;
    let mut events = Vec::new();
    loop {
        let rows = ssot::revisions(db, &entry.tenant_id, kind, after, entry.to_revision, ROWS_PER_MESSAGE).await?;
        let Some(last) = rows.last() else { break };
        after = last.meta.revision;
        events.push(ChangeEvent {
            tenant_id: entry.tenant_id.clone(),
            kind: kind.name.into(),
            rows: rows.iter().map(|r| r.to_json(kind)).collect(),
        });
    }
    Ok(events)
}

async fn publish_entry(db: &dyn Database, js: &jetstream::Context, entry: &OutboxEntry) -> Result<u64, EventError> {
    let events = events_for(db, entry).await?;
    let mut acks = Vec::with_capacity(events.len());
    for (page, event) in events.iter().enumerate() {
        let payload = serde_json::to_vec(event).map_err(nats)?;
        let mut headers = async_nats::HeaderMap::new();
        // Lets JetStream drop a re-publish after a crash; correctness never
        // depends on it (the snapshot's version guard does that).
        headers.insert(
            "Nats-Msg-Id",
            format!("ssot:{}:{}:{}:{page}", entry.tenant_id, entry.id, entry.from_revision).as_str(),
        );
        let subject = subjects::ssot(&event.tenant_id, &event.kind);
        acks.push(
            js.publish_with_headers(subject, headers, payload.into())
                .await
                .map_err(nats)?,
        );
    }
    for ack in acks {
        ack.await.map_err(nats)?;
    }
    Ok(events.len() as u64)
}

/// Without NATS (one process, SSOT and IMS in the same database), the
/// same events are applied straight to the snapshots.
pub async fn deliver_locally(db: &dyn Database) -> Result<u64, EventError> {
    let mut sent = 0;
    loop {
        let entries = ssot::outbox_pending(db, 50).await?;
        if entries.is_empty() {
            return Ok(sent);
        }
        for entry in &entries {
            let events = events_for(db, entry).await?;
            apply_events(db, &events).await?;
            ssot::outbox_done(db, entry.id).await?;
            sent += events.len() as u64;
        }
    }
}

/// `essp_ssot_outbox_depth`: SSOT changes committed but not yet delivered.
async fn report_depth(db: &dyn Database) {
    if let Ok(depth) = ssot::outbox_depth(db).await {
        metrics::gauge!("essp_ssot_outbox_depth").set(depth as f64);
    }
}

/// The loop delivering outbox entries without NATS.
pub fn spawn_local_delivery(db: Arc<dyn Database>, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let pause = match deliver_locally(db.as_ref()).await {
                Ok(_) => Duration::from_millis(100),
                Err(e) => {
                    tracing::warn!(error = %e, "SSOT changes not applied to snapshots yet; retrying");
                    crate::RETRY
                }
            };
            report_depth(db.as_ref()).await;
            if crate::sleep_or_stop(&mut stop, pause).await {
                return;
            }
        }
    })
}

/// Publishes every pending outbox entry once; returns messages sent.
pub async fn publish_pending(db: &dyn Database, js: &jetstream::Context) -> Result<u64, EventError> {
    let mut sent = 0;
    loop {
        let entries = ssot::outbox_pending(db, 50).await?;
        if entries.is_empty() {
            return Ok(sent);
        }
        for entry in &entries {
            match publish_entry(db, js, entry).await {
                Ok(n) => {
                    ssot::outbox_done(db, entry.id).await?;
                    sent += n;
                    metrics::counter!("essp_ssot_events_published_total").increment(n);
                }
                Err(e) => {
                    let _ = ssot::outbox_failed(db, entry.id, &e.to_string()).await;
                    return Err(e);
                }
            }
        }
    }
}

/// The publisher loop: one per cluster (leased), polling the outbox.
pub fn spawn_publisher(
    db: Arc<dyn Database>,
    client: async_nats::Client,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let js = jetstream::new(client);
        let _lease = loop {
            match db.try_lock(LEASE).await {
                Ok(Some(guard)) => break guard,
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "cannot take the SSOT publisher lease"),
            }
            if crate::sleep_or_stop(&mut stop, Duration::from_secs(5)).await {
                return;
            }
        };
        let mut stream_ready = false;
        loop {
            if !stream_ready {
                stream_ready = ensure_stream(&js).await.is_ok();
            }
            let pause = match publish_pending(db.as_ref(), &js).await {
                Ok(_) => Duration::from_millis(100),
                Err(e) => {
                    tracing::warn!(error = %e, "SSOT events not published yet; retrying");
                    stream_ready = false;
                    crate::RETRY
                }
            };
            report_depth(db.as_ref()).await;
            if crate::sleep_or_stop(&mut stop, pause).await {
                return;
            }
        }
    })
}

/// Applies one batch of events to the snapshots in one transaction.
pub async fn apply_events(db: &dyn Database, events: &[ChangeEvent]) -> Result<u64, EventError> {
    let mut by_kind: BTreeMap<(&str, usize), (&'static Kind, Vec<SsotRow>)> = BTreeMap::new();
    let mut tenants = Vec::new();
    for ev in events {
        let Some(kind) = essp_domain::ssot::kind(&ev.kind) else {
            continue;
        };
        let order = essp_domain::ssot::KINDS
            .iter()
            .position(|k| k.name == kind.name)
            .unwrap_or(0);
        let entry = by_kind.entry((kind.name, order)).or_insert((kind, Vec::new()));
        for v in &ev.rows {
            match SsotRow::from_json(kind, v) {
                // The subject's tenant is the event's; a row claiming another is dropped.
                Ok(row) if row.meta.tenant_id == ev.tenant_id => entry.1.push(row),
                Ok(_) | Err(_) => tracing::warn!(kind = kind.name, "dropping a malformed SSOT event row"),
            }
        }
        tenants.push((ev.tenant_id.clone(), kind.name));
    }
    let tx = db.begin().await?;
    let now = essp_domain::now();
    let mut applied = 0;
    for (kind, rows) in by_kind.values() {
        applied += snapshot::apply(tx.as_ref(), kind, rows).await?;
    }
    tenants.sort();
    tenants.dedup();
    for (tenant, kind) in &tenants {
        snapshot::touch(tx.as_ref(), tenant, kind, now).await?;
    }
    tx.commit().await?;
    metrics::counter!("essp_ssot_rows_applied_total", "source" => "event").increment(applied);
    Ok(applied)
}

async fn consumer(js: &jetstream::Context) -> Result<consumer::PullConsumer, EventError> {
    let stream = ensure_stream(js).await?;
    stream
        .get_or_create_consumer(
            CONSUMER,
            consumer::pull::Config {
                durable_name: Some(CONSUMER.into()),
                ack_policy: consumer::AckPolicy::Explicit,
                ack_wait: Duration::from_secs(30),
                max_ack_pending: 10_000,
                ..Default::default()
            },
        )
        .await
        .map_err(nats)
}

/// The sync-worker's event loop: fetch a batch, apply, acknowledge.
/// Unacknowledged messages (a crash mid-batch) are redelivered.
pub fn spawn_consumer(
    db: Arc<dyn Database>,
    client: async_nats::Client,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let js = jetstream::new(client);
        loop {
            let result = async {
                let c = consumer(&js).await?;
                loop {
                    let mut batch = c
                        .fetch()
                        .max_messages(500)
                        .expires(Duration::from_millis(500))
                        .messages()
                        .await
                        .map_err(nats)?;
                    let mut msgs = Vec::new();
                    while let Some(m) = batch.next().await {
                        msgs.push(m.map_err(nats)?);
                    }
                    if *stop.borrow() {
                        return Ok::<(), EventError>(());
                    }
                    if msgs.is_empty() {
                        continue;
                    }
                    let events: Vec<ChangeEvent> = msgs
                        .iter()
                        .filter_map(|m| serde_json::from_slice(&m.payload).ok())
                        .collect();
                    apply_events(db.as_ref(), &events).await?;
                    for m in &msgs {
                        m.ack().await.map_err(nats)?;
                    }
                }
            }
            .await;
            match result {
                Ok(()) => return,
                Err(e) => tracing::warn!(error = %e, "SSOT event consumer interrupted; retrying"),
            }
            if crate::sleep_or_stop(&mut stop, crate::RETRY).await {
                return;
            }
        }
    })
}
