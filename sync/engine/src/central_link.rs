//! Central's side of edge sync (the sync-worker role): applies edges'
//! envelopes from the `up` stream, answers checkpoints on `ctl`, and
//! publishes central's changes of enrolled schools on `down`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, AckKind, consumer, stream};
use essp_store::Database;
use essp_store::sync::{catalog, digest, outbox};
use essp_sync_proto::{CtlRequest, DigestPage, EnrollReply, Envelope, PROTOCOL_VERSION, RowHashesPage, subjects};
use futures::StreamExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::blob_transfer::{self, BlobAccess};
use crate::edge_apply::{self, UpResult};
use crate::{SyncError, nats_err};

/// The sync-workers' shared durable consumer of `up`: replicas split the
/// messages; the per-edge lock and sequence check keep apply exactly-once.
pub const UP_CONSUMER: &str = "essp-sync-up";
const DOWN_LEASE: &str = "essp-sync-down";
const CTL_QUEUE: &str = "essp-sync-worker";
/// Changes per down envelope (well under NATS's 1 MiB payload limit).
const DOWN_BATCH: i64 = 200;
/// The most rows one `DigestPage` request digests (a few seconds' work),
/// whatever the edge asks for.
const MAX_DIGEST_PAGE_ROWS: u32 = 50_000;
/// The most rows one `BucketRowHashes` request scans: its answer (up to one
/// hash per row) stays well inside NATS's 1 MiB payload.
const MAX_HASH_PAGE_ROWS: u32 = 5_000;

/// Creates both sync streams if needed (file storage; `up` keeps a week,
/// `down` a month so an edge offline for weeks still catches up).
pub async fn ensure_streams(js: &jetstream::Context) -> Result<(), SyncError> {
    for (name, subject, days) in [
        (subjects::UP_STREAM, subjects::UP_ALL, 7),
        (subjects::DOWN_STREAM, subjects::DOWN_ALL, 30),
    ] {
        js.get_or_create_stream(stream::Config {
            name: name.into(),
            subjects: vec![subject.into()],
            storage: stream::StorageType::File,
            max_age: Duration::from_secs(days * 24 * 3600),
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        })
        .await
        .map_err(nats_err)?;
    }
    Ok(())
}

/// Starts central's sync loops. `blobs` is where edges' attachment
/// contents are stored.
pub fn spawn(
    db: Arc<dyn Database>,
    client: async_nats::Client,
    blobs: Arc<dyn BlobAccess>,
    stop: watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    vec![
        spawn_loop("up applier", stop.clone(), {
            let (db, client, stop) = (db.clone(), client.clone(), stop.clone());
            move || apply_up_stream(db.clone(), client.clone(), stop.clone())
        }),
        spawn_loop("checkpoint responder", stop.clone(), {
            let (db, client, stop) = (db.clone(), client.clone(), stop.clone());
            move || answer_ctl(db.clone(), client.clone(), blobs.clone(), stop.clone())
        }),
        spawn_loop("down publisher", stop.clone(), {
            let (db, client, stop) = (db.clone(), client.clone(), stop.clone());
            move || publish_down(db.clone(), client.clone(), stop.clone())
        }),
        spawn_loop("fleet metrics", stop.clone(), {
            let (db, stop) = (db.clone(), stop.clone());
            move || report_fleet(db.clone(), stop.clone())
        }),
    ]
}

/// How often the per-edge gauges are refreshed.
const FLEET_METRICS_EVERY: Duration = Duration::from_secs(15);

/// `essp_sync_edge_*`: each enrolled edge's lag, last contact, conflicts
/// and refusals, for dashboards and the "edge offline" / "no progress"
/// alerts.
async fn report_fleet(db: Arc<dyn Database>, mut stop: watch::Receiver<bool>) -> Result<(), SyncError> {
    loop {
        let now = chrono::Utc::now();
        let mut counts = std::collections::BTreeMap::new();
        for e in essp_store::sync::edges::list_all(db.as_ref()).await? {
            if !counts.contains_key(&e.tenant_id) {
                counts.insert(
                    e.tenant_id.clone(),
                    essp_store::sync::journal::counts(db.as_ref(), &e.tenant_id).await?,
                );
            }
            let (conflicts, rejected) = counts
                .get(&e.tenant_id)
                .and_then(|c| c.get(&e.school_id))
                .copied()
                .unwrap_or_default();
            let cp = e.checkpoint.as_ref();
            let num = |k: &str| {
                cp.and_then(|c| c.get(k))
                    .and_then(serde_json::Value::as_i64)
                    .unwrap_or(0)
            };
            let labels = [("tenant", e.tenant_id.clone()), ("school", e.school_id.clone())];
            let seen = e
                .last_seen_at
                .map_or(f64::INFINITY, |t| (now - t).num_milliseconds() as f64 / 1000.0);
            metrics::gauge!("essp_sync_edge_lag_changes", &labels).set((num("lastSeq") - e.applied_seq).max(0) as f64);
            metrics::gauge!("essp_sync_edge_lag_seconds", &labels).set(num("outboxAgeSeconds") as f64);
            metrics::gauge!("essp_sync_edge_outbox_depth", &labels).set(num("outboxDepth") as f64);
            metrics::gauge!("essp_sync_edge_last_seen_seconds", &labels).set(seen);
            metrics::gauge!("essp_sync_edge_applied_seq", &labels).set(e.applied_seq as f64);
            metrics::gauge!("essp_sync_edge_conflicts", &labels).set(conflicts as f64);
            metrics::gauge!("essp_sync_edge_rejected", &labels).set(rejected as f64);
            metrics::gauge!("essp_sync_edge_refused", &labels).set(if e.status == "refused" { 1.0 } else { 0.0 });
        }
        if crate::sleep_or_stop(&mut stop, FLEET_METRICS_EVERY).await {
            return Ok(());
        }
    }
}

/// Runs `run` until it returns Ok (stop) — after an error, again.
pub(crate) fn spawn_loop<F, Fut>(what: &'static str, mut stop: watch::Receiver<bool>, run: F) -> JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(), SyncError>> + Send,
{
    tokio::spawn(async move {
        loop {
            match run().await {
                Ok(()) => return,
                Err(e) => tracing::warn!(error = %e, task = what, "sync interrupted; retrying"),
            }
            if crate::sleep_or_stop(&mut stop, crate::RETRY).await {
                return;
            }
        }
    })
}

/// The sync-workers' durable consumer of `up` as this release sets it up.
pub fn up_consumer_config() -> consumer::pull::Config {
    consumer::pull::Config {
        durable_name: Some(UP_CONSUMER.into()),
        filter_subject: subjects::UP_ALL.into(),
        ack_policy: consumer::AckPolicy::Explicit,
        ack_wait: Duration::from_secs(60),
        max_ack_pending: 64,
        ..Default::default()
    }
}

/// The up consumer, created with [`up_consumer_config`] or, when a
/// deployment already has it with other settings (a consumer keeps those it
/// was created with), updated to them in place: its position and pending
/// acknowledgements are kept. Creating a consumer as it already is changes
/// nothing, so every worker of every release start does this.
pub async fn ensure_up_consumer(js: &jetstream::Context) -> Result<consumer::PullConsumer, SyncError> {
    let stream = js.get_stream(subjects::UP_STREAM).await.map_err(nats_err)?;
    let config = up_consumer_config();
    match stream.get_consumer::<consumer::pull::Config>(UP_CONSUMER).await {
        Ok(mut existing) => {
            let info = existing.info().await.map_err(nats_err)?;
            let have = &info.config;
            let differs = have.ack_wait != config.ack_wait
                || have.max_ack_pending != config.max_ack_pending
                || have.ack_policy != config.ack_policy
                || have.filter_subject != config.filter_subject;
            if differs {
                tracing::info!(
                    consumer = UP_CONSUMER,
                    "updating the up consumer's settings to this release's"
                );
                // A create of an existing durable with changed editable settings
                // updates it (the strict `update_consumer` needs async-nats's
                // server_2_10 feature, and the edge permissions target 2.9).
                return stream.create_consumer(config).await.map_err(nats_err);
            }
            Ok(existing)
        }
        Err(_) => stream
            .get_or_create_consumer(UP_CONSUMER, config)
            .await
            .map_err(nats_err),
    }
}

async fn apply_up_stream(
    db: Arc<dyn Database>,
    client: async_nats::Client,
    stop: watch::Receiver<bool>,
) -> Result<(), SyncError> {
    let js = jetstream::new(client);
    ensure_streams(&js).await?;
    let consumer = ensure_up_consumer(&js).await?;
    // A continuous pull, a few envelopes ahead: each is applied and
    // acknowledged before the next, and none waits long enough unacknowledged
    // to be redelivered (a short fetch that expired before its envelopes were
    // applied left them to come back after the ack wait, stalling catch-up).
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(4)
        .messages()
        .await
        .map_err(nats_err)?;
    let mut stop = stop;
    loop {
        let msg = tokio::select! {
            m = messages.next() => m,
            _ = stop.wait_for(|s| *s) => return Ok(()),
        };
        let Some(msg) = msg else {
            return Err(SyncError::Nats("up stream ended".into()));
        };
        let msg = msg.map_err(nats_err)?;
        let ack = handle_up(db.as_ref(), &msg).await?;
        msg.ack_with(ack).await.map_err(nats_err)?;
    }
}

/// Applies one `up` message; says how to acknowledge it.
async fn handle_up(db: &dyn Database, msg: &jetstream::Message) -> Result<AckKind, SyncError> {
    let Some((tenant, school)) = subjects::scope_of_dir(&msg.subject, "up") else {
        tracing::warn!(subject = %msg.subject, "dropping a message that is not an edge's upload");
        return Ok(AckKind::Term);
    };
    let env: Envelope = match serde_json::from_slice(&msg.payload) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(%tenant, %school, error = %e, "dropping an unreadable envelope");
            return Ok(AckKind::Term);
        }
    };
    let result = edge_apply::apply_up(db, &tenant, &school, &env).await?;
    Ok(match result {
        UpResult::Applied { .. } | UpResult::Duplicate { .. } => AckKind::Ack,
        UpResult::Refused(reason) => {
            tracing::warn!(%tenant, %school, %reason, "refused an edge's envelope");
            metrics::counter!("essp_sync_envelopes_refused_total").increment(1);
            AckKind::Term
        }
        // An earlier envelope is still on its way (another replica, a
        // redelivery): try this one again shortly. If the hole is real the
        // edge resends from the applied position its checkpoint reply names.
        UpResult::Gap { .. } => {
            let delivered = msg.info().map(|i| i.delivered).unwrap_or(1);
            if delivered > 10 {
                AckKind::Term
            } else {
                AckKind::Nak(Some(Duration::from_millis(500)))
            }
        }
    })
}

/// `ctl` requests answered at once by one sync-worker (each may hold a
/// database connection for as long as it takes).
const CTL_CONCURRENCY: usize = 16;

/// Answers edges' `ctl` requests. Requests of different edges are answered
/// side by side, so one edge's slow request (an enrollment waiting for
/// writes in flight, a verify reading a big school) never holds up the
/// others' checkpoints; one edge's requests are answered one at a time.
async fn answer_ctl(
    db: Arc<dyn Database>,
    client: async_nats::Client,
    blobs: Arc<dyn BlobAccess>,
    stop: watch::Receiver<bool>,
) -> Result<(), SyncError> {
    let js = jetstream::new(client.clone());
    ensure_streams(&js).await?;
    let mut sub = client
        .queue_subscribe(subjects::CTL_ALL, CTL_QUEUE.into())
        .await
        .map_err(nats_err)?;
    let slots = Arc::new(tokio::sync::Semaphore::new(CTL_CONCURRENCY));
    let mut lanes: HashMap<(String, String), Arc<tokio::sync::Mutex<()>>> = HashMap::new();
    let mut answering = tokio::task::JoinSet::new();
    let mut stop = stop;
    loop {
        while let Some(done) = answering.try_join_next() {
            if let Err(e) = done {
                tracing::error!(error = %e, "answering a sync request panicked");
            }
        }
        let msg = tokio::select! {
            m = sub.next() => m,
            _ = stop.wait_for(|s| *s) => return Ok(()),
        };
        let Some(msg) = msg else {
            return Err(SyncError::Nats("checkpoint subscription ended".into()));
        };
        let Some(reply_to) = msg.reply.clone() else { continue };
        let Some((tenant, school)) = subjects::scope_of_dir(&msg.subject, "ctl") else {
            continue;
        };
        // Answer only into that edge's own inbox: a reply subject is the
        // sender's choice, and must not let one school plant messages on
        // another's subjects.
        if !reply_to.starts_with(&format!("{}.", subjects::edge_inbox(&tenant, &school))) {
            tracing::warn!(%tenant, %school, reply = %reply_to, "ignoring a sync request with a foreign reply subject");
            continue;
        }
        // With every slot taken, read no further requests until one frees.
        let slot = tokio::select! {
            s = slots.clone().acquire_owned() => s.map_err(|e| SyncError::Other(e.to_string()))?,
            _ = stop.wait_for(|s| *s) => return Ok(()),
        };
        if lanes.len() > 4 * CTL_CONCURRENCY {
            // Forget the lanes of edges with no request being answered.
            lanes.retain(|_, lane| Arc::strong_count(lane) > 1);
        }
        let lane = lanes.entry((tenant.clone(), school.clone())).or_default().clone();
        let (db, js, blobs, client) = (db.clone(), js.clone(), blobs.clone(), client.clone());
        answering.spawn(async move {
            let _slot = slot;
            let _turn = lane.lock().await;
            let body = match serde_json::from_slice::<CtlRequest>(&msg.payload) {
                Ok(req) => answer(db.as_ref(), &js, blobs.as_ref(), &tenant, &school, req).await,
                Err(e) => Ok(refusal(&format!("unreadable request: {e}"))),
            };
            // Unanswered, the edge's request times out and it asks again.
            let sent = match body {
                Ok(body) => client.publish(reply_to, body.into()).await.map_err(nats_err),
                Err(e) => Err(e),
            };
            if let Err(e) = sent {
                tracing::warn!(%tenant, %school, error = %e, "could not answer a sync request");
            }
        });
    }
}

/// The rows a paged request asks about, at most `cap` of them; `None` for
/// a table that is not replicated.
fn requested_rows<'a>(
    table: &str,
    tenant: &'a str,
    school: &'a str,
    after: &'a str,
    limit: u32,
    cap: u32,
) -> Option<digest::Rows<'a>> {
    Some(digest::Rows {
        after,
        max: i64::from(limit.min(cap)),
        ..digest::Rows::all(catalog::table(table)?, tenant, school)
    })
}

fn refusal(message: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({ "status": "refused", "message": message })).unwrap_or_default()
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<Vec<u8>, SyncError> {
    serde_json::to_vec(v).map_err(|e| SyncError::Other(e.to_string()))
}

/// Answers one `ctl` request that arrived on the subject of
/// `(tenant, school)`; a request naming another school is refused.
async fn answer(
    db: &dyn Database,
    js: &jetstream::Context,
    blobs: &dyn BlobAccess,
    tenant: &str,
    school: &str,
    req: CtlRequest,
) -> Result<Vec<u8>, SyncError> {
    let own = |t: &str, s: &str| t == tenant && s == school;
    match req {
        CtlRequest::Checkpoint(cp) => {
            let mut reply = edge_apply::answer_checkpoint(db, tenant, school, &cp).await?;
            // Changes for this school after the edge's cursor, some of which
            // the stream may have dropped: tell it where the stream starts.
            let published = essp_store::sync::edges::get(db, tenant, school)
                .await?
                .map_or(0, |e| e.down_seq);
            if u64::try_from(published).unwrap_or_default() > cp.down_cursor {
                let mut stream = js.get_stream(subjects::DOWN_STREAM).await.map_err(nats_err)?;
                reply.down_first_seq = stream.info().await.map_err(nats_err)?.state.first_sequence;
            }
            to_json(&reply)
        }
        CtlRequest::RowHashes {
            tenant_id,
            school_id,
            table,
        } if own(&tenant_id, &school_id) => match catalog::table(&table) {
            Some(t) => to_json(&digest::row_hashes(db, t, tenant, school).await?),
            None => Ok(refusal("unknown table")),
        },
        CtlRequest::DigestPage {
            tenant_id,
            school_id,
            table,
            after_id,
            limit,
        } if own(&tenant_id, &school_id) => {
            match requested_rows(&table, tenant, school, &after_id, limit, MAX_DIGEST_PAGE_ROWS) {
                Some(rows) => {
                    let (sums, next_after) = rows.bucket_sums(db).await?;
                    to_json(&DigestPage {
                        buckets: sums.into_iter().map(|(b, s)| (b, s.to_digest())).collect(),
                        next_after,
                    })
                }
                None => Ok(refusal("unknown table")),
            }
        }
        CtlRequest::BucketRowHashes {
            tenant_id,
            school_id,
            table,
            buckets,
            after_id,
            limit,
        } if own(&tenant_id, &school_id) => {
            match requested_rows(&table, tenant, school, &after_id, limit, MAX_HASH_PAGE_ROWS) {
                Some(rows) => {
                    let (hashes, next_after) = rows.hashes_in(db, &buckets.into_iter().collect()).await?;
                    to_json(&RowHashesPage { hashes, next_after })
                }
                None => Ok(refusal("unknown table")),
            }
        }
        CtlRequest::Enroll(req) if own(&req.tenant_id, &req.school_id) => {
            if let Err(message) = edge_apply::enroll(db, &req).await? {
                return to_json(&EnrollReply {
                    status: "refused".into(),
                    message,
                    ..Default::default()
                });
            }
            // Read after the enrollment committed: every change from here
            // on is captured and lands after this position.
            let mut stream = js.get_stream(subjects::DOWN_STREAM).await.map_err(nats_err)?;
            let down_seq = stream.info().await.map_err(nats_err)?.state.last_sequence;
            to_json(&EnrollReply {
                status: "ok".into(),
                message: String::new(),
                down_seq,
                tables: catalog::TABLES.iter().map(|t| t.name.to_owned()).collect(),
            })
        }
        CtlRequest::SnapshotPage {
            tenant_id,
            school_id,
            table,
            after_id,
            limit,
        } if own(&tenant_id, &school_id) => {
            match edge_apply::snapshot_page(db, tenant, school, &table, &after_id, limit).await {
                Ok(page) => to_json(&page),
                Err(SyncError::Other(msg)) => Ok(refusal(&msg)),
                Err(e) => Err(e),
            }
        }
        CtlRequest::BlobOffset {
            tenant_id,
            school_id,
            object_key,
        } if own(&tenant_id, &school_id) => {
            to_json(&blob_transfer::offset(db, blobs, tenant, school, &object_key).await?)
        }
        CtlRequest::BlobPart {
            tenant_id,
            school_id,
            object_key,
            offset,
            data,
        } if own(&tenant_id, &school_id) => {
            to_json(&blob_transfer::part(db, blobs, tenant, school, &object_key, offset, &data).await?)
        }
        CtlRequest::BlobFetch {
            tenant_id,
            school_id,
            object_key,
            offset,
        } if own(&tenant_id, &school_id) => {
            to_json(&blob_transfer::serve(db, blobs, tenant, school, &object_key, offset).await?)
        }
        CtlRequest::RowHashes { .. }
        | CtlRequest::DigestPage { .. }
        | CtlRequest::BucketRowHashes { .. }
        | CtlRequest::Enroll(_)
        | CtlRequest::SnapshotPage { .. }
        | CtlRequest::BlobOffset { .. }
        | CtlRequest::BlobPart { .. }
        | CtlRequest::BlobFetch { .. } => Ok(refusal("the request names another school than its subject")),
    }
}

/// Publishes central's captured changes to each school's `down` subject;
/// one publisher per cluster (leased). An outbox entry is removed only
/// after JetStream acknowledged it.
async fn publish_down(
    db: Arc<dyn Database>,
    client: async_nats::Client,
    mut stop: watch::Receiver<bool>,
) -> Result<(), SyncError> {
    let js = jetstream::new(client);
    let _lease = loop {
        if let Some(guard) = db.try_lock(DOWN_LEASE).await? {
            break guard;
        }
        if crate::sleep_or_stop(&mut stop, Duration::from_secs(5)).await {
            return Ok(());
        }
    };
    ensure_streams(&js).await?;
    loop {
        let sent = publish_down_once(db.as_ref(), &js).await?;
        if sent == 0 && crate::sleep_or_stop(&mut stop, Duration::from_millis(100)).await {
            return Ok(());
        }
    }
}

fn down_envelope(chunk: &[outbox::Pending], school: &str) -> Envelope {
    Envelope {
        version: PROTOCOL_VERSION,
        tenant_id: chunk[0].tenant_id.clone(),
        school_id: school.to_owned(),
        node: essp_store::sync::capture::CENTRAL_NODE.into(),
        epoch: String::new(),
        host: String::new(),
        first_seq: chunk[0].change.seq,
        last_seq: chunk[chunk.len() - 1].change.seq,
        changes: chunk.iter().map(|p| p.change.clone()).collect(),
    }
}

/// One pass over the outbox; returns the changes published.
pub async fn publish_down_once(db: &dyn Database, js: &jetstream::Context) -> Result<usize, SyncError> {
    let pending = outbox::pending(db, 0, DOWN_BATCH * 5).await?;
    if pending.is_empty() {
        return Ok(0);
    }
    let mut acks = Vec::new();
    let mut scopes = Vec::new();
    let mut done = Vec::new();
    // Consecutive changes of one school travel together; tenant-wide rows
    // (school "") go to every enrolled school of the tenant.
    let mut schools_of = std::collections::HashMap::new();
    for group in pending.chunk_by(|a, b| a.tenant_id == b.tenant_id && a.school_id == b.school_id) {
        let tenant = &group[0].tenant_id;
        let targets = if group[0].school_id.is_empty() {
            if !schools_of.contains_key(tenant) {
                let schools: Vec<String> = essp_store::sync::edges::list(db, tenant)
                    .await?
                    .into_iter()
                    .map(|e| e.school_id)
                    .collect();
                schools_of.insert(tenant.clone(), schools);
            }
            schools_of[tenant].clone()
        } else {
            vec![group[0].school_id.clone()]
        };
        for chunk in group.chunks(DOWN_BATCH as usize) {
            for school in &targets {
                let env = down_envelope(chunk, school);
                let payload = serde_json::to_vec(&env).map_err(|e| SyncError::Other(e.to_string()))?;
                let mut headers = async_nats::HeaderMap::new();
                headers.insert(
                    "Nats-Msg-Id",
                    format!("central:{school}:{}:{}", env.first_seq, env.last_seq).as_str(),
                );
                let subject = subjects::down(&env.tenant_id, school);
                acks.push(
                    js.publish_with_headers(subject, headers, payload.into())
                        .await
                        .map_err(nats_err)?,
                );
                scopes.push((env.tenant_id.clone(), school.clone()));
            }
            done.extend(chunk.iter().map(|p| p.change.seq));
        }
    }
    for (ack, (tenant, school)) in acks.into_iter().zip(scopes) {
        let seq = ack.await.map_err(nats_err)?.sequence;
        essp_store::sync::edges::set_down_seq(db, &tenant, &school, i64::try_from(seq).unwrap_or(i64::MAX)).await?;
    }
    outbox::remove(db, &done).await?;
    metrics::counter!("essp_sync_changes_published_total", "direction" => "down").increment(done.len() as u64);
    Ok(done.len())
}
