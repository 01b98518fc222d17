//! Applying many remote changes at once. Catching up after days offline is
//! mostly rows the receiver has never seen (new incidents, their audit
//! trail): those are inserted with a few multi-row statements per table
//! instead of five statements each. Everything else (rows the receiver
//! holds, deletions, commands, blobs, clocks from the future, partial rows
//! from another release) takes the one-by-one path of [`merge::apply`].

use std::collections::HashSet;

use essp_sync_proto::{Hlc, RowChange};

use super::catalog::{self, Class, Table};
use super::merge::{self, Outcome, Target};
use super::row;
use crate::error::{Result, StoreError};
use crate::executor::Executor;
use crate::value::Value;

/// Rows per multi-row statement (well under both engines' parameter limits).
const ROWS_PER_STATEMENT: usize = 200;
/// Changes looked at together: a local transaction interleaves tables (an
/// incident and its audit row), so runs of one table were a row or two
/// long and the bulk path did four statements per row.
const ROWS_PER_WINDOW: usize = 1000;

/// A change made ready for the bulk path: its table, its row's values and
/// its bookkeeping, as the multi-row statements bind them.
struct BulkRow {
    table: &'static Table,
    values: Vec<Value>,
    tracking: Option<Vec<Value>>,
}

/// What can be worked out about changes without the database: for each
/// one, its [`BulkRow`] when it may take the bulk path. An edge prepares
/// the next batch of central's changes while its writer applies this one
/// (on the other core); checking and converting them was a third of the
/// writer's work.
#[derive(Default)]
pub struct Prepared(Vec<Option<BulkRow>>);

impl Prepared {
    /// Prepares `changes` as they would be applied now (`target`'s clock).
    pub fn new<'c>(changes: impl IntoIterator<Item = &'c RowChange>, target: &Target<'_>) -> Self {
        Prepared(changes.into_iter().map(|c| bulk_row(c, target)).collect())
    }

    /// Appends the preparation of the changes that follow.
    pub fn append(&mut self, next: Prepared) {
        self.0.extend(next.0);
    }
}

fn bulk_row(c: &RowChange, target: &Target<'_>) -> Option<BulkRow> {
    let table = fast_table(c, target)?;
    // A value that does not convert, or bookkeeping that does not encode:
    // the one-by-one path says why.
    Some(BulkRow {
        table,
        values: row::values(table, &c.fields).ok()?,
        tracking: row::arrival(table, c).ok()?,
    })
}

/// Applies `changes` in order inside the caller's transaction; one outcome
/// per change, as [`merge::apply`] would give.
pub async fn apply_all(ex: &dyn Executor, changes: &[&RowChange], target: &Target<'_>) -> Result<Vec<Outcome>> {
    let prepared = Prepared::new(changes.iter().copied(), target);
    apply_prepared(ex, changes, prepared, target).await
}

/// [`apply_all`] of changes prepared earlier ([`Prepared::new`] of exactly
/// these changes, in this order).
pub async fn apply_prepared(
    ex: &dyn Executor,
    changes: &[&RowChange],
    prepared: Prepared,
    target: &Target<'_>,
) -> Result<Vec<Outcome>> {
    let mut rows = prepared.0;
    if rows.len() != changes.len() {
        return Err(StoreError::Other(format!(
            "{} changes but {} prepared",
            changes.len(),
            rows.len()
        )));
    }
    let mut outcomes = Vec::with_capacity(changes.len());
    let mut i = 0;
    while i < changes.len() {
        // A window of consecutive bulk rows, each row once.
        let mut seen = HashSet::new();
        let n = rows[i..]
            .iter()
            .zip(&changes[i..])
            .take(ROWS_PER_WINDOW)
            .take_while(|(r, c)| {
                r.as_ref()
                    .is_some_and(|r| seen.insert((r.table.name, c.row_id.as_str())))
            })
            .count();
        if n == 0 {
            outcomes.push(merge::apply(ex, changes[i], target).await?);
            i += 1;
        } else {
            let window = rows[i..i + n]
                .iter_mut()
                .zip(&changes[i..i + n])
                .filter_map(|(r, c)| Some((r.take()?, *c)))
                .collect();
            i += n;
            outcomes.extend(apply_window(ex, window, target).await?);
        }
    }
    Ok(outcomes)
}

/// The table of a change that may take the bulk path: a whole row of a
/// plain shared or append-only table, no deletion or correction, its
/// scope and clocks in order.
fn fast_table(change: &RowChange, target: &Target<'_>) -> Option<&'static Table> {
    let t = catalog::table(&change.table)?;
    // Central-owned rows come only from central (`admissible` below), and a
    // new one is inserted as it comes, like any other row.
    let plain = matches!(t.class, Class::Shared | Class::AppendOnly | Class::CentralOwned)
        && t.blob_key.is_none()
        && !change.deleted
        && !change.correction
        && !merge::is_command(t);
    // Every column present with a clock that is readable and not too far
    // ahead, and no clock of a column this release does not know.
    let limit = target.now_ms.saturating_add(target.max_ahead_ms);
    let whole = change.clocks.len() == t.columns.len()
        && t.columns.iter().all(|c| {
            change.fields.contains_key(c.name)
                && change
                    .clocks
                    .get(c.name)
                    .is_some_and(|clock| Hlc::wall_ms_of(clock).is_ok_and(|wall_ms| wall_ms <= limit))
        });
    (plain && whole && merge::admissible_row(t, change, target).is_ok()).then_some(t)
}

/// Inserts the rows of `window` the receiver has never seen in bulk, a few
/// statements per table (tables in order of first appearance, so a row
/// comes after the rows it refers to); applies the others one by one, in
/// order. Falls back to one by one for the whole window if the bulk insert
/// hits a constraint (so the offender is found and rejected alone).
async fn apply_window(
    ex: &dyn Executor,
    window: Vec<(BulkRow, &RowChange)>,
    target: &Target<'_>,
) -> Result<Vec<Outcome>> {
    let order: Vec<(&str, &RowChange)> = window.iter().map(|(r, c)| (r.table.name, *c)).collect();
    let mut tables: Vec<(&'static Table, Vec<(BulkRow, &RowChange)>)> = Vec::new();
    for (r, c) in window {
        match tables.iter_mut().find(|(t, _)| t.name == r.table.name) {
            Some((_, rows)) => rows.push((r, c)),
            None => tables.push((r.table, vec![(r, c)])),
        }
    }
    // Every row is offered to the multi-row inserts, which skip the keys
    // the receiver holds and name the rows they inserted: asking first
    // which rows are held cost two more lookups per row.
    let mut inserted: HashSet<(&str, &str)> = HashSet::new();
    ex.execute("SAVEPOINT sync_bulk", &[]).await?;
    match insert_new(ex, tables, &mut inserted).await {
        Ok(()) => {
            ex.execute("RELEASE SAVEPOINT sync_bulk", &[]).await?;
        }
        Err(
            StoreError::ConstraintViolation { .. }
            | StoreError::UniqueViolation { .. }
            | StoreError::InvalidValue(_)
            | StoreError::Decode { .. },
        ) => {
            ex.execute("ROLLBACK TO SAVEPOINT sync_bulk", &[]).await?;
            inserted.clear();
        }
        Err(e) => return Err(e),
    }
    let mut out = Vec::with_capacity(order.len());
    for (table, c) in order {
        if inserted.remove(&(table, c.row_id.as_str())) {
            out.push(Outcome::Applied { conflicts: 0 });
        } else {
            out.push(merge::apply(ex, c, target).await?);
        }
    }
    Ok(out)
}

/// Inserts the rows no row of the receiver has the key of, with their
/// bookkeeping; adds each inserted row to `inserted`.
async fn insert_new<'a>(
    ex: &dyn Executor,
    tables: Vec<(&'static Table, Vec<(BulkRow, &'a RowChange)>)>,
    inserted: &mut HashSet<(&'static str, &'a str)>,
) -> Result<()> {
    for (t, rows) in tables {
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<_> = rows.by_ref().take(ROWS_PER_STATEMENT).collect();
            let mut values = Vec::with_capacity(chunk.len() * t.columns.len());
            let mut arrivals = Vec::with_capacity(chunk.len());
            for (r, c) in chunk {
                values.extend(r.values);
                arrivals.push((c.row_id.as_str(), r.tracking));
            }
            let new: HashSet<String> = row::insert_rows(ex, t, arrivals.len(), values)
                .await?
                .into_iter()
                .collect();
            let (mut tracked, mut tracking) = (0, Vec::new());
            for (id, arrival) in arrivals {
                if new.contains(id) {
                    inserted.insert((t.name, id));
                    if let Some(arrival) = arrival {
                        tracked += 1;
                        tracking.extend(arrival);
                    }
                }
            }
            row::track_rows(ex, tracked, tracking).await?;
        }
    }
    Ok(())
}
