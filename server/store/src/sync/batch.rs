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

/// Rows per multi-row statement (well under both engines' parameter limits).
const ROWS_PER_STATEMENT: usize = 200;
/// Changes looked at together: a local transaction interleaves tables (an
/// incident and its audit row), so runs of one table were a row or two
/// long and the bulk path did four statements per row.
const ROWS_PER_WINDOW: usize = 1000;

/// Applies `changes` in order inside the caller's transaction; one outcome
/// per change, as [`merge::apply`] would give.
pub async fn apply_all(ex: &dyn Executor, changes: &[&RowChange], target: &Target<'_>) -> Result<Vec<Outcome>> {
    let mut outcomes = Vec::with_capacity(changes.len());
    let mut i = 0;
    while i < changes.len() {
        // A window of consecutive candidate changes, each row once.
        let mut window: Vec<(&'static Table, &RowChange)> = Vec::new();
        let mut seen = HashSet::new();
        while let Some(c) = changes.get(i + window.len())
            && window.len() < ROWS_PER_WINDOW
            && let Some(t) = fast_table(c, target)
            && seen.insert((t.name, c.row_id.as_str()))
        {
            window.push((t, c));
        }
        if window.is_empty() {
            outcomes.push(merge::apply(ex, changes[i], target).await?);
            i += 1;
        } else {
            i += window.len();
            outcomes.extend(apply_window(ex, &window, target).await?);
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
    let whole = t
        .columns
        .iter()
        .all(|c| change.fields.contains_key(c.name) && change.clocks.contains_key(c.name));
    let limit = target.now_ms.saturating_add(target.max_ahead_ms);
    let clocks_ok = change
        .clocks
        .values()
        .all(|c| Hlc::wall_ms_of(c).is_ok_and(|wall_ms| wall_ms <= limit));
    (plain && whole && clocks_ok && merge::admissible(change, target).is_ok()).then_some(t)
}

/// Inserts the rows of `window` the receiver has never seen in bulk, a few
/// statements per table (tables in order of first appearance, so a row
/// comes after the rows it refers to); applies the others one by one, in
/// order. Falls back to one by one for the whole window if the bulk insert
/// hits a constraint (so the offender is found and rejected alone).
async fn apply_window(
    ex: &dyn Executor,
    window: &[(&'static Table, &RowChange)],
    target: &Target<'_>,
) -> Result<Vec<Outcome>> {
    let mut tables: Vec<(&Table, Vec<&RowChange>)> = Vec::new();
    for (t, c) in window {
        match tables.iter_mut().find(|(u, _)| u.name == t.name) {
            Some((_, rows)) => rows.push(c),
            None => tables.push((t, vec![c])),
        }
    }
    // Every row is offered to the multi-row inserts, which skip the keys
    // the receiver holds and name the rows they inserted: asking first
    // which rows are held cost two more lookups per row.
    let mut inserted: HashSet<(&str, &str)> = HashSet::new();
    ex.execute("SAVEPOINT sync_bulk", &[]).await?;
    match insert_new(ex, &tables, &mut inserted).await {
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
    let mut out = Vec::with_capacity(window.len());
    for (t, c) in window {
        if inserted.remove(&(t.name, c.row_id.as_str())) {
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
    tables: &[(&'a Table, Vec<&'a RowChange>)],
    inserted: &mut HashSet<(&'a str, &'a str)>,
) -> Result<()> {
    for (t, rows) in tables {
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let images: Vec<_> = chunk.iter().map(|c| &c.fields).collect();
            let new: HashSet<String> = row::insert_many(ex, t, &images).await?.into_iter().collect();
            let new: Vec<&RowChange> = chunk.iter().copied().filter(|c| new.contains(&c.row_id)).collect();
            row::track_arrived(ex, t, &new).await?;
            inserted.extend(new.iter().map(|c| (t.name, c.row_id.as_str())));
        }
    }
    Ok(())
}
