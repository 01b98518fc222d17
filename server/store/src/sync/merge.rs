//! Applying a remote change: insert-if-absent for append-only rows,
//! per-field last-writer-wins by HLC for shared rows, with status fields
//! merged by the state machine, and every overwritten or discarded value
//! written to the conflict log (SYNC.md guarantees 4 and 5).

use essp_domain::incident::IncidentStatus;
use essp_domain::work_order::WorkOrderStatus;
use essp_domain::workflow::{ApprovalDecision, DeliverableStatus};
use essp_sync_proto::envelope::Fields;
use essp_sync_proto::{Hlc, RowChange};

use super::catalog::{self, Class, Table};
use super::row::{self, Tracked};
use crate::error::{Result, StoreError};
use crate::executor::Executor;

/// What became of one remote change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Merged; `conflicts` values were logged as overwritten or discarded.
    Applied { conflicts: u32 },
    /// Refused; nothing of it was written. The reason is for people.
    Rejected(String),
}

/// Where a change may write and how far ahead of us a clock may be.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    pub tenant_id: &'a str,
    /// The sender's school (an edge's changes) or ours (central's changes
    /// at an edge): every row must belong to it, or be tenant-wide.
    pub school_id: &'a str,
    /// The changes come from central: central-owned and tenant-wide rows
    /// and deletions are accepted (central refuses them from an edge).
    pub from_central: bool,
    /// Our wall clock, and how far ahead of it a remote clock may be
    /// before it is quarantined.
    pub now_ms: u64,
    pub max_ahead_ms: u64,
}

/// Applies one change inside the caller's transaction. A change that fails
/// validation or a constraint is rolled back to a savepoint and reported
/// as rejected, so the changes after it still apply.
pub async fn apply(ex: &dyn Executor, change: &RowChange, target: &Target<'_>) -> Result<Outcome> {
    if let Err(reason) = admissible(change, target) {
        return Ok(Outcome::Rejected(reason));
    }
    ex.execute("SAVEPOINT sync_change", &[]).await?;
    match merge(ex, change, target).await {
        Ok(outcome) => {
            ex.execute("RELEASE SAVEPOINT sync_change", &[]).await?;
            Ok(outcome)
        }
        Err(
            e @ (StoreError::ConstraintViolation { .. }
            | StoreError::UniqueViolation { .. }
            | StoreError::InvalidValue(_)
            | StoreError::Decode { .. }),
        ) => {
            ex.execute("ROLLBACK TO SAVEPOINT sync_change", &[]).await?;
            if !target.from_central
                && let Some(t) = catalog::table(&change.table)
            {
                // Best effort: a failed compensation must not wedge the
                // edge's later changes (its rejection is recorded anyway).
                ex.execute("SAVEPOINT sync_compensate", &[]).await?;
                match super::commands::compensate(ex, t, change).await {
                    Ok(()) => ex.execute("RELEASE SAVEPOINT sync_compensate", &[]).await?,
                    Err(err) => {
                        tracing::warn!(table = %change.table, row = %change.row_id, error = %err, "could not send central's state back after a rejection");
                        ex.execute("ROLLBACK TO SAVEPOINT sync_compensate", &[]).await?
                    }
                };
            }
            Ok(Outcome::Rejected(e.to_string()))
        }
        Err(e) => Err(e),
    }
}

/// The checks that need no database: a known table, rows of the sender's
/// own scope only (guarantee 6), readable clocks.
pub(crate) fn admissible(change: &RowChange, target: &Target<'_>) -> Result<(), String> {
    let t = catalog::table(&change.table).ok_or_else(|| format!("{} is not a replicated table", change.table))?;
    admissible_row(t, change, target)?;
    for (field, clock) in t
        .columns
        .iter()
        .filter_map(|c| Some((c.name, change.clocks.get(c.name)?)))
    {
        Hlc::wall_ms_of(clock).map_err(|e| format!("field {field}: {e}"))?;
    }
    Ok(())
}

/// [`admissible`] but for the clocks, of a change of table `t`: the bulk
/// path checks the clocks itself, in the pass that also bounds them.
pub(crate) fn admissible_row(t: &Table, change: &RowChange, target: &Target<'_>) -> Result<(), String> {
    let text = |f: &str| change.fields.get(f).and_then(|v| v.as_str()).unwrap_or_default();
    if text("id") != change.row_id {
        return Err(format!("row id {} does not match its id field", change.row_id));
    }
    if text("tenant_id") != target.tenant_id {
        return Err(format!(
            "row belongs to tenant {:?}, not the sender's",
            text("tenant_id")
        ));
    }
    if !target.from_central && (t.class == Class::CentralOwned || change.deleted) {
        return Err(format!(
            "{} are managed centrally; an edge's change of them is refused",
            t.name
        ));
    }
    let school = t.school_of(&change.fields);
    if !t.tenant_wide() && school != target.school_id {
        return Err(format!("row belongs to school {school:?}, not the sender's"));
    }
    for (_, column) in catalog::JSON_TEXT.iter().filter(|(table, _)| *table == t.name) {
        let json_or_null = match change.fields.get(*column) {
            None | Some(serde_json::Value::Null) => true,
            Some(v) => v.as_str().is_some_and(crate::audit::StoredJson::is_json),
        };
        if !json_or_null {
            return Err(format!("field {column} must hold JSON text or null"));
        }
    }
    Ok(())
}

/// Columns every write touches: never a lost value worth logging.
const BOOKKEEPING: &[&str] = &["updated_at"];

/// What a merge does with one incoming field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Keep,
    KeepAndRestamp,
    Take,
}

/// A logged loss: which value survived and which did not.
struct Loss<'a> {
    field: &'a str,
    kept: (&'a serde_json::Value, &'a str),
    lost: (&'a serde_json::Value, &'a str),
    reason: &'a str,
}

async fn merge(ex: &dyn Executor, change: &RowChange, target: &Target<'_>) -> Result<Outcome> {
    let t = catalog::table(&change.table).ok_or_else(|| StoreError::Other("unknown table".into()))?;
    if change.deleted {
        row::delete(ex, t, target.tenant_id, &change.row_id).await?;
        return Ok(Outcome::Applied { conflicts: 0 });
    }
    let mut conflicts = 0u32;
    let before = conflicts;
    let clocks = quarantine(ex, t, change, target, &mut conflicts).await?;
    let clamped = conflicts > before;
    let Some(current) = row::read(ex, t, target.tenant_id, &change.row_id).await? else {
        let image: Fields = change
            .fields
            .iter()
            .filter(|(k, _)| t.column(k).is_some())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !target.from_central {
            super::commands::validate(ex, t, None, &image).await?;
        }
        row::insert(ex, t, &image).await?;
        if t.blob_key.is_some() {
            super::blobs::hide_until_blob(ex, t, &image, target.from_central).await?;
        }
        let tracked = row::arrived(t, &change.fields, &clocks);
        row::track(ex, t, &change.row_id, &tracked).await?;
        if clamped {
            correct(ex, t, &change.row_id, &tracked).await?;
        }
        return Ok(Outcome::Applied { conflicts });
    };
    if t.class == Class::AppendOnly {
        // Insert-if-absent: a redelivery holds the same row; a different
        // row under an id we already hold must not vanish silently.
        let differs = t.columns.iter().any(|c| {
            change
                .fields
                .get(c.name)
                .is_some_and(|v| current.get(c.name) != Some(v))
        });
        if differs {
            return Ok(Outcome::Rejected(format!(
                "{} {} already exists with different content",
                t.name, change.row_id
            )));
        }
        return Ok(Outcome::Applied { conflicts });
    }
    let tracked = row::tracked(ex, t.name, target.tenant_id, &change.row_id)
        .await?
        .unwrap_or_default();
    let mut merged = Tracked {
        image: current.clone(),
        clocks: tracked.clocks.clone(),
    };
    // Fields of a newer release: kept, the later clock winning (no column
    // here holds them, so nothing else of the row changes).
    merged
        .image
        .extend(row::unknown_of(t, &tracked.image).map(|(k, v)| (k.clone(), v.clone())));
    for (f, v) in row::unknown_of(t, &change.fields) {
        let Some(inc_c) = clocks.get(f) else { continue };
        if newer(inc_c, tracked.clocks.get(f).map(String::as_str).unwrap_or_default()) {
            merged.image.insert(f.clone(), v.clone());
            merged.clocks.insert(f.clone(), inc_c.clone());
        }
    }
    let mut set = Fields::new();
    let mut restamp = Vec::new();
    for col in t.columns.iter().filter(|c| c.name != "id") {
        let f = col.name;
        let (Some(inc_v), Some(inc_c)) = (change.fields.get(f), clocks.get(f)) else {
            continue;
        };
        let loc_v = current.get(f).unwrap_or(&serde_json::Value::Null);
        let loc_c = tracked.clocks.get(f).map(String::as_str).unwrap_or_default();
        let base = change.base.get(f).map(String::as_str);
        if change.correction && loc_v == inc_v {
            // The sender quarantined our clock for this value: take its
            // clock so both sides order later writes the same way.
            merged.clocks.insert(f.to_owned(), inc_c.clone());
            continue;
        }
        // The sender changed this field from a value we no longer hold:
        // both sides wrote it without seeing the other's write.
        // Every edit writes `updated_at`: it merges by clock like any field,
        // but two edits of different fields are no conflict.
        let concurrent =
            base.is_some_and(|b| b != loc_c) && !loc_c.is_empty() && loc_v != inc_v && !BOOKKEEPING.contains(&f);
        let status = concurrent && t.status_column == Some(f);
        let (ours, theirs) = ((loc_v, loc_c), (inc_v, inc_c.as_str()));
        let (verdict, reason) = if status && is_terminal(t, inc_v) && !is_terminal(t, loc_v) {
            // The sender finished the record while we moved it on without
            // knowing: finished wins here too, whatever the clocks say.
            (Verdict::Take, "state_machine")
        } else if newer(loc_c, inc_c) || loc_c == inc_c {
            (Verdict::Keep, "lww")
        } else if status && is_terminal(t, loc_v) && !is_terminal(t, inc_v) {
            // A stale write never moves a finished record back. We keep
            // ours and re-stamp it below so it wins on the sender too.
            (Verdict::KeepAndRestamp, "state_machine")
        } else {
            (Verdict::Take, "lww")
        };
        if concurrent {
            let (kept, lost) = if verdict == Verdict::Take {
                (theirs, ours)
            } else {
                (ours, theirs)
            };
            let loss = Loss {
                field: f,
                kept,
                lost,
                reason,
            };
            conflicts += log(ex, change, target, loss).await?;
        }
        match verdict {
            Verdict::Keep => continue,
            Verdict::KeepAndRestamp => {
                restamp.push((f, inc_v.clone(), inc_c.clone()));
                continue;
            }
            Verdict::Take => {}
        }
        set.insert(f.to_owned(), inc_v.clone());
        merged.image.insert(f.to_owned(), inc_v.clone());
        merged.clocks.insert(f.to_owned(), inc_c.clone());
    }
    if !target.from_central && !set.is_empty() {
        super::commands::validate(ex, t, Some(&current), &merged.image).await?;
    }
    row::update(ex, t, target.tenant_id, &change.row_id, &set).await?;
    if restamp.is_empty() {
        row::track(ex, t, &change.row_id, &merged).await?;
        if clamped {
            correct(ex, t, &change.row_id, &merged).await?;
        }
    } else {
        // Track the row as if the incoming value had won; capture then sees
        // our kept value as a fresh local write, stamps it after the
        // incoming clock and queues it for the sender.
        for (f, v, c) in restamp {
            merged.image.insert(f.to_owned(), v);
            merged.clocks.insert(f.to_owned(), c);
        }
        row::track(ex, t, &change.row_id, &merged).await?;
        super::capture::capture_after(ex, t.name, target.tenant_id, &change.row_id, None).await?;
    }
    Ok(Outcome::Applied { conflicts })
}

/// Sends the clocks we hold for a row back to its sender (through our own
/// outbox) after quarantining some of its clocks: it adopts them, so a
/// later write on either side sorts the same way on both.
async fn correct(ex: &dyn Executor, t: &Table, id: &str, tracked: &Tracked) -> Result<()> {
    let tenant = tracked
        .image
        .get("tenant_id")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned();
    let school = t.school_of(&tracked.image).to_owned();
    let change = RowChange {
        seq: 0,
        table: t.name.to_owned(),
        row_id: id.to_owned(),
        fields: tracked.image.clone(),
        clocks: tracked.clocks.clone(),
        base: Default::default(),
        correction: true,
        deleted: false,
    };
    super::outbox::append(ex, &tenant, &school, &change).await
}

/// Whether changes of `t` are commands central re-checks (BOM lines).
pub(crate) fn is_command(t: &Table) -> bool {
    t.name == "work_order_parts"
}

/// `a` sorts after `b` (both HLC text; "" is older than anything).
fn newer(a: &str, b: &str) -> bool {
    match (a.parse::<Hlc>(), b.parse::<Hlc>()) {
        (Ok(a), Ok(b)) => a > b,
        (Ok(_), Err(_)) => true,
        _ => false,
    }
}

/// The change's clocks, with any too far ahead of ours replaced by our
/// present (keeping the sender's node for tie-breaks) and logged: a clock
/// from the future is never adopted, or that sender would win every
/// merge until the real time caught up.
async fn quarantine(
    ex: &dyn Executor,
    t: &Table,
    change: &RowChange,
    target: &Target<'_>,
    conflicts: &mut u32,
) -> Result<essp_sync_proto::envelope::Clocks> {
    let limit = target.now_ms.saturating_add(target.max_ahead_ms);
    let mut out = essp_sync_proto::envelope::Clocks::new();
    for (field, clock) in &change.clocks {
        if t.column(field).is_none() && !row::is_unknown(t, field) {
            continue;
        }
        let Ok(h) = clock.parse::<Hlc>() else { continue };
        if h.wall_ms <= limit {
            out.insert(field.clone(), clock.clone());
            continue;
        }
        let clamped = Hlc {
            wall_ms: target.now_ms,
            counter: h.counter,
            node: h.node.clone(),
        }
        .to_string();
        let v = change.fields.get(field).cloned().unwrap_or_default();
        *conflicts += log(
            ex,
            change,
            target,
            Loss {
                field,
                kept: (&v, &clamped),
                lost: (&v, clock),
                reason: "clock_ahead",
            },
        )
        .await?;
        out.insert(field.clone(), clamped);
    }
    Ok(out)
}

/// A status after which the state machine allows no forward move.
fn is_terminal(t: &Table, status: &serde_json::Value) -> bool {
    let Some(s) = status.as_str() else { return false };
    match t.name {
        "incidents" => s.parse::<IncidentStatus>().is_ok_and(|s| s.allowed_next().is_empty()),
        "work_orders" => s.parse::<WorkOrderStatus>().is_ok_and(|s| s.forward().is_empty()),
        "work_order_deliverables" => s.parse::<DeliverableStatus>() == Ok(DeliverableStatus::Approved),
        "work_order_approvals" => s
            .parse::<ApprovalDecision>()
            .is_ok_and(|d| d != ApprovalDecision::Pending),
        _ => false,
    }
}

async fn log(ex: &dyn Executor, change: &RowChange, target: &Target<'_>, loss: Loss<'_>) -> Result<u32> {
    ex.execute(
        "INSERT INTO sync_conflicts (id, tenant_id, school_id, table_name, row_id, field, kept_value, kept_clock, \
         lost_value, lost_clock, reason, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        &[
            essp_domain::Id::new("conflict").into_string().into(),
            target.tenant_id.into(),
            target.school_id.into(),
            change.table.as_str().into(),
            change.row_id.as_str().into(),
            loss.field.into(),
            row::json_text(loss.kept.0)?.into(),
            loss.kept.1.into(),
            row::json_text(loss.lost.0)?.into(),
            loss.lost.1.into(),
            loss.reason.into(),
            essp_domain::now().into(),
        ],
    )
    .await?;
    Ok(1)
}
