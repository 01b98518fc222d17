//! An edge's side of sync: publishes its outbox on `up`, reports
//! checkpoints on `ctl` (central's reply confirms what it applied, so the
//! outbox is trimmed only then), and applies central's `down` stream with
//! its cursor in the same SQLite transaction.
//!
//! Everything here tolerates the link being down for days: the outbox and
//! the cursor live in the database, and every loop starts again from them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer};
use essp_store::Database;
use essp_store::sync::edges::{self, ThisEdge};
use essp_store::sync::{batch, blobs, digest, journal, outbox};
use essp_sync_proto::{
    BlobReply, Checkpoint, CheckpointReply, CtlRequest, EnrollReply, EnrollRequest, Envelope, PROTOCOL_VERSION,
    SnapshotPage, TableDigest, subjects,
};
use futures::StreamExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::blob_transfer::{self, BlobAccess};
use crate::central_link::spawn_loop;
use crate::status::SharedStatus;
use crate::{SyncError, edge_apply, nats_err};

/// Changes per `up` envelope.
const UP_BATCH: i64 = 500;
/// Envelopes applied per SQLite transaction on the way down (at most:
/// what is waiting). 256 measured no faster.
const DOWN_BATCH: usize = 64;
/// How long an envelope may stay unconfirmed before it is sent again.
/// How long central may make no progress on changes it was sent before
/// they are sent again (it may simply be busy: resending sooner only adds
/// copies to the stream).
const RESEND_AFTER: Duration = Duration::from_secs(30);
/// Largest envelope in bytes: NATS refuses payloads over 1 MiB by default.
const MAX_ENVELOPE_BYTES: usize = 512 * 1024;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
const SLOW_REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// Rows per snapshot page (one NATS request each).
const SNAPSHOT_PAGE: u32 = 500;

/// How long digests of an unchanged school are reported again before they
/// are computed afresh anyway.
const DIGESTS_REUSED_FOR: Duration = Duration::from_secs(3600);
/// Digests are computed at most once per this many times their own last
/// duration: a school big enough to take a minute to hash spends at most a
/// tenth of its time on it, however often it checkpoints.
const DIGEST_SPACING: u32 = 10;

/// The digests last reported and the positions they were taken at. A
/// replicated row changes on an edge only by a local write (which takes an
/// outbox position), an applied down change (which moves the cursor) or a
/// new enrollment or schema (which change the epoch or schema version): while
/// none of them moves, the digests cannot have changed, and an idle school's
/// minute-by-minute checkpoint does not hash every row again.
#[derive(Default)]
struct DigestCache {
    taken: Option<Taken>,
}

struct Taken {
    at: DigestsAt,
    when: Instant,
    took: Duration,
    digests: BTreeMap<String, TableDigest>,
}

#[derive(Debug, Clone, PartialEq)]
struct DigestsAt {
    epoch: String,
    schema_version: i64,
    last_seq: i64,
    down_cursor: u64,
}

#[derive(Debug, PartialEq)]
enum DigestPlan {
    /// Report the digests taken last.
    Reuse,
    /// Hash the school again.
    Compute,
    /// Report none this time: the school changed, but the last hashing was
    /// too recent for its cost.
    Skip,
}

impl DigestCache {
    fn plan(&self, at: &DigestsAt, now: Instant) -> DigestPlan {
        match &self.taken {
            None => DigestPlan::Compute,
            Some(t) if t.at == *at && now.duration_since(t.when) < DIGESTS_REUSED_FOR => DigestPlan::Reuse,
            Some(t) if now.duration_since(t.when) < t.took * DIGEST_SPACING => DigestPlan::Skip,
            Some(_) => DigestPlan::Compute,
        }
    }

    /// The digests to report with `cp`, if any.
    async fn of(
        &mut self,
        db: &dyn Database,
        cp: &Checkpoint,
    ) -> Result<Option<BTreeMap<String, TableDigest>>, SyncError> {
        let at = DigestsAt {
            epoch: cp.epoch.clone(),
            schema_version: cp.schema_version,
            last_seq: cp.last_seq,
            down_cursor: cp.down_cursor,
        };
        match self.plan(&at, Instant::now()) {
            DigestPlan::Reuse => Ok(self.taken.as_ref().map(|t| t.digests.clone())),
            DigestPlan::Skip => Ok(None),
            DigestPlan::Compute => {
                let when = Instant::now();
                let digests = digest::digests(db, &cp.tenant_id, &cp.school_id).await?;
                self.taken = Some(Taken {
                    at,
                    when,
                    took: when.elapsed(),
                    digests: digests.clone(),
                });
                Ok(Some(digests))
            }
        }
    }
}

/// How far an enrollment got (stored, so an interrupted one resumes).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnrollProgress {
    pub epoch: String,
    pub down_seq: u64,
    pub tables: Vec<String>,
    /// Index into `tables` of the table being copied.
    pub table: usize,
    /// The last row id copied of that table.
    pub after: String,
    pub rows: u64,
}

/// Everything an edge's sync loops need.
#[derive(Clone)]
pub struct EdgeLink {
    pub db: Arc<dyn Database>,
    pub client: async_nats::Client,
    pub this: ThisEdge,
    /// This box's identity (machine id): central refuses a clone.
    pub host: String,
    pub status: SharedStatus,
    pub app_version: String,
    /// How often a checkpoint is sent when nothing else prompts one.
    pub checkpoint_every: Duration,
    /// Where this edge keeps attachment contents (uploaded to central from
    /// the blob queue); `None` for one-off CLI links.
    pub blobs: Option<Arc<dyn BlobAccess>>,
}

impl EdgeLink {
    /// Starts the up/checkpoint loop, the down loop and the blob uploader.
    pub fn spawn(self, stop: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
        let (up, down, blobs) = (self.clone(), self.clone(), self);
        let (s1, s2, s3) = (stop.clone(), stop.clone(), stop.clone());
        vec![
            spawn_loop("edge up", stop.clone(), move || up.clone().run_up(s1.clone())),
            spawn_loop("edge down", stop.clone(), move || down.clone().run_down(s2.clone())),
            spawn_loop("edge blobs", stop, move || blobs.clone().run_blobs(s3.clone())),
        ]
    }

    /// Moves queued attachment contents, oldest first: uploads this edge's
    /// own and fetches those uploaded centrally, each resumed from what the
    /// receiving side already holds; a blob is dequeued only once it is
    /// verified there.
    async fn run_blobs(self, mut stop: watch::Receiver<bool>) -> Result<(), SyncError> {
        let Some(store) = self.blobs.clone() else { return Ok(()) };
        if !self.wait_enrolled(&mut stop, false).await? {
            return Ok(());
        }
        loop {
            let queued = blobs::queued(self.db.as_ref(), 20).await?;
            let mut progressed = false;
            for q in &queued {
                let (local, central) = (
                    blob_transfer::Local::new(self.db.as_ref(), store.as_ref(), q),
                    CentralBlob { link: &self, q },
                );
                let moved = match q.direction {
                    blobs::Direction::Up => blob_transfer::transfer(&central, &local).await,
                    blobs::Direction::Down => blob_transfer::transfer(&local, &central).await,
                };
                match moved {
                    Ok(true) => {
                        blobs::uploaded(self.db.as_ref(), &q.object_key).await?;
                        progressed = true;
                    }
                    Ok(false) => {}
                    Err(e @ SyncError::Nats(_)) => return Err(e),
                    Err(e) => blobs::failed(self.db.as_ref(), &q.object_key, &e.to_string()).await?,
                }
            }
            metrics::gauge!("essp_sync_blob_queue_depth").set(blobs::depth(self.db.as_ref()).await? as f64);
            let pause = if progressed {
                Duration::from_millis(10)
            } else {
                Duration::from_secs(1)
            };
            if crate::sleep_or_stop(&mut stop, pause).await {
                return Ok(());
            }
        }
    }

    async fn run_up(self, mut stop: watch::Receiver<bool>) -> Result<(), SyncError> {
        if !self.wait_enrolled(&mut stop, true).await? {
            return Ok(());
        }
        let js = jetstream::new(self.client.clone());
        let mut next = edges::position(self.db.as_ref(), edges::UP_CONFIRMED).await? + 1;
        // Central's applied position and when it last moved.
        let mut progress = (next - 1, Instant::now());
        let mut last_checkpoint: Option<Instant> = None;
        let mut digests = DigestCache::default();
        let mut refused = false;
        loop {
            let (mut published, mut drained) = (0, false);
            if !refused {
                let pending = outbox::pending(self.db.as_ref(), next - 1, UP_BATCH).await?;
                if let Some(env) = self.envelope(&pending).await? {
                    self.publish(&js, &env).await?;
                    next = env.last_seq + 1;
                    published = env.changes.len();
                    drained = published == pending.len() && pending.len() < UP_BATCH as usize;
                }
            }
            let periodic = last_checkpoint.is_none_or(|t| t.elapsed() >= self.checkpoint_every);
            let unconfirmed = next - 1 > self.status.get().confirmed_seq;
            // After a catch-up (the outbox is sent to its end), and while
            // changes wait for confirmation, ask central where it is. Not
            // after each envelope cut short by its size: a checkpoint per
            // envelope cost more than the publishing.
            let catch_up = drained;
            if periodic || catch_up || (unconfirmed && published == 0) {
                let mut cp = self.current_checkpoint().await?;
                // Digests only once caught up: while changes wait they
                // differ anyway, and hashing a big school costs time.
                if periodic && !unconfirmed && published == 0 {
                    cp.digests = digests.of(self.db.as_ref(), &cp).await?.unwrap_or_default();
                }
                let reply = self.send_checkpoint(&cp).await?;
                last_checkpoint = Some(Instant::now());
                refused = reply.status == "reenroll";
                if reply.applied_seq != progress.0 {
                    progress = (reply.applied_seq, Instant::now());
                }
                if !refused && reply.applied_seq < next - 1 && progress.1.elapsed() >= RESEND_AFTER {
                    // Central has not moved for a while: it lost something
                    // (or refused to order it). Resend from the first change
                    // it does not have.
                    next = reply.applied_seq + 1;
                    progress.1 = Instant::now();
                }
            }
            if published == 0 {
                let pause = if unconfirmed {
                    Duration::from_millis(250)
                } else {
                    Duration::from_millis(100)
                };
                if crate::sleep_or_stop(&mut stop, pause).await {
                    return Ok(());
                }
            } else if *stop.borrow() {
                return Ok(());
            }
        }
    }

    async fn envelope(&self, pending: &[outbox::Pending]) -> Result<Option<Envelope>, SyncError> {
        // Rows of any size fit: take fewer changes until the JSON does.
        let mut pending = pending;
        while pending.len() > 1
            && serde_json::to_vec(&pending.iter().map(|p| &p.change).collect::<Vec<_>>()).map_or(0, |v| v.len())
                > MAX_ENVELOPE_BYTES
        {
            pending = &pending[..pending.len() / 2];
        }
        let (Some(first), Some(last)) = (pending.first(), pending.last()) else {
            return Ok(None);
        };
        Ok(Some(Envelope {
            version: PROTOCOL_VERSION,
            tenant_id: self.this.tenant_id.clone(),
            school_id: self.this.school_id.clone(),
            node: self.this.school_id.clone(),
            epoch: essp_store::node_state::epoch(self.db.as_ref()).await?,
            host: self.host.clone(),
            first_seq: first.change.seq,
            last_seq: last.change.seq,
            changes: pending.iter().map(|p| p.change.clone()).collect(),
        }))
    }

    async fn publish(&self, js: &jetstream::Context, env: &Envelope) -> Result<(), SyncError> {
        let payload = serde_json::to_vec(env).map_err(|e| SyncError::Other(e.to_string()))?;
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", env.msg_id().as_str());
        let subject = subjects::up(&self.this.tenant_id, &self.this.school_id);
        let ack = js
            .publish_with_headers(subject, headers, payload.into())
            .await
            .map_err(nats_err)?;
        tokio::time::timeout(REQUEST_TIMEOUT, ack)
            .await
            .map_err(|_| SyncError::Nats("no acknowledgement from JetStream".into()))?
            .map_err(nats_err)?;
        metrics::counter!("essp_sync_changes_published_total", "direction" => "up").increment(env.changes.len() as u64);
        Ok(())
    }

    /// Waits until this box is enrolled under its current epoch; the first
    /// enrollment of a fresh box happens here (when `enroll` is set).
    /// After a restore the epoch changed and an operator must re-enroll:
    /// the box keeps working locally and says so. False when stopped.
    async fn wait_enrolled(&self, stop: &mut watch::Receiver<bool>, enroll: bool) -> Result<bool, SyncError> {
        loop {
            let db = self.db.as_ref();
            let epoch = essp_store::node_state::epoch(db).await?;
            let enrolled = essp_store::node_state::get(db, edges::ENROLLED_EPOCH)
                .await?
                .filter(|e| !e.is_empty());
            match enrolled {
                Some(e) if e == epoch => return Ok(true),
                None if enroll => {
                    self.enroll(false, false).await?;
                    return Ok(true);
                }
                Some(_) if enroll => self.status.update(|s| {
                    s.state = "reenroll".into();
                    s.message = "this box's database was restored from a backup (its sync epoch changed); \
                                 it keeps working locally but does not sync until re-enrolled: essp edge enroll"
                        .into();
                }),
                _ => {}
            }
            if crate::sleep_or_stop(stop, Duration::from_secs(1)).await {
                return Ok(false);
            }
        }
    }

    /// Enrolls this box with central: central records the epoch, then the
    /// school's rows are copied page by page (each page with the progress
    /// marker, so an interrupted enrollment resumes), and finally the down
    /// cursor is set to the position the copy is consistent with. `renew`
    /// mints a new epoch first (re-enrollment of a restored or replaced box);
    /// `replace` takes the school over from whatever box central knows (an
    /// operator's decision; a box enrolling itself never does).
    pub async fn enroll(&self, renew: bool, replace: bool) -> Result<EnrollProgress, SyncError> {
        let db = self.db.as_ref();
        let saved = essp_store::node_state::get(db, edges::ENROLLING)
            .await?
            .and_then(|t| serde_json::from_str::<EnrollProgress>(&t).ok());
        let epoch = essp_store::node_state::epoch(db).await?;
        let mut progress = match saved {
            Some(p) if !renew && p.epoch == epoch => p,
            _ => {
                let epoch = if renew {
                    essp_store::node_state::mint_epoch(db).await?
                } else {
                    epoch
                };
                let req = EnrollRequest {
                    tenant_id: self.this.tenant_id.clone(),
                    school_id: self.this.school_id.clone(),
                    epoch: epoch.clone(),
                    host: self.host.clone(),
                    confirmed_seq: edges::position(db, edges::UP_CONFIRMED).await?,
                    replace,
                };
                let reply: EnrollReply = self.request(&CtlRequest::Enroll(req)).await?;
                if reply.status != "ok" {
                    return Err(SyncError::Other(format!(
                        "central refused the enrollment: {}",
                        reply.message
                    )));
                }
                EnrollProgress {
                    epoch,
                    down_seq: reply.down_seq,
                    tables: reply.tables,
                    table: 0,
                    after: String::new(),
                    rows: 0,
                }
            }
        };
        while let Some(table) = progress.tables.get(progress.table).cloned() {
            let page: SnapshotPage = self
                .request(&CtlRequest::SnapshotPage {
                    tenant_id: self.this.tenant_id.clone(),
                    school_id: self.this.school_id.clone(),
                    table,
                    after_id: progress.after.clone(),
                    limit: SNAPSHOT_PAGE,
                })
                .await?;
            match &page.next_after {
                Some(after) => progress.after = after.clone(),
                None => {
                    progress.table += 1;
                    progress.after.clear();
                }
            }
            progress.rows += page.rows.len() as u64;
            let marker = serde_json::to_string(&progress).map_err(|e| SyncError::Other(e.to_string()))?;
            edge_apply::apply_snapshot_page(db, &self.this, &page, &marker).await?;
        }
        edge_apply::finish_enrollment(db, &progress.epoch, progress.down_seq).await?;
        tracing::info!(epoch = %progress.epoch, rows = progress.rows, down_seq = progress.down_seq, "enrolled with central");
        self.status.update(|s| {
            s.state = "ok".into();
            s.message.clear();
        });
        Ok(progress)
    }

    /// This edge's checkpoint as of now, without digests.
    async fn current_checkpoint(&self) -> Result<Checkpoint, SyncError> {
        let db = self.db.as_ref();
        let depth = outbox::depth(db).await?;
        let confirmed = edges::position(db, edges::UP_CONFIRMED).await?;
        let schema_version = essp_store::migrate::Migrator::embedded(db)?
            .version()
            .await?
            .map_or(0, |v| v.version);
        let now = essp_domain::now();
        Ok(Checkpoint {
            version: PROTOCOL_VERSION,
            tenant_id: self.this.tenant_id.clone(),
            school_id: self.this.school_id.clone(),
            epoch: essp_store::node_state::epoch(db).await?,
            host: self.host.clone(),
            app_version: self.app_version.clone(),
            schema_version,
            clock: now.to_rfc3339(),
            outbox_depth: depth.count,
            outbox_age_seconds: depth.oldest.map_or(0, |t| (now - t).num_seconds().max(0)),
            last_seq: depth.last_seq.max(confirmed),
            confirmed_seq: confirmed,
            down_cursor: u64::try_from(edges::position(db, edges::DOWN_CURSOR).await?).unwrap_or_default(),
            digests: Default::default(),
            verify: false,
        })
    }

    /// Sends a checkpoint (with this edge's digests if asked), applies what
    /// central answers (trim, rejections) and returns the answer.
    pub async fn checkpoint(&self, with_digests: bool) -> Result<CheckpointReply, SyncError> {
        let mut cp = self.current_checkpoint().await?;
        if with_digests {
            cp.digests = digest::digests(self.db.as_ref(), &self.this.tenant_id, &self.this.school_id).await?;
        }
        self.send_checkpoint(&cp).await
    }

    /// [`EdgeLink::checkpoint`] of a checkpoint taken with
    /// [`EdgeLink::current_checkpoint`].
    async fn send_checkpoint(&self, cp: &Checkpoint) -> Result<CheckpointReply, SyncError> {
        let reply: CheckpointReply = match self.request(&CtlRequest::Checkpoint(cp.clone())).await {
            Ok(r) => r,
            Err(e) => {
                self.status.update(|s| {
                    s.state = "offline".into();
                    s.message = e.to_string();
                    s.outbox_depth = cp.outbox_depth;
                    s.last_seq = cp.last_seq;
                });
                return Err(e);
            }
        };
        let db = self.db.as_ref();
        if reply.clock_ms > 0 {
            self.learn_clock(reply.clock_ms).await?;
        }
        if reply.status == "ok" {
            for r in &reply.rejections {
                journal::reject(db, &cp.tenant_id, &cp.school_id, &cp.epoch, r).await?;
            }
            if reply.applied_seq > cp.confirmed_seq {
                outbox::trim(db, reply.applied_seq).await?;
                edges::set_position(db, edges::UP_CONFIRMED, reply.applied_seq).await?;
            }
        }
        let depth = outbox::depth(db).await?;
        let cursor = edges::position(db, edges::DOWN_CURSOR).await?;
        let lost = reply.status == "ok" && reply.down_first_seq > u64::try_from(cursor).unwrap_or_default() + 1;
        self.status.update(|s| {
            if lost {
                s.state = "rebootstrap".into();
                s.message = format!(
                    "central's change stream now starts at {} but this edge has applied only up to {cursor}: \
                     changes in between are gone. Re-bootstrap it: essp edge enroll --renew",
                    reply.down_first_seq
                );
            } else {
                s.state = reply.status.clone();
                s.message = reply.message.clone();
            }
            s.last_contact = Some(chrono::Utc::now());
            s.confirmed_seq = reply.applied_seq.max(cp.confirmed_seq);
            s.last_seq = cp.last_seq;
            s.outbox_depth = depth.count;
            s.down_cursor = i64::try_from(cp.down_cursor).unwrap_or_default();
        });
        metrics::gauge!("essp_sync_outbox_depth").set(depth.count as f64);
        Ok(reply)
    }

    /// Stamps this edge's writes with central's time when its own clock
    /// runs ahead by more than a few seconds (a box whose clock is wrong
    /// would otherwise win every merge until real time caught up).
    async fn learn_clock(&self, central_ms: u64) -> Result<(), SyncError> {
        const TOLERANCE_MS: u64 = 5_000;
        let local = essp_store::sync::now_ms();
        let ahead = local.saturating_sub(central_ms);
        let offset = if ahead > TOLERANCE_MS { ahead } else { 0 };
        let db = self.db.as_ref();
        let known = essp_store::node_state::get(db, edges::CLOCK_OFFSET).await?;
        let known: u64 = known.and_then(|v| v.parse().ok()).unwrap_or(0);
        // Only a real change is written (not every jitter of the round trip).
        if offset.abs_diff(known) > TOLERANCE_MS {
            if offset > 0 {
                tracing::warn!(
                    ahead_ms = ahead,
                    "this box's clock runs ahead of central's; stamping writes with central's time"
                );
            }
            essp_store::node_state::set(db, edges::CLOCK_OFFSET, &offset.to_string(), essp_domain::now()).await?;
        }
        Ok(())
    }

    /// A request on this edge's `ctl` subject, answered by central.
    pub async fn request<T: serde::de::DeserializeOwned>(&self, req: &CtlRequest) -> Result<T, SyncError> {
        // Digests and row hashes read a whole school centrally, and an
        // enrollment waits for central's writes in flight: give them time.
        let slow = matches!(
            req,
            CtlRequest::RowHashes { .. }
                | CtlRequest::DigestPage { .. }
                | CtlRequest::BucketRowHashes { .. }
                | CtlRequest::Checkpoint(Checkpoint { verify: true, .. })
                | CtlRequest::Enroll(_)
        );
        let timeout = if slow { SLOW_REQUEST_TIMEOUT } else { REQUEST_TIMEOUT };
        let body = serde_json::to_vec(req).map_err(|e| SyncError::Other(e.to_string()))?;
        let subject = subjects::ctl(&self.this.tenant_id, &self.this.school_id);
        // The client's own request timeout (10 s by default) would cut a
        // slow answer short; this call sets its own.
        let request = async_nats::Request::new().payload(body.into()).timeout(Some(timeout));
        let msg = tokio::time::timeout(timeout, self.client.send_request(subject, request))
            .await
            .map_err(|_| SyncError::Nats("central did not answer".into()))?
            .map_err(nats_err)?;
        serde_json::from_slice(&msg.payload).map_err(|e| {
            // Central answers a request it will not serve (or, a release
            // behind, does not know) with a refusal instead.
            #[derive(serde::Deserialize)]
            struct Refusal {
                status: String,
                message: String,
            }
            match serde_json::from_slice::<Refusal>(&msg.payload) {
                Ok(r) if r.status == "refused" => SyncError::Other(format!("central refused: {}", r.message)),
                _ => SyncError::Other(format!("unreadable answer from central: {e}")),
            }
        })
    }

    async fn run_down(self, mut stop: watch::Receiver<bool>) -> Result<(), SyncError> {
        if !self.wait_enrolled(&mut stop, false).await? {
            return Ok(());
        }
        if self.status.get().state == "rebootstrap" {
            // Never continue past a silent gap; the status says what to do.
            crate::sleep_or_stop(&mut stop, Duration::from_secs(5)).await;
            return Err(SyncError::Other(self.status.get().message));
        }
        let js = jetstream::new(self.client.clone());
        let cursor = u64::try_from(edges::position(self.db.as_ref(), edges::DOWN_CURSOR).await?).unwrap_or_default();
        // The one consumer this edge's credentials may use. Its start cannot
        // move in place, so each run starts it afresh from our cursor (the
        // cursor lives in the database, never in NATS).
        let name = subjects::edge_down_consumer(&self.this.tenant_id, &self.this.school_id);
        let _ = js.delete_consumer_from_stream(&name, subjects::DOWN_STREAM).await;
        let consumer: consumer::PullConsumer = js
            .create_consumer_on_stream(
                consumer::pull::Config {
                    name: Some(name),
                    filter_subject: subjects::down(&self.this.tenant_id, &self.this.school_id),
                    deliver_policy: consumer::DeliverPolicy::ByStartSequence {
                        start_sequence: cursor + 1,
                    },
                    ack_policy: consumer::AckPolicy::All,
                    inactive_threshold: Duration::from_secs(600),
                    ..Default::default()
                },
                subjects::DOWN_STREAM,
            )
            .await
            .map_err(nats_err)?;
        let messages = consumer.messages().await.map_err(nats_err)?;
        // Reading, decoding and preparing the next batch overlaps applying
        // this one (on another core).
        let (batches, mut decoded) = tokio::sync::mpsc::channel(1);
        let _reader = AbortOnDrop(tokio::spawn(read_down(messages, self.this.clone(), batches)));
        loop {
            let next = tokio::select! {
                b = decoded.recv() => b,
                _ = stop.wait_for(|s| *s) => return Ok(()),
            };
            let Some(next) = next else {
                return Err(SyncError::Nats("down stream ended".into()));
            };
            let DownBatch {
                envelopes,
                prepared,
                last,
            } = next?;
            let result = edge_apply::apply_down_prepared(self.db.as_ref(), &self.this, &envelopes, prepared).await?;
            self.status.update(|s| s.down_cursor = result.cursor);
            // Committed: acknowledging the last acknowledges the batch.
            last.ack().await.map_err(nats_err)?;
            // Freeing thousands of decoded rows is no work for the applier.
            tokio::task::spawn_blocking(move || drop(envelopes));
        }
    }
}

/// Envelopes from central, decoded and prepared, with the message that
/// acknowledges them all.
struct DownBatch {
    envelopes: Vec<(u64, Envelope)>,
    prepared: Vec<batch::Prepared>,
    last: jetstream::Message,
}

/// Reads central's messages in batches (what is waiting, up to
/// [`DOWN_BATCH`]) and hands them on decoded and prepared, until the
/// stream ends or nobody takes them.
async fn read_down(
    mut messages: consumer::pull::Stream,
    this: ThisEdge,
    batches: tokio::sync::mpsc::Sender<Result<DownBatch, SyncError>>,
) {
    while let Some(first) = messages.next().await {
        let mut batch = match first {
            Ok(m) => vec![m],
            Err(e) => {
                let _ = batches.send(Err(nats_err(e))).await;
                return;
            }
        };
        // Take what is already waiting, up to a batch, without waiting long.
        while batch.len() < DOWN_BATCH {
            match tokio::time::timeout(Duration::from_millis(5), messages.next()).await {
                Ok(Some(Ok(m))) => batch.push(m),
                Ok(Some(Err(e))) => {
                    let _ = batches.send(Err(nats_err(e))).await;
                    return;
                }
                _ => break,
            }
        }
        let decoded = decode_down(&this, batch);
        if batches.send(decoded).await.is_err() {
            return;
        }
    }
}

fn decode_down(this: &ThisEdge, batch: Vec<jetstream::Message>) -> Result<DownBatch, SyncError> {
    let mut envelopes = Vec::with_capacity(batch.len());
    for m in &batch {
        let seq = m.info().map_err(nats_err)?.stream_sequence;
        match serde_json::from_slice::<Envelope>(&m.payload) {
            Ok(env) => envelopes.push((seq, env)),
            Err(e) => tracing::error!(seq, error = %e, "skipping an unreadable envelope from central"),
        }
    }
    let last = batch
        .into_iter()
        .next_back()
        .ok_or_else(|| SyncError::Other("empty batch".into()))?;
    let prepared = envelopes
        .iter()
        .map(|(_, env)| edge_apply::prepare_down(this, env))
        .collect();
    Ok(DownBatch {
        envelopes,
        prepared,
        last,
    })
}

/// Stops a spawned task when its owner is done with it.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A queued blob as central holds it, over this edge's `ctl` subject: the
/// receiving end of an upload, the sending end of a fetch.
struct CentralBlob<'a> {
    link: &'a EdgeLink,
    q: &'a blobs::Queued,
}

#[async_trait::async_trait]
impl blob_transfer::BlobSink for CentralBlob<'_> {
    async fn held(&self) -> Result<BlobReply, SyncError> {
        self.link
            .request(&CtlRequest::BlobOffset {
                tenant_id: self.q.tenant_id.clone(),
                school_id: self.q.school_id.clone(),
                object_key: self.q.object_key.clone(),
            })
            .await
    }

    async fn take(&self, at: u64, data: String) -> Result<BlobReply, SyncError> {
        self.link
            .request(&CtlRequest::BlobPart {
                tenant_id: self.q.tenant_id.clone(),
                school_id: self.q.school_id.clone(),
                object_key: self.q.object_key.clone(),
                offset: at,
                data,
            })
            .await
    }
}

#[async_trait::async_trait]
impl blob_transfer::BlobSource for CentralBlob<'_> {
    async fn chunk(&self, at: u64) -> Result<Option<String>, SyncError> {
        let reply: BlobReply = self
            .link
            .request(&CtlRequest::BlobFetch {
                tenant_id: self.q.tenant_id.clone(),
                school_id: self.q.school_id.clone(),
                object_key: self.q.object_key.clone(),
                offset: at,
            })
            .await?;
        match reply.status.as_str() {
            "ok" => Ok(Some(reply.data)),
            "wait" => Ok(None),
            _ => Err(SyncError::Other(reply.message)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(last_seq: i64) -> DigestsAt {
        DigestsAt {
            epoch: "e1".into(),
            schema_version: 7,
            last_seq,
            down_cursor: 3,
        }
    }

    fn taken(last_seq: i64, when: Instant, took: Duration) -> DigestCache {
        DigestCache {
            taken: Some(Taken {
                at: at(last_seq),
                when,
                took,
                digests: BTreeMap::new(),
            }),
        }
    }

    #[test]
    fn digests_are_reused_while_nothing_moved_and_spaced_by_their_cost() {
        let t0 = Instant::now();
        let secs = Duration::from_secs;
        assert_eq!(DigestCache::default().plan(&at(5), t0), DigestPlan::Compute);
        // Cheap digests: reused while nothing moved, recomputed once it did.
        let cheap = taken(5, t0, Duration::from_millis(20));
        assert_eq!(cheap.plan(&at(5), t0 + secs(60)), DigestPlan::Reuse);
        assert_eq!(cheap.plan(&at(6), t0 + secs(60)), DigestPlan::Compute);
        // ... and recomputed after an hour even if nothing moved.
        assert_eq!(cheap.plan(&at(5), t0 + secs(3601)), DigestPlan::Compute);
        // A school that took 60 s to hash: not again within 10 minutes.
        let dear = taken(5, t0, secs(60));
        assert_eq!(dear.plan(&at(6), t0 + secs(120)), DigestPlan::Skip);
        assert_eq!(dear.plan(&at(5), t0 + secs(120)), DigestPlan::Reuse);
        assert_eq!(dear.plan(&at(6), t0 + secs(601)), DigestPlan::Compute);
        // Any position counts: the down cursor, the epoch, the schema.
        let moved = [
            DigestsAt {
                down_cursor: 4,
                ..at(5)
            },
            DigestsAt {
                epoch: "e2".into(),
                ..at(5)
            },
            DigestsAt {
                schema_version: 8,
                ..at(5)
            },
        ];
        for m in moved {
            assert_eq!(cheap.plan(&m, t0 + secs(60)), DigestPlan::Compute, "{m:?}");
        }
    }
}
