//! Applying envelopes to a database, with no transport in sight: central
//! applies an edge's changes strictly in that edge's sequence (SYNC.md
//! guarantee 2), an edge applies central's changes with its down cursor
//! in the same transaction (guarantee 7), and central answers checkpoints.

use essp_store::sync::merge::{Outcome, Target};
use essp_store::sync::{batch, catalog, digest, edges, journal, row};
use essp_store::{Database, audit};
use essp_sync_proto::{
    Checkpoint, CheckpointReply, EnrollRequest, Envelope, Hlc, PROTOCOL_VERSION, Rejection, RowChange, SnapshotPage,
};

use crate::SyncError;

/// Rows sealed at most with one down batch (a batch brings about 1,000
/// changes); whatever is left is the sealer's.
const SEAL_IN_APPLY: i64 = 5_000;

/// How far ahead of our clock a remote HLC may run before it is
/// quarantined instead of adopted.
pub const MAX_CLOCK_AHEAD_MS: u64 = 60_000;

/// Where changes may write, with our clock as of now.
fn target<'a>(tenant: &'a str, school: &'a str, from_central: bool) -> Target<'a> {
    Target {
        tenant_id: tenant,
        school_id: school,
        from_central,
        now_ms: essp_store::sync::now_ms(),
        max_ahead_ms: MAX_CLOCK_AHEAD_MS,
    }
}

/// What central did with one envelope of an edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpResult {
    /// Applied through `applied_seq`; `rejected` changes were refused.
    Applied {
        applied_seq: i64,
        rejected: u32,
        conflicts: u32,
    },
    /// Everything in it was applied before (a redelivery).
    Duplicate { applied_seq: i64 },
    /// It starts after a hole; the edge must resend from `applied_seq + 1`.
    Gap { applied_seq: i64 },
    /// Refused as a whole, for the reason given (wrong scope, stale epoch).
    Refused(String),
}

/// Central: applies an edge's envelope that arrived on the `up` subject of
/// `(tenant, school)`. Idempotent and order-checked; one transaction.
pub async fn apply_up(db: &dyn Database, tenant: &str, school: &str, env: &Envelope) -> Result<UpResult, SyncError> {
    if env.tenant_id != tenant || env.school_id != school || env.node != school {
        return Ok(UpResult::Refused(format!(
            "envelope for {}/{} arrived on the subject of {tenant}/{school}",
            env.tenant_id, env.school_id
        )));
    }
    let tx = db.begin().await?;
    let edge = match admit(
        tx.as_ref(),
        edges::lock(tx.as_ref(), tenant, school).await?,
        &env.epoch,
        &env.host,
    )
    .await?
    {
        Ok(edge) => edge,
        Err(msg) => {
            tx.commit().await?;
            return Ok(UpResult::Refused(msg));
        }
    };
    // Enrolled by a carried snapshot: the edge's first envelope says where
    // its unsent changes start.
    let applied = if edge.applied_seq < 0 {
        env.first_seq - 1
    } else {
        edge.applied_seq
    };
    let fresh: Vec<_> = env.changes.iter().filter(|c| c.seq > applied).collect();
    let Some(first) = fresh.first() else {
        tx.commit().await?;
        return Ok(UpResult::Duplicate { applied_seq: applied });
    };
    if first.seq != applied + 1 {
        let msg = format!("waiting for change {} (received {} first)", applied + 1, first.seq);
        edges::set_status(tx.as_ref(), tenant, school, "gap", &msg).await?;
        tx.commit().await?;
        return Ok(UpResult::Gap { applied_seq: applied });
    }
    let target = target(tenant, school, false);
    // Up to the first hole inside the envelope, if any.
    let run: Vec<&RowChange> = fresh
        .iter()
        .enumerate()
        .take_while(|(i, c)| c.seq == applied + 1 + *i as i64)
        .map(|(_, c)| *c)
        .collect();
    let last = run.last().map_or(applied, |c| c.seq);
    let (mut rejected, mut conflicts) = (0, 0);
    let outcomes = batch::apply_all(tx.as_ref(), &run, &target).await?;
    for (change, outcome) in run.iter().zip(outcomes) {
        match outcome {
            Outcome::Applied { conflicts: n } => conflicts += n,
            Outcome::Rejected(reason) => {
                rejected += 1;
                let r = Rejection {
                    seq: change.seq,
                    table: change.table.clone(),
                    row_id: change.row_id.clone(),
                    reason,
                };
                journal::reject(tx.as_ref(), tenant, school, &env.epoch, &r).await?;
            }
        }
    }
    edges::set_applied(tx.as_ref(), tenant, school, last).await?;
    tx.commit().await?;
    metrics::counter!("essp_sync_changes_applied_total", "direction" => "up").increment((last - applied) as u64);
    if rejected > 0 {
        metrics::counter!("essp_sync_changes_rejected_total").increment(u64::from(rejected));
    }
    if conflicts > 0 {
        metrics::counter!("essp_sync_conflicts_total").increment(u64::from(conflicts));
    }
    Ok(UpResult::Applied {
        applied_seq: last,
        rejected,
        conflicts,
    })
}

/// Whether central takes envelopes and checkpoints from this sender: an
/// enrolled edge, under the epoch it was enrolled with, from the box that
/// holds it. A refusal is recorded on the edge's record and explained.
async fn admit(
    ex: &dyn essp_store::Executor,
    edge: Option<edges::Edge>,
    epoch: &str,
    host: &str,
) -> Result<Result<edges::Edge, String>, SyncError> {
    let Some(edge) = edge else {
        return Ok(Err(
            "this school has no enrolled edge; enroll the box first: essp edge enroll".into(),
        ));
    };
    let refusal = if edge.epoch != epoch {
        Some(format!(
            "this edge sent epoch {epoch}, but central knows the school's edge as epoch {}: the box was \
             restored from an old backup or its enrollment was replaced. Its changes are refused so stale \
             history is not replayed. Re-enroll it: essp edge enroll",
            edge.epoch
        ))
    } else if !host.is_empty() && !edge.host.is_empty() && edge.host != host {
        Some(format!(
            "box {host} sent changes under the epoch held by box {}: one of them is a clone. Its changes \
             are refused so two histories are not mixed. Re-enroll the box that should serve the school: \
             essp edge enroll",
            edge.host
        ))
    } else {
        None
    };
    if let Some(msg) = refusal {
        edges::set_status(ex, &edge.tenant_id, &edge.school_id, "refused", &msg).await?;
        return Ok(Err(msg));
    }
    if edge.host.is_empty() && !host.is_empty() {
        edges::claim_host(ex, &edge.tenant_id, &edge.school_id, host).await?;
    }
    Ok(Ok(edge))
}

/// Central: records an edge's checkpoint and tells it how far its changes
/// are applied, which were refused, and (when asked) central's digests.
pub async fn answer_checkpoint(
    db: &dyn Database,
    tenant: &str,
    school: &str,
    cp: &Checkpoint,
) -> Result<CheckpointReply, SyncError> {
    let mut reply = CheckpointReply {
        version: PROTOCOL_VERSION,
        status: "ok".into(),
        ..Default::default()
    };
    if cp.tenant_id != tenant || cp.school_id != school {
        reply.status = "refused".into();
        reply.message = "checkpoint names another school than its subject".into();
        return Ok(reply);
    }
    let edge = match admit(db, edges::get(db, tenant, school).await?, &cp.epoch, &cp.host).await? {
        Ok(edge) => edge,
        Err(msg) => {
            reply.status = "reenroll".into();
            reply.message = msg;
            return Ok(reply);
        }
    };
    // Enrolled by a carried snapshot: the edge's first report says where
    // its unsent changes start — unless its first envelope, applied
    // meanwhile, already said so.
    let edge = if edge.applied_seq < 0 {
        edges::start_at(db, tenant, school, cp.confirmed_seq).await?;
        edges::get(db, tenant, school)
            .await?
            .ok_or_else(|| SyncError::Other("edge record vanished".into()))?
    } else {
        edge
    };
    reply.clock_ms = essp_store::sync::now_ms();
    let text = serde_json::to_string(cp).map_err(|e| SyncError::Other(e.to_string()))?;
    edges::record_checkpoint(db, tenant, school, &text).await?;
    reply.applied_seq = edge.applied_seq;
    reply.rejections = journal::rejections(db, tenant, school, &cp.epoch, cp.confirmed_seq, 1000).await?;
    if cp.verify {
        reply.digests = digest::digests(db, tenant, school).await?;
    }
    Ok(reply)
}

/// Edge: applies central's envelopes in one transaction together with the
/// down cursor (the stream sequence of the last one). Envelopes at or
/// before the cursor were applied already and are skipped.
pub async fn apply_down(
    db: &dyn Database,
    this: &edges::ThisEdge,
    batch: &[(u64, Envelope)],
) -> Result<DownResult, SyncError> {
    let prepared = batch.iter().map(|(_, env)| prepare_down(this, env)).collect();
    apply_down_prepared(db, this, batch, prepared).await
}

/// What [`apply_down_prepared`] needs of an envelope besides the envelope,
/// worked out without the database (so off the writer).
pub fn prepare_down(this: &edges::ThisEdge, env: &Envelope) -> batch::Prepared {
    batch::Prepared::new(&env.changes, &target(&this.tenant_id, &this.school_id, true))
}

/// [`apply_down`] with each envelope's [`prepare_down`] done before.
pub async fn apply_down_prepared(
    db: &dyn Database,
    this: &edges::ThisEdge,
    batch: &[(u64, Envelope)],
    prepared: Vec<batch::Prepared>,
) -> Result<DownResult, SyncError> {
    // Pairing them up must never drop an envelope (its changes would be
    // acknowledged unapplied).
    if prepared.len() != batch.len() {
        return Err(SyncError::Other(format!(
            "{} envelopes but {} prepared",
            batch.len(),
            prepared.len()
        )));
    }
    let tx = db.begin().await?;
    let cursor = edges::position(tx.as_ref(), edges::DOWN_CURSOR).await?;
    let mut out = DownResult {
        cursor,
        ..Default::default()
    };
    let target = target(&this.tenant_id, &this.school_id, true);
    // The changes of every new envelope, applied together: central's
    // envelopes are small while it writes, and bulk inserts need many rows.
    let mut changes: Vec<&RowChange> = Vec::new();
    let mut ready = batch::Prepared::default();
    for ((stream_seq, env), prepared) in batch.iter().zip(prepared) {
        let stream_seq = i64::try_from(*stream_seq).unwrap_or(i64::MAX);
        if stream_seq > out.cursor {
            changes.extend(&env.changes);
            ready.append(prepared);
            out.cursor = stream_seq;
        }
    }
    let outcomes = batch::apply_prepared(tx.as_ref(), &changes, ready, &target).await?;
    for (change, outcome) in changes.iter().zip(outcomes) {
        match outcome {
            Outcome::Applied { conflicts } => {
                out.applied += 1;
                out.conflicts += conflicts;
            }
            Outcome::Rejected(reason) => {
                // Central wrote it; an edge cannot refuse it without
                // diverging. Say so loudly and keep going.
                out.rejected += 1;
                tracing::error!(table = %change.table, row = %change.row_id, %reason, "a change from central could not be applied");
            }
        }
    }
    if changes.iter().any(|c| c.table == audit::TABLE) {
        // Central's audit rows join this edge's chain here rather than in
        // the sealer's own transaction: the edge has one writer, so this
        // costs no concurrency, the rows' pages go to the WAL once instead
        // of twice, and a catch-up no longer waits for the sealer's
        // commits (it held the writer for a sixth of a catch-up). Central
        // keeps sealing apart: holding a tenant's chain head through an
        // apply would serialise every edge of the tenant.
        audit::seal(tx.as_ref(), &this.tenant_id, SEAL_IN_APPLY).await?;
    }
    edges::set_position(tx.as_ref(), edges::DOWN_CURSOR, out.cursor).await?;
    tx.commit().await?;
    metrics::counter!("essp_sync_changes_applied_total", "direction" => "down").increment(out.applied);
    Ok(out)
}

/// What an edge did with a batch from central.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DownResult {
    pub cursor: i64,
    pub applied: u64,
    pub rejected: u64,
    pub conflicts: u32,
}

/// How long an enrollment waits for central's writes in flight.
const ENROLL_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Central: enrolls an edge under the epoch it minted. Its changes after
/// `confirmed_seq` will be applied; from now on central captures the
/// school's changes for it, and every write that began before is over
/// (it may have captured nothing, but its rows are in the copy). The
/// caller then reads the `down` position the copy starts from (after
/// this, so nothing falls between).
pub async fn enroll(db: &dyn Database, req: &EnrollRequest) -> Result<Result<(), String>, SyncError> {
    if !req.replace
        && let Some(existing) = edges::get(db, &req.tenant_id, &req.school_id).await?
        && existing.epoch != req.epoch
    {
        // A box enrolling itself (or a request delayed in a buffer) never
        // takes a school away from the box central knows.
        return Ok(Err(format!(
            "school {} already has an enrolled edge (epoch {}); on the box that should serve it, run: essp edge enroll",
            req.school_id, existing.epoch
        )));
    }
    edges::enroll(
        db,
        &req.tenant_id,
        &req.school_id,
        &req.epoch,
        &req.host,
        req.confirmed_seq,
    )
    .await?;
    // A write that began before this commit may have found no edge to
    // capture its change for; the copy the edge takes next must see it.
    if !db.wait_for_open_transactions(ENROLL_WAIT).await? {
        return Ok(Err(
            "central is still finishing writes that began before this enrollment; try again".into(),
        ));
    }
    tracing::info!(tenant = %req.tenant_id, school = %req.school_id, epoch = %req.epoch, "edge enrolled");
    Ok(Ok(()))
}

/// Central: one page of a school's rows of one table, with central's field
/// clocks (rows central never tracked get the oldest clock, so any write
/// the edge holds and has not sent yet wins over them).
pub async fn snapshot_page(
    db: &dyn Database,
    tenant: &str,
    school: &str,
    table: &str,
    after: &str,
    limit: u32,
) -> Result<SnapshotPage, SyncError> {
    let t = catalog::table(table).ok_or_else(|| SyncError::Other(format!("{table} is not a replicated table")))?;
    let limit = i64::from(limit.clamp(1, 1000));
    // The clocks are read before the rows they describe. A write that
    // commits in between leaves a row newer than its clocks, and its own
    // change (on the stream after this copy's position) brings the same
    // values again. The other way round, an older row under the newer
    // clocks would make that change look stale to the edge, for good.
    let page = row::Page {
        table: t,
        tenant,
        school,
        after,
        limit,
    };
    let page_ids = page.ids(db).await?;
    let ids: Vec<&str> = page_ids.iter().map(String::as_str).collect();
    let mut known = row::tracked_many(db, t.name, tenant, &ids).await?;
    let images = page.rows_among(db, &ids).await?;
    let oldest = Hlc {
        wall_ms: 0,
        counter: 0,
        node: essp_store::sync::capture::CENTRAL_NODE.into(),
    }
    .to_string();
    let mut rows = Vec::with_capacity(images.len());
    for mut fields in images {
        let id = row::id_of(&fields).to_owned();
        let tracked = known.remove(&id).unwrap_or_default();
        // Fields of a newer release central keeps for the row go too.
        fields.extend(row::unknown_of(t, &tracked.image).map(|(k, v)| (k.clone(), v.clone())));
        let clocks = fields
            .keys()
            .map(|k| {
                let clock = tracked.clocks.get(k).cloned();
                (k.clone(), clock.unwrap_or_else(|| oldest.clone()))
            })
            .collect();
        rows.push(RowChange {
            seq: 0,
            table: t.name.into(),
            row_id: id,
            fields,
            clocks,
            base: Default::default(),
            correction: false,
            deleted: false,
        });
    }
    // A full page of ids goes on after its last, even if rows of it were
    // deleted meanwhile.
    let next_after = (page_ids.len() as i64 == limit)
        .then(|| page_ids.last().cloned())
        .flatten();
    Ok(SnapshotPage {
        table: t.name.into(),
        rows,
        next_after,
    })
}

/// Edge: merges one snapshot page in one transaction, with the progress
/// marker, so an interrupted enrollment resumes after the last page.
pub async fn apply_snapshot_page(
    db: &dyn Database,
    this: &edges::ThisEdge,
    page: &SnapshotPage,
    progress: &str,
) -> Result<u64, SyncError> {
    let tx = db.begin().await?;
    let target = target(&this.tenant_id, &this.school_id, true);
    let mut applied = 0;
    let rows: Vec<&RowChange> = page.rows.iter().collect();
    let outcomes = batch::apply_all(tx.as_ref(), &rows, &target).await?;
    for (change, outcome) in rows.iter().zip(outcomes) {
        match outcome {
            Outcome::Applied { .. } => applied += 1,
            Outcome::Rejected(reason) => {
                tracing::error!(table = %change.table, row = %change.row_id, %reason, "a snapshot row could not be applied");
            }
        }
    }
    essp_store::node_state::set(tx.as_ref(), edges::ENROLLING, progress, essp_domain::now()).await?;
    tx.commit().await?;
    Ok(applied)
}

/// Edge: completes an enrollment: streams from `down_seq` on, under `epoch`.
pub async fn finish_enrollment(db: &dyn Database, epoch: &str, down_seq: u64) -> Result<(), SyncError> {
    let tx = db.begin().await?;
    let now = essp_domain::now();
    edges::set_position(
        tx.as_ref(),
        edges::DOWN_CURSOR,
        i64::try_from(down_seq).unwrap_or(i64::MAX),
    )
    .await?;
    essp_store::node_state::set(tx.as_ref(), edges::ENROLLED_EPOCH, epoch, now).await?;
    essp_store::node_state::set(tx.as_ref(), edges::ENROLLING, "", now).await?;
    tx.commit().await?;
    Ok(())
}
